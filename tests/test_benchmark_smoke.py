"""Smoke tests of the benchmarks' check modes: sslax == the PyTorch reference on one batch, and
sslax == each installed peer library with the same equations."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train.py"
PEERS = BENCH.with_name("bench_peers.py")


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
