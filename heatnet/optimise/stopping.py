"""Stop requests while optimising: a :class:`Stop` object, and Ctrl-C / SIGTERM routed to it.

The solver adapter (:mod:`heatnet.optimise.highs`) only reads :attr:`Stop.requested`; who asks
(a signal, a QGIS cancel button, a test) is decided here and by the caller.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)


class Stop:
    """Stop requests while optimising (Ctrl-C, SIGTERM, or a caller such as a QGIS cancel).

    The first asks the search to stop and keep its best design; the second aborts (a
    ``KeyboardInterrupt`` from the signal handler: nothing is written). Safe to request from
    any thread.
    """

    def __init__(self) -> None:
        self.count = 0

    @property
    def requested(self) -> bool:
        """Whether the search should stop."""
        return self.count > 0

    def request(self) -> None:
        """Ask the search to stop (as a first Ctrl-C does)."""
        self.count += 1


# Ctrl-C, SIGTERM, and on Windows Ctrl-Break (what a parent such as the QGIS plugin can send
# a process group there: docs/qgis-plugin.md)
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGBREAK") if hasattr(signal, name)
)


@contextlib.contextmanager
def stop_on_signals(
    stop: Stop,
    first: str = "stopping the search, the best design so far will be written "
    "(interrupt again to abort without writing)",
) -> Iterator[Stop]:
    """Route Ctrl-C, SIGTERM (and Windows' Ctrl-Break) to ``stop`` while the block runs.

    Main thread only.

    The first signal sets the request (logged as ``interrupted: <first>``); a second raises
    ``KeyboardInterrupt`` at once. Signals a parent ignored stay ignored; other threads (a
    batch worker) get no handlers and are stopped by their process.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(_signum: int, _frame: object) -> None:
        stop.request()
        if stop.count == 1:
            _log_aside(logging.WARNING, f"interrupted: {first}")
            return
        _log_aside(logging.ERROR, "interrupted again: aborting, nothing written", wait_s=0.5)
        raise KeyboardInterrupt

    previous = {
        s: signal.signal(s, handler)
        for s in STOP_SIGNALS
        if signal.getsignal(s) is not signal.SIG_IGN
    }
    try:
        yield stop
    finally:
        for s, old_handler in previous.items():
            signal.signal(s, old_handler)


def _log_aside(level: int, message: str, *, wait_s: float = 0.0) -> None:
    """Log from a signal handler through another thread.

    The signal may land while the main thread is inside a handler's write to the console; logging
    from the handler itself would re-enter that write (``RuntimeError: reentrant call``) and lose
    the line. Another thread waits for the handler's lock instead.
    """
    thread = threading.Thread(target=log.log, args=(level, message), daemon=True)
    thread.start()
    if wait_s:
        thread.join(wait_s)
