"""The model variants: rate penalty, dropout, the adaptive-threshold neuron, the spiking
readout and filter-and-fire synapses — each defining property on a small case whose answer
is computed independently (NumPy loops and closed forms), plus the minimal-model preset."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tiny_config

from sslax import PRESETS, regularisers, synapses
from sslax.config import ConfigError
from sslax.metrics import evaluate
from sslax.network import Params, forward, init_params, loss_fn, network_values, output_spikes
from sslax.neurons import LIF, AdaptiveLIF, AdaptiveParams, LIFParams, scan_layer
from sslax.stimulus import make_dataset

T, B = 25, 4  # never equal


def _input_spikes(config, seed=1, p=0.3):
    shape = (config.stimulus.n_steps, B, config.stimulus.n_inputs)
    return (jax.random.uniform(jax.random.key(seed), shape) < p).astype(jnp.float32)


# ---------------------------------------------------------------------------------------------
# rate penalty
# ---------------------------------------------------------------------------------------------

BAND = dict(lower=100.0, upper=200.0)


def test_band_penalty_is_zero_inside_the_band_with_zero_gradient():
    rates = jnp.array([100.0, 120.0, 150.0, 199.9, 200.0])
    penalty = partial_penalty("band")
    assert float(penalty(rates)) == 0.0
    np.testing.assert_array_equal(jax.grad(penalty)(rates), np.zeros(5))


def partial_penalty(form, strength=1.0, n_classes=12):
    return lambda r: regularisers.rate_penalty(r, strength=strength, form=form,
                                               n_classes=n_classes, **BAND)


@pytest.mark.parametrize("rate, expected_term", [(50.0, 0.25), (250.0, 0.25), (400.0, 4.0)])
def test_band_penalty_outside_the_band_value_and_gradient(rate, expected_term):
    # one unit outside, three inside: penalty = ln 12 · term / 4
    rates = jnp.array([rate, 150.0, 150.0, 150.0])
    penalty = partial_penalty("band", strength=2.0)
    np.testing.assert_allclose(float(penalty(rates)), 2.0 * math.log(12) * expected_term / 4,
                               rtol=1e-6)
    edge = 100.0 if rate < 100 else 200.0
    slope = 2.0 * math.log(12) * 2 * (rate - edge) / 100.0**2 / 4  # d/dr of the above
    grad = np.asarray(jax.grad(penalty)(rates))
    np.testing.assert_allclose(grad, [slope, 0, 0, 0], rtol=1e-6)


def test_published_penalty_forms():
    rates = jnp.array([50.0, 150.0, 200.0, 300.0])
    terms = np.array([0.0, 0.25, 1.0, 4.0])  # ((r − 100)/100)² above 100 Hz: 1 at r₊
    np.testing.assert_allclose(regularisers.rate_band_terms(rates, 100.0, 200.0, "above_lower"),
                               terms, rtol=1e-6)
    above = float(partial_penalty("above_lower")(rates))
    np.testing.assert_allclose(above, math.log(12) * terms.mean(), rtol=1e-6)
    # the published code divided the mean once more by the number of hidden units
    np.testing.assert_allclose(float(partial_penalty("original")(rates)), above / 4, rtol=1e-6)


def test_loss_adds_the_penalty_of_the_counted_hidden_rates():
    plain = tiny_config()
    config = tiny_config(rate_regulariser="band", rate_penalty=0.5, rate_lower=5.0,
                         rate_upper=20.0)
    params = init_params(jax.random.key(0), plain)
    x, y = _input_spikes(plain), jnp.arange(B) % 12
    base, out = loss_fn(params, x, y, plain)
    total, _ = loss_fn(params, x, y, config)
    # rates counted by NumPy: spikes per unit / (batch · duration)
    rates = np.asarray(out.hidden_spikes).sum(axis=(0, 1)) / (B * plain.stimulus.duration)
    terms = (np.maximum(5.0 - rates, 0) / 15.0) ** 2 + (np.maximum(rates - 20.0, 0) / 15.0) ** 2
    assert terms.sum() > 0  # the case tests something
    np.testing.assert_allclose(float(total - base), 0.5 * math.log(12) * terms.mean(),
                               rtol=1e-5)


def test_rate_penalty_pulls_rates_into_the_band():
    # units far above the band get a gradient that lowers their rates
    config = tiny_config(rate_regulariser="band", rate_penalty=1.0, rate_lower=1.0,
                         rate_upper=2.0)
    params = init_params(jax.random.key(0), config)
    params = params.replace(trained={**params.trained, "w_in": params.trained["w_in"] + 0.5})
    x, y = _input_spikes(config), jnp.arange(B) % 12

    def penalty_only(trained):
        loss, out = loss_fn(params.replace(trained=trained), x, y, config)
        return loss - loss_fn(params.replace(trained=trained), x, y,
                              config.replace_fields(rate_regulariser="none"))[0]

    grad = jax.grad(penalty_only)(params.trained)["w_in"]
    assert float(jnp.mean(grad)) > 0  # gradient descent lowers the input weights


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------


def test_dropout_at_rate_zero_is_the_identity():
    plain = tiny_config()
    config = tiny_config(dropout_hidden=0.0, dropout_connections=0.0)
    params, x = init_params(jax.random.key(0), plain), _input_spikes(plain)
    expected = forward(params, x, plain).scores
    np.testing.assert_array_equal(forward(params, x, config, jax.random.key(5)).scores,
                                  expected)


def test_dropout_is_off_at_evaluation():
    plain = tiny_config()
    config = tiny_config(dropout_hidden=0.9, dropout_connections=0.5)
    params, x = init_params(jax.random.key(0), plain), _input_spikes(plain)
    np.testing.assert_array_equal(forward(params, x, config).scores,
                                  forward(params, x, plain).scores)
    data = make_dataset(jax.random.key(2), 16, plain.stimulus)
    assert evaluate(params, data, config, 8).accuracy == evaluate(params, data, plain,
                                                                  8).accuracy
    # while training (a key is given) the same network differs
    assert not np.array_equal(forward(params, x, config, jax.random.key(5)).scores,
                              forward(params, x, plain).scores)


def test_dropout_drops_at_the_rate_and_rescales_the_rest():
    x = jnp.ones((200, 50))
    y = np.asarray(regularisers.dropout(jax.random.key(0), x, 0.3))
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.02


def test_hidden_dropout_acts_on_the_spikes_the_output_layer_sees():
    # with an all-ones readout the score is Σ_t c_t·(mask·s_t)·W_out: rebuild it by hand
    config = tiny_config(dropout_hidden=0.5)
    params, x = init_params(jax.random.key(0), config), _input_spikes(config)
    key = jax.random.key(7)
    out = forward(params, x, config, key)
    _, k_hidden = jax.random.split(key)
    dropped = regularisers.dropout(k_hidden, out.hidden_spikes, 0.5)
    from sslax.neurons import decay, mean_membrane_weights

    values = network_values(params, config)
    c = mean_membrane_weights(decay(values.tau_output, config.stimulus.dt), T)
    expected = np.einsum("t,tbh,hc->bc", c, dropped, values.w_out)
    np.testing.assert_allclose(out.scores, expected, rtol=1e-5, atol=1e-6)
    # the recorded (undropped) spikes are the deterministic network's
    np.testing.assert_array_equal(out.hidden_spikes, forward(params, x, config).hidden_spikes)


# ---------------------------------------------------------------------------------------------
# the adaptive-threshold neuron
# ---------------------------------------------------------------------------------------------


def _current(seed=0, units=5, scale=0.6):
    return scale * jax.random.uniform(jax.random.key(seed), (T, B, units), minval=-0.5,
                                      maxval=1.5)


@pytest.mark.parametrize("order", ["parity", "textbook"])
@pytest.mark.parametrize("reset", ["multiplicative", "subtractive"])
def test_adaptive_with_beta_zero_equals_lif(order, reset):
    h = _current()
    a, rho = np.exp(-1 / 5), np.exp(-1 / 3)
    lif = scan_layer(LIF("sigmoid", order, reset), LIFParams(a, 1.0, 5.0), h)
    adaptive = scan_layer(AdaptiveLIF("sigmoid", order, reset),
                          AdaptiveParams(a, rho, 0.0, 1.0, 5.0), h)
    assert float(lif.sum()) > 0
    np.testing.assert_array_equal(adaptive, lif)
    # gradients too
    def loss_lif(h):
        return scan_layer(LIF("sigmoid", order, reset), LIFParams(a, 1.0, 5.0), h).sum()

    def loss_ada(h):
        return scan_layer(AdaptiveLIF("sigmoid", order, reset),
                          AdaptiveParams(a, rho, 0.0, 1.0, 5.0), h).sum()

    np.testing.assert_allclose(jax.grad(loss_ada)(h), jax.grad(loss_lif)(h), rtol=1e-6)


def test_adaptive_network_with_beta_zero_equals_the_lif_network():
    lif = tiny_config()
    adaptive = tiny_config(neuron="adaptive", adaptation_strength=0.0)
    params, x = init_params(jax.random.key(0), lif), _input_spikes(lif)
    np.testing.assert_array_equal(forward(params, x, adaptive).scores,
                                  forward(params, x, lif).scores)


def _adaptive_reference(h, a, rho, beta, reset):
    """The original notebook's loop (parity order), in NumPy."""
    h = np.asarray(h, np.float64)
    v = np.zeros(h.shape[1:])
    s = np.zeros_like(v)
    theta = np.zeros_like(v)
    record = [s]
    for t in range(h.shape[0] - 1):
        if reset == "multiplicative":
            new_v = (a * v + h[t]) * (1 - s)
        else:
            new_v = (a * v + h[t]) - s * (beta * theta + 1)
        s = (v - (beta * theta + 1) > 0).astype(float)
        v = new_v
        theta = rho * theta + (1 - rho) * s
        record.append(s)
    return np.stack(record)


@pytest.mark.parametrize("reset", ["multiplicative", "subtractive"])
def test_adaptive_parity_order_matches_the_original_loop(reset):
    h = _current(seed=3, scale=1.0)
    a, rho, beta = np.exp(-1 / 2), np.exp(-1 / 2), 1.0
    spikes = scan_layer(AdaptiveLIF("sigmoid", "parity", reset),
                        AdaptiveParams(a, rho, beta, 1.0, 5.0), h)
    expected = _adaptive_reference(h, a, rho, beta, reset)
    np.testing.assert_array_equal(np.asarray(spikes), expected)
    # adaptation changes something in this case (fewer spikes than the LIF neuron)
    lif = scan_layer(LIF("sigmoid", "parity", reset), LIFParams(a, 1.0, 5.0), h)
    assert float(spikes.sum()) < float(lif.sum())


# ---------------------------------------------------------------------------------------------
# the spiking readout
# ---------------------------------------------------------------------------------------------


def _lif_reference(h, a):
    """Parity-order LIF with multiplicative reset, in NumPy: spikes s_0 … s_{T−1}."""
    h = np.asarray(h, np.float64)
    v, s = np.zeros(h.shape[1:]), np.zeros(h.shape[1:])
    record = [s]
    for t in range(h.shape[0] - 1):
        new_v = (a * v + h[t]) * (1 - s)
        s = (v > 1).astype(float)
        v = new_v
        record.append(s)
    return np.stack(record)


def test_spike_count_score_is_the_output_spike_count():
    config = tiny_config(readout="spike_count", tau_hidden=5e-3)
    params = init_params(jax.random.key(0), config)
    values = network_values(params, config)
    params = params.replace(trained={**params.trained, "w_out": params.trained["w_out"] * 8})
    x = _input_spikes(config, p=0.5)
    out = forward(params, x, config)
    w_out = np.asarray(network_values(params, config).w_out, np.float64)
    currents = np.einsum("tbh,hc->tbc", np.asarray(out.hidden_spikes, np.float64), w_out)
    expected = _lif_reference(currents, np.exp(-1 / 5))
    assert expected.sum() > 10  # output units do spike
    np.testing.assert_allclose(np.asarray(out.scores) * T, expected.sum(axis=0), atol=1e-4)
    np.testing.assert_array_equal(output_spikes(params, x, config), expected)
    assert values.w_out.shape == (6, 12)


def test_spike_count_readout_has_a_gradient():
    config = tiny_config(readout="spike_count")
    params, x = init_params(jax.random.key(0), config), _input_spikes(config, p=0.5)
    grads = jax.grad(lambda t: loss_fn(params.replace(trained=t), x, jnp.arange(B), config)[0])(
        params.trained)
    assert all(float(jnp.abs(g).sum()) > 0 for g in grads.values())


# ---------------------------------------------------------------------------------------------
# filter-and-fire synapses
# ---------------------------------------------------------------------------------------------


def _double_exponential(n_steps, tau_rise, tau_decay, dt):
    n = np.arange(n_steps)
    k = np.exp(-n * dt / tau_decay) - np.exp(-n * dt / tau_rise)
    long = np.arange(10_000)
    return k / np.max(np.exp(-long * dt / tau_decay) - np.exp(-long * dt / tau_rise))


@pytest.mark.parametrize("tau_rise, tau_decay", [(1e-3, 8e-3), (4e-3, 30e-3), (10e-3, 15e-3)])
def test_psp_filter_impulse_response_is_the_double_exponential(tau_rise, tau_decay):
    jax.config.update("jax_enable_x64", True)
    try:
        impulse = np.zeros((60, 1, 1))
        impulse[0] = 1.0
        response = synapses.psp_filter(jnp.asarray(impulse), tau_rise, tau_decay, 1e-3)
        expected = _double_exponential(60, tau_rise, tau_decay, 1e-3)
        np.testing.assert_allclose(np.asarray(response)[:, 0, 0], expected, atol=1e-12)
        assert abs(np.max(np.asarray(response)) - 1.0) < 1e-12  # normalised to peak 1
        np.testing.assert_allclose(synapses.psp_kernel(60, tau_rise, tau_decay, 1e-3),
                                   expected, atol=1e-12)
    finally:
        jax.config.update("jax_enable_x64", False)


def test_filter_and_fire_current_is_the_sum_of_filtered_contacts():
    rng = np.random.default_rng(0)
    n_in, n_hidden, contacts = 5, 3, 2
    x = (rng.random((T, B, n_in)) < 0.3).astype(np.float32)
    w = rng.normal(size=(n_in, n_hidden, contacts)).astype(np.float32)
    tau_rise = rng.uniform(1e-3, 4e-3, (n_hidden, contacts))
    tau_decay = rng.uniform(8e-3, 20e-3, (n_hidden, contacts))
    current = synapses.filter_and_fire_current(x, w, tau_rise, tau_decay, 1e-3)
    # direct convolution per synapse and contact
    expected = np.zeros((T, B, n_hidden))
    for h in range(n_hidden):
        for m in range(contacts):
            k = _double_exponential(T, tau_rise[h, m], tau_decay[h, m], 1e-3)
            for t in range(T):
                past = x[: t + 1][::-1]  # x_t, x_{t−1}, …
                expected[t, :, h] += np.einsum("n,nbi,i->b", k[: t + 1], past, w[:, h, m])
    np.testing.assert_allclose(np.asarray(current), expected, rtol=1e-4, atol=1e-4)


def test_psp_filter_gradient_matches_finite_differences():
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
    try:
        c = jax.random.normal(jax.random.key(0), (12, 2, 3), jnp.float64)
        check_grads(lambda c: synapses.psp_filter(c, 2e-3, 9e-3, 1e-3), (c,), order=1,
                    modes=("rev",))
    finally:
        jax.config.update("jax_enable_x64", False)


def test_filter_and_fire_network_draws_its_kernels_per_seed():
    config = tiny_config(synapse="filter_and_fire", contacts=3)
    params = init_params(jax.random.key(0), config)
    assert params.trained["w_in"].shape == (16, 6, 3)
    rise, decay = params.fixed["psp_tau_rise"], params.fixed["psp_tau_decay"]
    assert rise.shape == decay.shape == (6, 3)
    assert float(rise.min()) >= 1e-3 and float(rise.max()) <= 16e-3
    assert bool(jnp.all(decay >= 1.5 * rise - 1e-9))
    other = init_params(jax.random.key(1), config)
    assert not np.array_equal(rise, other.fixed["psp_tau_rise"])
    # the hidden input is the filter-and-fire current of these weights and kernels
    x = _input_spikes(config)
    out = forward(params, x, config)
    expected_h = synapses.filter_and_fire_current(x, params.trained["w_in"], rise, decay, 1e-3)
    lif_spikes = scan_layer(LIF(), LIFParams(np.exp(-1e-3 / 5e-3), 1.0, 5.0), expected_h)
    np.testing.assert_array_equal(out.hidden_spikes, lif_spikes)


def test_filter_and_fire_under_dales_law_keeps_one_sign_per_input():
    config = tiny_config(synapse="filter_and_fire", dale="abs", inhibitory_fraction=0.5)
    params = init_params(jax.random.key(0), config)
    w_in = np.asarray(network_values(params, config).w_in)
    signs = np.asarray(params.fixed["sign_in"])
    assert np.all(w_in * signs[:, None, None] >= 0)


# ---------------------------------------------------------------------------------------------
# configs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("rate_upper", 50.0), ("dropout_hidden", 1.0), ("dropout_connections", -0.1),
    ("contacts", 0), ("neuron", "alif"), ("readout", "count"), ("tau_adaptation", 0.0),
    ("psp_tau_rise_min", 0.02), ("rate_regulariser", "l2"),
])
def test_bad_variant_fields_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        tiny_config(**{field: value})


def test_minimal_model_preset_is_the_published_setting():
    config = PRESETS["minimal-model"]
    assert (config.stimulus.frequency, config.stimulus.exact_rates) == (50.0, True)
    assert (config.network.n_hidden, config.network.tau_hidden) == (8, 2e-3)
    tr = config.training
    assert (tr.n_train, tr.batch_size, tr.n_epochs, tr.learning_rate) == (16384, 128, 100,
                                                                          0.001)
    assert (tr.rate_regulariser, tr.rate_lower, tr.rate_upper) == ("above_lower", 100.0, 200.0)


def test_variant_params_are_a_params_pytree():
    config = tiny_config(neuron="adaptive", readout="spike_count", synapse="filter_and_fire")
    params = init_params(jax.random.key(0), config)
    assert isinstance(params, Params)
    assert set(params.fixed) == {"psp_tau_rise", "psp_tau_decay"}


# ---------------------------------------------------------------------------------------------
# sweeps over the variants' numeric fields
# ---------------------------------------------------------------------------------------------


def test_variant_fields_sweep_in_one_compile_and_members_equal_single_runs():
    from sslax import fit
    from sslax.sweep import Sweep, compile_count, run_sweep

    base = tiny_config(neuron="adaptive", dropout_hidden=0.0, rate_regulariser="band",
                       rate_lower=5.0, rate_upper=30.0, n_epochs=2, learning_rate=0.05)
    before = compile_count()
    sweep = Sweep(base, seeds=(0, 1), grid={"dropout_hidden": (0.0, 0.5),
                                           "adaptation_strength": (0.0, 1.0)})
    (result,) = run_sweep(sweep)
    assert compile_count() - before <= 3  # init, epoch, finish: once for the whole grid
    member = result.member(result.index(seed=1, dropout_hidden=0.5, adaptation_strength=1.0))
    single = fit(member.config, seed=1)
    np.testing.assert_allclose(member.result.params.trained["w_in"],
                               single.result.params.trained["w_in"], atol=1e-5)
    # dropout changes training: the members with and without it differ
    other = result.member(result.index(seed=1, dropout_hidden=0.0, adaptation_strength=1.0))
    assert not np.allclose(other.result.params.trained["w_in"],
                           member.result.params.trained["w_in"])


@pytest.mark.parametrize("fields", [
    dict(neuron="adaptive"), dict(readout="spike_count"), dict(synapse="filter_and_fire"),
    dict(dropout_hidden=0.5, dropout_connections=0.1, rate_regulariser="band"),
])
def test_float64_networks_stay_float64(fields):
    jax.config.update("jax_enable_x64", True)
    try:
        config = tiny_config(**fields)
        params = jax.tree.map(lambda x: x.astype(jnp.float64),
                              init_params(jax.random.key(0), config))
        x = _input_spikes(config).astype(jnp.float64)
        (loss, out), grads = jax.value_and_grad(
            lambda t: loss_fn(params.replace(trained=t), x, jnp.arange(B), config,
                              jax.random.key(1)), has_aux=True)(params.trained)
        assert loss.dtype == out.scores.dtype == out.hidden_spikes.dtype == jnp.float64
        assert all(g.dtype == jnp.float64 for g in grads.values())
    finally:
        jax.config.update("jax_enable_x64", False)
