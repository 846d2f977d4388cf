"""Frozen, validated configuration dataclasses, registered as JAX pytrees.

A :class:`Config` has three sections, one per concern:

- :class:`StimulusConfig`: the IPD task (tone, auditory-nerve fibres, classes);
- :class:`NetworkConfig`: the spiking network (sizes, time constants, surrogate, update order);
- :class:`TrainingConfig`: the optimisation (epochs, batch, data sets, learning rate).

Fields that fix array shapes or control flow (sizes, step counts, option names) are *static*
(see :func:`static`): they are part of the pytree structure, so changing one compiles a new
program. Numeric hyperparameters (time constants, rates, learning rate, surrogate slope,
inhibitory fractions) are *leaves*: they are traced, so ``jit`` compiles once for every value
and ``vmap`` can batch over them.

Values are in SI units (seconds, hertz, radians). The class docstrings are also the help
text of ``sslax train --help``, so they are written as plain text.

Every field is validated when a config is built. The error names the field, the value and
what is allowed, and is raised before anything is compiled or written. JAX's own rebuilding
of a config inside a transformation does not run ``__init__`` and so is never validated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from collections.abc import Iterator
from typing import Any, Literal, get_args

import jax
import numpy as np

PhaseOffset = Literal["per_dataset", "per_sample", "per_epoch"]
Surrogate = Literal["sigmoid", "superspike"]
UpdateOrder = Literal["parity", "textbook"]
Reset = Literal["multiplicative", "subtractive"]
Readout = Literal["mean", "sum", "max", "spike_count"]
Init = Literal["parity", "output_fan_in", "fan_in", "he"]
DataMode = Literal["fixed", "fresh"]
SpikeStorage = Literal["bool", "bits"]
Neuron = Literal["lif", "adaptive"]
Synapse = Literal["instant", "filter_and_fire"]
Delays = Literal["none", "fibre", "dcls"]
Architecture = Literal["spiking", "delays_only"]
DelayMethod = Literal["conv", "fft", "unfold"]
RateRegulariser = Literal["none", "band", "above_lower", "original"]
Dale = Literal["none", "abs", "softplus"]
Placement = Literal["random", "contiguous"]
TauDistribution = Literal["homogeneous", "log_uniform", "gamma"]
LearnTau = Literal["none", "hidden", "output", "both"]
TauShape = Literal["unit", "layer"]
TauParameterisation = Literal["log", "softplus"]


#: A field of a pytree container (``Params``, ``Dataset``, ``Evaluation`` …): an array, or
#: whatever JAX puts in a pytree leaf inside a transformation (tracers, shape structs).
#: Deliberately not type-checked; the functions that use the arrays carry the shapes.
Leaf = Any


class ConfigError(ValueError):
    """A config field holds a value that is not allowed. The message names field and value."""


_DEFERRED: list[bool] = [False]


@contextlib.contextmanager
def validation_deferred() -> Iterator[None]:
    """Configs built in this block are not validated when constructed; the caller calls
    :meth:`Config.validate` afterwards. A command-line parser builds the sections one by
    one, and this lets the error of a bad value reach the caller rather than the parser."""
    _DEFERRED.append(True)
    try:
        yield
    finally:
        _DEFERRED.pop()


def _validate_on_construction(config: Any, **kwargs: Any) -> None:
    if not _DEFERRED[-1]:
        config.validate(**kwargs)


class ConfigWarning(UserWarning):
    """A config was completed with defaults (e.g. a file from an older sslax lacks a field)."""


def static(default: Any) -> Any:
    """A config field that is part of the pytree structure (changing it recompiles)."""
    return dataclasses.field(default=default, metadata={"static": True})


def pytree_config(cls: type) -> type:
    """Make ``cls`` a frozen dataclass and a pytree whose static fields are structure.

    Unflattening (what JAX does inside ``jit``/``vmap``/``tree.map``) bypasses ``__init__``,
    so validation runs only when a person builds or ``replace``-s a config, never on the
    tracers or placeholders that JAX puts in the leaves.
    """
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    data = tuple(f.name for f in fields if not f.metadata.get("static", False))
    meta = tuple(f.name for f in fields if f.metadata.get("static", False))

    def flatten_with_keys(obj: Any) -> tuple[list[tuple[Any, Any]], tuple[Any, ...]]:
        children = [(jax.tree_util.GetAttrKey(n), getattr(obj, n)) for n in data]
        return children, tuple(getattr(obj, n) for n in meta)

    def flatten(obj: Any) -> tuple[list[Any], tuple[Any, ...]]:
        return [getattr(obj, n) for n in data], tuple(getattr(obj, n) for n in meta)

    def unflatten(aux: tuple[Any, ...], children: Any) -> Any:
        obj = object.__new__(cls)
        for name, value in zip(meta + data, tuple(aux) + tuple(children), strict=True):
            object.__setattr__(obj, name, value)
        return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    cls.replace = lambda self, **updates: dataclasses.replace(self, **updates)
    return cls


# ---------------------------------------------------------------------------------------------
# validation helpers: each check is a no-op on tracers / placeholders, strict on real numbers
# ---------------------------------------------------------------------------------------------


def _numeric(value: Any) -> np.ndarray | None:
    """``value`` as a float array if it is a concrete number or array, else ``None``."""
    if isinstance(value, jax.core.Tracer) or isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, np.number, np.ndarray, jax.Array)):
        try:
            return np.asarray(value, dtype=np.float64)
        except (TypeError, jax.errors.ConcretizationTypeError):
            return None
    return None


def _fail(section: str, name: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{section}.{name} = {value!r} is not allowed: {allowed}")


def _check_number(section: str, name: str, value: Any, *, lo: float | None = None,
                  hi: float | None = None, lo_open: bool = False, hi_open: bool = False,
                  what: str = "") -> None:
    """Raise unless ``value`` (a number or array of numbers) is finite and within bounds."""
    if isinstance(value, jax.core.Tracer):
        return  # replaced inside a JAX transformation: nothing concrete to check
    arr = _numeric(value)
    if arr is None:
        _fail(section, name, value, f"expected a number{what and ' (' + what + ')'}")
    if not np.all(np.isfinite(arr)):
        _fail(section, name, value, f"must be finite{what and ' (' + what + ')'}")
    if lo is not None and not np.all(arr > lo if lo_open else arr >= lo):
        _fail(section, name, value, f"must be {'>' if lo_open else '>='} {lo}"
              f"{what and ' (' + what + ')'}")
    if hi is not None and not np.all(arr < hi if hi_open else arr <= hi):
        _fail(section, name, value, f"must be {'<' if hi_open else '<='} {hi}"
              f"{what and ' (' + what + ')'}")


def _check_int(section: str, name: str, value: Any, *, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        _fail(section, name, value, f"expected a whole number >= {lo}")
    if value < lo:
        _fail(section, name, value, f"must be a whole number >= {lo}")


def _check_choice(section: str, name: str, value: Any, options: Any) -> None:
    choices = get_args(options)
    if value not in choices:
        _fail(section, name, value, f"choose one of {', '.join(map(repr, choices))}")


def _check_bool(section: str, name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        _fail(section, name, value, "expected True or False")


def _check_per_unit(section: str, name: str, value: Any, n_units: int, what: str) -> None:
    """A number, or one value per unit: shape () or [n_units]."""
    if isinstance(value, jax.core.Tracer):
        return
    shape = np.shape(value)
    if shape not in ((), (n_units,)):
        _fail(section, name, f"<array of shape {shape}>",
              f"expected one number or one per {what} (shape ({n_units},))")


def _concrete(value: Any) -> float | None:
    """A scalar Python float for cross-field checks, or ``None`` when not concrete/scalar."""
    arr = _numeric(value)
    return None if arr is None else float(np.max(arr))


# ---------------------------------------------------------------------------------------------
# the three sections
# ---------------------------------------------------------------------------------------------


@pytree_config
class StimulusConfig:
    """The IPD task: a pure tone, Poisson-like auditory-nerve fibres, equal-width IPD classes.

    Attributes:
        frequency: tone frequency f [Hz].
        dt: simulation step [s]. Structural (it fixes the number of steps).
        duration: stimulus duration [s]. Structural; duration / dt must be a whole number.
        fibres_per_ear: auditory-nerve fibres per ear. The input size is twice this (left
            ear first, then right ear).
        rate_max: peak firing rate R_max [Hz]; rate_max * dt is a spike probability, <= 1.
        envelope_power: exponent k of the rate envelope ((1 + sin θ) / 2)^k.
        phase_delays: give fibre j the phase delay ψ_j = j·(π/2)/(N_ψ − 1); off sets every
            ψ_j = 0 (for learned delays).
        phase_offset: when the random phase offset φ0 is drawn: per_dataset (once per
            generated data set, the original), per_sample, or per_epoch (the training set
            keeps its Poisson noise frozen and gets a new φ0 per sample every epoch;
            evaluation sets then use one φ0 per data set).
        exact_rates: use the exact integral of the rate over each step [t·dt, (t+1)·dt]
            instead of its value at t·dt (defined for envelope_power = 2 only).
        fast_rates: compute the spike probabilities the fast way: the sines from angle sums
            (sin ω·t·cos β + cos ω·t·sin β) and the envelope's power k = 2 as x·x, any other
            as exp(k·ln x). Several times faster spike generation on a CPU (most useful when
            spikes are regenerated every batch: per_epoch phase offsets, fresh data); the
            probabilities differ from the direct form's by a few float32 ulps, which flips
            about one spike in 10⁷ (2 of the 18.4 million spikes of a 4 096-sample set).
            Off (the direct form) reproduces every saved data set bit for bit.
        phase_jitter: standard deviation [rad] of Gaussian noise added to the phase delays,
            one pattern per generated data set. 0 disables it.
        n_classes: number of equal-width IPD classes over [−π/2, π/2].
    """

    frequency: float = 20.0
    dt: float = static(1e-3)
    duration: float = static(0.1)
    fibres_per_ear: int = static(100)
    rate_max: float = 600.0
    envelope_power: float = 2.0
    phase_delays: bool = static(True)
    phase_offset: PhaseOffset = static("per_dataset")
    exact_rates: bool = static(False)
    fast_rates: bool = static(False)
    phase_jitter: float = 0.0
    n_classes: int = static(12)

    def __post_init__(self) -> None:
        _validate_on_construction(self)

    @property
    def n_steps(self) -> int:
        """Number of time steps T = duration / dt."""
        return int(round(self.duration / self.dt))

    @property
    def n_inputs(self) -> int:
        """Input size: both ears' fibres."""
        return 2 * self.fibres_per_ear

    def validate(self) -> None:
        s = "stimulus"
        _check_number(s, "dt", self.dt, lo=0.0, lo_open=True, what="seconds")
        _check_number(s, "duration", self.duration, lo=0.0, lo_open=True, what="seconds")
        if self.dt >= self.duration:
            _fail(s, "dt", self.dt, f"must be smaller than duration = {self.duration} s")
        ratio = self.duration / self.dt
        if abs(ratio - round(ratio)) > 1e-6 * ratio:
            _fail(s, "duration", self.duration,
                  f"must be a whole number of steps of dt = {self.dt} s")
        _check_int(s, "fibres_per_ear", self.fibres_per_ear, lo=1)
        _check_int(s, "n_classes", self.n_classes, lo=2)
        _check_number(s, "frequency", self.frequency, lo=0.0, lo_open=True, what="Hz")
        _check_number(s, "rate_max", self.rate_max, lo=0.0, what="Hz")
        rate = _concrete(self.rate_max)
        if rate is not None and rate * self.dt > 1.0:
            _fail(s, "rate_max", self.rate_max,
                  f"rate_max * dt = {rate * self.dt:g} is a spike probability and must be <= 1"
                  f" (dt = {self.dt} s)")
        _check_number(s, "envelope_power", self.envelope_power, lo=0.0)
        _check_number(s, "phase_jitter", self.phase_jitter, lo=0.0, what="radians")
        _check_bool(s, "phase_delays", self.phase_delays)
        _check_bool(s, "exact_rates", self.exact_rates)
        _check_bool(s, "fast_rates", self.fast_rates)
        _check_choice(s, "phase_offset", self.phase_offset, PhaseOffset)
        power = _concrete(self.envelope_power)
        if self.exact_rates and power is not None and power != 2.0:
            _fail(s, "exact_rates", self.exact_rates,
                  f"the exact integral is defined for envelope_power = 2, not {power:g}")


@pytree_config
class NetworkConfig:
    """The spiking network: inputs → hidden spiking layer → leaky-integrator outputs.

    Attributes:
        architecture: spiking (inputs → hidden spiking layer → leaky-integrator outputs) or
            delays_only (no weights and no hidden layer: class k compares the k-th fibre of
            the left ear, delayed by max_delay/2, with the k-th fibre of the right ear
            delayed by a learned delay in [0, max_delay], through leaky integrators with
            tau_output; score −Σ_t (u_left,k − u_right,k)²; needs fibres_per_ear = n_classes).
        n_hidden: number of hidden units N_h.
        neuron: hidden neuron model: lif (leaky integrate-and-fire) or adaptive (LIF whose
            threshold ϑ + β·θ rises after each spike: θ ← ρθ + (1 − ρ)s, ρ = exp(−dt/τ_θ)).
        adaptation_strength: adaptive only: β, the threshold increase per unit of θ
            (dimensionless; 0 makes the adaptive neuron a LIF neuron).
        tau_adaptation: adaptive only: τ_θ, time constant of the threshold variable θ [s].
            None: the same as tau_hidden (as the original).
        synapse: how input spikes reach the hidden units: instant (one weight per synapse,
            the current is x_t·W) or filter_and_fire (each input reaches each hidden unit
            through `contacts` contacts, each with its own weight and a fixed
            double-exponential PSP kernel; time constants drawn per network seed).
        contacts: filter_and_fire only: contacts M per input and hidden unit.
        delays: learned delays: none; fibre (a real-valued delay per input fibre, the train
            shifted by linear interpolation between whole steps, before the input weights);
            dcls (a delay per synapse in both layers, a Gaussian bump over the delay taps
            whose width is annealed while training; rounded to one tap at evaluation).
            Delays lie in [0, max_delay]; instant synapses only.
        max_delay: largest learned delay [s]; delays take max_delay/dt + 1 taps (0 …
            max_delay). Structural.
        delay_sigma_floor: dcls only: final width σ of the bump [steps] (0.5 as the
            original: its σ 0.23 plus the 0.27 its kernel adds). Must exceed 0.27.
        delay_anneal_fraction: dcls only: σ falls geometrically from (taps − 1)/2 + 0.27 to
            delay_sigma_floor over this fraction of n_epochs, then stays.
        delay_method: dcls only: how the delayed currents are computed (equal values): fft
            (real FFTs over time; by far the fastest in training on a CPU), conv (XLA's
            convolution; its backward pass is slow on a CPU) or unfold (shifted copies and
            one matrix product).
        psp_tau_rise_min: filter_and_fire only: PSP rise times are drawn uniformly from
            [psp_tau_rise_min, psp_tau_rise_max] [s].
        psp_tau_rise_max: see psp_tau_rise_min [s].
        psp_tau_decay_min: filter_and_fire only: PSP decay times are drawn uniformly from
            [psp_tau_decay_min, psp_tau_decay_max] [s], and raised to 1.5 × the rise time
            where they are shorter.
        psp_tau_decay_max: see psp_tau_decay_min [s].
        tau_hidden: hidden membrane time constant τ [s]; decay a = exp(−dt/τ). A number, or
            one value per hidden unit. With a tau_hidden_distribution it is the mean.
        tau_output: output (leaky-integrator) time constant [s]. None: the same as
            tau_hidden (its mean when tau_hidden is per unit).
        tau_hidden_distribution: homogeneous (every unit has tau_hidden), or per-unit τ drawn
            once per network seed with mean tau_hidden: log_uniform (see tau_hidden_ratio) or
            gamma (see tau_hidden_cv).
        tau_hidden_ratio: log_uniform only: ratio of the largest to the smallest τ (> 1).
        tau_hidden_cv: gamma only: coefficient of variation (std / mean) of τ (> 0).
        learn_tau: which time constants are trained: none, hidden, output or both.
        learned_tau_shape: a learned τ is one value per unit or one per layer.
        tau_parameterisation: how a learned τ stays positive: log (τ = exp(r)) or softplus
            (τ = softplus(r) · 1 ms). Both have a gradient everywhere.
        dale: Dale's law: none (unconstrained weights), abs (W_eff = |W|·sign, as the
            original; a weight that reaches 0 stops learning) or softplus (W_eff =
            softplus(W)·sign, no dead synapses). The sign is fixed per presynaptic unit.
        inhibitory_fraction: Dale's law: fraction of inhibitory units, in both layers'
            presynaptic populations (input fibres and hidden units). round(fraction·N) units
            are inhibitory.
        inhibitory_fraction_inputs: Dale's law: fraction of inhibitory input fibres; None:
            inhibitory_fraction. 0 makes every input excitatory.
        inhibitory_fraction_hidden: Dale's law: fraction of inhibitory hidden units; None:
            inhibitory_fraction. 0 makes every hidden unit excitatory.
        inhibitory_placement: Dale's law: random (units drawn per network seed) or
            contiguous (the first units; for the inputs this makes the left ear inhibitory
            first, as one original notebook did).
        threshold: firing threshold of the hidden membrane (dimensionless, 1 in the original).
        surrogate: backward pass of the spike: sigmoid (β·σ(βx)(1 − σ(βx))) or superspike
            (1 / (1 + β|x|)²).
        surrogate_slope: β of the surrogate (5 in the original's sigmoid).
        update_order: parity (spike from the membrane before the update, multiplicative reset
            one step later; the original) or textbook (update, then spike, then an immediate
            reset).
        reset: multiplicative (to zero) or subtractive (minus the threshold).
        readout: how the output layer gives class scores: mean over time of the
            leaky-integrator membranes u_t (the original), their sum or their max over
            time, or spike_count (the output units are LIF neurons; the score is their
            spike count divided by the number of steps).
        init: weight initialisation, U(±b): parity (b = 1/√N_h for the input weights and
            1/√N_c for the output weights, PyTorch's fan-in of an (in, out) tensor, as most
            notebooks), output_fan_in (b = 1/√N_c for both, as the starting notebook) or
            fan_in (the conventional b = 1/√(inputs of the layer)) or he (b = √(6/inputs of
            the layer), PyTorch's kaiming_uniform for ReLU, as the DCLS notebook).
    """

    architecture: Architecture = static("spiking")
    n_hidden: int = static(30)
    neuron: Neuron = static("lif")
    adaptation_strength: float = 1.0
    tau_adaptation: float | None = None
    synapse: Synapse = static("instant")
    contacts: int = static(3)
    delays: Delays = static("none")
    max_delay: float = static(0.03)
    delay_sigma_floor: float = 0.5
    delay_anneal_fraction: float = 0.25
    delay_method: DelayMethod = static("fft")
    psp_tau_rise_min: float = 1e-3
    psp_tau_rise_max: float = 16e-3
    psp_tau_decay_min: float = 8e-3
    psp_tau_decay_max: float = 30e-3
    tau_hidden: float = 5e-3
    tau_output: float | None = None
    tau_hidden_distribution: TauDistribution = static("homogeneous")
    tau_hidden_ratio: float = 10.0
    tau_hidden_cv: float = 0.5
    learn_tau: LearnTau = static("none")
    learned_tau_shape: TauShape = static("unit")
    tau_parameterisation: TauParameterisation = static("log")
    dale: Dale = static("none")
    inhibitory_fraction: float = 0.5
    inhibitory_fraction_inputs: float | None = None
    inhibitory_fraction_hidden: float | None = None
    inhibitory_placement: Placement = static("random")
    threshold: float = 1.0
    surrogate: Surrogate = static("sigmoid")
    surrogate_slope: float = 5.0
    update_order: UpdateOrder = static("parity")
    reset: Reset = static("multiplicative")
    readout: Readout = static("mean")
    init: Init = static("parity")

    def __post_init__(self) -> None:
        _validate_on_construction(self)

    def validate(self) -> None:
        s = "network"
        _check_choice(s, "architecture", self.architecture, Architecture)
        _check_int(s, "n_hidden", self.n_hidden, lo=1)
        _check_choice(s, "neuron", self.neuron, Neuron)
        _check_number(s, "adaptation_strength", self.adaptation_strength, lo=0.0)
        if self.tau_adaptation is not None:
            _check_number(s, "tau_adaptation", self.tau_adaptation, lo=0.0, lo_open=True,
                          what="seconds")
        _check_choice(s, "synapse", self.synapse, Synapse)
        _check_int(s, "contacts", self.contacts, lo=1)
        _check_choice(s, "delays", self.delays, Delays)
        _check_choice(s, "delay_method", self.delay_method, DelayMethod)
        _check_number(s, "max_delay", self.max_delay, lo=0.0, lo_open=True, what="seconds")
        _check_number(s, "delay_sigma_floor", self.delay_sigma_floor, lo=0.27, lo_open=True,
                      what="steps")
        _check_number(s, "delay_anneal_fraction", self.delay_anneal_fraction, lo=0.0,
                      hi=1.0, lo_open=True)
        if self.delays != "none" and self.synapse != "instant":
            _fail(s, "delays", self.delays, f"learned delays need synapse = 'instant', not "
                  f"{self.synapse!r}")
        for name in ("psp_tau_rise_min", "psp_tau_rise_max", "psp_tau_decay_min",
                     "psp_tau_decay_max"):
            _check_number(s, name, getattr(self, name), lo=0.0, lo_open=True, what="seconds")
        for kind in ("rise", "decay"):
            lo = _concrete(getattr(self, f"psp_tau_{kind}_min"))
            hi = _concrete(getattr(self, f"psp_tau_{kind}_max"))
            if lo is not None and hi is not None and lo > hi:
                _fail(s, f"psp_tau_{kind}_min", lo, f"must be <= psp_tau_{kind}_max = {hi}")
        _check_number(s, "tau_hidden", self.tau_hidden, lo=0.0, lo_open=True, what="seconds")
        _check_per_unit(s, "tau_hidden", self.tau_hidden, self.n_hidden, "hidden units")
        if self.tau_output is not None:
            _check_number(s, "tau_output", self.tau_output, lo=0.0, lo_open=True,
                          what="seconds")
            if np.ndim(self.tau_output) != 0 and not isinstance(self.tau_output,
                                                                jax.core.Tracer):
                _fail(s, "tau_output", self.tau_output, "expected one number (seconds)")
        _check_choice(s, "tau_hidden_distribution", self.tau_hidden_distribution,
                      TauDistribution)
        _check_number(s, "tau_hidden_ratio", self.tau_hidden_ratio, lo=1.0, lo_open=True)
        _check_number(s, "tau_hidden_cv", self.tau_hidden_cv, lo=0.0, lo_open=True)
        _check_choice(s, "learn_tau", self.learn_tau, LearnTau)
        _check_choice(s, "learned_tau_shape", self.learned_tau_shape, TauShape)
        _check_choice(s, "tau_parameterisation", self.tau_parameterisation,
                      TauParameterisation)
        per_unit_tau = np.ndim(self.tau_hidden) != 0
        if self.tau_hidden_distribution != "homogeneous" and per_unit_tau:
            _fail(s, "tau_hidden", self.tau_hidden, f"tau_hidden_distribution = "
                  f"{self.tau_hidden_distribution!r} draws per-unit τ around one mean: give "
                  f"one number")
        if self.learned_tau_shape == "layer" and self.learn_tau in ("hidden", "both") and (
                per_unit_tau or self.tau_hidden_distribution != "homogeneous"):
            _fail(s, "learned_tau_shape", self.learned_tau_shape,
                  "one learned τ per layer needs a homogeneous tau_hidden")
        _check_choice(s, "dale", self.dale, Dale)
        for name in ("inhibitory_fraction", "inhibitory_fraction_inputs",
                     "inhibitory_fraction_hidden"):
            value = getattr(self, name)
            if value is not None:
                _check_number(s, name, value, lo=0.0, hi=1.0, what="a fraction")
                if np.ndim(value) != 0 and not isinstance(value, jax.core.Tracer):
                    _fail(s, name, value, "expected one number (a fraction)")
        _check_choice(s, "inhibitory_placement", self.inhibitory_placement, Placement)
        _check_number(s, "threshold", self.threshold, lo=0.0, lo_open=True)
        _check_number(s, "surrogate_slope", self.surrogate_slope, lo=0.0, lo_open=True)
        _check_choice(s, "surrogate", self.surrogate, Surrogate)
        _check_choice(s, "update_order", self.update_order, UpdateOrder)
        _check_choice(s, "reset", self.reset, Reset)
        _check_choice(s, "readout", self.readout, Readout)
        _check_choice(s, "init", self.init, Init)

    @property
    def tau_out(self) -> Any:
        """The output time constant actually used [s] (see tau_output)."""
        if self.tau_output is not None:
            return self.tau_output
        if np.ndim(self.tau_hidden) == 0:
            return self.tau_hidden
        return jax.numpy.mean(jax.numpy.asarray(self.tau_hidden))

    @property
    def tau_threshold(self) -> Any:
        """The adaptive threshold's time constant actually used [s] (see tau_adaptation)."""
        return self.tau_hidden if self.tau_adaptation is None else self.tau_adaptation

    @property
    def fraction_inputs(self) -> Any:
        """Fraction of inhibitory input fibres under Dale's law."""
        return (self.inhibitory_fraction if self.inhibitory_fraction_inputs is None
                else self.inhibitory_fraction_inputs)

    @property
    def fraction_hidden(self) -> Any:
        """Fraction of inhibitory hidden units under Dale's law."""
        return (self.inhibitory_fraction if self.inhibitory_fraction_hidden is None
                else self.inhibitory_fraction_hidden)

    @property
    def learns_tau_hidden(self) -> bool:
        return self.learn_tau in ("hidden", "both")

    @property
    def learns_tau_output(self) -> bool:
        return self.learn_tau in ("output", "both")


@pytree_config
class TrainingConfig:
    """Optimisation and data sets.

    Attributes:
        n_epochs: number of epochs (an upper bound when early stopping is on). Epochs are
            counted from 1.
        batch_size: samples per Adam step. Each epoch uses n_train // batch_size full
            batches of a fresh permutation (a remainder is left out that epoch only).
        n_train: training samples per epoch.
        n_valid: validation samples (0 = no validation set and no early stopping; the best
            parameters are then the final ones).
        n_test: test samples, evaluated after training.
        learning_rate: Adam learning rate of the weights.
        learning_rate_tau: Adam learning rate of learned time constants (in the space of
            tau_parameterisation); None: learning_rate.
        learning_rate_delays: Adam learning rate of learned delays (raw values move about
            one step per unit near the middle of the range); None: learning_rate.
        data_mode: fixed (one training set, reshuffled every epoch; the original) or fresh
            (new samples for every batch, generated inside the compiled program from the
            training set's distribution: its φ0 mode and phase delays).
        patience: early stopping: stop when the lowest of the last patience validation losses
            is the oldest of them (the quick-start notebook's rule). 0 disables it; with
            fewer epochs than patience it never fires.
        spike_storage: how data sets hold spikes: bool (a byte per spike slot; fastest) or
            bits (bit-packed, 8× smaller, about 20 % slower training on a CPU).
        rate_regulariser: a penalty on the hidden units' firing rates r_m (spikes per second
            over the batch), added to the training loss as rate_penalty · ln(N_c) · mean_m
            L_m with d = rate_upper − rate_lower: none; band (L_m = ((rate_lower − r_m)/d)²
            below the band, ((r_m − rate_upper)/d)² above it, 0 inside); above_lower
            (L_m = ((r_m − rate_lower)/d)² above rate_lower, else 0: the published
            formula); original (above_lower divided once more by N_h, as the published
            code computed it).
        rate_penalty: strength of the rate regulariser (1 = the published scale).
        rate_lower: lower edge of the rate band r₋ [Hz].
        rate_upper: upper edge of the rate band r₊ [Hz].
        dropout_hidden: while training, drop each hidden spike (per unit, sample and step)
            with this probability and scale the kept ones by 1/(1 − p). None: off. (0 also
            drops nothing but draws the masks: use it in a sweep over rates that
            includes 0.)
        dropout_connections: while training, drop each synapse of both weight matrices
            with this probability for one Adam step (one mask per batch) and scale the
            kept ones by 1/(1 − p). None: off.
    """

    n_epochs: int = static(50)
    batch_size: int = static(64)
    n_train: int = static(4096)
    n_valid: int = static(4096)
    n_test: int = static(2048)
    learning_rate: float = 0.01
    learning_rate_tau: float | None = None
    learning_rate_delays: float | None = None
    data_mode: DataMode = static("fixed")
    patience: int = static(10)
    spike_storage: SpikeStorage = static("bool")
    rate_regulariser: RateRegulariser = static("none")
    rate_penalty: float = 1.0
    rate_lower: float = 100.0
    rate_upper: float = 200.0
    dropout_hidden: float | None = None
    dropout_connections: float | None = None

    def __post_init__(self) -> None:
        _validate_on_construction(self)

    @property
    def n_batches(self) -> int:
        """Adam steps per epoch."""
        return self.n_train // self.batch_size

    @property
    def tau_learning_rate(self) -> Any:
        """The learning rate of learned time constants."""
        return self.learning_rate if self.learning_rate_tau is None else self.learning_rate_tau

    @property
    def delay_learning_rate(self) -> Any:
        """The learning rate of learned delays."""
        return (self.learning_rate if self.learning_rate_delays is None
                else self.learning_rate_delays)

    def validate(self) -> None:
        s = "training"
        _check_int(s, "n_epochs", self.n_epochs, lo=1)
        _check_int(s, "batch_size", self.batch_size, lo=1)
        _check_int(s, "n_train", self.n_train, lo=1)
        _check_int(s, "n_valid", self.n_valid, lo=0)
        _check_int(s, "n_test", self.n_test, lo=1)
        _check_int(s, "patience", self.patience, lo=0)
        if self.n_train < self.batch_size:
            _fail(s, "n_train", self.n_train,
                  f"must be at least batch_size = {self.batch_size}")
        _check_number(s, "learning_rate", self.learning_rate, lo=0.0, lo_open=True)
        for name in ("learning_rate_tau", "learning_rate_delays"):
            if getattr(self, name) is not None:
                _check_number(s, name, getattr(self, name), lo=0.0, lo_open=True)
        _check_choice(s, "data_mode", self.data_mode, DataMode)
        _check_choice(s, "spike_storage", self.spike_storage, SpikeStorage)
        _check_choice(s, "rate_regulariser", self.rate_regulariser, RateRegulariser)
        _check_number(s, "rate_penalty", self.rate_penalty, lo=0.0)
        _check_number(s, "rate_lower", self.rate_lower, lo=0.0, what="Hz")
        _check_number(s, "rate_upper", self.rate_upper, lo=0.0, what="Hz")
        lower, upper = _concrete(self.rate_lower), _concrete(self.rate_upper)
        if lower is not None and upper is not None and upper <= lower:
            _fail(s, "rate_upper", self.rate_upper,
                  f"must be larger than rate_lower = {self.rate_lower} Hz")
        for name in ("dropout_hidden", "dropout_connections"):
            if getattr(self, name) is not None:
                _check_number(s, name, getattr(self, name), lo=0.0, hi=1.0, hi_open=True,
                              what="a probability")
        if self.patience > 0 and self.n_valid == 0:
            _fail(s, "patience", self.patience,
                  "early stopping needs a validation set: set n_valid > 0 or patience = 0")


@pytree_config
class Config:
    """A whole experiment: stimulus, network and training. See the section classes."""

    stimulus: StimulusConfig = dataclasses.field(default_factory=StimulusConfig)
    network: NetworkConfig = dataclasses.field(default_factory=NetworkConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        _validate_on_construction(self, sections=False)

    def validate(self, sections: bool = True) -> Config:
        """Check every field (and cross-section constraints); return ``self``."""
        for name, cls in (("stimulus", StimulusConfig), ("network", NetworkConfig),
                          ("training", TrainingConfig)):
            section = getattr(self, name)
            if not isinstance(section, cls):
                _fail("config", name, section, f"expected a {cls.__name__}")
            if sections:
                section.validate()
        net, stim = self.network, self.stimulus
        if net.architecture == "delays_only" and stim.fibres_per_ear != stim.n_classes:
            _fail("stimulus", "fibres_per_ear", stim.fibres_per_ear, f"the delays_only "
                  f"architecture needs one fibre per ear and class (n_classes = "
                  f"{stim.n_classes})")
        if net.delays != "none" or net.architecture == "delays_only":
            steps = net.max_delay / stim.dt
            if abs(steps - round(steps)) > 1e-6 or not 1 <= round(steps) < stim.n_steps:
                _fail("network", "max_delay", net.max_delay, f"must be a whole number of "
                      f"steps dt = {stim.dt} s, at least one and shorter than the stimulus")
        return self

    @property
    def delay_taps(self) -> int:
        """Taps of a learned delay: max_delay/dt + 1 (delays 0 … max_delay in whole steps)."""
        return int(round(self.network.max_delay / self.stimulus.dt)) + 1

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (JSON-ready) of every field."""
        return {name: {f.name: _plain(getattr(getattr(self, name), f.name))
                       for f in dataclasses.fields(getattr(self, name))}
                for name in ("stimulus", "network", "training")}

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, Any]], source: str = "config") -> Config:
        """Inverse of :meth:`to_dict`. Unknown sections or fields raise :class:`ConfigError`;
        fields that ``data`` lacks (a file written by an older sslax) get their defaults,
        with one :class:`ConfigWarning` naming them. ``source`` names the data in messages."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of sections, got "
                              f"{type(data).__name__}")
        unknown = sorted(set(data) - {"stimulus", "network", "training"})
        if unknown:
            _fail("config", unknown[0], data[unknown[0]], "unknown section")
        sections, missing = {}, []
        for name, section_cls in (("stimulus", StimulusConfig), ("network", NetworkConfig),
                                  ("training", TrainingConfig)):
            values = data.get(name, {})
            if not isinstance(values, dict):
                _fail("config", name, values, "expected a mapping of fields")
            known = [f.name for f in dataclasses.fields(section_cls)]
            unknown = sorted(set(values) - set(known))
            if unknown:
                _fail(name, unknown[0], values[unknown[0]], f"unknown field; known: "
                      f"{', '.join(sorted(known))}")
            missing += [f"{name}.{k}" for k in known if k not in values]
            values = {k: np.asarray(v) if isinstance(v, list) else v
                      for k, v in values.items()}  # array leaves (e.g. per-unit τ)
            sections[name] = section_cls(**values)
        if missing:
            warnings.warn(f"{source} has no value for {', '.join(missing)}; using the "
                          f"defaults", ConfigWarning, stacklevel=2)
        return cls(**sections)

    def replace_fields(self, **updates: Any) -> Config:
        """Copy with fields replaced by bare name, e.g. ``replace_fields(tau_hidden=2e-3)``."""
        by_section: dict[str, dict[str, Any]] = {}
        for key, value in updates.items():
            by_section.setdefault(section_of(key), {})[key] = value
        return self.replace(**{name: getattr(self, name).replace(**fields)
                               for name, fields in by_section.items()})


def section_of(field_name: str) -> str:
    """The config section ('stimulus', 'network' or 'training') that holds ``field_name``."""
    for name, cls in (("stimulus", StimulusConfig), ("network", NetworkConfig),
                      ("training", TrainingConfig)):
        if field_name in {f.name for f in dataclasses.fields(cls)}:
            return name
    raise ConfigError(f"{field_name!r} is not a config field")


def _plain(value: Any) -> Any:
    if isinstance(value, (np.ndarray, jax.Array)):
        return np.asarray(value).tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------
# display units: config values are SI; tables, CSV columns and figure axes show these units
# ---------------------------------------------------------------------------------------------

#: field name → (unit, factor from the SI value). Time constants and steps are shown in ms.
DISPLAY_UNITS: dict[str, tuple[str, float]] = {
    "tau_hidden": ("ms", 1e3),
    "tau_output": ("ms", 1e3),
    "dt": ("ms", 1e3),
    "duration": ("ms", 1e3),
    "frequency": ("Hz", 1.0),
    "rate_max": ("Hz", 1.0),
    "phase_jitter": ("rad", 1.0),
    "tau_adaptation": ("ms", 1e3),
    "psp_tau_rise_min": ("ms", 1e3),
    "psp_tau_rise_max": ("ms", 1e3),
    "psp_tau_decay_min": ("ms", 1e3),
    "psp_tau_decay_max": ("ms", 1e3),
    "max_delay": ("ms", 1e3),
    "rate_lower": ("Hz", 1.0),
    "rate_upper": ("Hz", 1.0),
}


def display_label(field_name: str) -> str:
    """``"tau_hidden [ms]"``: a field's name with its display unit (the bare name if none)."""
    unit = DISPLAY_UNITS.get(field_name)
    return f"{field_name} [{unit[0]}]" if unit else field_name


def display_column(field_name: str) -> str:
    """``"tau_hidden_ms"``: a field's CSV column name, with its display unit as a suffix."""
    unit = DISPLAY_UNITS.get(field_name)
    return f"{field_name}_{unit[0]}" if unit else field_name


def display_value(field_name: str, value: Any) -> Any:
    """A field's SI value in its display unit (other values unchanged)."""
    unit = DISPLAY_UNITS.get(field_name)
    if unit is None or isinstance(value, (str, bool)) or value is None:
        return value
    return np.asarray(value, dtype=float) * unit[1] if np.ndim(value) else float(value) * unit[1]
