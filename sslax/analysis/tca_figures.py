"""Figures of tensor component analysis (``sslax.analysis.tca``), matplotlib with the Agg backend.

- ``plot_rank_selection``: relative reconstruction error and factor similarity of the random
  restarts against rank, to choose the rank;
- ``plot_tca_factors``: the factors of one fit, a row per component: trial factor against the
  trial's IPD, neuron factor over neuron index, time factor over time.

Each function writes a PNG (150 dpi) and closes its figure; nothing is computed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sslax.analysis.tca import CPFit, RankSelection

DPI = 150


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> None:
    """Lay out ``fig``, write it to ``path`` as PNG and free it."""
    fig.tight_layout()
    fig.savefig(Path(path), dpi=DPI, format="png")
    _pyplot().close(fig)


def plot_rank_selection(selection: RankSelection, path: str | Path) -> None:
    """Error and restart agreement against rank, side by side.

    Left: relative reconstruction error ‖X − X̂‖/‖X‖ of each restart (dots) and of the best
    restart per rank (line). Right: factor similarity of each restart to the best restart of
    its rank (dots) and its mean over restarts (line), on [0, 1].
    """
    plt = _pyplot()
    ranks = np.asarray(selection.ranks)
    n_restarts = selection.errors.shape[1]
    jitter = np.linspace(-0.08, 0.08, n_restarts) if n_restarts > 1 else np.zeros(1)
    xs = ranks[:, None] + jitter[None, :]

    fig, (ax_err, ax_sim) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax_err.plot(xs.ravel(), selection.errors.ravel(), "o", color="0.55", ms=4, label="restart")
    ax_err.plot(ranks, selection.errors.min(axis=1), "-", color="C0", lw=1.8, label="best")
    ax_err.set_xlabel("rank (number of components)")
    ax_err.set_ylabel(r"relative error $\|X-\hat{X}\|\,/\,\|X\|$ (dimensionless)")
    ax_err.set_ylim(bottom=0)
    ax_err.legend(frameon=False)

    ax_sim.plot(xs.ravel(), selection.similarity.ravel(), "o", color="0.55", ms=4,
                label="restart vs best")
    ax_sim.plot(ranks, selection.similarity.mean(axis=1), "-", color="C1", lw=1.8, label="mean")
    ax_sim.set_xlabel("rank (number of components)")
    ax_sim.set_ylabel("factor similarity to best fit (0–1)")
    ax_sim.set_ylim(0, 1.02)
    ax_sim.legend(frameon=False, loc="lower left")

    for ax in (ax_err, ax_sim):
        ax.set_xticks(ranks)
    _save(fig, path)


def plot_tca_factors(
    fit: CPFit,
    ipd_deg: np.ndarray,
    dt: float,
    path: str | Path,
    title: str = "",
    neuron_ids: np.ndarray | None = None,
) -> None:
    """The factors of one fit, one row per component (sorted by decreasing weight).

    Columns: "trial factor vs IPD" (scatter of each trial's factor against its true IPD),
    "neuron factor" (bars over hidden-neuron index) and "time factor" (line over time in ms).
    Factors are unit-norm columns (dimensionless); the row label gives the component weight.

    Args:
        fit: a ``CPFit`` of a [trials, neurons, time] tensor.
        ipd_deg: [trials] true interaural phase difference of each trial [deg].
        dt: time step of the tensor's time axis [s].
        path: where to write the PNG.
        title: figure title (optional).
        neuron_ids: [neurons] label of each neuron on the neuron axis (default 0, 1, …).
    """
    ipd_deg = np.asarray(ipd_deg, dtype=np.float64)
    if ipd_deg.shape != (fit.trial.shape[0],):
        raise ValueError(f"ipd_deg must have one entry per trial ({fit.trial.shape[0]}), got "
                         f"shape {ipd_deg.shape}")
    plt = _pyplot()
    rank = fit.rank
    time_ms = np.arange(fit.time.shape[0]) * dt * 1e3
    n_neurons = fit.neuron.shape[0]
    labels = np.arange(n_neurons) if neuron_ids is None else np.asarray(neuron_ids)
    if labels.shape != (n_neurons,):
        raise ValueError(f"neuron_ids must have one entry per neuron ({n_neurons}), got "
                         f"shape {labels.shape}")
    neurons = np.arange(n_neurons)

    fig, axes = plt.subplots(rank, 3, figsize=(10, 1.7 * rank + 0.9), squeeze=False,
                             sharex="col")
    for r in range(rank):
        ax_trial, ax_neuron, ax_time = axes[r]
        ax_trial.scatter(ipd_deg, fit.trial[:, r], s=6, color="C0", alpha=0.7, linewidths=0)
        ax_trial.set_ylabel(f"component {r + 1}\n(w = {fit.weights[r]:.3g})\nfactor (unit norm)")
        ax_neuron.bar(neurons, fit.neuron[:, r], width=0.8, color="C2")
        ax_neuron.set_ylabel("factor (unit norm)")
        ax_time.plot(time_ms, fit.time[:, r], color="C3", lw=1.4)
        ax_time.set_ylabel("factor (unit norm)")
        for ax in (ax_trial, ax_neuron, ax_time):
            ax.set_ylim(bottom=0)
    axes[0, 0].set_title("trial factor vs IPD")
    axes[0, 1].set_title("neuron factor")
    axes[0, 2].set_title("time factor")
    axes[-1, 0].set_xlabel("true IPD (deg)")
    axes[-1, 1].set_xlabel("hidden unit")
    step = max(1, n_neurons // 12)
    axes[-1, 1].set_xticks(neurons[::step], [str(u) for u in labels[::step]])
    axes[-1, 2].set_xlabel("time (ms)")
    if title:
        fig.suptitle(title)
    _save(fig, path)
