"""Learnable delays on spike trains: the interpolated shift and synaptic delay kernels.

All trains are time-major, [time, batch, channels]; delays are in time steps (a delay of d
steps is d·dt seconds) and lie in [0, n_taps − 1].

**Interpolated shift.** A real-valued delay d ≥ 0 shifts a train by linear interpolation
between the two neighbouring whole-step shifts, with k = ⌊d⌋ and w = d − k::

    y(t) = (1 − w)·x(t − k) + w·x(t − k − 1)        (x = 0 before the start)

so y depends smoothly on d between whole steps, equals the shifted train at whole d, and d
gets the gradient Σ_t ∂L/∂y(t)·(x(t − k − 1) − x(t − k)). :func:`shift` applies one delay per
channel by a gather (no matrix products).

**Synaptic delay kernels.** A synapse i → h with weight W and delay d acts on the
presynaptic train through a kernel over ``n_taps`` whole-step delays n = 0 … n_taps − 1::

    I_t[h] = Σ_i Σ_n W[i, h]·k_ih(n)·x_{t−n}[i]

- :func:`hat_kernel`: k(n) = max(0, 1 − |n − d|), two taps: exactly the interpolated shift,
  one delay per synapse;
- :func:`gaussian_kernel`: a Gaussian bump at d of width σ, normalised to sum 1 over the taps
  (DCLS, dilated convolution with learnable spacings); as σ → 0 it becomes one tap;
- :func:`rounded_kernel`: one tap at round(d) (DCLS at evaluation).

:func:`kernel_current` computes I for any kernel, by one of :data:`KERNEL_CURRENTS` (equal
values, different speed; see ``benchmarks/bench_delays.py``).

This module works on arrays only and imports nothing from the rest of sslax.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float

# ---------------------------------------------------------------------------------------------
# the interpolated shift
# ---------------------------------------------------------------------------------------------


def shift(x: Float[ArrayLike, "time *batch channels"],
          d: Float[ArrayLike, " channels"]) -> Float[Array, "time *batch channels"]:
    """Delay every channel of ``x`` by its own ``d`` ≥ 0 steps, interpolating linearly between
    whole-step shifts (module docstring); zero before the start of the train."""
    x, d = jnp.asarray(x), jnp.asarray(d, dtype=jnp.result_type(x, jnp.float32))
    n_steps = x.shape[0]
    k = jnp.floor(jax.lax.stop_gradient(d))
    w = (d - k).astype(x.dtype)
    k = k.astype(jnp.int32)
    t = jnp.arange(n_steps)[:, None]  # [time, 1] against [channels]

    def delayed(by: Array) -> Array:
        source = t - by  # [time, channels]
        valid = (source >= 0) & (source < n_steps)
        index = jnp.clip(source, 0, n_steps - 1)
        index = index.reshape(n_steps, *([1] * (x.ndim - 2)), -1)
        valid = valid.reshape(index.shape)
        gathered = jnp.take_along_axis(x, jnp.broadcast_to(index, x.shape), axis=0)
        return jnp.where(valid, gathered, 0)

    return (1 - w) * delayed(k) + w * delayed(k + 1)


# ---------------------------------------------------------------------------------------------
# synaptic delay kernels, [taps, *d.shape]
# ---------------------------------------------------------------------------------------------


def _taps(n_taps: int, d: Array) -> Array:
    return jnp.arange(n_taps, dtype=d.dtype).reshape(-1, *([1] * d.ndim))


def hat_kernel(d: Float[ArrayLike, "*shape"], n_taps: int) -> Float[Array, "taps ..."]:
    """k(n) = max(0, 1 − |n − d|): the interpolated shift by d as a kernel."""
    d = jnp.asarray(d, dtype=jnp.result_type(d, jnp.float32))
    return jnp.maximum(0.0, 1.0 - jnp.abs(_taps(n_taps, d) - d))


def gaussian_kernel(d: Float[ArrayLike, "*shape"], sigma: ArrayLike,
                    n_taps: int) -> Float[Array, "taps ..."]:
    """k(n) = exp(−(n − d)²/(2σ²)) / Σ_n' exp(−(n' − d)²/(2σ²)): a bump at d of width σ
    [steps], summing to 1 over the taps (σ broadcasts against d)."""
    d = jnp.asarray(d, dtype=jnp.result_type(d, jnp.float32))
    sigma = jnp.asarray(sigma, d.dtype)
    logits = -jnp.square(_taps(n_taps, d) - d) / (2 * jnp.square(sigma))
    return jax.nn.softmax(logits, axis=0)


def rounded_kernel(d: Float[ArrayLike, "*shape"], n_taps: int) -> Float[Array, "taps ..."]:
    """One tap at round(d) (halves to even, as ``jnp.round``), clipped to the taps."""
    d = jnp.asarray(d, dtype=jnp.result_type(d, jnp.float32))
    index = jnp.clip(jnp.round(d), 0, n_taps - 1)
    return (_taps(n_taps, d) == index).astype(d.dtype)


# ---------------------------------------------------------------------------------------------
# the kernel current I_t[h] = Σ_i Σ_n W[i, h]·k_ih(n)·x_{t−n}[i], three ways
# ---------------------------------------------------------------------------------------------


def _unfolded(x: Array, n_taps: int) -> Array:
    """x_{t−n} for every tap n: [time, batch, taps, inputs] (zero before the start)."""
    padded = jnp.pad(x, ((n_taps - 1, 0), (0, 0), (0, 0)))
    n_steps = x.shape[0]
    return jnp.stack([padded[n_taps - 1 - n: n_taps - 1 - n + n_steps]
                      for n in range(n_taps)], axis=2)


def current_unfold(
    x: Float[Array, "time batch inputs"], kernel: Float[Array, "taps inputs outputs"]
) -> Float[Array, "time batch outputs"]:
    """Stack the taps' shifted copies of x and contract them in one matrix product,
    [time·batch, taps·inputs] × [taps·inputs, outputs]."""
    return jnp.einsum("tbni,nio->tbo", _unfolded(x, kernel.shape[0]), kernel)


def current_conv(
    x: Float[Array, "time batch inputs"], kernel: Float[Array, "taps inputs outputs"]
) -> Float[Array, "time batch outputs"]:
    """A causal 1-D convolution over time (XLA's convolution; the kernel flipped so that
    tap n meets x_{t−n})."""
    n_taps = kernel.shape[0]
    out = jax.lax.conv_general_dilated(
        x.transpose(1, 2, 0), kernel[::-1].transpose(2, 1, 0), window_strides=(1,),
        padding=[(n_taps - 1, 0)], dimension_numbers=("NCH", "OIH", "NCH"))
    return out.transpose(2, 0, 1)


def current_fft(
    x: Float[Array, "time batch inputs"], kernel: Float[Array, "taps inputs outputs"]
) -> Float[Array, "time batch outputs"]:
    """Linear convolution by real FFTs of length T + taps − 1 along a last (contiguous) time
    axis; per frequency a [batch, inputs] × [inputs, outputs] complex product."""
    n_steps, n_taps = x.shape[0], kernel.shape[0]
    length = n_steps + n_taps - 1
    x_f = jnp.fft.rfft(x.transpose(1, 2, 0), n=length, axis=-1)  # [batch, inputs, freq]
    k_f = jnp.fft.rfft(kernel.transpose(1, 2, 0), n=length, axis=-1)  # [inputs, outputs, freq]
    y = jnp.fft.irfft(jnp.einsum("bif,iof->bof", x_f, k_f), n=length, axis=-1)
    return y[..., :n_steps].transpose(2, 0, 1).astype(x.dtype)


#: name → function(x [time, batch, inputs], W·k [taps, inputs, outputs]) -> current.
KERNEL_CURRENTS: dict[str, Callable[[Array, Array], Array]] = {
    "unfold": current_unfold,
    "conv": current_conv,
    "fft": current_fft,
}


def kernel_current(x: Float[ArrayLike, "time batch inputs"],
                   w: Float[ArrayLike, "inputs outputs"],
                   kernel: Float[ArrayLike, "taps inputs outputs"],
                   method: str = "conv") -> Float[Array, "time batch outputs"]:
    """I_t[o] = Σ_i Σ_n w[i, o]·kernel[n, i, o]·x_{t−n}[i] (module docstring), by ``method``
    (a key of :data:`KERNEL_CURRENTS`)."""
    if method not in KERNEL_CURRENTS:
        raise ValueError(f"method = {method!r}: choose one of {', '.join(KERNEL_CURRENTS)}")
    x = jnp.asarray(x)
    return KERNEL_CURRENTS[method](x, (jnp.asarray(w) * kernel).astype(x.dtype))


#: What the original DCLS kernel adds to its scheduled σ: the bump's width is σ + 0.27 steps.
DCLS_SIGMA_OFFSET = 0.27


def dcls_sigma(epoch: ArrayLike, n_epochs: int, n_taps: int, floor: ArrayLike,
               anneal_fraction: ArrayLike = 0.25) -> Array:
    """Width [steps] of the DCLS bump during epoch ``epoch`` (0-based), as the original
    schedule: σ_e = 0.27 + s0·((floor − 0.27)/s0)^(min(e, n)/n) with s0 = (n_taps − 1)/2 and
    n = ⌊anneal_fraction·n_epochs⌋ (at least 1). From (taps − 1)/2 + 0.27 at epoch 0 it falls
    geometrically to ``floor`` at epoch n and stays there."""
    start = (n_taps - 1) / 2
    n = jnp.maximum(jnp.floor(jnp.asarray(anneal_fraction) * n_epochs), 1.0)
    progress = jnp.minimum(jnp.asarray(epoch, n.dtype), n) / n
    return DCLS_SIGMA_OFFSET + start * ((floor - DCLS_SIGMA_OFFSET) / start) ** progress


def delay_kernel(d: Float[ArrayLike, "*shape"], sigma: ArrayLike | None,
                 n_taps: int) -> Float[Array, "taps ..."]:
    """The DCLS kernel of delays ``d``: a Gaussian bump of width ``sigma`` while training,
    one tap at round(d) when ``sigma`` is ``None`` (evaluation)."""
    if sigma is None:
        return rounded_kernel(d, n_taps)
    return gaussian_kernel(d, sigma, n_taps)
