"""Learned delays: the interpolated shift, the kernels and currents, the DCLS schedule and
rounding, the bounds, and DCLS networks trained as an ensemble."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sslax import Config, ConfigError, constraints, delays, fit, network
from sslax.sweep import Sweep, run_sweep


def _numpy_shift(x: np.ndarray, d: float) -> np.ndarray:
    """Linear interpolation between whole-step shifts of a 1-D train, zero before 0."""
    k, w = int(np.floor(d)), d - np.floor(d)
    out = np.zeros_like(x)
    for t in range(x.size):
        for lag, weight in ((k, 1 - w), (k + 1, w)):
            if 0 <= t - lag < x.size:
                out[t] += weight * x[t - lag]
    return out


def _numpy_current(x: np.ndarray, w: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """I_t[o] = Σ_i Σ_n w[i, o]·kernel[n, i, o]·x[t − n, b, i], by loops."""
    n_steps, n_batch, _ = x.shape
    out = np.zeros((n_steps, n_batch, w.shape[1]))
    for n in range(kernel.shape[0]):
        shifted = np.zeros_like(x)
        shifted[n:] = x[: n_steps - n]
        out += np.einsum("tbi,io->tbo", shifted, w * kernel[n])
    return out


def test_shift_is_exact_for_whole_delays_and_interpolates_between_them():
    rng = np.random.default_rng(0)
    x = (rng.random((20, 3, 4)) < 0.3).astype(np.float32)
    d = np.array([0.0, 3.0, 2.25, 7.6], np.float32)
    y = np.asarray(delays.shift(x, d))
    np.testing.assert_array_equal(y[:, :, 1], np.concatenate([np.zeros((3, 3)), x[:-3, :, 1]]))
    np.testing.assert_array_equal(y[:, :, 0], x[:, :, 0])
    for c in range(4):
        for b in range(3):
            np.testing.assert_allclose(y[:, b, c], _numpy_shift(x[:, b, c], float(d[c])),
                                       atol=1e-6)


def test_shift_gradient_matches_finite_differences_on_a_smooth_train(x64):
    t = np.arange(60, dtype=np.float64)
    x = jnp.asarray(np.stack([np.sin(0.2 * t), np.cos(0.13 * t)], axis=-1))  # [time, 2]
    target = jnp.asarray(np.sin(0.2 * (t - 4.0)) * 0.5)

    def loss(d):
        return jnp.sum((delays.shift(x, d)[:, 0] - target) ** 2 + delays.shift(x, d)[:, 1])

    d = jnp.asarray([3.3, 5.7], jnp.float64)
    grad = jax.grad(loss)(d)
    eps = 1e-6
    for c in range(2):
        step = jnp.zeros(2).at[c].set(eps)
        numeric = (loss(d + step) - loss(d - step)) / (2 * eps)
        assert float(grad[c]) == pytest.approx(float(numeric), rel=1e-6, abs=1e-9)


def test_kernels_sum_to_one_and_peak_at_the_delay():
    d = jnp.asarray([[0.0, 4.4], [9.0, 6.5]])
    for kernel in (delays.hat_kernel(d, 10), delays.gaussian_kernel(d, 1.5, 10),
                   delays.rounded_kernel(d, 10)):
        assert kernel.shape == (10, 2, 2)
        np.testing.assert_allclose(np.asarray(kernel).sum(axis=0), 1.0, atol=1e-6)
    np.testing.assert_array_equal(np.argmax(np.asarray(delays.rounded_kernel(d, 10)), axis=0),
                                  [[0, 4], [9, 6]])  # 6.5 rounds to even
    hat = np.asarray(delays.hat_kernel(d, 10))
    assert hat[4, 0, 1] == pytest.approx(0.6) and hat[5, 0, 1] == pytest.approx(0.4)
    narrow = delays.gaussian_kernel(jnp.asarray([3.0]), 0.05, 8)
    np.testing.assert_allclose(narrow, delays.rounded_kernel(jnp.asarray([3.0]), 8), atol=1e-6)


@pytest.mark.parametrize("method", sorted(delays.KERNEL_CURRENTS))
def test_kernel_current_equals_direct_convolution(method):
    rng = np.random.default_rng(1)
    x = (rng.random((25, 3, 6)) < 0.3).astype(np.float32)
    w = rng.normal(size=(6, 4)).astype(np.float32)
    d = rng.uniform(0, 7, size=(6, 4)).astype(np.float32)
    kernel = np.asarray(delays.gaussian_kernel(d, 1.2, 8))
    got = delays.kernel_current(x, w, kernel, method)
    np.testing.assert_allclose(got, _numpy_current(x, w, kernel), atol=2e-5)


def test_hat_kernel_current_is_the_per_synapse_shift():
    rng = np.random.default_rng(2)
    x = (rng.random((30, 2, 3)) < 0.4).astype(np.float32)
    w = rng.normal(size=(3, 2)).astype(np.float32)
    d = np.array([[1.25, 0.0], [4.5, 2.75], [6.0, 3.1]], np.float32)
    got = np.asarray(delays.kernel_current(x, w, delays.hat_kernel(d, 8), "conv"))
    for o in range(2):
        expected = sum(w[i, o] * np.stack([_numpy_shift(x[:, b, i], float(d[i, o]))
                                           for b in range(2)], axis=1) for i in range(3))
        np.testing.assert_allclose(got[:, :, o], expected, atol=1e-5)


def test_dcls_sigma_follows_the_original_schedule():
    # the original: σ = 15 at first, ×(0.23/15)^(1/37) after each of the first 37 of 150
    # epochs, and its kernel adds 0.27
    factor = (0.23 / 15) ** (1 / 37)
    for epoch in (0, 1, 20, 37, 60, 149):
        expected = 15 * factor ** min(epoch, 37) + 0.27
        got = delays.dcls_sigma(epoch, 150, 31, 0.5, 0.25)
        assert float(got) == pytest.approx(expected, rel=1e-5)


def test_delays_stay_in_their_bounds_and_the_map_inverts():
    bijector = constraints.interval(0.0, 30.0, unit_slope=True)
    raw = jnp.asarray([-1e4, -3.0, 0.0, 2.0, 1e4])
    values = np.asarray(bijector.forward(raw))
    assert np.all((values >= 0.0) & (values <= 30.0))
    assert values[2] == pytest.approx(15.0)
    slope = jax.grad(lambda r: bijector.forward(r))(0.0)
    assert float(slope) == pytest.approx(1.0)
    inside = jnp.asarray([0.5, 7.0, 29.5])
    np.testing.assert_allclose(bijector.forward(bijector.inverse(inside)), inside, rtol=1e-5)


def _dcls(**changes: object) -> Config:
    base = dict(n_epochs=2, n_train=48, n_valid=24, n_test=24, batch_size=8, patience=0,
                fibres_per_ear=8, n_hidden=5, duration=0.03, rate_max=400.0, delays="dcls",
                max_delay=0.006, phase_delays=False, learning_rate_delays=0.5)
    return Config().replace_fields(**{**base, **changes})


def test_evaluation_rounds_each_synaptic_delay_to_one_step():
    config = _dcls()
    params = network.init_params(jax.random.key(3), config)
    values = network.network_values(params, config)
    rng = np.random.default_rng(3)
    spikes = (rng.random((30, 2, 16)) < 0.3).astype(np.float32)
    w = np.asarray(values.w_in)
    rounded = np.round(np.asarray(values.delay_in)).astype(int)
    expected = np.zeros((30, 2, 5))
    for i in range(16):
        for h in range(5):
            lag = rounded[i, h]
            expected[lag:, :, h] += w[i, h] * spikes[: 30 - lag, :, i]
    got = network.SYNAPSES["instant"](jnp.asarray(spikes), values, params.fixed, config)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # while training the kernel is a Gaussian bump, so the current differs
    wide = network.with_delay_width(values, config, epoch=0)
    assert float(wide.delay_sigma) == pytest.approx(3 + 0.27)
    trained = network.SYNAPSES["instant"](jnp.asarray(spikes), wide, params.fixed, config)
    assert not np.allclose(trained, expected, atol=1e-3)


def test_delays_get_gradients_and_their_own_learning_rate():
    config = _dcls()
    run = fit(config, seed=0, data_seed=0)
    start = network.init_params(jax.random.split(jax.random.key(0), 4)[0], config)
    for name in ("delay_in", "delay_out", "w_in"):
        moved = np.abs(np.asarray(run.result.params.trained[name])
                       - np.asarray(start.trained[name])).max()
        assert moved > 0, name
    assert network.PARAMETER_GROUPS["delay_in"] == "delays"


def test_an_ensemble_of_delay_networks_equals_its_members_alone():
    sweep = Sweep(_dcls(), seeds=(0, 1), grid={"learning_rate_delays": (0.1, 1.0)})
    result = run_sweep(sweep, chunk_size=4)[0]
    for where in ({"seed": 1, "learning_rate_delays": 1.0},
                  {"seed": 0, "learning_rate_delays": 0.1}):
        member = result.member(result.index(**where))
        single = fit(member.config, seed=member.seed, data_seed=member.data_seed)
        for name in ("delay_in", "delay_out", "w_in"):  # equal up to float32 rounding of
            # the batched FFTs, grown over 12 Adam steps
            np.testing.assert_allclose(member.result.best_params.trained[name],
                                       single.result.best_params.trained[name], rtol=1e-4,
                                       atol=1e-5)
        assert float(member.test_eval.accuracy) == pytest.approx(
            float(single.test_eval.accuracy), abs=1e-6)


def test_fibre_delays_shift_the_inputs():
    config = _dcls(delays="fibre")
    params = network.init_params(jax.random.key(4), config)
    values = network.network_values(params, config)
    assert values.delay_in.shape == (16,)
    rng = np.random.default_rng(4)
    spikes = (rng.random((30, 2, 16)) < 0.3).astype(np.float32)
    got = network.SYNAPSES["instant"](jnp.asarray(spikes), values, params.fixed, config)
    shifted = np.stack([np.stack([_numpy_shift(spikes[:, b, i], float(values.delay_in[i]))
                                  for i in range(16)], axis=-1) for b in range(2)], axis=1)
    np.testing.assert_allclose(got, shifted @ np.asarray(values.w_in), atol=1e-5)


@pytest.mark.parametrize(("changes", "field"), [
    ({"max_delay": 0.0065}, "max_delay"),
    ({"max_delay": 0.05}, "max_delay"),
    ({"synapse": "filter_and_fire"}, "delays"),
    ({"delay_sigma_floor": 0.2}, "delay_sigma_floor"),
])
def test_bad_delay_settings_are_named(changes, field):
    with pytest.raises(ConfigError, match=field):
        _dcls(**changes)


# ---------------------------------------------------------------------------------------------
# the delays-only network
# ---------------------------------------------------------------------------------------------


def test_delays_only_scores_equal_a_numpy_loop():
    from sslax import delays_only

    rng = np.random.default_rng(5)
    n_classes, n_steps, tau, dt, fixed = 3, 12, 4e-3, 1e-3, 2.0
    spikes = (rng.random((n_steps, 2, 2 * n_classes)) < 0.4).astype(np.float32)
    d = np.array([0.5, 2.0, 3.75], np.float32)
    got = np.asarray(delays_only.scores(spikes, d, fixed, tau, dt))
    a = np.exp(-dt / tau)
    padded = np.concatenate([spikes, np.zeros((4, 2, 2 * n_classes), np.float32)])
    expected = np.zeros((2, n_classes))
    for b in range(2):
        for k in range(n_classes):
            left = _numpy_shift(padded[:, b, k], fixed)
            right = _numpy_shift(padded[:, b, n_classes + k], float(d[k]))
            u_l = u_r = 0.0
            for t in range(padded.shape[0]):
                expected[b, k] -= (u_l - u_r) ** 2
                u_l, u_r = a * u_l + left[t], a * u_r + right[t]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_ideal_delays_solve_the_delays_only_task_above_chance_and_equal_delays_do_not():
    from sslax import PRESETS, delays_only
    from sslax.metrics import evaluate
    from sslax.training import datasets_from_seed

    config = PRESETS["delays-only"].replace_fields(n_train=200, n_test=600)
    test = datasets_from_seed(0, config).test
    fixed = (config.delay_taps - 1) / 2
    ideal = delays_only.ideal_delays(36, 20.0, 1e-3, fixed)
    np.testing.assert_allclose(np.asarray(ideal)[[0, -1]], [fixed - 12.15, fixed + 12.15],
                               atol=0.01)
    params = network.params_from_values({"delay_out": ideal}, {}, config)
    assert float(evaluate(params, test, config, 200).accuracy) > 3 / 36
    same = network.params_from_values({"delay_out": jnp.full(36, fixed)}, {}, config)
    assert float(evaluate(same, test, config, 200).accuracy) < 2 / 36


def test_delays_only_network_trains_its_delays_only():
    from sslax import PRESETS

    config = PRESETS["delays-only"].replace_fields(n_epochs=1, n_train=400, n_test=200)
    assert network.trainable_names(config.network) == ("delay_out",)
    run = fit(config, seed=0, data_seed=0)
    start = network.init_params(jax.random.split(jax.random.key(0), 4)[0], config)
    assert np.abs(np.asarray(run.result.params.trained["delay_out"])
                  - np.asarray(start.trained["delay_out"])).max() > 0
    with pytest.raises(ConfigError, match="fibres_per_ear"):
        config.replace_fields(fibres_per_ear=10)


def test_delays_only_run_trains_and_evaluates_from_the_command_line(tmp_path, capsys):
    from sslax.cli import main

    out = tmp_path / "run"
    assert main(["train", "--preset", "delays-only", "--n-epochs", "1", "--n-train", "400",
                 "--n-test", "200", "--out", str(out)]) == 0
    assert main(["evaluate", str(out)]) == 0  # NaN hidden rates compare equal
    assert "identical to the saved metrics" in capsys.readouterr().out
    assert main(["analyse", str(out)]) == 2  # nothing to analyse: a one-line error
    assert "no hidden layer" in capsys.readouterr().err


def test_a_sweep_saved_before_a_config_field_existed_still_describes_its_sweep():
    import json

    from sslax import rundir

    sweep = Sweep(_dcls(), seeds=(0, 1), grid={"max_delay": (0.005, 0.006)})
    spec = json.loads(json.dumps(rundir.sweep_spec(sweep, {})))
    assert rundir.describes(spec, sweep)
    del spec["config"]["network"]["architecture"]  # as written before the field was added
    assert rundir.describes(spec, sweep)
    spec["config"]["network"]["n_hidden"] = 7  # a real difference still counts
    assert not rundir.describes(spec, sweep)
