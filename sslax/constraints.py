"""Constraints as reparameterisations: maps from a raw parameter to its constrained value.

The optimiser updates raw, unconstrained arrays; the dynamics only ever see the constrained
values, computed from the raw ones by a smooth (or at least almost everywhere differentiable)
map. Nothing is clipped or projected after a step, so gradients never vanish at a boundary
the way a clamp's do. Every map comes with its inverse, so a network can be initialised or
loaded from constrained values:

- :func:`identity`: no constraint.
- :func:`dale`: Dale's law, W_eff = g(W)·sign with the sign fixed per presynaptic unit (row)
  and g = |·| (as the original project; its gradient sign(W) is 0 at W = 0, so a synapse
  that reaches 0 stays there) or softplus (positive everywhere, gradient σ(W) > 0).
- :func:`positive`: a positive quantity such as a time constant, τ = exp(r) or
  τ = scale·softplus(r).
- :func:`interval`: a quantity in [lo, hi] such as a delay, lo + (hi − lo)·σ(r).

``forward(inverse(v)) == v`` on the constrained domain (up to rounding). The other way round,
``inverse(forward(r)) == r`` for the bijections (softplus, log, sigmoid); for |·| it is |r|,
which gives the same constrained value.

:func:`dale_signs` draws the fixed signs. This module works on arrays only and imports
nothing from the rest of sslax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from sslax.threefry import permutation


class Bijector(NamedTuple):
    """A constraint: ``forward`` maps raw → constrained values, ``inverse`` back."""

    forward: Callable[[Array], Array]
    inverse: Callable[[Array], Array]


def identity() -> Bijector:
    """No constraint."""
    return Bijector(lambda raw: raw, lambda value: value)


def softplus_inverse(y: ArrayLike) -> Array:
    """The inverse of softplus(x) = log(1 + eˣ) for y > 0: x = y + log(1 − e^(−y)).

    Written this way it is accurate for small y (where log(expm1(y)) is fine too) and for
    large y (where expm1 overflows). y is floored at the smallest normal number of its dtype,
    so y = 0 maps to a large negative, finite raw value.
    """
    y = jnp.asarray(y)
    y = jnp.maximum(y, jnp.finfo(y.dtype).tiny)
    return y + jnp.log(-jnp.expm1(-y))


@jax.custom_jvp
def magnitude_abs(x: ArrayLike) -> Array:
    """|x| with the derivative sign(x), which is 0 at x = 0 (as in PyTorch, whose |W| the
    original used; JAX's own ``abs`` takes the derivative 1 there)."""
    return jnp.abs(x)


@magnitude_abs.defjvp
def _magnitude_abs_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    (x,), (t,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * t


_MAGNITUDES: dict[str, Bijector] = {
    "abs": Bijector(magnitude_abs, jnp.abs),
    "softplus": Bijector(jax.nn.softplus, softplus_inverse),
}


def dale(signs: ArrayLike, magnitude: str = "abs") -> Bijector:
    """Dale's law for weights [presynaptic, ...]: W_eff = g(W)·sign, the sign of each
    presynaptic unit broadcast over the other axes (postsynaptic units, contacts).

    Args:
        signs: +1 (excitatory) or −1 (inhibitory) per presynaptic unit, [presynaptic].
        magnitude: g: ``"abs"`` or ``"softplus"``.

    The inverse takes an effective weight matrix whose rows have the signs given and returns
    the raw matrix g⁻¹(|W_eff|) (for ``abs``: |W_eff|). Its sign pattern is not checked here.
    """
    if magnitude not in _MAGNITUDES:
        raise ValueError(f"magnitude = {magnitude!r}: choose one of {', '.join(_MAGNITUDES)}")
    g = _MAGNITUDES[magnitude]
    signs = jnp.asarray(signs)

    def forward(raw: Array) -> Array:
        return g.forward(raw) * presynaptic(signs, raw.ndim).astype(raw.dtype)

    return Bijector(forward, lambda value: g.inverse(jnp.abs(value)))


def presynaptic(values: ArrayLike, ndim: int) -> Array:
    """Per-presynaptic-unit ``values`` [presynaptic] shaped to broadcast over an array of
    ``ndim`` axes whose first axis is the presynaptic one."""
    values = jnp.asarray(values)
    return values.reshape(values.shape + (1,) * (ndim - 1))


def positive(kind: str = "log", scale: float = 1e-3) -> Bijector:
    """A positive quantity: ``"log"``: v = exp(r); ``"softplus"``: v = scale·softplus(r).

    The log map is scale-free (Adam's steps are relative changes of v); the softplus map is
    close to linear above ``scale`` and so steps are absolute changes there.
    """
    if kind == "log":
        return Bijector(jnp.exp, jnp.log)
    if kind == "softplus":
        return Bijector(lambda raw: scale * jax.nn.softplus(raw),
                        lambda value: softplus_inverse(jnp.asarray(value) / scale))
    raise ValueError(f"kind = {kind!r}: choose 'log' or 'softplus'")


def interval(lo: ArrayLike, hi: ArrayLike, unit_slope: bool = False) -> Bijector:
    """A quantity in [lo, hi]: v = lo + (hi − lo)·σ(s·r), the inverse a scaled logit.

    s = 1, or with ``unit_slope`` s = 4/(hi − lo), so that dv/dr = 1 in the middle of the
    range: an optimiser's step in r is then about the same step in v there (a delay in
    steps moves about one step per unit of learning rate)."""
    scale = 4.0 / (hi - lo) if unit_slope else 1.0

    def inverse(value: Array) -> Array:
        u = (jnp.asarray(value) - lo) / (hi - lo)
        return (jnp.log(u) - jnp.log1p(-u)) / scale

    return Bijector(lambda raw: lo + (hi - lo) * jax.nn.sigmoid(scale * raw), inverse)


def inhibitory_count(n_units: int, fraction: ArrayLike) -> Array:
    """round(fraction·n_units), halves rounded up (so 0.5 of 5 units is 3)."""
    return jnp.floor(jnp.asarray(fraction) * n_units + 0.5).astype(jnp.int32)


def dale_signs(key: Array, n_units: int, fraction: ArrayLike,
               placement: str = "random") -> Array:
    """Signs (+1 excitatory, −1 inhibitory) of ``n_units`` presynaptic units, [n_units].

    Exactly :func:`inhibitory_count` units are inhibitory. ``"random"``: the units of a
    random permutation drawn from ``key``, in its order, so for one key a larger fraction
    makes a superset of inhibitory units (and ``fraction`` may be traced: a sweep over it is
    one program). ``"contiguous"``: units 0 … k − 1.
    """
    if placement == "random":
        order = permutation(key, n_units)
    elif placement == "contiguous":
        order = jnp.arange(n_units)
    else:
        raise ValueError(f"placement = {placement!r}: choose 'random' or 'contiguous'")
    inhibitory = jnp.zeros(n_units, bool).at[order].set(
        jnp.arange(n_units) < inhibitory_count(n_units, fraction))
    return 1.0 - 2.0 * inhibitory.astype(jax.dtypes.canonicalize_dtype(float))
