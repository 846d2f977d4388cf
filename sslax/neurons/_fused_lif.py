"""The LIF model's accelerator: the parity-order layer as two fused loops with a hand-written
backward pass (private: :class:`sslax.neurons.lif.LIF` uses it; its reference is the plain
``lax.scan`` of the LIF step, which the tests compare it with).

Both loops are ``fori_loop``s that read and write time step t of [time, ...] arrays in
place, rather than ``scan``s: under ``vmap`` the member axis then stays in front
([members, time, ...]) and XLA does not transpose every [time, batch, units] array between
the input projection, the loops and the weight gradient. The forward loop stores only the
membranes v_t; spikes are s_0 = 0, s_t = H(v_{t−1} − ϑ), recomputed where needed. It carries
the last two membranes instead of a membrane and a spike, and advances two steps per
iteration.

Members that share their input (one group of a sweep: the same batch, different weights)
are better served the other way round: their input projection is one matrix product whose
output has the members next to the units ([time, batch, members, units]). Within
:func:`members_as_units`, a vmapped loop therefore merges the member axis into the units
axis, which the elementwise dynamics allow, with per-member parameters as per-unit ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from functools import cache, partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import Array, lax
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from sslax.surrogate import SURROGATES

_MEMBERS_AS_UNITS: list[bool] = [False]


@contextlib.contextmanager
def members_as_units() -> Iterator[None]:
    """While tracing this block, ``vmap`` runs the parity layer's loops as one wider layer.

    The member axis of every [..., units] array is merged into the units axis, and a, ϑ,
    the slope and the readout weights become per-unit arrays. Values are unchanged; it pays
    when the members share their input spikes, so that the input projection's output is
    laid out [time, batch, members, units] already (see :mod:`sslax.sweep`).
    """
    _MEMBERS_AS_UNITS.append(True)
    try:
        yield
    finally:
        _MEMBERS_AS_UNITS.pop()


def _merge_members(x: Any, batched: bool, n: int, kind: str, n_units: int) -> Any:
    """Merge the member axis (0 when ``batched``; else broadcast) into the units axis.

    ``kind``: ``"units"`` for [..., units] arrays, ``"param"`` for per-layer parameters of
    shape () or [units], ``"time"`` for readout weights [time] or [time, units]; the last
    two become per-unit ([n·units] and [time, n·units]).
    """
    if x is None:
        return x
    x = jnp.asarray(x)
    if kind == "units":
        x = jnp.moveaxis(x, 0, -2) if batched else jnp.broadcast_to(
            x[..., None, :], (*x.shape[:-1], n, x.shape[-1]))
        return x.reshape(*x.shape[:-2], -1)
    x = x if batched else jnp.broadcast_to(x, (n, *x.shape))
    if kind == "param":
        return jnp.broadcast_to(x.reshape(n, -1), (n, n_units)).reshape(-1)
    x = jnp.broadcast_to(x.reshape(n, x.shape[1], -1), (n, x.shape[1], n_units))
    return jnp.moveaxis(x, 0, 1).reshape(x.shape[1], -1)


def _split_members(x: Any, n: int) -> Any:
    """Inverse of merging for outputs [..., n·units]: members back in front."""
    return None if x is None else jnp.moveaxis(x.reshape(*x.shape[:-1], n, -1), -2, 0)


def _vmappable_loop(kinds: tuple[str, ...]) -> Callable[[Callable[..., Any]], Any]:
    """Make ``loop`` (positional arguments of the given kinds, all outputs [..., units])
    batch by merging members into units inside :func:`members_as_units`, and by ordinary
    ``vmap`` elsewhere."""

    def wrap(loop: Callable[..., Any]) -> Any:
        batched_loop = jax.custom_batching.custom_vmap(loop)

        @batched_loop.def_vmap
        def rule(n: int, in_batched: Sequence[Any], *args: Any) -> tuple[Any, Any]:
            # unbatched constants can arrive as NumPy values
            args = tuple(None if x is None else jnp.asarray(x) for x in args)
            if not _MEMBERS_AS_UNITS[-1]:
                axes = tuple(0 if b is True else None for b in in_batched)
                out = jax.vmap(loop, in_axes=axes)(*args)
            else:
                n_units = args[0].shape[-1]
                merged = [_merge_members(x, b is True, n, kind, n_units)
                          for x, b, kind in zip(args, in_batched, kinds, strict=True)]
                out = jax.tree.map(lambda y: _split_members(y, n), loop(*merged))
            return out, jax.tree.map(lambda _: True, out)

        return batched_loop

    return wrap


def _row(x: Array, t: Array | int) -> Array:
    return lax.dynamic_index_in_dim(x, t, 0, keepdims=False)


def _spikes_from_membranes(membranes: Array, threshold: Array) -> Array:
    """s_0 = 0 and s_t = H(v_{t−1} − ϑ): the parity order's spike train from its membranes."""
    fired = (membranes[:-1] > threshold).astype(membranes.dtype)
    return jnp.concatenate([jnp.zeros_like(membranes[:1]), fired])


@cache
def _forward_loop(reset: str) -> Any:
    @_vmappable_loop(("units", "param", "param", "time"))
    def loop(h: Array, a: Array, threshold: Array, weights: Array) -> tuple[Array, Array]:
        """Membranes v_0 … v_{T−1} [time, batch, units] and r = Σ_t c_t·s_t [batch, units]."""

        def advance(t: Array | int, older: Array, newer: Array, r: Array, membranes: Array
                    ) -> tuple[Array, Array, Array]:
            """Step t from v_{t−1} (``older``, whose spike is s_t) and v_t (``newer``):
            v_{t+1}, r + c_t·s_t and the membranes with v_t stored."""
            s = (older > threshold).astype(h.dtype)
            membranes = lax.dynamic_update_index_in_dim(membranes, newer, t, 0)
            leaked = a * newer + _row(h, t)
            v_next = leaked * (1.0 - s) if reset == "multiplicative" else leaked - threshold * s
            return v_next, r + _row(weights, t) * s, membranes

        def two_steps(i: Array, carry: tuple[Array, ...]) -> tuple[Array, ...]:
            # v_{t+1} takes the place of v_{t−1}, and v_{t+2} that of v_t. Carrying (v, s)
            # one step at a time, each new value is computed from both old ones, and XLA
            # copied three carried arrays every step; this way it copies two every two
            # steps, and the loop takes about half the time for the same numbers
            older, newer, r, membranes = carry
            older, r, membranes = advance(2 * i, older, newer, r, membranes)
            newer, r, membranes = advance(2 * i + 1, newer, older, r, membranes)
            return older, newer, r, membranes

        n_steps = h.shape[0]
        zeros = jnp.zeros(h.shape[1:], h.dtype)
        before_start = jnp.full(h.shape[1:], -jnp.inf, h.dtype)  # v_{−1}: s_0 = 0
        older, newer, rate, membranes = lax.fori_loop(
            0, n_steps // 2, two_steps, (before_start, zeros, zeros, jnp.zeros_like(h)))
        if n_steps % 2:
            _, rate, membranes = advance(n_steps - 1, older, newer, rate, membranes)
        return membranes, rate

    return loop


def _parity_forward(h: Array, a: ArrayLike, threshold: ArrayLike, weights: ArrayLike,
                    reset: str) -> tuple[Array, Array, Array]:
    """Spikes s_0 … s_{T−1} and membranes v_0 … v_{T−1} [time, batch, units], and
    r = Σ_t c_t·s_t [batch, units]; a, ϑ and c are cast to the dtype of ``h``."""
    threshold = jnp.asarray(threshold, h.dtype)
    membranes, rate = _forward_loop(reset)(h, jnp.asarray(a, h.dtype), threshold,
                                           jnp.asarray(weights, h.dtype))
    return _spikes_from_membranes(membranes, threshold), membranes, rate


@cache
def _backward_loop(surrogate: str, reset: str, need_a: bool, need_th: bool) -> Any:
    derivative = SURROGATES[surrogate]

    @_vmappable_loop(("units", "units", "param", "param", "param", "time", "units", "units"))
    def loop(h: Array, membranes: Array, a: Array, th: Array, slope: Array, c: Array,
             rate_ct: Array, direct: Array | None) -> tuple[Any, ...]:
        """∂L/∂h [time, batch, units] and, when needed, Σ_t of the a and ϑ terms."""
        zeros = jnp.zeros(h.shape[1:], h.dtype)
        n_steps = h.shape[0]

        def step(i: Array, carry: tuple[Any, ...]) -> tuple[Any, ...]:
            lam_v_next, lam_s_next, dh_all, acc_a, acc_th = carry  # λv_{t+1}, λs_{t+1}
            t = n_steps - 1 - i
            v_t = _row(membranes, t)
            s_t = jnp.where(t > 0, (_row(membranes, jnp.maximum(t - 1, 0)) > th)
                            .astype(h.dtype), 0)
            g_t = _row(c, t) * rate_ct if direct is None else (_row(c, t) * rate_ct
                                                               + _row(direct, t))
            surrogate_t = lam_s_next * derivative(v_t - th, slope).astype(h.dtype)
            if reset == "multiplicative":
                dh = lam_v_next * (1.0 - s_t)
                lam_s = g_t - lam_v_next * (a * v_t + _row(h, t))
                dth = -surrogate_t
            else:
                dh = lam_v_next
                lam_s = g_t - th * lam_v_next
                dth = -surrogate_t - lam_v_next * s_t
            dh_all = lax.dynamic_update_index_in_dim(dh_all, dh, t, 0)
            acc_a = None if acc_a is None else acc_a + dh * v_t
            acc_th = None if acc_th is None else acc_th + dth
            return surrogate_t + a * dh, lam_s, dh_all, acc_a, acc_th

        init = (zeros, zeros, jnp.zeros_like(h), zeros if need_a else None,
                zeros if need_th else None)
        _, _, dh_all, acc_a, acc_th = lax.fori_loop(0, n_steps, step, init)
        return dh_all, acc_a, acc_th

    return loop


@partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def lif_parity_layer(h: Array, a: ArrayLike, threshold: ArrayLike, slope: ArrayLike,
                     readout_weights: ArrayLike, surrogate: str = "sigmoid",
                     reset: str = "multiplicative") -> tuple[Array, Array]:
    """Parity-order LIF layer: spikes [time, batch, units] and r = Σ_t c_t·s_t [batch, units].

    Equal in value and gradient (with respect to ``h``, ``a``, ``threshold`` and the
    readout weights c; ``slope`` gets none) to the ``lax.scan`` of the parity-order LIF
    step (:func:`sslax.neurons.scan_layer`) followed by ``einsum("t,tbh->bh", c, spikes)``.
    Backpropagation through time, with λv_t = ∂L/∂v_t, λs_t = ∂L/∂s_t and
    g_t = ∂L/∂s_t (direct) + c_t·∂L/∂r the incoming gradient of s_t:

        multiplicative:  ∂L/∂h_t = λv_{t+1}(1 − s_t)
                         λs_t = g_t − λv_{t+1}(a·v_t + h_t)
                         λv_t = λs_{t+1}·σ'(v_t − ϑ) + a·λv_{t+1}(1 − s_t)
        subtractive:     ∂L/∂h_t = λv_{t+1};  λs_t = g_t − ϑ·λv_{t+1}
                         λv_t = λs_{t+1}·σ'(v_t − ϑ) + a·λv_{t+1}

    with σ' the surrogate derivative and λv_T = λs_T = 0. Cotangents that are zero (an
    unused spike train, a constant a or ϑ) are never materialised or accumulated.
    """
    spikes, _, rate = _parity_forward(h, a, threshold, readout_weights, reset)
    return spikes, rate


def _lif_parity_fwd(h: Any, a: Any, threshold: Any, slope: Any, readout_weights: Any,
                    surrogate: str, reset: str) -> tuple[tuple[Array, Array], Any]:
    # symbolic_zeros=True: each argument arrives as CustomVJPPrimal(value, perturbed)
    spikes, membranes, rate = _parity_forward(h.value, a.value, threshold.value,
                                              readout_weights.value, reset)
    needed = (a.perturbed, threshold.perturbed, readout_weights.perturbed)
    residuals = (h.value, membranes, jnp.asarray(a.value), jnp.asarray(threshold.value),
                 jnp.asarray(slope.value), jnp.asarray(readout_weights.value), needed)
    return (spikes, rate), residuals


def _lif_parity_bwd(surrogate: str, reset: str, residuals: Any,
                    cotangents: tuple[Any, Any]) -> tuple[Any, ...]:
    h, membranes, a, threshold, slope, weights, (need_a, need_th, need_w) = residuals
    spikes_ct, rate_ct = cotangents
    dtype = h.dtype
    th = threshold.astype(dtype)
    rate_ct = jnp.zeros(h.shape[1:], dtype) if isinstance(rate_ct, SymbolicZero) else rate_ct
    direct = None if isinstance(spikes_ct, SymbolicZero) else spikes_ct
    loop = _backward_loop(surrogate, reset, need_a, need_th)
    dh_all, acc_a, acc_th = loop(h, membranes, a.astype(dtype), th, slope.astype(dtype),
                                 weights.astype(dtype), rate_ct, direct)
    da = (_sum_to_shape(acc_a, a.shape).astype(a.dtype) if need_a else jnp.zeros_like(a))
    dth = (_sum_to_shape(acc_th, threshold.shape).astype(threshold.dtype) if need_th
           else jnp.zeros_like(threshold))
    if need_w:  # ∂L/∂c_t = Σ_{b,u} s_t·∂L/∂r
        spikes = _spikes_from_membranes(membranes, th)
        dw = jnp.einsum("tbh,bh->t", spikes, rate_ct).astype(weights.dtype)
    else:
        dw = jnp.zeros_like(weights)
    return dh_all, da, dth, None, dw


lif_parity_layer.defvjp(_lif_parity_fwd, _lif_parity_bwd, symbolic_zeros=True)


def _sum_to_shape(x: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``x`` over the leading / broadcast axes so it has ``shape`` (NumPy broadcasting)."""
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead))) if lead else x
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True) if axes else x
