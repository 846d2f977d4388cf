"""The delays-only network: can learned delays alone estimate the IPD?

No weights and no hidden layer. Each class k has its own pair of fibres (fibre k of the left
ear and fibre k of the right ear, so every class sees its own Poisson trains of the same
tone). The left train is delayed by the fixed D₀ = max_delay/2, the right one by the class's
learned delay d_k ∈ [0, max_delay]; each passes through a leaky integrator, and the class
score is the negative squared difference of the two, summed over time::

    u_L,k = LI(shift(x_L,k, D₀)),   u_R,k = LI(shift(x_R,k, d_k)),
    v_k = −Σ_t (u_L,k(t) − u_R,k(t))²

summed over the stimulus and 2·D₀ steps after it (the trains are padded with zeros, so no
delayed spike falls outside the window; the original padded its trains too).

The right ear leads by α/(2πf) for an IPD α > 0, so class k is best served by the relative
delay d_k − D₀ = α_k/(2πf) (its class midpoint α_k): :func:`ideal_delays`. The original used
one delay on one ear, free in sign; a fixed delay on the other ear gives the same relative
delays with causal shifts only.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float

from sslax.delays import shift
from sslax.neurons import decay, leaky_integrator


def scores(spikes: Float[ArrayLike, "time batch inputs"], delay: Float[ArrayLike, " classes"],
           fixed_delay: float, tau: ArrayLike, dt: float) -> Float[Array, "batch classes"]:
    """The class scores v_k of the module docstring; ``spikes`` hold the left ear's fibres
    (one per class) then the right ear's, delays are in steps, τ in seconds."""
    spikes = jnp.asarray(spikes)
    n_classes = spikes.shape[-1] // 2
    # room after the stimulus for the longest delay, so no delayed spike leaves the window
    room = int(math.ceil(2 * fixed_delay))
    spikes = jnp.pad(spikes, ((0, room), (0, 0), (0, 0)))
    left = shift(spikes[..., :n_classes], jnp.full(n_classes, fixed_delay))
    right = shift(spikes[..., n_classes:], delay)
    a = decay(tau, dt)
    difference = leaky_integrator(left, a=a) - leaky_integrator(right, a=a)
    return -jnp.sum(jnp.square(difference), axis=0)


def ideal_delays(n_classes: int, frequency: float, dt: float,
                 fixed_delay: float) -> Float[Array, " classes"]:
    """The delays [steps] that align the two ears at each class midpoint IPD:
    D₀ + α_k/(2πf·dt)."""
    midpoints = (jnp.arange(n_classes) + 0.5) * math.pi / n_classes - math.pi / 2
    return fixed_delay + midpoints / (2 * math.pi * frequency * dt)
