"""The fused Threefry generators: the Threefry-2x32 cipher against its published known
answers, and every draw, split and fold bit-identical to ``jax.random`` (the independent
reference)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sslax.threefry import (
    fold_in,
    key_from_seed,
    normal,
    permutation,
    split,
    threefry2x32,
    uniform,
)

# Known-answer vectors of Threefry-2x32 with 20 rounds (Random123's kat_vectors):
# key, counter -> output
KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize(("key", "counter", "expected"), KNOWN_ANSWERS)
def test_threefry_known_answers(key, counter, expected):
    words = tuple(jnp.uint32(k) for k in key)
    out = threefry2x32(words, jnp.uint32(counter[0]), jnp.uint32(counter[1]))
    assert tuple(int(o) for o in out) == expected


@pytest.mark.parametrize("shape", [(), (1,), (7,), (25, 16), (3, 5, 2)])
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_uniform_equals_jax_random_uniform(shape, seed):
    key = jax.random.key(seed)
    np.testing.assert_array_equal(np.asarray(uniform(key, shape)),
                                  np.asarray(jax.random.uniform(key, shape)))


def test_uniform_batched_and_raw_keys():
    """Under vmap over split keys (how spikes are drawn), jitted, and with a raw uint32 key."""
    keys = jax.random.split(jax.random.key(3), 9)
    ours = jax.jit(jax.vmap(lambda k: uniform(k, (100, 20))))(keys)
    ref = jax.vmap(lambda k: jax.random.uniform(k, (100, 20)))(keys)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))
    raw = jax.random.PRNGKey(5)
    np.testing.assert_array_equal(np.asarray(uniform(raw, (33,))),
                                  np.asarray(jax.random.uniform(raw, (33,))))


def test_other_key_implementations_fall_back():
    key = jax.random.key(0, impl="rbg")
    np.testing.assert_array_equal(np.asarray(uniform(key, (10,))),
                                  np.asarray(jax.random.uniform(key, (10,))))


@pytest.mark.parametrize("seed", [0, 7, 2**31 + 5])
def test_split_and_fold_in_equal_jax_random(seed):
    key = jax.random.key(seed)
    for num in (1, 2, 3, 4, 64, 1000):
        np.testing.assert_array_equal(np.asarray(jax.random.key_data(split(key, num))),
                                      np.asarray(jax.random.key_data(jax.random.split(key, num))))
    for data in (0, 1, 5, 2**31 - 1, 2**32 - 1):
        np.testing.assert_array_equal(
            np.asarray(jax.random.key_data(fold_in(key, data))),
            np.asarray(jax.random.key_data(jax.random.fold_in(key, data))))
    # traced data and jitted, raw keys stay raw, typed keys keep their implementation
    folded = jax.jit(jax.vmap(fold_in, in_axes=(None, 0)))(key, jnp.arange(50))
    expected = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(50))
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(folded)),
                                  np.asarray(jax.random.key_data(expected)))
    raw = jax.random.PRNGKey(seed)
    np.testing.assert_array_equal(np.asarray(split(raw, 5)),
                                  np.asarray(jax.random.split(raw, 5)))
    assert jax.random.key_impl(split(key, 2)) == jax.random.key_impl(key)


@pytest.mark.parametrize(("minval", "maxval"), [(-math.pi / 2, math.pi / 2), (0.0, 2 * math.pi),
                                                (-3.0, -1.0), (0.25, 0.5)])
def test_bounded_uniform_equals_jax_random_uniform(minval, maxval):
    for seed in (0, 11, 99):
        key = jax.random.key(seed)
        ours = jax.jit(lambda k, lo=minval, hi=maxval: uniform(k, (4096,), lo, hi))(key)
        ref = jax.random.uniform(key, (4096,), minval=minval, maxval=maxval)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))
        assert minval <= float(ours.min()) and float(ours.max()) < maxval


def test_other_key_implementations_fall_back_in_split_and_fold_in():
    key = jax.random.key(0, impl="rbg")
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(split(key, 3))),
                                  np.asarray(jax.random.key_data(jax.random.split(key, 3))))
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(fold_in(key, 4))),
                                  np.asarray(jax.random.key_data(jax.random.fold_in(key, 4))))


@pytest.mark.parametrize("shape", [(), (200,), (30, 7)])
def test_normal_equals_jax_random_normal(shape):
    for seed in (0, 3, 2024):
        key = jax.random.key(seed)
        np.testing.assert_array_equal(np.asarray(jax.jit(normal, static_argnums=1)(key, shape)),
                                      np.asarray(jax.random.normal(key, shape)))


def test_other_dtypes_fall_back(x64):
    key = jax.random.key(1)
    pairs = ((uniform(key, (9,), -1.0, 2.0, float), jax.random.uniform(key, (9,), float, -1, 2)),
             (normal(key, (9,), float), jax.random.normal(key, (9,), float)))
    for ours, ref in pairs:
        assert ours.dtype == jnp.float64
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))


@pytest.mark.parametrize("n", [1, 2, 17, 4096, 70_000])
def test_permutation_equals_jax_random_permutation(n):
    for seed in (0, 5):
        key = jax.random.key(seed)
        ours = jax.jit(permutation, static_argnums=1)(key, n)
        np.testing.assert_array_equal(np.asarray(ours),
                                      np.asarray(jax.random.permutation(key, n)))
        assert sorted(np.asarray(ours).tolist()) == list(range(n))


@pytest.mark.parametrize("seed", [0, 1, 2**31 - 1, 2**31, 2**32 - 1])
def test_key_from_seed_equals_jax_random_key(seed):
    key = key_from_seed(seed)
    assert jax.random.key_impl(key) == jax.random.key_impl(jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(key)),
                                  np.asarray(jax.random.key_data(jax.random.key(seed))))


def test_key_from_seed_falls_back_to_other_default_implementations():
    with jax.default_prng_impl("rbg"):
        key = key_from_seed(3)
        expected = jax.random.key(3)
    assert "rbg" in str(jax.random.key_impl(key))
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(key)),
                                  np.asarray(jax.random.key_data(expected)))


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_key_from_seed_refuses_seeds_out_of_range(seed):
    with pytest.raises(ValueError, match=f"seed = {seed}"):
        key_from_seed(seed)
