"""Write output files atomically: into a temporary file beside the target, then rename.

An interrupted run (Ctrl-C, kill, crash) leaves either the old file or the complete new one,
never a half-written GeoPackage, and an existing output is replaced only when asked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from heatnet.errors import InputError


class OutputExistsError(InputError):
    """The output exists and ``--overwrite`` was not given."""


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
        If ``target`` is a protected input, a folder, has the wrong suffix, or its folder
        cannot be created or written.
    """
    target = Path(target)
    resolved = target.resolve()
    if any(resolved == Path(p).resolve() for p in protect):
        raise InputError(f"refusing to write over the input {target}")
    if target.is_dir():
        raise InputError(f"{target} is a folder; give a file name")
    if suffixes and target.suffix.lower() not in suffixes:
        raise InputError(f"{target}: the output must be a {' or '.join(suffixes)} file")
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} exists; use --overwrite to replace it")
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


@contextlib.contextmanager
def atomic_output(
    target: Path, *, overwrite: bool, protect: tuple[Path, ...] = ()
) -> Iterator[Path]:
    """Yield a temporary path to write to; on success rename it onto ``target``.

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
        A fresh path in the same folder (same file system, so the rename is atomic).

    Raises
    ------
    OutputExistsError
        If ``target`` exists and ``overwrite`` is false.
    InputError
        If ``target`` is one of the protected inputs.
    """
    target = Path(target)
    check_output(target, overwrite=overwrite, protect=protect)
    with _signals_deferred():
        handle, name = tempfile.mkstemp(
            prefix=f".{target.stem}-", suffix=target.suffix, dir=target.parent
        )
        os.close(handle)
        temporary = Path(name)
        temporary.unlink()  # GDAL must create the file itself
    try:
        yield temporary
        with _signals_deferred():
            temporary.replace(target)
    finally:
        with _signals_deferred():
            for leftover in (temporary, Path(f"{temporary}-journal"), Path(f"{temporary}-wal")):
                leftover.unlink(missing_ok=True)
