"""Neuron dynamics: closed forms, hand-worked spike trains, finite-difference gradient checks
of the smooth paths and a hand-written BPTT of the LIF layer's surrogate gradient."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from sslax.neurons import (
    LIF,
    LIFParams,
    LIFState,
    decay,
    leaky_integrator,
    lif_parity_layer,
    mean_membrane_weights,
    members_as_units,
    run_layer,
    scan_layer,
)

T, B, U = 23, 4, 3  # time, batch, units: all different on purpose


def _model(a, threshold=1.0, slope=5.0, surrogate="sigmoid", update_order="parity",
           reset="multiplicative"):
    return LIF(surrogate, update_order, reset), LIFParams(a, threshold, slope)


def lif_step(state, h_t, **kwargs):
    """One LIF step through the model interface, with the options as keywords."""
    model, params = _model(**kwargs)
    return model.step(params, state, h_t)


def lif_scan(h, **kwargs):
    """The reference: the model's step scanned over time, differentiated by autodiff."""
    model, params = _model(**kwargs)
    return scan_layer(model, params, h)


def lif_layer_with_readout(h, weights, **kwargs):
    """The model's layer (the fused accelerator in the parity order) and r = Σ_t c_t s_t."""
    model, params = _model(**kwargs)
    return run_layer(model, params, h, weights)


def lif_layer(h, **kwargs):
    return lif_layer_with_readout(h, jnp.zeros(h.shape[0], h.dtype), **kwargs)[0]


def lif_membranes(h, **kwargs):
    """Run lif_step over time and record (v_t, emitted spikes) for each step t."""

    def step(state, h_t):
        new_state, s = lif_step(state, h_t, **kwargs)
        return new_state, (state.v, s)

    zeros = jnp.zeros(h.shape[1:], h.dtype)
    _, (v, s) = jax.lax.scan(step, LIFState(zeros, zeros), h)
    return np.asarray(v), np.asarray(s)


# ---------------------------------------------------------------------------------------------
# (a) closed form: sub-threshold membrane under constant input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("update_order", ["parity", "textbook"])
@pytest.mark.parametrize("a", [0.5, 0.9, 0.99])
def test_subthreshold_closed_form(a, update_order):
    # asymptote I / (1 - a) stays below the threshold: I = 0.9 (1 - a)
    current = 0.9 * (1 - a) * np.linspace(0.2, 1.0, U)
    h = jnp.broadcast_to(jnp.asarray(current, jnp.float32), (T, B, U))
    v, s = lif_membranes(h, a=a, update_order=update_order)
    t = np.arange(T)[:, None, None]
    expected = current * (1 - a**t) / (1 - a)
    np.testing.assert_allclose(v, np.broadcast_to(expected, v.shape), rtol=1e-5, atol=1e-6)
    assert not s.any()
    spikes = lif_layer(h, a=a, update_order=update_order)
    assert spikes.shape == (T, B, U)
    assert not np.asarray(spikes).any()


def test_decay_is_exact_exponential():
    for tau, dt in [(5e-3, 1e-3), (2e-3, 1e-4), (20e-3, 1e-3)]:
        assert float(decay(tau, dt)) == pytest.approx(np.exp(-dt / tau), rel=1e-6)
    taus = np.array([1e-3, 2e-3, 50e-3])
    np.testing.assert_allclose(np.asarray(decay(taus, 1e-3)), np.exp(-1e-3 / taus), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# (b) the closed-form mean readout equals the scan of the leaky integrator
# ---------------------------------------------------------------------------------------------


def leaky_integrator_np(o, a):
    """u_0 = 0, u_{t+1} = a u_t + o_t, recording u_0 … u_{T-1} (float64)."""
    u = np.zeros(o.shape[1:])
    out = []
    for t in range(o.shape[0]):
        out.append(u.copy())
        u = a * u + o[t]
    return np.stack(out)


@pytest.mark.parametrize("a", [0.0, 0.3, 0.8187, 0.99, 1.0])
def test_mean_membrane_weights_equal_mean_of_scan(a, rng):
    o = rng.normal(size=(T, B, U)).astype(np.float32)
    c = np.asarray(mean_membrane_weights(a, T))
    assert c.shape == (T,)
    assert c[-1] == 0.0  # the last input never reaches a recorded membrane
    closed = np.einsum("t,tbu->bu", c, o)
    scanned = np.asarray(leaky_integrator(jnp.asarray(o), a=a)).mean(axis=0)
    reference = leaky_integrator_np(o.astype(np.float64), a).mean(axis=0)
    np.testing.assert_allclose(scanned, reference, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(closed, reference, rtol=1e-5, atol=1e-5)


def test_mean_membrane_weights_closed_form_values():
    # c_t = (1/T) Σ_{k=0}^{T-2-t} a^k; at a = 1 that is (T - 1 - t) / T
    np.testing.assert_allclose(
        np.asarray(mean_membrane_weights(1.0, 5)), np.array([4, 3, 2, 1, 0]) / 5, rtol=1e-7
    )
    a = 0.5
    expected = np.array([1 + a + a**2 + a**3, 1 + a + a**2, 1 + a, 1, 0]) / 5
    np.testing.assert_allclose(np.asarray(mean_membrane_weights(a, 5)), expected, rtol=1e-7)


def test_leaky_integrator_records_u0_first(rng):
    o = rng.normal(size=(T, B, U)).astype(np.float32)
    u = np.asarray(leaky_integrator(jnp.asarray(o), a=0.7))
    assert u.shape == (T, B, U)
    np.testing.assert_array_equal(u[0], 0.0)
    np.testing.assert_allclose(u[1], o[0], rtol=1e-6)
    np.testing.assert_allclose(
        u, leaky_integrator_np(o.astype(np.float64), 0.7), rtol=1e-5, atol=1e-5
    )


# ---------------------------------------------------------------------------------------------
# (c) update order and reset on a hand-worked example: a = 0.5, constant input 0.6, ϑ = 1
# ---------------------------------------------------------------------------------------------
#
# parity, multiplicative (spike from v_t, reset one step late):
#   v: 0, .6, .9, 1.05, 1.125, 0, 0, .6, .9, 1.05, 1.125, 0 ...
#   s: 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, ...                (doublets, period 6)
# textbook, multiplicative (update, spike, immediate reset):
#   v: .6, .9, 1.05→0, .6, .9, 1.05→0 ...   s: 0, 0, 1, 0, 0, 1, ...   (period 3)
# textbook, subtractive:
#   v: .6, .9, 1.05→.05, .625, .9125, 1.05625→.05625 ...   s: 0, 0, 1, 0, 0, 1, ...
# parity, subtractive: v_{t+1} = a v_t + h - s_t
#   v: 0, .6, .9, 1.05, 1.125, .1625, -.31875, .440625, ...   s: 0, 0, 0, 0, 1, 1, 0, 0

HAND = {
    ("parity", "multiplicative"): [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1],
    ("textbook", "multiplicative"): [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1],
    ("textbook", "subtractive"): [0, 0, 1, 0, 0, 1, 0, 0],
    ("parity", "subtractive"): [0, 0, 0, 0, 1, 1, 0, 0],
}


def lif_np(h, a, threshold=1.0, update_order="parity", reset="multiplicative"):
    """Plain NumPy loop of both update orders and both resets (float64)."""
    v = np.zeros(h.shape[1:])
    s = np.zeros(h.shape[1:])
    out = []
    for t in range(h.shape[0]):
        if update_order == "parity":
            s_next = (v - threshold > 0).astype(float)
            leaked = a * v + h[t]
            v = leaked * (1 - s) if reset == "multiplicative" else leaked - threshold * s
            out.append(s)
            s = s_next
        else:
            leaked = a * v + h[t]
            s = (leaked - threshold > 0).astype(float)
            v = leaked * (1 - s) if reset == "multiplicative" else leaked - threshold * s
            out.append(s)
    return np.stack(out)


@pytest.mark.parametrize(("update_order", "reset"), list(HAND))
def test_hand_worked_spike_trains(update_order, reset):
    expected = np.array(HAND[(update_order, reset)], np.float32)
    h = jnp.full((expected.size, 1, 1), 0.6, jnp.float32)
    spikes = np.asarray(lif_layer(h, a=0.5, update_order=update_order, reset=reset))[:, 0, 0]
    np.testing.assert_array_equal(spikes, expected)
    np.testing.assert_array_equal(
        lif_np(np.full((expected.size, 1, 1), 0.6), 0.5, update_order=update_order, reset=reset)[
            :, 0, 0
        ],
        expected,
    )


def test_hand_worked_membranes():
    h = jnp.full((8, 1, 1), 0.6, jnp.float32)
    v, _ = lif_membranes(h, a=0.5, update_order="parity", reset="subtractive")
    np.testing.assert_allclose(
        v[:, 0, 0], [0, 0.6, 0.9, 1.05, 1.125, 0.1625, -0.31875, 0.440625], rtol=1e-6, atol=1e-6
    )
    v, _ = lif_membranes(h, a=0.5, update_order="parity", reset="multiplicative")
    np.testing.assert_allclose(v[:, 0, 0], [0, 0.6, 0.9, 1.05, 1.125, 0, 0, 0.6], atol=1e-6)


@pytest.mark.parametrize("update_order", ["parity", "textbook"])
@pytest.mark.parametrize("reset", ["multiplicative", "subtractive"])
def test_lif_layer_matches_numpy_loop_on_random_input(update_order, reset, rng):
    h = rng.normal(0.3, 0.6, size=(T, B, U))
    v_np = lif_np(h, 0.8, threshold=0.9, update_order=update_order, reset=reset)
    spikes = lif_layer(
        jnp.asarray(h, jnp.float32), a=0.8, threshold=0.9, update_order=update_order, reset=reset
    )
    assert v_np.sum() > 5  # the example exercises spikes and resets
    np.testing.assert_array_equal(np.asarray(spikes), v_np)


def test_parity_first_spike_two_indices_after_textbook():
    """Textbook emits the spike of input h_t at index t; parity tests the membrane one step
    later (v_{t+1}) and records that spike at index t + 2 (the original's latency)."""
    h = jnp.full((10, 1, 1), 0.6, jnp.float32)
    par = np.asarray(lif_layer(h, a=0.5, update_order="parity"))[:, 0, 0]
    txt = np.asarray(lif_layer(h, a=0.5, update_order="textbook"))[:, 0, 0]
    assert np.argmax(par) == np.argmax(txt) + 2  # textbook emits s_{t+1} at index t


def test_per_unit_decay_broadcasts():
    a = jnp.array([0.2, 0.5, 0.9])
    h = jnp.full((T, B, 3), 0.05, jnp.float32)
    v, _ = lif_membranes(h, a=a)
    t = np.arange(T)[:, None, None]
    expected = 0.05 * (1 - np.asarray(a) ** t) / (1 - np.asarray(a))
    np.testing.assert_allclose(v, np.broadcast_to(expected, v.shape), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# (d) gradients: finite differences on the smooth paths (float64), BPTT of the LIF layer
# ---------------------------------------------------------------------------------------------


def test_check_grads_leaky_integrator(x64, rng):
    o = jnp.asarray(rng.normal(size=(7, 3, 2)))
    assert o.dtype == jnp.float64
    check_grads(lambda o: leaky_integrator(o, a=0.8), (o,), order=1, modes=("rev",))
    check_grads(lambda a: leaky_integrator(o, a=a), (jnp.float64(0.8),), order=1, modes=("rev",))
    check_grads(
        lambda a: leaky_integrator(o, a=a).mean(axis=0),
        (jnp.float64(0.97),),
        order=1,
        modes=("rev",),
    )


@pytest.mark.parametrize("a", [0.3, 0.8, 0.99])
def test_check_grads_mean_membrane_weights(x64, a):
    """Library bug if this fails: mean_membrane_weights casts ``a`` to float32, so it is not
    differentiable to float64 accuracy (the finite differences see float32 rounding)."""
    assert mean_membrane_weights(jnp.float64(a), 7).dtype == jnp.float64
    check_grads(lambda a: mean_membrane_weights(a, 7), (jnp.float64(a),), order=1, modes=("rev",))


def test_mean_membrane_weights_gradient_closed_form():
    # d c_t / da = (1/T) Σ_{k=1}^{T-2-t} k a^{k-1}
    n, a = 6, 0.7
    grads = jax.jacobian(lambda a: mean_membrane_weights(a, n))(a)
    expected = [sum(k * a ** (k - 1) for k in range(1, n - 1 - t)) / n for t in range(n)]
    np.testing.assert_allclose(np.asarray(grads), expected, rtol=1e-5)


def test_check_grads_decay(x64):
    """Library bug if this fails: decay() casts τ to float32 (float64 τ gives a float32 a)."""
    assert decay(jnp.float64(5e-3), 1e-3).dtype == jnp.float64
    check_grads(lambda tau: decay(tau, 1e-3), (jnp.float64(5e-3),), order=1, modes=("rev",),
                eps=1e-7)  # τ = 5e-3 s: the default step would be 2 % of τ


def lif_bptt_np(h, a, beta, threshold, g_spikes):
    """Hand-written reverse pass of the parity LIF layer with multiplicative reset.

    Forward (t = 0 … T-2):  v_{t+1} = (a v_t + h_t)(1 - s_t),  s_{t+1} = H(v_t - ϑ),
    recording s_0 … s_{T-1}. dH/dv is replaced by the sigmoid surrogate and the reset term
    (1 - s_t) is differentiated through (as PyTorch autograd does on the original code).
    Returns (spikes, dL/dh, dL/da) for L = Σ g_spikes · spikes.
    """
    n_t = h.shape[0]
    v = np.zeros((n_t,) + h.shape[1:])
    s = np.zeros_like(v)
    for t in range(n_t - 1):
        s[t + 1] = (v[t] - threshold > 0).astype(float)
        v[t + 1] = (a * v[t] + h[t]) * (1 - s[t])
    gv_next = np.zeros(h.shape[1:])  # dL/dv_{t+1}
    gs = g_spikes.astype(float).copy()  # becomes the total dL/ds_t as t descends
    gh = np.zeros_like(h, dtype=float)
    ga = 0.0
    for t in range(n_t - 2, -1, -1):
        leaked = a * v[t] + h[t]
        gh[t] = gv_next * (1 - s[t])
        ga += np.sum(gv_next * (1 - s[t]) * v[t])
        gs[t] += -gv_next * leaked
        sig = 1 / (1 + np.exp(-beta * (v[t] - threshold)))
        gv = gv_next * a * (1 - s[t]) + gs[t + 1] * beta * sig * (1 - sig)
        gv_next = gv
    return s, gh, ga


@pytest.mark.parametrize("threshold", [1.0, 0.7])
def test_lif_surrogate_gradient_matches_hand_bptt(x64, rng, threshold):
    a, beta = 0.85, 5.0
    h = rng.normal(0.35, 0.5, size=(T, B, U))
    g = rng.normal(size=(T, B, U))
    spikes_np, gh_np, ga_np = lif_bptt_np(h, a, beta, threshold, g)
    assert spikes_np.sum() > 10  # resets are exercised
    layer = partial(lif_layer, threshold=threshold, slope=beta, surrogate="sigmoid")
    spikes, vjp = jax.vjp(lambda h, a: layer(h, a=a), jnp.asarray(h), jnp.float64(a))
    np.testing.assert_array_equal(np.asarray(spikes), spikes_np)
    gh, ga = vjp(jnp.asarray(g))
    assert gh.dtype == jnp.float64
    assert np.abs(gh_np).max() > 0.1  # the surrogate path carries a real gradient
    np.testing.assert_allclose(np.asarray(gh), gh_np, rtol=1e-5, atol=1e-8)
    assert float(ga) == pytest.approx(ga_np, rel=1e-5)
    # the last input never influences a recorded spike
    np.testing.assert_array_equal(np.asarray(gh[-1]), 0.0)


@pytest.mark.parametrize("reset", ["multiplicative", "subtractive"])
@pytest.mark.parametrize("update_order", ["parity", "textbook"])
def test_readout_layer_equals_autodiff_of_the_scan(x64, rng, reset, update_order):
    """The fused layer (spikes and r = Σ_t c_t s_t) against autodiff of lif_scan + einsum:
    values exactly, and gradients for h, a, ϑ and c, with a loss that uses both outputs and
    with one that uses only r (the training path, where the spike train is never built)."""
    h = jnp.asarray(rng.normal(0.4, 0.8, size=(T, B, U)))
    c = jnp.asarray(rng.uniform(0.0, 1.0, size=T))
    direct = jnp.asarray(rng.normal(size=(T, B, U)))
    scale = jnp.arange(1.0, U + 1)

    def reference(h, a, threshold, c, use_spikes):
        spikes = lif_scan(h, a=a, threshold=threshold, slope=5.0, update_order=update_order,
                          reset=reset)
        r = jnp.einsum("t,tbh->bh", c, spikes)
        return jnp.sum(r**2 * scale) + (jnp.sum(spikes * direct) if use_spikes else 0.0)

    def fused(h, a, threshold, c, use_spikes):
        spikes, r = lif_layer_with_readout(h, c, a=a, threshold=threshold, slope=5.0,
                                           update_order=update_order, reset=reset)
        return jnp.sum(r**2 * scale) + (jnp.sum(spikes * direct) if use_spikes else 0.0)

    args = (h, jnp.float64(0.85), jnp.float64(0.9), c)
    for use_spikes in (True, False):
        assert float(fused(*args, use_spikes)) == float(reference(*args, use_spikes))
        want = jax.grad(reference, argnums=(0, 1, 2, 3))(*args, use_spikes)
        got = jax.grad(fused, argnums=(0, 1, 2, 3))(*args, use_spikes)
        for w, g in zip(want, got, strict=True):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-10, atol=1e-12)
        assert np.abs(np.asarray(want[0])).max() > 0.1
    # h only (a, ϑ and c constant): the path that skips their accumulators
    g_h = jax.grad(lambda h: fused(h, *args[1:], False))(h)
    np.testing.assert_allclose(g_h, jax.grad(lambda h: reference(h, *args[1:], False))(h),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reset", ["multiplicative", "subtractive"])
@pytest.mark.parametrize("n_steps", [1, 2, 7, 8])
def test_parity_layer_forward_of_any_length_equals_numpy(rng, n_steps, reset):
    """The fused forward loop advances two steps per iteration (and one more for an odd
    length): spikes and r = Σ_t c_t·s_t equal a plain float32 NumPy loop of the parity step,
    for even, odd and one-step inputs, with per-unit a and ϑ."""
    h = rng.normal(0.6, 0.9, size=(n_steps, B, U)).astype(np.float32)
    a = rng.uniform(0.6, 0.95, size=U).astype(np.float32)
    threshold = rng.uniform(0.8, 1.2, size=U).astype(np.float32)
    c = rng.uniform(0.0, 1.0, size=n_steps).astype(np.float32)
    v = s = r = np.zeros((B, U), np.float32)
    want = []
    for t in range(n_steps):  # s_t = H(v_{t-1} - ϑ), then v_{t+1} from v_t and s_t
        want.append(s)
        r = r + c[t] * s
        leaked = a * v + h[t]
        v_next = leaked * (1 - s) if reset == "multiplicative" else leaked - threshold * s
        s, v = (v > threshold).astype(np.float32), v_next
    spikes, rate = jax.jit(partial(lif_parity_layer, reset=reset))(
        jnp.asarray(h), jnp.asarray(a), jnp.asarray(threshold), 5.0, jnp.asarray(c))
    np.testing.assert_array_equal(np.asarray(spikes), np.stack(want))
    np.testing.assert_array_equal(np.asarray(rate), r)  # summed in time order, as here
    assert n_steps < 7 or r.any()  # the longer inputs make the units spike


def test_readout_layer_under_vmap_equals_each_member(x64, rng):
    h = jnp.asarray(rng.normal(0.4, 0.8, size=(3, T, B, U)))
    a = jnp.asarray([0.5, 0.8, 0.95])
    c = jnp.asarray(rng.uniform(size=T))

    def loss(h, a):
        return jnp.sum(lif_layer_with_readout(h, c, a=a)[1] ** 2)

    batched = jax.vmap(jax.grad(loss, argnums=(0, 1)))(h, a)
    for k in range(3):
        single = jax.grad(loss, argnums=(0, 1))(h[k], a[k])
        np.testing.assert_array_equal(batched[0][k], single[0])
        np.testing.assert_allclose(batched[1][k], single[1], rtol=1e-12)


@pytest.mark.parametrize("reset", ["multiplicative", "subtractive"])
def test_members_as_units_equals_each_member(x64, rng, reset):
    """Merging the member axis into the units axis (how sweeps run a group sharing its input)
    changes no value or gradient: per-member a, ϑ, slope and readout weights become
    per-unit ones, and an unbatched input is shared."""
    h = jnp.asarray(rng.normal(0.4, 0.8, size=(3, T, B, U)))
    a = jnp.asarray([0.5, 0.8, 0.95])
    threshold = jnp.asarray([1.0, 0.9, 1.2])
    slope = jnp.asarray([5.0, 2.0, 9.0])
    c = jnp.asarray(rng.uniform(size=(3, T)))
    w = jnp.asarray(rng.normal(size=(B, U)))

    def loss(h, a, threshold, slope, c):
        spikes, rate = lif_parity_layer(h, a, threshold, slope, c, "sigmoid", reset)
        return jnp.sum(rate * w) + jnp.sum(spikes[:, 0] ** 2)  # both outputs used

    grad = jax.value_and_grad(loss, argnums=(0, 1, 2, 4))
    for shared_h in (False, True):
        args = (h[0] if shared_h else h, a, threshold, slope, c)
        axes = (None if shared_h else 0, 0, 0, 0, 0)
        plain = jax.vmap(grad, in_axes=axes)(*args)
        with members_as_units():
            merged = jax.jit(jax.vmap(grad, in_axes=axes))(*args)
        for k in range(3):
            single = grad(*(x if ax is None else x[k] for x, ax in zip(args, axes, strict=True)))
            for got in (plain, merged):
                jax.tree.map(lambda x, y, k=k: np.testing.assert_allclose(x[k], y, rtol=1e-12,
                                                                          atol=1e-12),
                             got, single)
