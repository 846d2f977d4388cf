"""Per-network training throughput of an sslax ensemble against single-model sslax and torch.

The starting-notebook model (batch 64, T 100, 200 → 30 → 12, one Adam step per batch, a
shared 4 096-sample training set, each member with its own initialisation and sample order)
is trained for one epoch:

- **single**: ``sslax.training.train_on_data`` under ``jax.jit``, one network;
- **ensemble**: the same function under ``jax.jit(jax.vmap(...))`` over ``--members``
  network keys (the program ``sslax.sweep`` runs), data shared, not copied. It runs in a
  worker process whose CPU is split into ``--cpu-devices`` JAX devices (default one per
  core, as ``sslax sweep`` does) with the members sharded over them; ``--cpu-devices 1``
  measures the plain one-device program;
- **sweep**: the same number of members as a sweep, ``--members / 8`` seeds × the 8 τ
  values of ``scripts/tau_sweep.py``, run as :mod:`sslax.sweep` runs it: the members of a
  seed share their initialisation and sample order, so they form a group (an inner
  ``vmap``, :func:`sslax.sweep.vmap_groups`) with one input product per batch;
- **torch**: ``benchmarks/torch_reference.py`` (the notebook's training loop), one network,
  2 threads;
- **matmul ceiling**: in the ensemble's worker, the same members doing only the input
  layer's two dense products per step (h = X·W and ∂W = Xᵀ·∂h, 154 MFLOP per 64-sample
  step), on the same devices. Every training step does at least this work, so its
  throughput bounds the ensemble's: a ratio target above ``matmul ceiling / single``
  cannot be met by any schedule of the rest of the step. **sweep matmul ceiling**: the
  same for the sweep, one product per seed group with the group's 8 weight matrices side
  by side ([time·batch, inputs] · [inputs, 8 × hidden]), as the sweep computes it.

All exclude data generation and the final evaluation. Every measurement is repeated
(``--repeats``, interleaved round-robin so machine noise hits all three) and reported as the
median; ratios are of per-network training samples per second. Compile times (first call
minus a steady call) and the peak RSS of the process are printed too.

    python benchmarks/bench_ensemble.py [--members 64] [--repeats 3] [--cpu-devices N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from statistics import median
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from sslax import PRESETS
from sslax.network import init_params
from sslax.stimulus import batch_inputs
from sslax.training import make_datasets, train_on_data

sys.path.insert(0, str(Path(__file__).parent))


WORKER_PROGRAMS = ("ensemble", "sweep", "matmul ceiling", "sweep matmul ceiling")
SWEEP_TAUS = tuple(t * 1e-3 for t in (1, 2, 5, 10, 15, 20, 25, 30))  # as scripts/tau_sweep.py


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensemble_worker(members: int, cpu_devices: int | None) -> None:
    """Child process: compile the worker's programs, print their first-call times (JSON),
    then time one call of the program named on each line read from stdin."""
    from sslax.sweep import use_cpu_cores_as_devices

    use_cpu_cores_as_devices(cpu_devices)
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from sslax.sweep import stack_members, vmap_groups

    config = benchmark_config()
    mesh = Mesh(np.asarray(jax.devices()), ("members",))
    shared = NamedSharding(mesh, PartitionSpec())
    per_member = NamedSharding(mesh, PartitionSpec("members"))
    data = jax.device_put(jax.jit(make_datasets)(jax.random.key(1), config), shared)
    keys = jax.device_put(jax.vmap(jax.random.key)(jnp.arange(members)), per_member)

    def one(key, data, cfg=config):
        return train_on_data(key, data, cfg, evaluate_best=False).params

    ensemble = jax.jit(jax.vmap(one, in_axes=(0, None)))

    # the sweep: seeds × the 8 τ values, grouped by seed as sslax.sweep runs it
    n_seeds = members // len(SWEEP_TAUS)
    if n_seeds % len(jax.devices()) or members % len(jax.devices()):
        raise SystemExit(f"--members = {members} is not allowed here: {n_seeds} sweep seeds "
                         f"and {members} members must both split over "
                         f"{len(jax.devices())} devices")
    grid = [{"tau_hidden": tau} for _ in range(n_seeds) for tau in SWEEP_TAUS]
    stacked, axes = stack_members(config, grid, ("tau_hidden",))
    stacked = jax.tree.map(lambda leaf, ax: leaf if ax is None else jax.device_put(
        jnp.asarray(leaf).reshape(n_seeds, -1), per_member), stacked, axes,
        is_leaf=lambda x: x is None)
    seed_keys = jax.device_put(jax.vmap(jax.random.key)(jnp.arange(n_seeds)), per_member)

    sweep = jax.jit(vmap_groups(one, axes))

    inputs, weights = matmul_ceiling_operands(keys, data, config)
    ceiling = jax.jit(jax.vmap(partial(matmul_ceiling_epoch, n_batches=config.training.n_batches)))
    # a sweep group's members share their batches: one product with their weights side by side
    group_inputs, group_weights = matmul_ceiling_operands(seed_keys, data, config)
    group_weights = jnp.tile(group_weights, (1, 1, len(SWEEP_TAUS)))
    programs = {"ensemble": lambda: ensemble(keys, data),
                "sweep": lambda: sweep(seed_keys, data, stacked),
                "matmul ceiling": lambda: ceiling(inputs, weights),
                "sweep matmul ceiling": lambda: ceiling(group_inputs, group_weights)}
    first = {}
    for name, program in programs.items():
        start = time.perf_counter()
        jax.block_until_ready(program())
        first[name] = time.perf_counter() - start
    print(json.dumps({"first": first, "n_devices": len(jax.devices())}), flush=True)
    for line in sys.stdin:
        start = time.perf_counter()
        jax.block_until_ready(programs[line.strip()]())
        print(f"{time.perf_counter() - start} {peak_rss_mib()}", flush=True)


def matmul_ceiling_operands(keys: jax.Array, data: Any,
                            config: Any) -> tuple[jax.Array, jax.Array]:
    """Each member's input spikes of one batch as the float32 [time·batch, inputs] matrix
    the input layer multiplies, and its initial input weights [inputs, hidden]."""
    stim, tr = config.stimulus, config.training

    def member(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        index = jax.random.choice(key, tr.n_train, (tr.batch_size,), replace=False)
        x = batch_inputs(data.train, index, stim)
        return x.reshape(-1, stim.n_inputs), init_params(key, config).trained["w_in"]

    return jax.block_until_ready(jax.jit(jax.vmap(member))(keys))


def matmul_ceiling_epoch(inputs: jax.Array, w_in: jax.Array, n_batches: int) -> jax.Array:
    """One network-epoch of the input layer's two dense products and nothing else:
    h = X·W (forward) and ∂W = Xᵀ·∂h (weight gradient, with ∂h = h), n_batches times, each
    step depending on the last. No training step can do less than this dense work, so its
    throughput bounds the ensemble's."""

    def step(w: jax.Array, _: Any) -> tuple[jax.Array, None]:
        h = inputs @ w
        return w - 1e-6 * (inputs.T @ h), None

    return lax.scan(step, w_in, None, length=n_batches)[0]


def benchmark_config() -> Any:
    return PRESETS["starting-notebook"].replace_fields(n_epochs=1, n_test=64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu-devices", type=int, default=None,
                        help="JAX devices the ensemble's CPU is split into (default: one "
                             "per core; 1: a single device)")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch reference")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.members < 8 or args.members % 8:
        parser.error(f"--members = {args.members} is not allowed: the sweep row needs a "
                     f"multiple of its 8 τ values")
    if args.worker:
        ensemble_worker(args.members, args.cpu_devices)
        return

    config = benchmark_config()
    n = config.training.n_batches * config.training.batch_size  # samples per network-epoch
    data = jax.block_until_ready(jax.jit(make_datasets)(jax.random.key(1), config))

    def one(key, data):
        return train_on_data(key, data, config, evaluate_best=False).params

    single = jax.jit(one)
    worker_cmd = [sys.executable, __file__, "--worker", "--members", str(args.members)]
    if args.cpu_devices is not None:
        worker_cmd += ["--cpu-devices", str(args.cpu_devices)]
    worker = subprocess.Popen(worker_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    line = worker.stdout.readline()
    if not line:
        raise SystemExit(f"the ensemble worker failed (exit status {worker.wait()})")
    started = json.loads(line)
    n_devices = started["n_devices"]
    worker_rss = [0.0]

    def in_worker(name: str) -> Callable[[], float]:
        def call() -> float:  # seconds of one call, timed in the worker
            worker.stdin.write(f"{name}\n")
            worker.stdin.flush()
            seconds, rss = worker.stdout.readline().split()
            worker_rss[0] = max(worker_rss[0], float(rss))
            return float(seconds)
        return call

    programs = {"single": lambda: single(jax.random.key(0), data),
                **{name: in_worker(name) for name in WORKER_PROGRAMS}}
    networks = {"single": 1, **{name: args.members for name in WORKER_PROGRAMS}}
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

    def timed(name: str) -> float:
        start = time.perf_counter()
        out = jax.block_until_ready(programs[name]())
        return out if name in WORKER_PROGRAMS else time.perf_counter() - start

    first = {name: started["first"][name] for name in ("ensemble", "sweep")}
    for name in programs:
        if name not in first:
            first[name] = timed(name)
    times: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(args.repeats):
        for name in programs:
            times[name].append(timed(name))
    worker.stdin.close()
    worker.wait()

    rate = {name: networks[name] * n / median(t) for name, t in times.items()}
    print(f"# bench_ensemble: 1 epoch of {n} samples per network, {args.members}-member "
          f"ensemble on {n_devices} CPU device(s), {args.repeats} repeats, "
          f"jax {jax.__version__}")
    print("| program | networks | median s | network-samples/s | compile s |")
    print("|---|---|---|---|---|")
    for name in programs:
        compile_s = (f"{first[name] - median(times[name]):.1f}"
                     if name in ("single", "ensemble", "sweep") else "")
        print(f"| {name} | {networks[name]} | {median(times[name]):.2f} | "
              f"{rate[name]:,.0f} | {compile_s} |")
    print(f"ensemble / single per-network throughput: {rate['ensemble'] / rate['single']:.2f}x"
          f" (matmul ceiling / single: {rate['matmul ceiling'] / rate['single']:.2f}x; the "
          f"ensemble reaches {rate['ensemble'] / rate['matmul ceiling']:.0%} of it)")
    print(f"sweep / single: {rate['sweep'] / rate['single']:.2f}x (its matmul ceiling / single: "
          f"{rate['sweep matmul ceiling'] / rate['single']:.2f}x; the sweep reaches "
          f"{rate['sweep'] / rate['sweep matmul ceiling']:.0%} of it)")
    if "torch" in rate:
        print(f"sweep / torch: {rate['sweep'] / rate['torch']:.1f}x")
        print(f"ensemble / torch: {rate['ensemble'] / rate['torch']:.1f}x; "
              f"single / torch: {rate['single'] / rate['torch']:.1f}x; "
              f"matmul ceiling / torch: {rate['matmul ceiling'] / rate['torch']:.1f}x")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB (single and torch), "
          f"{worker_rss[0]:.0f} MiB (ensemble worker)")


if __name__ == "__main__":
    main()
