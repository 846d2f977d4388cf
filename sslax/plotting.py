"""Figures of a trained run (matplotlib, Agg backend). Reads arrays only; computes nothing new.

- ``loss_curves.png``: training and validation loss and accuracy per epoch;
- ``confusion_matrix.png``: test confusion matrix [estimated, true], normalised per true class;
- ``ipd_histogram.png``: histograms of true and estimated test IPDs [deg] (the notebooks'
  figure), beside a 2-D histogram of estimated against true IPD.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sslax.stimulus import class_to_ipd
from sslax.training import Run


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
        best = int(run.result.best_epoch) + 1
        for ax in (ax_loss, ax_acc):
            ax.axvline(best, color="grey", linestyle=":", label=f"best epoch ({best})")
    ax_acc.axhline(100 / run.config.stimulus.n_classes, color="k", linestyle="--",
                   linewidth=0.8, label="chance")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy [%]", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_figures(run: Run, folder: Path) -> list[Path]:
    """Write every figure of a run into ``folder``; returns the paths."""
    paths = [folder / "loss_curves.png", folder / "confusion_matrix.png",
             folder / "ipd_histogram.png"]
    for plot, path in zip((plot_loss_curves, plot_confusion, plot_ipd_histogram), paths):
        plot(run, path)
    return paths
