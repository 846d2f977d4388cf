"""Ensembles and sweeps: equality with single runs, one compile, sharding, multi-process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from sslax import Config, ConfigError, fit
from sslax.rundir import load_sweep, save_sweep
from sslax.sweep import Sweep, auto_chunk_size, compile_count, group_size, run_sweep

TINY = dict(n_epochs=2, n_train=48, n_valid=24, n_test=24, batch_size=8, patience=0,
            fibres_per_ear=8, n_hidden=5, duration=0.03, rate_max=400.0)


def tiny_config(**changes: object) -> Config:
    return Config().replace_fields(**{**TINY, **changes})


@pytest.fixture(scope="module")
def grid_result():
    """3 seeds × 2 τ × 2 learning rates = 12 members, in chunks of 8 (the last one padded)."""
    sweep = Sweep(tiny_config(), seeds=(0, 1, 5),
                  grid={"tau_hidden": (2e-3, 8e-3), "learning_rate": (0.02, 0.005)})
    return run_sweep(sweep, chunk_size=8)[0]


def test_members_equal_single_runs(grid_result):
    for where in ({"seed": 5, "tau_hidden": 8e-3, "learning_rate": 0.005},
                  {"seed": 0, "tau_hidden": 2e-3, "learning_rate": 0.02}):
        member = grid_result.member(grid_result.index(**where))
        assert member.seed == where["seed"]
        assert member.config.network.tau_hidden == pytest.approx(where["tau_hidden"])
        single = fit(member.config, seed=member.seed, data_seed=member.data_seed)
        np.testing.assert_allclose(member.result.best_params.trained["w_in"],
                                   single.result.best_params.trained["w_in"], atol=1e-5)
        np.testing.assert_allclose(member.result.history.train_loss,
                                   single.result.history.train_loss, rtol=1e-5)
        assert float(member.test_eval.accuracy) == pytest.approx(
            float(single.test_eval.accuracy), abs=1e-6)


def test_members_differ_by_seed_and_value(grid_result):
    w = np.asarray(grid_result.result.params.trained["w_in"])
    assert w.shape[0] == 12
    # different seeds start from different weights; different τ then train differently
    a = grid_result.index(seed=0, tau_hidden=2e-3, learning_rate=0.02)
    b = grid_result.index(seed=1, tau_hidden=2e-3, learning_rate=0.02)
    c = grid_result.index(seed=0, tau_hidden=8e-3, learning_rate=0.02)
    assert not np.allclose(w[a], w[b])
    assert not np.allclose(w[a], w[c])


def test_xarray_axes(grid_result):
    ds = grid_result.to_xarray()
    assert ds["test_accuracy"].dims == ("seed", "tau_hidden", "learning_rate")
    assert ds["history_train_loss"].dims == ("seed", "tau_hidden", "learning_rate", "epoch")
    assert list(ds["seed"].values) == [0, 1, 5]
    i = grid_result.index(seed=1, tau_hidden=8e-3, learning_rate=0.005)
    value = ds["test_accuracy"].sel(seed=1, tau_hidden=8e-3, learning_rate=0.005).item()
    assert value == pytest.approx(float(grid_result.result.test_eval.accuracy[i]))


def test_second_sweep_with_other_values_does_not_recompile(grid_result):
    assert grid_result.compile_s > 0  # the 2-D grid (two chunks) compiled once, here
    before = compile_count()
    sweep = Sweep(tiny_config(), seeds=(2, 3, 4),
                  grid={"tau_hidden": (3e-3, 4e-3), "learning_rate": (0.01, 0.03)})
    again = run_sweep(sweep, chunk_size=8)[0]
    assert compile_count() == before
    assert again.compile_s == 0.0
    assert not np.allclose(again.result.params.trained["w_in"],
                           grid_result.result.params.trained["w_in"])


def test_save_and_load_sweep(grid_result, tmp_path):
    path = save_sweep([grid_result], tmp_path / "sweep")
    spec, loaded = load_sweep(path)
    assert spec["grid"]["tau_hidden"] == [2e-3, 8e-3]
    ds = loaded[0].dataset
    np.testing.assert_allclose(ds["test_accuracy"].values,
                               grid_result.to_xarray()["test_accuracy"].values)
    np.testing.assert_array_equal(loaded[0].params["best_trained.w_in"],
                                  grid_result.result.best_params.trained["w_in"])
    rows = (path / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 12
    with pytest.raises(FileExistsError):
        save_sweep([grid_result], path)


def test_structural_field_is_an_outer_loop():
    sweep = Sweep(tiny_config(n_epochs=1), seeds=(0,), grid={"n_hidden": (3, 4),
                                                            "tau_hidden": (2e-3, 5e-3)})
    assert sweep.structural_fields == ("n_hidden",)
    assert sweep.numeric_fields == ("tau_hidden",)
    results = run_sweep(sweep)
    assert [r.structure for r in results] == [{"n_hidden": 3}, {"n_hidden": 4}]
    assert [np.asarray(r.result.params.trained["w_in"]).shape for r in results] == [(2, 16, 3),
                                                                          (2, 16, 4)]


@pytest.mark.parametrize("grid, match", [
    ({"tau_hiden": (1e-3,)}, "tau_hiden"),
    ({"tau_hidden": ()}, "tau_hidden"),
    ({"tau_hidden": (1e-3, 1e-3)}, "distinct"),
    ({"tau_hidden": (1e-3, -1e-3)}, "tau_hidden = -0.001"),
    ({"surrogate": ("sigmoid", "atan")}, "'atan'"),
])
def test_bad_sweeps_are_refused(grid, match):
    with pytest.raises(ConfigError, match=match):
        Sweep(tiny_config(), seeds=(0,), grid=grid)


def test_bad_seeds_are_refused():
    with pytest.raises(ConfigError, match="seed"):
        Sweep(tiny_config(), seeds=())
    with pytest.raises(ConfigError, match="distinct"):
        Sweep(tiny_config(), seeds=(1, 1))
    with pytest.raises(ConfigError, match="seed = -1"):
        Sweep(tiny_config(), seeds=(-1,))


def test_auto_chunk_size_respects_memory_and_devices():
    config = Config()
    assert auto_chunk_size(config, 80, 1, memory_bytes=10**12) == 80
    small = auto_chunk_size(config, 80, 1, memory_bytes=200 * 10**6)
    assert 1 <= small < 80
    assert auto_chunk_size(config, 80, 4, memory_bytes=10**12) % 4 == 0


def test_members_with_their_own_data_count_it_in_the_chunk_size():
    from sslax.sweep.runner import chunk_layout, dataset_bytes

    config = Config()  # 4 096 + 4 096 + 2 048 samples × 100 steps × 200 inputs, a byte each
    assert dataset_bytes(config) == 10240 * 100 * 200
    assert dataset_bytes(config.replace_fields(spike_storage="bits")) == 10240 * 100 * 200 // 8
    assert dataset_bytes(config.replace_fields(phase_offset="per_epoch")) == 6144 * 100 * 200
    # 16 GB: shared data fits 80 members in one chunk, 80 members with their own data do not
    memory = 16 * 10**9
    assert auto_chunk_size(config, 80, 2, memory_bytes=memory) == 80
    own = auto_chunk_size(config, 80, 2, memory_bytes=memory, own_data=True)
    assert own < 80 and own * 205 * 10**6 <= memory / 4 and own % 2 == 0
    # a swept stimulus field gives every member its own data
    sweep = Sweep(config, seeds=tuple(range(20)), grid={"phase_jitter": (0.0, 0.1, 0.2, 0.3)})
    size, n_chunks, group = chunk_layout(sweep, config, None, 2)
    assert size == auto_chunk_size(config, 80, 2, own_data=True) and group == 1



def test_stimulus_sweep_members_equal_single_runs():
    """A swept stimulus field changes each member's input (data generated inside the
    program, groups of one); members still equal single runs."""
    sweep = Sweep(tiny_config(n_epochs=1), seeds=(0, 2), grid={"rate_max": (300.0, 500.0)})
    result = run_sweep(sweep)[0]
    member = result.member(result.index(seed=2, rate_max=500.0))
    single = fit(member.config, seed=2, data_seed=member.data_seed)
    np.testing.assert_allclose(member.result.best_params.trained["w_in"],
                               single.result.best_params.trained["w_in"], atol=1e-5)
    other = result.member(result.index(seed=2, rate_max=300.0))
    assert not np.allclose(other.result.best_params.trained["w_in"],
                           member.result.best_params.trained["w_in"])


@pytest.mark.parametrize(("n_values", "chunk_size", "n_devices", "expected"), [
    (8, 80, 2, 8),   # the τ sweep: 10 seeds × 8 τ, one group per seed, 5 groups per device
    (8, 8, 2, 4),    # one seed, two devices: half the values on each
    (4, 8, 1, 4),
    (6, 8, 2, 2),    # a group must divide both the values and the members per device
    (5, 4, 1, 1),    # no common divisor: members run one by one, as a flat ensemble
    (1, 64, 2, 1),   # seeds only
])
def test_group_size_divides_values_and_members_per_device(n_values, chunk_size, n_devices,
                                                          expected):
    assert group_size(n_values, chunk_size, n_devices) == expected


def test_groups_of_a_seed_split_over_devices_equal_one_group():
    """One seed and four τ values: in groups of 2 (two per chunk) and in one group of 4."""
    sweep = Sweep(tiny_config(), seeds=(3,), grid={"tau_hidden": (2e-3, 4e-3, 6e-3, 8e-3)})
    halves = run_sweep(sweep, chunk_size=2)[0].result  # group_size(4, 2, 1) = 2
    whole = run_sweep(sweep, chunk_size=4)[0].result
    np.testing.assert_allclose(halves.best_params.trained["w_in"],
                               whole.best_params.trained["w_in"], atol=1e-5)
    np.testing.assert_allclose(halves.history.train_loss, whole.history.train_loss, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# several devices and several processes (subprocesses: device counts are fixed at start-up)
# ---------------------------------------------------------------------------------------------

SCRIPT = textwrap.dedent("""
    import sys, numpy as np, jax
    pid, n, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if n > 1:
        jax.distributed.initialize(coordinator_address="127.0.0.1:" + port,
                                   num_processes=n, process_id=pid)
    from sslax import Config
    from sslax.sweep import Sweep, run_sweep
    config = Config().replace_fields(**{tiny})
    sweep = Sweep(config, seeds=(0, 1), grid={{"tau_hidden": (2e-3, 6e-3)}})
    devices = jax.devices()
    sharded = run_sweep(sweep, chunk_size=len(devices))[0]
    if pid == 0:
        arrays = dict(w=sharded.result.best_params.trained["w_in"],
                      acc=sharded.result.test_eval.accuracy,
                      loss=sharded.result.history.train_loss, n_devices=len(devices))
        if n == 1 and len(devices) > 1:
            single = run_sweep(sweep, chunk_size=2, devices=devices[:1])[0]
            arrays.update(w_single=single.result.best_params.trained["w_in"],
                          acc_single=single.result.test_eval.accuracy,
                          loss_single=single.result.history.train_loss)
        np.savez(out, **arrays)
""").format(tiny=repr(TINY))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tmp_path: Path, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    script = tmp_path / "sweep_script.py"
    script.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(script), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _env(xla_flags: str = "") -> dict[str, str]:
    """This environment (with conftest's compile-time XLA flags) plus ``xla_flags``."""
    flags = " ".join(f for f in (os.environ.get("XLA_FLAGS", ""), xla_flags) if f)
    return {**os.environ, "XLA_FLAGS": flags}


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    """The same sweep on 4 forced CPU devices (sharded) and on 1 of them (unsharded)."""
    tmp_path = tmp_path_factory.mktemp("four_devices")
    out = tmp_path / "sharded.npz"
    proc = _run(tmp_path, ["0", "1", "0", str(out)],
                _env("--xla_force_host_platform_device_count=4"))
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, log
    return np.load(out)


def test_sharded_sweep_equals_unsharded(four_devices):
    r = four_devices
    assert int(r["n_devices"]) == 4
    np.testing.assert_allclose(r["w"], r["w_single"], atol=1e-5)
    np.testing.assert_allclose(r["loss"], r["loss_single"], rtol=1e-5)
    np.testing.assert_allclose(r["acc"], r["acc_single"], atol=1e-6)


def test_two_process_distributed_sweep_equals_one_process(tmp_path, four_devices):
    port = str(_free_port())
    two = tmp_path / "two.npz"
    procs = [_run(tmp_path, [str(i), "2", port, str(two)], _env()) for i in range(2)]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    b = np.load(two)
    assert int(b["n_devices"]) == 2  # one CPU device per process, collectives over loopback
    np.testing.assert_allclose(b["w"], four_devices["w_single"], atol=1e-5)
    np.testing.assert_allclose(b["loss"], four_devices["loss_single"], rtol=1e-5)
    np.testing.assert_allclose(b["acc"], four_devices["acc_single"], atol=1e-6)


def test_cpu_cores_become_devices_only_before_jax_starts():
    code = textwrap.dedent("""
        import os
        os.environ.pop("XLA_FLAGS", None)
        from sslax.sweep import use_cpu_cores_as_devices
        n = use_cpu_cores_as_devices(3)
        import jax
        count = jax.device_count()            # starts the backend
        late = use_cpu_cores_as_devices(2)    # too late now: no change
        print(n, count, late, jax.device_count())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert out.stdout.split() == ["3", "3", "0", "3"]
    with pytest.raises(ConfigError, match="cpu_devices = 0"):
        from sslax.sweep import use_cpu_cores_as_devices

        use_cpu_cores_as_devices(0)
