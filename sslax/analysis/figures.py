"""Figures of a network analysis (matplotlib, Agg backend): read arrays, compute nothing new.

One function per figure; :func:`save_network_figures` writes the set of one network,
:func:`save_ensemble_figures` the set of an ensemble. Weight maps use a diverging colour map
symmetric around zero (red positive, blue negative).
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from sslax.analysis.network_analysis import NetworkAnalysis
from sslax.analysis.tuning import SPREAD
from sslax.plotting import _pyplot, _save
from sslax.stimulus import class_to_ipd

DEG = 180.0 / math.pi
MAX_PANELS = 16


def _class_ipd_deg(n_classes: int) -> np.ndarray:
    return np.asarray(class_to_ipd(np.arange(n_classes), n_classes)) * DEG


def _grid(n: int, cols: int = 4, size: tuple[float, float] = (3.0, 2.2)) -> tuple[Any, Any]:
    plt = _pyplot()
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows),
                             squeeze=False, sharex=True)
    axes = list(axes.flat)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def _label_outer(axes: list[Any], n: int, xlabel: str, ylabel: str, cols: int = 4) -> None:
    """Axis labels on the outer panels of a :func:`_grid` of ``n`` panels only: x under the
    lowest panel of each column, y left of each row."""
    for k, ax in enumerate(axes[:n]):
        if k + cols >= n:
            ax.set_xlabel(xlabel)
        if k % cols == 0:
            ax.set_ylabel(ylabel)


def _weights_image(ax: Any, fig: Any, w: np.ndarray, title: str, xlabel: str,
                   ylabel: str) -> None:
    limit = float(np.max(np.abs(w))) or 1.0
    image = ax.imshow(w, aspect="auto", origin="lower", interpolation="nearest",
                      cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(image, ax=ax, label="weight")


def _shown_units(a: NetworkAnalysis, most: int = MAX_PANELS) -> np.ndarray:
    """The ``most`` spiking units whose removal costs most accuracy, in the ``output``
    order (so their preferred IPDs progress from panel to panel)."""
    rank = np.asarray(a.ablation.rank)
    important = rank[a.spiking[rank]][:most]
    order = a.orders["output"]
    return order[np.isin(order, important)]


def _shown_note(a: NetworkAnalysis, shown: np.ndarray) -> str:
    n_spiking = int(np.sum(a.spiking))
    if shown.size == n_spiking:
        return f"all {n_spiking} spiking units, output order"
    return f"the {shown.size} most important of {n_spiking} spiking units, output order"


def plot_rasters(a: NetworkAnalysis, path: Path) -> None:
    """Hidden spike rasters of the traced samples, one panel per IPD."""
    spikes, ipd = a.traces.hidden_spikes, np.asarray(a.activity.ipd)[a.trace_samples]
    dt_ms = a.config.stimulus.dt * 1e3
    fig, axes = _grid(len(a.trace_samples), size=(3.0, 2.4))
    for k, ax in enumerate(axes[: len(a.trace_samples)]):
        t, unit = np.nonzero(spikes[:, k, :])
        ax.plot(t * dt_ms, unit, "|k", markersize=3)
        ax.set(title=f"IPD {ipd[k] * DEG:+.0f}°", ylim=(-1, spikes.shape[2]),
               xlim=(0, spikes.shape[0] * dt_ms))
    _label_outer(axes, len(a.trace_samples), "time [ms]", "hidden unit")
    fig.suptitle("hidden-layer spikes (one test sample per panel)")
    _save(fig, path)


def plot_membranes(a: NetworkAnalysis, path: Path) -> None:
    """Hidden and output membranes of the traced sample nearest 0° IPD."""
    plt = _pyplot()
    ipd = np.asarray(a.activity.ipd)[a.trace_samples]
    k = int(np.argmin(np.abs(ipd)))
    dt_ms = a.config.stimulus.dt * 1e3
    hidden, out = a.traces.hidden_membranes[:, k, :], a.traces.output[:, k, :]
    time = np.arange(hidden.shape[0]) * dt_ms
    counts = a.traces.hidden_spikes[:, k, :].sum(axis=0)
    busiest = np.argsort(-counts, stable=True)[:3]
    fig, (ax_h, ax_o) = plt.subplots(1, 2, figsize=(11, 4))
    ax_h.plot(time, hidden, color="0.8", linewidth=0.6)
    for unit in busiest:
        ax_h.plot(time, hidden[:, unit], linewidth=1.0,
                  label=f"unit {unit} ({int(counts[unit])} spikes)")
    ax_h.axhline(a.config.network.threshold, color="k", linestyle="--", linewidth=0.8,
                 label="threshold")
    ax_h.set(xlabel="time [ms]", ylabel="membrane v (after reset)",
             title=f"hidden membranes, IPD {ipd[k] * DEG:+.0f}° (grey: other units)")
    ax_h.legend(fontsize=7)
    true_class = int(a.labels[a.trace_samples[k]])
    ylabel = ("output spikes" if a.config.network.readout == "spike_count"
              else "output membrane u")
    ax_o.plot(time, out, color="0.75", linewidth=0.6)
    ax_o.plot(time, out[:, true_class], color="C3", linewidth=1.4,
              label=f"true class {true_class} ({_class_ipd_deg(out.shape[1])[true_class]:+.0f}°)")
    ax_o.set(xlabel="time [ms]", ylabel=ylabel, title="output units (grey: other classes)")
    ax_o.legend(fontsize=7)
    _save(fig, path)


def plot_hidden_rates(a: NetworkAnalysis, path: Path) -> None:
    """Mean firing rate of every hidden unit; silent units marked."""
    plt = _pyplot()
    rates = a.activity.hidden_counts.mean(axis=0) / a.config.stimulus.duration
    units = np.arange(rates.size)
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * rates.size + 2), 3.5))
    ax.bar(units[a.spiking], rates[a.spiking], color="C0", label="spiking")
    silent = units[~a.spiking]
    ax.plot(silent, np.zeros(silent.size), "x", color="C3",
            label=f"silent ({silent.size}: no spike on any sample)")
    ax.set(xlabel="hidden unit", ylabel="mean firing rate [Hz]",
           title=f"hidden firing rates ({a.spiking.sum()} of {rates.size} units spike)")
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_spike_counts(a: NetworkAnalysis, path: Path) -> None:
    """Spike count per sample of each spiking unit against the sample's IPD."""
    shown = _shown_units(a)
    ipd = np.asarray(a.activity.ipd) * DEG
    fig, axes = _grid(len(shown))
    for ax, unit in zip(axes, shown, strict=False):
        ax.plot(ipd, a.activity.hidden_counts[:, unit], ".", markersize=2, alpha=0.4)
        ax.set_title(f"unit {unit}")
    _label_outer(axes, len(shown), "IPD [deg]", "spikes per sample")
    fig.suptitle(f"spike count against IPD ({_shown_note(a, shown)})")
    _save(fig, path)


def _tuning_panels(axes: Any, mean: np.ndarray, std: np.ndarray, units: Sequence[int],
                   x: np.ndarray, color: str = "k", label: str | None = None) -> None:
    for ax, unit in zip(axes, units, strict=False):
        ax.fill_between(x, mean[:, unit] - SPREAD * std[:, unit],
                        mean[:, unit] + SPREAD * std[:, unit], color=color, alpha=0.15,
                        linewidth=0)
        ax.plot(x, mean[:, unit], color=color, label=label)


def plot_hidden_tuning(a: NetworkAnalysis, path: Path) -> None:
    """Firing rate per true class of each spiking unit, mean ± 1.96·std over samples."""
    shown = _shown_units(a)
    x = _class_ipd_deg(a.config.stimulus.n_classes)
    fig, axes = _grid(len(shown))
    _tuning_panels(axes, a.hidden_tuning.mean, a.hidden_tuning.std, shown, x)
    for ax, unit in zip(axes, shown, strict=False):
        ax.set_title(f"unit {unit}")
    _label_outer(axes, len(shown), "true IPD (class midpoint) [deg]", "rate [Hz]")
    fig.suptitle(f"hidden tuning curves: mean ± 1.96·std per class ({_shown_note(a, shown)})")
    _save(fig, path)


def plot_output_tuning(a: NetworkAnalysis, path: Path) -> None:
    """Readout score of each output unit against IPD: samples, and mean ± 1.96·std per
    class; the dashed line is the unit's own class."""
    n_classes = a.config.stimulus.n_classes
    x = _class_ipd_deg(n_classes)
    ipd = np.asarray(a.activity.ipd) * DEG
    fig, axes = _grid(n_classes)
    for c, ax in enumerate(axes[:n_classes]):
        ax.plot(ipd, a.activity.scores[:, c], ",", color="0.7")
        ax.axvline(x[c], color="C3", linestyle="--", linewidth=0.8)
        ax.set_title(f"class {c} ({x[c]:+.0f}°)")
    _label_outer(axes, n_classes, "IPD [deg]", "score")
    _tuning_panels(axes, a.output_tuning.mean, a.output_tuning.std, range(n_classes), x)
    fig.suptitle("output tuning: readout score (time-mean membrane) per sample (grey), "
                 "mean ± 1.96·std per class (black); red: the unit's class")
    _save(fig, path)


def plot_ablation(a: NetworkAnalysis, path: Path) -> None:
    """Accuracy lost by removing each unit alone, and by removing units cumulatively in
    order of importance."""
    plt = _pyplot()
    ab = a.ablation
    chance = 100 / a.config.stimulus.n_classes
    rank = np.asarray(ab.rank)
    drop = 100 * (ab.baseline - ab.without_unit[rank])
    fig, (ax_one, ax_top) = plt.subplots(1, 2, figsize=(12, 4))
    silent = np.asarray(ab.silent)[rank]
    ax_one.bar(np.arange(rank.size), drop, color="C0")
    ax_one.set_xticks(np.arange(rank.size), [str(u) for u in rank], fontsize=6, rotation=90)
    for label, is_silent in zip(ax_one.get_xticklabels(), silent, strict=True):
        label.set_color("C3" if is_silent else "k")
    ax_one.set(xlabel="hidden unit removed (most important first; red label: silent unit)",
               ylabel="accuracy lost [points]",
               title=f"one unit removed (intact network {100 * ab.baseline:.1f} %)")
    ax_one.axhline(0, color="k", linewidth=0.6)
    k = np.arange(ab.without_top.size)
    ax_top.plot(k, 100 * ab.without_top, "o-", markersize=3, label="k most important removed")
    n_silent = int(np.sum(ab.silent))
    silent = (f"all {n_silent} silent units removed" if n_silent else
              "intact (no silent unit to remove)")
    ax_top.axhline(100 * ab.without_silent, color="C2", linestyle=":",
                   label=f"{silent} ({100 * ab.without_silent:.1f} %)")
    ax_top.axhline(chance, color="k", linestyle="--", linewidth=0.8,
                   label=f"chance ({chance:.1f} %)")
    ax_top.set(xlabel="units removed k", ylabel="accuracy [%]", ylim=(0, 100),
               title="cumulative removal in order of importance")
    ax_top.legend(fontsize=8)
    _save(fig, path)


def plot_weights(a: NetworkAnalysis, path: Path) -> None:
    """W1, W2 and W1·W2, hidden units in each of the two orders (one row per order)."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    titles = {"input": "by weighted-mean input index of W1",
              "output": "by weighted-mean output index of W2"}
    for row, (by, order) in zip(axes, a.orders.items(), strict=True):
        _weights_image(row[0], fig, a.w_in[:, order], f"W1, units ordered {titles[by]}",
                       "hidden unit (ordered; silent last)", "input fibre (left, then right ear)")
        _weights_image(row[1], fig, a.w_out[order], "W2 (same order)", "output class",
                       "hidden unit (ordered; silent last)")
        _weights_image(row[2], fig, a.w_in @ a.w_out, "W1·W2 (order-free)", "output class",
                       "input fibre")
    _save(fig, path)


def plot_ear_profiles(a: NetworkAnalysis, path: Path, n_lines: int = 4) -> None:
    """W1 by ear against phase delay: every spiking unit as an image row (output order),
    and the ``n_lines`` most important units as curves."""
    from sslax.analysis.weights import ear_profiles
    from sslax.stimulus import phase_delays

    plt = _pyplot()
    n = a.config.stimulus.fibres_per_ear
    delays = np.asarray(phase_delays(a.config.stimulus))[:n] * DEG
    profiles = ear_profiles(a.w_in, n)
    order = a.orders["output"]
    units = order[a.spiking[order]]
    lines = _shown_units(a, n_lines)
    fig = plt.figure(figsize=(12, 7.5))
    grid = fig.add_gridspec(2, max(2 * 2, lines.size), height_ratios=(1.4, 1))
    limit = float(np.max(np.abs(profiles[:, :, units]))) if units.size else 1.0
    extent = (delays[0], delays[-1], -0.5, units.size - 0.5)
    for ear, name in enumerate(("left", "right")):
        half = grid.ncols // 2
        ax = fig.add_subplot(grid[0, ear * half:(ear + 1) * half])
        image = ax.imshow(profiles[ear][:, units].T, aspect="auto", origin="lower",
                          interpolation="nearest", cmap="RdBu_r", vmin=-limit,
                          vmax=limit or 1.0, extent=extent)
        ax.set_yticks(np.arange(units.size), [str(u) for u in units],
                      fontsize=6 if units.size > 16 else 8)
        ax.set(title=f"{name} ear", xlabel="phase delay [deg]",
               ylabel="hidden unit (spiking, output order)")
        fig.colorbar(image, ax=ax, label="W1 weight")
    for k, unit in enumerate(lines):
        ax = fig.add_subplot(grid[1, k])
        ax.plot(delays, profiles[0, :, unit], label="left ear")
        ax.plot(delays, profiles[1, :, unit], label="right ear")
        ax.axhline(0, color="k", linewidth=0.5)
        ax.set(title=f"unit {unit}", xlabel="phase delay [deg]", ylabel="W1 weight")
        if k == 0:
            ax.legend(fontsize=7)
    fig.suptitle(f"input weights by ear (curves: the {lines.size} most important units)")
    _save(fig, path)


def plot_rate_approximation(a: NetworkAnalysis, path: Path) -> None:
    """Spikes per sample of the spiking network against the rate approximation's expected
    count, and the two hidden tuning curves."""
    plt = _pyplot()
    duration = a.config.stimulus.duration
    expected = a.rate.hidden_rates * duration
    counts = a.activity.hidden_counts
    fig, (ax_c, ax_t) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax_c.plot(expected[:, a.spiking].ravel(), counts[:, a.spiking].ravel(), ".",
              markersize=2, alpha=0.3)
    top = float(max(expected.max(), counts.max(), 1))
    ax_c.plot([0, top], [0, top], "k--", linewidth=0.8, label="equal")
    corr = np.corrcoef(expected[:, a.spiking].ravel(), counts[:, a.spiking].ravel())[0, 1]
    ax_c.set(xlabel="rate approximation: expected spikes per sample",
             ylabel="spiking network: spikes per sample",
             title=f"each dot: one sample × spiking unit (r = {corr:.3f})")
    ax_c.legend(fontsize=8)
    x = _class_ipd_deg(a.config.stimulus.n_classes)
    rate_tuning = a.rate_tuning.mean
    shown = _shown_units(a, 6)
    for k, unit in enumerate(shown):
        ax_t.plot(x, a.hidden_tuning.mean[:, unit], color=f"C{k}", label=f"unit {unit}")
        ax_t.plot(x, np.asarray(rate_tuning)[:, unit], color=f"C{k}", linestyle="--")
    ax_t.set(xlabel="true IPD (class midpoint) [deg]", ylabel="mean rate [Hz]",
             title="hidden tuning: spiking (solid), rate approx. (dashed)")
    ax_t.legend(fontsize=7, ncol=2)
    fig.suptitle(f"rate approximation: accuracy {100 * a.rate_accuracy:.1f} % "
                 f"(spiking network {100 * a.accuracy:.1f} %)")
    _save(fig, path)


def plot_six_parameter_model(a: NetworkAnalysis, path: Path) -> None:
    """The six-parameter model: W2 (output order) beside its Ricker fit, and the hidden
    tuning curves beside their Gaussian fit, all units normalised together."""
    plt = _pyplot()
    order = a.orders["output"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    w, fit = a.w_out[order], a.w_out_fit
    limit = float(np.max(np.abs(w))) or 1.0
    for ax, matrix, title in ((axes[0], w, "W2 (output order)"),
                              (axes[1], fit.fitted, f"Ricker fit (R² {fit.r2:.2f})\n"
                                                    f"a {fit.a:.3g}, b {fit.b:.3g}, "
                                                    f"σ {fit.sigma:.3g} units")):
        image = ax.imshow(matrix, aspect="auto", origin="lower", interpolation="nearest",
                          cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set(title=title, xlabel="output class", ylabel="hidden unit (output order)")
        fig.colorbar(image, ax=ax, label="weight")
    x = _class_ipd_deg(a.config.stimulus.n_classes)
    t = a.tuning_fit
    for k, unit in enumerate(order[:MAX_PANELS]):
        axes[2].plot(x, a.hidden_tuning.mean[:, unit], color=f"C{k % 10}")
        axes[2].plot(x, t.fitted[:, k], color=f"C{k % 10}", linestyle="--")
    axes[2].set(xlabel="true IPD (class midpoint) [deg]", ylabel="mean rate [Hz]",
                title=f"tuning (solid), Gaussian fit (dashed; R² {t.r2:.2f})\n"
                      f"a {t.a:.3g} Hz, b {t.b:.3g} Hz, σ {t.sigma * DEG:.3g}°")
    poor = "" if min(fit.r2, t.r2) >= 0.5 else (
        "\npoor fits (R² < 0.5): this network does not have the model's shape, so its "
        "accuracy says little")
    fig.suptitle(f"six-parameter model: accuracy {100 * a.six_parameter_accuracy:.1f} % "
                 f"(spiking network {100 * a.accuracy:.1f} %){poor}")
    _save(fig, path)


def plot_hessian(a: NetworkAnalysis, path: Path) -> None:
    """The output-perturbation Hessian with respect to W2 and its eigenvalues."""
    plt = _pyplot()
    s = a.sensitivity
    fig, (ax_h, ax_e) = plt.subplots(1, 2, figsize=(11, 4.5))
    limit = float(np.max(np.abs(s.hessian))) or 1.0
    image = ax_h.imshow(s.hessian, cmap="RdBu_r", vmin=-limit, vmax=limit,
                        interpolation="nearest")
    n_classes = a.config.stimulus.n_classes
    ax_h.set(title="Hessian of the output change D with respect to W2",
             xlabel=f"W2 entry h·{n_classes} + c (hidden unit h, class c)",
             ylabel=f"W2 entry h·{n_classes} + c")
    fig.colorbar(image, ax=ax_h, label="∂²D/∂W2∂W2")
    values = np.clip(s.eigenvalues, 1e-12, None)
    ax_e.semilogy(np.arange(1, values.size + 1), values, ".")
    ax_e.set(xlabel="eigenvalue rank", ylabel="eigenvalue (clipped at 1e-12)",
             title="spectrum (each value repeats once per class)")
    _save(fig, path)


def plot_tca_rank_selection(a: NetworkAnalysis, path: Path) -> None:
    """Rank selection of the tensor component analysis (error and restart similarity)."""
    from sslax.analysis import tca_figures

    tca_figures.plot_rank_selection(a.tca, path)


def plot_tca_factors(a: NetworkAnalysis, path: Path) -> None:
    """The factors of the best rank-3 (or highest fitted) tensor decomposition."""
    from sslax.analysis import tca_figures

    best = a.tca.best
    rank = int(a.tca.ranks[min(2, len(best) - 1)])
    tca_figures.plot_tca_factors(best[list(a.tca.ranks).index(rank)], a.tca_ipd * DEG,
                                 a.config.stimulus.dt, path,
                                 title=f"non-negative TCA, rank {rank} (spiking units)",
                                 neuron_ids=np.flatnonzero(a.spiking))


def network_figures(a: NetworkAnalysis) -> dict[str, Any]:
    """The figures one network's analysis supports: file stem → plotting function."""
    plots: dict[str, Any] = {
        "hidden_rates": plot_hidden_rates, "spike_counts": plot_spike_counts,
        "tuning_hidden": plot_hidden_tuning, "tuning_output": plot_output_tuning,
        "ablation": plot_ablation, "weights": plot_weights, "ear_profiles": plot_ear_profiles,
        "six_parameter_model": plot_six_parameter_model}
    if a.traces is not None:
        plots |= {"rasters": plot_rasters, "membranes": plot_membranes}
    if a.rate is not None and a.rate_tuning is not None:
        plots["rate_approximation"] = plot_rate_approximation
    if a.sensitivity is not None:
        plots["hessian"] = plot_hessian
    if a.tca is not None:
        plots |= {"tca_rank_selection": plot_tca_rank_selection,
                  "tca_factors": plot_tca_factors}
    return plots


def render(a: NetworkAnalysis, names: Sequence[str], folder: Path) -> list[Path]:
    """Write the figures ``names`` (see :func:`network_figures`) of ``a`` into ``folder``."""
    plots = network_figures(a)
    paths = []
    for name in names:
        path = folder / f"{name}.png"
        plots[name](a, path)
        paths.append(path)
    return paths


def figure_helper() -> Executor | None:
    """A second process that draws half of the figures (matplotlib holds one core while
    drawing), already importing matplotlib; ``None`` on a one-core machine. Start it early
    and pass it to :func:`save_network_figures`; shut it down after.

    The process is started by ``spawn``, which imports the caller's main module again: call
    this only from a program whose top level is guarded by ``if __name__ == "__main__"`` (the
    ``sslax`` command is). If the process fails, the figures are drawn here instead."""
    if (os.cpu_count() or 1) < 2:
        return None
    helper = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    helper.submit(_pyplot)
    return helper


def save_network_figures(a: NetworkAnalysis, folder: Path,
                         helper: Executor | None = None) -> list[Path]:
    """Every figure of one network's analysis into ``folder`` (half of them drawn by
    ``helper`` when given, see :func:`figure_helper`); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(network_figures(a))
    if helper is None:
        return render(a, names, folder)
    try:
        theirs = helper.submit(render, a, names[1::2], folder)
    except BrokenProcessPool:
        return render(a, names, folder)
    ours = render(a, names[0::2], folder)
    try:
        return ours + theirs.result()
    except BrokenProcessPool:
        return ours + render(a, names[1::2], folder)


# ---------------------------------------------------------------------------------------------
# ensembles
# ---------------------------------------------------------------------------------------------


def plot_ensemble_accuracies(results: list[NetworkAnalysis], labels: list[str],
                             path: Path) -> None:
    """Per member: the spiking network's accuracy, its reduced models', and the ablations
    (all silent units removed; the most important unit removed)."""
    plt = _pyplot()
    rows = {
        "spiking network": [a.accuracy for a in results],
        "all silent units removed": [float(a.ablation.without_silent) for a in results],
        "most important unit removed": [float(np.min(a.ablation.without_unit))
                                        for a in results],
        "rate approximation": [a.rate_accuracy for a in results],
        "six-parameter model": [a.six_parameter_accuracy for a in results],
    }
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for k, values in enumerate(rows.values()):
        values = 100 * np.asarray(values, float)
        x = k + np.linspace(-0.25, 0.25, len(values)) if len(values) > 1 else np.array([k])
        ax.plot(x, values, "o", markersize=4, alpha=0.7)
        if np.isfinite(values).any():
            ax.plot([k - 0.3, k + 0.3], [np.nanmean(values)] * 2, "k-", linewidth=1.5)
    chance = 100 / results[0].config.stimulus.n_classes
    ax.axhline(chance, color="k", linestyle="--", linewidth=0.8, label=f"chance {chance:.1f} %")
    ax.set_xticks(range(len(rows)), list(rows), rotation=15, fontsize=8)
    ax.set(ylabel="accuracy [%]", ylim=(0, 100),
           title=f"{len(results)} networks: one dot each, bar = mean")
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_ensemble_units(results: list[NetworkAnalysis], labels: list[str],
                        path: Path) -> None:
    """Spiking units per member, and every member's cumulative-removal curve."""
    plt = _pyplot()
    fig, (ax_n, ax_top) = plt.subplots(1, 2, figsize=(11, 4))
    counts = [int(a.spiking.sum()) for a in results]
    n_hidden = results[0].config.network.n_hidden
    ax_n.hist(counts, bins=np.arange(n_hidden + 2) - 0.5, color="C0")
    ax_n.set(xlabel=f"spiking hidden units (of {n_hidden})", ylabel="networks",
             title="how many hidden units spike")
    for a in results:
        ax_top.plot(100 * np.asarray(a.ablation.without_top), color="C0", alpha=0.5)
    ax_top.set(xlabel="most important units removed", ylabel="accuracy [%]", ylim=(0, 100),
               title="cumulative removal, one line per network")
    _save(fig, path)


def plot_ensemble_similarity(results: list[NetworkAnalysis], labels: list[str],
                             path: Path) -> None:
    """Matched tuning-curve similarity of the spiking units of every pair of members."""
    from sslax.analysis.ensemble import similarity_matrix

    plt = _pyplot()
    matrix = similarity_matrix(np.stack([a.hidden_tuning.mean for a in results]),
                               np.stack([a.spiking for a in results]))
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.set(title="hidden tuning similarity between networks\n(mean correlation of "
                 "matched spiking units)")
    fig.colorbar(image, ax=ax, label="correlation")
    _save(fig, path)


def save_ensemble_figures(results: list[NetworkAnalysis], labels: list[str],
                          folder: Path) -> list[Path]:
    """The figures comparing an ensemble's members into ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    plots = [("ensemble_accuracies", plot_ensemble_accuracies),
             ("ensemble_units", plot_ensemble_units)]
    if len(results) > 1:
        plots.append(("ensemble_similarity", plot_ensemble_similarity))
    written = []
    for name, plot in plots:
        path = folder / f"{name}.png"
        plot(results, labels, path)
        written.append(path)
    return written
