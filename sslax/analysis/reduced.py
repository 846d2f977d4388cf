"""Reduced models of a trained network: how much of its solution survives without spikes,
and with six numbers.

**Rate approximation.** Each hidden LIF unit is replaced by its firing rate under a constant
input (the f–I curve of τ·v' = x − v with threshold 1, reset to 0 and a refractory step dt),

    r(x) = 1 / (dt + τ·ln(x / (x − 1)))  for x > 1,   r(x) = 0 otherwise,
    x = (τ / dt)·I,

where I is the expected input current per step: the spike probability of each fibre (no
Poisson noise) times W1. The unit emits r·dt expected spikes per step, which drive the
network's own readout. If this classifier matches the spiking network, the network is not
using spike timing (coincidences); it is a rate code.

**Six-parameter model.** With hidden units in the ``output`` order
(:func:`sslax.analysis.weights.unit_order`), W2 is fitted by one Ricker (Mexican-hat)
wavelet of the offset between a unit's position and a class's, and every hidden tuning curve
by one inverted Gaussian of the offset between the unit's preferred IPD (units spread evenly
over −90°…90° in that order) and the IPD: 3 + 3 parameters for the whole network. Its
output for an IPD is the fitted tuning times the fitted W2, read out by argmax.

Fits are least squares by ``scipy.optimize.curve_fit``. Where the original differs: its
rate model masked the rate with the unscaled current (I > 1) but clipped the scaled one;
sslax uses x > 1 throughout, as the formula says. It fitted tuning at evenly spaced IPDs
from −90° to 90° inclusive; sslax fits at the class midpoints, where the tuning curves are
measured.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float

from sslax.config import Config
from sslax.metrics import over_samples
from sslax.network import READOUTS, SYNAPSES, Params, network_values
from sslax.stimulus import Dataset, class_to_ipd, spike_probability


def lif_rate(current: ArrayLike, tau: ArrayLike, dt: float) -> Array:
    """Firing rate [Hz] of a LIF unit (threshold 1, reset 0, one refractory step) under a
    constant input ``current`` per step; ``tau`` and ``dt`` in seconds."""
    x = jnp.asarray(tau) / dt * jnp.asarray(current)
    above = x > 1.0
    safe = jnp.where(above, x, 2.0)
    return jnp.where(above, 1.0 / (dt + tau * jnp.log(safe / (safe - 1.0))), 0.0)


class RateParams(NamedTuple):
    tau: ArrayLike
    dt: float


@dataclasses.dataclass(frozen=True)
class RateLIF:
    """The rate approximation as a neuron model (:mod:`sslax.neurons.base` interface): each
    step emits the expected spikes r(x_t)·dt of its input current x_t, so the network's own
    readouts run on it unchanged."""

    def initial_state(self, params: RateParams, shape: tuple[int, ...], dtype: Any) -> Array:
        return jnp.zeros((), dtype)

    def step(self, params: RateParams, state: Array, x_t: Array) -> tuple[Array, Array]:
        return state, lif_rate(x_t, params.tau, params.dt) * params.dt


class RateModel(NamedTuple):
    """The rate approximation's responses.

    Attributes:
        hidden_rates: time-mean rate of each hidden unit per sample [Hz], [samples, hidden].
        scores: class scores of the network's readout driven by the rates,
            [samples, classes].
    """

    hidden_rates: Array
    scores: Array


def expected_inputs(data: Dataset, index: Array, config: Config) -> Array:
    """Spike probability per step of every fibre for samples ``index`` (the data set's own
    φ0 and phase delays, no Poisson noise), time-major [time, batch, inputs]; computed the
    fast way (see :func:`sslax.stimulus.spike_probability`)."""
    p = spike_probability(data.ipd[index], data.phase_offset[index], data.delays,
                          config.stimulus, fast=True)
    return jnp.swapaxes(p, 0, 1)


def rate_model_unavailable(config: Config) -> str | None:
    """Why the rate approximation does not apply to ``config``'s network (``None`` if it
    does): it is the LIF f–I curve, and an adaptive threshold has no fixed one."""
    if config.network.neuron != "lif":
        return (f"network.neuron = {config.network.neuron!r}: the rate approximation is the "
                f"LIF f–I curve (neuron 'lif' only)")
    return None


def rate_model(params: Params, data: Dataset, config: Config,
               batch_size: int = 256) -> RateModel:
    """Run the rate approximation of a trained network on ``data``'s IPDs (pure, jittable).

    Only for LIF hidden units (:func:`rate_model_unavailable`; ValueError otherwise)."""
    if (reason := rate_model_unavailable(config)) is not None:
        raise ValueError(reason)
    values = network_values(params, config)
    model, model_params = RateLIF(), RateParams(values.tau_hidden, config.stimulus.dt)

    def chunk(index: Array) -> tuple[Array, Array]:
        p = expected_inputs(data, index, config).astype(jnp.asarray(values.w_out).dtype)
        h = SYNAPSES[config.network.synapse](p, values, params.fixed, config)
        out = READOUTS[config.network.readout](model, model_params, h, values, config)
        rates = jnp.mean(out.hidden_spikes, axis=0) / config.stimulus.dt
        return rates, out.scores

    return RateModel(*over_samples(chunk, data.n_samples, batch_size))


# ---------------------------------------------------------------------------------------------
# the six-parameter model
# ---------------------------------------------------------------------------------------------


def ricker(t: ArrayLike, a: float, b: float, sigma: float) -> np.ndarray:
    """Ricker (Mexican-hat) wavelet a·(1 − (t/σ)²)·exp(−t²/(2σ²)) + b."""
    t = np.asarray(t)
    return a * (1.0 - (t / sigma) ** 2) * np.exp(-(t**2) / (2.0 * sigma**2)) + b


def gaussian(t: ArrayLike, a: float, b: float, sigma: float) -> np.ndarray:
    """a·exp(−t²/(2σ²)) + b (an inverted Gaussian when a < 0)."""
    t = np.asarray(t)
    return a * np.exp(-(t**2) / (2.0 * sigma**2)) + b


class CurveFit(NamedTuple):
    """A least-squares fit of a 3-parameter curve.

    Attributes:
        a, b, sigma: the parameters (NaN when the fit failed).
        r2: coefficient of determination 1 − SS_res/SS_tot of the fit.
        fitted: the fitted curve at the data points (same shape as the data).
    """

    a: float
    b: float
    sigma: float
    r2: float
    fitted: np.ndarray


def fit_curve(curve: Callable[..., np.ndarray], t: ArrayLike, target: ArrayLike,
              starts: list[tuple[float, float, float]]) -> CurveFit:
    """Fit ``curve(t, a, b, σ)`` to ``target`` (σ > 0) from each start; the best fit."""
    from scipy.optimize import curve_fit

    t, target = np.asarray(t, float), np.asarray(target, float)
    ok = np.isfinite(target)
    best = CurveFit(math.nan, math.nan, math.nan, math.nan, np.full(target.shape, math.nan))
    total = np.sum((target[ok] - target[ok].mean()) ** 2)
    for start in starts:
        try:
            found, _ = curve_fit(curve, t[ok], target[ok], p0=start,
                                 bounds=([-np.inf, -np.inf, 1e-3], np.inf), maxfev=20_000)
        except (RuntimeError, ValueError):
            continue
        fitted = curve(t, *found)
        r2 = 1.0 - np.sum((target[ok] - fitted[ok]) ** 2) / total if total > 0 else math.nan
        if not r2 <= best.r2:  # also replaces the NaN initial value
            best = CurveFit(*map(float, found), float(r2), fitted)
    return best


def ricker_offsets(n_hidden: int, n_classes: int) -> np.ndarray:
    """t[h, c] = h − (N_h/N_c)·c: unit h's position relative to class c, in units of hidden
    index ([hidden, classes])."""
    return np.arange(n_hidden)[:, None] - n_hidden / n_classes * np.arange(n_classes)[None, :]


def unit_positions(n_hidden: int) -> np.ndarray:
    """Preferred IPD of each (ordered) hidden unit in the six-parameter model [rad]: evenly
    spaced from −π/2 to π/2."""
    return -math.pi / 2 + np.arange(n_hidden) * math.pi / max(n_hidden - 1, 1)


def fit_w_out(w_out: Float[ArrayLike, "hidden classes"]) -> CurveFit:
    """Ricker fit of W2 (rows in the ``output`` order) as a function of
    :func:`ricker_offsets`."""
    w_out = np.asarray(w_out, float)
    scale = float(np.max(np.abs(w_out))) or 1.0
    t = ricker_offsets(*w_out.shape)
    return fit_curve(ricker, t, w_out, [(scale, 0.0, 1.0), (-scale, 0.0, 1.0)])


def fit_hidden_tuning(mean_rates: Float[ArrayLike, "classes hidden"]) -> CurveFit:
    """Gaussian fit of all hidden tuning curves (mean rate per class [Hz], units in the
    ``output`` order) as a function of the offset between each unit's position
    (:func:`unit_positions`) and the class midpoint IPD."""
    mean_rates = np.asarray(mean_rates, float)
    n_classes, n_hidden = mean_rates.shape
    t = unit_positions(n_hidden)[None, :] - np.asarray(class_to_ipd(np.arange(n_classes),
                                                                    n_classes))[:, None]
    low, high = float(np.nanmin(mean_rates)), float(np.nanmax(mean_rates))
    span = (high - low) or 1.0
    return fit_curve(gaussian, t, mean_rates, [(-span, high, 1.0), (span, low, 1.0)])


def six_parameter_scores(ipd: Float[ArrayLike, " samples"], w_fit: CurveFit,
                         tuning_fit: CurveFit, n_hidden: int,
                         n_classes: int) -> Float[np.ndarray, "samples classes"]:
    """Class scores of the six-parameter model for each IPD [rad]: fitted tuning of every
    unit at that IPD, times the fitted W2."""
    ipd = np.asarray(ipd, float)
    hidden = gaussian(unit_positions(n_hidden)[None, :] - ipd[:, None], tuning_fit.a,
                      tuning_fit.b, tuning_fit.sigma)
    w_out = ricker(ricker_offsets(n_hidden, n_classes), w_fit.a, w_fit.b, w_fit.sigma)
    return hidden @ w_out


def scores_accuracy(scores: ArrayLike, ipd: ArrayLike, n_classes: int) -> float:
    """Fraction of samples whose argmax score is their true class."""
    from sslax.stimulus import ipd_to_class

    labels = np.asarray(ipd_to_class(jnp.asarray(ipd), n_classes))
    return float(np.mean(np.argmax(np.asarray(scores), axis=-1) == labels))


