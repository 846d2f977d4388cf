"""The command line and run directories: train, save, load, evaluate, refuse bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY

from sslax import fit
from sslax.cli import main
from sslax.rundir import RunExistsError, load_run, save_run
from sslax.training import evaluate_run

FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY, "n_epochs": 2}.items()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny `sslax train` run (with figures) shared by the tests below."""
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *FLAGS, "--tau-hidden", "3e-3", "--seed", "2", "--data-seed", "7",
                 "--out", str(out)]) == 0
    return out


def test_train_writes_a_complete_run_directory(trained):
    names = {p.name for p in trained.iterdir()}
    assert names == {"config.json", "params_best.msgpack", "params_final.msgpack",
                     "metrics.json", "history.csv", "evaluation.npz", "figures"}
    assert {p.name for p in (trained / "figures").iterdir()} == {
        "loss_curves.png", "confusion_matrix.png", "ipd_histogram.png"}
    meta = json.loads((trained / "config.json").read_text())
    assert meta["seed"] == 2 and meta["data_seed"] == 7
    assert meta["config"]["network"]["tau_hidden"] == 3e-3
    assert meta["config"]["training"]["n_train"] == TINY["n_train"]
    history = (trained / "history.csv").read_text().strip().splitlines()
    assert history[0] == "epoch,train_loss,train_accuracy,valid_loss,valid_accuracy"
    assert len(history) == 1 + 2
    # no temporary directory is left beside the run
    assert [p.name for p in trained.parent.iterdir()] == ["run"]


def test_saved_run_loads_and_reevaluates_identically(trained, capsys):
    saved = load_run(trained)
    assert saved.seed == 2 and saved.data_seed == 7
    assert saved.config.network.tau_hidden == 3e-3
    # the same seeds and config retrain to exactly the saved parameters
    again = fit(saved.config, seed=2, data_seed=7)
    np.testing.assert_array_equal(np.asarray(again.result.best_params.trained["w_in"]),
                                  np.asarray(saved.best_params.trained["w_in"]))
    np.testing.assert_array_equal(np.asarray(again.result.params.trained["w_out"]),
                                  np.asarray(saved.final_params.trained["w_out"]))
    train_eval, test_eval = evaluate_run(saved.config, saved.best_params, saved.data_seed)
    assert float(test_eval.accuracy) == saved.metrics["test"]["accuracy"]
    assert float(train_eval.mae_a) == saved.metrics["train"]["mae_a_deg"]
    capsys.readouterr()
    assert main(["evaluate", str(trained)]) == 0
    assert "identical to the saved metrics" in capsys.readouterr().out


def test_existing_run_directory_is_never_overwritten(trained, capsys):
    before = (trained / "metrics.json").read_bytes()
    assert main(["train", *FLAGS, "--out", str(trained)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and str(trained) in err
    assert (trained / "metrics.json").read_bytes() == before


def test_bad_flag_value_names_field_and_value(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["train", *FLAGS, "--tau-hidden", "-0.004", "--out", str(out)]) == 2
    text = capsys.readouterr()
    assert text.err.splitlines() == ["sslax train: error: network.tau_hidden = -0.004 is not "
                                     "allowed: must be > 0.0 (seconds)"]
    assert not out.exists()


def test_bad_seed_and_preset_are_refused(tmp_path, capsys):
    assert main(["train", *FLAGS, "--seed", "-3", "--out", str(tmp_path / "a")]) == 2
    assert "seed = -3" in capsys.readouterr().err
    assert main(["train", "--preset", "nope", "--out", str(tmp_path / "b")]) == 2
    assert "'nope'" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_interrupted_save_leaves_nothing(tmp_path):
    from conftest import tiny_config

    run = fit(tiny_config(n_epochs=1))

    def failing_figures(run, folder):
        (folder / "half.png").write_bytes(b"...")
        raise KeyboardInterrupt

    target = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        save_run(run, target, figures=failing_figures)
    assert list(tmp_path.iterdir()) == []  # neither the run nor a partial directory
    save_run(run, target)
    with pytest.raises(RunExistsError):
        save_run(run, target)


def test_top_level_usage(capsys):
    assert main([]) == 2
    assert "sslax train" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "sslax sweep" in capsys.readouterr().out


def test_closed_output_pipe_ends_the_command_without_a_traceback():
    """`sslax train --help | head -1`: the reader leaves before the help is written."""
    proc = subprocess.Popen([sys.executable, "-m", "sslax.cli", "train", "--help"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the child has imported anything, let alone printed
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
