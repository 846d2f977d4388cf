"""Interleaved timing of compiled training epochs, shared by the per-variant benchmarks."""

from __future__ import annotations

import time
from typing import Any

import jax

from sslax.training import train_epoch

#: One compiled epoch program for every config (configs are arguments, so each structure
#: compiles once and numeric values never recompile).
EPOCH = jax.jit(train_epoch)


def warm_case(config: Any, data: Any, state: Any) -> tuple[Any, Any, Any]:
    """Compile and run one (untimed) epoch of ``config``; the case to time."""
    return config, data, jax.block_until_ready(EPOCH(state, data, config))


def interleaved_epoch_times(cases: dict[str, tuple[Any, Any, Any]],
                            repeats: int) -> dict[str, list[float]]:
    """Seconds of ``repeats`` epochs of each case (config, data, state), in interleaved
    rounds whose order rotates (so slow spells of a shared machine hit every case); each
    case continues from its own state."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for round_ in range(repeats):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            config, data, state = cases[name]
            start = time.perf_counter()
            state = jax.block_until_ready(EPOCH(state, data, config))
            times[name].append(time.perf_counter() - start)
            cases[name] = (config, data, state)
    return times
