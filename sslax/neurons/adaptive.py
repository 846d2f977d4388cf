"""The adaptive-threshold LIF neuron: a LIF neuron whose threshold rises after each spike.

The threshold is ϑ + β·θ, where θ is a low-pass filter of the neuron's own spikes with
ρ = exp(−dt/τ_θ) (the threshold adaptation of the ALIF neuron of Bellec et al., 2018/2021).
In the original project's update order (*parity*, as :mod:`sslax.neurons.lif`)::

    s_{t+1} = H(v_t − (ϑ + β·θ_t))                 # spike from the state BEFORE the update
    v_{t+1} = (a·v_t + h_t)·(1 − s_t)               # multiplicative reset, one step late
    v_{t+1} =  a·v_t + h_t − (ϑ + β·θ_t)·s_t        # (subtractive: minus the threshold)
    θ_{t+1} = ρ·θ_t + (1 − ρ)·s_{t+1}

with v_0 = s_0 = θ_0 = 0, emitting s_t. The original's subtractive reset removed
(1 + θ_t)·s_t, which is the threshold above for the β = 1, ϑ = 1 it used. In the *textbook*
order the membrane is updated first and the spike tested on it, with an immediate reset::

    v ← a·v_t + h_t;  s_{t+1} = H(v − (ϑ + β·θ_t));  v_{t+1} = reset(v, s_{t+1})
    θ_{t+1} = ρ·θ_t + (1 − ρ)·s_{t+1}

With β = 0 both orders are exactly the LIF neuron's. The model runs through the plain
``lax.scan`` (:func:`sslax.neurons.scan_layer`) and is differentiated by autodiff: the
spike's gradient is the surrogate of :mod:`sslax.surrogate`, also through the threshold.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float

from sslax.neurons.lif import reset_membrane
from sslax.surrogate import spike


class AdaptiveState(NamedTuple):
    """Membrane ``v``, last emitted spikes ``s`` and threshold variable ``theta``,
    each [batch, units]."""

    v: Array
    s: Array
    theta: Array


class AdaptiveParams(NamedTuple):
    """Parameters of the adaptive-threshold layer.

    Attributes:
        decay: membrane decay per step a = exp(−dt/τ), a number or [units].
        threshold_decay: decay of θ per step ρ = exp(−dt/τ_θ), a number or [units].
        adaptation_strength: β, threshold increase per unit of θ (dimensionless).
        threshold: base threshold ϑ (dimensionless).
        slope: surrogate slope (gets no gradient).
    """

    decay: ArrayLike
    threshold_decay: ArrayLike
    adaptation_strength: ArrayLike = 1.0
    threshold: ArrayLike = 1.0
    slope: ArrayLike = 5.0


@dataclasses.dataclass(frozen=True)
class AdaptiveLIF:
    """The adaptive-threshold LIF model (see the module docstring).

    Attributes:
        surrogate: the spike's surrogate gradient: ``"sigmoid"`` or ``"superspike"``.
        update_order: ``"parity"`` or ``"textbook"``.
        reset: ``"multiplicative"`` (to zero) or ``"subtractive"`` (minus the threshold).
    """

    surrogate: str = "sigmoid"
    update_order: str = "parity"
    reset: str = "multiplicative"

    def initial_state(self, params: AdaptiveParams, shape: tuple[int, ...],
                      dtype: object) -> AdaptiveState:
        """v = s = θ = 0 for inputs of ``shape`` ([batch, units])."""
        zeros = jnp.zeros(shape, dtype)
        return AdaptiveState(zeros, zeros, zeros)

    def step(self, params: AdaptiveParams, state: AdaptiveState,
             h_t: Float[Array, "batch units"]) -> tuple[AdaptiveState,
                                                         Float[Array, "batch units"]]:
        """One step ``(state, h_t) -> (state, spikes_t)``, h_t the input current."""
        a, rho, beta, base, slope = params
        v, s, theta = state
        threshold = base + beta * theta
        leaked = a * v + h_t
        if self.update_order == "parity":
            s_next = spike(v - threshold, slope, self.surrogate)
            v_next = reset_membrane(leaked, s, threshold, self.reset)
            emitted = s
        else:
            s_next = spike(leaked - threshold, slope, self.surrogate)
            v_next = reset_membrane(leaked, s_next, threshold, self.reset)
            emitted = s_next
        theta_next = rho * theta + (1.0 - rho) * s_next
        return AdaptiveState(v_next, s_next, theta_next), emitted

