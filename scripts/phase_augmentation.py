"""Phase-offset augmentation as an ensemble: a new φ0 every epoch removes the train/test gap.

The quick-start network (τ = 5 ms, 30 hidden units, early stopping with patience 10 on a
4 096-sample validation set) at lr 0.005 for up to 150 epochs, as the original notebook,
with φ0 drawn once per data set (the original default: train and test differ in φ0) or
redrawn every epoch for every training sample over frozen Poisson noise (augmentation).
10 seeds each.

    python scripts/phase_augmentation.py [--seeds 10] [--out runs/phase-augmentation]

Published (one run; docs/science.md): augmentation train 85.0 %, test 85.3 %.
"""

from __future__ import annotations

from common import (
    figures_folder,
    mean_std,
    parser,
    run_and_load,
    save_summary,
    sized,
    train_test_cells,
)

from sslax.sweep import use_cpu_cores_as_devices

MODES = {"φ0 per data set": "per_dataset", "φ0 per epoch (augmented)": "per_epoch"}
PUBLISHED = {"φ0 per epoch (augmented)": (85.0, 85.3)}


def main() -> None:
    options = parser(__doc__.splitlines()[0], seeds=10, out="phase-augmentation")
    options.add_argument("--epochs", type=int, default=150)
    args = options.parse_args()
    use_cpu_cores_as_devices(args.cpu_devices)

    from sslax import PRESETS
    from sslax.plotting import plot_conditions
    from sslax.sweep import Sweep

    base = sized(PRESETS["quickstart"], args.smoke).replace_fields(
        learning_rate=0.005, init="parity", n_epochs=2 if args.smoke else args.epochs)
    sweep = Sweep(base, seeds=tuple(range(args.seeds)), data_seed=args.data_seed,
                  shared_data=False, grid={"phase_offset": tuple(MODES.values())})
    seconds, loaded = run_and_load(sweep, args.out / "sweep")
    by_mode = {s.structure["phase_offset"]: s.dataset for s in loaded}

    print(f"\n{args.seeds} seeds each; {seconds:.0f} s in this invocation")
    print("| phi0 | train acc [%] | test acc [%] | train − test [points] | test MAE-A [deg] | "
          "epochs run | published train / test [%] |")
    print("|---|---|---|---|---|---|---|")
    summary: dict = {"seeds": args.seeds}
    tests, trains = {}, {}
    for label, mode in MODES.items():
        data = by_mode[mode]
        cells, train, test = train_test_cells(data)
        published = PUBLISHED.get(label)
        print(f"| {label} | {cells} | {mean_std(data['n_epochs_run'].values)} | "
              f"{f'{published[0]:.1f} / {published[1]:.1f}' if published else '—'} |")
        summary[mode] = {"train": train.tolist(), "test": test.tolist(),
                         "epochs_run": data["n_epochs_run"].values.tolist()}
        tests[label], trains[label] = test, train
    plot_conditions(tests, figures_folder(args.out) / "phase_augmentation.png", "accuracy [%]",
                    f"phase-offset augmentation, τ = 5 ms ({args.seeds} seeds)",
                    published={k: v[1] for k, v in PUBLISHED.items()}, chance=100 / 12,
                    train=trains)
    save_summary(args.out, summary, "sweep/, figures/phase_augmentation.png")


if __name__ == "__main__":
    main()
