"""Dale's law as ensembles: accuracy against the fraction of inhibitory units, and where
inhibition is needed.

Two sweeps in the quick-start setting (τ = 5 ms, 30 hidden units, up to 50 epochs with early
stopping on a validation set), 10 seeds per point, every network with its own signs and
initialisation from its seed, all sharing one data seed:

1. ``fractions``: the inhibitory fraction 0, 0.1, …, 1 in both layers (input fibres and
   hidden units), W_eff = |W|·sign as the original and, with ``--magnitudes abs softplus``,
   softplus(W)·sign too; one compile per magnitude.
2. ``conditions``: mixed (half of the inputs and half of the hidden units inhibitory), all
   inputs excitatory, all hidden units excitatory, excitatory only; |W|·sign.

It also measures the hidden firing rate of the initial networks, which the fraction changes
(an excitatory-only network starts with mean weight b/2 > 0), and checks that every trained
network kept one sign per presynaptic unit. Prints tables with the published numbers
(docs/science.md §7) and writes figures into OUT.

    python scripts/dale_law.py [--seeds 10] [--magnitudes abs softplus] [--out runs/dale-law]

Run the same command again to continue after an interruption.
"""

from __future__ import annotations

import json
import time

import numpy as np
from common import parser, sized

from sslax.sweep import use_cpu_cores_as_devices

FRACTIONS = tuple(round(0.1 * i, 1) for i in range(11))
CONDITIONS = {  # label: (inhibitory fraction of the inputs, of the hidden units)
    "mixed": (0.5, 0.5),
    "inputs excitatory": (0.0, 0.5),
    "hidden excitatory": (0.5, 0.0),
    "excitatory only": (0.0, 0.0),
}
# published (single or few runs of the original notebooks; docs/science.md §7)
PUBLISHED_FRACTIONS = {0.0: 43.0, 0.5: 78.5, 1.0: 8.3}
PUBLISHED_CONDITIONS = {"mixed": 71.2, "inputs excitatory": 49.5, "hidden excitatory": 68.7,
                        "excitatory only": 51.2}


def initial_hidden_rates(base, seeds, data_seed) -> dict[float, list[float]]:
    """Mean hidden firing rate [Hz] on the test set of each seed's initial network (|W|·sign),
    per inhibitory fraction."""
    import jax

    from sslax.metrics import evaluate
    from sslax.training import datasets_from_seed, initial_params

    config = base.replace_fields(dale="abs")
    test = datasets_from_seed(data_seed, config).test
    keys = jax.vmap(jax.random.key)(np.asarray(seeds))

    @jax.jit
    def rates(fraction):
        cfg = config.replace(network=config.network.replace(inhibitory_fraction=fraction))
        return jax.vmap(lambda key: evaluate(initial_params(key, cfg), test, cfg)
                        .firing_rate.mean())(keys)

    return {f: np.asarray(rates(f)).tolist() for f in FRACTIONS}


def main() -> None:
    options = parser(__doc__.splitlines()[0], seeds=10, out="dale-law")
    options.add_argument("--magnitudes", nargs="+", default=["abs"],
                         choices=["abs", "softplus"])
    args = options.parse_args()
    use_cpu_cores_as_devices(args.cpu_devices)

    import jax

    from sslax import PRESETS
    from sslax.experiments import run_script_sweep
    from sslax.network import network_values
    from sslax.plotting import plot_conditions
    from sslax.rundir import load_sweep, saved_params
    from sslax.sweep import Sweep

    base = sized(PRESETS["dales-law"], args.smoke)
    seeds = tuple(range(args.seeds))
    start = time.perf_counter()
    magnitudes = {"dale": tuple(args.magnitudes)} if len(args.magnitudes) > 1 else {}
    fractions = Sweep(base.replace_fields(dale=args.magnitudes[0]), seeds=seeds,
                      data_seed=args.data_seed,
                      grid={"inhibitory_fraction": FRACTIONS, **magnitudes})
    run_script_sweep(fractions, args.out / "fractions")
    conditions = Sweep(base, seeds=seeds, data_seed=args.data_seed,
                       grid={"inhibitory_fraction_inputs": (0.5, 0.0),
                             "inhibitory_fraction_hidden": (0.5, 0.0)})
    run_script_sweep(conditions, args.out / "conditions")
    seconds = time.perf_counter() - start

    summary: dict = {"seeds": args.seeds, "wall_time_s": seconds}
    print(f"\n{len(fractions.members()) * len(fractions.structures())} + "
          f"{len(conditions.members())} networks; {seconds:.0f} s in this invocation (finished "
          "sweeps are read, not rerun)")

    # 1. accuracy against the inhibitory fraction, and the initial hidden rates
    _, loaded = load_sweep(args.out / "fractions")
    print("\n| inhibitory fraction | " + " | ".join(
        f"test acc [%], {s.structure.get('dale', args.magnitudes[0])}" for s in loaded)
        + " | initial hidden rate [Hz] | published test [%] |")
    print("|---|" + "---|" * len(loaded) + "---|---|")
    rates = initial_hidden_rates(base, seeds, args.data_seed)
    for fraction in FRACTIONS:
        cells = []
        for saved in loaded:
            acc = 100 * saved.dataset["test_accuracy"].sel(inhibitory_fraction=fraction).values
            cells.append(f"{acc.mean():.1f} ± {acc.std():.1f}")
        published = PUBLISHED_FRACTIONS.get(fraction)
        print(f"| {fraction:.1f} | " + " | ".join(cells) + f" | {np.mean(rates[fraction]):.0f} "
              f"± {np.std(rates[fraction]):.0f} | {published if published else '—'} |")
    summary["fractions"] = {
        saved.structure.get("dale", args.magnitudes[0]): {
            f"{f:.1f}": (100 * saved.dataset["test_accuracy"].sel(inhibitory_fraction=f)
                         .values).tolist() for f in FRACTIONS} for saved in loaded}
    summary["initial_hidden_rate_hz"] = {f"{f:.1f}": r for f, r in rates.items()}

    # every trained network kept one sign per presynaptic unit
    for saved in loaded:
        magnitude = saved.structure.get("dale", args.magnitudes[0])
        params = saved_params(saved)
        for i, fraction in enumerate(np.repeat([FRACTIONS], args.seeds, axis=0).ravel()):
            config = base.replace_fields(dale=magnitude, inhibitory_fraction=float(fraction))
            member = jax.tree.map(lambda x, i=i: x[i], params)
            values = network_values(member, config)
            for w, signs in ((values.w_in, member.fixed["sign_in"]),
                             (values.w_out, member.fixed["sign_out"])):
                assert np.all(np.asarray(w) * np.asarray(signs)[:, None] >= 0)
    print("every trained network has one sign per presynaptic unit in both layers")

    # 2. where inhibition is needed
    _, (saved,) = load_sweep(args.out / "conditions")
    values = {}
    for label, (inputs, hidden) in CONDITIONS.items():
        acc = 100 * saved.dataset["test_accuracy"].sel(inhibitory_fraction_inputs=inputs,
                                                       inhibitory_fraction_hidden=hidden)
        values[label] = acc.values
    print("\n| condition | inhibitory inputs | inhibitory hidden | test acc [%] | "
          "published [%] |")
    print("|---|---|---|---|---|")
    for label, (inputs, hidden) in CONDITIONS.items():
        acc = values[label]
        print(f"| {label} | {inputs:.0%} | {hidden:.0%} | {acc.mean():.1f} ± {acc.std():.1f} "
              f"| {PUBLISHED_CONDITIONS[label]} |")
    summary["conditions"] = {label: acc.tolist() for label, acc in values.items()}
    figures = args.out / "figures"
    figures.mkdir(exist_ok=True)
    plot_conditions(values, figures / "conditions_test_accuracy.png", "test accuracy [%]",
                    f"Dale's law: where inhibition is needed ({args.seeds} seeds)",
                    published=PUBLISHED_CONDITIONS, chance=100 / 12)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\nsaved to {args.out}/ (fractions/, conditions/, figures/, summary.json)")


if __name__ == "__main__":
    main()
