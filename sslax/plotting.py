"""Figures of a trained run (matplotlib, Agg backend). Reads arrays only; computes nothing new.

- ``loss_curves.png``: training and validation loss and accuracy per epoch;
- ``confusion_matrix.png``: test confusion matrix [estimated, true], normalised per true class;
- ``ipd_histogram.png``: histograms of true and estimated test IPDs [deg] (the notebooks'
  figure), beside a 2-D histogram of estimated against true IPD.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sslax.config import display_label, display_value
from sslax.stimulus import class_to_ipd
from sslax.training import Run


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path, tight_layout: bool = True) -> None:
    """Lay out ``fig``, write it to ``path`` and free it. ``tight_layout=False`` for a figure
    whose colour bar spans several axes (which tight layout cannot place): the saved area is
    trimmed to the drawing instead."""
    if tight_layout:
        fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches=None if tight_layout else "tight")
    _pyplot().close(fig)


def plot_loss_curves(run: Run, path: Path) -> None:
    """Loss and accuracy per epoch (training while training; validation after each epoch)."""
    plt = _pyplot()
    h = run.result.history
    epochs = np.arange(1, len(np.asarray(h.train_loss)) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, np.asarray(h.train_loss), label="train (during epoch)")
    ax_acc.plot(epochs, 100 * np.asarray(h.train_accuracy), label="train (during epoch)")
    if np.isfinite(np.asarray(h.valid_loss)).any():
        ax_loss.plot(epochs, np.asarray(h.valid_loss), label="validation")
        ax_acc.plot(epochs, 100 * np.asarray(h.valid_accuracy), label="validation")
        best = int(run.result.best_epoch)
        for ax in (ax_loss, ax_acc):
            ax.axvline(best, color="grey", linestyle=":", label=f"best epoch ({best})")
    ax_acc.axhline(100 / run.config.stimulus.n_classes, color="k", linestyle="--",
                   linewidth=0.8, label="chance")
    ax_loss.set(xlabel="epoch", ylabel="loss (cross-entropy + any penalty)", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy [%]", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend(fontsize=8)
    _save(fig, path)


def plot_confusion(run: Run, path: Path) -> None:
    """Test confusion matrix [estimated, true], columns normalised."""
    plt = _pyplot()
    n = run.config.stimulus.n_classes
    edges = np.degrees(np.linspace(-np.pi / 2, np.pi / 2, n + 1))
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    image = ax.imshow(np.asarray(run.test_eval.confusion), origin="lower", vmin=0, vmax=1,
                      extent=(edges[0], edges[-1], edges[0], edges[-1]), cmap="viridis")
    fig.colorbar(image, ax=ax, label="fraction of true class")
    ax.set(xlabel="true IPD [deg]", ylabel="estimated IPD [deg]",
           title=f"test confusion (accuracy {100 * float(run.test_eval.accuracy):.1f}%)")
    _save(fig, path)


def plot_ipd_histogram(run: Run, path: Path) -> None:
    """Histograms of true and estimated IPD on the test set, and their joint histogram."""
    plt = _pyplot()
    n = run.config.stimulus.n_classes
    true = np.degrees(np.asarray(run.test_eval.ipd))
    estimated = np.degrees(np.asarray(class_to_ipd(run.test_eval.predicted, n)))
    bins = np.degrees(np.linspace(-np.pi / 2, np.pi / 2, n + 1))
    fig, (ax_hist, ax_joint) = plt.subplots(1, 2, figsize=(10, 4))
    ax_hist.hist(true, bins=bins, alpha=0.6, label="true")
    ax_hist.hist(estimated, bins=bins, alpha=0.6, label="estimated")
    ax_hist.set(xlabel="IPD [deg]", ylabel="test samples", title="true vs estimated IPD")
    ax_hist.legend()
    ax_joint.hist2d(true, estimated, bins=[bins, bins], cmap="viridis")
    ax_joint.plot(bins, bins, "w--", linewidth=0.8)
    ax_joint.set(xlabel="true IPD [deg]", ylabel="estimated IPD [deg]",
                 title=f"MAE-A {float(run.test_eval.mae_a):.1f}°, "
                       f"MAE-B {float(run.test_eval.mae_b):.1f}°")
    _save(fig, path)


def save_figures(run: Run, folder: Path) -> list[Path]:
    """Write every figure of a run into ``folder``; returns the paths."""
    paths = [folder / "loss_curves.png", folder / "confusion_matrix.png",
             folder / "ipd_histogram.png"]
    plots = (plot_loss_curves, plot_confusion, plot_ipd_histogram)
    for plot, path in zip(plots, paths, strict=True):
        plot(run, path)
    return paths


# ---------------------------------------------------------------------------------------------
# sweeps
# ---------------------------------------------------------------------------------------------

SWEEP_PANELS = (
    ("accuracy", ("train_accuracy", "test_accuracy"), 100.0, "accuracy [%]"),
    ("mae_a", ("train_mae_a", "test_mae_a"), 1.0, "MAE-A [deg]"),
    ("mae_b", ("train_mae_b", "test_mae_b"), 1.0, "MAE-B [deg]"),
    ("firing_rate", ("train_firing_rate", "test_firing_rate"), 1.0, "mean hidden rate [Hz]"),
)


def plot_sweep_metric(dataset: Any, field: str, metric: str, path: Path) -> None:
    """A metric (train and test) against swept ``field``: mean ± std over seeds, one line per
    combination of the other swept fields. Values are shown in the field's display unit; a
    field with non-numeric values (an option name) gets one tick per value."""
    plt = _pyplot()
    _, variables, scale, label = next(p for p in SWEEP_PANELS if p[0] == metric)
    others = [d for d in dataset[variables[0]].dims if d not in ("seed", field)]
    values = list(dataset[field].values)
    numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not
                  isinstance(v, (bool, np.bool_)) for v in values)
    x = (np.asarray([display_value(field, v) for v in values], dtype=float) if numeric
         else np.arange(len(values), dtype=float))
    fig, ax = plt.subplots(figsize=(6, 4))
    for combo in combinations(dataset, others):
        suffix = ", ".join(f"{display_label(k)}={_shown(k, v)}" for k, v in combo.items())
        for variable, style in zip(variables, ("--", "-"), strict=True):
            cell = scale * dataset[variable].sel(combo).transpose("seed", field).values
            mean, std = np.nanmean(cell, axis=0), np.nanstd(cell, axis=0)
            split = variable.split("_")[0]
            line = ax.errorbar(x, mean, yerr=std, linestyle=style, marker="o", capsize=3,
                               label=f"{split}{' (' + suffix + ')' if suffix else ''}")
            ax.fill_between(x, mean - std, mean + std, alpha=0.1, color=line[0].get_color())
    if not numeric:
        ax.set_xticks(x, [str(v) for v in values])
    if metric == "accuracy":
        n_classes = dataset.attrs.get("n_classes")
        if n_classes:
            ax.axhline(100 / n_classes, color="k", linewidth=0.8, linestyle=":",
                       label="chance")
    n_seeds = dataset.sizes["seed"]
    ax.set(xlabel=display_label(field), ylabel=label,
           title=f"{label} vs {field} (mean ± std over {n_seeds} seeds)")
    ax.legend(fontsize=7)
    _save(fig, path)


def _shown(field: str, value: Any) -> str:
    shown = display_value(field, value)
    return f"{shown:g}" if isinstance(shown, float) else str(shown)


def combinations(dataset: Any, dims: list[str]) -> list[dict[str, Any]]:
    """Every combination of the coordinate values of ``dims`` (as ``sel`` arguments)."""
    import itertools

    values = [list(dataset[d].values) for d in dims]
    return [dict(zip(dims, combo, strict=True)) for combo in itertools.product(*values)]


def save_sweep_figures(dataset: Any, folder: Path, tag: str = "all") -> list[Path]:
    """Every metric against every swept field of a sweep's dataset (with ``tag`` ``all``, the
    combined dataset of every structure, structural fields included); returns the paths."""
    fields = [d for d in dataset["test_accuracy"].dims if d != "seed"]
    paths = []
    for field in fields:
        for metric, *_ in SWEEP_PANELS:
            name = f"{metric}_vs_{field}.png" if tag == "all" else f"{tag}_{metric}_vs_{field}.png"
            plot_sweep_metric(dataset, field, metric, folder / name)
            paths.append(folder / name)
    return paths


# ---------------------------------------------------------------------------------------------
# experiment figures
# ---------------------------------------------------------------------------------------------


def plot_conditions(values: dict[str, np.ndarray], path: Path, ylabel: str, title: str,
                    published: dict[str, float] | None = None,
                    chance: float | None = None,
                    train: dict[str, np.ndarray] | None = None) -> None:
    """One bar per condition (mean ± std over seeds, the seeds as dots), with the published
    value of a condition as a marker where there is one. With ``train`` (training-set values of
    some or all of the conditions) those get a training bar beside their test bar."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.6 * len(values) + 2, 4))
    x = np.arange(len(values))
    series = [("test", values, 0.0, "C0")] if train is None else [
        ("train", train, -0.2, "C7"), ("test", values, 0.2, "C0")]
    width = 0.8 if train is None else 0.4
    labels = list(values)
    for name, data, offset, colour in series:
        for label, seeds in data.items():
            i = labels.index(label)
            seeds = np.asarray(seeds, dtype=float)
            ax.bar(i + offset, seeds.mean(), width=width, yerr=seeds.std(), capsize=4,
                   color=colour, alpha=0.6, label=name if label == next(iter(data))
                   and train is not None else None)
            spread = np.linspace(-0.3, 0.3, seeds.size) * width
            ax.scatter(np.full(seeds.shape, i + offset) + spread, seeds, s=10, color="k",
                       zorder=3)
    test_offset = series[-1][2]
    marked = [(i + test_offset, published[label]) for i, label in enumerate(values)
              if published and label in published]
    if marked:
        ax.scatter(*zip(*marked, strict=True), marker="D", s=50, color="C3", zorder=4,
                   label="published")
    if chance is not None:
        ax.axhline(chance, color="k", linestyle=":", linewidth=0.8, label="chance")
    ax.set_xticks(x, list(values), rotation=15)
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_time_constant_histograms(taus: dict[str, np.ndarray], path: Path, title: str,
                                  initial: dict[str, float] | None = None) -> None:
    """Histograms of time constants [s, shown in ms on a log axis], one panel per label,
    with the initial value of each as a dashed line."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(taus), figsize=(4 * len(taus), 3.5), squeeze=False)
    every = np.concatenate([np.ravel(v) for v in taus.values()]) * 1e3
    bins = np.geomspace(max(every.min(), 1e-3) * 0.9, every.max() * 1.1, 40)
    for ax, (label, values) in zip(axes[0], taus.items(), strict=True):
        ms = np.ravel(values) * 1e3
        ax.hist(ms, bins=bins, color="C0")
        if initial and label in initial:
            ax.axvline(initial[label] * 1e3, color="k", linestyle="--", linewidth=1,
                       label="initial")
            ax.legend(fontsize=8)
        ax.set_xscale("log")
        ax.set(xlabel="τ [ms]", ylabel="units", title=label)
    fig.suptitle(title)
    _save(fig, path)


def plot_grid_heatmap(mean: np.ndarray, std: np.ndarray, rows: tuple[str, list[str]],
                      columns: tuple[str, list[str]], path: Path, title: str,
                      marked: dict[tuple[int, int], str] | None = None) -> None:
    """A metric over a two-field grid [rows, columns] as a heatmap with 'mean ± std' in each
    cell. ``rows`` and ``columns`` are (axis label, tick labels); ``marked`` adds a second
    line (such as a published value) to the cells at the given (row, column) indices."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.4 * len(columns[1]) + 2, 0.6 * len(rows[1]) + 1.6))
    image = ax.imshow(mean, cmap="viridis", aspect="auto", origin="lower")
    for (i, j), value in np.ndenumerate(mean):
        text = f"{value:.1f} ± {std[i, j]:.1f}"
        if marked and (i, j) in marked:
            text += f"\n{marked[(i, j)]}"
        shade = "black" if value > mean.min() + 0.6 * np.ptp(mean) else "white"
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color=shade)
    ax.set_xticks(range(len(columns[1])), columns[1])
    ax.set_yticks(range(len(rows[1])), rows[1])
    ax.set(xlabel=columns[0], ylabel=rows[0], title=title)
    fig.colorbar(image, ax=ax)
    _save(fig, path)


def plot_unit_rates(rates: dict[str, np.ndarray], path: Path, title: str,
                    band: tuple[float, float] | None = None) -> None:
    """Firing rate of every hidden unit [Hz], one panel per label with one column of dots
    per network ([networks, hidden] arrays), and the rate band shaded."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(rates), figsize=(4.5 * len(rates), 3.8), squeeze=False,
                             sharey=True)
    for ax, (label, values) in zip(axes[0], rates.items(), strict=True):
        values = np.asarray(values, dtype=float)
        for i, row in enumerate(values):
            ax.scatter(np.full(row.shape, i + 1), row, s=12, color="C0", alpha=0.7)
        if band is not None:
            ax.axhspan(*band, color="C2", alpha=0.15,
                       label=f"r₋–r₊ = {band[0]:g}–{band[1]:g} Hz")
            ax.legend(fontsize=8)
        ax.set(xlabel="network", title=label)
        ax.set_xticks(range(1, len(values) + 1))
    axes[0][0].set_ylabel("hidden unit firing rate [Hz]")
    fig.suptitle(title)
    _save(fig, path)


def plot_receptive_fields(w_in: np.ndarray, delay_in: np.ndarray, units: Sequence[int],
                          dt: float, path: Path) -> None:
    """Learned synaptic delays of chosen hidden units: for each, every input synapse as a dot
    at (presynaptic fibre, delay rounded to a step [ms]), coloured by its signed weight
    (diverging colour map symmetric around zero; left ear, then right ear)."""
    plt = _pyplot()
    units = list(units)
    fig, axes = plt.subplots(1, len(units), figsize=(3.4 * len(units) + 1, 3.6),
                             squeeze=False, sharey=True)
    limit = float(np.max(np.abs(w_in[:, units]))) or 1.0
    fibres = np.arange(w_in.shape[0])
    image = None
    for ax, unit in zip(axes[0], units, strict=True):
        order = np.argsort(np.abs(w_in[:, unit]))  # strongest drawn last
        image = ax.scatter(fibres[order], np.round(delay_in[order, unit]) * dt * 1e3,
                           c=w_in[order, unit], cmap="RdBu_r", vmin=-limit, vmax=limit, s=9)
        ax.axvline(w_in.shape[0] / 2 - 0.5, color="0.6", linewidth=0.6)
        ax.set(title=f"hidden unit {unit}", xlabel="input fibre (left | right)")
        ax.yaxis.get_major_locator().set_params(integer=True)
    axes[0, 0].set_ylabel("learned delay [ms]")
    fig.colorbar(image, ax=list(axes[0]), label="weight")
    _save(fig, path, tight_layout=False)


def plot_delay_histograms(delays_by_layer: dict[str, np.ndarray], dt: float,
                          path: Path) -> None:
    """Distribution of the learned delays (rounded to a step) of each layer [ms]."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(delays_by_layer), figsize=(5 * len(delays_by_layer), 3.5),
                             squeeze=False)
    for ax, (name, d) in zip(axes[0], delays_by_layer.items(), strict=True):
        steps = np.round(np.asarray(d).ravel())
        ax.hist(steps * dt * 1e3, bins=np.arange(steps.max() + 2) * dt * 1e3 - dt * 5e2)
        ax.set(xlabel="learned delay [ms]", ylabel="synapses", title=name)
    _save(fig, path)

