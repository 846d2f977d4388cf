"""Filter-and-fire synapses as ensembles: M contacts per input and hidden unit, each with a
fixed double-exponential PSP kernel, against the plain network.

The original notebook's setting: τ = 5 ms, 30 hidden units, 4 096 training and 2 048 test
samples, batches of 64, lr 0.0001 for 100 epochs without a validation set, both weight
matrices U(±1/√12); PSP rise times U(1, 16) ms, decay times U(8, 30) ms (at least 1.5 × the
rise time), drawn per network seed for every hidden unit and contact. Filter-and-fire with
M = 1 and with M = 3 (and, with ``--with-plain``, plain synapses); 10 seeds each, each seed
with its own data.

    python scripts/filter_and_fire.py [--seeds 10] [--epochs 100] [--with-plain]
                                      [--out runs/filter-and-fire]

Published (one run each; docs/science.md): M = 1 train 63.3 %, test 57.3 %; M = 3 train
65.6 %, test 31.1 % (it overfits).
"""

from __future__ import annotations

from common import (
    figures_folder,
    parser,
    run_and_load,
    save_summary,
    sized,
    train_test_cells,
)

from sslax.sweep import use_cpu_cores_as_devices

MODELS = {"filter-and-fire, M = 1": ("filter_and_fire", 1),
          "filter-and-fire, M = 3": ("filter_and_fire", 3)}
PLAIN = {"plain": ("instant", 1)}
PUBLISHED = {"filter-and-fire, M = 1": (63.3, 57.3), "filter-and-fire, M = 3": (65.6, 31.1)}


def main() -> None:
    options = parser(__doc__.splitlines()[0], seeds=10, out="filter-and-fire")
    options.add_argument("--epochs", type=int, default=100)
    options.add_argument("--with-plain", action="store_true",
                         help="also train the plain network in the same setting")
    args = options.parse_args()
    use_cpu_cores_as_devices(args.cpu_devices)

    from sslax import PRESETS
    from sslax.plotting import plot_conditions
    from sslax.sweep import Sweep

    base = sized(PRESETS["quickstart"], args.smoke).replace_fields(
        learning_rate=1e-4, n_valid=0, patience=0, init="output_fan_in",
        n_epochs=2 if args.smoke else args.epochs)
    seeds = tuple(range(args.seeds))
    seconds, datasets = 0.0, {}
    models = {**PLAIN, **MODELS} if args.with_plain else MODELS
    for label, (synapse, contacts) in models.items():
        sweep = Sweep(base.replace_fields(synapse=synapse, contacts=contacts), seeds=seeds,
                      data_seed=args.data_seed, shared_data=False)
        folder = args.out / label.replace(", ", "-").replace(" = ", "").replace(" ", "-")
        spent, (saved,) = run_and_load(sweep, folder)
        seconds, datasets[label] = seconds + spent, saved.dataset

    epochs = base.training.n_epochs
    print(f"\n{args.seeds} seeds each, {epochs} epochs; {seconds:.0f} s in this invocation")
    print("| synapses | train acc [%] | test acc [%] | train − test [points] | "
          "test MAE-A [deg] | published train / test [%] |")
    print("|---|---|---|---|---|---|")
    summary: dict = {"seeds": args.seeds, "epochs": epochs}
    tests, trains = {}, {}
    for label, data in datasets.items():
        cells, train, test = train_test_cells(data)
        published = PUBLISHED.get(label)
        print(f"| {label} | {cells} | "
              f"{f'{published[0]:.1f} / {published[1]:.1f}' if published else '—'} |")
        summary[label] = {"train": train.tolist(), "test": test.tolist()}
        tests[label], trains[label] = test, train
    plot_conditions(tests, figures_folder(args.out) / "filter_and_fire.png", "accuracy [%]",
                    f"filter-and-fire synapses ({args.seeds} seeds, {epochs} epochs)",
                    published={k: v[1] for k, v in PUBLISHED.items()}, chance=100 / 12,
                    train=trains)
    save_summary(args.out, summary, "one sweep per model, figures/filter_and_fire.png")


if __name__ == "__main__":
    main()
