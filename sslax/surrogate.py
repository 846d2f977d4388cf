"""The spike nonlinearity: an exact Heaviside forward pass with a surrogate backward pass.

``spike(x, slope, kind)`` returns ``H(x) = 1[x > 0]`` (strictly greater, as the original
``out[input > 0] = 1``) in the dtype of ``x``. Its derivative is replaced by a smooth
surrogate ``dS/dx = g(x; β)`` with β = ``slope``:

- ``"sigmoid"`` (the original notebooks, β = 5):  g(x) = β·σ(βx)·(1 − σ(βx)),
  the derivative of the logistic σ(βx). Peak value β/4 at x = 0.
- ``"superspike"`` (Zenke & Ganguli 2018; the original's commented-out alternative,
  β = 100):  g(x) = 1 / (1 + β|x|)². Peak value 1 at x = 0. Note: some libraries call
  other functions "superspike" (norse ignores β; spyx uses k = 25); this is the formula.

``slope`` is an ordinary traced argument whose cotangent is ``None`` (zero): one compiled
program serves every slope, and ``vmap`` can batch over slopes.
``kind`` is a static string.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike


def sigmoid_derivative(x: Array, slope: ArrayLike) -> Array:
    """β·σ(βx)·(1 − σ(βx)): the derivative of σ(βx) with respect to x."""
    sig = jax.nn.sigmoid(slope * x)
    return slope * sig * (1.0 - sig)


def superspike_derivative(x: Array, slope: ArrayLike) -> Array:
    """1 / (1 + β|x|)²: the SuperSpike surrogate (Zenke & Ganguli 2018)."""
    return 1.0 / (1.0 + slope * jnp.abs(x)) ** 2


SURROGATES: dict[str, Callable[[Array, ArrayLike], Array]] = {
    "sigmoid": sigmoid_derivative,
    "superspike": superspike_derivative,
}


def heaviside(x: ArrayLike) -> Array:
    """1 where x > 0, else 0, in the dtype of ``x`` (no gradient)."""
    x = jnp.asarray(x)
    return (x > 0).astype(x.dtype)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def spike(x: ArrayLike, slope: ArrayLike, kind: str = "sigmoid") -> Array:
    """Heaviside spike ``1[x > 0]`` whose gradient is the ``kind`` surrogate with β = ``slope``.

    Args:
        x: membrane minus threshold, any shape.
        slope: surrogate steepness β (scalar or broadcastable to ``x``); gets no gradient.
        kind: ``"sigmoid"`` or ``"superspike"`` (see the module docstring for formulas).

    Returns:
        Spikes (0. or 1.) with the shape and dtype of ``x``.
    """
    return heaviside(x)


def _spike_fwd(x: ArrayLike, slope: ArrayLike, kind: str) -> tuple[Array, tuple[Array, Array]]:
    return heaviside(x), (jnp.asarray(x), jnp.asarray(slope))


def _spike_bwd(kind: str, residuals: tuple[Array, Any], g: Array) -> tuple[Array, None]:
    x, slope = residuals
    return g * SURROGATES[kind](x, slope).astype(x.dtype), None


spike.defvjp(_spike_fwd, _spike_bwd)
