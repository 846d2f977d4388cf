"""Every analysis of one trained network, or of every member of an ensemble at once.

:func:`analysis_core` is the part that runs the network — per-sample activity and the
ablation study — as one pure function; :func:`analyse_networks` runs it ``jit(vmap(...))``
over an ensemble's members (one program, every member and every removal batched) and then
finishes each member on the host: tuning curves, weight orderings, the reduced models, the
output Hessian, and (for chosen members) traces and tensor component analysis.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.sharding import Mesh, PartitionSpec

from sslax.analysis import ablation as abl
from sslax.analysis import reduced, tuning, weights
from sslax.analysis.activity import Activity, Traces, record_activity, record_traces, samples_near
from sslax.analysis.sensitivity import (
    Sensitivity,
    output_hessian,
    sensitivity_unavailable,
    spectrum,
)
from sslax.config import Config, ConfigError
from sslax.network import Params
from sslax.stimulus import Dataset, batch_inputs, ipd_to_class
from sslax.sweep.runner import MEMBER_AXIS


@dataclasses.dataclass(frozen=True)
class AnalysisOptions:
    """What to compute besides the core, and on how much data.

    Attributes:
        batch_size: samples per chunk (bounds memory only).
        n_traces: samples shown in rasters and membrane traces (IPDs spread over the range).
        hessian_samples: test samples the output Hessian is computed on.
        tca: run tensor component analysis (needs the optional tensorly).
        tca_trials_per_class: trials of each class in the TCA tensor.
        tca_ranks: ranks of the rank-selection fits.
        tca_restarts: random restarts per rank.
        tca_iterations: most iterations of each fit.
        tca_smoothing: time constant of the exponential smoothing of spikes [s].
    """

    batch_size: int = 256
    n_traces: int = 8
    hessian_samples: int = 256
    tca: bool = True
    tca_trials_per_class: int = 10
    tca_ranks: tuple[int, ...] = (1, 2, 3, 4, 5)
    tca_restarts: int = 3
    tca_iterations: int = 200
    tca_smoothing: float = 0.005


class Core(NamedTuple):
    """What :func:`analysis_core` returns (a pytree of arrays): the parts of the analysis
    that run the network. ``rate`` and ``output_hessian`` are ``None`` where they do not apply
    (:func:`sslax.analysis.reduced.rate_model_unavailable`,
    :func:`sslax.analysis.sensitivity.sensitivity_unavailable`)."""

    activity: Activity
    ablation: abl.Ablation
    rate: reduced.RateModel | None
    output_hessian: Array | None


def analysis_core(params: Params, data: Dataset, config: Config, batch_size: int = 256,
                  hessian_samples: int = 256) -> Core:
    """Per-sample activity, the ablation study, the rate approximation and the output
    Hessian (on the first ``hessian_samples`` samples) of one network: pure, so one
    ``jit(vmap(...))`` runs them for every member of an ensemble."""
    activity = record_activity(params, data, config, batch_size)
    silent = abl.silent_units(activity.hidden_counts)
    study = abl.ablation_study(params, data, config, silent, batch_size)
    rate = None
    if reduced.rate_model_unavailable(config) is None:
        rate = reduced.rate_model(params, data, config, batch_size)
    hessian = None
    if sensitivity_unavailable(config) is None:
        n = min(hessian_samples, data.n_samples)
        hessian = output_hessian(params, batch_inputs(data, jnp.arange(n), config.stimulus),
                                 config)
    return Core(activity, study, rate, hessian)


@dataclasses.dataclass
class NetworkAnalysis:
    """The analysis of one network (NumPy arrays; see each module for definitions).

    Attributes:
        config: the network's config.
        activity: per-sample spike counts and scores on the analysed data.
        accuracy: test accuracy of the spiking network (fraction).
        hidden_tuning: firing rate [Hz] per true class of every hidden unit.
        output_tuning: readout score per true class of every output unit.
        ablation: the ablation study.
        w_in, w_out: effective weights [inputs, hidden], [hidden, classes].
        orders: hidden-unit order per ordering name (silent units last).
        rate: the rate approximation's responses (``None`` when it does not apply).
        rate_accuracy: its accuracy as a classifier (NaN when it does not apply).
        rate_tuning: its hidden firing rate [Hz] per true class (``None`` with ``rate``).
        w_out_fit, tuning_fit: the six-parameter model's two fits (``output`` order).
        six_parameter_accuracy: its accuracy as a classifier.
        sensitivity: the output Hessian and its spectrum (``None`` when it does not apply).
        traces: time courses of ``trace_samples`` (``None`` if not recorded).
        trace_samples: indices of the traced samples.
        tca: tensor component analysis (``None`` if not run).
        tca_ipd: IPD of each TCA trial [rad].
        notes: why a part was skipped, one line each.
    """

    config: Config
    activity: Activity
    accuracy: float
    hidden_tuning: tuning.Tuning
    output_tuning: tuning.Tuning
    ablation: abl.Ablation
    w_in: np.ndarray
    w_out: np.ndarray
    orders: dict[str, np.ndarray]
    rate: reduced.RateModel | None
    rate_accuracy: float
    w_out_fit: reduced.CurveFit
    tuning_fit: reduced.CurveFit
    six_parameter_accuracy: float
    sensitivity: Sensitivity | None
    rate_tuning: tuning.Tuning | None = None
    traces: Traces | None = None
    trace_samples: np.ndarray | None = None
    tca: Any = None
    tca_ipd: np.ndarray | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def spiking(self) -> np.ndarray:
        return ~np.asarray(self.ablation.silent)

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(ipd_to_class(self.activity.ipd, self.config.stimulus.n_classes))


_core_jit = jax.jit(analysis_core, static_argnames=("batch_size", "hessian_samples"))
_spectrum_jit = jax.jit(spectrum)
_traces_jit = jax.jit(record_traces)
_tuning_jit = jax.jit(tuning.tuning_curves, static_argnames="n_classes")
_inputs_jit = jax.jit(batch_inputs)


def over_members(fn: Callable[..., Any], in_axes: tuple[Any, ...],
                 mesh: Mesh | None = None) -> Callable[..., Any]:
    """``vmap(fn, in_axes)`` over an ensemble's members; with a ``mesh`` (axis
    :data:`sslax.sweep.MEMBER_AXIS`, as sweeps use), each device maps its own share of the
    members (``shard_map``: the members are independent, so the devices never communicate).
    Inputs mapped at axis 0 and every output are split over the devices, unmapped (``None``)
    inputs copied.

    Keep eigensolvers out of ``fn``: on CPU devices, ``jnp.linalg.eigh`` inside such a
    program after the output Hessian was seen to hang (jax 0.10)."""
    mapped = jax.vmap(fn, in_axes=in_axes)
    if mesh is None:
        return mapped
    split = PartitionSpec(MEMBER_AXIS)
    specs = jax.tree.map(lambda axis: PartitionSpec() if axis is None else split, in_axes,
                         is_leaf=lambda x: x is None)
    return jax.shard_map(mapped, mesh=mesh, in_specs=specs, out_specs=split, check_vma=False)


@partial(jax.jit, static_argnames=("batch_size", "hessian_samples", "data_axis",
                                   "config_axes", "mesh"))
def _ensemble_core(params: Params, data: Dataset, config: Config, batch_size: int,
                   hessian_samples: int, data_axis: int | None, config_axes: Any,
                   mesh: Mesh | None) -> Core:
    core = partial(analysis_core, batch_size=batch_size, hessian_samples=hessian_samples)
    return over_members(core, (0, data_axis, config_axes), mesh)(params, data, config)


def _to_numpy(tree: Any) -> Any:
    return jax.tree.map(np.asarray, tree)


def finish(core: Core, params: Params, data: Dataset, config: Config,
           options: AnalysisOptions, detailed: bool = True) -> NetworkAnalysis:
    """The host-side part of one network's analysis, from its :class:`Core`. ``detailed``
    adds traces and tensor component analysis (the figures of one network)."""
    core = _to_numpy(core)
    activity, ablation = core.activity, core.ablation
    n_classes, duration = config.stimulus.n_classes, config.stimulus.duration
    labels = np.asarray(ipd_to_class(activity.ipd, n_classes))
    hidden_tuning = _to_numpy(_tuning_jit(activity.hidden_counts / duration, labels,
                                          n_classes=n_classes))
    output_tuning = _to_numpy(_tuning_jit(activity.scores, labels, n_classes=n_classes))
    w_in, w_out = weights.effective_weights(params, config)
    orders = {by: weights.unit_order(w_in, w_out, by, last=ablation.silent)
              for by in weights.ORDERINGS}
    notes: list[str] = []
    if config.network.delays != "none":
        notes.append("learned delays: the weight orderings, the reduced models and the "
                     "Hessian use the weights alone and ignore the delays")

    rate, rate_accuracy, rate_tuning = core.rate, math.nan, None
    if rate is None:
        notes.append(f"rate approximation skipped: {reduced.rate_model_unavailable(config)}")
    else:
        rate_accuracy = reduced.scores_accuracy(rate.scores, activity.ipd, n_classes)
        rate_tuning = _to_numpy(_tuning_jit(rate.hidden_rates, labels, n_classes=n_classes))

    order = orders["output"]
    w_out_fit = reduced.fit_w_out(w_out[order])
    tuning_fit = reduced.fit_hidden_tuning(hidden_tuning.mean[:, order])
    six = reduced.six_parameter_scores(activity.ipd, w_out_fit, tuning_fit,
                                       config.network.n_hidden, n_classes)
    six_accuracy = (reduced.scores_accuracy(six, activity.ipd, n_classes)
                    if np.isfinite(six).all() else math.nan)

    sensitivity = None
    if core.output_hessian is None:
        notes.append(f"output Hessian skipped: {sensitivity_unavailable(config)}")
    else:  # the eigensolver runs here, outside the ensemble program (see over_members)
        sensitivity = _to_numpy(_spectrum_jit(core.output_hessian))

    result = NetworkAnalysis(
        config, activity, float(ablation.baseline), hidden_tuning, output_tuning, ablation,
        w_in, w_out, orders, rate, rate_accuracy, w_out_fit, tuning_fit, six_accuracy,
        sensitivity, rate_tuning=rate_tuning, notes=notes)
    if detailed:
        _add_details(result, params, data, config, options)
    return result


def _add_details(result: NetworkAnalysis, params: Params, data: Dataset, config: Config,
                 options: AnalysisOptions) -> None:
    ipd = np.asarray(result.activity.ipd)
    targets = np.deg2rad(np.linspace(-75.0, 75.0, options.n_traces))
    shown = samples_near(ipd, targets)
    trials = np.zeros(0, int)
    if options.tca:  # traced in the same call as the shown samples (one compile)
        trials = _balanced_trials(result.labels, config.stimulus.n_classes,
                                  options.tca_trials_per_class)
        trials = trials[np.argsort(ipd[trials], kind="stable")]
    spikes = _inputs_jit(data, jnp.asarray(np.concatenate([shown, trials])), config.stimulus)
    traces = _to_numpy(_traces_jit(params, spikes, config))
    result.traces = jax.tree.map(lambda x: x[:, :shown.size], traces)
    result.trace_samples = shown
    if not options.tca:
        return
    spiking = result.spiking
    if spiking.sum() < 2:
        result.notes.append("tensor component analysis skipped: fewer than 2 spiking units")
        return
    try:
        from sslax.analysis import tca
    except ImportError as error:  # pragma: no cover - depends on the installation
        result.notes.append(f"tensor component analysis skipped: {error}")
        return
    hidden = traces.hidden_spikes[:, shown.size:]
    tensor = tca.smoothed_spike_tensor(hidden[:, :, spiking], config.stimulus.dt,
                                       options.tca_smoothing)
    ranks = tuple(r for r in options.tca_ranks if r <= int(spiking.sum()) * 4)
    try:
        result.tca = tca.rank_selection(tensor, ranks, options.tca_restarts,
                                        n_iter_max=options.tca_iterations)
    except ImportError as error:
        result.notes.append(f"tensor component analysis skipped: {error}")
        return
    result.tca_ipd = ipd[trials]


def _balanced_trials(labels: np.ndarray, n_classes: int, per_class: int) -> np.ndarray:
    """Up to ``per_class`` sample indices of every class (the first ones in the set)."""
    return np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(n_classes)])


def check_analysable(config: Config) -> None:
    """Raise a one-line error for networks these analyses do not apply to."""
    if config.network.architecture != "spiking":
        raise ConfigError(f"network.architecture = {config.network.architecture!r}: it has "
                          f"no hidden layer to analyse")


def analyse_network(params: Params, data: Dataset, config: Config,
                    options: AnalysisOptions | None = None) -> NetworkAnalysis:
    """The complete analysis of one trained network on ``data`` (usually its test set)."""
    options = options or AnalysisOptions()
    check_analysable(config)
    core = _core_jit(params, data, config, batch_size=options.batch_size,
                     hessian_samples=options.hessian_samples)
    return finish(core, params, data, config, options)


def analyse_networks(params: Params, data: Dataset, config: Config, config_axes: Any,
                     data_axis: int | None, member_configs: list[Config],
                     options: AnalysisOptions | None = None,
                     detailed: tuple[int, ...] = (0,),
                     mesh: Mesh | None = None) -> list[NetworkAnalysis]:
    """Analyse every member of an ensemble: the core in one vectorised program
    (:func:`ensemble_cores`), the rest per member (:func:`finish_members`).

    Args:
        params: stacked parameters [members, ...].
        data: one data set shared by all (``data_axis`` None) or stacked ([members, ...],
            ``data_axis`` 0).
        config: the config with swept leaves stacked [members] (``config_axes``: 0 at them;
            see :func:`sslax.sweep.batching.stack_members`).
        member_configs: each member's own config (there may be fewer than stacked members:
            the rest are padding and are dropped).
        options: see :class:`AnalysisOptions`.
        detailed: members that also get traces and tensor component analysis.
        mesh: devices to spread the members over (:func:`over_members`); their number
            must divide the member count.
    """
    options = options or AnalysisOptions()
    cores = ensemble_cores(params, data, config, config_axes, data_axis, options, mesh)
    return finish_members(cores, params, data, data_axis, member_configs, options, detailed)


def ensemble_cores(params: Params, data: Dataset, config: Config, config_axes: Any,
                   data_axis: int | None, options: AnalysisOptions | None = None,
                   mesh: Mesh | None = None) -> Core:
    """Every member's :class:`Core`, stacked; dispatched without waiting for the result
    (arguments as :func:`analyse_networks`)."""
    options = options or AnalysisOptions()
    check_analysable(config)
    return _ensemble_core(params, data, config, options.batch_size, options.hessian_samples,
                          data_axis, config_axes, mesh)


def finish_members(cores: Core, params: Params, data: Dataset, data_axis: int | None,
                   member_configs: list[Config], options: AnalysisOptions | None = None,
                   detailed: tuple[int, ...] = (0,)) -> list[NetworkAnalysis]:
    """The host-side part of every member's analysis from :func:`ensemble_cores`."""
    options = options or AnalysisOptions()
    cores, params = _to_numpy(cores), _to_numpy(params)  # one transfer, then NumPy indexing
    results = []
    for index, member_config in enumerate(member_configs):
        def pick(tree: Any, i: int = index) -> Any:
            return jax.tree.map(lambda x: x[i], tree)

        member_data = data if data_axis is None or index not in detailed else pick(data)
        results.append(finish(pick(cores), pick(params), member_data, member_config, options,
                              detailed=index in detailed))
    return results
