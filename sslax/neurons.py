"""Neuron dynamics as pure scan steps ``step(carry, x_t) -> (carry, y_t)``, time-major.

The LIF hidden layer (SCIENCE.md §1), with decay a = exp(−dt/τ) integrated exactly:

*parity* order (the original; the reference)::

    s_{t+1} = H(v_t − ϑ)                          # spike from the membrane BEFORE the update
    v_{t+1} = (a·v_t + h_t)·(1 − s_t)              # multiplicative reset, one step late
    v_{t+1} =  a·v_t + h_t − ϑ·s_t                 # (subtractive reset)

The step emits s_t, so the recorded train is s_0 = 0, s_1, …, s_{T−1}, exactly the
notebook's ``s_rec``. Supra-threshold units often fire doublets (the reset lands late).

*textbook* order::

    v ← a·v_t + h_t;  s_{t+1} = H(v − ϑ);  v_{t+1} = v·(1 − s_{t+1})  (or v − ϑ·s_{t+1})

emitting s_{t+1} for input h_t (no extra step of latency).

The reset is differentiated through (not detached), as in the original. The leaky
integrator output layer is u_{t+1} = a_o·u_t + o_t with u_0 = 0, recording u_0 … u_{T−1}.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array, lax
from jax.typing import ArrayLike
from jaxtyping import Float

from sslax.surrogate import SURROGATES, spike


class LIFState(NamedTuple):
    """Carry of the LIF scan: membrane ``v`` and the last emitted spikes ``s``, [batch, units]."""

    v: Array
    s: Array


def decay(tau: ArrayLike, dt: float) -> Array:
    """Exact per-step decay a = exp(−dt/τ) of a leaky membrane (τ and dt in seconds)."""
    return jnp.exp(-dt / jnp.asarray(tau))


def lif_step(
    state: LIFState,
    h_t: Float[Array, "batch units"],
    *,
    a: ArrayLike,
    threshold: ArrayLike = 1.0,
    slope: ArrayLike = 5.0,
    surrogate: str = "sigmoid",
    update_order: str = "parity",
    reset: str = "multiplicative",
) -> tuple[LIFState, Float[Array, "batch units"]]:
    """One LIF step ``(state, h_t) -> (state, spikes_t)``; see the module docstring.

    Args:
        state: membrane ``v`` and last spikes ``s``, each [batch, units].
        h_t: input current of this step [batch, units].
        a: membrane decay per step, exp(−dt/τ) (scalar or [units]).
        threshold: firing threshold ϑ.
        slope: surrogate slope β (traced).
        surrogate: surrogate name (see :mod:`sslax.surrogate`).
        update_order: ``"parity"`` or ``"textbook"``.
        reset: ``"multiplicative"`` (to zero) or ``"subtractive"`` (minus ϑ).
    """
    v, s = state
    if update_order == "parity":
        s_next = spike(v - threshold, slope, surrogate)
        leaked = a * v + h_t
        v_next = leaked * (1.0 - s) if reset == "multiplicative" else leaked - threshold * s
        return LIFState(v_next, s_next), s
    leaked = a * v + h_t
    s_next = spike(leaked - threshold, slope, surrogate)
    if reset == "multiplicative":
        v_next = leaked * (1.0 - s_next)
    else:
        v_next = leaked - threshold * s_next
    return LIFState(v_next, s_next), s_next


def lif_layer(
    h: Float[Array, "time batch units"],
    *,
    a: ArrayLike,
    threshold: ArrayLike = 1.0,
    slope: ArrayLike = 5.0,
    surrogate: str = "sigmoid",
    update_order: str = "parity",
    reset: str = "multiplicative",
) -> Float[Array, "time batch units"]:
    """Run :func:`lif_step` over time from v = s = 0; returns the spike train [time, batch, units].

    The parity order runs a fused scan with a hand-written backward pass
    (:func:`lif_parity_layer`), which computes the same gradients as differentiating
    :func:`lif_step` with autodiff but keeps fewer intermediates (a little faster); the
    textbook order is differentiated by autodiff.
    """
    if update_order == "parity":
        return lif_parity_layer(h, a, threshold, slope, surrogate, reset)
    return lif_scan(h, a=a, threshold=threshold, slope=slope, surrogate=surrogate,
                    update_order=update_order, reset=reset)


def lif_scan(
    h: Float[Array, "time batch units"],
    *,
    a: ArrayLike,
    threshold: ArrayLike = 1.0,
    slope: ArrayLike = 5.0,
    surrogate: str = "sigmoid",
    update_order: str = "parity",
    reset: str = "multiplicative",
) -> Float[Array, "time batch units"]:
    """:func:`lif_step` scanned over time, differentiated by autodiff (the reference)."""
    zeros = jnp.zeros(h.shape[1:], h.dtype)
    step = partial(lif_step, a=a, threshold=threshold, slope=slope, surrogate=surrogate,
                   update_order=update_order, reset=reset)
    _, spikes = lax.scan(step, LIFState(zeros, zeros), h)
    return spikes


# ---------------------------------------------------------------------------------------------
# fused parity-order layer with a hand-written backward pass
# ---------------------------------------------------------------------------------------------


def _parity_forward(h: Array, a: Array, threshold: Array, reset: str) -> tuple[Array, Array]:
    """Spikes s_0 … s_{T−1} and membranes v_0 … v_{T−1} of the parity-order LIF."""
    zeros = jnp.zeros(h.shape[1:], h.dtype)

    def step(carry: tuple[Array, Array], h_t: Array) -> tuple[Any, tuple[Array, Array]]:
        v, s = carry
        leaked = a * v + h_t
        v_next = leaked * (1.0 - s) if reset == "multiplicative" else leaked - threshold * s
        return (v_next, (v > threshold).astype(h.dtype)), (s, v)

    _, (spikes, membranes) = lax.scan(step, (zeros, zeros), h)
    return spikes, membranes


@partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def lif_parity_layer(h: Array, a: ArrayLike, threshold: ArrayLike, slope: ArrayLike,
                     surrogate: str = "sigmoid", reset: str = "multiplicative") -> Array:
    """Parity-order LIF layer [time, batch, units] → spikes, with a fused backward pass.

    Equal in value and gradient (with respect to ``h``, ``a`` and ``threshold``; ``slope``
    gets none) to :func:`lif_scan` with ``update_order="parity"``. Backpropagation through
    time, with λv_t = ∂L/∂v_t, λs_t = ∂L/∂s_t and g_t the incoming gradient of s_t:

        multiplicative:  ∂L/∂h_t = λv_{t+1}(1 − s_t)
                         λs_t = g_t − λv_{t+1}(a·v_t + h_t)
                         λv_t = λs_{t+1}·σ'(v_t − ϑ) + a·λv_{t+1}(1 − s_t)
        subtractive:     ∂L/∂h_t = λv_{t+1};  λs_t = g_t − ϑ·λv_{t+1}
                         λv_t = λs_{t+1}·σ'(v_t − ϑ) + a·λv_{t+1}

    with σ' the surrogate derivative and λv_T = λs_T = 0.
    """
    a, threshold = jnp.asarray(a, h.dtype), jnp.asarray(threshold, h.dtype)
    return _parity_forward(h, a, threshold, reset)[0]


def _lif_parity_fwd(h: Array, a: ArrayLike, threshold: ArrayLike, slope: ArrayLike,
                    surrogate: str, reset: str) -> tuple[Array, Any]:
    a_, threshold_ = jnp.asarray(a, h.dtype), jnp.asarray(threshold, h.dtype)
    spikes, membranes = _parity_forward(h, a_, threshold_, reset)
    return spikes, (h, spikes, membranes, jnp.asarray(a), jnp.asarray(threshold),
                    jnp.asarray(slope))


def _lif_parity_bwd(surrogate: str, reset: str, residuals: Any, g: Array) -> tuple[Any, ...]:
    h, spikes, membranes, a, threshold, slope = residuals
    derivative = SURROGATES[surrogate]
    a_, th = a.astype(h.dtype), threshold.astype(h.dtype)
    zeros = jnp.zeros(h.shape[1:], h.dtype)

    def step(carry: tuple[Array, Array], xs: tuple[Array, ...]) -> tuple[Any, Any]:
        lam_v_next, lam_s_next = carry  # λv_{t+1}, λs_{t+1}
        g_t, s_t, v_t, h_t = xs
        surrogate_t = lam_s_next * derivative(v_t - th, slope).astype(h.dtype)
        if reset == "multiplicative":
            dh = lam_v_next * (1.0 - s_t)
            lam_s = g_t - lam_v_next * (a_ * v_t + h_t)
            dth = -surrogate_t
        else:
            dh = lam_v_next
            lam_s = g_t - th * lam_v_next
            dth = -surrogate_t - lam_v_next * s_t
        lam_v = surrogate_t + a_ * dh
        return (lam_v, lam_s), (dh, dh * v_t, dth)

    _, (dh, da, dth) = lax.scan(step, (zeros, zeros), (g, spikes, membranes, h), reverse=True)
    return (dh, _sum_to_shape(da, a.shape).astype(a.dtype),
            _sum_to_shape(dth, threshold.shape).astype(threshold.dtype), None)


lif_parity_layer.defvjp(_lif_parity_fwd, _lif_parity_bwd)


def _sum_to_shape(x: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``x`` over the leading / broadcast axes so it has ``shape`` (NumPy broadcasting)."""
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead))) if lead else x
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True) if axes else x


def leaky_integrator_step(
    u: Float[Array, "batch units"], o_t: Float[Array, "batch units"], *, a: ArrayLike
) -> tuple[Array, Array]:
    """Non-spiking output step ``(u_t, o_t) -> (u_{t+1}, u_t)`` with u_{t+1} = a·u_t + o_t."""
    return a * u + o_t, u


def leaky_integrator(
    o: Float[ArrayLike, "time batch units"], *, a: ArrayLike
) -> Float[Array, "time batch units"]:
    """Membranes u_0 = 0, u_1 … u_{T−1} of leaky integrators driven by ``o``.

    Shapes: ``o`` and the result are [time, batch, units].
    """
    o = jnp.asarray(o)
    _, u = lax.scan(partial(leaky_integrator_step, a=a), jnp.zeros(o.shape[1:], o.dtype), o)
    return u


def mean_membrane_weights(a: ArrayLike, n_steps: int) -> Float[Array, " time"]:
    """Weights c_t with mean_t u_t = Σ_t c_t·o_t for the leaky integrator above.

    u_{t'} = Σ_{t<t'} a^{t'−1−t} o_t, so c_t = (1/T)·Σ_{k=0}^{T−2−t} a^k (and c_{T−1} = 0):
    the time-mean readout of the linear output layer in closed form, without a scan.
    Computed by a cumulative sum of powers, so it is exact at a = 1 too.
    """
    a = jnp.asarray(a)
    a = a.astype(jnp.result_type(a, jnp.float32))  # float32, or float64 when given float64
    powers = a ** jnp.arange(n_steps - 1, dtype=a.dtype)
    partial_sums = jnp.cumsum(powers)  # Σ_{k=0}^{j} a^k, j = 0 … T−2
    return jnp.concatenate([partial_sums[::-1], jnp.zeros(1)]) / n_steps
