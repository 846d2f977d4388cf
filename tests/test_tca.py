"""Tensor component analysis (sslax.analysis.tca): smoothing, non-negative CP fits, factor
similarity, rank selection, the missing-tensorly message and the figures.

The planted tensor has a different size on every axis (40 trials × 7 neurons × 25 time
steps), so a transposed factor or tensor fails a test instead of passing by accident.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorly")

from sslax.analysis import tca  # noqa: E402
from sslax.analysis.tca import (  # noqa: E402
    TENSORLY_MISSING,
    CPFit,
    RankSelection,
    factor_similarity,
    fit_nonnegative_cp,
    normalised_cp,
    rank_selection,
    reconstruct,
    smoothed_spike_tensor,
)

N_TRIALS, N_NEURONS, N_TIME = 40, 7, 25
RANKS = (1, 2, 3, 4, 5)


def planted_factors() -> CPFit:
    """Three well-separated non-negative components, in canonical form.

    Trial factors: tuned to left IPDs, to right IPDs, and flat with a bump at the midline.
    Neuron factors: disjoint groups of neurons (with a little overlap). Time factors: bumps
    early, mid-trial and late.
    """
    ipd = np.linspace(-80.0, 80.0, N_TRIALS)
    trial = np.stack([np.exp(-(((ipd + 50) / 20) ** 2)), np.exp(-(((ipd - 50) / 20) ** 2)),
                      0.2 + 1.0 * (np.abs(ipd) < 10)], axis=1)
    neuron = np.array([[1, 1, 0, 0, 0, 0, 0.1],
                       [0, 0, 1, 1, 0.2, 0, 0],
                       [0, 0, 0, 0, 1, 1, 1]], dtype=np.float64).T
    t = np.arange(N_TIME)
    time = np.stack([np.exp(-(((t - c) / 3) ** 2)) for c in (5, 12, 20)], axis=1)
    return normalised_cp(np.array([3.0, 2.0, 1.0]), [trial, neuron, time])


@pytest.fixture(scope="module")
def truth() -> CPFit:
    return planted_factors()


@pytest.fixture(scope="module")
def planted(truth: CPFit) -> np.ndarray:
    """The planted rank-3 tensor plus uniform noise of 0.1 % of its maximum."""
    clean = reconstruct(truth)
    noise = np.random.default_rng(1).random(clean.shape) * 1e-3 * clean.max()
    return clean + noise


@pytest.fixture(scope="module")
def selection(planted: np.ndarray) -> RankSelection:
    # over-ranked fits run to n_iter_max; 300 sweeps keep them short (rank 3 needs < 170)
    return rank_selection(planted, ranks=RANKS, n_restarts=3, seed=0, n_iter_max=300)


# --------------------------------------------------------------------------- smoothing


def test_smoothing_impulse_response_and_axes() -> None:
    n_time, n_trials, n_neurons = 30, 3, 5
    dt, tau = 1e-4, 5e-4
    onset, trial, neuron = 4, 1, 2
    spikes = np.zeros((n_time, n_trials, n_neurons))
    spikes[onset, trial, neuron] = 1.0

    out = smoothed_spike_tensor(spikes, dt, tau)

    assert out.shape == (n_trials, n_neurons, n_time)
    a = math.exp(-dt / tau)
    k = np.arange(n_time - onset)
    expected = np.zeros(n_time)
    expected[onset:] = (1 - a) * a**k
    np.testing.assert_allclose(out[trial, neuron], expected, rtol=1e-12, atol=1e-15)
    others = np.ones(out.shape, dtype=bool)
    others[trial, neuron] = False
    assert np.all(out[others] == 0)


def test_smoothing_is_linear_and_time_invariant() -> None:
    """Two spikes give the sum of two shifted impulse responses; spikes every step → 1."""
    dt, tau = 1e-4, 3e-4
    a = math.exp(-dt / tau)
    spikes = np.zeros((40, 2, 3))
    spikes[[3, 10], 0, 1] = 1.0
    spikes[:, 1, 2] = 1.0
    out = smoothed_spike_tensor(spikes, dt, tau)
    t = np.arange(40)
    expected = sum(np.where(t >= s, (1 - a) * a ** np.clip(t - s, 0, None), 0.0) for s in (3, 10))
    np.testing.assert_allclose(out[0, 1], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out[1, 2], 1 - a ** (t + 1), rtol=1e-12)


# --------------------------------------------------------------------------- fits


def test_fit_recovers_planted_factors(planted: np.ndarray, truth: CPFit) -> None:
    fit = fit_nonnegative_cp(planted, rank=3, seed=0)

    assert fit.trial.shape == (N_TRIALS, 3)
    assert fit.neuron.shape == (N_NEURONS, 3)
    assert fit.time.shape == (N_TIME, 3)
    assert factor_similarity(fit, truth) > 0.95
    assert fit.relative_error < 0.01
    # canonical form: unit-norm non-negative columns, weights decreasing, error as stated
    for factor in fit.factors:
        np.testing.assert_allclose(np.linalg.norm(factor, axis=0), 1.0, rtol=1e-10)
        assert np.all(factor >= 0)
    assert np.all(np.diff(fit.weights) <= 0)
    np.testing.assert_allclose(fit.weights, truth.weights, rtol=0.05)
    error = np.linalg.norm(planted - reconstruct(fit)) / np.linalg.norm(planted)
    assert fit.relative_error == pytest.approx(error, rel=1e-12)


def test_fit_is_reproducible_from_its_seed(planted: np.ndarray) -> None:
    a = fit_nonnegative_cp(planted, rank=2, seed=7)
    b = fit_nonnegative_cp(planted, rank=2, seed=7)
    for x, y in zip(a[:4], b[:4], strict=True):
        np.testing.assert_array_equal(x, y)


def test_fit_rejects_negative_tensor(planted: np.ndarray) -> None:
    bad = planted.copy()
    bad[0, 0, 0] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        fit_nonnegative_cp(bad, rank=2)


# --------------------------------------------------------------------------- similarity


def test_similarity_of_fit_with_itself_and_permuted(truth: CPFit) -> None:
    assert factor_similarity(truth, truth) == pytest.approx(1.0, abs=1e-12)
    perm = np.array([2, 0, 1])
    permuted = CPFit(truth.weights[perm], truth.trial[:, perm], truth.neuron[:, perm],
                     truth.time[:, perm], math.nan)
    assert factor_similarity(truth, permuted) == pytest.approx(1.0, abs=1e-12)
    # scale of the columns does not matter either (only their direction)
    scaled = permuted._replace(trial=permuted.trial * np.array([2.0, 0.5, 9.0]))
    assert factor_similarity(scaled, truth) == pytest.approx(1.0, abs=1e-12)


def test_similarity_of_different_ranks_uses_best_matches(truth: CPFit) -> None:
    """A fit holding two of the three true components matches them perfectly."""
    two = CPFit(truth.weights[[2, 0]], truth.trial[:, [2, 0]], truth.neuron[:, [2, 0]],
                truth.time[:, [2, 0]], math.nan)
    assert factor_similarity(two, truth) == pytest.approx(1.0, abs=1e-12)
    assert factor_similarity(truth, two) == pytest.approx(1.0, abs=1e-12)


def test_similarity_is_low_for_unrelated_factors(truth: CPFit) -> None:
    rng = np.random.default_rng(3)

    def random_fit() -> CPFit:
        # sparse non-negative factors: independent draws rarely share support
        factors = [rng.random((n, 3)) ** 6 for n in (N_TRIALS, N_NEURONS, N_TIME)]
        return normalised_cp(None, factors)

    a, b = random_fit(), random_fit()
    assert factor_similarity(a, b) < 0.3
    assert factor_similarity(a, truth) < 0.3
    assert 0.0 <= factor_similarity(a, b) == pytest.approx(factor_similarity(b, a), abs=1e-12)


# --------------------------------------------------------------------------- rank selection


def test_rank_selection_finds_rank_three(selection: RankSelection, truth: CPFit) -> None:
    assert selection.errors.shape == (len(RANKS), 3)
    assert selection.similarity.shape == (len(RANKS), 3)
    np.testing.assert_array_equal(selection.ranks, RANKS)
    assert [fit.rank for fit in selection.best] == list(RANKS)

    best = selection.errors.min(axis=1)
    # error falls steeply up to the true rank ...
    assert best[0] > best[1] > best[2]
    assert best[1] - best[2] > 0.1
    # ... and is flat after it (down at the noise floor)
    assert best[2] < 0.01
    assert np.all(np.abs(best[3:] - best[2]) < 0.005)

    # restarts agree at the true rank, and agree with the planted factors
    assert np.all(selection.similarity[2] > 0.9)
    assert factor_similarity(selection.best[2], truth) > 0.95
    # each rank's best restart is the lowest-error one and has similarity exactly 1
    for i, fit in enumerate(selection.best):
        k = int(np.argmin(selection.errors[i]))
        assert fit.relative_error == selection.errors[i, k]
        assert selection.similarity[i, k] == 1.0
    assert np.all((selection.similarity >= 0) & (selection.similarity <= 1))


# --------------------------------------------------------------------------- missing tensorly


def test_missing_tensorly_raises_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, planted: np.ndarray
) -> None:
    monkeypatch.setitem(sys.modules, "tensorly", None)
    for call in (lambda: fit_nonnegative_cp(planted, rank=2),
                 lambda: rank_selection(planted, ranks=(1,), n_restarts=1)):
        with pytest.raises(ImportError, match=f"^{re.escape(TENSORLY_MISSING)}$"):
            call()
    assert "\n" not in TENSORLY_MISSING
    assert "pip install 'sslax[analysis]'" in TENSORLY_MISSING


def test_module_imports_without_tensorly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the fits need tensorly: importing the module and smoothing do not."""
    monkeypatch.setitem(sys.modules, "tensorly", None)
    spec = importlib.util.spec_from_file_location("_tca_without_tensorly", tca.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.smoothed_spike_tensor(np.ones((4, 2, 3)), 1e-4, 1e-3).shape == (2, 3, 4)
    with pytest.raises(ImportError, match="needs tensorly"):
        module.fit_nonnegative_cp(np.ones((2, 3, 4)), rank=1)


# --------------------------------------------------------------------------- figures


def test_figures_are_written(selection: RankSelection, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib import image

    from sslax.analysis.tca_figures import plot_rank_selection, plot_tca_factors

    ranks_png = tmp_path / "rank_selection.png"
    factors_png = tmp_path / "factors.png"
    plot_rank_selection(selection, ranks_png)
    fit = selection.best[2]
    plot_tca_factors(fit, np.linspace(-80, 80, N_TRIALS), 1e-4, factors_png, title="planted")

    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # figures closed
    for png in (ranks_png, factors_png):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # 150 dpi: the rank figure is 9 × 3.6 in; the factor figure has a row per component
    assert image.imread(ranks_png).shape[:2] == (540, 1350)
    assert image.imread(factors_png).shape[1] == 1500
    with pytest.raises(ValueError, match="one entry per trial"):
        plot_tca_factors(fit, np.zeros(N_TRIALS + 1), 1e-4, tmp_path / "bad.png")
