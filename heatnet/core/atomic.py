"""Write output files atomically: into a temporary file beside the target, then publish it.

An interrupted run (Ctrl-C, kill, crash) leaves either the old file or the complete new one,
never a half-written GeoPackage, and an existing output is replaced only when asked.

Without ``overwrite``, "the target does not exist" and "put the new file there" are one atomic
step, so of two runs writing one output at once exactly one wins and the other gets
:class:`OutputExistsError` (as it would from the early check): the finished temporary file is
hard-linked to the target's name (``os.link`` fails when that name exists), then removed. On a
file system without hard links (FAT, some network and FUSE file systems) the name is claimed
instead by creating the target empty with ``O_CREAT | O_EXCL``, and the temporary file is
renamed over that placeholder: there a reader may see an empty target for an instant, and a
process killed in that instant leaves the empty file behind (refused as an existing output like
any other). With ``overwrite`` the temporary file is renamed over the target (``os.replace``).

Temporary files are named ``.<stem>-heatnet-<tag>-<host>-<pid>-<random><suffix>``: the target's
stem (cut to 64 bytes), a hash of the target's file name, a hash of this machine's name and the
writer's process id. A later write to the same output removes the temporary files (and their
SQLite ``-journal``, ``-wal`` and ``-shm`` files) that a writer on this machine left when it was
killed, and never those of a process still running or of another machine (a shared folder).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from heatnet.core.errors import InputError, UsageError

log = logging.getLogger(__name__)

NAME_MAX = 255
"""The longest file name in bytes, when the file system does not say (``PC_NAME_MAX``)."""
SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")
"""What SQLite (a GeoPackage) writes beside a database file while it is open."""
_STEM_BYTES = 64
_MARK = "heatnet"
_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK, errno.EXDEV}
)
"""``os.link`` errors that mean "no hard link here" (not "the name exists")."""


class OutputExistsError(UsageError):
    """The output exists and ``--overwrite`` was not given."""


def _exists(target: Path) -> OutputExistsError:
    return OutputExistsError(f"{target} exists; use --overwrite to replace it")


def name_max(folder: Path) -> int:
    """The longest file name (in bytes) allowed in ``folder`` (or its nearest existing parent)."""
    probe = Path(folder).absolute()
    try:
        while not probe.is_dir() and probe != probe.parent:
            probe = probe.parent
        return int(os.pathconf(probe, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or no answer
        return NAME_MAX


def _name_problem(target: Path) -> str | None:
    """Why ``target``'s file name cannot be created (too long), or None."""
    size, limit = len(os.fsencode(target.name)), name_max(target.parent)
    if size <= limit:
        return None
    return f"the file name is {size} bytes long; the file system allows {limit}"


def check_output(
    target: Path,
    *,
    overwrite: bool,
    protect: tuple[Path, ...] = (),
    suffixes: tuple[str, ...] = (),
) -> None:
    """Fail early, before any work, if ``target`` may not be written.

    Parameters
    ----------
    target
        The output path.
    overwrite
        Whether an existing file may be replaced.
    protect
        Input files that must never be the target.
    suffixes
        Allowed file name endings (any when empty), e.g. ``(".gpkg",)``.

    Raises
    ------
    OutputExistsError
        If ``target`` exists and ``overwrite`` is false.
    InputError
        If ``target`` is a protected input, a folder, has the wrong suffix or too long a name,
        or its folder cannot be created or written.
    """
    target = Path(target)
    problem = _name_problem(target)
    if problem:
        raise InputError(f"cannot write {target}: {problem}")
    resolved = target.resolve()
    if any(resolved == Path(p).resolve() for p in protect):
        raise UsageError(f"refusing to write over the input {target}")
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give a file name")
    if suffixes and target.suffix.lower() not in suffixes:
        raise UsageError(f"{target}: the output must be a {' or '.join(suffixes)} file")
    if target.exists() and not overwrite:
        raise _exists(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder of {target}: {exc.strerror}") from exc
    if not os.access(target.parent, os.W_OK):
        raise InputError(f"cannot write into {target.parent}")


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back (they are delivered on exit).

    Used where an interruption would leave a stray file: between creating the temporary file
    and guarding it, and while renaming or cleaning up.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _temporary_prefix(target: Path) -> str:
    """``.<stem>-heatnet-<tag>-``: the start of every temporary file name of ``target``."""
    stem = os.fsencode(target.stem)[:_STEM_BYTES].decode("utf-8", errors="ignore")
    tag = hashlib.sha256(os.fsencode(target.name)).hexdigest()[:8]
    return f".{stem}-{_MARK}-{tag}-"


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", errors="replace")).hexdigest()[:6]


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (when unsure: yes, so its file is kept)."""
    if os.name == "nt" or pid <= 0:  # no harmless probe on Windows (os.kill would signal it)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's process
        return True
    return True


def _own_prefix(target: Path) -> str:
    """The start of this machine's temporary names for ``target`` (the pid follows)."""
    return f"{_temporary_prefix(target)}{_host()}-"


def remove_stale_temporaries(target: Path, prefix: str | None = None) -> list[Path]:
    """Remove the temporary files of ``target`` whose writer (on this machine) is gone.

    A writer killed while writing (``kill -9``, a crash, the out-of-memory killer) cannot clean
    up; its temporary file and SQLite side files carry its process id. Files of live processes,
    of other machines, and anything heatnet did not name are left alone.

    Returns
    -------
    list of Path
        The files removed.
    """
    target = Path(target)
    prefix = prefix or _own_prefix(target)
    try:
        names = [entry.name for entry in os.scandir(target.parent)]
    except OSError:
        return []
    removed: list[Path] = []
    for name in sorted(names):
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix) :].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        path = target.parent / name
        try:
            path.unlink()
        except FileNotFoundError:  # another writer cleaned it first
            continue
        except OSError as exc:
            log.warning("cannot remove the stale temporary file %s: %s", path, exc.strerror)
            continue
        removed.append(path)
    if removed:
        log.info(
            "removed %d temporary file(s) of %s left by a stopped run: %s",
            len(removed),
            target,
            ", ".join(p.name for p in removed),
        )
    return removed


def _publish(temporary: Path, target: Path, *, overwrite: bool) -> None:
    """Put the finished ``temporary`` file at ``target`` in one atomic step.

    Without ``overwrite`` the step fails, leaving ``target`` as it is, when ``target`` exists.
    """
    if overwrite:
        temporary.replace(target)
        return
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise _exists(target) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        log.debug("no hard links in %s (%s): claiming the name first", target.parent, exc)
        _publish_claimed(temporary, target)
        return
    temporary.unlink()


def _publish_claimed(temporary: Path, target: Path) -> None:
    """Publish where there are no hard links: claim ``target`` empty (O_EXCL), rename over it."""
    try:
        claim = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        raise _exists(target) from None
    os.close(claim)
    try:
        temporary.replace(target)
    except BaseException:
        target.unlink(missing_ok=True)  # the empty placeholder is ours
        raise


@contextlib.contextmanager
def atomic_output(
    target: Path, *, overwrite: bool, protect: tuple[Path, ...] = ()
) -> Iterator[Path]:
    """Yield a temporary path to write to; on success publish it as ``target``.

    Parameters
    ----------
    target
        The final output path.
    overwrite
        Whether an existing ``target`` may be replaced.
    protect
        Input files that must never be the target (the input is never modified).

    Yields
    ------
    Path
        A fresh path in the same folder (same file system, so publishing is atomic).

    Raises
    ------
    OutputExistsError
        If ``target`` exists and ``overwrite`` is false: checked before the work, and again,
        atomically, when publishing (another process may have written it meanwhile; the
        temporary file is then removed and ``target`` left as that process wrote it).
    InputError
        If ``target`` is one of the protected inputs.
    """
    target = Path(target)
    check_output(target, overwrite=overwrite, protect=protect)
    prefix = _own_prefix(target)
    remove_stale_temporaries(target, prefix)
    suffix = target.suffix if len(os.fsencode(target.suffix)) <= _STEM_BYTES else ""
    with _signals_deferred():
        handle, name = tempfile.mkstemp(
            prefix=f"{prefix}{os.getpid()}-",
            suffix=suffix,
            dir=target.parent,
        )
        os.close(handle)
        temporary = Path(name)
        temporary.unlink()  # GDAL must create the file itself
    try:
        yield temporary
        with _signals_deferred():
            _publish(temporary, target, overwrite=overwrite)
    finally:
        with _signals_deferred():
            for leftover in (temporary, *(Path(f"{temporary}{s}") for s in SQLITE_SIDE_FILES)):
                leftover.unlink(missing_ok=True)
