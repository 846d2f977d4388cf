"""Tuning curves: a unit's response as a function of the true IPD class.

A tuning curve is the mean response per true class with its spread (the original plotted
mean ± 1.96·std, the range holding ≈ 95 % of a normally distributed response). Responses
are arrays [samples, units]: hidden firing rates [Hz] or output scores.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float, Int

#: Half-width of the plotted band in standard deviations (≈ 95 % of a normal response).
SPREAD = 1.96


class Tuning(NamedTuple):
    """Tuning curves of a set of units.

    Attributes:
        mean: mean response per true class, [classes, units] (NaN for a class with no
            samples).
        std: standard deviation of the response per true class, [classes, units].
        count: samples per class, [classes].
    """

    mean: Array
    std: Array
    count: Array


def tuning_curves(responses: Float[ArrayLike, "samples units"],
                  labels: Int[ArrayLike, " samples"], n_classes: int) -> Tuning:
    """Mean and standard deviation (population, ddof 0) of each unit's response per true
    class (pure and jittable)."""
    responses = jnp.asarray(responses)
    labels = jnp.asarray(labels)
    count = jax.ops.segment_sum(jnp.ones_like(labels, responses.dtype), labels, n_classes)
    total = jax.ops.segment_sum(responses, labels, n_classes)
    mean = total / count[:, None]
    squares = jax.ops.segment_sum(jnp.square(responses - mean[labels]), labels, n_classes)
    return Tuning(mean, jnp.sqrt(squares / count[:, None]), count)


def normalised(tuning: Tuning, mode: str = "individual") -> Tuning:
    """Tuning curves rescaled to [0, 1]: ``individual`` maps each unit's own range of mean
    responses to [0, 1]; ``population`` uses the range over all units (so relative sizes
    stay visible). The std is scaled by the same factor. A flat unit (zero range) maps to 0.
    """
    if mode not in ("individual", "population"):
        raise ValueError(f"mode = {mode!r}: expected 'individual' or 'population'")
    axis = 0 if mode == "individual" else None
    low = jnp.nanmin(tuning.mean, axis=axis, keepdims=True)
    span = jnp.nanmax(tuning.mean, axis=axis, keepdims=True) - low
    scale = jnp.where(span > 0, 1.0 / jnp.where(span > 0, span, 1.0), 0.0)
    return Tuning((tuning.mean - low) * scale, tuning.std * scale, tuning.count)


def preferred_class(tuning: Tuning) -> Array:
    """The class of each unit's largest mean response, [units]."""
    return jnp.nanargmax(tuning.mean, axis=0)
