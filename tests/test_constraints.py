"""Constraints as reparameterisations: round trips, gradients where a clamp would have none,
and the Dale's-law signs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from sslax import constraints


@pytest.fixture
def signs():
    return jnp.asarray([1.0, -1.0, -1.0, 1.0, 1.0])


def test_identity_round_trip(rng):
    x = jnp.asarray(rng.normal(size=(5, 3)), jnp.float32)
    c = constraints.identity()
    np.testing.assert_array_equal(c.forward(x), x)
    np.testing.assert_array_equal(c.inverse(x), x)


@pytest.mark.parametrize("magnitude", ["abs", "softplus"])
def test_dale_rows_have_their_sign_and_round_trip(x64, rng, signs, magnitude):
    raw = jnp.asarray(rng.normal(size=(5, 4)))
    c = constraints.dale(signs, magnitude)
    w = c.forward(raw)
    assert np.all(np.asarray(w) * np.asarray(signs)[:, None] >= 0)
    # constrained → raw → constrained is the identity on matrices with these row signs
    np.testing.assert_allclose(c.forward(c.inverse(w)), w, rtol=1e-12, atol=1e-15)
    if magnitude == "softplus":  # a bijection: raw → constrained → raw too
        np.testing.assert_allclose(c.inverse(w), raw, rtol=1e-10, atol=1e-12)
    else:  # |·| forgets the raw sign, which does not change the constrained value
        np.testing.assert_allclose(c.inverse(w), np.abs(np.asarray(raw)), rtol=0, atol=0)


def test_softplus_inverse_is_accurate_for_small_and_large_values(x64):
    y = jnp.asarray([1e-30, 1e-8, 1e-3, 1.0, 30.0, 500.0])
    x = constraints.softplus_inverse(y)
    np.testing.assert_allclose(jax.nn.softplus(x), y, rtol=1e-12)
    assert np.isfinite(np.asarray(constraints.softplus_inverse(jnp.zeros(1)))).all()


def test_softplus_synapses_at_zero_still_learn_abs_ones_do_not(signs):
    """|·| has zero gradient at W = 0 (a synapse that reaches 0 is dead); softplus does not."""
    raw = jnp.zeros((5, 4))

    def total(raw, magnitude):
        return jnp.sum(constraints.dale(signs, magnitude).forward(raw) * 2.0)

    assert np.all(np.asarray(jax.grad(total)(raw, "abs")) == 0)
    grad = np.asarray(jax.grad(total)(raw, "softplus"))
    np.testing.assert_allclose(grad, 2.0 * 0.5 * np.asarray(signs)[:, None] * np.ones((5, 4)))


@pytest.mark.parametrize("kind", ["log", "softplus"])
def test_positive_round_trip_and_gradient(x64, kind):
    taus = jnp.asarray([1e-4, 2e-3, 5e-3, 0.3])
    c = constraints.positive(kind)
    raw = c.inverse(taus)
    np.testing.assert_allclose(c.forward(raw), taus, rtol=1e-12)
    np.testing.assert_allclose(c.inverse(c.forward(raw)), raw, rtol=1e-10)
    assert np.all(np.asarray(c.forward(jnp.asarray([-50.0, 0.0, 50.0]))) > 0)
    check_grads(c.forward, (raw,), order=1, modes=("rev",))
    assert np.all(np.asarray(jax.grad(lambda r: c.forward(r).sum())(raw)) > 0)


def test_interval_round_trip_and_bounds(x64):
    c = constraints.interval(0.0, 30.0)
    values = jnp.asarray([0.5, 7.25, 15.0, 29.5])
    np.testing.assert_allclose(c.forward(c.inverse(values)), values, rtol=1e-12)
    out = np.asarray(c.forward(jnp.asarray([-40.0, 0.0, 40.0])))
    assert np.all((out >= 0) & (out <= 30)) and out[1] == pytest.approx(15.0)


@pytest.mark.parametrize("n, fraction, count", [(200, 0.5, 100), (30, 0.1, 3), (5, 0.5, 3),
                                                (30, 0.25, 8), (30, 0.0, 0), (30, 1.0, 30),
                                                (200, 0.7, 140)])
def test_inhibitory_count_is_exact(n, fraction, count):
    """round(fraction·N) with halves up (0.25·30 = 7.5 → 8), computed from a traced fraction."""
    signs = jax.jit(lambda f: constraints.dale_signs(jax.random.key(0), n, f))(fraction)
    assert int(np.sum(np.asarray(signs) < 0)) == count
    assert set(np.unique(np.asarray(signs))) <= {-1.0, 1.0}


def test_random_signs_are_nested_and_contiguous_ones_come_first():
    key = jax.random.key(5)
    small = np.asarray(constraints.dale_signs(key, 40, 0.2)) < 0
    large = np.asarray(constraints.dale_signs(key, 40, 0.6)) < 0
    assert np.all(large[small])  # the same seed makes a superset of inhibitory units
    assert not np.array_equal(small, np.arange(40) < 8)  # drawn, not the first ones
    other = np.asarray(constraints.dale_signs(jax.random.key(6), 40, 0.2)) < 0
    assert not np.array_equal(small, other)
    first = np.asarray(constraints.dale_signs(key, 40, 0.2, "contiguous")) < 0
    np.testing.assert_array_equal(first, np.arange(40) < 8)
