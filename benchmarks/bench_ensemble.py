"""Per-network training throughput of an sslax ensemble against single-model sslax and torch.

The starting-notebook model (batch 64, T 100, 200 → 30 → 12, one Adam step per batch, a
shared 4 096-sample training set, each member with its own initialisation and sample order)
is trained for one epoch:

- **single**: ``sslax.training.train_on_data`` under ``jax.jit``, one network;
- **ensemble**: the same function under ``jax.jit(jax.vmap(...))`` over ``--members``
  network keys (the program ``sslax.sweep`` runs), data shared, not copied;
- **torch**: ``benchmarks/torch_reference.py`` (the notebook's training loop), one network,
  2 threads.

All three exclude data generation and the final evaluation. Every measurement is repeated
(``--repeats``, interleaved round-robin so machine noise hits all three) and reported as the
median; ratios are of per-network training samples per second. Compile times (first call
minus a steady call) and the peak RSS of the process are printed too.

    python benchmarks/bench_ensemble.py [--members 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from statistics import median

import jax
import jax.numpy as jnp
import numpy as np

from sslax import PRESETS
from sslax.training import make_datasets, train_on_data

sys.path.insert(0, str(Path(__file__).parent))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-torch", action="store_true", help="skip the torch reference")
    args = parser.parse_args()

    config = PRESETS["starting-notebook"].replace_fields(n_epochs=1, n_test=64)
    n = config.training.n_batches * config.training.batch_size  # samples per network-epoch
    data = jax.block_until_ready(jax.jit(make_datasets)(jax.random.key(1), config))

    def one(key, data):
        return train_on_data(key, data, config, evaluate_best=False).params

    single = jax.jit(one)
    ensemble = jax.jit(jax.vmap(one, in_axes=(0, None)))
    keys = jax.vmap(jax.random.key)(jnp.arange(args.members))

    programs = {"single": lambda: single(jax.random.key(0), data),
                "ensemble": lambda: ensemble(keys, data)}
    networks = {"single": 1, "ensemble": args.members}
    if not args.no_torch:
        import torch
        import torch_reference as ref

        torch.set_num_threads(2)
        rng = np.random.default_rng(0)
        ipd, x = ref.random_ipd_input_signal(n, rng)
        y = ref.discretise(ipd)
        programs["torch"] = lambda: ref.train(x, y, lr=0.01, n_epochs=1, batch_size=64,
                                              tau=20e-3, seed=0)
        networks["torch"] = 1

    first = {}
    for name, program in programs.items():
        start = time.perf_counter()
        jax.block_until_ready(program())
        first[name] = time.perf_counter() - start
    times: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(args.repeats):
        for name, program in programs.items():
            start = time.perf_counter()
            jax.block_until_ready(program())
            times[name].append(time.perf_counter() - start)

    rate = {name: networks[name] * n / median(t) for name, t in times.items()}
    print(f"# bench_ensemble: 1 epoch of {n} samples per network, {args.members}-member "
          f"ensemble, {args.repeats} repeats, jax {jax.__version__}")
    print("| program | networks | median s | network-samples/s | compile s |")
    print("|---|---|---|---|---|")
    for name in programs:
        compile_s = first[name] - median(times[name]) if name != "torch" else 0.0
        print(f"| {name} | {networks[name]} | {median(times[name]):.2f} | "
              f"{rate[name]:,.0f} | {compile_s:.1f} |")
    print(f"ensemble / single per-network throughput: {rate['ensemble'] / rate['single']:.2f}x")
    if "torch" in rate:
        print(f"ensemble / torch: {rate['ensemble'] / rate['torch']:.1f}x; "
              f"single / torch: {rate['single'] / rate['torch']:.1f}x")
    print(f"peak RSS of the process: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
