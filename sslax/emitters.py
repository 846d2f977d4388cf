"""Compiling the programs whose numbers do not depend on XLA's CPU kernel emitters: data
sets, their spikes, initial parameters and the final evaluation.

XLA's CPU backend has two ways to turn a fused kernel into machine code: its newer emitters
(the default) and its classic ones, which compile the same kernel in about half the time.
For the programs that draw random numbers and compute elementwise from them (a run's data
sets, the stored spikes, the initial state) both give the same numbers, bit for bit, and so
does the final evaluation of a trained network (its forward pass and metrics): the tests
compare them, and so did both compilations of every preset and eight variants (the configs
of ``benchmarks/compare_results.py``), the evaluation also at full size. sslax compiles them
with the classic emitters: a cold quick-start run spent 2.94 s in XLA instead of 3.49 s on
the 2-core CPU with the drawing programs, and its final evaluation compiles in 0.67 s
instead of 0.86 s. A training epoch keeps the default: under the classic emitters its
gradients differ in the last bits, which would change every trained network.

Where JAX's XLA has no such option (older versions), or the default device is not a CPU,
:func:`jit_classic` is plain ``jax.jit``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

import jax

#: XLA's compile options for those programs on a CPU: the classic kernel emitters
CPU_OPTIONS: dict[str, Any] = {"xla_cpu_use_fusion_emitters": False}


@cache
def classic_options() -> dict[str, Any] | None:
    """:data:`CPU_OPTIONS` when the default backend is a CPU whose XLA accepts them, else
    ``None`` (checked once per process by compiling an empty program with them)."""
    if jax.default_backend() != "cpu":
        return None
    try:
        jax.jit(lambda: None, compiler_options=CPU_OPTIONS).lower().compile()
    except Exception:  # an XLA without the option: any error it raises means "not here"
        return None
    return CPU_OPTIONS


def jit_classic(fn: Callable[..., Any], **jit_kwargs: Any) -> Callable[..., Any]:
    """``jax.jit(fn, **jit_kwargs)`` compiled with :func:`classic_options`: only for programs
    whose numbers the tests show to be the same under both emitters (see above).

    The options are looked up when the program is first called, not when it is defined, so
    that importing sslax neither starts JAX's backend nor compiles anything.
    """
    compiled: list[Callable[..., Any]] = []
    lock = threading.Lock()  # the first calls can come from several threads at once

    @wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not compiled:
            with lock:
                if not compiled:
                    compiled.append(jax.jit(fn, compiler_options=classic_options(), **jit_kwargs))
        return compiled[0](*args, **kwargs)

    return call
