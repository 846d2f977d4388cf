"""The model seams: constrained parameters (Dale's law, positive τ), trained vs fixed
parameters with their own learning rates, neuron models behind one interface, and a key in
the loss."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tiny_config

from sslax import fit, training
from sslax.network import (
    Params,
    draw_time_constants,
    forward,
    init_params,
    loss_fn,
    network_values,
    params_from_values,
)
from sslax.neurons import LIF, LIFParams, run_layer, scan_layer
from sslax.sweep import Sweep, compile_count, run_sweep

# ---------------------------------------------------------------------------------------------
# Dale's law
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dale_run():
    config = tiny_config(dale="abs", inhibitory_fraction=0.5, n_epochs=3, learning_rate=0.05)
    return config, fit(config, seed=3)


def test_after_training_every_presynaptic_row_has_one_sign(dale_run):
    config, run = dale_run
    for params in (run.result.params, run.result.best_params):
        values = network_values(params, config)
        for w, signs in ((values.w_in, params.fixed["sign_in"]),
                         (values.w_out, params.fixed["sign_out"])):
            w, signs = np.asarray(w), np.asarray(signs)
            assert np.all(w * signs[:, None] >= 0)
            assert np.any(w != 0)
    initial = init_params(jax.random.split(jax.random.key(3), 4)[0], config)
    assert not np.allclose(initial.trained["w_in"], run.result.params.trained["w_in"])
    # the signs are constants: training never changes them
    np.testing.assert_array_equal(initial.fixed["sign_in"], run.result.params.fixed["sign_in"])


def test_inhibitory_counts_are_exact_per_layer():
    config = tiny_config(dale="softplus", inhibitory_fraction_inputs=0.25,
                         inhibitory_fraction_hidden=0.5)
    for seed in range(3):
        fixed = init_params(jax.random.key(seed), config).fixed
        assert int(np.sum(np.asarray(fixed["sign_in"]) < 0)) == 4  # 0.25 · 16
        assert int(np.sum(np.asarray(fixed["sign_out"]) < 0)) == 3  # 0.5 · 6


@pytest.mark.parametrize("magnitude", ["abs", "softplus"])
def test_all_excitatory_dale_network_equals_the_unconstrained_one_with_g_of_w(x64, rng,
                                                                             magnitude):
    """Dale's law with every sign +1 is the plain network whose weights are g(W): the same
    scores, and gradients related by the chain rule dL/dW = g'(W)·dL/dW_eff."""
    config = tiny_config(dale=magnitude, inhibitory_fraction=0.0)
    plain = tiny_config()
    raw = {"w_in": jnp.asarray(rng.normal(size=(16, 6)) * 0.8),
           "w_out": jnp.asarray(rng.normal(size=(6, 12)) * 0.5)}
    g = {"abs": jnp.abs, "softplus": jax.nn.softplus}[magnitude]
    dale_params = Params(raw, {"sign_in": jnp.ones(16), "sign_out": jnp.ones(6)})
    plain_params = Params({k: g(v) for k, v in raw.items()})
    x = jax.random.bernoulli(jax.random.key(0), 0.3, (25, 4, 16)).astype(jnp.float64)
    y = jnp.asarray([0, 3, 7, 11])
    (loss_d, out_d), grad_d = jax.value_and_grad(loss_fn, has_aux=True)(dale_params, x, y,
                                                                        config)
    (loss_p, out_p), grad_p = jax.value_and_grad(loss_fn, has_aux=True)(plain_params, x, y,
                                                                        plain)
    assert float(jnp.abs(out_p.hidden_spikes).sum()) > 0
    np.testing.assert_allclose(out_d.scores, out_p.scores, rtol=1e-12)
    derivative = {"abs": jnp.sign, "softplus": jax.nn.sigmoid}[magnitude]
    for name in raw:
        np.testing.assert_allclose(grad_d.trained[name],
                                   derivative(raw[name]) * grad_p.trained[name], rtol=1e-10,
                                   atol=1e-14)


def test_dale_initial_magnitudes_equal_the_unconstrained_initialisation():
    """Under Dale's law a unit's initial outgoing weights are |U(−b, b)| with its sign: the
    same magnitudes the unconstrained network draws from the same key."""
    key = jax.random.key(4)
    plain = network_values(init_params(key, tiny_config()), tiny_config())
    for magnitude in ("abs", "softplus"):
        config = tiny_config(dale=magnitude, inhibitory_fraction=0.3)
        params = init_params(key, config)
        values = network_values(params, config)
        np.testing.assert_allclose(np.abs(values.w_in), np.abs(plain.w_in), rtol=1e-5,
                                   atol=1e-7)
        np.testing.assert_array_equal(np.sign(values.w_in),
                                      np.broadcast_to(params.fixed["sign_in"][:, None],
                                                      (16, 6)))


@pytest.mark.parametrize("changes", [dict(), dict(dale="softplus", inhibitory_fraction=0.4),
                                     dict(learn_tau="both", tau_parameterisation="softplus"),
                                     dict(learn_tau="hidden", learned_tau_shape="layer")],
                         ids=["plain", "dale", "tau", "tau-per-layer"])
def test_params_round_trip_through_constrained_values(x64, changes):
    config = tiny_config(**changes)
    params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64),
                          init_params(jax.random.key(2), config))
    values = network_values(params, config)._asdict()
    trained = {k: values[k] for k in params.trained}
    back = params_from_values(trained, params.fixed, config)
    for name, raw in params.trained.items():
        np.testing.assert_allclose(back.trained[name], raw, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="lack .*w_out"):
        params_from_values({"w_in": values["w_in"]}, params.fixed, config)


# ---------------------------------------------------------------------------------------------
# time constants: per unit, drawn, learned
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("distribution, spread", [("log_uniform", dict(tau_hidden_ratio=10.0)),
                                                  ("gamma", dict(tau_hidden_cv=0.5))])
def test_drawn_time_constants_have_the_requested_mean(distribution, spread):
    network = tiny_config(n_hidden=20000, tau_hidden=5e-3, tau_hidden_distribution=distribution,
                          **spread).network
    taus = np.asarray(draw_time_constants(jax.random.key(0), network))
    assert taus.mean() == pytest.approx(5e-3, rel=0.02)
    assert np.all(taus > 0)
    if distribution == "log_uniform":
        assert taus.max() / taus.min() == pytest.approx(10.0, rel=0.01)
        lowest = 5e-3 * np.log(10) / 9  # mean·ln r/(r − 1)
        assert taus.min() == pytest.approx(lowest, rel=0.01)
    else:
        assert taus.std() / taus.mean() == pytest.approx(0.5, rel=0.03)


def test_drawn_time_constants_are_per_network_constants():
    config = tiny_config(tau_hidden_distribution="gamma", n_epochs=1)
    a, b = (init_params(jax.random.key(s), config) for s in (0, 1))
    assert "tau_hidden" in a.fixed and "tau_hidden" not in a.trained
    assert not np.allclose(a.fixed["tau_hidden"], b.fixed["tau_hidden"])
    run = fit(config, seed=0)
    values = network_values(run.result.params, config)
    assert np.asarray(values.tau_hidden).shape == (6,)
    assert float(values.tau_output) == pytest.approx(5e-3)  # the mean, not a drawn value


@pytest.fixture(scope="module")
def learned_tau_runs():
    config = tiny_config(learn_tau="both", n_epochs=3, tau_hidden=4e-3, learning_rate=0.03,
                         learning_rate_tau=0.03)
    slow_tau = config.replace_fields(learning_rate_tau=1e-9)  # the same compiled program
    return config, fit(config), fit(slow_tau)


def test_learned_time_constants_move_and_stay_positive(learned_tau_runs):
    config, run, _ = learned_tau_runs
    values = network_values(run.result.params, config)
    hidden, output = np.asarray(values.tau_hidden), np.asarray(values.tau_output)
    assert hidden.shape == (6,) and output.shape == (12,)
    assert np.all(hidden > 0) and np.all(output > 0)
    assert not np.allclose(hidden, 4e-3, rtol=1e-3)  # learning reached τ
    assert np.isfinite(float(run.test_eval.loss))


def test_time_constants_have_their_own_learning_rate(learned_tau_runs):
    config, run, slow = learned_tau_runs
    taus = network_values(slow.result.params, config)
    np.testing.assert_allclose(np.asarray(taus.tau_hidden), 4e-3, rtol=1e-5)  # barely moved
    weights_moved = np.asarray(slow.result.params.trained["w_in"])
    initial = init_params(jax.random.split(jax.random.key(0), 4)[0], config)
    assert not np.allclose(weights_moved, initial.trained["w_in"], atol=1e-3)


def test_loss_gradient_reaches_a_learned_time_constant(x64):
    config = tiny_config(learn_tau="hidden", tau_hidden=3e-3)
    params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64),
                          init_params(jax.random.key(1), config))
    params = params.replace(trained={**params.trained, "w_in": params.trained["w_in"] * 5})
    x = jax.random.bernoulli(jax.random.key(0), 0.3, (25, 4, 16)).astype(jnp.float64)
    grads = jax.grad(lambda p: loss_fn(p, x, jnp.asarray([0, 3, 7, 11]), config)[0])(params)
    assert np.all(np.isfinite(grads.trained["tau_hidden"]))
    assert np.any(np.asarray(grads.trained["tau_hidden"]) != 0)


def test_inhibitory_fraction_sweep_is_one_compile_with_exact_counts():
    before = compile_count()
    sweep = Sweep(tiny_config(dale="abs", n_epochs=1), seeds=(0, 1),
                  grid={"inhibitory_fraction": (0.0, 0.5, 1.0)})
    (result,) = run_sweep(sweep)
    assert compile_count() - before <= 3  # init, epoch, finish: once for every fraction
    signs = np.asarray(result.result.params.fixed["sign_in"])
    assert [int(np.sum(s < 0)) for s in signs] == [0, 8, 16] * 2
    member = result.member(result.index(seed=1, inhibitory_fraction=0.5))
    single = fit(member.config, seed=1)
    np.testing.assert_allclose(member.result.params.trained["w_in"],
                               single.result.params.trained["w_in"], atol=1e-6)


# ---------------------------------------------------------------------------------------------
# neuron models behind one interface; a key in the loss
# ---------------------------------------------------------------------------------------------


class LeakyReLUParams(NamedTuple):
    decay: jax.Array


class LeakyReLU:
    """A rate unit with no accelerator: only ``initial_state`` and ``step``."""

    def initial_state(self, params, shape, dtype):
        return jnp.zeros(shape, dtype)

    def step(self, params, u, x_t):
        u = params.decay * u + x_t
        return u, jax.nn.relu(u)


def test_a_model_without_an_accelerator_runs_through_the_scan(x64, rng):
    x = jnp.asarray(rng.normal(size=(7, 3, 4)))
    weights = jnp.linspace(1.0, 0.0, 7)
    params = LeakyReLUParams(jnp.asarray(0.8))
    y, r = run_layer(LeakyReLU(), params, x, weights)
    u, expected = np.zeros((3, 4)), []
    for t in range(7):
        u = 0.8 * u + np.asarray(x[t])
        expected.append(np.maximum(u, 0))
    np.testing.assert_allclose(y, np.stack(expected), rtol=1e-12)
    np.testing.assert_allclose(r, np.einsum("t,tbh->bh", weights, np.stack(expected)))
    grad = jax.grad(lambda a: run_layer(LeakyReLU(), LeakyReLUParams(a), x, weights)[1].sum())
    assert float(grad(jnp.asarray(0.8))) != 0


def test_lif_accelerator_equals_its_scan(x64, rng):
    h = jnp.asarray(rng.normal(size=(9, 2, 5)) * 0.8)
    model, params = LIF(), LIFParams(jnp.asarray(0.8), 1.0, 5.0)
    fused, _ = model.layer(params, h, jnp.zeros(9))
    np.testing.assert_array_equal(fused, scan_layer(model, params, h))


def test_each_training_step_gets_its_own_key_and_deterministic_results_ignore_it(monkeypatch):
    config = tiny_config(n_epochs=1)
    data = training.make_datasets(jax.random.key(1), config)
    state = training.init_state(jax.random.key(0), config)
    plain = jax.jit(lambda *a: training.train_epoch(*a))(state, data, config)
    seen = []

    def keyed_loss(params, x, y, cfg, key=None, epoch=None):
        jax.debug.callback(lambda k: seen.append(tuple(np.asarray(k))),
                           jax.random.key_data(key))
        loss, out = loss_fn(params, x, y, cfg, key, epoch=epoch)
        return loss + 0.0 * jax.random.uniform(key), out

    monkeypatch.setattr(training, "loss_fn", keyed_loss)
    keyed = jax.jit(lambda *a: training.train_epoch(*a))(state, data, config)  # traced anew
    jax.effects_barrier()
    assert len(seen) == config.training.n_batches and len(set(seen)) == len(seen)
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(keyed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_forward_takes_a_key_and_ignores_it_when_deterministic():
    config = tiny_config()
    params = init_params(jax.random.key(0), config)
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (25, 4, 16)).astype(jnp.float32)
    a = forward(params, x, config, jax.random.key(5)).scores
    b = forward(params, x, config).scores
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
