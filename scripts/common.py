"""What the reproduction scripts share: their common options and the tiny sizes of a smoke
run (``--smoke``, used by the test suite to check that every script runs end to end)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sslax.config import Config

#: A few seconds per sweep: checks the plumbing, not the science.
SMOKE_SIZES = dict(fibres_per_ear=8, n_hidden=6, duration=0.03, n_train=64, n_valid=32,
                   n_test=32, batch_size=16, n_epochs=2)


def parser(description: str, seeds: int, out: str) -> argparse.ArgumentParser:
    """The shared options. Also turns on the persistent compilation cache (as the ``sslax``
    commands do; ``SSLAX_COMPILE_CACHE=0`` keeps it off): scripts compile the same
    structures run after run."""
    from sslax.compile_cache import enable_unless_turned_off

    enable_unless_turned_off()
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=seeds, help="network seeds per point")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / out,
                        help="folder for the sweep directories, figures and summary.json "
                             "(run the same command again to continue an interrupted run)")
    parser.add_argument("--cpu-devices", type=int, default=None,
                        help="JAX devices to split the CPU into (default: one per core)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, to check that the script runs (no science)")
    return parser


def sized(config: Config, smoke: bool) -> Config:
    """``config``, shrunk to the smoke-run sizes when ``smoke``."""
    return config.replace_fields(**SMOKE_SIZES) if smoke else config


def mean_std(values) -> str:
    """``"84.7 ± 1.1"``: mean ± std (over seeds) of ``values``."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    return f"{values.mean():.1f} ± {values.std():.1f}"


def percent(dataset, metric: str, **selection):
    """``100 × dataset[metric]`` at ``selection``, over seeds (accuracies in %)."""
    cell = dataset[metric].sel(selection) if selection else dataset[metric]
    return 100 * cell.values


def run_and_load(sweep, folder: Path) -> tuple[float, list]:
    """Run ``sweep`` into ``folder`` (or continue it, or only read it when it is complete),
    then load it: the seconds this call took and the saved structures
    (:func:`sslax.rundir.load_sweep`)."""
    import time

    from sslax.experiments import run_script_sweep
    from sslax.rundir import load_sweep

    start = time.perf_counter()
    run_script_sweep(sweep, folder)
    seconds = time.perf_counter() - start
    return seconds, load_sweep(folder)[1]


def figures_folder(out: Path) -> Path:
    """``OUT/figures``, created if needed."""
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_summary(out: Path, summary: dict, contents: str) -> None:
    """Write ``OUT/summary.json`` and say where everything is."""
    import json

    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"saved to {out}/ ({contents}, summary.json)")


def train_test_cells(data) -> tuple[str, object, object]:
    """``"train | test | train − test | test MAE-A"`` table cells (mean ± std over seeds) of a
    sweep dataset, and its train and test accuracies [%]."""
    train, test = percent(data, "train_accuracy"), percent(data, "test_accuracy")
    cells = (f"{mean_std(train)} | {mean_std(test)} | {mean_std(train - test)} | "
             f"{mean_std(data['test_mae_a'].values)}")
    return cells, train, test
