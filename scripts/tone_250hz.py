"""The 250 Hz task: which hidden and output time constants work at dt = 0.1 ms (T = 1 000)?

One sweep over τ_hidden × τ_output (every combination is one network per seed, all in one
compiled program: τ are traced values) of the ``250hz`` preset: a 250 Hz tone, 5 hidden
units as the original notebook, early stopping on a validation set. The original reports
that the hidden τ must be ≤ 0.5 ms and that the output τ matters little (single runs:
both 5 ms 28.1 %, both 0.5 ms 81.5 %, hidden 0.5 / output 5 ms 75.0 %; docs/science.md §7).
Data sets are smaller than the notebook's (2 048 training samples, 1 024 validation and test
samples, at most 15 epochs) to keep the sweep to minutes on a CPU; ``--full`` uses the
preset's 4 096 / 4 096 / 2 048 samples and 50 epochs.

    python scripts/tone_250hz.py [--seeds 4] [--full] [--out runs/tone-250hz]
"""

from __future__ import annotations

import json
import time

import numpy as np
from common import parser, sized

from sslax.sweep import use_cpu_cores_as_devices

TAU_HIDDEN = (0.1e-3, 0.2e-3, 0.5e-3, 1e-3, 2e-3, 5e-3)
TAU_OUTPUT = (0.5e-3, 2e-3, 5e-3, 20e-3)
PUBLISHED = {(5e-3, 5e-3): 28.1, (0.5e-3, 0.5e-3): 81.5, (0.5e-3, 5e-3): 75.0}


def main() -> None:
    options = parser(__doc__.splitlines()[0], seeds=4, out="tone-250hz")
    options.add_argument("--full", action="store_true",
                         help="the preset's data set sizes and 50 epochs")
    args = options.parse_args()
    use_cpu_cores_as_devices(args.cpu_devices)

    from sslax import PRESETS
    from sslax.experiments import run_script_sweep
    from sslax.plotting import plot_grid_heatmap
    from sslax.rundir import load_sweep
    from sslax.sweep import Sweep

    base = PRESETS["250hz"]
    if not args.full:
        base = base.replace_fields(n_train=2048, n_valid=1024, n_test=1024, n_epochs=15,
                                   patience=5)
    base = sized(base, args.smoke)
    sweep = Sweep(base, seeds=tuple(range(args.seeds)), data_seed=args.data_seed,
                  grid={"tau_hidden": TAU_HIDDEN, "tau_output": TAU_OUTPUT})
    start = time.perf_counter()
    run_script_sweep(sweep, args.out / "sweep")
    seconds = time.perf_counter() - start
    _, (saved,) = load_sweep(args.out / "sweep")
    test = 100 * saved.dataset["test_accuracy"]
    print(f"\n{len(sweep.members())} networks ({seconds:.0f} s in this invocation); test "
          f"accuracy [%], mean ± std over {args.seeds} seeds (published single runs in brackets)")
    print("| τ_hidden [ms] \\ τ_output [ms] | " + " | ".join(f"{t * 1e3:g}" for t in TAU_OUTPUT)
          + " |")
    print("|---|" + "---|" * len(TAU_OUTPUT))
    summary: dict = {"seeds": args.seeds, "wall_time_s": seconds, "test_accuracy": {}}
    for tau_h in TAU_HIDDEN:
        cells = []
        for tau_o in TAU_OUTPUT:
            acc = test.sel(tau_hidden=tau_h, tau_output=tau_o).values
            published = PUBLISHED.get((tau_h, tau_o))
            cells.append(f"{acc.mean():.1f} ± {acc.std():.1f}"
                         + (f" ({published})" if published else ""))
            summary["test_accuracy"][f"{tau_h * 1e3:g}/{tau_o * 1e3:g}"] = acc.tolist()
        print(f"| {tau_h * 1e3:g} | " + " | ".join(cells) + " |")
    figures = args.out / "figures"
    figures.mkdir(exist_ok=True)
    mean, std = (x.transpose("tau_hidden", "tau_output").values
                 for x in (test.mean("seed"), test.std("seed")))
    plot_grid_heatmap(
        mean, std,
        ("τ_hidden [ms]", [f"{t * 1e3:g}" for t in TAU_HIDDEN]),
        ("τ_output [ms]", [f"{t * 1e3:g}" for t in TAU_OUTPUT]),
        figures / "test_accuracy_grid.png",
        f"250 Hz: test accuracy [%], mean ± std over {args.seeds} seeds",
        marked={(TAU_HIDDEN.index(h), TAU_OUTPUT.index(o)): f"(published {value})"
                for (h, o), value in PUBLISHED.items()})
    best = np.unravel_index(np.argmax(mean), mean.shape)
    print(f"best: τ_hidden {TAU_HIDDEN[best[0]] * 1e3:g} ms, τ_output "
          f"{TAU_OUTPUT[best[1]] * 1e3:g} ms")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"saved to {args.out}/ (sweep/, figures/, summary.json)")


if __name__ == "__main__":
    main()
