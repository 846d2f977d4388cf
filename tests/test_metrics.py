"""Metrics: accuracy, the two MAE definitions, the [estimated, true] confusion matrix, and
``evaluate`` against a direct computation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sslax.metrics import (
    accuracy,
    confusion_matrix,
    evaluate,
    mae_a,
    mae_b,
    per_class_accuracy,
)
from sslax.network import forward, init_params
from sslax.stimulus import batch_inputs, make_dataset


def test_accuracy():
    assert float(accuracy(jnp.array([1, 2, 3, 4]), jnp.array([1, 2, 0, 4]))) == 0.75
    assert float(accuracy(jnp.array([0, 0, 0]), jnp.array([1, 1, 1]))) == 0.0
    assert float(accuracy(jnp.arange(7), jnp.arange(7))) == 1.0


@pytest.mark.parametrize("n_classes", [12, 8])
def test_mae_a_of_perfect_classifier_on_uniform_ipd(n_classes):
    """100 evenly spaced α per bin, symmetric about the midpoint: MAE-A = bin width / 4
    exactly (3.75° for 12 classes)."""
    m = 100 * n_classes
    alpha = -np.pi / 2 + (np.arange(m) + 0.5) * np.pi / m
    labels = np.arange(m) // 100
    got = float(mae_a(jnp.asarray(labels), jnp.asarray(alpha), n_classes))
    assert got == pytest.approx(180.0 / n_classes / 4, rel=1e-5)
    if n_classes == 12:
        assert got == pytest.approx(3.75, rel=1e-5)


def test_mae_a_matches_independent_computation(rng):
    alpha = rng.uniform(-np.pi / 2, np.pi / 2, 37)
    predicted = rng.integers(0, 12, 37)
    midpoints = -90 + 7.5 + 15 * predicted  # degrees
    expected = np.mean(np.abs(np.rad2deg(alpha) - midpoints))
    got = float(mae_a(jnp.asarray(predicted), jnp.asarray(alpha), 12))
    assert got == pytest.approx(expected, rel=1e-5)


def test_mae_b():
    labels = jnp.array([0, 3, 5, 10, 7])
    assert float(mae_b(labels, labels, 12)) == pytest.approx(0.0, abs=1e-5)
    assert float(mae_b(labels + 1, labels, 12)) == pytest.approx(15.0, rel=1e-5)
    assert float(mae_b(labels - 1, labels, 12)) == pytest.approx(15.0, rel=1e-5)
    # half exact, half off by two classes: 15°; and 36 classes are 5° apart
    assert float(mae_b(jnp.array([1, 5]), jnp.array([1, 3]), 12)) == pytest.approx(15.0)
    assert float(mae_b(jnp.array([4]), jnp.array([1]), 36)) == pytest.approx(15.0, rel=1e-5)


def test_confusion_matrix_hand_built():
    predicted = jnp.array([0, 0, 1, 2, 2, 2, 1])
    labels = jnp.array([0, 1, 1, 2, 2, 0, 1])
    # counts[estimated, true]
    counts = np.array([[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]], float)
    expected = counts / np.maximum(counts.sum(axis=0), 1)  # true class 3 has no samples
    got = np.asarray(confusion_matrix(predicted, labels, 4))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(got.sum(axis=0), [1, 1, 1, 0], rtol=1e-6)
    assert got[2, 0] == pytest.approx(0.5)  # true 0 estimated as 2: row = estimate
    np.testing.assert_allclose(
        np.asarray(per_class_accuracy(jnp.asarray(got))), [0.5, 2 / 3, 1.0, 0.0], rtol=1e-6
    )


def test_per_class_accuracy_matches_direct_count(rng):
    labels = rng.integers(0, 5, 200)
    predicted = np.where(rng.random(200) < 0.6, labels, rng.integers(0, 5, 200))
    conf = confusion_matrix(jnp.asarray(predicted), jnp.asarray(labels), 5)
    direct = [np.mean(predicted[labels == k] == k) for k in range(5)]
    np.testing.assert_allclose(np.asarray(per_class_accuracy(conf)), direct, rtol=1e-6)


def test_evaluate_matches_direct_computation(tiny):
    cfg = tiny(n_hidden=6, tau_hidden=3e-3)
    stim = cfg.stimulus
    data = jax.jit(make_dataset, static_argnums=(1, 3), static_argnames="store_spikes")(
        jax.random.key(0), 13, stim, "per_sample", store_spikes=False
    )
    params = init_params(jax.random.key(1), cfg)
    # make the hidden layer spike
    params = params.replace(trained={**params.trained, "w_in": params.trained["w_in"] * 6.0})
    x = batch_inputs(data, jnp.arange(13), stim)
    out = forward(params, x, cfg)
    scores = np.asarray(out.scores)
    labels = np.asarray(data.labels(12))
    predicted = scores.argmax(-1)
    log_p = scores - scores.max(-1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(-1, keepdims=True))
    rates = np.asarray(out.hidden_spikes).sum(axis=0).mean(axis=0) / stim.duration
    assert rates.max() > 0
    # chunks of 5 do not divide 13: the padded last chunk must not change any number
    evaluate_jit = jax.jit(evaluate, static_argnames="batch_size")
    for batch_size in (5,):
        ev = evaluate_jit(params, data, cfg, batch_size=batch_size)
        assert float(ev.loss) == pytest.approx(-log_p[np.arange(13), labels].mean(), rel=1e-5)
        assert float(ev.accuracy) == pytest.approx(np.mean(predicted == labels))
        np.testing.assert_array_equal(np.asarray(ev.predicted), predicted)
        np.testing.assert_allclose(np.asarray(ev.firing_rate), rates, rtol=1e-5)
        midpoints = np.deg2rad(-90 + 7.5 + 15 * predicted)
        assert float(ev.mae_a) == pytest.approx(
            np.rad2deg(np.abs(np.asarray(data.ipd) - midpoints)).mean(), rel=1e-4
        )
        assert float(ev.mae_b) == pytest.approx(
            15 * np.abs(labels - predicted).mean(), rel=1e-4, abs=1e-4
        )
        assert ev.confusion.shape == (12, 12)
        summary = ev.summary()
        assert set(summary) >= {"accuracy", "mae_a_deg", "mae_b_deg", "loss"}
