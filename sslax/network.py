"""The IPD network: input spikes → hidden spiking layer → leaky-integrator outputs → scores.

Parameters are two pytrees of named arrays (:class:`Params`): ``trained``, the raw values the
optimiser updates, and ``fixed``, per-network constants drawn from the network seed and never
trained (Dale's-law signs, per-unit time constants drawn from a distribution). Each trained
quantity has a constraint (:mod:`sslax.constraints`) that maps its raw value to the value the
dynamics use; :func:`network_values` is the one place where that happens, and
:func:`init_params` goes the other way, from constrained initial values to raw ones.

==============  ==========================  =========================================
quantity         stored                      constrained value
==============  ==========================  =========================================
w_in, w_out      trained (raw)               W, or g(W)·sign under Dale's law; w_in is
                                             [inputs, hidden] or, with filter-and-fire
                                             synapses, [inputs, hidden, contacts]
tau_hidden       trained when learned,       τ [s], by exp or softplus of the raw value;
                 fixed when drawn per unit,  a fixed per-unit τ is stored as it is;
                 else the config's value     the config's value is read from the config
tau_output       trained when learned,       as tau_hidden
                 else the config's value
sign_in,         fixed (Dale's law)          +1 excitatory / −1 inhibitory per
sign_out                                     presynaptic unit
psp_tau_rise,    fixed (filter-and-fire)     PSP kernel time constants [s] of each
psp_tau_decay                                contact, [hidden, contacts]
delay_in,        trained (learned delays)    delay [steps] in [0, taps − 1] by a scaled
delay_out                                    sigmoid: delay_in per input fibre [inputs]
                                             (``fibre``) or per synapse [inputs, hidden]
                                             (``dcls``); delay_out [hidden, classes]
==============  ==========================  =========================================

The forward pass is a composition of one choice from each of three tables, each entry an
implementation of one interface, so that a new variant is a new entry:

- :data:`SYNAPSES` (``network.synapse``): input spikes → hidden input currents;
- :data:`NEURONS` (``network.neuron``): the hidden neuron model and its parameters;
- :data:`READOUTS` (``network.readout``): hidden spikes → output layer → class scores.

Weights are stored (in, out) and applied once over the whole sequence (one matrix product
for all time steps: the input does not depend on the state). Training-time stochastic terms
(dropout, :mod:`sslax.regularisers`) act only when :func:`forward` gets a key.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float, Int

from sslax import constraints, delays, delays_only, regularisers, synapses
from sslax.config import Config, Leaf, NetworkConfig
from sslax.neurons import (
    LIF,
    AdaptiveLIF,
    AdaptiveParams,
    LIFParams,
    NeuronModel,
    decay,
    leaky_integrator,
    mean_membrane_weights,
    run_layer,
)
from sslax.threefry import fold_in, normal, split, uniform

# Sub-streams of the network key's initialisation part (fold_in tags), so that adding a
# randomly drawn constant never changes the weights drawn before it.
_SIGNS_STREAM, _TAU_STREAM, _PSP_STREAM, _DELAY_STREAM = 1, 2, 3, 4


@struct.dataclass
class Params:
    """A network's parameters (see the module docstring for the names).

    Attributes:
        trained: name → raw array, what the optimiser updates.
        fixed: name → array, per-network constants (never trained).
    """

    trained: dict[str, Leaf]
    fixed: dict[str, Leaf] = struct.field(default_factory=dict)


class NetworkValues(NamedTuple):
    """The constrained values the dynamics use.

    Attributes:
        w_in: effective input → hidden weights [inputs, hidden] (filter-and-fire:
            [inputs, hidden, contacts]).
        w_out: effective hidden → output weights [hidden, classes].
        tau_hidden: hidden time constant(s) [s], a number or [hidden].
        tau_output: output time constant(s) [s], a number or [classes].
        delay_in, delay_out: learned delays [steps] (``None`` without them).
        delay_sigma: DCLS bump width [steps] while training; ``None`` rounds each delay to
            one tap (evaluation).
    """

    w_in: Leaf
    w_out: Leaf
    tau_hidden: Leaf
    tau_output: Leaf
    delay_in: Leaf = None
    delay_out: Leaf = None
    delay_sigma: Leaf = None


class Outputs(NamedTuple):
    """What one forward pass returns.

    Attributes:
        scores: class scores from the readout of the output membranes [batch, classes].
        hidden_spikes: hidden spike train s_0 … s_{T−1} [time, batch, hidden].
        membranes: output membranes u_0 … u_{T−1} [time, batch, classes], or ``None`` when
            the readout was computed in closed form (``mean``/``sum`` readouts).
    """

    scores: Leaf
    hidden_spikes: Leaf
    membranes: Leaf


# ---------------------------------------------------------------------------------------------
# constraints: the one place raw values become the values the dynamics use
# ---------------------------------------------------------------------------------------------


def parameter_maps(fixed: dict[str, Array], config: Config) -> dict[str, Any]:
    """The constraint of every trainable quantity (:class:`sslax.constraints.Bijector`)."""
    network = config.network
    if network.dale == "none":
        w_in = w_out = constraints.identity()
    else:
        w_in = constraints.dale(fixed["sign_in"], network.dale)
        w_out = constraints.dale(fixed["sign_out"], network.dale)
    tau = constraints.positive(network.tau_parameterisation)
    delay = constraints.interval(0.0, config.delay_taps - 1.0, unit_slope=True)
    return {"w_in": w_in, "w_out": w_out, "tau_hidden": tau, "tau_output": tau,
            "delay_in": delay, "delay_out": delay}


def network_values(params: Params, config: Config) -> NetworkValues:
    """The constrained values of ``params`` under ``config`` (what the dynamics use)."""
    net = config.network
    maps = parameter_maps(params.fixed, config)
    value = {name: maps[name].forward(raw) for name, raw in params.trained.items()}
    tau_hidden = value.get("tau_hidden", params.fixed.get("tau_hidden", net.tau_hidden))
    tau_output = value.get("tau_output", net.tau_out)
    return NetworkValues(value.get("w_in"), value.get("w_out"), tau_hidden, tau_output,
                         value.get("delay_in"), value.get("delay_out"))


def trainable_names(network: NetworkConfig) -> tuple[str, ...]:
    """Names of the trained quantities of a network with this config."""
    if network.architecture == "delays_only":
        return ("delay_out",)
    names = ["w_in", "w_out"]
    if network.learns_tau_hidden:
        names.append("tau_hidden")
    if network.learns_tau_output:
        names.append("tau_output")
    if network.delays != "none":
        names.append("delay_in")
    if network.delays == "dcls":
        names.append("delay_out")
    return tuple(names)


#: The optimiser group of each trained quantity (groups can have their own learning rates).
PARAMETER_GROUPS: dict[str, str] = {"w_in": "weights", "w_out": "weights",
                                    "tau_hidden": "tau", "tau_output": "tau",
                                    "delay_in": "delays", "delay_out": "delays"}


# ---------------------------------------------------------------------------------------------
# initialisation
# ---------------------------------------------------------------------------------------------


def weight_bounds(config: Config) -> tuple[float, float]:
    """Bounds b of the uniform initialisation U(−b, b) of (w_in, w_out).

    ``parity``: PyTorch's fan-in of an (in, out) tensor is its number of OUTPUTS, so
    b = 1/√N_h for ``w_in`` and 1/√N_c for ``w_out`` (the Dale's-law and quick-start
    notebooks). ``output_fan_in``: 1/√N_c for both (the starting notebook computed both from
    a (inputs, classes) tensor). ``fan_in``: the conventional 1/√(inputs of the layer).
    """
    n_in, n_hidden = config.stimulus.n_inputs, config.network.n_hidden
    n_out = config.stimulus.n_classes
    if config.network.init == "parity":
        return n_hidden**-0.5, n_out**-0.5
    if config.network.init == "output_fan_in":
        return n_out**-0.5, n_out**-0.5
    if config.network.init == "he":
        return (6 / n_in) ** 0.5, (6 / n_hidden) ** 0.5
    return n_in**-0.5, n_hidden**-0.5


def draw_fixed(key: Array, config: Config) -> dict[str, Array]:
    """The per-network constants of ``config``: Dale's-law signs per presynaptic unit
    (inputs, hidden), and per-unit hidden time constants drawn from their distribution."""
    net, n_in = config.network, config.stimulus.n_inputs
    fixed: dict[str, Array] = {}
    if net.dale != "none":
        k_in, k_hidden = split(fold_in(key, _SIGNS_STREAM), 2)
        fixed["sign_in"] = constraints.dale_signs(k_in, n_in, net.fraction_inputs,
                                                  net.inhibitory_placement)
        fixed["sign_out"] = constraints.dale_signs(k_hidden, net.n_hidden, net.fraction_hidden,
                                                   net.inhibitory_placement)
    if net.tau_hidden_distribution != "homogeneous":
        fixed["tau_hidden"] = draw_time_constants(fold_in(key, _TAU_STREAM), net)
    if net.synapse == "filter_and_fire":
        fixed["psp_tau_rise"], fixed["psp_tau_decay"] = synapses.psp_time_constants(
            fold_in(key, _PSP_STREAM), (net.n_hidden, net.contacts),
            (net.psp_tau_rise_min, net.psp_tau_rise_max),
            (net.psp_tau_decay_min, net.psp_tau_decay_max))
    return fixed


def draw_time_constants(key: Array, network: NetworkConfig) -> Float[Array, " hidden"]:
    """Per-unit hidden time constants [s] with mean ``tau_hidden``, [hidden].

    ``log_uniform``: log τ uniform on [log τ_lo, log τ_lo + log r] with r =
    ``tau_hidden_ratio`` and τ_lo = mean·ln r/(r − 1), so that E[τ] = mean.
    ``gamma``: shape k = 1/cv², scale mean/k (cv = ``tau_hidden_cv``), E[τ] = mean.
    """
    mean, n = network.tau_hidden, network.n_hidden
    if network.tau_hidden_distribution == "log_uniform":
        log_r = jnp.log(network.tau_hidden_ratio)
        lowest = mean * log_r / jnp.expm1(log_r)
        return lowest * jnp.exp(log_r * uniform(key, (n,), dtype=float))
    shape = 1.0 / jnp.square(network.tau_hidden_cv)
    return mean / shape * jax.random.gamma(key, shape, (n,))


def initial_values(key: Array, fixed: dict[str, Array], config: Config) -> dict[str, Array]:
    """Constrained initial values of the trained quantities.

    Weights: U(−b, b) (:func:`weight_bounds`), each contact of a filter-and-fire synapse
    too; under Dale's law |U(−b, b)|·sign, so a unit's
    outgoing magnitudes have the same distribution U(0, b) as without the constraint and an
    excitatory-only network starts with mean weight b/2 (the original's choice: |W| of the
    usual initialisation). Learned time constants start at their fixed value: the config's
    τ, or the per-unit values drawn for it.
    """
    net = config.network
    if net.architecture == "delays_only":  # U(0, max_delay) per class
        top = config.delay_taps - 1.0
        d = uniform(fold_in(key, _DELAY_STREAM), (config.stimulus.n_classes,), 0.0, top, float)
        return {"delay_out": jnp.clip(d, 0.01, top - 0.01)}
    b_in, b_out = weight_bounds(config)
    n_in, n_hidden, n_out = config.stimulus.n_inputs, net.n_hidden, config.stimulus.n_classes
    k_in, k_out = split(key, 2)
    shape_in = (n_in, n_hidden) if net.synapse == "instant" else (n_in, n_hidden, net.contacts)
    values = {"w_in": uniform(k_in, shape_in, -b_in, b_in, float),
              "w_out": uniform(k_out, (n_hidden, n_out), -b_out, b_out, float)}
    if net.dale != "none":
        for name, sign in (("w_in", "sign_in"), ("w_out", "sign_out")):
            values[name] = jnp.abs(values[name]) * constraints.presynaptic(
                fixed[sign], values[name].ndim)
    per_unit = net.learned_tau_shape == "unit"
    real = values["w_in"].dtype
    if net.learns_tau_hidden:
        tau = fixed.get("tau_hidden", jnp.asarray(net.tau_hidden, real))
        values["tau_hidden"] = jnp.broadcast_to(tau, (n_hidden,)) if per_unit else tau
    if net.learns_tau_output:
        tau = jnp.asarray(net.tau_out, real)
        values["tau_output"] = jnp.broadcast_to(tau, (n_out,)) if per_unit else tau
    if net.delays != "none":
        values |= initial_delays(fold_in(key, _DELAY_STREAM), config)
    return values


def initial_delays(key: Array, config: Config) -> dict[str, Array]:
    """Initial learned delays [steps]: ``fibre``: U(0, taps − 1) per fibre; ``dcls``: the
    middle of the range ± N(0, 0.5²) per synapse (the original: positions N(0, 0.5) about
    the kernel's centre), kept 0.01 steps inside the range (the bounds are the sigmoid's
    limits)."""
    top = config.delay_taps - 1.0
    n_in, n_hidden = config.stimulus.n_inputs, config.network.n_hidden
    k_in, k_out = split(key, 2)
    if config.network.delays == "fibre":
        found = {"delay_in": uniform(k_in, (n_in,), 0.0, top, float)}
    else:
        shapes = {"delay_in": (k_in, (n_in, n_hidden)),
                  "delay_out": (k_out, (n_hidden, config.stimulus.n_classes))}
        found = {name: top / 2 + 0.5 * normal(k, shape, float)
                 for name, (k, shape) in shapes.items()}
    return {name: jnp.clip(d, 0.01, top - 0.01) for name, d in found.items()}


def init_params(key: Array, config: Config) -> Params:
    """Draw a network's parameters from its key: constants first (:func:`draw_fixed`), then
    the constrained initial values (:func:`initial_values`), mapped to raw values by the
    inverse of each constraint (:func:`params_from_values`)."""
    fixed = draw_fixed(key, config)
    return params_from_values(initial_values(key, fixed, config), fixed, config)


def params_from_values(values: dict[str, ArrayLike], fixed: dict[str, Array],
                       config: Config) -> Params:
    """Parameters whose constrained values are ``values`` (name → array, the trained
    quantities of ``config``) with the constants ``fixed``."""
    maps = parameter_maps(fixed, config)
    names = trainable_names(config.network)
    missing = sorted(set(names) - set(values))
    if missing:
        raise ValueError(f"values lack {', '.join(missing)} (this config trains "
                         f"{', '.join(names)})")
    trained = {name: maps[name].inverse(jnp.asarray(values[name])) for name in names}
    return Params(trained, dict(fixed))


# ---------------------------------------------------------------------------------------------
# synapses: input spikes → hidden input currents
# ---------------------------------------------------------------------------------------------


def _instant_synapses(spikes: Array, values: NetworkValues, fixed: dict[str, Array],
                      config: Config) -> Array:
    kind = config.network.delays
    if kind == "fibre":
        spikes = delays.shift(spikes, values.delay_in)
    elif kind == "dcls":
        kernel = delays.delay_kernel(values.delay_in, values.delay_sigma, config.delay_taps)
        return delays.kernel_current(spikes, values.w_in, kernel, config.network.delay_method)
    return jnp.einsum("tbi,ih->tbh", spikes, values.w_in)


def _filter_and_fire_synapses(spikes: Array, values: NetworkValues, fixed: dict[str, Array],
                              config: Config) -> Array:
    return synapses.filter_and_fire_current(spikes, values.w_in, fixed["psp_tau_rise"],
                                            fixed["psp_tau_decay"], config.stimulus.dt)


#: synapse name → function(spikes, values, fixed, config) -> hidden input current
#: [time, batch, hidden] (``network.synapse``).
SYNAPSES: dict[str, Callable[..., Array]] = {
    "instant": _instant_synapses,
    "filter_and_fire": _filter_and_fire_synapses,
}


# ---------------------------------------------------------------------------------------------
# the hidden neuron model
# ---------------------------------------------------------------------------------------------


def _lif_layer(values: NetworkValues, config: Config) -> tuple[NeuronModel, Any]:
    net = config.network
    return (LIF(net.surrogate, net.update_order, net.reset),
            LIFParams(decay(values.tau_hidden, config.stimulus.dt), net.threshold,
                      net.surrogate_slope))


def _adaptive_layer(values: NetworkValues, config: Config) -> tuple[NeuronModel, Any]:
    net, dt = config.network, config.stimulus.dt
    tau_threshold = values.tau_hidden if net.tau_adaptation is None else net.tau_adaptation
    return (AdaptiveLIF(net.surrogate, net.update_order, net.reset),
            AdaptiveParams(decay(values.tau_hidden, dt), decay(tau_threshold, dt),
                           net.adaptation_strength, net.threshold, net.surrogate_slope))


#: neuron name → function(values, config) -> (model, model parameters) (``network.neuron``).
NEURONS: dict[str, Callable[[NetworkValues, Config], tuple[NeuronModel, Any]]] = {
    "lif": _lif_layer,
    "adaptive": _adaptive_layer,
}


def hidden_layer(values: NetworkValues, config: Config) -> tuple[NeuronModel, Any]:
    """The hidden layer's neuron model and its parameters under ``config``."""
    return NEURONS[config.network.neuron](values, config)


# ---------------------------------------------------------------------------------------------
# readouts: hidden spikes → output layer → class scores
# ---------------------------------------------------------------------------------------------

#: What a readout gets besides the hidden layer: a function applied to the hidden spike
#: train before the output layer sees it (training-time dropout), or ``None``.
SpikeTransform = Callable[[Array], Array] | None


def output_current(hidden: Float[Array, "time batch hidden"], values: NetworkValues,
                   config: Config) -> Float[Array, "time batch classes"]:
    """The output layer's input current: hidden spikes through W2 (and, with ``dcls``
    delays, each synapse's delay kernel)."""
    if config.network.delays == "dcls":
        kernel = delays.delay_kernel(values.delay_out, values.delay_sigma, config.delay_taps)
        return delays.kernel_current(hidden, values.w_out, kernel, config.network.delay_method)
    return jnp.einsum("tbh,hc->tbc", hidden, values.w_out)


def _hidden_spikes(model: NeuronModel, model_params: Any, h: Array) -> Array:
    return run_layer(model, model_params, h, jnp.zeros(h.shape[0], h.dtype))[0]


def _time_weighted_readout(scale: Callable[[int], float]) -> Callable[..., Outputs]:
    def readout(model: NeuronModel, model_params: Any, h: Array, values: NetworkValues,
                config: Config, transform: SpikeTransform = None) -> Outputs:
        n_steps = config.stimulus.n_steps
        a_out = decay(values.tau_output, config.stimulus.dt)
        weights = mean_membrane_weights(a_out, n_steps, h.dtype) * scale(n_steps)
        delayed = config.network.delays == "dcls"  # the current is not hidden spikes @ W2
        if weights.ndim == 1 and transform is None and not delayed:
            # one output τ: the hidden layer sums its spikes with these weights as it goes
            hidden, weighted_count = run_layer(model, model_params, h, weights)
            return Outputs(weighted_count @ values.w_out, hidden, None)
        hidden = _hidden_spikes(model, model_params, h)
        seen = hidden if transform is None else transform(hidden)
        if delayed:
            current = output_current(seen, values, config)
            by_time = "t,tbc->bc" if weights.ndim == 1 else "tc,tbc->bc"
            return Outputs(jnp.einsum(by_time, weights, current), hidden, None)
        if weights.ndim == 1:
            return Outputs(jnp.einsum("t,tbh->bh", weights, seen) @ values.w_out, hidden, None)
        # one τ per output unit: weights [time, classes]
        scores = jnp.einsum("tbh,hc,tc->bc", seen, values.w_out, weights)
        return Outputs(scores, hidden, None)

    return readout


def _max_readout(model: NeuronModel, model_params: Any, h: Array, values: NetworkValues,
                 config: Config, transform: SpikeTransform = None) -> Outputs:
    hidden = _hidden_spikes(model, model_params, h)
    seen = hidden if transform is None else transform(hidden)
    membranes = leaky_integrator(output_current(seen, values, config),
                                 a=decay(values.tau_output, config.stimulus.dt))
    return Outputs(jnp.max(membranes, axis=0), hidden, membranes)


def output_neurons(values: NetworkValues, config: Config) -> tuple[NeuronModel, LIFParams]:
    """The spiking output layer of the ``spike_count`` readout: LIF units with the hidden
    layer's update order, reset, threshold and surrogate, and the output time constant."""
    net = config.network
    return (LIF(net.surrogate, net.update_order, net.reset),
            LIFParams(decay(values.tau_output, config.stimulus.dt), net.threshold,
                      net.surrogate_slope))


def _spike_count_readout(model: NeuronModel, model_params: Any, h: Array,
                         values: NetworkValues, config: Config,
                         transform: SpikeTransform = None) -> Outputs:
    hidden = _hidden_spikes(model, model_params, h)
    seen = hidden if transform is None else transform(hidden)
    out_model, out_params = output_neurons(values, config)
    n_steps = config.stimulus.n_steps
    currents = output_current(seen, values, config)
    _, scores = run_layer(out_model, out_params, currents,
                          jnp.full(n_steps, 1.0 / n_steps, h.dtype))
    return Outputs(scores, hidden, None)


#: readout name → function(model, model_params, h, values, config, transform=None) ->
#: Outputs (``network.readout``). ``mean`` and ``sum`` sum the linear output layer in
#: closed form (equal to its scan in exact arithmetic); ``spike_count`` scores are spikes
#: per step of LIF output units.
READOUTS: dict[str, Callable[..., Outputs]] = {
    "mean": _time_weighted_readout(lambda n_steps: 1.0),
    "sum": _time_weighted_readout(lambda n_steps: float(n_steps)),
    "max": _max_readout,
    "spike_count": _spike_count_readout,
}


def _with_dropped_connections(key: Array, values: NetworkValues,
                              config: Config) -> NetworkValues:
    rate = config.training.dropout_connections
    k_in, k_out = split(key, 2)
    return values._replace(w_in=regularisers.dropout(k_in, values.w_in, rate),
                           w_out=regularisers.dropout(k_out, values.w_out, rate))


def forward(
    params: Params,
    spikes: Float[ArrayLike, "time batch inputs"],
    config: Config,
    key: Array | None = None,
    keep_hidden: Float[ArrayLike, " hidden"] | None = None,
    epoch: ArrayLike | None = None,
) -> Outputs:
    """Simulate the network on time-major input spikes and read out class scores.

    Readouts (``config.network.readout``): ``mean`` = mean_t u_t (the original),
    ``sum`` = Σ_t u_t, ``max`` = max_t u_t, ``spike_count`` = spikes per step of LIF output
    units. ``key``: the randomness of training-time terms — connection and hidden-spike
    dropout when the config asks for them. Without a key (evaluation) the network is
    deterministic; a config without dropout ignores the key.

    ``keep_hidden``: ablation — 1 for each hidden unit the readout sees, 0 for each removed
    ([hidden]). Hidden units do not interact, so this equals deleting the units; the
    returned ``hidden_spikes`` are the hidden layer's own (before removal).

    ``epoch``: the training epoch (0-based) during training; it sets the width of the DCLS
    delay kernels (:func:`sslax.delays.dcls_sigma`). Without it (evaluation) each DCLS
    delay is rounded to one tap.
    """
    values = with_delay_width(network_values(params, config), config, epoch)
    if config.network.architecture == "delays_only":
        return _delays_only_forward(jnp.asarray(spikes), values, config)
    tr = config.training
    transform: SpikeTransform = None
    if key is not None:
        k_connections, k_hidden = split(key, 2)
        if tr.dropout_connections is not None:
            values = _with_dropped_connections(k_connections, values, config)
        if tr.dropout_hidden is not None:
            transform = partial(regularisers.dropout, k_hidden, rate=tr.dropout_hidden)
    if keep_hidden is not None:
        transform = _then_keep(transform, jnp.asarray(keep_hidden))
    h = SYNAPSES[config.network.synapse](jnp.asarray(spikes), values, params.fixed, config)
    model, model_params = hidden_layer(values, config)
    return READOUTS[config.network.readout](model, model_params, h, values, config, transform)


def _delays_only_forward(spikes: Array, values: NetworkValues, config: Config) -> Outputs:
    """The delays-only network (:mod:`sslax.delays_only`); it has no hidden units, so
    ``hidden_spikes`` is empty ([time, batch, 0])."""
    stim = config.stimulus
    scores = delays_only.scores(spikes, values.delay_out, (config.delay_taps - 1) / 2,
                                values.tau_output, stim.dt)
    return Outputs(scores, jnp.zeros((*spikes.shape[:2], 0), spikes.dtype), None)


def with_delay_width(values: NetworkValues, config: Config,
                     epoch: ArrayLike | None) -> NetworkValues:
    """``values`` with the DCLS kernel width of training epoch ``epoch`` (``None``: rounded
    delays, for evaluation); other networks unchanged."""
    net = config.network
    if net.delays != "dcls" or epoch is None:
        return values
    return values._replace(delay_sigma=delays.dcls_sigma(
        epoch, config.training.n_epochs, config.delay_taps, net.delay_sigma_floor,
        net.delay_anneal_fraction))


def _then_keep(transform: SpikeTransform, keep: Array) -> Callable[[Array], Array]:
    def keep_units(hidden: Array) -> Array:
        seen = hidden if transform is None else transform(hidden)
        return seen * keep.astype(seen.dtype)

    return keep_units


def hidden_membranes(
    params: Params, spikes: Float[ArrayLike, "time batch inputs"], config: Config
) -> Float[Array, "time batch hidden"]:
    """The hidden membrane potential v_t at the start of each step t (v_0 = 0; after any
    reset) [time, batch, hidden] (for plots and analysis; dimensionless, threshold
    ``network.threshold``). In the parity order the spike s_{t+1} = H(v_t − ϑ), so a
    threshold crossing at t shows as a spike at t + 1 in the recorded spike train."""
    values = network_values(params, config)
    h = SYNAPSES[config.network.synapse](jnp.asarray(spikes), values, params.fixed, config)
    model, model_params = hidden_layer(values, config)

    def step(state: Any, h_t: Array) -> tuple[Any, Array]:
        return model.step(model_params, state, h_t)[0], state.v

    state = model.initial_state(model_params, h.shape[1:], h.dtype)
    return jax.lax.scan(step, state, h)[1]


def output_membranes(
    params: Params, spikes: Float[ArrayLike, "time batch inputs"], config: Config
) -> Float[Array, "time batch classes"]:
    """The full output membrane trace u_0 … u_{T−1} of the leaky-integrator output layer
    (for plots and analysis; the ``spike_count`` readout has spiking output units instead:
    see :func:`output_spikes`)."""
    if config.network.readout == "spike_count":
        raise ValueError("the spike_count readout has spiking output units: use "
                         "output_spikes")
    out = forward(params, spikes, config)
    if out.membranes is not None:
        return out.membranes
    values = network_values(params, config)
    a_out = decay(values.tau_output, config.stimulus.dt)
    return leaky_integrator(output_current(out.hidden_spikes, values, config), a=a_out)


def output_spikes(
    params: Params, spikes: Float[ArrayLike, "time batch inputs"], config: Config
) -> Float[Array, "time batch classes"]:
    """The output units' spike train of the ``spike_count`` readout [time, batch, classes]."""
    if config.network.readout != "spike_count":
        raise ValueError(f"readout {config.network.readout!r} has non-spiking output units: "
                         f"use output_membranes")
    values = network_values(params, config)
    hidden = forward(params, spikes, config).hidden_spikes
    model, model_params = output_neurons(values, config)
    n_steps = config.stimulus.n_steps
    currents = output_current(hidden, values, config)
    return run_layer(model, model_params, currents, jnp.zeros(n_steps, currents.dtype))[0]


def cross_entropy(scores: Float[Array, "batch classes"], labels: Int[ArrayLike, " batch"]) -> Array:
    """Mean negative log-likelihood of log_softmax(scores) at the true labels."""
    log_p = jax.nn.log_softmax(scores, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_p, jnp.asarray(labels)[:, None], axis=-1))


def loss_fn(
    params: Params,
    spikes: Float[ArrayLike, "time batch inputs"],
    labels: Int[ArrayLike, " batch"],
    config: Config,
    key: Array | None = None,
    epoch: ArrayLike | None = None,
) -> tuple[Array, Outputs]:
    """Training loss and the forward outputs: the cross-entropy of the readout, plus the
    rate penalty on the hidden units when ``training.rate_regulariser`` asks for one
    (:func:`sslax.regularisers.rate_penalty`).

    ``key`` is a fresh key per training step for stochastic terms (dropout); deterministic
    configs ignore it, so their results do not depend on it. ``epoch``: see :func:`forward`.
    """
    out = forward(params, spikes, config, key, epoch=epoch)
    loss = cross_entropy(out.scores, labels)
    tr = config.training
    if tr.rate_regulariser != "none":
        rates = regularisers.firing_rates(out.hidden_spikes, config.stimulus.duration)
        loss = loss + regularisers.rate_penalty(
            rates, strength=tr.rate_penalty, lower=tr.rate_lower, upper=tr.rate_upper,
            form=tr.rate_regulariser, n_classes=config.stimulus.n_classes)
    return loss, out


def predict(scores: Float[Array, "batch classes"]) -> Int[Array, " batch"]:
    """Predicted class: argmax of the readout (for ``mean`` = argmax of Σ_t u_t, the original)."""
    return jnp.argmax(scores, axis=-1)

