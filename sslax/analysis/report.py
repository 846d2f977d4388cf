"""``sslax analyse``: analyse a saved run or sweep and write its figures and a JSON report.

A run directory gives one network; a sweep directory every member of every structure (the
network part vectorised over members), with the full figure set of each structure's first
member and figures comparing the members.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from sslax.analysis import ensemble
from sslax.analysis.network_analysis import (
    AnalysisOptions,
    NetworkAnalysis,
    analyse_network,
    check_analysable,
    ensemble_cores,
    finish_members,
    over_members,
)
from sslax.config import Config, section_of
from sslax.emitters import jit_classic
from sslax.fileio import write_atomic
from sslax.stimulus import Dataset
from sslax.sweep.runner import MEMBER_AXIS
from sslax.threefry import key_from_seed
from sslax.training import make_datasets, make_test_set

REPORT_FILE = "analysis.json"
SPLITS = ("test", "train")


def _number(x: Any) -> float | None:
    value = float(x)
    return None if math.isnan(value) else round(value, 6)


def _fit(fit: Any) -> dict[str, float | None]:
    return {"a": _number(fit.a), "b": _number(fit.b), "sigma": _number(fit.sigma),
            "r2": _number(fit.r2)}


def network_report(a: NetworkAnalysis) -> dict[str, Any]:
    """The JSON-able summary of one network's analysis (accuracies as fractions)."""
    ab = a.ablation
    spiking = a.spiking
    rates = a.activity.hidden_counts.mean(axis=0) / a.config.stimulus.duration
    single = np.asarray(ab.without_unit)
    report: dict[str, Any] = {
        "samples": int(a.activity.ipd.shape[0]),
        "accuracy": _number(a.accuracy),
        "chance": 1 / a.config.stimulus.n_classes,
        "hidden": {
            "n_units": int(spiking.size),
            "n_spiking": int(spiking.sum()),
            "silent_units": np.flatnonzero(~spiking).tolist(),
            "mean_rate_hz": np.round(rates, 3).tolist(),
        },
        "ablation": {
            "baseline": _number(ab.baseline),
            "without_unit": np.round(single, 6).tolist(),
            "rank": np.asarray(ab.rank).tolist(),
            "without_silent": _number(ab.without_silent),
            "without_top": np.round(np.asarray(ab.without_top), 6).tolist(),
            "spiking_unit_removed_range": ([_number(single[spiking].min()),
                                            _number(single[spiking].max())]
                                           if spiking.any() else None),
            "silent_unit_removed_range": ([_number(single[~spiking].min()),
                                           _number(single[~spiking].max())]
                                          if (~spiking).any() else None),
        },
        "rate_approximation": None,
        "six_parameter_model": {"accuracy": _number(a.six_parameter_accuracy),
                                "w_out_ricker": _fit(a.w_out_fit),
                                "tuning_gaussian": _fit(a.tuning_fit)},
        "output_hessian": None,
        "tca": None,
        "notes": a.notes,
    }
    if a.rate is not None:
        expected = a.rate.hidden_rates[:, spiking] * a.config.stimulus.duration
        counts = a.activity.hidden_counts[:, spiking]
        corr = (np.corrcoef(expected.ravel(), counts.ravel())[0, 1]
                if spiking.any() and expected.std() > 0 and counts.std() > 0 else math.nan)
        report["rate_approximation"] = {"accuracy": _number(a.rate_accuracy),
                                        "spike_count_correlation": _number(corr)}
    if a.sensitivity is not None:
        values = np.asarray(a.sensitivity.eigenvalues)
        report["output_hessian"] = {
            "largest_eigenvalues": np.round(values[:12], 6).tolist(),
            "trace": _number(values.sum()),
            "zero_eigenvalues": int(np.sum(values <= 1e-9 * max(values[0], 1e-30))),
        }
    if a.tca is not None:
        report["tca"] = {"ranks": list(map(int, a.tca.ranks)),
                         "relative_error": np.round(a.tca.errors, 6).tolist(),
                         "similarity": np.round(a.tca.similarity, 6).tolist()}
    return report


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split = {split!r}: expected one of {', '.join(SPLITS)}")


def split_set(data_key: jax.Array, config: Config, split: str) -> Dataset:
    """The test or training set of a run with data key ``data_key`` (pure): the same
    program as training's :func:`sslax.training.make_datasets`, so the same spikes."""
    if split == "test":
        return make_test_set(data_key, config)
    return make_datasets(data_key, config).train


_split_set_jit = jit_classic(split_set, static_argnames="split")


@partial(jit_classic, static_argnames=("split", "config_axes", "mesh"))
def _split_sets(data_keys: jax.Array, config: Config, split: str, config_axes: Any,
                mesh: Mesh | None) -> Dataset:
    return over_members(partial(split_set, split=split), (0, config_axes), mesh)(data_keys,
                                                                                 config)


def analysis_data(config: Config, data_seed: int, split: str) -> Dataset:
    """The data set a run is analysed on: its test set, or its training set."""
    _check_split(split)
    return _split_set_jit(key_from_seed(data_seed), config, split)


def member_mesh(n_members: int) -> tuple[Mesh | None, int]:
    """The devices of this process an ensemble's members are spread over (one CPU device
    per core with :func:`sslax.sweep.use_cpu_cores_as_devices`), as a mesh (``None`` for
    one device), and the member count padded to a multiple of the devices."""
    devices = jax.local_devices()[:n_members]
    if len(devices) < 2:
        return None, n_members
    return (Mesh(np.asarray(devices), (MEMBER_AXIS,)),
            -(-n_members // len(devices)) * len(devices))


def analyse_run_dir(path: str | Path, out: str | Path | None = None, split: str = "test",
                    options: AnalysisOptions | None = None,
                    parallel_figures: bool = False, with_figures: bool = True) -> Path:
    """Analyse a run directory into ``out`` (default ``RUN_DIR/analysis-SPLIT``): figures
    (PNG) and ``analysis.json``. Returns ``out``. ``parallel_figures``: draw half of the
    figures in a second process (see :func:`sslax.analysis.figures.figure_helper` for when
    that is safe); ``with_figures=False``: the report alone."""
    from sslax import rundir
    from sslax.analysis.figures import figure_helper, save_network_figures

    start = time.perf_counter()
    saved = rundir.load_run(path)
    check_analysable(saved.config)  # before generating any data
    out = Path(out) if out is not None else saved.path / f"analysis-{split}"
    helper = figure_helper() if parallel_figures and with_figures else None
    try:
        data = analysis_data(saved.config, saved.data_seed, split)
        result = analyse_network(saved.best_params, data, saved.config, options)
        figures = save_network_figures(result, out, helper) if with_figures else []
    finally:
        if helper is not None:
            helper.shutdown(cancel_futures=True)
    report = {"source": str(saved.path), "split": split, "seed": saved.seed,
              "data_seed": saved.data_seed, **network_report(result),
              "figures": [p.name for p in figures],
              "seconds": round(time.perf_counter() - start, 1)}
    write_atomic(out / REPORT_FILE, rundir.json_bytes(report))
    return out


def ensemble_summary(results: list[NetworkAnalysis]) -> dict[str, Any]:
    """Across members: mean ± std of the accuracies, spiking units and ablation figures,
    the spread of the six-parameter model's parameters, and the matched similarity of the
    hidden tuning curves between members."""
    def stats(values: list[float]) -> dict[str, float | None]:
        v = np.asarray(values, float)
        ok = v[np.isfinite(v)]
        return {"mean": _number(ok.mean()) if ok.size else None,
                "std": _number(ok.std()) if ok.size else None, "n": int(ok.size)}

    spiking = [a.spiking for a in results]
    single_spiking = [np.asarray(a.ablation.without_unit)[a.spiking].min()
                      for a in results if a.spiking.any()]
    similarity = ensemble.similarity_matrix(np.stack([a.hidden_tuning.mean for a in results]),
                                            np.stack(spiking)) if len(results) > 1 else None
    return {
        "members": len(results),
        "accuracy": stats([a.accuracy for a in results]),
        "n_spiking": stats([s.sum() for s in spiking]),
        "without_silent": stats([a.ablation.without_silent for a in results]),
        "worst_single_spiking_removal": stats(single_spiking),
        "rate_approximation_accuracy": stats([a.rate_accuracy for a in results]),
        "six_parameter_accuracy": stats([a.six_parameter_accuracy for a in results]),
        "six_parameters": {f"{part}.{name}": stats([getattr(getattr(a, attr), name)
                                                    for a in results])
                           for part, attr in (("w_out_ricker", "w_out_fit"),
                                              ("tuning_gaussian", "tuning_fit"))
                           for name in ("a", "b", "sigma", "r2")},
        "tuning_similarity_between_members": (
            stats(ensemble.off_diagonal(similarity).tolist()) if similarity is not None
            else None),
        "tuning_similarity_matrix": (np.round(similarity, 4).tolist()
                                     if similarity is not None else None),
    }


def analyse_sweep_dir(path: str | Path, out: str | Path | None = None, split: str = "test",
                      options: AnalysisOptions | None = None,
                      parallel_figures: bool = False, with_figures: bool = True) -> Path:
    """Analyse every member of a sweep directory into ``out`` (default
    ``SWEEP_DIR/analysis-SPLIT``): per structure, the first member's figures in
    ``TAG/``, ensemble figures, and one ``analysis.json`` for everything
    (``with_figures=False``: the report alone)."""
    from sslax import rundir
    from sslax.analysis.figures import figure_helper

    start = time.perf_counter()
    path = Path(path)
    spec, loaded = rundir.load_sweep(path)
    sweep = rundir.sweep_from_spec(spec, path / rundir.SWEEP_FILE)
    out = Path(out) if out is not None else path / f"analysis-{split}"
    members = sweep.members()
    report: dict[str, Any] = {"source": str(path), "split": split, "structures": []}
    figures: list[str] = []
    helper = figure_helper() if parallel_figures and with_figures else None
    try:
        # every structure's programs dispatched first: the host finishes one structure
        # and draws its figures while the next one computes
        sets: dict[Any, tuple[Dataset, int | None]] = {}  # structures that share data
        started = [_start_members(saved, sweep, split, options, sets) for saved in loaded]
        for entry, saved, finish in zip(spec["structures"], loaded, started, strict=True):
            results = finish()
            report["structures"].append(_structure_report(entry, saved, results, members))
            if with_figures:
                figures += _structure_figures(entry["tag"], results, members, out, helper)
    finally:
        if helper is not None:
            helper.shutdown(cancel_futures=True)
    report["figures"] = figures
    report["seconds"] = round(time.perf_counter() - start, 1)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / REPORT_FILE, rundir.json_bytes(report))
    return out


def analyse_members(saved: Any, sweep: Any, split: str = "test",
                    options: AnalysisOptions | None = None,
                    detailed: tuple[int, ...] = (0,)) -> list[NetworkAnalysis]:
    """Every member of one saved structure of ``sweep`` (a
    :class:`sslax.rundir.SavedSweep`), each on its own data set of ``split``: one
    vectorised program for all members' data and one for the network part, their member
    axis spread over the devices (:func:`member_mesh`). ``detailed``: members that also
    get traces and tensor component analysis."""
    return _start_members(saved, sweep, split, options)(detailed)


def _start_members(saved: Any, sweep: Any, split: str, options: AnalysisOptions | None,
                   sets: dict[Any, tuple[Dataset, int | None]] | None = None) -> Any:
    """Dispatch :func:`analyse_members`'s programs; returns the function that waits for
    them and finishes each member on the host (given ``detailed``). ``sets``: the data
    sets drawn so far, by :func:`_data_identity` (structures that differ only in what
    the data does not depend on, such as a regulariser, share them)."""
    from sslax import rundir
    from sslax.sweep.batching import pad_members, stack_members

    _check_split(split)
    options = options or AnalysisOptions()
    members = sweep.members()
    base = sweep.config_for_structure(saved.structure)
    fields = sweep.numeric_fields
    member_configs = [base.replace_fields(**{f: m[f] for f in fields}) for m in members]
    mesh, n_padded = member_mesh(len(members))
    padded = members + members[-1:] * (n_padded - len(members))  # repeats, dropped after
    config, axes = stack_members(base, padded, fields)
    stimulus_swept = any(section_of(f) == "stimulus" for f in fields)
    seeds = [sweep.data_seed_of(int(m["seed"])) for m in padded]
    params = pad_members(rundir.saved_params(saved), n_padded)
    sets = {} if sets is None else sets
    identity = _data_identity(config, seeds, split)
    if identity not in sets:
        if len(set(seeds)) == 1 and not stimulus_swept:
            sets[identity] = analysis_data(member_configs[0], seeds[0], split), None
        else:
            keys = jax.vmap(jax.random.key)(np.asarray(seeds))
            sets[identity] = _split_sets(keys, config, split, axes, mesh), 0
    data, data_axis = sets[identity]
    cores = ensemble_cores(params, data, config, axes, data_axis, options, mesh)
    return partial(finish_members, cores, params, data, data_axis, member_configs, options)


def _data_identity(config: Config, seeds: list[int], split: str) -> tuple[Any, ...]:
    """What a split's data sets depend on (see :func:`split_set`): the members' data
    seeds, the stimulus (with any swept leaves stacked) and the training fields that size
    and store the sets."""
    leaves, treedef = jax.tree.flatten(config.stimulus)
    training = config.training
    return (split, tuple(seeds), treedef, tuple(np.asarray(x).tobytes() for x in leaves),
            training.n_train, training.n_valid, training.n_test, training.spike_storage)


def _structure_figures(tag: str, results: list[NetworkAnalysis],
                       members: list[dict[str, Any]], out: Path, helper: Any) -> list[str]:
    """One analysed structure's figures (its first member's set and the ensemble's) in
    ``out/tag``; their paths relative to ``out``."""
    from sslax.analysis.figures import save_ensemble_figures, save_network_figures

    folder = out / tag
    written = save_network_figures(results[0], folder / f"member-0-seed-{members[0]['seed']}",
                                   helper)
    labels = [", ".join(f"{k} {v}" for k, v in m.items()) for m in members]
    written += save_ensemble_figures(results, labels, folder)
    return [str(p.relative_to(out)) for p in written]


def _structure_report(entry: dict[str, Any], saved: Any, results: list[NetworkAnalysis],
                      members: list[dict[str, Any]]) -> dict[str, Any]:
    """One analysed structure's entry in a sweep's report."""
    return {
        "tag": entry["tag"], "structure": saved.structure,
        "ensemble": ensemble_summary(results),
        "members": [{**m, **network_report(a)} for m, a in zip(members, results,
                                                               strict=True)],
    }

