"""The minimal model's ensemble analysed: hidden rates, tuning, and how much of the solution
the rate approximation and the six-parameter model keep.

Reads (or first trains) the sweep of ``scripts/minimal_model.py`` — the ``minimal-model``
preset, 10 seeds for each rate-penalty form, each seed with its own data — and runs
``sslax analyse`` on it (every member, test set), then tabulates the ensemble.

    python scripts/analysis_minimal_model.py [--seeds 10] [--out runs/minimal-model]

Published (one network; docs/science.md §6.4, §7): hidden rates 110–150 Hz; a rate-based
approximation and the six-parameter model "match" the spiking network (no accuracy given).
"""

from __future__ import annotations

import json

from common import mean_std, parser, run_and_load
from minimal_model import minimal_sweep

from sslax.sweep import use_cpu_cores_as_devices


def main() -> None:
    options = parser(__doc__.splitlines()[0], seeds=10, out="minimal-model")
    options.add_argument("--forms", nargs="+", default=["above_lower", "band"])
    args = options.parse_args()
    use_cpu_cores_as_devices(args.cpu_devices)

    from sslax.analysis.network_analysis import AnalysisOptions
    from sslax.analysis.report import REPORT_FILE, analyse_sweep_dir

    run_and_load(minimal_sweep(args), args.out / "sweep")
    out = analyse_sweep_dir(args.out / "sweep", args.out / "analysis",
                            options=AnalysisOptions(tca=not args.smoke))
    report = json.loads((out / REPORT_FILE).read_text())

    print(f"\n{args.seeds} seeds per penalty form, test sets (accuracy in %, mean ± std)")
    print("| rate penalty | spiking network | spiking units | rate approximation | "
          "six-parameter model | Ricker fit of W2, R² | Gaussian fit of tuning, R² | "
          "tuning similarity between seeds |")
    print("|---|---|---|---|---|---|---|---|")
    for structure in report["structures"]:
        e, members = structure["ensemble"], structure["members"]

        def col(values, scale=100.0):
            return mean_std([scale * v for v in values if v is not None])

        print(f"| {structure['structure']['rate_regulariser']} | "
              f"{col([m['accuracy'] for m in members])} | "
              f"{col([m['hidden']['n_spiking'] for m in members], 1)} | "
              f"{col([m['rate_approximation']['accuracy'] for m in members])} | "
              f"{col([m['six_parameter_model']['accuracy'] for m in members])} | "
              f"{col([m['six_parameter_model']['w_out_ricker']['r2'] for m in members], 1)} | "
              f"{col([m['six_parameter_model']['tuning_gaussian']['r2'] for m in members], 1)} | "
              f"{e['tuning_similarity_between_members']['mean']:.2f} |")
    print(f"figures and analysis.json in {out}/")


if __name__ == "__main__":
    main()
