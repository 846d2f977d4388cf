"""Interrupt `sslax train` and `sslax sweep` with SIGINT and SIGKILL at random moments, resume
them until they finish, and compare with runs that were never interrupted: parameters byte
for byte, metrics value for value.

The suite tries one kill point for ``sslax train`` with each signal and one for ``sslax
sweep`` with SIGKILL; ``pytest -m slow`` runs twelve per command and signal. Every subprocess
shares one persistent compilation cache, so that only the first run of each program pays for
compiling. Each test prints where its kills landed (``pytest -s`` shows it).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sslax import checkpoint

KILL_POINTS = 1  # per command and signal in the default suite
SLOW_KILL_POINTS = 12

TRAIN_ARGS = ["--fibres-per-ear", "20", "--n-hidden", "8", "--duration", "0.05",
              "--n-train", "256", "--batch-size", "32", "--n-valid", "64", "--n-test", "64",
              "--n-epochs", "8", "--patience", "3", "--checkpoint-every", "1", "--no-figures"]
SWEEP_ARGS = ["--fibres-per-ear", "20", "--n-hidden", "6", "--duration", "0.05",
              "--n-train", "128", "--batch-size", "32", "--n-valid", "32", "--n-test", "32",
              "--n-epochs", "4", "--patience", "0", "--seeds", "2", "--tau-hidden", "2e-3",
              "5e-3", "--chunk-size", "2", "--cpu-devices", "1", "--checkpoint-every", "1",
              "--no-figures"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp("jax-cache")
    return {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(cache),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def sslax(args, env, **kwargs):
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.Popen([sys.executable, "-m", "sslax.cli", *args], env=env, text=True,
                            **streams)


def finish(command, out, env, log):
    """Resume ``out`` until it is complete (starting it if the kill came before it existed)."""
    for _ in range(5):
        marker = out / ("metrics.json" if command == "train" else "sweep.json")
        if marker.is_file() and (command == "train" or json.loads(marker.read_text())
                                 .get("complete")):
            return
        args = [command, "--resume", str(out)] if out.exists() else None
        if args is None:
            args = [command, *(TRAIN_ARGS if command == "train" else SWEEP_ARGS), "--out",
                    str(out)]
        proc = sslax(args, env)
        stdout, stderr = proc.communicate(timeout=300)
        log.append(f"resume rc={proc.returncode}")
        assert proc.returncode == 0, stderr
    raise AssertionError(f"{out} did not complete")


def run_results(command, out):
    """What must equal between an interrupted and an uninterrupted run."""
    if command == "train":
        metrics = json.loads((out / "metrics.json").read_text())
        metrics.pop("wall_time_s")
        return {"params_best": (out / "params_best.msgpack").read_bytes(),
                "params_final": (out / "params_final.msgpack").read_bytes(),
                "history": (out / "history.csv").read_text(), "metrics": metrics}
    with np.load(out / "params-all.npz") as npz:
        params = {k: npz[k].tobytes() for k in npz.files}
    return {"params": params, "metrics": (out / "metrics.csv").read_text(),
            "history": (out / "history.csv").read_text()}


def run_reference(command, out, env):
    """An uninterrupted run; returns its results and its wall time. A train run records the
    epochs of the checkpoints it writes (every third epoch, and the last)."""
    args = TRAIN_ARGS if command == "train" else SWEEP_ARGS
    if command == "train":
        args = [*args, "--checkpoint-every", "3", "--checkpoint-minutes", "0"]
    start = time.perf_counter()
    seen = set()
    with open(out.parent / f"{out.name}.log", "w") as log:
        proc = sslax([command, *args, "--out", str(out)], env, stdout=subprocess.DEVNULL,
                     stderr=log)
        while proc.poll() is None:
            try:
                seen.add(checkpoint.read_meta(out / "checkpoint.state")["epoch"])
            except Exception:  # not written yet, or removed at the end
                pass
            time.sleep(0.01)
    assert proc.returncode == 0, (out.parent / f"{out.name}.log").read_text()
    return run_results(command, out), time.perf_counter() - start, seen


@pytest.fixture(scope="module")
def references(tmp_path_factory, env):
    folder = tmp_path_factory.mktemp("references")
    return {command: run_reference(command, folder / command, env)
            for command in ("train", "sweep")}


def test_checkpoints_follow_their_schedule(references):
    _, _, seen = references["train"]
    assert seen and seen <= {3, 6, 8}, seen  # every third epoch, and the last


def kill_and_resume(command, signum, n_points, tmp_path, env, reference):
    """Kill a run ``n_points`` times at random moments, resume each to the end and compare
    it with the uninterrupted ``reference``."""
    args = TRAIN_ARGS if command == "train" else SWEEP_ARGS
    expected, duration, _ = reference
    rng = random.Random(f"{command}-{signum}-{n_points}")
    landed = []
    for point in range(n_points):
        out = tmp_path / f"killed-{point}"
        delay = rng.uniform(0.1, 1.1) * duration
        proc = sslax([command, *args, "--out", str(out)], env)
        time.sleep(delay)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=300)
        log = [f"{delay:.2f} s of {duration:.2f} s: rc={proc.returncode}"]
        # 130: stopped cleanly; 0: the run had finished; −2: Python was still importing,
        # before sslax handles signals (an interrupt then is like a kill)
        if signum == signal.SIGINT and proc.returncode not in (0, 130, -signal.SIGINT):
            raise AssertionError(f"SIGINT gave exit status {proc.returncode}: {stderr}")
        if proc.returncode == 130:
            lines = [line for line in stderr.splitlines() if line.startswith("sslax")]
            assert lines and "--resume" in lines[-1], stderr
            assert "Traceback" not in stderr, stderr
        finish(command, out, env, log)
        got = run_results(command, out)
        assert got == expected, f"kill point {point} ({log}) changed the results"
        landed.append("; ".join(log))
    print(f"{command}, {signal.Signals(signum).name}: {len(landed)} kill points:\n  "
          + "\n  ".join(landed))


@pytest.mark.parametrize("command, signum", [("train", signal.SIGINT),
                                             ("train", signal.SIGKILL),
                                             ("sweep", signal.SIGKILL)],
                         ids=["train-SIGINT", "train-SIGKILL", "sweep-SIGKILL"])
def test_interrupted_runs_resume_to_identical_results(command, signum, tmp_path, env,
                                                      references):
    kill_and_resume(command, signum, KILL_POINTS, tmp_path, env, references[command])


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "sweep"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_many_kill_points(command, signum, tmp_path, env, references):
    kill_and_resume(command, signum, SLOW_KILL_POINTS, tmp_path, env, references[command])


def test_second_ctrl_c_stops_at_once_and_keeps_the_checkpoint(tmp_path, env):
    out = tmp_path / "run"
    args = [*TRAIN_ARGS, "--n-epochs", "60", "--patience", "0", "--out", str(out)]
    proc = sslax(["train", *args], env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.state").is_file():  # training has started
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "--resume" in stderr.strip().splitlines()[-1]
    assert checkpoint.read_meta(out / "checkpoint.state")["epoch"] >= 1
    assert not (out / "metrics.json").exists()
