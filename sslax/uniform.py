"""Uniform random numbers, the same ones ``jax.random.uniform`` draws, drawn faster on a CPU.

Generating input spikes is bound by the random numbers: one float32 uniform per sample, step
and fibre (82 million for a 4 096-sample set). ``jax.random.uniform`` hashes a counter with
the Threefry-2x32 block cipher; on a CPU, JAX lowers the cipher's five blocks of rounds as a
loop, so XLA makes five passes over memory and does not vectorise the rounds. Written out
here as one expression, XLA fuses the whole cipher and the float conversion into one
vectorised loop: about 5× faster on the 2-core CPU, and **bit-identical** to
``jax.random.uniform(key, shape)`` (the test suite compares them for several keys and
shapes), so no generated data set changes.

The bits follow JAX's ``jax_threefry_partitionable`` scheme (the default): element *i* of the
flattened shape is ``y0 ^ y1`` with ``(y0, y1) = threefry2x32(key, (0, i))``; its top 23 bits
become the mantissa of a float in [1, 2), minus 1. Keys of another implementation, or with
that flag off, fall back to ``jax.random.uniform``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax

# rotation distances of the 2x32 cipher, alternating every four rounds
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(x: Array, distance: int) -> Array:
    return (x << np.uint32(distance)) | (x >> np.uint32(32 - distance))


def threefry2x32(key: tuple[Array, Array], x0: Array, x1: Array) -> tuple[Array, Array]:
    """The Threefry-2x32 block cipher with 20 rounds (Salmon et al., 2011) on uint32 arrays:
    five blocks of four mix rounds, the key schedule injected after each block."""
    k0, k1 = key
    schedule = (k0, k1, k0 ^ k1 ^ _KEY_PARITY)
    x0, x1 = x0 + k0, x1 + k1
    for block in range(5):
        for distance in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = _rotate_left(x1, distance) ^ x0
        x0 = x0 + schedule[(block + 1) % 3]
        x1 = x1 + schedule[(block + 2) % 3] + np.uint32(block + 1)
    return x0, x1


def _threefry_words(key: Array) -> tuple[Array, Array] | None:
    """The two uint32 key words of a Threefry key (typed or raw), or ``None`` when the key
    is of another implementation or JAX's bits would not follow the partitionable scheme."""
    if not jax.config.jax_threefry_partitionable:
        return None
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if "threefry" not in str(jax.random.key_impl(key)):
            return None
        key = jax.random.key_data(key)
    if key.shape != (2,) or key.dtype != jnp.uint32:
        return None
    return key[0], key[1]


def uniform(key: Array, shape: tuple[int, ...]) -> Array:
    """Float32 uniforms in [0, 1) of ``shape``, equal bit for bit to
    ``jax.random.uniform(key, shape)`` (one key, not a batch of keys: ``vmap`` it)."""
    words = _threefry_words(key)
    size = math.prod(shape)
    if words is None or size >= 2**32:
        return jax.random.uniform(key, shape)
    count = lax.iota(jnp.uint32, size).reshape(shape)
    y0, y1 = threefry2x32(words, jnp.zeros(shape, jnp.uint32), count)
    mantissa = ((y0 ^ y1) >> np.uint32(9)) | np.uint32(0x3F800000)  # a float in [1, 2)
    return lax.max(np.float32(0.0), lax.bitcast_convert_type(mantissa, jnp.float32) - 1.0)
