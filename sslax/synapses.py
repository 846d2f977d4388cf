"""Synapses with temporal filtering: the filter-and-fire input layer.

In the filter-and-fire model (Beniaguev et al., 2022) every input fibre reaches a hidden
unit through M contacts, each with its own weight and a fixed post-synaptic-potential (PSP)
kernel, the normalised difference of two exponentials sampled at the steps n = 0, 1, …::

    k(n) = (ρ_d^n − ρ_r^n) / max_n' (ρ_d^n' − ρ_r^n'),   ρ = exp(−dt/τ),  τ_rise < τ_decay

(k(0) = 0: a spike at step t acts from step t + 1 on; the peak is 1). The hidden unit's
current is

    I_t[h] = Σ_m Σ_n k_{h,m}(n) · (x_{t−n} · W[:, h, m])

The filter is linear and fixed, so it is applied after the weights, to the M·N_h contact
currents rather than to every synapse, and each kernel is two leaky integrators
(u_{t+1} = ρ·u_t + c_t gives ρ·u_t = Σ_{n≥1} ρ^n c_{t−n}): one scan over [time, batch,
hidden·M], exact (no truncation of the kernel, which the original cut at 4·τ_decay).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float

from sslax.neurons import decay, leaky_integrator
from sslax.threefry import split, uniform

#: Where a drawn decay time is shorter than this multiple of the rise time it is raised to
#: it (as the original), so that every kernel has a clear rise and fall.
DECAY_OVER_RISE = 1.5


def psp_time_constants(
    key: Array, shape: tuple[int, ...], rise: tuple[ArrayLike, ArrayLike],
    decay_range: tuple[ArrayLike, ArrayLike],
) -> tuple[Array, Array]:
    """Rise and decay times [s] of PSP kernels, each of ``shape``, drawn uniformly from
    ``rise`` = (min, max) and ``decay_range`` = (min, max); a decay time below 1.5 × its rise
    time is raised to it."""
    k_rise, k_decay = split(key, 2)
    tau_rise = uniform(k_rise, shape, rise[0], rise[1], float)
    tau_decay = uniform(k_decay, shape, decay_range[0], decay_range[1], float)
    return tau_rise, jnp.maximum(tau_decay, DECAY_OVER_RISE * tau_rise)


def psp_peak(tau_rise: ArrayLike, tau_decay: ArrayLike, dt: float) -> Array:
    """max_n (ρ_d^n − ρ_r^n) over whole steps n, the kernel's normalisation.

    The continuous maximum is at t* = ln(τ_d/τ_r)·τ_d·τ_r/(τ_d − τ_r); the largest sample is
    at one of the steps around it."""
    tau_rise, tau_decay = jnp.asarray(tau_rise), jnp.asarray(tau_decay)
    t_peak = jnp.log(tau_decay / tau_rise) * tau_decay * tau_rise / (tau_decay - tau_rise)
    below = jnp.floor(t_peak / dt)

    def value(n: Array) -> Array:
        return decay(tau_decay, dt) ** n - decay(tau_rise, dt) ** n

    return jnp.maximum(value(jnp.maximum(below, 1.0)), value(below + 1.0))


def psp_kernel(n_steps: int, tau_rise: ArrayLike, tau_decay: ArrayLike,
               dt: float) -> Float[Array, "time ..."]:
    """The kernel k(0) … k(n_steps − 1) of the module docstring, [time, *τ.shape]
    (for figures and tests; the layer never builds it)."""
    tau_rise, tau_decay = jnp.asarray(tau_rise), jnp.asarray(tau_decay)
    n = jnp.arange(n_steps, dtype=tau_rise.dtype).reshape(-1, *([1] * tau_rise.ndim))
    raw = decay(tau_decay, dt) ** n - decay(tau_rise, dt) ** n
    return raw / psp_peak(tau_rise, tau_decay, dt)


def psp_filter(
    c: Float[ArrayLike, "time batch *channels"], tau_rise: ArrayLike, tau_decay: ArrayLike,
    dt: float,
) -> Float[Array, "time batch *channels"]:
    """Filter every channel of ``c`` with its PSP kernel: y_t = Σ_{n≥0} k(n)·c_{t−n}.

    ``tau_rise`` and ``tau_decay`` [s] broadcast against the channel axes. Two leaky
    integrators per channel (see the module docstring), one ``lax.scan``.
    """
    c = jnp.asarray(c)
    flat = c.reshape(*c.shape[:2], -1)
    rho_d = jnp.broadcast_to(decay(tau_decay, dt), c.shape[2:]).reshape(-1)
    rho_r = jnp.broadcast_to(decay(tau_rise, dt), c.shape[2:]).reshape(-1)
    peak = jnp.broadcast_to(psp_peak(tau_rise, tau_decay, dt), c.shape[2:]).reshape(-1)
    both = leaky_integrator(jnp.concatenate([flat, flat], axis=-1),
                            a=jnp.concatenate([rho_d, rho_r]))
    slow, fast = jnp.split(both, 2, axis=-1)
    return ((rho_d * slow - rho_r * fast) / peak).astype(c.dtype).reshape(c.shape)


def filter_and_fire_current(
    spikes: Float[ArrayLike, "time batch inputs"],
    w: Float[ArrayLike, "inputs hidden contacts"],
    tau_rise: Float[ArrayLike, "hidden contacts"],
    tau_decay: Float[ArrayLike, "hidden contacts"],
    dt: float,
) -> Float[Array, "time batch hidden"]:
    """The hidden units' input current I_t[h] of the module docstring, [time, batch, hidden]."""
    contact_currents = jnp.einsum("tbi,ihm->tbhm", jnp.asarray(spikes), jnp.asarray(w))
    return psp_filter(contact_currents, tau_rise, tau_decay, dt).sum(axis=-1)
