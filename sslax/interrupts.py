"""Stopping a long run cleanly: Ctrl-C (or SIGTERM) asks for a stop at the next epoch
boundary; a second Ctrl-C stops at once.

Inside :func:`graceful_stop` the first SIGINT or SIGTERM only sets a flag (and prints one
line); the training loops check it between epochs, write a checkpoint and return. A second
SIGINT raises ``KeyboardInterrupt`` as usual; the last checkpoint written is intact either
way, because checkpoints are replaced atomically. Compiled code does not run Python signal
handlers, so the flag is seen when the current epoch (or compilation) returns.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any


class StopRequest:
    """Set by the first SIGINT/SIGTERM inside :func:`graceful_stop`; call it to ask."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""

    def __call__(self) -> bool:
        return self.requested


@contextlib.contextmanager
def graceful_stop(message: str = "stopping after this epoch (Ctrl-C again to stop now)"
                  ) -> Iterator[StopRequest]:
    """Within this block SIGINT and SIGTERM request a stop instead of raising.

    Outside the main thread signal handlers cannot be installed; the block then only yields
    a request that is never set.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame: Any) -> None:
        if request.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request.requested = True
        request.signal_name = signal.Signals(signum).name
        print(f"\n{request.signal_name}: {message}", file=sys.stderr, flush=True)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
