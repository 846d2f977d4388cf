"""The time-constant result of the original project, as an ensemble with error bars.

Sweeps the hidden time constant τ ∈ {1, 2, 5, 10, 15, 20, 25, 30} ms × 10 seeds in the
starting-notebook setting (30 hidden units, 10 epochs, 4 096 training and 2 048 test
samples, φ0 drawn once per data set) — 80 networks in one compiled program — then prints
train and test accuracy (mean ± std over seeds) per τ and writes a sweep directory with the
figure of accuracy against τ.

    python scripts/tau_sweep.py [--seeds 10] [--epochs 10] [--out runs/tau-sweep]

Expected (docs/science.md §7): test accuracy falls as τ grows (≈ 85 % at 2 ms, ≈ 50 % with a
large spread at 20 ms) while train accuracy stays high: slow membranes memorise φ0.
"""

from __future__ import annotations

import time

from common import parser, sized

from sslax import PRESETS
from sslax.plotting import save_sweep_figures
from sslax.rundir import check_new_run_dir, save_sweep
from sslax.sweep import Sweep, run_sweep, use_cpu_cores_as_devices

TAUS_MS = (1, 2, 5, 10, 15, 20, 25, 30)
# a single run per τ (30 hidden units, 16 384 training samples; docs/science.md §7)
PUBLISHED = {1: 86.2, 2: 87.1, 5: 82.9, 10: 70.8, 15: 41.9, 20: 43.7, 25: 24.4, 30: 36.6}


def main() -> None:
    options = parser(__doc__.splitlines()[0], seeds=10,
                     out=f"tau-sweep-{time.strftime('%Y%m%d-%H%M%S')}")
    options.add_argument("--epochs", type=int, default=10)
    args = options.parse_args()
    use_cpu_cores_as_devices(args.cpu_devices)
    check_new_run_dir(args.out)

    config = sized(PRESETS["starting-notebook"], args.smoke)
    config = config.replace_fields(n_epochs=2 if args.smoke else args.epochs)
    sweep = Sweep(config, seeds=tuple(range(args.seeds)), data_seed=args.data_seed,
                  grid={"tau_hidden": tuple(t * 1e-3 for t in TAUS_MS)})
    start = time.perf_counter()
    (result,) = run_sweep(sweep)
    seconds = time.perf_counter() - start
    dataset = result.to_xarray()
    path = save_sweep([result], args.out, figures=save_sweep_figures,
                      extra={"wall_time_s": round(seconds, 2)})

    n = result.n_members
    print(f"{n} networks × {args.epochs} epochs × {config.training.n_train} samples in "
          f"{seconds:.1f} s (compile {result.compile_s:.1f} s, training {result.train_s:.1f} s:"
          f" {n * args.epochs * config.training.n_train / result.train_s:,.0f} "
          f"network-samples/s)")
    print("| tau [ms] | train acc [%] | test acc [%] | test MAE-A [deg] | test MAE-B [deg] | "
          "published test [%] |")
    print("|---|---|---|---|---|---|")
    for tau_ms, tau in zip(TAUS_MS, sweep.grid["tau_hidden"], strict=True):
        cell = dataset.sel(tau_hidden=tau)
        train, test = 100 * cell["train_accuracy"].values, 100 * cell["test_accuracy"].values
        print(f"| {tau_ms} | {train.mean():.1f} ± {train.std():.1f} | {test.mean():.1f} ± "
              f"{test.std():.1f} | {cell['test_mae_a'].values.mean():.2f} | "
              f"{cell['test_mae_b'].values.mean():.2f} | {PUBLISHED[tau_ms]} |")
    print(f"saved to {path}/ (figure: figures/accuracy_vs_tau_hidden.png)")


if __name__ == "__main__":
    main()
