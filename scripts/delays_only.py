"""The delays-only task: 36 IPD classes from learned delays alone (no weights, no hidden layer).

The delays-only preset (docs/science.md §6.3): per class a pair of fibres, the right one
delayed by a learned delay against a fixed 20 ms on the left, leaky integrators (τ 20 ms),
score −Σ_t (u_left − u_right)²; a 20 Hz tone with envelope power 10 for 50 ms; fresh samples
for every batch, 30 epochs of 20 Adam steps. 10 seeds, each with its own data. Beside the
learned delays: the ideal compensation d_k − D₀ = α_k/(2πf) evaluated on the same test sets
(what perfect delays give on this noisy task).

    python scripts/delays_only.py [--seeds 10] [--out runs/delays_only]

Published (one run; docs/science.md): test 11.8 % (chance 2.8 %), MAE 19.1° (the original's
IPDs lay on the class grid, so its MAE is our MAE-B).
"""

from __future__ import annotations

from common import figures_folder, mean_std, parser, percent, run_and_load, save_summary

from sslax.sweep import use_cpu_cores_as_devices


def main() -> None:
    options = parser(__doc__.splitlines()[0], seeds=10, out="delays_only")
    args = options.parse_args()
    use_cpu_cores_as_devices(args.cpu_devices)

    import jax
    import numpy as np

    from sslax import PRESETS, network
    from sslax.delays_only import ideal_delays
    from sslax.metrics import evaluate
    from sslax.rundir import saved_params
    from sslax.sweep import Sweep
    from sslax.training import make_test_set

    base = PRESETS["delays-only"]
    if args.smoke:
        base = base.replace_fields(n_epochs=2, n_train=400, n_test=200)
    sweep = Sweep(base, seeds=tuple(range(args.seeds)), data_seed=args.data_seed,
                  shared_data=False)
    seconds, loaded = run_and_load(sweep, args.out / "sweep")
    saved = loaded[0]
    data = saved.dataset
    stim = base.stimulus
    fixed = (base.delay_taps - 1) / 2
    params = saved_params(saved)
    learned = np.stack([np.asarray(network.network_values(
        jax.tree.map(lambda x, i=i: x[i], params), base).delay_out) for i in range(args.seeds)])
    ideal = np.asarray(ideal_delays(stim.n_classes, stim.frequency, stim.dt, fixed))
    ideal_acc, ideal_mae_b = [], []
    template = jax.tree.map(lambda x: x[0], params)
    for seed in range(args.seeds):
        test = make_test_set(jax.random.key(sweep.data_seed_of(seed)), base)
        ev = evaluate(network.params_from_values({"delay_out": ideal}, template.fixed, base),
                      test, base, 500)
        ideal_acc.append(100 * float(ev.accuracy))
        ideal_mae_b.append(float(ev.mae_b))
    midpoints_deg = (np.arange(stim.n_classes) + 0.5) * 180 / stim.n_classes - 90
    relative_ms = (learned - fixed) * stim.dt * 1e3
    # a robust line (Theil–Sen: median of pairwise slopes): a few classes stick at the ends
    slopes = np.array([theil_sen(midpoints_deg, r) for r in relative_ms])
    ideal_slope = 1e3 / (360 * stim.frequency)
    monotone = np.array([np.corrcoef(np.argsort(np.argsort(r)), np.arange(r.size))[0, 1]
                         for r in relative_ms])
    error_ms = np.abs(relative_ms - (ideal - fixed) * stim.dt * 1e3)

    test, train = percent(data, "test_accuracy"), percent(data, "train_accuracy")
    print(f"\n{args.seeds} seeds; {seconds:.0f} s in this invocation")
    print("| | train acc [%] | test acc [%] | test MAE-A [deg] | test MAE-B [deg] |")
    print("|---|---|---|---|---|")
    print(f"| learned delays | {mean_std(train)} | {mean_std(test)} | "
          f"{mean_std(data['test_mae_a'].values)} | {mean_std(data['test_mae_b'].values)} |")
    print(f"| ideal delays, same test sets | — | {mean_std(ideal_acc)} | — | "
          f"{mean_std(ideal_mae_b)} |")
    print("| published (one run) | 10.9 | 11.8 | — | 19.1 |")
    print(f"chance {100 / stim.n_classes:.1f} %")
    print(f"learned relative delay vs class IPD: slope {mean_std(slopes * 1e3)} µs/deg "
          f"(ideal {ideal_slope * 1e3:.1f}); rank correlation with the class order "
          f"{mean_std(monotone)}; |learned − ideal| per seed: mean "
          f"{mean_std(error_ms.mean(axis=1))} ms, median {mean_std(np.median(error_ms, axis=1))} "
          f"ms; classes within 1 ms of ideal {mean_std(100 * (error_ms < 1).mean(axis=1))} %")
    plot_delays_vs_ipd(midpoints_deg, relative_ms, (ideal - fixed) * stim.dt * 1e3,
                       figures_folder(args.out) / "delay_vs_ipd.png")
    save_summary(args.out, {"seeds": args.seeds, "test": test.tolist(), "train": train.tolist(),
                            "ideal_test": ideal_acc, "slopes_ms_per_deg": slopes.tolist(),
                            "learned_relative_delay_ms": relative_ms.tolist()},
                 "sweep/, figures/delay_vs_ipd.png")


def theil_sen(x, y) -> float:
    """Median of the slopes between all pairs of points."""
    import numpy as np

    i, j = np.triu_indices(len(x), 1)
    return float(np.median((y[j] - y[i]) / (x[j] - x[i])))


def plot_delays_vs_ipd(ipd_deg, relative_ms, ideal_ms, path) -> None:
    """Each seed's learned relative delay against its class's IPD, with the ideal line."""
    from sslax.plotting import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, r in enumerate(relative_ms):
        ax.plot(ipd_deg, r, ".-", color="C0", alpha=0.35, linewidth=0.8,
                label="learned (one line per seed)" if k == 0 else None)
    ax.plot(ipd_deg, ideal_ms, "k--", label="ideal: IPD / (2π f)")
    ax.set(xlabel="class IPD (midpoint) [deg]", ylabel="right-ear delay − left-ear delay [ms]",
           title="delays-only network: learned delay per class")
    ax.legend(fontsize=8)
    _save(fig, path)


if __name__ == "__main__":
    main()
