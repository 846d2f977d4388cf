"""Runs a user can trust: short runs, unwritable outputs, damaged files, left-over temporary
files, per-unit τ, float64 readouts, sweep outputs, epoch numbering and units, and the rough
edges of the command line. Interrupting and resuming is in ``test_kill_resume.py``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY, tiny_config

from sslax import checkpoint, fit, rundir, training
from sslax.cli import main
from sslax.config import ConfigWarning
from sslax.fileio import FileFormatError, LeftoverWarning, OutputError, write_atomic
from sslax.network import Params, forward, init_params, output_membranes
from sslax.sweep import Sweep, run_sweep

FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY, "n_epochs": 2}.items()]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("reliability") / "run"
    assert main(["train", *FLAGS, "--seed", "1", "--out", str(out), "--no-figures"]) == 0
    return out


def damaged_copy(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    return copy


# ---------------------------------------------------------------------------------------------
# fewer epochs than the early-stopping patience
# ---------------------------------------------------------------------------------------------


def test_fewer_epochs_than_patience_trains():
    """Early stopping needs `patience` epochs before it can fire; a shorter run just runs."""
    config = tiny_config(n_epochs=2, patience=5)
    run = fit(config)
    assert int(run.result.n_epochs_run) == 2
    assert np.all(np.isfinite(np.asarray(run.result.history.valid_loss)))
    (result,) = run_sweep(Sweep(config, seeds=(0, 1), grid={"tau_hidden": (2e-3, 4e-3)}))
    assert np.all(np.asarray(result.result.n_epochs_run) == 2)


# ---------------------------------------------------------------------------------------------
# outputs that cannot be written are refused before anything is compiled
# ---------------------------------------------------------------------------------------------


def _never_train(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started although the output cannot be written")

    monkeypatch.setattr(training.Trainer, "__init__", refuse)
    import sslax.sweep.runner

    monkeypatch.setattr(sslax.sweep.runner, "run_sweep", refuse)


def test_output_under_a_file_is_refused_before_compiling(tmp_path, capsys, monkeypatch):
    _never_train(monkeypatch)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for command in (["train", *FLAGS], ["sweep", *FLAGS, "--seeds", "1"]):
        assert main([*command, "--out", str(blocker / "run")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(blocker) in err, err
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_output_in_a_read_only_folder_is_refused(tmp_path, capsys, monkeypatch):
    _never_train(monkeypatch)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["train", *FLAGS, "--out", str(locked / "run")]) == 2
        assert "permission denied" in capsys.readouterr().err.lower()
    finally:
        locked.chmod(0o700)


def test_output_on_a_read_only_file_system_is_refused(capsys, monkeypatch):
    _never_train(monkeypatch)
    read_only = "/proc/sslax-test-run"  # procfs refuses new directories even for root
    assert main(["train", *FLAGS, "--out", read_only]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and read_only in err


def test_full_disk_is_refused_before_compiling(tmp_path, capsys, monkeypatch):
    _never_train(monkeypatch)
    monkeypatch.setattr(rundir, "RUN_DIR_BYTES", 10**18)
    assert main(["train", *FLAGS, "--out", str(tmp_path / "run")]) == 2
    assert "not enough free space" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "state"
    write_atomic(target, b"old")

    def no_space(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError, match="no space left on device"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state"]  # no temporary file left


# ---------------------------------------------------------------------------------------------
# damaged or foreign files: one line naming the file
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage, expected", [
    (lambda d: (d / "params_best.msgpack").write_bytes(
        (d / "params_best.msgpack").read_bytes()[:50]), "params_best.msgpack"),
    (lambda d: (d / "params_final.msgpack").write_bytes(os.urandom(300)),
     "params_final.msgpack"),
    (lambda d: (d / "config.json").write_text((d / "config.json").read_text()[:120]),
     "config.json"),
    (lambda d: (d / "metrics.json").write_text("{"), "metrics.json"),
    (lambda d: (d / "config.json").write_text('{"config": {"network": {"n_hidden": "x"}}, '
                                              '"seed": 0, "data_seed": 0}'), "n_hidden"),
    (lambda d: (d / "config.json").write_text('[1, 2]'), "config.json"),
    (lambda d: (d / "config.json").write_text(
        (d / "config.json").read_text().replace('"seed": 1', '"seed": -1')), "seed = -1"),
], ids=["truncated params", "random params", "truncated config", "broken metrics",
        "wrong field type", "not a mapping", "bad seed"])
def test_damaged_run_files_give_one_line(run_dir, tmp_path, capsys, damage, expected):
    copy = damaged_copy(run_dir, tmp_path)
    damage(copy)
    with pytest.raises((FileFormatError, rundir.IncompleteRunError)):
        rundir.load_run(copy)
    capsys.readouterr()
    assert main(["evaluate", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert expected in err and "Traceback" not in err


def test_params_of_another_config_are_refused(run_dir, tmp_path):
    copy = damaged_copy(run_dir, tmp_path)
    meta = json.loads((copy / "config.json").read_text())
    meta["config"]["network"]["n_hidden"] = 7
    (copy / "config.json").write_text(json.dumps(meta))
    with pytest.raises(FileFormatError, match=r"w_in has shape \(16, 6\), expected \(16, 7\)"):
        rundir.load_run(copy)


def test_missing_config_fields_are_named_in_a_warning(run_dir, tmp_path):
    copy = damaged_copy(run_dir, tmp_path)
    meta = json.loads((copy / "config.json").read_text())
    del meta["config"]["network"]["dale"], meta["config"]["training"]["learning_rate"]
    (copy / "config.json").write_text(json.dumps(meta))
    with pytest.warns(ConfigWarning, match=r"network\.dale, training\.learning_rate"):
        saved = rundir.load_run(copy)
    assert saved.config.network.dale == "none"


def test_params_of_older_versions_load(run_dir, tmp_path):
    """Parameter files that held the weights alone (no trained/fixed parts) still load."""
    from flax import serialization

    copy = damaged_copy(run_dir, tmp_path)
    saved = rundir.load_run(copy)
    old = serialization.msgpack_serialize(
        {k: np.asarray(v) for k, v in saved.best_params.trained.items()})
    (copy / "params_best.msgpack").write_bytes(old)
    again = rundir.load_run(copy)
    np.testing.assert_array_equal(again.best_params.trained["w_in"],
                                  saved.best_params.trained["w_in"])


@pytest.mark.parametrize("mangle, match", [
    (lambda b: b[: len(b) // 2], "damaged"),
    (lambda b: b"garbage" + b, "not an sslax checkpoint"),
    (lambda b: b[:30], "header"),
    (lambda b: b[:-3] + b"xyz", "checksum"),
])
def test_damaged_checkpoints_are_refused(tmp_path, mangle, match):
    tree = {"a": np.arange(5.0), "b": (np.ones((2, 3), np.int32),)}
    path = tmp_path / "state"
    checkpoint.save(path, tree, {"epoch": 3})
    restored, meta = checkpoint.load(path, tree)
    assert meta == {"epoch": 3}
    np.testing.assert_array_equal(restored["b"][0], tree["b"][0])
    with pytest.raises(FileFormatError, match="does not belong"):
        checkpoint.load(path, {"a": np.arange(4.0), "b": (np.ones((2, 3), np.int32),)})
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(FileFormatError, match=match):
        checkpoint.load(path, tree)


def test_unfinished_run_says_how_to_resume(run_dir, tmp_path, capsys):
    copy = damaged_copy(run_dir, tmp_path)
    (copy / "metrics.json").unlink()
    capsys.readouterr()
    assert main(["evaluate", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "unfinished run" in err and f"sslax train --resume {copy}" in err
    assert main(["train", "--resume", str(run_dir)]) == 2
    assert "complete run" in capsys.readouterr().err
    assert main(["train", "--resume", str(copy), "--tau-hidden", "1e-3"]) == 2
    assert "--tau-hidden" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# temporary files of a killed writer are removed (a live writer's are kept)
# ---------------------------------------------------------------------------------------------


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporaries_of_killed_writers_are_cleaned(run_dir, tmp_path, capsys):
    dead = _dead_pid()
    stale_dir = tmp_path / f".run2.partial-{dead}-abc"
    stale_dir.mkdir()
    (stale_dir / "half.png").write_bytes(b"..")
    live = tmp_path / f".other.partial-{os.getpid()}-xyz"
    live.mkdir()
    run = fit(tiny_config(n_epochs=1))
    with pytest.warns(LeftoverWarning, match="removed 1 unfinished"):
        rundir.warn_removed(rundir.remove_stale_temporaries(tmp_path))
    rundir.save_run(run, tmp_path / "run2")
    assert not stale_dir.exists() and live.exists()

    copy = damaged_copy(run_dir, tmp_path)
    (copy / "metrics.json").unlink()
    (copy / f".checkpoint.state.tmp-{dead}-q1").write_bytes(b"partial")
    capsys.readouterr()
    assert main(["train", "--resume", str(copy), "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "removed 1 unfinished temporary file" in err
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in run_dir.iterdir())


# ---------------------------------------------------------------------------------------------
# per-unit τ and float64
# ---------------------------------------------------------------------------------------------


def test_per_unit_tau_with_default_output_tau_trains():
    taus = np.linspace(2e-3, 8e-3, TINY["n_hidden"])
    config = tiny_config(tau_hidden=taus, n_epochs=1)
    assert config.network.tau_out == pytest.approx(taus.mean())
    run = fit(config)
    assert np.isfinite(float(run.test_eval.loss))


def test_float64_closed_form_readout_equals_the_scan(x64, tiny):
    """A Python-float τ must not pull the readout down to float32 in a float64 network."""
    config = tiny(tau_hidden=3e-3)
    params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64),
                          init_params(jax.random.key(0), config))
    params = params.replace(trained={**params.trained, "w_in": params.trained["w_in"] * 5})
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (25, 4, 16)).astype(jnp.float64)
    out = forward(params, x, config)
    assert out.scores.dtype == jnp.float64
    scan_mean = output_membranes(params, x, config.replace_fields(readout="max")).mean(axis=0)
    assert float(jnp.abs(out.hidden_spikes).sum()) > 0
    np.testing.assert_allclose(np.asarray(out.scores), np.asarray(scan_mean), rtol=0,
                               atol=1e-12)


# ---------------------------------------------------------------------------------------------
# sweeps: structural-only grids, evaluating a sweep directory, units, swept values
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_sweep(tmp_path_factory):
    """`sslax sweep` over a structural and a numeric field: 2 sizes × 2 seeds × 2 τ."""
    out = tmp_path_factory.mktemp("sweeps") / "sweep"
    assert main(["sweep", *FLAGS, "--seeds", "2", "--n-hidden", "3", "4", "--tau-hidden",
                 "2e-3", "5e-3", "--out", str(out), "--cpu-devices", "1"]) == 0
    return out


def test_sweep_directory_is_complete_with_figures_for_every_swept_field(cli_sweep):
    figures = sorted(p.name for p in (cli_sweep / "figures").iterdir())
    for field in ("n_hidden", "tau_hidden"):  # structural fields get figures too
        assert f"accuracy_vs_{field}.png" in figures
    assert len(figures) == 8
    spec = json.loads((cli_sweep / "sweep.json").read_text())
    assert spec["seeds"] == [0, 1] and spec["complete"]
    assert spec["grid"] == {"n_hidden": [3, 4], "tau_hidden": [2e-3, 5e-3]}
    assert spec["config"]["network"]["tau_hidden"] == {"swept": [2e-3, 5e-3]}
    assert not (cli_sweep / rundir.PROGRESS_DIR).exists()


def test_evaluate_accepts_a_sweep_directory(cli_sweep, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(cli_sweep)]) == 0
    assert "every network identical to the saved metrics" in capsys.readouterr().out


def test_sweep_files_use_units_and_count_epochs_from_one(cli_sweep):
    rows = (cli_sweep / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert "tau_hidden_ms" in header and "tau_hidden" not in header
    assert len(rows) == 1 + 8
    column = header.index("tau_hidden_ms")
    assert {float(row.split(",")[column]) for row in rows[1:]} == {2.0, 5.0}
    history = (cli_sweep / "history.csv").read_text().splitlines()
    epochs = {int(float(row.split(",")[history[0].split(",").index("epoch")]))
              for row in history[1:]}
    assert epochs == {1, 2}
    _, loaded = rundir.load_sweep(cli_sweep)
    assert list(loaded[0].dataset["epoch"].values) == [1, 2]
    assert loaded[0].dataset["tau_hidden"].attrs["units"] == "s"


def test_bad_sweep_value_is_refused_before_anything_is_written(tmp_path, capsys):
    assert main(["sweep", *FLAGS, "--tau-hidden", "1e-3", "-2e-3", "--out",
                 str(tmp_path / "bad")]) == 2
    assert "tau_hidden = -0.002" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_run_files_count_epochs_from_one(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = (run_dir / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2"]
    assert 1 <= metrics["best_epoch"] <= 2 and metrics["diverged_epoch"] is None


# ---------------------------------------------------------------------------------------------
# a loss that becomes non-finite
# ---------------------------------------------------------------------------------------------


def test_non_finite_loss_stops_and_keeps_the_last_finite_parameters():
    config = tiny_config(n_epochs=3, learning_rate=1e38)
    run = fit(config)
    assert int(run.result.diverged_epoch) == 1
    assert int(run.result.n_epochs_run) == 1
    initial = init_params(jax.random.split(jax.random.key(0), 4)[0], config)
    np.testing.assert_array_equal(np.asarray(run.result.params.trained["w_in"]),
                                  np.asarray(initial.trained["w_in"]))
    assert np.isfinite(float(run.test_eval.loss))


def test_non_finite_members_of_a_sweep_are_flagged_and_the_others_unaffected():
    config = tiny_config(n_epochs=2)
    (result,) = run_sweep(Sweep(config, seeds=(0, 1),
                                grid={"learning_rate": (0.02, 1e38)}))
    ds = result.to_xarray()
    np.testing.assert_array_equal(ds["diverged_epoch"].sel(learning_rate=1e38).values, [1, 1])
    np.testing.assert_array_equal(ds["diverged_epoch"].sel(learning_rate=0.02).values, [0, 0])
    member = result.member(result.index(seed=1, learning_rate=0.02))
    single = fit(member.config, seed=1)
    np.testing.assert_allclose(member.result.best_params.trained["w_in"],
                               single.result.best_params.trained["w_in"], atol=1e-6)


# ---------------------------------------------------------------------------------------------
# the command line's rough edges
# ---------------------------------------------------------------------------------------------


def test_several_values_for_train_point_to_sweep(capsys):
    assert main(["train", "--tau-hidden", "2e-3", "5e-3"]) == 2
    err = capsys.readouterr().err
    assert "sslax sweep --tau-hidden 2e-3 5e-3" in err and len(err.strip().splitlines()) == 1


def test_unknown_command_is_named(capsys):
    assert main(["trian"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'trian'" in err and "sslax train" in err


def test_train_help_lists_presets_without_markup(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for name in ("quickstart", "starting-notebook", "dales-law", "250hz"):
        assert name in text
    for markup in ("``", ":mod:", ":func:", ":class:"):
        assert markup not in text


def test_params_pytree_round_trips_through_a_checkpoint(tmp_path):
    config = tiny_config(dale="softplus", learn_tau="hidden")
    params = init_params(jax.random.key(3), config)
    checkpoint.save(tmp_path / "p", params)
    back, _ = checkpoint.load(tmp_path / "p", params)
    assert isinstance(back, Params)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))
