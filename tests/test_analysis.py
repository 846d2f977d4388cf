"""Analysis of trained networks: each function on small cases with known answers, and
`sslax analyse` end to end on a run and a sweep."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY, tiny_config

from sslax import init_params, make_dataset
from sslax.analysis import ablation, ensemble, reduced, report, sensitivity, tuning, weights
from sslax.analysis.network_analysis import (
    AnalysisOptions,
    analyse_network,
    analyse_networks,
    analysis_core,
)
from sslax.metrics import evaluate
from sslax.network import forward, hidden_membranes, network_values, params_from_values
from sslax.neurons import LIF, LIFParams, decay, scan_layer
from sslax.stimulus import batch_inputs, spike_probability
from sslax.sweep.batching import stack_members
from sslax.training import datasets_from_seed


def _network(config, w_in, w_out):
    return params_from_values({"w_in": jnp.asarray(w_in, jnp.float32),
                               "w_out": jnp.asarray(w_out, jnp.float32)}, {}, config)


@pytest.fixture(scope="module")
def hand_built():
    """A network whose unit 0 never spikes (all input weights negative), units 1–5 driven by
    one ear each, and a test set of 64 samples."""
    config = tiny_config(n_test=64)
    key = jax.random.key(3)
    w_in = np.array(jax.random.uniform(key, (16, 6), minval=0.0, maxval=0.6))
    w_in[:, 0] = -1.0
    w_in[8:, 1:3] = 0.0  # units 1, 2: left ear only
    w_in[:8, 3:5] = 0.0  # units 3, 4: right ear only
    w_out = np.array(jax.random.normal(jax.random.key(4), (6, 12)))
    params = _network(config, w_in, w_out)
    data = make_dataset(jax.random.key(5), 64, config.stimulus)
    return config, params, data, w_in, w_out


# ---------------------------------------------------------------------------------------------
# tuning curves
# ---------------------------------------------------------------------------------------------


def test_tuning_curves_are_per_class_mean_and_std():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=50)
    labels[:4] = np.arange(4)
    responses = rng.normal(size=(50, 3)) + labels[:, None]
    result = tuning.tuning_curves(responses, labels, 5)
    for c in range(4):
        chosen = responses[labels == c]
        np.testing.assert_allclose(result.mean[c], chosen.mean(axis=0), rtol=1e-5)
        np.testing.assert_allclose(result.std[c], chosen.std(axis=0), rtol=1e-4, atol=1e-6)
        assert result.count[c] == len(chosen)
    assert np.isnan(result.mean[4]).all()  # a class without samples


def test_normalised_tuning_maps_ranges_to_unit_interval():
    t = tuning.Tuning(jnp.array([[1.0, 10.0], [3.0, 30.0]]), jnp.ones((2, 2)), jnp.ones(2))
    ind = tuning.normalised(t, "individual")
    np.testing.assert_allclose(ind.mean, [[0, 0], [1, 1]])
    np.testing.assert_allclose(ind.std, [[0.5, 0.05], [0.5, 0.05]])
    pop = tuning.normalised(t, "population")
    np.testing.assert_allclose(pop.mean, np.array([[0, 9], [2, 29]]) / 29)
    with pytest.raises(ValueError, match="mode = 'x'"):
        tuning.normalised(t, "x")


# ---------------------------------------------------------------------------------------------
# ablation
# ---------------------------------------------------------------------------------------------


def test_leave_one_out_equals_deleting_the_unit(hand_built):
    """The vectorised removal of unit u equals a 5-unit network without u, evaluated by the
    ordinary evaluation path."""
    config, params, data, w_in, w_out = hand_built
    keep = ablation.leave_one_out(6)
    got = np.asarray(ablation.ablation_accuracy(params, data, config, keep, batch_size=24))
    assert got[0] == pytest.approx(float(evaluate(params, data, config).accuracy))
    smaller = config.replace_fields(n_hidden=5)
    for unit in range(6):
        rest = [h for h in range(6) if h != unit]
        deleted = _network(smaller, w_in[:, rest], w_out[rest])
        expected = float(evaluate(deleted, data, smaller).accuracy)
        assert got[1 + unit] == pytest.approx(expected), unit


def test_ablation_study_finds_the_silent_unit_and_ranks_units(hand_built):
    config, params, data, *_ = hand_built
    core = analysis_core(params, data, config, batch_size=32)
    study = core.ablation
    np.testing.assert_array_equal(study.silent, [True, False, False, False, False, False])
    assert float(study.without_silent) == float(study.baseline)  # nothing changes
    assert float(study.without_unit[0]) == float(study.baseline)
    single = np.asarray(study.without_unit)
    rank = np.asarray(study.rank)
    assert sorted(rank.tolist()) == list(range(6))
    assert np.all(np.diff(single[rank]) >= 0)  # most important (lowest accuracy) first
    assert float(study.without_top[0]) == float(study.baseline)
    assert float(study.without_top[1]) == pytest.approx(single[rank[0]])
    # with every unit removed the scores are all 0 and argmax picks class 0
    labels = np.asarray(data.labels(12))
    assert float(study.without_top[-1]) == pytest.approx(np.mean(labels == 0))


def test_ensemble_core_equals_each_member_alone(hand_built):
    config, _, data, *_ = hand_built
    members = [{"seed": s, "tau_hidden": tau} for s, tau in ((0, 3e-3), (1, 6e-3))]
    stacked, axes = stack_members(config, members, ["tau_hidden"])
    configs = [config.replace_fields(tau_hidden=m["tau_hidden"]) for m in members]
    params = [init_params(jax.random.key(m["seed"]), c) for m, c in zip(members, configs,
                                                                          strict=True)]
    stacked_params = jax.tree.map(lambda *x: jnp.stack(x), *params)
    options = AnalysisOptions(tca=False, hessian_samples=8)
    together = analyse_networks(stacked_params, data, stacked, axes, None, configs, options,
                                detailed=())
    for one, p, c in zip(together, params, configs, strict=True):
        alone = analyse_network(p, data, c, options)
        np.testing.assert_array_equal(one.ablation.without_unit, alone.ablation.without_unit)
        np.testing.assert_array_equal(one.activity.hidden_counts, alone.activity.hidden_counts)
        assert one.rate_accuracy == alone.rate_accuracy


# ---------------------------------------------------------------------------------------------
# traces and weights
# ---------------------------------------------------------------------------------------------


def test_hidden_membranes_cross_threshold_one_step_before_each_spike(hand_built):
    """Parity order: the recorded v at step t decides the spike emitted at step t + 1."""
    config, params, data, *_ = hand_built
    x = batch_inputs(data, jnp.arange(5), config.stimulus)
    v = np.asarray(hidden_membranes(params, x, config))
    s = np.asarray(forward(params, x, config).hidden_spikes)
    assert s.sum() > 0
    np.testing.assert_array_equal(s[1:], (v[:-1] > config.network.threshold).astype(s.dtype))


def test_unit_orders_and_ear_profiles():
    w_in = np.zeros((6, 3))
    w_in[4, 0], w_in[0, 1], w_in[2, 2] = 1.0, 1.0, 1.0  # preferred inputs 4, 0, 2
    w_out = np.zeros((3, 4))
    w_out[0, 1], w_out[1, 3], w_out[2, 0] = 1.0, 1.0, 1.0  # preferred outputs 1, 3, 0
    np.testing.assert_array_equal(weights.unit_order(w_in, w_out, "input"), [1, 2, 0])
    np.testing.assert_array_equal(weights.unit_order(w_in, w_out, "output"), [1, 0, 2])
    np.testing.assert_array_equal(weights.unit_order(w_in, w_out, "input",
                                                     last=[False, True, False]), [2, 0, 1])
    profiles = weights.ear_profiles(w_in, 3)
    np.testing.assert_array_equal(profiles[0], w_in[:3])
    np.testing.assert_array_equal(profiles[1], w_in[3:])


# ---------------------------------------------------------------------------------------------
# reduced models
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [1.2, 2.0, 5.0])
def test_lif_rate_matches_a_simulated_lif_at_fine_time_steps(x):
    """The f–I curve against sslax's own LIF (textbook order, reset to 0) driven by a
    constant current, τ = 10 ms, dt = 10 µs: the rate from the mean inter-spike interval
    agrees to 0.5 %."""
    tau, dt, steps = 0.01, 1e-5, 10_000
    current = x * dt / tau  # so that (τ/dt)·I = x
    a = decay(tau, dt)
    h = jnp.full((steps, 1, 1), (1 - a) * tau / dt * current)  # exact integration of x
    s = scan_layer(LIF("sigmoid", "textbook", "multiplicative"), LIFParams(a, 1.0, 5.0), h)
    times = np.flatnonzero(np.asarray(s)[:, 0, 0])
    assert len(times) >= 3
    simulated = 1.0 / (np.mean(np.diff(times)) * dt)
    predicted = float(reduced.lif_rate(current, tau, dt))
    assert predicted == pytest.approx(1.0 / (dt + tau * math.log(x / (x - 1))))
    assert simulated == pytest.approx(predicted, rel=0.005)
    assert float(reduced.lif_rate(0.9 * dt / tau, tau, dt)) == 0.0  # below threshold


def test_rate_model_equals_a_numpy_rate_network(hand_built):
    config, params, data, w_in, w_out = hand_built
    model = reduced.rate_model(params, data, config, batch_size=24)
    stim = config.stimulus
    p = np.asarray(spike_probability(data.ipd, data.phase_offset, data.delays, stim))
    x = p @ w_in * config.network.tau_hidden / stim.dt  # [samples, time, hidden]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(x > 1, 1 / (stim.dt + config.network.tau_hidden * np.log(x / (x - 1))), 0)
    a = math.exp(-stim.dt / config.network.tau_out)
    u, total = np.zeros((64, 12)), np.zeros((64, 12))
    for t in range(stim.n_steps):  # u_0 = 0; u_{t+1} = a·u_t + o_t; score = mean_t u_t
        total += u
        u = a * u + (r[:, t] * stim.dt) @ w_out
    np.testing.assert_allclose(model.scores, total / stim.n_steps, rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(model.hidden_rates, r.mean(axis=1), rtol=1e-4, atol=1e-3)


def test_rate_model_refuses_adaptive_units(hand_built):
    config, _, data, *_ = hand_built
    adaptive = config.replace_fields(neuron="adaptive")
    params = init_params(jax.random.key(0), adaptive)
    with pytest.raises(ValueError, match="network.neuron = 'adaptive'"):
        reduced.rate_model(params, data, adaptive)


def test_six_parameter_fits_recover_known_curves():
    rng = np.random.default_rng(1)
    t = reduced.ricker_offsets(8, 12)
    w_out = reduced.ricker(t, -0.7, 0.05, 1.6) + 1e-3 * rng.normal(size=t.shape)
    fit = reduced.fit_w_out(w_out)
    assert (fit.a, fit.b, fit.sigma) == pytest.approx((-0.7, 0.05, 1.6), rel=0.02, abs=2e-3)
    assert fit.r2 > 0.999
    ipd = np.asarray(reduced.class_to_ipd(np.arange(12), 12))
    offsets = reduced.unit_positions(8)[None, :] - ipd[:, None]
    rates = reduced.gaussian(offsets, -150.0, 180.0, 0.5) + 0.1 * rng.normal(size=offsets.shape)
    tuning_fit = reduced.fit_hidden_tuning(rates)
    assert (tuning_fit.a, tuning_fit.b, tuning_fit.sigma) == pytest.approx(
        (-150.0, 180.0, 0.5), rel=0.01)
    scores = reduced.six_parameter_scores(ipd, fit, tuning_fit, 8, 12)
    assert scores.shape == (12, 12)


# ---------------------------------------------------------------------------------------------
# sensitivity and ensembles
# ---------------------------------------------------------------------------------------------


def test_output_hessian_equals_its_closed_form_and_automatic_differentiation(hand_built):
    """D is quadratic in Δ: H = 2/(T·B·C)·(ZᵀZ ⊗ I_C), Z the leaky-filtered hidden spikes
    (computed here with a NumPy loop); and equal to ``jax.hessian`` of D."""
    config, params, data, *_ = hand_built
    x = batch_inputs(data, jnp.arange(7), config.stimulus)
    result = sensitivity.output_sensitivity(params, x, config)
    s = np.asarray(forward(params, x, config).hidden_spikes, float)  # [T, B, H]
    a = float(decay(network_values(params, config).tau_output, config.stimulus.dt))
    z, state = np.zeros_like(s), np.zeros(s.shape[1:])
    for t in range(s.shape[0]):
        z[t] = state
        state = a * state + s[t]
    zz = np.einsum("tbh,tbk->hk", z, z)
    n_t, n_b, n_c = s.shape[0], s.shape[1], 12
    expected = 2.0 / (n_t * n_b * n_c) * np.kron(zz, np.eye(n_c))
    np.testing.assert_allclose(result.hessian, expected, rtol=1e-4, atol=1e-6)
    values = network_values(params, config)
    hidden = forward(params, x, config).hidden_spikes
    shape = values.w_out.shape
    automatic = jax.hessian(lambda flat: sensitivity.output_change(
        flat.reshape(shape), hidden, values.w_out, a))(jnp.zeros(shape[0] * shape[1]))
    np.testing.assert_allclose(result.hessian, automatic, rtol=1e-4, atol=1e-6)
    values = np.asarray(result.eigenvalues)
    assert np.all(np.diff(values) <= 1e-6)
    np.testing.assert_allclose(np.sort(values), np.sort(np.linalg.eigvalsh(expected)),
                               rtol=1e-3, atol=1e-6)


def test_matched_similarity_undoes_a_permutation():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(12, 5))
    assert ensemble.matched_similarity(a, a[:, [3, 0, 4, 1, 2]]) == pytest.approx(1.0)
    assert ensemble.matched_similarity(a[:, :1], -a[:, :1]) == pytest.approx(-1.0)
    matrix = ensemble.similarity_matrix(np.stack([a, a[:, ::-1]]), np.ones((2, 5), bool))
    np.testing.assert_allclose(matrix, np.ones((2, 2)))


# ---------------------------------------------------------------------------------------------
# `sslax analyse`
# ---------------------------------------------------------------------------------------------

FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY, "n_epochs": 2, "n_test": 48}.items()]


def test_analyse_a_run_and_a_sweep(tmp_path, capsys):
    pytest.importorskip("tensorly")
    from sslax.cli import main

    run = tmp_path / "run"
    assert main(["train", *FLAGS, "--tau-hidden", "3e-3", "--out", str(run),
                 "--no-figures"]) == 0
    assert main(["analyse", str(run)]) == 0
    report = json.loads((run / "analysis-test" / "analysis.json").read_text())
    assert report["samples"] == 48
    assert len(report["ablation"]["without_unit"]) == TINY["n_hidden"]
    for name in report["figures"]:
        assert (run / "analysis-test" / name).stat().st_size > 1000
    assert {"ablation.png", "weights.png", "tuning_hidden.png", "hessian.png",
            "rasters.png"} <= set(report["figures"])
    sweep = tmp_path / "sweep"
    assert main(["sweep", *FLAGS, "--tau-hidden", "3e-3", "6e-3", "--seeds", "2",
                 "--out", str(sweep)]) == 0
    assert main(["analyse", str(sweep), "--split", "train", "--no-tca"]) == 0
    report = json.loads((sweep / "analysis-train" / "analysis.json").read_text())
    (structure,) = report["structures"]
    assert len(structure["members"]) == 4
    assert structure["ensemble"]["members"] == 4
    assert "ensemble_accuracies.png" in " ".join(report["figures"])
    out = capsys.readouterr().out
    assert "analysis.json" in out
    # the same members spread over 3 CPU devices (4 members padded to 6) in a fresh process,
    # the report alone
    spread = sweep / "spread"
    done = subprocess.run([sys.executable, "-m", "sslax.cli", "analyse", str(sweep), "--split",
                           "train", "--no-tca", "--cpu-devices", "3", "--out", str(spread),
                           "--no-figures"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    again = json.loads((spread / "analysis.json").read_text())
    _assert_reports_equal(again["structures"], report["structures"])
    assert again["figures"] == [] and not list(spread.rglob("*.png"))


def _assert_reports_equal(got, expected, path=""):
    if isinstance(expected, dict):
        assert set(got) == set(expected), path
        for key in expected:
            _assert_reports_equal(got[key], expected[key], f"{path}/{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), path
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _assert_reports_equal(g, e, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-4, abs=1e-6), path
    else:
        assert got == expected, path


def test_analysed_sets_are_the_sets_training_used():
    """The test and training sets ``sslax analyse`` regenerates are, spike for spike, the
    ones the run was trained and tested on."""
    config = tiny_config(n_test=300)
    trained = datasets_from_seed(4, config)
    for split, expected in (("test", trained.test), ("train", trained.train)):
        got = report.analysis_data(config, 4, split)
        np.testing.assert_array_equal(got.spikes, expected.spikes)
        np.testing.assert_array_equal(got.ipd, expected.ipd)


def test_output_hessian_with_a_time_constant_per_class(hand_built):
    """Learned output time constants (one per class, spread out here): each class's block
    of the Hessian uses its own filter, as ``jax.hessian`` of D says."""
    config, params, data, w_in, w_out = hand_built
    learned = config.replace_fields(learn_tau="output")
    params = params_from_values({"w_in": jnp.asarray(w_in, jnp.float32),
                                 "w_out": jnp.asarray(w_out, jnp.float32),
                                 "tau_output": jnp.linspace(2e-3, 40e-3, 12)}, {}, learned)
    values = network_values(params, learned)
    assert np.ptp(np.asarray(values.tau_output)) > 0.03
    x = batch_inputs(data, jnp.arange(5), learned.stimulus)
    got = sensitivity.output_hessian(params, x, learned)
    hidden = forward(params, x, learned).hidden_spikes
    a = decay(values.tau_output, learned.stimulus.dt)
    shape = values.w_out.shape
    automatic = jax.hessian(lambda flat: sensitivity.output_change(
        flat.reshape(shape), hidden, values.w_out, a))(jnp.zeros(shape[0] * shape[1]))
    np.testing.assert_allclose(got, automatic, rtol=1e-4, atol=1e-7)


def test_structures_share_data_only_when_their_sets_are_the_same():
    """A sweep's structures reuse each other's analysed sets exactly when everything a set
    is drawn from agrees: the data seeds, the stimulus (swept leaves included) and the set
    sizes; a training-only field such as the rate penalty does not matter."""
    base = tiny_config()
    same = report._data_identity(base, [0, 1], "test")
    assert report._data_identity(base.replace_fields(rate_regulariser="band"), [0, 1],
                                 "test") == same
    stacked, _ = stack_members(base, [{"frequency": 40.0}, {"frequency": 60.0}], ["frequency"])
    restacked, _ = stack_members(base, [{"frequency": 40.0}, {"frequency": 60.0}],
                                 ["frequency"])
    assert report._data_identity(stacked, [0, 1], "test") == report._data_identity(
        restacked, [0, 1], "test")
    for other in (report._data_identity(base, [0, 2], "test"),
                  report._data_identity(base, [0, 1], "train"),
                  report._data_identity(base.replace_fields(n_test=17), [0, 1], "test"),
                  report._data_identity(base.replace_fields(frequency=40.0), [0, 1], "test"),
                  report._data_identity(stacked, [0, 1], "test")):
        assert other != same
