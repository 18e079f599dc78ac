"""What a person (or a CI log) sees while ``heatnet run`` works.

On a terminal: one line per stage and a status line redrawn in place with the solver's
incumbent, bound and gap. Elsewhere (CI, a pipe, a file): plain timestamped log lines, one per
stage, per new incumbent and per priced design, and a heartbeat every
:data:`HEARTBEAT_S` seconds, so a long run shows it is alive without flooding the log.

Pyomo captures the solver's file descriptors while HiGHS runs, so everything here writes to a
duplicate of stderr's descriptor made before the run (:func:`console_stream`).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TextIO

from heatnet.core.progress import Progress, SolverUpdate

log = logging.getLogger("heatnet.run")

HEARTBEAT_S = 30.0
"""Plain (non-terminal) progress repeats the solver state at least this often."""


def console_stream() -> TextIO:
    """A text stream on a duplicate of stderr's descriptor (survives Pyomo's fd capture)."""
    try:
        fd = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # no real descriptor (e.g. under a test runner)
        return sys.stderr
    return os.fdopen(fd, "w", buffering=1, encoding="utf-8", errors="replace")


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _gap(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class ConsoleProgress(Progress):
    """Progress for people (a terminal) or for logs (anything else).

    Parameters
    ----------
    stream
        Where the terminal display goes.
    interactive
        Draw a live status line (a terminal); otherwise write log lines.
    """

    def __init__(self, stream: TextIO, *, interactive: bool) -> None:
        self.stream = stream
        self.interactive = interactive
        self.began = time.perf_counter()
        self._line = 0
        self._width = _columns(stream)
        self._last_log = 0.0

    def elapsed(self) -> float:
        """Seconds since the run began."""
        return time.perf_counter() - self.began

    def stage(self, name: str) -> None:
        """A stage starts: a line of its own."""
        if self.interactive:
            self._clear()
            self.stream.write(f"[{_clock(self.elapsed())}] {name}\n")
            self.stream.flush()
        else:
            log.info("stage %s (%.1f s)", name, self.elapsed())

    def time_limit(self, seconds: float) -> None:
        """Off a terminal, a line saying it (the QGIS plugin's progress bar reads it)."""
        if not self.interactive:
            log.info("search: runtime limit %.6g s", seconds)

    def solver(self, update: SolverUpdate) -> None:
        """Redraw the status line, or log a new incumbent / a heartbeat."""
        text = (
            f"MIP {update.iteration}: incumbent {_money(update.incumbent)}  "
            f"bound {_money(update.bound)}  gap {_gap(update.gap)}  nodes {update.nodes:,}"
        )
        if self.interactive:
            self._status(f"[{_clock(self.elapsed())}]   {text}")
            return
        now = self.elapsed()
        if update.improved or now - self._last_log >= HEARTBEAT_S:
            self._last_log = now
            log.info("%s%s", text, " (new incumbent)" if update.improved else "")

    def design(self, iteration: int, objective: float, best: float) -> None:
        """A priced design: a line of its own."""
        source = f"MIP {iteration}" if iteration > 0 else "seed"
        text = f"{source}: design priced at {objective:,.0f} (best {best:,.0f})"
        if self.interactive:
            self._clear()
            self.stream.write(f"[{_clock(self.elapsed())}]   {text}\n")
            self.stream.flush()
        else:
            log.info("%s", text)

    def finish(self) -> None:
        """Leave the terminal on a clean line."""
        if self.interactive:
            self._clear()

    def clear(self) -> None:
        """Wipe the status line (before a log record is written to the same stream)."""
        if self.interactive:
            self._clear()

    def _status(self, text: str) -> None:
        width = max(20, self._width - 1)
        text = text[:width]
        self.stream.write("\r" + text + " " * max(0, self._line - len(text)))
        self.stream.flush()
        self._line = len(text)

    def _clear(self) -> None:
        if self._line:
            self.stream.write("\r" + " " * self._line + "\r")
            self._line = 0


def _columns(stream: TextIO) -> int:
    """The terminal's width (read once: Pyomo swaps stderr's descriptor during solves)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 100


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A log handler that wipes the progress status line before each record it writes."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.progress: ConsoleProgress | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Clear the status line, then write the record."""
        if self.progress is not None:
            self.progress.clear()
        super().emit(record)
