"""Training-time regularisers: the firing-rate penalty and dropout.

**Rate penalty.** r_m is the firing rate of hidden unit m over a batch [Hz] (its spikes
divided by batch size × stimulus duration). With d = r₊ − r₋ and c = ln N_c (the expected
cross-entropy of an untrained network, so that a unit at the edge of the band costs as much
as the whole initial loss), the penalty is ``strength · c · mean_m L_m`` where

- ``band``: L_m = ((r₋ − r_m)/d)² below r₋, ((r_m − r₊)/d)² above r₊, 0 inside [r₋, r₊];
- ``above_lower``: L_m = ((r_m − r₋)/d)² above r₋, else 0 — the formula the original
  project published (a lower threshold of concern, and L_m = 1 at r₊);
- ``original``: ``above_lower`` divided once more by N_h, which is what the published code
  computed (``mean(...)/num_hidden``), so its penalty was N_h times weaker than described.

**Dropout** (inverted): a dropped element becomes 0 and a kept one is scaled by 1/(1 − p),
so the expected value is unchanged; used only while training.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float

from sslax.threefry import uniform


def firing_rates(spikes: Float[ArrayLike, "time batch hidden"], duration: float
                 ) -> Float[Array, " hidden"]:
    """Rate of each unit over the batch [Hz]: its spikes / (batch size × duration [s])."""
    spikes = jnp.asarray(spikes)
    return spikes.sum(axis=(0, 1)) / (spikes.shape[1] * duration)


def rate_band_terms(rates: Float[ArrayLike, " hidden"], lower: ArrayLike, upper: ArrayLike,
                    form: str) -> Float[Array, " hidden"]:
    """The per-unit terms L_m of the module docstring (``form``: band / above_lower /
    original; ``original`` has the same terms as ``above_lower``)."""
    rates = jnp.asarray(rates)
    width = upper - lower
    above_lower = jax.nn.relu(rates - lower) / width
    if form in ("above_lower", "original"):
        return jnp.square(above_lower)
    if form == "band":
        below = jax.nn.relu(lower - rates) / width
        above = jax.nn.relu(rates - upper) / width
        return jnp.square(below) + jnp.square(above)
    raise ValueError(f"rate penalty form {form!r}: choose band, above_lower or original")


def rate_penalty(rates: Float[ArrayLike, " hidden"], *, strength: ArrayLike,
                 lower: ArrayLike, upper: ArrayLike, form: str, n_classes: int) -> Array:
    """The rate penalty of the module docstring (a scalar)."""
    terms = rate_band_terms(rates, lower, upper, form)
    penalty = strength * math.log(n_classes) * jnp.mean(terms)
    return penalty / terms.shape[-1] if form == "original" else penalty


def dropout(key: Array, x: ArrayLike, rate: ArrayLike) -> Array:
    """``x`` with each element dropped with probability ``rate`` and the rest scaled by
    1/(1 − rate). ``rate`` may be traced; at rate 0 it returns ``x`` exactly."""
    x = jnp.asarray(x)
    keep = uniform(key, x.shape, dtype=x.dtype) >= rate
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros((), x.dtype))
