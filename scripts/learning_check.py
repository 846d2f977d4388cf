"""Learning check of the core model: the starting notebook at a fast and a slow τ.

Trains the starting-notebook network (30 hidden units, 10 epochs, 4 096 training and 2 048
test samples, φ0 drawn once per data set) for several seeds at τ = 2 ms and τ = 20 ms and
prints train and test accuracy per seed with mean ± std. Each seed uses its own data seed,
as every run of the original notebook generated new data.

Expected (docs/science.md §7): τ = 2 ms tests at ≈ 85 %; τ = 20 ms overfits (train ≫ test)
because train and test sets differ only in their phase offset φ0.

``--fast-rates`` draws the same data sets with the fast spike probabilities (see
``StimulusConfig.fast_rates``), to compare the two on the same seeds.

    python scripts/learning_check.py [--seeds 5] [--epochs 10] [--fast-rates] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from common import sized

from sslax import PRESETS, fit

# test accuracy over 10 runs of the original notebook (docs/science.md §7)
PUBLISHED = {2.0: "84.7 ± 1.1", 20.0: "52.9 ± 18.3"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--taus-ms", type=float, nargs="+", default=[2.0, 20.0])
    parser.add_argument("--fast-rates", action="store_true",
                        help="spike probabilities the fast way (StimulusConfig.fast_rates)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, to check that the script runs (no science)")
    args = parser.parse_args()

    results: dict[str, dict[str, list[float]]] = {}
    start = time.perf_counter()
    for tau_ms in args.taus_ms:
        config = sized(PRESETS["starting-notebook"], args.smoke).replace_fields(
            tau_hidden=tau_ms * 1e-3, n_epochs=2 if args.smoke else args.epochs,
            fast_rates=args.fast_rates)
        rows = results.setdefault(f"{tau_ms:g}", {"train": [], "test": [], "mae_a": []})
        for seed in range(args.seeds):
            run = fit(config, seed=seed, data_seed=seed)
            rows["train"].append(100 * float(run.train_eval.accuracy))
            rows["test"].append(100 * float(run.test_eval.accuracy))
            rows["mae_a"].append(float(run.test_eval.mae_a))
            print(f"tau {tau_ms:5g} ms  seed {seed}: train {rows['train'][-1]:5.1f} %  "
                  f"test {rows['test'][-1]:5.1f} %  test MAE-A {rows['mae_a'][-1]:5.2f}°",
                  flush=True)
    print(f"\n{args.seeds} seeds each, {args.epochs} epochs, "
          f"{time.perf_counter() - start:.0f} s in all")
    print("| tau [ms] | train acc [%] | test acc [%] | train - test [points] | test MAE-A [deg] "
          "| published test [%] |")
    print("|---|---|---|---|---|---|")
    for tau, rows in results.items():
        train, test = np.array(rows["train"]), np.array(rows["test"])
        print(f"| {tau} | {train.mean():.1f} ± {train.std():.1f} | {test.mean():.1f} ± "
              f"{test.std():.1f} | {(train - test).mean():.1f} | "
              f"{np.mean(rows['mae_a']):.2f} | {PUBLISHED.get(float(tau), '—')} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
