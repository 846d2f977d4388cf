"""Smoke test of the benchmark: its --check mode (sslax == PyTorch reference on one batch)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train.py"


@pytest.mark.torch
def test_bench_train_check_passes():
    proc = subprocess.run([sys.executable, str(BENCH), "--check"], capture_output=True,
                          text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert proc.stdout.strip().splitlines()[-1] == "PASS", output
