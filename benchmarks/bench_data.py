"""How fast input spikes are generated, against JAX's own uniform noise in the same run.

Spike generation draws one uniform per sample, step and fibre and compares it with the
spike probability. sslax draws its uniforms with :func:`sslax.threefry.uniform` (the same
numbers as ``jax.random.uniform``, written so that XLA fuses the cipher); the reference is
the same code with ``jax.random.uniform`` put back. Both are compiled once, checked to give
identical spikes, then timed in interleaved rounds:

- a stored data set of 4 096 samples (``make_dataset`` in one program);
- one batch of 64 samples regenerated from its noise keys (per-epoch φ0 and ``fresh`` data
  do this every training step);
- a run's three stored sets (4 096 + 4 096 + 2 048 samples) as ``sslax train`` builds them:
  ``datasets_from_seed``, which spreads the chunks over one thread per core
  (:mod:`sslax.datagen`), against ``jit(make_datasets)`` in one program, with either
  uniform (identical spikes checked).

Each generation case also runs with ``fast_rates`` (the spike probabilities from angle
sums; the same uniforms). Then the training throughput that depends on it:
epochs of the quick-start network on a fixed (stored) training set, with φ0 redrawn per
epoch (spikes regenerated per batch) and with ``fresh`` data (new samples per batch), each
with and without ``fast_rates``, as ratios to the fixed set's epoch.

    python benchmarks/bench_data.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np
from epoch_timing import (
    blocking_call,
    epoch_setting,
    interleaved_calls,
    interleaved_epoch_times,
    warm_cases,
)

from sslax import PRESETS, stimulus
from sslax.threefry import threefry2x32, uniform
from sslax.training import datasets_from_seed, make_datasets


@contextlib.contextmanager
def jax_uniform() -> Iterator[None]:
    """Trace spike generation with ``jax.random.uniform`` (the reference)."""
    fast = stimulus.uniform
    stimulus.uniform = lambda key, shape, minval=0.0, maxval=1.0, dtype=jnp.float32: (
        jax.random.uniform(key, shape, dtype, minval, maxval))
    try:
        yield
    finally:
        stimulus.uniform = fast


def compiled_pair(make: Callable[[], Callable[..., object]],
                  *args: object) -> tuple[Callable[[], object], Callable[[], object]]:
    """(sslax, reference) zero-argument calls of two separately traced programs; the
    reference is traced with ``jax.random.uniform``. Checks both give the same spikes."""
    ours, ref = jax.jit(make()), jax.jit(make())
    out = jax.block_until_ready(ours(*args))
    with jax_uniform():
        expected = jax.block_until_ready(ref(*args))
    if not np.array_equal(np.asarray(out), np.asarray(expected)):
        raise AssertionError("sslax's uniforms gave other spikes than jax.random.uniform")
    return blocking_call(ours, *args), blocking_call(ref, *args)


def generation(repeats: int) -> None:
    stim = PRESETS["quickstart"].stimulus
    fast_stim = stim.replace(fast_rates=True)
    key = jax.random.key(0)
    n_set, n_batch = 4096, 64
    set_ours, set_ref = compiled_pair(
        lambda: lambda k: stimulus.make_dataset(k, n_set, stim).spikes, key)
    set_fast = blocking_call(
        jax.jit(lambda k: stimulus.make_dataset(k, n_set, fast_stim).spikes), key)
    frozen = stimulus.make_dataset(key, n_set, stim, store_spikes=False)
    index = np.arange(n_batch)
    batch_ours, batch_ref = compiled_pair(
        lambda: lambda d, i: stimulus.batch_inputs(d, i, stim, d.phase_offset[i] + 1.0),
        frozen, index)
    batch_fast = blocking_call(jax.jit(lambda d, i: stimulus.batch_inputs(
        d, i, fast_stim, d.phase_offset[i] + 1.0)), frozen, index)
    t = interleaved_calls({"set": set_ours, "set ref": set_ref, "set fast": set_fast}, repeats)
    # a batch takes milliseconds: 20 in a row per round
    t.update(interleaved_calls({"batch": batch_ours, "batch ref": batch_ref,
                                "batch fast": batch_fast}, repeats, per_round=20))
    t.update(run_sets(repeats))
    print(f"spike generation, {repeats} interleaved repeats; jax {jax.__version__}, "
          f"{jax.devices()[0].platform}, {jax.device_count()} device(s)")
    print("| what | jax.random.uniform [ms] | sslax [ms] | sslax, fast_rates [ms] | "
          "speed-up: sslax / fast_rates | ns per spike slot (fast_rates) |")
    print("|---|---|---|---|---|---|")
    slots = stim.n_steps * stim.n_inputs
    for name, label, n in [("set", f"data set of {n_set} samples", n_set),
                           ("batch", f"batch of {n_batch} regenerated", n_batch)]:
        ours, ref, fast = t[name], t[name + " ref"], t[name + " fast"]
        print(f"| {label} | {1e3 * ref:.1f} | {1e3 * ours:.1f} | {1e3 * fast:.1f} | "
              f"{ref / ours:.2f}× / {ref / fast:.2f}× | {1e9 * fast / (n * slots):.2f} |")
    n_run = 4096 + 4096 + 2048
    print(f"\na run's stored sets ({n_run} samples), as `sslax train` makes them")
    print("| how | median [ms] | speed-up vs one program with jax.random.uniform |")
    print("|---|---|---|")
    for name, label in [("run ref", "one program, jax.random.uniform"),
                        ("run one", "one program, sslax uniforms"),
                        ("run threads", "datasets_from_seed (one thread per core)"),
                        ("run threads fast", "datasets_from_seed, fast_rates")]:
        print(f"| {label} | {1e3 * t[name]:.0f} | {t['run ref'] / t[name]:.2f}× |")


def uniforms_16_bit(key: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """Uniforms with 16 random bits each, four per Threefry call (both output words, two
    halves each): the "fewer random bits per slot" alternative; ``shape[0]`` divisible
    by 4."""
    words = jax.random.key_data(key)
    count = jax.lax.iota(np.uint32, shape[0] // 4 * shape[1]).reshape(shape[0] // 4, -1)
    y0, y1 = threefry2x32((words[0], words[1]), jnp.zeros_like(count), count)
    halves = [y0 >> np.uint32(16), y0 & np.uint32(0xFFFF), y1 >> np.uint32(16),
              y1 & np.uint32(0xFFFF)]
    return np.float32(2.0**-16) * jnp.concatenate(halves).astype(np.float32)


def random_bits(repeats: int) -> None:
    """The uniforms of one batch of 64: 32-bit (sslax) against 16-bit ones."""
    stim = PRESETS["quickstart"].stimulus
    keys = jax.random.split(jax.random.key(0), 64)
    shape = (stim.n_steps, stim.n_inputs)
    calls = {name: blocking_call(jax.jit(jax.vmap(lambda k, f=f: f(k, shape))), keys)
             for name, f in [("32", uniform), ("16", uniforms_16_bit)]}
    t = interleaved_calls(calls, repeats, per_round=20, warmup=2)
    print(f"\nuniforms of a batch of 64: 32-bit (one per Threefry call) {1e3 * t['32']:.2f} ms,"
          f" 16-bit (four per call) {1e3 * t['16']:.2f} ms: {t['32'] / t['16']:.2f}×")


def run_sets(repeats: int) -> dict[str, float]:
    """Median seconds of the quick start's three stored sets, four ways. One program with
    ``jax.random.uniform`` is how ``sslax train`` made them before ``sslax.threefry`` and
    ``sslax.datagen``."""
    config = PRESETS["quickstart"]
    fast = config.replace(stimulus=config.stimulus.replace(fast_rates=True))
    key = jax.random.key(0)
    one, ref = jax.jit(make_datasets), jax.jit(make_datasets)
    expected = jax.block_until_ready(one(key, config))
    with jax_uniform():
        jax.block_until_ready(ref(key, config))
    threads = datasets_from_seed(0, config)
    for name in ("train", "valid", "test"):
        if not np.array_equal(getattr(threads, name).spikes, getattr(expected, name).spikes):
            raise AssertionError(f"datasets_from_seed gave other {name} spikes")
    return interleaved_calls({
        "run ref": blocking_call(ref, key, config),
        "run one": blocking_call(one, key, config),
        "run threads": blocking_call(datasets_from_seed, 0, config),
        "run threads fast": blocking_call(datasets_from_seed, 0, fast),
    }, repeats)


def training(repeats: int) -> None:
    base = PRESETS["quickstart"].replace_fields(n_valid=0, patience=0, n_epochs=100)
    modes = {"fixed training set (stored spikes)": {},
             "φ0 per epoch (spikes regenerated per batch)": dict(phase_offset="per_epoch"),
             "φ0 per epoch, fast_rates": dict(phase_offset="per_epoch", fast_rates=True),
             "fresh data (new samples per batch)": dict(data_mode="fresh"),
             "fresh data, fast_rates": dict(data_mode="fresh", fast_rates=True)}
    times = interleaved_epoch_times(warm_cases(base, modes), repeats)
    reference = np.median(times[next(iter(modes))])
    print(f"\ntraining epochs: {epoch_setting(repeats, base)}")
    print("| data | median epoch [s] | throughput vs fixed set |")
    print("|---|---|---|")
    for name in modes:
        median = np.median(times[name])
        print(f"| {name} | {median:.2f} | {reference / median:.2f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    generation(args.repeats)
    random_bits(args.repeats)
    training(args.repeats)


if __name__ == "__main__":
    main()
