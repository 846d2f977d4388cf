"""Shared fixtures and helpers for the sslax test suite.

Sizes are tiny (the whole suite runs on two shared CPU cores in well under two minutes) and
the batch and time axes always have different sizes, so a reduction over the wrong axis
fails a test instead of passing by accident.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

# Compile time dominates this suite (tiny arrays, many small programs). LLVM's -O0 cuts XLA's
# CPU compile time about threefold without changing IEEE semantics (no fast-math either
# way). It must be set before the first computation initialises the backend; an explicit
# setting in the environment wins.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()

# One persistent compilation cache per test session, shared by the xdist workers and every
# `sslax` subprocess (set here, in the controller, before the workers start).
if "SSLAX_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["SSLAX_CACHE_DIR"] = tempfile.mkdtemp(prefix="sslax-test-xla-")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from jaxtyping import install_import_hook  # noqa: E402

# Runtime shape checking: the jaxtyping annotations of the numerical modules are checked by
# beartype on every call while the tests run (config.py validates its own fields, with
# sslax's error messages). They must be imported here first.
NUMERICAL = ["sslax.stimulus", "sslax.surrogate", "sslax.neurons", "sslax.neurons.base",
             "sslax.neurons.lif", "sslax.neurons.integrator", "sslax.neurons._fused_lif",
             "sslax.neurons.adaptive", "sslax.constraints", "sslax.synapses",
             "sslax.regularisers", "sslax.network", "sslax.metrics"]
with install_import_hook(NUMERICAL, "beartype.beartype"):
    import sslax.metrics  # noqa: E402, F401  (imports the others)

from sslax.config import Config  # noqa: E402

# Tiny sizes shared by many tests. T = 25 steps and batch 4 on purpose (never equal).
TINY = dict(
    fibres_per_ear=8,
    duration=0.025,
    n_hidden=6,
    batch_size=4,
    n_train=32,
    n_valid=16,
    n_test=16,
    n_epochs=3,
    patience=0,
)


def tiny_config(**overrides: Any) -> Config:
    """A valid tiny :class:`Config` (T = 25, 16 inputs, 6 hidden, batch 4), with overrides."""
    return Config().replace_fields(**{**TINY, **overrides})


@pytest.fixture
def tiny() -> Any:
    """The :func:`tiny_config` factory."""
    return tiny_config


@pytest.fixture(autouse=True)
def _no_x64_leak() -> Iterator[None]:
    """Every test starts and ends in the default float32 mode (x64 is opt-in per test)."""
    assert not jax.config.jax_enable_x64, "float64 leaked in from an earlier test"
    yield
    assert not jax.config.jax_enable_x64, "float64 leaked out of this test"


@pytest.fixture
def x64() -> Iterator[None]:
    """Enable float64 for one test only; the previous setting is restored afterwards."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed NumPy generator per test (test data only, never library state)."""
    return np.random.default_rng(1234)


def sigmoid_surrogate_np(x: np.ndarray, beta: float) -> np.ndarray:
    """β·σ(βx)·(1 − σ(βx)) in NumPy (float64), written independently of sslax."""
    sig = 1.0 / (1.0 + np.exp(-beta * np.asarray(x, np.float64)))
    return beta * sig * (1.0 - sig)


def superspike_surrogate_np(x: np.ndarray, beta: float) -> np.ndarray:
    """1 / (1 + β|x|)² in NumPy (float64)."""
    return 1.0 / (1.0 + beta * np.abs(np.asarray(x, np.float64))) ** 2


@pytest.fixture
def sigmoid_np():
    return sigmoid_surrogate_np


@pytest.fixture
def superspike_np():
    return superspike_surrogate_np


class TraceCounter:
    """Wrap a function so that every (re)trace by ``jit`` increments ``count``."""

    def __init__(self, fun: Any) -> None:
        self.fun = fun
        self.count = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1  # Python side effect: runs only while JAX traces
        return self.fun(*args, **kwargs)


@pytest.fixture
def trace_counter():
    return TraceCounter
