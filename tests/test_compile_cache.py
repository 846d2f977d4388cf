"""The persistent compilation cache of the command line: where it lives, that a second run
reuses it with identical results, that a damaged entry is recompiled, reported in one line
and replaced, and that it can be turned off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sslax import compile_cache

ARGS = ["train", "--fibres-per-ear", "8", "--n-hidden", "5", "--duration", "0.03",
        "--n-train", "64", "--batch-size", "16", "--n-valid", "32", "--n-test", "32",
        "--n-epochs", "2", "--patience", "0", "--no-figures"]


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLAX_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("SSLAX_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_dir() == tmp_path / "xdg" / "sslax" / "xla"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert compile_cache.cache_dir() == Path.home() / ".cache" / "sslax" / "xla"


@pytest.mark.parametrize(("value", "on"), [(None, True), ("1", True), ("0", False),
                                           ("off", False), ("False", False)])
def test_switch(monkeypatch, value, on):
    if value is None:
        monkeypatch.delenv("SSLAX_COMPILE_CACHE", raising=False)
    else:
        monkeypatch.setenv("SSLAX_COMPILE_CACHE", value)
    assert compile_cache.enabled_by_environment() is on


@pytest.fixture
def cache_folder(tmp_path):
    """JAX configured with a cache folder for one test (the previous one restored)."""
    import jax

    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    yield tmp_path
    jax.config.update("jax_compilation_cache_dir", before)


def test_forget_unreadable_removes_only_that_programs_entries(cache_folder):
    tmp_path = cache_folder
    names = ["jit_finish-aa-cache", "jit_finish-bb-cache", "jit_finish_more-cc-cache",
             "jit_train_epoch-dd-cache"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    message = ("Error reading persistent compilation cache entry for 'jit_finish': error: "
               "Error -5 while decompressing data")
    assert compile_cache.forget_unreadable(message) == "jit_finish"
    assert sorted(p.name for p in tmp_path.iterdir()) == names[2:]
    assert compile_cache.forget_unreadable("some other warning") is None


def test_enable_refuses_a_folder_it_cannot_create(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.warns(UserWarning, match="compilation cache off: cannot create"):
        assert compile_cache.enable(blocker / "cache") is None


def _train(out, cache, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    environment.update(SSLAX_CACHE_DIR=str(cache), **env)
    proc = subprocess.run([sys.executable, "-m", "sslax.cli", *ARGS, "--out", str(out)],
                          env=environment, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    metrics.pop("wall_time_s")
    return metrics, proc.stderr


def test_second_run_uses_the_cache_and_a_damaged_entry_is_replaced(tmp_path):
    cache = tmp_path / "cache"
    first, _ = _train(tmp_path / "a", cache)
    entries = {p.name: p.read_bytes() for p in cache.iterdir()}
    assert any(name.startswith("jit_train_epoch-") for name in entries)
    epoch_entry = next(cache.glob("jit_train_epoch-*"))
    epoch_entry.write_bytes(entries[epoch_entry.name][:40])  # a write cut short
    second, stderr = _train(tmp_path / "b", cache)
    assert second == first
    warnings = [line for line in stderr.splitlines() if "sslax: warning" in line]
    assert len(warnings) == 1 and "jit_train_epoch could not be read" in warnings[0]
    assert sorted(p.name for p in cache.iterdir()) == sorted(entries)  # written again
    third, stderr = _train(tmp_path / "c", cache)
    assert third == first and "warning" not in stderr


def test_cache_can_be_turned_off(tmp_path):
    _train(tmp_path / "a", tmp_path / "cache", SSLAX_COMPILE_CACHE="0")
    assert not (tmp_path / "cache").exists()
