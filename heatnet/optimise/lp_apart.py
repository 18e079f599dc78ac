"""The LP bound solved in a process of its own, so that local search can run beside it.

Why a process and not a thread: HiGHS' interior point calls its interrupt callback (how a stop
request reaches it) tens of thousands of times per LP, 70,941 times on the 2,000-building
grid's, and in-process each call needs Python's GIL. Beside a Python thread that holds it (local
search), that LP took 274 s instead of 20 s, and the 10,000-building grid's did not finish in
508 s instead of 383 s (docs/bounds.md, step 0). A child process has a GIL of its own.

The child (``python -m heatnet.optimise.lp_apart``, a plain subprocess: no multiprocessing
bootstrap, so it works from any caller) reads the LP as arrays (pickled
:class:`~heatnet.optimise.dual_bound.SparseLp`) from its stdin, solves it as
:meth:`heatnet.optimise.highs.Solver.solve` does with ``relax=True`` (interior point, no
crossover, no presolve, one thread) and writes back its row duals; the parent proves the bound
from them (:func:`~heatnet.optimise.dual_bound.dual_bound`), so nothing the child says is
trusted but the duals, and any duals keep the bound valid. One more byte on its stdin (a stop
request), or its end (the parent gone), interrupts it at HiGHS' next check; the duals of the
point it reached still prove a bound. The child ignores Ctrl-C and SIGTERM: the parent decides.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, cast

import numpy as np

from heatnet.optimise.dual_bound import FOR_DUALS, SparseLp, dual_bound, to_highs
from heatnet.optimise.stopping import STOP_SIGNALS, Stop

log = logging.getLogger(__name__)

CHECK_EVERY = 64
"""The child looks for a stop request at every this many interrupt callbacks."""


@dataclass(frozen=True, slots=True)
class ApartResult:
    """What the child's LP proved: ``bound`` None when nothing (no duals, or a failure)."""

    bound: float | None
    termination: str
    runtime_s: float


class LpApart:
    """An LP being solved in a child process (started at construction).

    Raises ``OSError`` (or ``ValueError``) when the child cannot be started or be sent the LP.
    """

    def __init__(self, lp: SparseLp, time_limit_s: float) -> None:
        self._lp = lp
        self._began = time.perf_counter()
        # the child imports heatnet as this process does (a checkout, a venv, a test run)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "heatnet.optimise.lp_apart"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._readers = [
            threading.Thread(target=_read_all, args=(stream, into), daemon=True)
            for stream, into in (
                (self._process.stdout, self._out),
                (self._process.stderr, self._err),
            )
        ]
        for reader in self._readers:
            reader.start()
        self._stop_sent = False
        stdin = self._process.stdin
        assert stdin is not None
        try:
            payload = pickle.dumps((lp, float(time_limit_s)), protocol=pickle.HIGHEST_PROTOCOL)
            stdin.write(len(payload).to_bytes(8, "little") + payload)
            stdin.flush()
        except OSError:  # the child died at once: let the caller solve in-process
            self.kill()
            raise

    def done(self) -> bool:
        """Whether the child has answered (or ended)."""
        return not self._readers[0].is_alive()

    def result(self, stop: Stop, grace_s: float) -> ApartResult:
        """Wait for the child's duals (passing a stop request on) and prove the bound.

        A child that has not answered ``grace_s`` after a stop request is killed (no bound).
        """
        deadline: float | None = None
        while not self.done():
            if stop.requested and not self._stop_sent:
                self._send_stop()
                deadline = time.perf_counter() + grace_s
            if deadline is not None and time.perf_counter() > deadline:
                self._process.kill()
            self._readers[0].join(0.05)
        for reader in self._readers:
            reader.join(grace_s)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(grace_s)
        self._close()
        runtime = time.perf_counter() - self._began
        try:
            termination, duals = pickle.loads(b"".join(self._out))
        except Exception:
            why = b"".join(self._err).decode(errors="replace").strip().splitlines()[-1:]
            log.warning("the LP process ended without an answer: %s", why or "no message")
            return ApartResult(None, "interrupted" if self._stop_sent else "error", runtime)
        if duals is None:
            return ApartResult(None, termination, runtime)
        bound = dual_bound(self._lp, duals)
        return ApartResult(bound if np.isfinite(bound) else None, termination, runtime)

    def kill(self) -> None:
        """End the child now (the search is being aborted)."""
        with contextlib.suppress(OSError):
            self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(5.0)
        for reader in self._readers:
            reader.join(5.0)
        self._close()

    def _close(self) -> None:
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _send_stop(self) -> None:
        self._stop_sent = True
        stdin = self._process.stdin
        with contextlib.suppress(OSError):  # the child has just ended
            if stdin is not None:
                stdin.write(b"s")
                stdin.flush()


def _read_all(stream: IO[bytes] | None, into: list[bytes]) -> None:
    if stream is not None:
        into.append(stream.read())


def _solve(lp: SparseLp, time_limit_s: float, stopped: threading.Event) -> tuple[str, Any]:
    """Solve ``lp`` by interior point: (HiGHS' model status, row duals or None)."""
    import highspy  # the child only

    highs: Any = cast(Any, highspy.Highs)()
    highs.setOptionValue("output_flag", False)
    highs.passModel(to_highs(lp))
    for name, value in (*FOR_DUALS, ("threads", 1), ("time_limit", max(time_limit_s, 0.01))):
        highs.setOptionValue(name, value)
    calls = [0]

    def check(event: Any) -> None:
        calls[0] += 1
        if calls[0] % CHECK_EVERY == 0 and stopped.is_set():
            event.interrupt()

    highs.cbIpmInterrupt.subscribe(check)
    highs.run()
    solution = highs.getSolution()
    duals = np.asarray(solution.row_dual, dtype=np.float64) if solution.dual_valid else None
    return highs.getModelStatus().name, duals


def main() -> None:
    """The child: an LP from stdin, (status, duals) to stdout; stdin's next byte or end stops it.

    stdin is read unbuffered (a length, then the pickle), so a stop request sent at once is not
    swallowed by a read-ahead; the child ends by ``os._exit`` once its answer is flushed, as
    its stdin watcher may still be blocked in a read.
    """
    for number in STOP_SIGNALS:  # the parent passes stop requests on
        with contextlib.suppress(OSError, ValueError):
            signal.signal(number, signal.SIG_IGN)
    answer_fd = os.dup(1)  # HiGHS prints its banner on fd 1: that goes to stderr instead
    os.dup2(2, 1)
    size = int.from_bytes(_read_exactly(8), "little")
    lp, time_limit_s = pickle.loads(_read_exactly(size))
    stopped = threading.Event()

    def watch() -> None:
        os.read(0, 1)  # a stop request, or b"" when the parent is gone
        stopped.set()

    threading.Thread(target=watch, daemon=True).start()
    answer = _solve(lp, time_limit_s, stopped)
    with contextlib.suppress(OSError), os.fdopen(answer_fd, "wb") as out:
        out.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
    os._exit(0)


def _read_exactly(size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(0, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the parent closed the pipe before sending the LP")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


if __name__ == "__main__":
    main()
