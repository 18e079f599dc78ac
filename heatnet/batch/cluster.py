"""The Dask side of a batch: the cluster, the watch on it, and what a finished task means.

No wait on the cluster blocks forever: the batch wakes every :data:`POLL_S` seconds to check that
the scheduler answers and has workers, and gives up (:class:`ClusterLost`) when it lost the
scheduler, the scheduler has not answered for :data:`SILENT_S` seconds, or had no worker for
:data:`NO_WORKERS_S` seconds.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from heatnet.batch.scenarios import Scenario
from heatnet.batch.worker import ScenarioResult
from heatnet.core.errors import HeatnetError, InputError
from heatnet.core.exits import ExitCode

log = logging.getLogger(__name__)

POLL_S = 2.0


"""How often a waiting batch checks on its cluster (and how long one result fetch may take)."""


ANSWER_S = 30.0


"""How long one question to the scheduler may take."""


SILENT_S = 120.0


"""A scheduler that has not answered for this long is lost."""


NO_WORKERS_S = 300.0


"""A cluster without a single worker for this long is lost (nothing would ever run)."""


CLOSE_S = 30.0


"""How long closing the client, and the local cluster, may take."""


class ClusterLost(HeatnetError):
    """The Dask cluster stopped answering, or has had no workers for too long (exit code 1)."""


class Watch:
    """Checks that the cluster is still there while the batch waits for it."""

    def __init__(self, client: Any, where: str) -> None:
        self.client = client
        self.where = where
        self.answered = self.had_workers = time.monotonic()

    def check(self) -> None:
        """Raise :class:`ClusterLost` when the scheduler is gone, silent or without workers."""
        if self.client.status in ("closing", "closed"):
            raise ClusterLost(f"lost the Dask scheduler ({self.where})")
        now = time.monotonic()
        try:
            workers = self.client.nthreads(callback_timeout=ANSWER_S)
        except Exception as exc:
            if now - self.answered > SILENT_S:
                raise ClusterLost(
                    f"the Dask scheduler ({self.where}) has not answered for {SILENT_S:.0f} s "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
            return
        self.answered = now
        if workers:
            self.had_workers = now
        elif now - self.had_workers > NO_WORKERS_S:
            raise ClusterLost(
                f"the Dask cluster ({self.where}) has had no workers for {NO_WORKERS_S:.0f} s"
            )

    def running(self) -> int:
        """Tasks the workers are processing now (not those waiting for a worker)."""
        try:
            processing = self.client.sync(self.client.scheduler.processing, callback_timeout=POLL_S)
            return sum(len(keys) for keys in processing.values())
        except Exception:  # only a progress figure: a scheduler hiccup is not fatal
            return 0


def outcome(future: Any, scenario: Scenario, watch: Watch) -> ScenarioResult:
    """The scenario's result, or a crash record when its task failed (e.g. killed workers).

    Fetching a result may wait for a rerun (its worker died before handing it over): each wait
    is bounded, and the cluster is checked between them.
    """
    from concurrent.futures import CancelledError

    while True:
        try:
            result = future.result(timeout=POLL_S)
        except CancelledError:  # Dask cancels every future of a client that lost its scheduler
            raise ClusterLost(f"lost the Dask scheduler ({watch.where})") from None
        except TimeoutError as exc:
            if future.status == "error":  # the task's own TimeoutError
                return crashed(scenario, exc)
            watch.check()
            continue
        except Exception as exc:  # KilledWorker, a worker lost for good, a pickling failure, ...
            return crashed(scenario, exc)
        if not isinstance(result, ScenarioResult):
            return crashed(scenario, TypeError(f"the runner returned {type(result).__name__}"))
        return result


def crashed(scenario: Scenario, exc: BaseException) -> ScenarioResult:
    """The record of a scenario whose task failed (exit 1), logged."""
    name = type(exc).__name__
    text = (
        "the scenario killed its worker too many times (a crash, or out of memory)"
        if name == "KilledWorker"
        else str(exc)
    )
    log.error("scenario %s: %s: %s", scenario.name, name, text)
    return ScenarioResult(scenario.name, ExitCode.BUG, f"{name}: {text}", 0.0, {}, None, "")


class Cluster:
    """A Dask client on the given scheduler, or on a new local cluster (closed on exit)."""

    def __init__(self, scheduler: str | None, workers: int | None) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self.cluster: Any = None
        self.client: Any = None

    def __enter__(self) -> tuple[Any, str | None]:
        try:
            return self._start()
        except BaseException:  # Ctrl-C or SIGTERM while starting: stop what did start
            self.__exit__()
            raise

    def _start(self) -> tuple[Any, str | None]:
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout=f"{ANSWER_S:.0f}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {self.scheduler}: {exc}"
                ) from exc
        else:
            # one task per worker at a time: Dask blames a dead worker on every task it holds,
            # so a crashing scenario must not share its worker with queued innocent ones
            with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
                self.cluster = LocalCluster(
                    n_workers=self.workers or cores(),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # never a fixed port: two batches may run at once
                    # the workers' own logs stay quiet up to ERROR: when a batch is stopped,
                    # a worker whose scheduler closed first logs its failed heartbeat with a
                    # traceback (seen once in CI); heatnet reports failures of its own
                    silence_logs=logging.CRITICAL,
                    death_timeout=SILENT_S,  # a worker that cannot start (or reach us) gives up
                )
            self.client = Client(self.cluster, timeout=f"{ANSWER_S:.0f}s")
        # a scheduler that dies makes the client's background sender log a traceback before
        # heatnet notices; heatnet reports the lost cluster itself
        logging.getLogger("distributed.batched").setLevel(logging.CRITICAL)
        link = self.client.dashboard_link if has_dashboard() else None
        return self.client, link

    def __exit__(self, kind: type[BaseException] | None = None, *_: object) -> None:
        """Close the client, then the local cluster (its workers), each within ``CLOSE_S``.

        After an interruption or a lost scheduler, Dask's own complaints about the connections
        it is told to drop (tracebacks of cancelled reconnections) are not shown: heatnet says
        what happened.
        """
        dask_logs = [
            logging.getLogger(name)
            for name in list(logging.root.manager.loggerDict)
            if name == "distributed" or name.startswith("distributed.")
        ]
        levels = [one.level for one in dask_logs]
        if kind is not None:
            for one in dask_logs:
                one.setLevel(logging.CRITICAL)
        try:
            for part in (self.client, self.cluster):
                if part is None:
                    continue
                try:
                    part.close(timeout=CLOSE_S)
                except Exception as error:  # a cluster already gone: nothing more to stop
                    log.warning(
                        "closing %s: %s: %s", type(part).__name__, type(error).__name__, error
                    )
        finally:
            if kind is None:  # after an error the process ends: late complaints stay hidden
                for one, level in zip(dask_logs, levels, strict=True):
                    one.setLevel(level)


def cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def has_dashboard() -> bool:
    """Whether Dask's dashboard can run (it needs bokeh)."""
    try:
        import bokeh  # noqa: F401 - Dask's dashboard needs it
    except ImportError:
        return False
    return True
