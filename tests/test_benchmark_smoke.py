"""Smoke tests of the benchmarks' check modes: sslax == the PyTorch reference on one batch, and
sslax == each installed peer library with the same equations."""

import hashlib
import importlib
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train.py"
PEERS = BENCH.with_name("bench_peers.py")
TINY_RUN = ("--n-train", "64", "--n-valid", "64", "--n-test", "64", "--batch-size", "32",
            "--fibres-per-ear", "8", "--duration", "0.02", "--n-hidden", "4")


@pytest.mark.torch
def test_bench_train_check_passes():
    pytest.importorskip("torch")
    proc = subprocess.run([sys.executable, str(BENCH), "--check"], capture_output=True,
                          text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert proc.stdout.strip().splitlines()[-1] == "PASS", output


def test_bench_peers_check_passes_for_what_is_installed():
    """Every installed peer (plain JAX always) computes sslax's spikes with its equations."""
    proc = subprocess.run([sys.executable, str(PEERS), "--check-only"], capture_output=True,
                          text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "| plain JAX | parity, sigmoid 5 | 0 of " in proc.stdout, output
    assert proc.stdout.strip().splitlines()[-1] == "PASS", output


def bench_module(name: str):
    sys.path.insert(0, str(BENCH.parent))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH.parent))


@pytest.fixture(scope="module")
def bench_data():
    return bench_module("bench_data")


def test_bench_data_16_bit_uniforms_trace_and_lie_on_their_grid(bench_data):
    """The 16-bit alternative bench_data times compiles, and gives four numbers per cipher
    call, each a multiple of 2⁻¹⁶ in [0, 1)."""
    u = np.asarray(jax.jit(lambda k: bench_data.uniforms_16_bit(k, (8, 5)))(jax.random.key(1)))
    assert u.shape == (8, 5) and u.dtype == np.float32
    assert (u >= 0).all() and (u < 1).all()
    np.testing.assert_array_equal(u * 2**16, np.round(u * 2**16))
    assert len(np.unique(u)) > 30  # not a constant or a repeated word


def test_bench_data_reference_draws_with_jax_random(bench_data):
    """The reference programs trace with ``jax.random.uniform`` in place of sslax's uniforms
    (every draw of a data set), and give the same spikes (``compiled_pair`` checks)."""
    from sslax import stimulus
    from sslax.config import StimulusConfig

    stim = StimulusConfig(fibres_per_ear=4, duration=0.02)
    with bench_data.jax_uniform():
        assert stimulus.uniform is not bench_data.uniform
    assert stimulus.uniform is bench_data.uniform
    ours, ref = bench_data.compiled_pair(
        lambda: lambda k: stimulus.make_dataset(k, 16, stim).spikes, jax.random.key(2))
    assert np.asarray(ours()).shape == (16, 20, 8)


def test_bench_compile_reads_the_compile_events_of_a_run(tmp_path):
    """bench_compile's child process runs ``sslax train`` and reports JAX's compile events
    (here of a tiny config, cache off) and the run's test metrics."""
    events, test = bench_module("bench_compile").run_train(
        tmp_path / "run", {"SSLAX_COMPILE_CACHE": "0"}, TINY_RUN)
    assert events["code"] == 0
    assert 0 < events["backend_compile_duration"] < events["wall"]
    assert events["jaxpr_trace_duration"] > 0 and events["jaxpr_to_mlir_module_duration"] > 0
    assert test.startswith("test ") and "%" in test


def test_bench_compile_programs_mode_times_the_four_programs():
    times = bench_module("bench_compile").compile_programs()
    assert list(times) == ["data draws", "initialisation", "one epoch", "final evaluation"]
    assert all(front > 0 and xla > 0 for front, xla in times.values())


def test_compare_results_hashes_the_bytes_of_every_leaf():
    """The hash is SHA-256 over the leaves' bytes in pytree order (keys as key data), so a
    one-bit change shows."""
    compare = bench_module("compare_results")
    values, key = np.arange(3, dtype=np.int32), jax.random.key(7)
    raw = values.tobytes() + np.asarray(jax.random.key_data(key)).tobytes()
    assert compare.digest({"a": values, "k": key}) == hashlib.sha256(raw).hexdigest()[:16]
    values[0] ^= 1
    assert compare.digest({"a": values, "k": key}) != hashlib.sha256(raw).hexdigest()[:16]


def test_compare_results_builds_every_variant():
    """Each variant's fields exist (a renamed field would otherwise drop it from the check)."""
    cases = bench_module("compare_results").configs()
    assert set(bench_module("compare_results").VARIANTS) <= set(cases)
    assert all(c.training.n_train == 256 for c in cases.values())


def test_profile_epoch_lists_the_kernels_of_an_epoch():
    """profile_epoch runs a tiny config's epochs under XLA's profile and names the kernels
    (the LIF loops among them) with their share of the epoch and their HLO."""
    fields = [f"--set={name}={value}" for name, value in (
        ("n_train", 64), ("n_valid", 64), ("n_test", 64), ("batch_size", 32),
        ("fibres_per_ear", 8), ("duration", 0.02), ("n_hidden", 4))]
    proc = subprocess.run([sys.executable, str(BENCH.with_name("profile_epoch.py")),
                           *fields, "--epochs", "1", "--top", "40"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line.split("|") for line in proc.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| kernel")]
    assert len(rows) >= 5, proc.stdout
    assert all(float(row[2]) >= 0 and float(row[3]) >= 1 for row in rows), proc.stdout
    assert any("while →" in row[4] for row in rows), proc.stdout


def test_bench_step_loads_another_checkouts_lif_loops():
    """``bench_step.py --other CHECKOUT`` times another checkout's fused LIF loops beside
    this one's: loaded from its file (here this checkout's own), they give the same numbers."""
    bench_step = bench_module("bench_step")
    this = sys.modules[bench_step.lif_parity_layer.__module__]
    other = bench_step.fused_lif_module(str(BENCH.parents[1]))
    assert other is not this and other.lif_parity_layer is not this.lif_parity_layer
    ours, theirs = (bench_step.lif_loops(m, label) for m, label in ((this, ""), (other, " (x)")))
    assert list(theirs) == [name + " (x)" for name in ours]
    for a, b in zip(ours.values(), theirs.values(), strict=True):
        np.testing.assert_array_equal(np.asarray(a()), np.asarray(b()))


def test_gpu_check_script_parses_and_names_files_that_exist():
    """benchmarks/gpu_check.sh runs only on a machine with a GPU; here: bash accepts it, and
    every test file, benchmark and script it runs is still where it says."""
    script = BENCH.with_name("gpu_check.sh")
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    root = BENCH.parents[1]
    named = re.findall(r"\b((?:tests|benchmarks|scripts)/\w+\.py)\b", script.read_text())
    assert len(named) >= 10, named
    missing = [path for path in named if not (root / path).is_file()]
    assert not missing, missing
