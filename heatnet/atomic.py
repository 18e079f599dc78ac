"""Write output files atomically: into a temporary file beside the target, then rename.

An interrupted run (Ctrl-C, kill, crash) leaves either the old file or the complete new one,
never a half-written GeoPackage, and an existing output is replaced only when asked.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from heatnet.errors import InputError


class OutputExistsError(InputError):
    """The output exists and ``--overwrite`` was not given."""


def check_output(target: Path, *, overwrite: bool, protect: tuple[Path, ...] = ()) -> None:
    """Fail early, before any work, if ``target`` may not be written.

    Raises
    ------
    OutputExistsError
        If ``target`` exists and ``overwrite`` is false.
    InputError
        If ``target`` is one of the protected inputs.
    """
    resolved = Path(target).resolve()
    if any(resolved == Path(p).resolve() for p in protect):
        raise InputError(f"refusing to write over the input {target}")
    if Path(target).exists() and not overwrite:
        raise OutputExistsError(f"{target} exists; use --overwrite to replace it")


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
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{target.stem}-", suffix=target.suffix, dir=target.parent
    )
    os.close(handle)
    temporary = Path(name)
    temporary.unlink()  # GDAL must create the file itself
    try:
        yield temporary
        temporary.replace(target)
    finally:
        for leftover in (temporary, Path(f"{temporary}-journal"), Path(f"{temporary}-wal")):
            leftover.unlink(missing_ok=True)
