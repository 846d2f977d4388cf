"""Long checks kept out of CI (``python -m pytest -m slow``): the learning results."""

from __future__ import annotations

import numpy as np
import pytest

from sslax import PRESETS, fit

pytestmark = pytest.mark.slow


def _accuracies(tau: float, seeds: range) -> tuple[np.ndarray, np.ndarray]:
    config = PRESETS["starting-notebook"].replace_fields(tau_hidden=tau)
    runs = [fit(config, seed=s, data_seed=s) for s in seeds]
    return (np.array([float(r.train_eval.accuracy) for r in runs]),
            np.array([float(r.test_eval.accuracy) for r in runs]))


def test_fast_membranes_generalise():
    """τ = 2 ms, 30 hidden, 10 epochs: mean test accuracy over 5 seeds ≥ 82 %."""
    _, test = _accuracies(2e-3, range(5))
    assert test.mean() >= 0.82


def test_slow_membranes_overfit_the_phase_offset():
    """τ = 20 ms (per-dataset φ0): mean train accuracy exceeds test by > 15 points."""
    train, test = _accuracies(20e-3, range(5))
    assert (train - test).mean() > 0.15
