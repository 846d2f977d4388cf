"""The non-spiking leaky-integrator output layer and its closed-form time-mean readout.

    u_0 = 0,   u_{t+1} = a·u_t + o_t,   a = exp(−dt/τ)

recording u_0 … u_{T−1}. The layer is linear, so the mean of its membranes over time is a
fixed time-weighting of its input (:func:`mean_membrane_weights`), which the network uses
instead of running the scan.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import jax.numpy as jnp
from jax import Array, lax
from jax.typing import ArrayLike
from jaxtyping import Float


def decay(tau: ArrayLike, dt: float) -> Array:
    """Exact per-step decay a = exp(−dt/τ) of a leaky membrane (τ and dt in seconds).

    Keeps the dtype of ``tau`` (a Python float is weakly typed, so it adopts the dtype of
    whatever array it meets later).
    """
    return jnp.exp(-dt / jnp.asarray(tau))


class IntegratorParams(NamedTuple):
    """Parameters of the leaky integrator: ``decay`` a = exp(−dt/τ), a number or [units]."""

    decay: ArrayLike


@dataclasses.dataclass(frozen=True)
class LeakyIntegrator:
    """The output layer as a neuron model: state u [batch, units], output the membrane u_t."""

    def initial_state(self, params: IntegratorParams, shape: tuple[int, ...],
                      dtype: object) -> Array:
        return jnp.zeros(shape, dtype)

    def step(self, params: IntegratorParams, u: Float[Array, "batch units"],
             o_t: Float[Array, "batch units"]) -> tuple[Array, Array]:
        """``(u_t, o_t) -> (u_{t+1}, u_t)`` with u_{t+1} = a·u_t + o_t."""
        return params.decay * u + o_t, u


def leaky_integrator_step(
    u: Float[Array, "batch units"], o_t: Float[Array, "batch units"], *, a: ArrayLike
) -> tuple[Array, Array]:
    """Non-spiking output step ``(u_t, o_t) -> (u_{t+1}, u_t)`` with u_{t+1} = a·u_t + o_t."""
    return LeakyIntegrator().step(IntegratorParams(a), u, o_t)


def leaky_integrator(
    o: Float[ArrayLike, "time batch units"], *, a: ArrayLike
) -> Float[Array, "time batch units"]:
    """Membranes u_0 = 0, u_1 … u_{T−1} of leaky integrators driven by ``o``.

    Shapes: ``o`` and the result are [time, batch, units].
    """
    o = jnp.asarray(o)
    _, u = lax.scan(partial(leaky_integrator_step, a=a), jnp.zeros(o.shape[1:], o.dtype), o)
    return u


def mean_membrane_weights(a: ArrayLike, n_steps: int,
                          dtype: object | None = None) -> Array:
    """Weights c_t with mean_t u_t = Σ_t c_t·o_t for the leaky integrator above.

    u_{t'} = Σ_{t<t'} a^{t'−1−t} o_t, so c_t = (1/T)·Σ_{k=0}^{T−2−t} a^k (and c_{T−1} = 0):
    the time-mean readout of the linear output layer in closed form, without a scan.
    Computed by a cumulative sum of powers, so it is exact at a = 1 too.

    Args:
        a: the output layer's decay: a number, or one per unit.
        n_steps: T.
        dtype: the dtype of the result (and of the computation); default: that of ``a``,
            at least float32. Pass the dtype of the network's activations, so that a float64
            network reads out in float64 even when a comes from a Python float τ.

    Returns:
        c, [time] for a scalar ``a``, else [time, *a.shape].
    """
    a = jnp.asarray(a)
    if dtype is None:
        dtype = jnp.result_type(a, jnp.float32)
    a = a.astype(dtype)
    exponents = jnp.arange(n_steps - 1, dtype=dtype).reshape(-1, *([1] * a.ndim))
    partial_sums = jnp.cumsum(a**exponents, axis=0)  # Σ_{k=0}^{j} a^k, j = 0 … T−2
    return jnp.concatenate([partial_sums[::-1], jnp.zeros((1, *a.shape), dtype)]) / n_steps
