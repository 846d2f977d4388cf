"""The fused uniform generator: the Threefry-2x32 cipher against its published known answers,
and every draw bit-identical to ``jax.random.uniform`` (the independent reference)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sslax.uniform import threefry2x32, uniform

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


@pytest.mark.parametrize("shape", [(1,), (7,), (25, 16), (3, 5, 2)])
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
