"""The leaky integrate-and-fire (LIF) hidden layer, with its decay a = exp(−dt/τ) integrated
exactly.

*parity* order (the original project's; the reference)::

    s_{t+1} = H(v_t − ϑ)                          # spike from the membrane BEFORE the update
    v_{t+1} = (a·v_t + h_t)·(1 − s_t)              # multiplicative reset, one step late
    v_{t+1} =  a·v_t + h_t − ϑ·s_t                 # (subtractive reset)

The step emits s_t, so the recorded train is s_0 = 0, s_1, …, s_{T−1}, exactly the original
model's record. Supra-threshold units often fire doublets (the reset lands late).

*textbook* order::

    v ← a·v_t + h_t;  s_{t+1} = H(v − ϑ);  v_{t+1} = v·(1 − s_{t+1})  (or v − ϑ·s_{t+1})

emitting s_{t+1} for input h_t (no extra step of latency).

The reset is differentiated through (not detached), as in the original. The spike's
gradient is the surrogate of :mod:`sslax.surrogate`.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float

from sslax.neurons._fused_lif import lif_parity_layer
from sslax.neurons.base import scan_layer
from sslax.surrogate import spike


def reset_membrane(leaked: Array, s: Array, threshold: ArrayLike, reset: str) -> Array:
    """The membrane after a spike ``s``: ``multiplicative`` leaked·(1 − s) (to zero) or
    ``subtractive`` leaked − ϑ·s. Differentiated through, as in the original."""
    return leaked * (1.0 - s) if reset == "multiplicative" else leaked - threshold * s


class LIFState(NamedTuple):
    """State of the LIF layer: membrane ``v`` and the last emitted spikes ``s``, [batch, units]."""

    v: Array
    s: Array


class LIFParams(NamedTuple):
    """Parameters of the LIF layer.

    Attributes:
        decay: membrane decay per step a = exp(−dt/τ), a number or one per unit [units].
        threshold: firing threshold ϑ (dimensionless).
        slope: surrogate slope β (gets no gradient).
    """

    decay: ArrayLike
    threshold: ArrayLike = 1.0
    slope: ArrayLike = 5.0


@dataclasses.dataclass(frozen=True)
class LIF:
    """The LIF neuron model (see the module docstring).

    Attributes:
        surrogate: the spike's surrogate gradient: ``"sigmoid"`` or ``"superspike"``.
        update_order: ``"parity"`` or ``"textbook"``.
        reset: ``"multiplicative"`` (to zero) or ``"subtractive"`` (minus ϑ).
    """

    surrogate: str = "sigmoid"
    update_order: str = "parity"
    reset: str = "multiplicative"

    def initial_state(self, params: LIFParams, shape: tuple[int, ...], dtype: object) -> LIFState:
        """v = s = 0 for inputs of ``shape`` ([batch, units])."""
        zeros = jnp.zeros(shape, dtype)
        return LIFState(zeros, zeros)

    def step(self, params: LIFParams, state: LIFState,
             h_t: Float[Array, "batch units"]) -> tuple[LIFState, Float[Array, "batch units"]]:
        """One step ``(state, h_t) -> (state, spikes_t)``, h_t the input current [batch, units]."""
        a, threshold, slope = params
        v, s = state
        if self.update_order == "parity":
            s_next = spike(v - threshold, slope, self.surrogate)
            leaked = a * v + h_t
            v_next = self._reset(leaked, s, threshold)
            return LIFState(v_next, s_next), s
        leaked = a * v + h_t
        s_next = spike(leaked - threshold, slope, self.surrogate)
        return LIFState(self._reset(leaked, s_next, threshold), s_next), s_next

    def _reset(self, leaked: Array, s: Array, threshold: ArrayLike) -> Array:
        return reset_membrane(leaked, s, threshold, self.reset)

    def layer(
        self,
        params: LIFParams,
        h: Float[Array, "time batch units"],
        readout_weights: Float[ArrayLike, " time"],
    ) -> tuple[Float[Array, "time batch units"], Float[Array, "batch units"]]:
        """Spikes over time and r = Σ_t c_t·s_t, from v = s = 0.

        The parity order runs the fused loops of :func:`lif_parity_layer` (the same values
        and gradients as autodiff through the scan, far less memory traffic); the textbook
        order runs :func:`sslax.neurons.scan_layer`.
        """
        if self.update_order == "parity":
            return lif_parity_layer(h, params.decay, params.threshold, params.slope,
                                    readout_weights, self.surrogate, self.reset)
        spikes = scan_layer(self, params, h)
        return spikes, jnp.einsum("t,tbh->bh", jnp.asarray(readout_weights, h.dtype), spikes)
