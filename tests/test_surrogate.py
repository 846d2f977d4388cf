"""Layer (a) of the test pyramid: the spike is exactly Heaviside forward and its surrogate
derivative is exactly the documented formula (sslax/surrogate.py module docstring)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sslax.surrogate import spike

KINDS = ("sigmoid", "superspike")
XS = np.array([-3.0, -1.0, -0.25, -1e-3, -1e-30, 0.0, 1e-30, 1e-3, 0.25, 1.0, 3.0], np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_forward_is_exact_heaviside(kind):
    out = spike(jnp.asarray(XS), 5.0, kind)
    expected = np.where(XS > 0, 1.0, 0.0).astype(np.float32)
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(out), expected)
    # x == 0 (and -0.0) gives 0, not 1/2 and not 1
    assert float(spike(jnp.float32(0.0), 5.0, kind)) == 0.0
    assert float(spike(jnp.float32(-0.0), 5.0, kind)) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_forward_independent_of_slope(kind):
    for slope in (0.5, 5.0, 100.0):
        np.testing.assert_array_equal(
            np.asarray(spike(jnp.asarray(XS), slope, kind)), (XS > 0).astype(np.float32)
        )


def _f32_atol(beta: float) -> float:
    """Absolute error of β·σ·(1 − σ) in float32: 1 − σ(βx) cancels for large βx (the original
    PyTorch expression has the same rounding), so the error is a few β·eps, not relative."""
    return 4 * beta * float(np.finfo(np.float32).eps)


@pytest.mark.parametrize("beta", [0.5, 5.0, 25.0])
def test_sigmoid_gradient_matches_formula(beta, sigmoid_np):
    grad = jax.vmap(jax.grad(lambda x: spike(x, beta, "sigmoid")))(jnp.asarray(XS))
    np.testing.assert_allclose(
        np.asarray(grad), sigmoid_np(XS, beta), rtol=1e-6, atol=_f32_atol(beta)
    )
    # the peak of β·σ(βx)(1 − σ(βx)) is β/4 at x = 0
    assert float(jax.grad(lambda x: spike(x, beta, "sigmoid"))(0.0)) == pytest.approx(beta / 4)


@pytest.mark.parametrize("beta", [1.0, 5.0, 100.0])
def test_superspike_gradient_matches_formula(beta, superspike_np):
    grad = jax.vmap(jax.grad(lambda x: spike(x, beta, "superspike")))(jnp.asarray(XS))
    np.testing.assert_allclose(np.asarray(grad), superspike_np(XS, beta), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("beta", [0.5, 5.0, 100.0])
def test_gradient_matches_formula_float64(kind, beta, x64, sigmoid_np, superspike_np):
    """In float64 the formula is matched to near machine precision (no cancellation left)."""
    formula = sigmoid_np if kind == "sigmoid" else superspike_np
    x = np.linspace(-4.0, 4.0, 41)
    grad = jax.vmap(jax.grad(lambda v: spike(v, beta, kind)))(jnp.asarray(x, jnp.float64))
    assert grad.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(grad), formula(x, beta), rtol=1e-12, atol=1e-15)
    assert float(jax.grad(lambda x: spike(x, beta, "superspike"))(0.0)) == 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_is_elementwise_and_chains(kind, sigmoid_np, superspike_np):
    """A vector-Jacobian product scales the surrogate elementwise by the cotangent."""
    formula = sigmoid_np if kind == "sigmoid" else superspike_np
    x = jnp.asarray(XS)
    cot = jnp.linspace(-2.0, 3.0, XS.size)
    _, vjp = jax.vjp(lambda v: spike(v, 3.0, kind), x)
    (gx,) = vjp(cot)
    np.testing.assert_allclose(
        np.asarray(gx), np.asarray(cot) * formula(XS, 3.0), rtol=1e-6, atol=3 * _f32_atol(3.0)
    )


@pytest.mark.parametrize("kind", KINDS)
def test_slope_gets_zero_gradient(kind):
    x = jnp.asarray(XS)
    g = jax.grad(lambda b: spike(x, b, kind).sum())(5.0)
    assert float(g) == 0.0
    # also when the loss depends on the slope in other ways: only the spike's share is zero
    g2 = jax.grad(lambda b: (spike(x, b, kind) * b).sum())(5.0)
    assert float(g2) == float((XS > 0).sum())


@pytest.mark.parametrize("kind", KINDS)
def test_vmap_over_slopes(kind, sigmoid_np, superspike_np):
    formula = sigmoid_np if kind == "sigmoid" else superspike_np
    slopes = jnp.array([0.5, 5.0, 20.0, 100.0])
    x = jnp.asarray(XS)
    grad_x = jax.grad(lambda v, b: spike(v, b, kind).sum())
    per_slope = jax.vmap(grad_x, in_axes=(None, 0))(x, slopes)
    assert per_slope.shape == (4, XS.size)
    for i, beta in enumerate(np.asarray(slopes)):
        np.testing.assert_allclose(
            np.asarray(per_slope[i]),
            formula(XS, float(beta)),
            rtol=1e-6,
            atol=_f32_atol(float(beta)),
        )
    # batching over x and slope together
    both = jax.vmap(jax.grad(lambda v, b: spike(v, b, kind)))(x[:4], slopes)
    expected = [formula(XS[i], float(slopes[i])) for i in range(4)]
    np.testing.assert_allclose(
        np.asarray(both), np.array(expected), rtol=1e-6, atol=_f32_atol(100.0)
    )


@pytest.mark.parametrize("kind", KINDS)
def test_jit_compiles_once_across_slopes(kind, sigmoid_np, superspike_np, trace_counter):
    formula = sigmoid_np if kind == "sigmoid" else superspike_np

    def grad_at(x, slope):
        return jax.grad(lambda v: spike(v, slope, kind).sum())(x)

    counted = trace_counter(grad_at)
    jitted = jax.jit(counted)
    x = jnp.asarray(XS)
    for beta in (0.5, 5.0, 25.0, 100.0):
        np.testing.assert_allclose(
            np.asarray(jitted(x, beta)), formula(XS, beta), rtol=1e-6, atol=_f32_atol(beta)
        )
    assert counted.count == 1
    assert jitted._cache_size() == 1


def test_chex_max_traces_across_slopes():
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def value_and_grad(x, slope):
        return jax.value_and_grad(lambda v: spike(v, slope, "superspike").sum())(x)

    totals = [float(value_and_grad(jnp.asarray(XS), b)[0]) for b in (1.0, 2.0, 3.0)]
    assert totals == [float((XS > 0).sum())] * 3
    chex.clear_trace_counter()


def test_default_kind_is_sigmoid(sigmoid_np):
    x = jnp.asarray(XS)
    default = jax.vmap(jax.grad(lambda v: spike(v, 5.0)))(x)
    np.testing.assert_allclose(
        np.asarray(default), sigmoid_np(XS, 5.0), rtol=1e-6, atol=_f32_atol(5.0)
    )


def test_gradient_dtype_follows_input(x64):
    x = jnp.asarray(XS, jnp.float64)
    g = jax.vmap(jax.grad(lambda v: spike(v, 5.0, "sigmoid")))(x)
    assert g.dtype == jnp.float64
    assert spike(x, 5.0).dtype == jnp.float64
