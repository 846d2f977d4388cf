"""Training speed of sslax versus the original PyTorch starting notebook, on one CPU machine.

The model is the Cosyne-2022 starting notebook (docs/science.md): 200 Poisson inputs → 30 LIF
hidden units (τ = 20 ms, dt = 1 ms, T = 100, parity update order, multiplicative reset,
sigmoid surrogate β = 5) → 12 leaky integrators, mean-over-time readout, cross-entropy,
Adam lr 0.01, batch 64, a 4 096-sample training set reshuffled every epoch (64 Adam steps an
epoch). Both libraries train a freshly initialised network for the same number of epochs
(``--epochs``, default 2), i.e. the same number of training samples.

- **sslax**: ``sslax.training.make_train(config)`` under ``jax.jit`` (one compiled program:
  data generation, init, every epoch and batch).
- **torch**: ``benchmarks/torch_reference.py``, a faithful re-implementation of the notebook
  (Python loops over time, ``autograd.Function`` surrogate, ``DataLoader``, Adam,
  ``loss.item()`` every batch), with ``torch.set_num_threads(2)``.

Method:

- One process, both libraries. Every call is timed with ``time.perf_counter`` around the whole
  call; every sslax call ends in ``jax.block_until_ready`` (torch on CPU is synchronous and
  calls ``loss.item()`` every batch).
- Warm-up first. Each sslax program is compiled by a first call that is timed separately;
  "compile time" is that first call minus the median steady call (trace + compile). Torch gets
  an untimed warm-up of 8 batches.
- Then ``--repeats`` timed repeats (default 3) of each measurement, interleaved: repeat 0 runs
  sslax then torch, repeat 1 torch then sslax, and so on (ABAB/BA), so a burst of machine
  noise hits both. Reported: medians, ratios of the medians, and the min–max of the per-repeat
  ratios (each pair measured back to back). A measurement whose repeats differ by more than
  25 % is flagged ``NOISY`` (the 2-core machine is shared; oversubscribed OpenMP threads can
  slow torch several-fold for a while). The 1-minute load average is printed at both ends.
- float32 throughout; no persistent compilation cache.

What each number includes:

- **training only** (the headline): the time to train for ``E`` epochs on a data set that
  already exists in memory, including the per-batch work of drawing a batch (torch:
  ``DataLoader`` shuffling and collation; sslax: permutation, gather and unpacking of the
  bit-packed spikes), the weight initialisation and the optimiser set-up, and excluding data
  generation.

  * torch: ``torch_reference.train`` on the numpy data set generated once before timing.
  * sslax (the headline, *direct*): ``sslax.training.train_on_data(key, data, config,
    evaluate_best=False)`` under ``jax.jit`` on data sets generated beforehand by
    ``jax.jit(make_datasets)`` from the same ``data_key``: every epoch and batch, without
    the final evaluation of the best parameters (the notebook's loop evaluates nothing).
    The benchmark checks its trained weights equal those of the end-to-end run.
  * A second estimate, *e2e − datagen*: the end-to-end ``jax.jit(train)`` time (which also
    evaluates the best parameters on the training and test sets) minus
    ``jax.jit(make_datasets)`` measured in the same repeat; it carries the noise of both.

- **end-to-end**: data generation plus training. torch: the notebook's numpy
  ``random_ipd_input_signal(4096)`` (including the conversion to float32 tensors) plus
  training; sslax: ``jax.jit(train)`` (which also draws a 64-sample test set that training
  never reads; XLA may drop it).
- **data generation**: the two data-generation figures on their own.
- **peak RSS**: ``ru_maxrss`` of the whole process (both libraries and both data sets live
  in it; the notebook's float64 numpy generation of 4 096 samples alone needs ~3 GB).

``--check`` (no timing, < 30 s) verifies that the torch reference and ``sslax.network``
compute the same thing on one batch: identical weights (the notebook's init, copied) and
input spikes (the reference's numpy stimulus, transposed to time-major), mean-readout scores
within 1e-5, identical hidden spike trains, and dL/dW1, dL/dW2 within 1e-4 relative.
Prints PASS or FAIL and exits 0 / 1.

Usage::

    python benchmarks/bench_train.py [--epochs 2] [--repeats 3] [--json out.json]
    python benchmarks/bench_train.py --quick       # 1 epoch, 1 repeat
    python benchmarks/bench_train.py --check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from statistics import median

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402

T_IMPORT = time.perf_counter()
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import torch  # noqa: E402

import sslax.training as sslax_training  # noqa: E402
from sslax.config import Config  # noqa: E402
from sslax.network import Params, forward, loss_fn  # noqa: E402

T_IMPORT = time.perf_counter() - T_IMPORT

TORCH_THREADS = 2
N_TRAIN = 4096
BATCH = 64
TAU = 20e-3
LR = 0.01
SEED = 0


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far [MiB] (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_config(n_epochs: int) -> Config:
    """The starting-notebook setting as an sslax config (sizes spelled out, not defaults)."""
    return Config().replace_fields(
        frequency=20.0, dt=1e-3, duration=0.1, fibres_per_ear=100, rate_max=600.0,
        envelope_power=2.0, phase_offset="per_dataset", n_classes=12,
        n_hidden=30, tau_hidden=TAU, tau_output=None, threshold=1.0, surrogate="sigmoid",
        surrogate_slope=5.0, update_order="parity", reset="multiplicative", readout="mean",
        init="output_fan_in",
        n_epochs=n_epochs, batch_size=BATCH, n_train=N_TRAIN, n_valid=0, n_test=BATCH,
        learning_rate=LR, data_mode="fixed", patience=0)


# ------------------------------------------------------------------------------------------
# --check: one batch, same weights and spikes in both implementations
# ------------------------------------------------------------------------------------------
def run_check() -> int:
    torch.set_num_threads(TORCH_THREADS)
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    ipd, x = ref.random_ipd_input_signal(BATCH, rng)
    y = ref.discretise(ipd)
    W1_t, W2_t = ref.init_weights(torch.Generator().manual_seed(SEED))
    w1 = W1_t.detach().numpy().copy()
    w2 = W2_t.detach().numpy().copy()

    # torch reference (the notebook's forward and loss)
    W1 = torch.nn.Parameter(torch.from_numpy(w1.copy()))
    W2 = torch.nn.Parameter(torch.from_numpy(w2.copy()))
    out, s_rec = ref.snn(x, W1, W2, TAU, return_hidden=True)
    m = torch.mean(out, 1)
    loss = torch.nn.NLLLoss()(torch.nn.LogSoftmax(dim=1)(m), y)
    loss.backward()
    m_t = m.detach().numpy()
    s_t = np.swapaxes(s_rec.detach().numpy(), 0, 1)  # -> [time, batch, hidden]
    g1_t, g2_t = W1.grad.numpy(), W2.grad.numpy()

    # sslax
    config = make_config(1)
    params = Params({"w_in": jnp.asarray(w1), "w_out": jnp.asarray(w2)})
    x_tm = jnp.asarray(np.ascontiguousarray(np.swapaxes(x.numpy(), 0, 1)))  # [time, batch, in]
    labels = jnp.asarray(y.numpy())
    outputs = jax.jit(forward)(params, x_tm, config)
    loss_j, grads = jax.jit(jax.value_and_grad(lambda p: loss_fn(p, x_tm, labels, config)[0]))(
        params)
    m_j = np.asarray(outputs.scores)
    s_j = np.asarray(outputs.hidden_spikes)
    g1_j, g2_j = np.asarray(grads.trained["w_in"]), np.asarray(grads.trained["w_out"])

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))

    score_abs = float(np.max(np.abs(m_j - m_t)))
    count_t, count_j = int(s_t.sum()), int(s_j.sum())
    per_step_equal = bool(np.array_equal(s_t.sum(axis=(1, 2)), s_j.sum(axis=(1, 2))))
    mismatched = int(np.sum(s_t != s_j))
    g1_rel, g2_rel = rel(g1_j, g1_t), rel(g2_j, g2_t)
    loss_abs = abs(float(loss_j) - float(loss.item()))
    checks = {
        "scores max |sslax - torch| <= 1e-5": (score_abs, score_abs <= 1e-5),
        "hidden spikes identical (count, per step, element-wise)":
            (f"{count_j} vs {count_t}, {mismatched} differing entries",
             count_t == count_j and per_step_equal and mismatched == 0),
        "dL/dW1 max rel error <= 1e-4": (g1_rel, g1_rel <= 1e-4),
        "dL/dW2 max rel error <= 1e-4": (g2_rel, g2_rel <= 1e-4),
        "loss |sslax - torch| <= 1e-5": (loss_abs, loss_abs <= 1e-5),
    }
    print("# sslax vs torch reference: one batch "
          f"(batch {BATCH}, T {ref.duration_steps}, {ref.num_inputs}->{ref.num_hidden}->"
          f"{ref.num_classes}, tau {TAU * 1e3:g} ms)")
    print(f"scores range [{m_t.min():.4f}, {m_t.max():.4f}]; loss torch {loss.item():.6f}, "
          f"sslax {float(loss_j):.6f}; hidden spike rate {count_t / s_t.size:.4f}")
    ok = True
    for name, (value, passed) in checks.items():
        shown = f"{value:.3g}" if isinstance(value, float) else value
        print(f"  [{'ok' if passed else 'FAIL'}] {name}: {shown}")
        ok &= passed
    print(f"check took {time.perf_counter() - t0:.1f} s")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


# ------------------------------------------------------------------------------------------
# timing
# ------------------------------------------------------------------------------------------
def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def make_sslax_programs(config: Config):
    """The three jitted sslax programs: data generation, end-to-end train, train on given data.

    The direct program is ``sslax.training.train_on_data`` without the final evaluation of
    the best parameters on the training and test sets (the notebook's training loop does no
    evaluation either). Returns ``(datagen, train_e2e, train_direct, description)``.
    """
    train = sslax_training.make_train(config)
    datagen = jax.jit(lambda data_key: sslax_training.make_datasets(data_key, config))

    def direct(key, datasets):
        return sslax_training.train_on_data(key, datasets, config, evaluate_best=False)

    return datagen, jax.jit(train), jax.jit(direct), "sslax.training.train_on_data"


def stats(samples: list[float]) -> dict:
    return {"median": median(samples), "min": min(samples), "max": max(samples),
            "samples": samples}


def run_bench(args) -> dict:
    torch.set_num_threads(TORCH_THREADS)
    epochs, repeats = args.epochs, args.repeats
    n_samples = epochs * (N_TRAIN // BATCH) * BATCH
    load_start = os.getloadavg()
    rss = {"after_imports": peak_rss_mib()}
    print(f"# bench_train: starting-notebook model, {epochs} epoch(s) x {N_TRAIN} samples "
          f"= {n_samples} training samples per timed call, {repeats} repeat(s)")
    print(f"python {platform.python_version()}, jax {jax.__version__} "
          f"({jax.default_backend()}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, load avg {load_start[0]:.2f}")

    # torch: the notebook's data set, generated once before timing
    rng = np.random.default_rng(SEED)
    t_gen0, (ipd, x_train) = timed(lambda: ref.random_ipd_input_signal(N_TRAIN, rng))
    y_train = ref.discretise(ipd)
    rss["after_torch_data"] = peak_rss_mib()
    print(f"torch data set generated once: {t_gen0:.2f} s")

    # sslax: compile every program in a separately timed first call
    config = make_config(epochs)
    datagen, train_e2e, train_direct, how = make_sslax_programs(config)
    key, data_key = jax.random.key(SEED), jax.random.key(SEED + 1)
    first = {}
    first["datagen"], datasets = timed(lambda: jax.block_until_ready(datagen(data_key)))
    first["e2e"], res_e2e = timed(lambda: jax.block_until_ready(train_e2e(key, data_key)))
    first["direct"], res_direct = timed(
        lambda: jax.block_until_ready(train_direct(key, datasets)))
    leaf_pairs = list(zip(jax.tree.leaves(res_e2e.params), jax.tree.leaves(res_direct.params),
                          strict=True))
    same_result = all(bool(jnp.array_equal(a, b)) for a, b in leaf_pairs)
    max_param_diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in leaf_pairs)
    rss["after_sslax_compile"] = peak_rss_mib()
    print("sslax first calls (compile + run): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in first.items()))
    print(f"sslax direct = {how}; trained weights vs end-to-end: "
          f"{'identical' if same_result else f'max |diff| {max_param_diff:.2g}'}")

    # torch warm-up (untimed): 8 batches
    ref.train(x_train[:8 * BATCH], y_train[:8 * BATCH], lr=LR, n_epochs=1, batch_size=BATCH,
              tau=TAU, seed=SEED)

    names = ["sslax_datagen", "sslax_e2e", "sslax_direct", "torch_datagen", "torch_train"]
    t = {name: [] for name in names}
    last = {}

    def sslax_block():
        dt, _ = timed(lambda: jax.block_until_ready(datagen(data_key)))
        t["sslax_datagen"].append(dt)
        dt, last["sslax_e2e"] = timed(lambda: jax.block_until_ready(train_e2e(key, data_key)))
        t["sslax_e2e"].append(dt)
        dt, last["sslax_direct"] = timed(
            lambda: jax.block_until_ready(train_direct(key, datasets)))
        t["sslax_direct"].append(dt)

    def torch_block(r):
        gen_rng = np.random.default_rng(SEED + 100 + r)
        dt, _ = timed(lambda: ref.random_ipd_input_signal(N_TRAIN, gen_rng))
        t["torch_datagen"].append(dt)
        dt, last["torch"] = timed(lambda: ref.train(
            x_train, y_train, lr=LR, n_epochs=epochs, batch_size=BATCH, tau=TAU, seed=SEED + r))
        t["torch_train"].append(dt)

    for r in range(repeats):
        order = ("sslax", "torch") if r % 2 == 0 else ("torch", "sslax")
        for who in order:
            sslax_block() if who == "sslax" else torch_block(r)
        print(f"repeat {r} ({' then '.join(order)}): "
              + ", ".join(f"{n} {t[n][-1]:.3f} s" for n in names))
    rss["end"] = peak_rss_mib()
    load_end = os.getloadavg()

    # derived per-repeat series
    t["sslax_sub"] = [e - d for e, d in zip(t["sslax_e2e"], t["sslax_datagen"],
                                                         strict=True)]
    t["torch_e2e"] = [g + tr for g, tr in zip(t["torch_datagen"], t["torch_train"],
                                                           strict=True)]
    rows = {  # name: (sslax series, torch series)
        "training only, sslax direct": ("sslax_direct", "torch_train"),
        "training only, sslax e2e - datagen": ("sslax_sub", "torch_train"),
        "end-to-end (data generation + training)": ("sslax_e2e", "torch_e2e"),
    }
    results = {"config": {"epochs": epochs, "repeats": repeats, "n_train": N_TRAIN,
                          "batch": BATCH, "T": ref.duration_steps, "inputs": ref.num_inputs,
                          "hidden": ref.num_hidden, "classes": ref.num_classes, "tau_s": TAU,
                          "lr": LR, "samples_per_call": n_samples},
               "versions": {"python": platform.python_version(), "jax": jax.__version__,
                            "torch": torch.__version__, "numpy": np.__version__},
               "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
               "load_avg_start_end": [load_start[0], load_end[0]],
               "times_s": {k: stats(v) for k, v in t.items()},
               "first_call_s": first,
               "compile_s": {k: first[k] - median(t[f"sslax_{k}"]) for k in first},
               "torch_datagen_first_s": t_gen0,
               "import_s": T_IMPORT,
               "direct_route": how, "direct_equals_e2e": same_result,
               "direct_vs_e2e_max_param_diff": max_param_diff,
               "peak_rss_mib": rss, "rows": {}}
    for row, (s_name, t_name) in rows.items():
        s_ser, t_ser = t[s_name], t[t_name]
        pair = [tt / ss if ss > 0 else float("nan") for ss, tt in
                zip(s_ser, t_ser, strict=True)]
        results["rows"][row] = {
            "sslax_samples_per_s": n_samples / median(s_ser),
            "torch_samples_per_s": n_samples / median(t_ser),
            "ratio_of_medians": median(t_ser) / median(s_ser),
            "pair_ratio_min": min(pair), "pair_ratio_max": max(pair), "pair_ratios": pair,
        }
    # flag a measurement whose repeats differ by more than 25 %
    results["noise_warnings"] = [
        f"{name} repeats span {min(v):.3f}-{max(v):.3f} s (max/min {max(v) / min(v):.2f}); "
        "the medians are robust to one outlier, the per-pair min-max is not"
        for name, v in t.items() if min(v) > 0 and max(v) / min(v) > 1.25]
    e2e_hist = last["sslax_e2e"].history.train_loss
    _, _, torch_losses = last["torch"]
    n_b = N_TRAIN // BATCH
    results["final_epoch_train_loss"] = {
        "sslax": float(e2e_hist[-1]), "torch": float(np.mean(torch_losses[-n_b:]))}
    return results


def report(res: dict) -> None:
    times, rows = res["times_s"], res["rows"]
    n = res["config"]["samples_per_call"]
    print()
    print("## Timings (seconds per call; median [min-max] over repeats)")
    labels = {
        "sslax_datagen": "sslax data generation: jit(make_datasets), 4096 train + 64 test",
        "sslax_e2e": f"sslax end-to-end: jit(train), data generation + {res['config']['epochs']}"
                     " epoch(s)",
        "sslax_direct": "sslax training only (direct: train on given data)",
        "sslax_sub": "sslax training only (e2e - datagen, per repeat)",
        "torch_datagen": "torch data generation: notebook numpy, 4096 samples -> tensors",
        "torch_train": "torch training only (data set generated before timing)",
        "torch_e2e": "torch end-to-end (datagen + training, per repeat)",
    }
    for key, label in labels.items():
        s = times[key]
        print(f"  {label}: {s['median']:.3f} [{s['min']:.3f}-{s['max']:.3f}]")
    steps = res["config"]["samples_per_call"] // res["config"]["batch"]
    print(f"  per Adam step, training only (median / {steps} steps): sslax direct "
          f"{1e3 * times['sslax_direct']['median'] / steps:.2f} ms, torch "
          f"{1e3 * times['torch_train']['median'] / steps:.2f} ms")
    print("  sslax compile (first call - median steady call): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in res["compile_s"].items()))
    print(f"  sslax direct ({res['direct_route']}) == end-to-end trained weights: "
          f"{res['direct_equals_e2e']} "
          f"(max |diff| {res['direct_vs_e2e_max_param_diff']:.2g})")
    fl = res["final_epoch_train_loss"]
    print(f"  last-epoch mean training loss: sslax {fl['sslax']:.3f}, torch {fl['torch']:.3f}")
    print("  peak RSS (MiB, whole process): "
          + ", ".join(f"{k} {v:.0f}" for k, v in res["peak_rss_mib"].items()))
    la = res["load_avg_start_end"]
    print(f"  1-min load average: start {la[0]:.2f}, end {la[1]:.2f}")
    for line in res["noise_warnings"]:
        print(f"  NOISY: {line}")
    print()
    print(f"## Summary ({n} training samples per call; samples/s from medians; "
          f"ratio = sslax/torch samples/s)")
    print()
    print("| measure | sslax samples/s | torch samples/s | ratio (medians) | "
          "ratio per pair, min-max |")
    print("|---|---|---|---|---|")
    for row, r in rows.items():
        print(f"| {row} | {r['sslax_samples_per_s']:,.0f} | {r['torch_samples_per_s']:,.0f} | "
              f"{r['ratio_of_medians']:.2f}x | {r['pair_ratio_min']:.2f}x-"
              f"{r['pair_ratio_max']:.2f}x |")
    comp = res["compile_s"]
    print(f"| sslax compile, jit(train) (s) | {comp['e2e']:.2f} | - | - | - |")
    print(f"| data generation, 4096 samples (s) | {times['sslax_datagen']['median']:.2f} | "
          f"{times['torch_datagen']['median']:.2f} | - | - |")
    print(f"| peak RSS, whole process, both libraries (MiB) | "
          f"{res['peak_rss_mib']['end']:.0f} | - | - | - |")
    print()
    print("training only = E epochs on data already in memory (batching, init and optimiser "
          "included; data generation excluded). end-to-end = data generation + training.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed call")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each")
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 repeat")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--check", action="store_true",
                        help="only verify sslax == torch reference on one batch (PASS/FAIL)")
    args = parser.parse_args(argv)
    if args.check:
        return run_check()
    if args.quick:
        args.epochs, args.repeats = 1, 1
    if args.epochs < 1 or args.repeats < 1:
        parser.error("--epochs and --repeats must be >= 1")
    t0 = time.perf_counter()
    res = run_bench(args)
    res["wall_s"] = time.perf_counter() - t0
    report(res)
    print(f"\nbenchmark wall time {res['wall_s']:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
