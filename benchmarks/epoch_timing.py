"""Interleaved timing shared by the benchmarks: of any calls, and of compiled training epochs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from sslax.training import datasets_from_seed, init_state, train_epoch

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


def warm_cases(base: Any, variants: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, Any, Any]]:
    """One warmed-up case per variant: ``base`` with the variant's fields, data seed 0,
    network seed 0."""
    cases = {}
    for name, fields in variants.items():
        config = base.replace_fields(**fields)
        data = datasets_from_seed(0, config)
        cases[name] = warm_case(config, data, init_state(jax.random.key(0), config))
    return cases


def epoch_setting(repeats: int, base: Any) -> str:
    """The line naming what an epoch is and where it ran."""
    return (f"{repeats} interleaved repeats, {base.training.n_batches} Adam steps of batch "
            f"{base.training.batch_size} per epoch; jax {jax.__version__}, "
            f"{jax.devices()[0].platform}")


def blocking_call(compiled: Callable[..., object], *args: object) -> Callable[[], object]:
    """A zero-argument call of ``compiled`` on ``args`` that waits for its result (what
    :func:`interleaved_calls` times)."""
    return lambda: jax.block_until_ready(compiled(*args))


def interleaved_calls(calls: dict[str, Callable[[], object]], rounds: int,
                      per_round: int = 1, warmup: int = 0) -> dict[str, float]:
    """Median seconds of one call of each zero-argument (blocking) call: ``per_round``
    calls in a row per round, medians per round, then the median over ``rounds`` rounds
    whose order rotates."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            samples = []
            for _ in range(per_round):
                start = time.perf_counter()
                calls[name]()
                samples.append(time.perf_counter() - start)
            times[name].append(float(np.median(samples)))
    return {name: float(np.median(t)) for name, t in times.items()}
