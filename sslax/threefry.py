"""JAX's Threefry random numbers (the same bits as ``jax.random``), drawn faster on a CPU.

Generating input spikes is bound by the random numbers: one float32 uniform per sample, step
and fibre (82 million for a 4 096-sample set). JAX draws them by hashing a counter with the
Threefry-2x32 block cipher; on a CPU it lowers the cipher's five blocks of rounds as a loop,
so XLA makes five passes over memory and does not vectorise the rounds, and each such loop
also costs about 0.1 s to compile. Written out here as one expression, XLA fuses the whole
cipher and what follows it into one vectorised loop: about 5× faster for the uniforms on the
2-core CPU, and **bit-identical** to ``jax.random`` (the test suite compares them for several
keys and shapes), so no generated data set and no run changes.

Everything follows JAX's ``jax_threefry_partitionable`` scheme (the default): element *i*
of a flattened shape hashes the counter ``(0, i)``. :func:`split` returns the pairs
``threefry2x32(key, (0, i))`` as keys, :func:`fold_in` is element ``data`` of that
sequence, and :func:`uniform` turns ``y0 ^ y1`` into a float: its top 23 bits become the
mantissa of a float in [1, 2), minus 1. Keys of another implementation, or with that flag
off, fall back to ``jax.random``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax
from jax.typing import ArrayLike, DTypeLike

from sslax.config import ConfigError

# rotation distances of the 2x32 cipher, alternating every four rounds
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(x: Array, distance: int) -> Array:
    return (x << np.uint32(distance)) | (x >> np.uint32(32 - distance))


@partial(jax.jit, inline=True)  # traced once per shape, then reused at every call site
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


def _counters(shape: tuple[int, ...]) -> tuple[Array, Array]:
    """The partitionable scheme's counters ``(0, i)`` of a shape of fewer than 2³² elements."""
    count = lax.iota(jnp.uint32, math.prod(shape)).reshape(shape)
    return jnp.zeros(shape, jnp.uint32), count


def _bits(words: tuple[Array, Array], shape: tuple[int, ...]) -> Array:
    """32 random bits per element of ``shape``: ``y0 ^ y1`` of the hashed counters."""
    y0, y1 = threefry2x32(words, *_counters(shape))
    return y0 ^ y1


def _as_keys(bits: Array, like: Array) -> Array:
    """Key data [..., 2] as keys of ``like``'s kind (typed keys, or raw uint32 pairs).

    The key data is materialised (an optimisation barrier): otherwise XLA fuses the cipher
    that made a key into each use of it, nesting cipher in cipher, and the quick start's
    data draws took 2.2 s to compile instead of 0.6 s."""
    bits = lax.optimization_barrier(bits)
    if jnp.issubdtype(like.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(bits, impl=jax.random.key_impl(like))
    return bits


def check_seed(name: str, value: Any) -> None:
    """Refuse a seed that is not a whole number in [0, 2³²), naming field ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ConfigError(
            f"{name} = {value!r} is not allowed: expected a whole number in [0, 2**32)"
        )


def key_from_seed(seed: int) -> Array:
    """``jax.random.key(seed)`` for a seed in [0, 2³²), made on the host: with the default
    Threefry implementation such a key is the words ``(0, seed)``, so no program is compiled
    for it (``jax.random.key`` compiles two small ones the first time it is called)."""
    check_seed("seed", seed)
    if "threefry" not in str(jax.config.jax_default_prng_impl):
        return jax.random.key(seed)
    return jax.random.wrap_key_data(np.array([0, seed], np.uint32))


def split(key: Array, num: int) -> Array:
    """``num`` new keys, equal to ``jax.random.split(key, num)`` (one key; ``vmap`` it)."""
    words = _threefry_words(key)
    if words is None or num >= 2**32:
        return jax.random.split(key, num)
    y0, y1 = threefry2x32(words, *_counters((num,)))
    return _as_keys(jnp.stack([y0, y1], axis=-1), key)


def fold_in(key: Array, data: int | Array) -> Array:
    """A new key from ``key`` and an integer, equal to ``jax.random.fold_in(key, data)``."""
    words = _threefry_words(key)
    if words is None:
        return jax.random.fold_in(key, data)
    y0, y1 = threefry2x32(words, jnp.uint32(0), jnp.asarray(data, jnp.uint32))
    return _as_keys(jnp.stack([y0, y1]), key)


def uniform(key: Array, shape: tuple[int, ...], minval: ArrayLike = 0.0,
            maxval: ArrayLike = 1.0, dtype: DTypeLike = jnp.float32) -> Array:
    """Uniforms in [minval, maxval) of ``shape``, equal bit for bit to
    ``jax.random.uniform(key, shape, dtype, minval, maxval)`` (one key, not a batch of
    keys: ``vmap`` it). Float32 is computed here; another ``dtype`` (``float`` is float64
    when x64 is on) falls back to ``jax.random.uniform``."""
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    words = _threefry_words(key)
    if words is None or dtype != jnp.float32 or math.prod(shape) >= 2**32:
        return jax.random.uniform(key, shape, dtype, minval, maxval)
    mantissa = (_bits(words, shape) >> np.uint32(9)) | np.uint32(0x3F800000)  # in [1, 2)
    unit = lax.bitcast_convert_type(mantissa, jnp.float32) - np.float32(1.0)
    low, high = jnp.asarray(minval, jnp.float32), jnp.asarray(maxval, jnp.float32)
    return lax.max(low, unit * (high - low) + low)


def normal(key: Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> Array:
    """Standard normal numbers of ``shape``, equal bit for bit to
    ``jax.random.normal(key, shape, dtype)``: √2·erf⁻¹(u) of uniforms u in (−1, 1)."""
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    if _threefry_words(key) is None or dtype != jnp.float32:
        return jax.random.normal(key, shape, dtype)
    lowest = np.nextafter(np.float32(-1.0), np.float32(0.0))
    return np.float32(np.sqrt(2)) * lax.erf_inv(uniform(key, shape, lowest, 1.0))


def permutation(key: Array, n: int) -> Array:
    """A random order of ``range(n)``, equal to ``jax.random.permutation(key, n)``: JAX sorts
    by fresh 32-bit random numbers, in ⌈3·ln n / ln(2³² − 1)⌉ rounds (one up to n = 1 626,
    two up to about 2.6 million), splitting the key before each."""
    if _threefry_words(key) is None:
        return jax.random.permutation(key, n)
    order = jnp.arange(n)
    for _ in range(math.ceil(3 * math.log(max(1, n)) / math.log(2**32 - 1))):
        key, subkey = split(key, 2)
        _, order = lax.sort_key_val(_bits(_threefry_words(subkey), (n,)), order)
    return order
