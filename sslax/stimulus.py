"""The IPD stimulus (docs/science.md §1): pure, keyed, jittable spike generation on device.

A tone of frequency f reaches both ears; the right ear's copy is shifted by the interaural
phase difference α ~ U(−π/2, π/2). Fibre j of ear i (i = 0 left, 1 right) has phase

    θ_ij(t) = 2π f t dt + φ0 + i·α + ψ_j

and spikes in step t with probability ``p = R_max · dt · ((1 + sin θ) / 2)^k`` (Bernoulli
per step, a Poisson approximation). Inputs are laid out left ear first (0 … N_ψ − 1), then
right ear (N_ψ … 2N_ψ − 1).

Data sets hold their spikes as booleans (a 4 096-sample set is 82 MB instead of 328 MB as
float32) or bit-packed along the fibre axis (``uint8``, 8 fibres a byte: 10 MB), and are
converted to float32 per batch; booleans train about 20 % faster on a CPU, bits use 8× less
memory. Every sample has its own noise key, so the "per-epoch" phase-offset mode can
regenerate a sample with a new φ0 and the *same* frozen Poisson noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax import Array, lax
from jax.typing import ArrayLike
from jaxtyping import Bool, Float, Int, UInt8

from sslax.config import Leaf, StimulusConfig
from sslax.threefry import normal, split, uniform

_Out = TypeVar("_Out")

TWO_PI = 2.0 * math.pi


# ---------------------------------------------------------------------------------------------
# classes
# ---------------------------------------------------------------------------------------------


def ipd_to_class(ipd: ArrayLike, n_classes: int) -> Int[Array, "*batch"]:
    """Class index floor((α + π/2)·N_c/π) of IPDs α [rad], clipped to 0 … N_c − 1."""
    index = jnp.floor((jnp.asarray(ipd) + math.pi / 2) * n_classes / math.pi)
    return jnp.clip(index, 0, n_classes - 1).astype(jnp.int32)


def class_to_ipd(index: ArrayLike, n_classes: int) -> Float[Array, "*batch"]:
    """Midpoint (i + ½)·π/N_c − π/2 [rad] of class ``index``."""
    return (jnp.asarray(index) + 0.5) * math.pi / n_classes - math.pi / 2


# ---------------------------------------------------------------------------------------------
# rates and spikes
# ---------------------------------------------------------------------------------------------


def phase_delays(stimulus: StimulusConfig) -> Float[Array, " inputs"]:
    """Phase delays ψ [rad] of all input fibres: linspace(0, π/2, N_ψ) for each ear.

    Zero everywhere when ``stimulus.phase_delays`` is False. With N_ψ = 1 the single fibre
    has ψ = 0.
    """
    n = stimulus.fibres_per_ear
    if stimulus.phase_delays and n > 1:
        per_ear = jnp.linspace(0.0, math.pi / 2, n)
    else:
        per_ear = jnp.zeros(n)
    return jnp.concatenate([per_ear, per_ear])


def jittered_phase_delays(key: Array, stimulus: StimulusConfig) -> Float[Array, " inputs"]:
    """Phase delays plus N(0, σ²) jitter per fibre (σ = ``stimulus.phase_jitter`` [rad])."""
    noise = normal(key, (stimulus.n_inputs,), float)
    return phase_delays(stimulus) + stimulus.phase_jitter * noise


def spike_probability(
    ipd: Float[ArrayLike, " batch"],
    phase_offset: Float[ArrayLike, "*batch"],
    delays: Float[ArrayLike, " inputs"],
    stimulus: StimulusConfig,
    fast: bool = False,
) -> Float[Array, "batch time inputs"]:
    """Probability of a spike in each step for each sample and fibre.

    Args:
        ipd: interaural phase difference α of each sample [rad].
        phase_offset: φ0 [rad], one per sample or a scalar shared by the batch.
        delays: phase delay ψ of each input fibre [rad] (see :func:`phase_delays`).
        stimulus: the task config.
        fast: evaluate the sines of θ = ω·t + β (β = φ0 + α·ear + ψ) as
            sin ω·t·cos β + cos ω·t·sin β, from T + batch·inputs sines instead of one or
            four per slot, and the envelope x^k as x·x for k = 2, else exp(k·ln x) (XLA's
            CPU ``pow`` with a traced exponent is slow): the same function to a few
            float32 ulps, several times faster on a CPU. Spike generation uses it only with
            ``stimulus.fast_rates``; every saved data set was drawn with the direct form.

    Returns:
        ``R_max·dt·((1 + sin θ)/2)^k`` with θ evaluated at t·dt (the original), or with
        ``exact_rates`` the exact integral of ``R_max·((1 + sin θ)/2)²`` over
        [t·dt, (t + 1)·dt].
    """
    if not fast:
        return _probability(ipd, phase_offset, delays, stimulus, fast)
    return _with_static_square(
        stimulus, lambda stim: _probability(ipd, phase_offset, delays, stim, fast))


def _probability(ipd: ArrayLike, phase_offset: ArrayLike, delays: ArrayLike,
                 stimulus: StimulusConfig, fast: bool, time_major: bool = False) -> Array:
    """:func:`spike_probability`, with a traced envelope power k taken as a general power;
    [batch, time, inputs], or [time, batch, inputs] when ``time_major`` (the same values:
    every slot is computed alone)."""
    ipd = jnp.asarray(ipd, jnp.float32)
    phase_offset = jnp.broadcast_to(jnp.asarray(phase_offset, jnp.float32), ipd.shape)
    n, dt = stimulus.fibres_per_ear, stimulus.dt
    ear = jnp.concatenate([jnp.zeros(n), jnp.ones(n)])  # i = 0 left, 1 right
    omega = TWO_PI * stimulus.frequency
    t = jnp.arange(stimulus.n_steps, dtype=jnp.float32) * dt
    if fast:
        beta = phase_offset[:, None] + ear[None, :] * ipd[:, None] + jnp.asarray(delays)
        sin_b, cos_b = jnp.sin(beta), jnp.cos(beta)  # [batch, inputs]
        # contractions over the pair (sin ω·t, cos ω·t), so that XLA evaluates the T +
        # batch·inputs sines once (fused into an elementwise loop it would evaluate them
        # again for every slot)
        wt_pair = jnp.stack([jnp.sin(omega * t), jnp.cos(omega * t)])  # [2, time]
        out = "tbi" if time_major else "bti"
        sin_theta = jnp.einsum(f"kt,bki->{out}", wt_pair, jnp.stack([cos_b, sin_b], 1))
        cos_theta = jnp.einsum(f"kt,bki->{out}", wt_pair, jnp.stack([-sin_b, cos_b], 1))
    else:
        if time_major:  # the terms broadcast to [time, batch, inputs]
            wt, phase, alpha = (omega * t[:, None, None], phase_offset[None, :, None],
                                ipd[None, :, None])
        else:  # to [batch, time, inputs]
            wt, phase, alpha = (omega * t[None, :, None], phase_offset[:, None, None],
                                ipd[:, None, None])
        psi = jnp.asarray(delays)[None, None, :]
        # this order of sums: the saved data sets' rounding
        theta = wt + phase + ear[None, None, :] * alpha + psi
    if stimulus.exact_rates:
        if fast:  # θ_end = θ + ω·dt
            cos_step, sin_step = jnp.cos(omega * dt), jnp.sin(omega * dt)
            sin_end = sin_theta * cos_step + cos_theta * sin_step
            cos_end = cos_theta * cos_step - sin_theta * sin_step
            cos_start = cos_theta
            sin2_start, sin2_end = 2 * sin_theta * cos_theta, 2 * sin_end * cos_end
        else:
            theta_end = theta + omega * dt
            cos_start, cos_end = jnp.cos(theta), jnp.cos(theta_end)
            sin2_start, sin2_end = jnp.sin(2 * theta), jnp.sin(2 * theta_end)
        integral = 0.25 * (1.5 * dt
                           - 2.0 * (cos_end - cos_start) / omega
                           - 0.25 * (sin2_end - sin2_start) / omega)
        return jnp.clip(stimulus.rate_max * integral, 0.0, 1.0)
    if not fast:
        return stimulus.rate_max * dt * (0.5 * (1.0 + jnp.sin(theta))) ** stimulus.envelope_power
    return stimulus.rate_max * dt * _fast_power(0.5 * (1.0 + sin_theta), stimulus.envelope_power)


def _fast_power(x: Array, power: Leaf) -> Array:
    """x^k for x ≥ 0: a constant k is left to XLA (which multiplies for a whole power), a
    traced one is exp(k·ln x) (see :func:`_with_static_square`)."""
    if isinstance(power, int | float):
        return x**power
    return jnp.exp(power * jnp.log(jnp.maximum(x, np.finfo(np.float32).tiny)))


def _with_static_square(stimulus: StimulusConfig, compute: Callable[[StimulusConfig], _Out]
                        ) -> _Out:
    """``compute(stimulus)`` for the fast spike probabilities, whose envelope x^k is x·x when
    k = 2 (the default). A traced k picks its branch at run time: ``compute`` with k = 2 as a
    constant, or with k as given (both run, and the k = 2 values are taken where k = 2, when
    a batch of k is vmapped). The branch goes around the whole of ``compute``, so that XLA
    fuses each branch into one loop; a branch around the power alone would make XLA
    materialise its operand, which costs more than the power."""
    power = stimulus.envelope_power
    if isinstance(power, int | float) or stimulus.exact_rates:
        return compute(stimulus)
    return lax.cond(power == 2.0, lambda: compute(stimulus.replace(envelope_power=2)),
                    lambda: compute(stimulus))


def poisson_noise(keys: Array, stimulus: StimulusConfig,
                  time_major: bool = False
                  ) -> Float[Array, "batch time inputs"] | Float[Array, "time batch inputs"]:
    """Uniform [0, 1) noise of each sample, drawn from that sample's own key: the numbers of
    ``jax.random.uniform(key, (time, inputs))``, computed by :func:`sslax.threefry.uniform`;
    [time, batch, inputs] when ``time_major``."""
    shape = (stimulus.n_steps, stimulus.n_inputs)
    return jax.vmap(lambda k: uniform(k, shape), out_axes=1 if time_major else 0)(keys)


def sample_spikes(
    noise_keys: Array,
    ipd: Float[ArrayLike, " batch"],
    phase_offset: Float[ArrayLike, "*batch"],
    delays: Float[ArrayLike, " inputs"],
    stimulus: StimulusConfig,
    time_major: bool = False,
) -> Bool[Array, "batch time inputs"] | Bool[Array, "time batch inputs"]:
    """Bernoulli spikes ``noise < p`` (the original's ``rand() < p``), one key per sample;
    ``p`` the fast way with ``stimulus.fast_rates``. [batch, time, inputs], or the same
    spikes as [time, batch, inputs] when ``time_major`` (what the network reads: generated
    in its order, they need no transposing copy)."""
    def draw(stim: StimulusConfig) -> Array:
        p = _probability(ipd, phase_offset, delays, stim, stim.fast_rates, time_major)
        return poisson_noise(noise_keys, stim, time_major) < p

    return _with_static_square(stimulus, draw) if stimulus.fast_rates else draw(stimulus)


# ---------------------------------------------------------------------------------------------
# bit packing
# ---------------------------------------------------------------------------------------------


def pack_spikes(spikes: Bool[Array, "*lead inputs"]) -> UInt8[Array, "*lead bytes"]:
    """Pack a boolean spike array 8 fibres per byte along the last axis."""
    return jnp.packbits(spikes, axis=-1)


def unpack_spikes(packed: UInt8[Array, "*lead bytes"],
                  n_inputs: int) -> Bool[Array, "*lead inputs"]:
    """Inverse of :func:`pack_spikes`."""
    return jnp.unpackbits(packed, axis=-1, count=n_inputs).astype(bool)


# ---------------------------------------------------------------------------------------------
# data sets
# ---------------------------------------------------------------------------------------------


@struct.dataclass
class Dataset:
    """Generated IPD samples.

    Attributes:
        ipd: α of each sample [rad], shape [samples].
        phase_offset: φ0 of each sample [rad], shape [samples].
        delays: phase delays ψ of the fibres for this data set [rad], shape [inputs].
        noise_keys: one PRNG key per sample; regenerates its Poisson noise exactly.
        spikes: spikes as bool [samples, time, inputs], or bit-packed as uint8 [samples,
            time, ceil(inputs / 8)], or ``None`` for a frozen-noise set that is regenerated
            per batch (per-epoch φ0 mode).
    """

    ipd: Leaf
    phase_offset: Leaf
    delays: Leaf
    noise_keys: Leaf
    spikes: Leaf = None

    @property
    def n_samples(self) -> int:
        return self.ipd.shape[0]

    def labels(self, n_classes: int) -> Int[Array, " samples"]:
        """Class index of every sample."""
        return ipd_to_class(self.ipd, n_classes)

    def map_samples(self, fn: Callable[[Array], Array]) -> Dataset:
        """``fn`` applied to each per-sample field (IPDs, φ0, noise keys and stored spikes,
        if any; not the set's phase delays)."""
        return self.replace(ipd=fn(self.ipd), phase_offset=fn(self.phase_offset),
                            noise_keys=fn(self.noise_keys),
                            spikes=None if self.spikes is None else fn(self.spikes))


def make_dataset(
    key: Array,
    n_samples: int,
    stimulus: StimulusConfig,
    phase_offset: str | None = None,
    store_spikes: bool = True,
    spike_storage: str = "bool",
    chunk_size: int = 256,
) -> Dataset:
    """Draw ``n_samples`` IPD samples: α, φ0, phase-delay jitter and frozen noise keys.

    Args:
        key: PRNG key; split by role into IPD, φ0, jitter and noise keys.
        n_samples: number of samples (static).
        stimulus: the task config.
        phase_offset: ``"per_dataset"`` (one φ0 for the set) or ``"per_sample"``; defaults to
            ``stimulus.phase_offset`` with ``"per_epoch"`` read as ``"per_dataset"`` (the
            initial draw; training redraws per epoch, see :func:`batch_inputs`).
        store_spikes: generate and store the spikes now (``False``: keep only the keys,
            spikes are generated when a batch is drawn).
        spike_storage: ``"bool"`` or ``"bits"`` (bit-packed, 8× smaller).
        chunk_size: samples generated at a time, bounding the float32 working memory.
    """
    mode = phase_offset or stimulus.phase_offset
    k_ipd, k_phase, k_jitter, k_noise = split(key, 4)
    ipd = uniform(k_ipd, (n_samples,), -math.pi / 2, math.pi / 2, float)
    if mode == "per_sample":
        phi0 = TWO_PI * uniform(k_phase, (n_samples,), dtype=float)
    else:
        phi0 = jnp.full((n_samples,), TWO_PI * uniform(k_phase, (), dtype=float))
    delays = jittered_phase_delays(k_jitter, stimulus)
    noise_keys = split(k_noise, n_samples)
    data = Dataset(ipd=ipd, phase_offset=phi0, delays=delays, noise_keys=noise_keys)
    if not store_spikes:
        return data
    return data.replace(spikes=stored_spikes(data, stimulus, spike_storage, chunk_size))


def stored_spikes(data: Dataset, stimulus: StimulusConfig, spike_storage: str = "bool",
                  chunk_size: int = 256) -> Array:
    """The spikes :func:`make_dataset` stores for ``data``'s samples (pure): generated
    ``chunk_size`` samples at a time, bool [samples, time, inputs] or bit-packed uint8.

    Any run of whole chunks gives the same spikes as the whole set (each sample depends only
    on its own key, α and φ0), which is how :func:`sslax.datagen.fill_spikes` splits the work
    over the CPU cores."""

    def stored_sample(args: tuple[Array, Array, Array]) -> Array:
        key, alpha, phi = args  # one sample; lax.map vmaps this over chunks of samples
        spikes = sample_spikes(key[None], alpha[None], phi[None], data.delays, stimulus)[0]
        return pack_spikes(spikes) if spike_storage == "bits" else spikes

    return jax.lax.map(stored_sample, (data.noise_keys, data.ipd, data.phase_offset),
                       batch_size=chunk_size)


def draw_like(key: Array, n_samples: int, template: Dataset,
              per_sample_phase: bool) -> Dataset:
    """New samples from the distribution of ``template``: fresh IPDs and Poisson noise, the
    template's phase delays (and jitter pattern), and its φ0 (or a new φ0 per sample).

    Spikes are not stored: :func:`batch_inputs` generates them. Used for ``fresh`` data mode,
    where every batch is new data from the training set's distribution.
    """
    k_ipd, k_phase, k_noise = split(key, 3)
    ipd = uniform(k_ipd, (n_samples,), -math.pi / 2, math.pi / 2, float)
    if per_sample_phase:
        phi0 = TWO_PI * uniform(k_phase, (n_samples,), dtype=float)
    else:
        phi0 = jnp.full((n_samples,), template.phase_offset[0])
    return Dataset(ipd=ipd, phase_offset=phi0, delays=template.delays,
                   noise_keys=split(k_noise, n_samples))


def batch_inputs(
    data: Dataset,
    index: Int[ArrayLike, " batch"],
    stimulus: StimulusConfig,
    phase_offset: Float[ArrayLike, " batch"] | None = None,
) -> Float[Array, "time batch inputs"]:
    """Time-major float32 input spikes of samples ``index``.

    Stored spikes are gathered (and unpacked from bits); a frozen-noise set is regenerated
    from its noise keys with ``phase_offset`` (default: the set's own φ0).
    """
    if data.spikes is not None and phase_offset is None:
        spikes = data.spikes[index]
        if spikes.dtype == jnp.uint8:
            spikes = unpack_spikes(spikes, stimulus.n_inputs)
        spikes = jnp.swapaxes(spikes, 0, 1)
    else:
        phi0 = data.phase_offset[index] if phase_offset is None else phase_offset
        spikes = sample_spikes(data.noise_keys[index], data.ipd[index], phi0, data.delays,
                               stimulus, time_major=True)
    return spikes.astype(jnp.float32)
