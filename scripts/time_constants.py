"""Time constants as parameters: learned τ against fixed τ, and heterogeneous against
homogeneous τ at the same mean.

Two sweeps in the quick-start setting (30 hidden units, up to 50 epochs with early stopping
on a validation set), 10 seeds per point, sharing one data seed:

1. ``learned``: the hidden τ fixed at 2, 5 or 20 ms, or learned per unit from that value
   (τ = exp(r), Adam on r with the weights' learning rate; the output τ stays at the initial
   value). Prints test accuracy for both and the distribution the learned τ take (quantiles,
   the fractions below 1 ms and above 50 ms, the mean test-set firing rate of the units on
   either side of 50 ms), and draws their histograms.
2. ``heterogeneous``: per-unit τ drawn once per network from a log-uniform distribution
   (largest / smallest = 10) or a gamma distribution (coefficient of variation 0.5) with
   mean 2 or 5 ms, against every unit at the mean.

The original project's attempt parameterised τ directly and clamped it; its trained values
split into a group near zero and one of hundreds of milliseconds (docs/science.md §6.1).

    python scripts/time_constants.py [--seeds 10] [--out runs/time-constants]
"""

from __future__ import annotations

import json
import time

import numpy as np
from common import parser, sized

from sslax.sweep import use_cpu_cores_as_devices

INITIAL_TAUS = (2e-3, 5e-3, 20e-3)
MEAN_TAUS = (2e-3, 5e-3)
DISTRIBUTIONS = ("homogeneous", "log_uniform", "gamma")


def unit_rates(stacked, config, data_seed: int) -> np.ndarray:
    """Test-set firing rate [Hz] of every hidden unit of the stacked networks
    [networks, hidden]. Their hidden τ are trained parameters and the hidden spikes do not
    depend on the output layer, so one config serves members of every initial τ."""
    import jax

    from sslax.metrics import evaluate
    from sslax.training import datasets_from_seed

    test = datasets_from_seed(data_seed, config).test
    rates = jax.jit(jax.vmap(lambda params: evaluate(params, test, config).firing_rate))
    return np.asarray(rates(stacked))


def main() -> None:
    args = parser(__doc__.splitlines()[0], seeds=10, out="time-constants").parse_args()
    use_cpu_cores_as_devices(args.cpu_devices)

    import jax

    from sslax import PRESETS
    from sslax.experiments import run_script_sweep
    from sslax.network import network_values
    from sslax.plotting import plot_time_constant_histograms
    from sslax.rundir import load_sweep, saved_params
    from sslax.sweep import Sweep

    base = sized(PRESETS["quickstart"], args.smoke)
    seeds = tuple(range(args.seeds))
    start = time.perf_counter()
    learned = Sweep(base, seeds=seeds, data_seed=args.data_seed,
                    grid={"learn_tau": ("none", "hidden"), "tau_hidden": INITIAL_TAUS})
    run_script_sweep(learned, args.out / "learned")
    heterogeneous = Sweep(base, seeds=seeds, data_seed=args.data_seed,
                          grid={"tau_hidden_distribution": DISTRIBUTIONS,
                                "tau_hidden": MEAN_TAUS})
    run_script_sweep(heterogeneous, args.out / "heterogeneous")
    seconds = time.perf_counter() - start
    print(f"\n{6 * args.seeds * 2} networks; {seconds:.0f} s in this invocation (finished "
          "sweeps are read, not rerun)")
    summary: dict = {"seeds": args.seeds, "wall_time_s": seconds}

    # 1. learned against fixed τ
    _, loaded = load_sweep(args.out / "learned")
    by_mode = {saved.structure["learn_tau"]: saved for saved in loaded}
    learned_taus = {}
    config = base.replace_fields(learn_tau="hidden")
    stacked = saved_params(by_mode["hidden"])
    values = jax.vmap(network_values, in_axes=(0, None))(stacked, config)
    taus = np.asarray(values.tau_hidden).reshape(args.seeds, len(INITIAL_TAUS), -1)
    rates = unit_rates(stacked, config, args.data_seed).reshape(taus.shape)
    print("\n| initial τ [ms] | fixed τ: test acc [%] | learned τ: test acc [%] | learned τ "
          "[ms]: 10 / 50 / 90 % | < 1 ms | > 50 ms | rate [Hz], τ ≤ 50 / > 50 ms |")
    print("|---|---|---|---|---|---|---|")
    summary["learned"] = {}
    for i, tau in enumerate(INITIAL_TAUS):
        fixed = 100 * by_mode["none"].dataset["test_accuracy"].sel(tau_hidden=tau).values
        trained = 100 * by_mode["hidden"].dataset["test_accuracy"].sel(tau_hidden=tau).values
        ms = 1e3 * taus[:, i].ravel()
        hz = rates[:, i].ravel()
        q10, q50, q90 = np.percentile(ms, [10, 50, 90])
        label = f"{tau * 1e3:g} ms"
        learned_taus[f"initial {label}"] = taus[:, i].ravel()
        print(f"| {tau * 1e3:g} | {fixed.mean():.1f} ± {fixed.std():.1f} | {trained.mean():.1f} "
              f"± {trained.std():.1f} | {q10:.2f} / {q50:.2f} / {q90:.2f} | "
              f"{np.mean(ms < 1):.0%} | {np.mean(ms > 50):.0%} | "
              f"{hz[ms <= 50].mean():.0f} / {hz[ms > 50].mean():.0f} |")
        summary["learned"][label] = {"fixed_test": fixed.tolist(), "learned_test": trained.tolist(),
                                     "learned_tau_ms": ms.tolist(), "test_rate_hz": hz.tolist()}
    figures = args.out / "figures"
    figures.mkdir(exist_ok=True)
    plot_time_constant_histograms(
        learned_taus, figures / "learned_tau_histograms.png",
        f"learned hidden τ after training ({args.seeds} seeds × {base.network.n_hidden} units)",
        initial={f"initial {t * 1e3:g} ms": t for t in INITIAL_TAUS})

    # 2. heterogeneous against homogeneous τ
    _, loaded = load_sweep(args.out / "heterogeneous")
    print("\n| mean τ [ms] | " + " | ".join(f"{s.structure['tau_hidden_distribution']}: "
                                          f"test acc [%]" for s in loaded) + " |")
    print("|---|" + "---|" * len(loaded))
    summary["heterogeneous"] = {}
    for tau in MEAN_TAUS:
        cells = []
        for saved in loaded:
            acc = 100 * saved.dataset["test_accuracy"].sel(tau_hidden=tau).values
            cells.append(f"{acc.mean():.1f} ± {acc.std():.1f}")
            summary["heterogeneous"].setdefault(f"{tau * 1e3:g} ms", {})[
                saved.structure["tau_hidden_distribution"]] = acc.tolist()
        print(f"| {tau * 1e3:g} | " + " | ".join(cells) + " |")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\nsaved to {args.out}/ (learned/, heterogeneous/, figures/, summary.json)")


if __name__ == "__main__":
    main()
