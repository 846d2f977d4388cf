"""The IPD stimulus: rates against independent formulas, spike statistics, phase structure,
classes, bit packing and data-set generation."""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sslax.config import StimulusConfig
from sslax.stimulus import (
    batch_inputs,
    class_to_ipd,
    ipd_to_class,
    jittered_phase_delays,
    pack_spikes,
    phase_delays,
    sample_spikes,
    spike_probability,
    unpack_spikes,
)
from sslax.stimulus import make_dataset as _make_dataset

TINY_STIM = dict(fibres_per_ear=8, duration=0.025)  # T = 25, 16 inputs

# make_dataset is not jitted by the library; jitting it here lets tests share compiles
make_dataset = jax.jit(
    _make_dataset,
    static_argnums=(1, 3),
    static_argnames=("store_spikes", "spike_storage", "chunk_size"),
)


def wrap(angle):
    """Angle to (−π, π]."""
    return np.angle(np.exp(1j * np.asarray(angle)))


def probability_np(alpha, phi0, psi, stim, power=None):
    """R_max·dt·((1 + sin θ)/2)^k with θ_ij(t) = 2π f t dt + φ0 + i·α + ψ_j, [batch, time, in]."""
    power = stim.envelope_power if power is None else power
    n = stim.fibres_per_ear
    ear = np.r_[np.zeros(n), np.ones(n)]
    t = np.arange(stim.n_steps) * stim.dt
    theta = (
        2 * np.pi * stim.frequency * t[None, :, None]
        + np.asarray(phi0)[:, None, None]
        + ear * np.asarray(alpha)[:, None, None]
        + np.asarray(psi)
    )
    return stim.rate_max * stim.dt * ((1 + np.sin(theta)) / 2) ** power


def exact_probability_np(alpha, phi0, psi, stim, n_sub=2000):
    """Trapezoid-rule integral of R_max((1 + sin θ)/2)² over each step [t dt, (t+1) dt]."""
    n = stim.fibres_per_ear
    ear = np.r_[np.zeros(n), np.ones(n)]
    frac = np.linspace(0.0, 1.0, n_sub + 1)
    out = np.empty((len(alpha), stim.n_steps, 2 * n))
    for step in range(stim.n_steps):
        s = (step + frac) * stim.dt  # sub-grid of this step
        theta = (
            2 * np.pi * stim.frequency * s[None, :, None]
            + np.asarray(phi0)[:, None, None]
            + ear * np.asarray(alpha)[:, None, None]
            + np.asarray(psi)
        )
        rate = stim.rate_max * ((1 + np.sin(theta)) / 2) ** 2
        out[:, step] = np.trapezoid(rate, s, axis=1)
    return out


# ---------------------------------------------------------------------------------------------
# rates
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("power", [0.0, 2.0, 3.0])
def test_spike_probability_matches_formula(power, fast):
    stim = StimulusConfig(fibres_per_ear=5, duration=0.03, envelope_power=power)
    alpha = np.array([-1.2, 0.0, 0.7])
    phi0 = np.array([0.3, 2.0, 5.5])
    psi = np.asarray(phase_delays(stim))
    p = np.asarray(spike_probability(alpha, phi0, psi, stim, fast=fast))
    assert p.shape == (3, 30, 10)
    np.testing.assert_allclose(p, probability_np(alpha, phi0, psi, stim), rtol=1e-5, atol=2e-6)
    # with the config traced (as in training), k is a run-time value
    traced = jax.jit(spike_probability, static_argnames="fast")(alpha, phi0, psi, stim, fast=fast)
    np.testing.assert_allclose(np.asarray(traced), p, rtol=1e-5, atol=2e-6)
    # the right ear (inputs 5…9) is the left ear shifted in phase by α
    shifted = probability_np(np.zeros(3), phi0 + alpha, psi, stim)
    np.testing.assert_allclose(p[:, :, 5:], shifted[:, :, :5], rtol=1e-5, atol=2e-6)
    # a scalar φ0 is shared by the batch
    p_scalar = np.asarray(spike_probability(alpha, 0.3, psi, stim, fast=fast))
    np.testing.assert_allclose(
        p_scalar, probability_np(alpha, np.full(3, 0.3), psi, stim), rtol=1e-5, atol=2e-6
    )


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("frequency", [20.0, 50.0])
def test_exact_rates_match_numerical_integral(frequency, fast):
    stim = StimulusConfig(fibres_per_ear=3, duration=0.02, frequency=frequency, exact_rates=True)
    alpha, phi0 = np.array([-0.4, 1.1]), np.array([4.0, 0.2])
    psi = np.asarray(phase_delays(stim))
    p = np.asarray(spike_probability(alpha, phi0, psi, stim, fast=fast))
    expected = exact_probability_np(alpha, phi0, psi, stim)
    np.testing.assert_allclose(p, expected, rtol=1e-4, atol=5e-6)
    # it is not the sampled rate of the default mode (the two differ by O(ω dt))
    sampled = probability_np(alpha, phi0, psi, stim)
    assert np.abs(expected - sampled).max() > 1e-3


def test_exact_rates_sum_over_a_cycle():
    """Over one whole period the integral is R_max·(3/8)·period for every fibre."""
    stim = StimulusConfig(fibres_per_ear=4, duration=0.02, frequency=50.0, exact_rates=True)
    p = np.asarray(spike_probability(np.array([0.9]), np.array([1.3]), phase_delays(stim), stim))
    np.testing.assert_allclose(p.sum(axis=1), stim.rate_max * 3 / 8 * 0.02, rtol=1e-5)


def test_phase_delays():
    for n in (2, 5, 100):
        stim = StimulusConfig(fibres_per_ear=n)
        psi = np.asarray(phase_delays(stim))
        per_ear = np.arange(n) * (np.pi / 2) / (n - 1)
        np.testing.assert_allclose(psi, np.r_[per_ear, per_ear], rtol=1e-6, atol=1e-7)
        assert psi[0] == 0.0
        assert psi[n - 1] == pytest.approx(np.pi / 2)
        off = np.asarray(phase_delays(StimulusConfig(fibres_per_ear=n, phase_delays=False)))
        np.testing.assert_array_equal(off, np.zeros(2 * n))
    np.testing.assert_array_equal(
        np.asarray(phase_delays(StimulusConfig(fibres_per_ear=1))), [0.0, 0.0]
    )


def test_phase_jitter_has_requested_std():
    sigma = 0.3
    stim = StimulusConfig(fibres_per_ear=2000, phase_jitter=sigma)
    base = np.asarray(phase_delays(stim))
    noise = np.asarray(jittered_phase_delays(jax.random.key(0), stim)) - base
    assert np.std(noise) == pytest.approx(sigma, rel=0.05)  # SE ≈ 1.1 %
    assert abs(np.mean(noise)) < 4 * sigma / np.sqrt(noise.size)
    other = np.asarray(jittered_phase_delays(jax.random.key(1), stim)) - base
    assert not np.allclose(noise, other)
    plain = StimulusConfig(fibres_per_ear=2000)
    np.testing.assert_array_equal(np.asarray(jittered_phase_delays(jax.random.key(0), plain)), base)


def test_dataset_jitter_is_one_pattern_per_set():
    stim = StimulusConfig(phase_jitter=0.2, **TINY_STIM)
    base = np.asarray(phase_delays(stim))
    a = make_dataset(jax.random.key(0), 6, stim, store_spikes=False)
    b = make_dataset(jax.random.key(1), 6, stim, store_spikes=False)
    assert a.delays.shape == (16,)
    assert np.abs(np.asarray(a.delays) - base).max() > 0.05
    assert not np.allclose(np.asarray(a.delays), np.asarray(b.delays))


# ---------------------------------------------------------------------------------------------
# spike statistics on a 512-sample set of the default 200-fibre stimulus (one whole cycle)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_set():
    stim = StimulusConfig(duration=0.05)  # 20 Hz: exactly one cycle in T = 50 steps
    data = make_dataset(jax.random.key(7), 512, stim)
    x = np.asarray(batch_inputs(data, jnp.arange(512), stim))  # [time, batch, inputs]
    return stim, data, x


def test_big_set_layout(big_set):
    stim, data, x = big_set
    assert x.shape == (50, 512, 200)
    assert x.dtype == np.float32
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert data.spikes.dtype == jnp.bool_
    assert data.spikes.shape == (512, 50, 200)


def test_bit_packed_storage_gives_the_same_inputs(big_set):
    stim, data, x = big_set
    packed = make_dataset(jax.random.key(7), 512, stim, spike_storage="bits")
    assert packed.spikes.dtype == jnp.uint8
    assert packed.spikes.shape == (512, 50, 25)
    index = jnp.asarray([5, 0, 511, 77])
    np.testing.assert_array_equal(np.asarray(batch_inputs(packed, index, stim)),
                                  x[:, np.asarray(index)])


def test_fast_rates_flip_only_spikes_within_ulps_of_the_threshold(big_set):
    """The same keys with ``fast_rates``: the same noise against probabilities a few ulps
    away, so only slots whose uniform lies within that distance of p change."""
    stim, data, x = big_set
    fast_stim = stim.replace(fast_rates=True)
    fast = make_dataset(jax.random.key(7), 512, fast_stim)
    x_fast = np.asarray(batch_inputs(fast, jnp.arange(512), fast_stim))
    flipped = np.argwhere(x_fast != x)
    assert len(flipped) <= 1e-5 * x.size  # of 5.1 million slots
    p = np.asarray(spike_probability(data.ipd, data.phase_offset, data.delays, stim))
    p_fast = np.asarray(spike_probability(data.ipd, data.phase_offset, data.delays, stim,
                                          fast=True))
    assert 0 < np.abs(p_fast - p).max() < 1e-6  # not the same computation, the same values
    for t, b, i in flipped:
        u = np.asarray(jax.random.uniform(data.noise_keys[b], (50, 200)))[t, i]
        assert min(p[b, t, i], p_fast[b, t, i]) <= u < max(p[b, t, i], p_fast[b, t, i])


def test_fast_rates_with_a_traced_envelope_power_match_the_constant_config(big_set):
    """Training traces the config, so the envelope power k is a run-time value there: the
    spikes must be those of the config as constants (x·x for k = 2), and a vmapped batch of
    k must give each member the spikes of its own k."""
    stim, data, _ = big_set
    index = jnp.arange(0, 512, 7)

    def spikes(stimulus: StimulusConfig) -> jax.Array:
        return sample_spikes(data.noise_keys[index], data.ipd[index],
                             data.phase_offset[index], data.delays, stimulus)

    fast = stim.replace(fast_rates=True)
    p = partial(spike_probability, data.ipd[index], data.phase_offset[index], data.delays,
                fast=True)
    np.testing.assert_array_equal(np.asarray(jax.jit(p)(fast)),
                                  np.asarray(jax.jit(lambda: p(fast))()))
    constant = np.asarray(spikes(fast))
    traced = np.asarray(jax.jit(spikes)(fast))
    np.testing.assert_array_equal(traced, constant)
    cubed = np.asarray(jax.jit(spikes)(fast.replace(envelope_power=3.0)))
    assert cubed.sum() < 0.9 * constant.sum()  # the other branch: a narrower envelope
    both = np.asarray(jax.vmap(lambda k: spikes(fast.replace(envelope_power=k)))(
        jnp.asarray([2.0, 3.0])))
    np.testing.assert_array_equal(both[0], constant)
    np.testing.assert_array_equal(both[1], cubed)


def test_stored_spikes_match_an_independent_computation(big_set):
    """A data set from first principles: its draws are ``jax.random``'s for the documented
    key roles (IPD, φ0, jitter, noise), and each stored spike is u < p, with u =
    ``jax.random.uniform(sample key, (time, inputs))`` and p from the NumPy formula in
    float64. The two may differ only where u lies within float32 rounding of p."""
    stim, data, x = big_set
    k_ipd, k_phase, _, k_noise = jax.random.split(jax.random.key(7), 4)
    ipd = np.asarray(jax.random.uniform(k_ipd, (512,), minval=-np.pi / 2, maxval=np.pi / 2))
    phi0 = np.full(512, np.float32(2 * np.pi) * np.asarray(jax.random.uniform(k_phase, ())))
    keys = jax.random.split(k_noise, 512)
    np.testing.assert_array_equal(np.asarray(data.ipd), ipd)
    np.testing.assert_array_equal(np.asarray(data.phase_offset), phi0)
    np.testing.assert_array_equal(jax.random.key_data(data.noise_keys), jax.random.key_data(keys))
    psi = np.r_[np.linspace(0, np.pi / 2, 100), np.linspace(0, np.pi / 2, 100)]
    np.testing.assert_allclose(np.asarray(data.delays), psi, rtol=0, atol=1e-6)

    u = np.asarray(jax.vmap(lambda k: jax.random.uniform(k, (50, 200)))(keys))
    p = probability_np(ipd.astype(np.float64), phi0.astype(np.float64), psi, stim)
    expected = u < p
    spikes = np.swapaxes(x, 0, 1).astype(bool)  # [batch, time, inputs]
    differ = spikes != expected
    assert differ.sum() <= 1e-6 * differ.size  # of 5.1 million slots
    assert (np.abs(u - p)[differ] < 1e-6).all()
    assert 0.2 < spikes.mean() < 0.25  # 3/8 of R_max·dt: the comparison is not vacuous


@pytest.mark.parametrize("options", [{}, {"fast_rates": True}, {"exact_rates": True},
                                     {"fast_rates": True, "exact_rates": True}])
def test_time_major_spikes_are_the_batch_major_spikes_transposed(big_set, options):
    """Regenerated batches are drawn time-major (the network's order); every slot is
    computed alone, so they are the batch-major spikes exactly, config traced or not."""
    _, data, _ = big_set
    stim = StimulusConfig(duration=0.05, **options)
    index = jnp.arange(3, 512, 11)

    def spikes(stimulus: StimulusConfig, time_major: bool) -> jax.Array:
        return sample_spikes(data.noise_keys[index], data.ipd[index], data.phase_offset[index],
                             data.delays, stimulus, time_major=time_major)

    batch_major = np.asarray(jax.jit(spikes, static_argnums=1)(stim, False))
    time_major = np.asarray(jax.jit(spikes, static_argnums=1)(stim, True))
    assert time_major.shape == (50, len(index), 200)
    np.testing.assert_array_equal(time_major, np.swapaxes(batch_major, 0, 1))
    np.testing.assert_array_equal(np.asarray(spikes(stim, True)), time_major)


def test_mean_rate_matches_analytic_mean(big_set):
    """Over a whole cycle the mean of ((1 + sin θ)/2)² is exactly 3/8, for every sample."""
    stim, _, x = big_set
    expected = stim.rate_max * stim.dt * 3 / 8
    per_sample = x.mean(axis=(0, 2))
    se = per_sample.std(ddof=1) / np.sqrt(per_sample.size)
    assert se < 2e-3
    assert abs(per_sample.mean() - expected) < 4 * se


def test_left_ear_rates_match_probability(big_set):
    stim, data, x = big_set
    phi0 = float(data.phase_offset[0])
    psi = np.asarray(data.delays)
    p = probability_np(np.zeros(1), np.array([phi0]), psi, stim)[0, :, :100]  # left: no α
    rate = x[:, :, :100].mean(axis=1)
    sd = np.sqrt(p * (1 - p) / 512)
    well = p > 0.05  # normal approximation holds
    assert well.sum() > 2000
    assert np.abs((rate - p)[well] / sd[well]).max() < 5.5
    assert rate[p < 1e-4].sum() < 0.01  # essentially silent where p ≈ 0


def test_left_ear_peaks_at_expected_phase(big_set):
    """The fundamental of fibre j's rate has phase φ0 + ψ_j − π/2 (rate ∝ (1 + sin θ)²)."""
    stim, data, x = big_set
    omega_t = 2 * np.pi * stim.frequency * np.arange(50) * stim.dt
    rate = x[:, :, :100].mean(axis=1)  # [time, fibres]
    fundamental = np.einsum("tj,t->j", rate, np.exp(-1j * omega_t))
    expected = float(data.phase_offset[0]) + np.asarray(data.delays[:100]) - np.pi / 2
    assert np.abs(wrap(np.angle(fundamental) - expected)).max() < 0.1
    # and the empirical peak time is where θ = π/2
    peak = np.argmax(rate[:, 0])
    t_expected = (wrap(np.pi / 2 - float(data.phase_offset[0])) % (2 * np.pi)) / omega_t[1]
    assert abs(wrap((peak - t_expected) * omega_t[1])) < 0.6  # ± ~5 ms of the 50 ms cycle


def test_right_ear_is_shifted_by_ipd(big_set):
    """Per sample, the right ear's phase minus the left ear's is that sample's α."""
    stim, data, x = big_set
    omega_t = 2 * np.pi * stim.frequency * np.arange(50) * stim.dt
    psi = np.asarray(data.delays[:100])
    basis = np.exp(-1j * (omega_t[:, None] + psi[None, :]))  # [time, fibres]
    left = np.einsum("tnj,tj->n", x[:, :, :100], basis)
    right = np.einsum("tnj,tj->n", x[:, :, 100:], basis)
    estimate = wrap(np.angle(right) - np.angle(left))
    error = wrap(estimate - np.asarray(data.ipd))
    assert np.abs(error).mean() < 0.06
    assert np.abs(error).max() < 0.3


# ---------------------------------------------------------------------------------------------
# classes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [12, 7, 36])
def test_ipd_to_class_edges(n_classes):
    width = np.pi / n_classes
    edges = -np.pi / 2 + np.arange(n_classes + 1) * width
    k = np.arange(n_classes)
    inside_lo = ipd_to_class(jnp.asarray(edges[:-1] + 1e-4), n_classes)
    inside_hi = ipd_to_class(jnp.asarray(edges[1:] - 1e-4), n_classes)
    centre = ipd_to_class(jnp.asarray(edges[:-1] + width / 2), n_classes)
    for got in (inside_lo, inside_hi, centre):
        np.testing.assert_array_equal(np.asarray(got), k)
    # exact edges belong to the upper bin up to one rounding of the float32 edge value
    at_edges = np.asarray(ipd_to_class(jnp.asarray(edges[:-1]), n_classes))
    assert np.all((at_edges == k) | (at_edges == k - 1))
    assert int(ipd_to_class(-np.pi / 2, n_classes)) == 0
    # +π/2 (the closed upper end) and anything beyond are clipped into the last class
    for alpha in (np.pi / 2, np.pi / 2 + 1e-3, 2.0):
        assert int(ipd_to_class(alpha, n_classes)) == n_classes - 1
    assert int(ipd_to_class(-2.0, n_classes)) == 0


@pytest.mark.parametrize("n_classes", [12, 7])
def test_ipd_to_class_float64_matches_formula_exactly(x64, n_classes):
    edges = -np.pi / 2 + np.arange(n_classes + 1) * np.pi / n_classes
    # 1e-12 rad is thousands of float64 ulps: every value is on a well-defined side of its edge
    alpha = np.concatenate([edges + 1e-12, edges - 1e-12, np.linspace(-1.6, 1.6, 101)])
    expected = np.clip(np.floor((alpha + np.pi / 2) * n_classes / np.pi), 0, n_classes - 1)
    got = ipd_to_class(jnp.asarray(alpha), n_classes)
    np.testing.assert_array_equal(np.asarray(got), expected.astype(int))


def test_class_twelve_is_fifteen_degrees():
    alpha_deg = np.array([-90, -75.01, -74.99, -0.01, 0.01, 14.99, 15.01, 74.99, 75.01, 89.99])
    expected = [0, 0, 1, 5, 6, 6, 7, 10, 11, 11]
    got = ipd_to_class(jnp.asarray(np.deg2rad(alpha_deg)), 12)
    np.testing.assert_array_equal(np.asarray(got), expected)


@pytest.mark.parametrize("n_classes", [12, 5])
def test_class_to_ipd_midpoints(n_classes):
    k = np.arange(n_classes)
    mid = np.asarray(class_to_ipd(jnp.asarray(k), n_classes))
    np.testing.assert_allclose(mid, (k + 0.5) * np.pi / n_classes - np.pi / 2, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(ipd_to_class(jnp.asarray(mid), n_classes)), k)
    if n_classes == 12:
        np.testing.assert_allclose(np.rad2deg(mid), np.arange(-82.5, 90, 15), atol=1e-4)


# ---------------------------------------------------------------------------------------------
# packing and data sets
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_inputs", [13, 16, 200])
def test_pack_unpack_round_trip(n_inputs, rng):
    spikes = rng.random((3, 5, n_inputs)) < 0.3
    packed = pack_spikes(jnp.asarray(spikes))
    assert packed.dtype == jnp.uint8
    assert packed.shape == (3, 5, -(-n_inputs // 8))
    back = unpack_spikes(packed, n_inputs)
    assert back.dtype == jnp.bool_
    np.testing.assert_array_equal(np.asarray(back), spikes)
    np.testing.assert_array_equal(np.asarray(packed), np.packbits(spikes, axis=-1))


INDEX = jnp.array([3, 0, 7, 11, 5])


def small_set(key, stim=None, store_spikes=True):
    """12 samples, φ0 per sample, generated in chunks of 5 (12 = 5 + 5 + 2: a remainder)."""
    stim = StimulusConfig(**TINY_STIM) if stim is None else stim
    return make_dataset(
        jax.random.key(key), 12, stim, "per_sample", store_spikes=store_spikes, chunk_size=5
    )


def test_make_dataset_phase_offset_modes():
    stim = StimulusConfig(**TINY_STIM)
    key = jax.random.key(3)
    per_set = make_dataset(key, 12, stim, "per_dataset", store_spikes=False, chunk_size=5)
    phi = np.asarray(per_set.phase_offset)
    assert phi.shape == (12,)
    assert np.all(phi == phi[0])
    assert 0 <= phi[0] < 2 * np.pi
    phis = np.concatenate(
        [np.asarray(small_set(k, store_spikes=False).phase_offset) for k in range(8)]
    )
    assert len(np.unique(phis)) == phis.size
    assert phis.min() >= 0 and phis.max() < 2 * np.pi
    assert phis.std() > 1.4  # spread over the circle (uniform: 1.81)
    # the config's per_epoch mode generates its initial set with one φ0
    epoch = make_dataset(
        key,
        12,
        StimulusConfig(phase_offset="per_epoch", **TINY_STIM),
        store_spikes=False,
        chunk_size=5,
    )
    assert len(np.unique(np.asarray(epoch.phase_offset))) == 1
    per_sample = small_set(3, store_spikes=False)
    ipd = np.asarray(per_sample.ipd)
    assert ipd.min() >= -np.pi / 2 and ipd.max() <= np.pi / 2
    np.testing.assert_array_equal(
        np.asarray(per_sample.labels(12)), np.asarray(ipd_to_class(per_sample.ipd, 12))
    )


def test_make_dataset_keys():
    a, b, c = small_set(5), small_set(5), small_set(6)
    for field in ("ipd", "phase_offset", "spikes"):
        np.testing.assert_array_equal(np.asarray(getattr(a, field)), np.asarray(getattr(b, field)))
        assert not np.array_equal(np.asarray(getattr(a, field)), np.asarray(getattr(c, field)))


def test_frozen_noise_set_regenerates_stored_spikes_bit_for_bit():
    """Stored spikes (generated in chunks, with a remainder chunk) equal the spikes that a
    frozen-noise set regenerates per batch from the same keys."""
    stim = StimulusConfig(**TINY_STIM)
    stored = small_set(11)
    frozen = small_set(11, store_spikes=False)
    assert frozen.spikes is None
    index = INDEX  # samples from the first, second and remainder chunks
    x_stored = batch_inputs(stored, index, stim)
    x_frozen = batch_inputs(frozen, index, stim)
    assert x_stored.shape == (25, 5, 16)  # time-major
    assert x_stored.dtype == jnp.float32
    assert float(x_stored.sum()) > 0
    np.testing.assert_array_equal(np.asarray(x_stored), np.asarray(x_frozen))
    # a stored set with an explicit φ0 is regenerated from its noise keys too
    np.testing.assert_array_equal(
        np.asarray(batch_inputs(stored, index, stim, stored.phase_offset[index])),
        np.asarray(x_stored),
    )


def test_new_phase_offset_keeps_frozen_noise():
    """Per-epoch mode: a new φ0 changes the rates but not the uniform noise of a sample."""
    stim = StimulusConfig(**TINY_STIM)
    frozen = small_set(2, store_spikes=False)
    index = INDEX
    new_phi = jnp.linspace(0.1, 6.0, 5)
    x = np.asarray(batch_inputs(frozen, index, stim, new_phi))
    p = np.asarray(spike_probability(frozen.ipd[index], new_phi, frozen.delays, stim))
    noise = np.stack(
        [np.asarray(jax.random.uniform(frozen.noise_keys[i], (25, 16))) for i in INDEX.tolist()]
    )
    np.testing.assert_array_equal(x, np.swapaxes(noise < p, 0, 1).astype(np.float32))
    assert not np.array_equal(x, np.asarray(batch_inputs(frozen, index, stim)))


def test_spikes_follow_probability_zero_and_one():
    """rate_max·dt = 1 with a flat envelope (k = 0) spikes always; rate_max = 0 never."""
    always = StimulusConfig(rate_max=1000.0, envelope_power=0.0, **TINY_STIM)
    never = StimulusConfig(rate_max=0.0, **TINY_STIM)
    for stim, value in ((always, 1.0), (never, 0.0)):
        data = small_set(0, stim)
        np.testing.assert_array_equal(np.asarray(batch_inputs(data, INDEX, stim)), value)


def test_ipd_is_uniform():
    stim = StimulusConfig(**TINY_STIM)
    ipd = np.asarray(make_dataset(jax.random.key(9), 4096, stim, store_spikes=False).ipd)
    counts = np.bincount(np.asarray(ipd_to_class(jnp.asarray(ipd), 12)), minlength=12)
    expected = 4096 / 12
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 35  # 11 degrees of freedom: P(χ² > 35) ≈ 2.5e-4
    assert math.isclose(ipd.mean(), 0.0, abs_tol=4 * (np.pi / np.sqrt(12)) / 64)
