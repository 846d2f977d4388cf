"""Every reproduction script runs end to end at tiny sizes (``--smoke``): the plumbing from
a config to a printed table and a results folder. One runs in the default suite; the others,
a minute each, with ``pytest -m slow``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def run_script(name: str, out: Path, *extra: str) -> str:
    proc = subprocess.run([sys.executable, str(SCRIPTS / name), "--smoke", *extra],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(SCRIPTS)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_tau_sweep_script(tmp_path):
    out = run_script("tau_sweep.py", tmp_path / "tau", "--seeds", "2", "--out",
                     str(tmp_path / "tau"))
    assert "| 20 |" in out and "published" in out
    assert (tmp_path / "tau" / "figures" / "accuracy_vs_tau_hidden.png").is_file()


@pytest.mark.slow
def test_learning_check_script(tmp_path):
    out = run_script("learning_check.py", tmp_path, "--seeds", "2", "--json",
                     str(tmp_path / "r.json"))
    assert "84.7 ± 1.1" in out and set(json.loads((tmp_path / "r.json").read_text())) == {
        "2", "20"}


@pytest.mark.slow
@pytest.mark.parametrize("script", ["dale_law.py", "time_constants.py", "tone_250hz.py"])
def test_experiment_scripts(script, tmp_path):
    out = run_script(script, tmp_path, "--seeds", "2", "--out", str(tmp_path / "out"))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["seeds"] == 2 and "saved to" in out


def test_noise_dropout_script(tmp_path):
    out = run_script("noise_dropout.py", tmp_path, "--seeds", "2", "--out",
                     str(tmp_path / "out"))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["test"]) == {"dropout 0", "dropout 0.5", "dropout 0.9"}
    assert (tmp_path / "out" / "figures" / "test_accuracy_grid.png").is_file()
    assert "dropout \\ sigma" in out


@pytest.mark.slow
@pytest.mark.parametrize("script", ["minimal_model.py", "readouts.py",
                                    "adaptive_threshold.py", "phase_augmentation.py",
                                    "filter_and_fire.py"])
def test_variant_scripts(script, tmp_path):
    out = run_script(script, tmp_path, "--seeds", "2", "--out", str(tmp_path / "out"))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["seeds"] == 2 and "saved to" in out
    assert list((tmp_path / "out" / "figures").glob("*.png"))


@pytest.mark.slow
def test_analysis_scripts(tmp_path):
    out = run_script("analysis_workshop.py", tmp_path, "--seeds", "2", "--out",
                     str(tmp_path / "workshop"))
    assert "one spiking unit removed" in out and "published" in out
    assert (tmp_path / "workshop" / "figures" / "network_size.png").is_file()
    out = run_script("analysis_minimal_model.py", tmp_path, "--seeds", "2", "--out",
                     str(tmp_path / "minimal"))
    assert "six-parameter model" in out
    assert (tmp_path / "minimal" / "analysis" / "analysis.json").is_file()


@pytest.mark.slow
def test_dcls_delays_script(tmp_path):
    out = run_script("dcls_delays.py", tmp_path, "--seeds", "2", "--out", str(tmp_path / "d"))
    assert "| 5 |" in out and "published" in out
    figures = tmp_path / "d" / "figures"
    assert (figures / "receptive_fields_5ms.png").is_file()
    assert (figures / "dcls_test_accuracy.png").is_file()


@pytest.mark.slow
def test_delays_only_script(tmp_path):
    out = run_script("delays_only.py", tmp_path, "--seeds", "2", "--out", str(tmp_path / "d"))
    assert "ideal delays" in out and "published" in out
    assert (tmp_path / "d" / "figures" / "delay_vs_ipd.png").is_file()
