"""Deterministic ids for split pieces and connectors (docs/decisions.md §3)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from numpy.typing import NDArray


def unique(candidate: str, taken: set[str]) -> str:
    """``candidate``, or ``candidate.2``, ``candidate.3``, ... if taken; the result is then taken."""
    name, k = candidate, 1
    while name in taken:
        k += 1
        name = f"{candidate}.{k}"
    taken.add(name)
    return name


def piece_ids(
    path_ids: pd.Series,
    source: NDArray[np.int64],
    part: NDArray[np.int64],
    offset: NDArray[np.float64],
    taken: set[str],
) -> list[str]:
    """Ids of path pieces: the input id for a whole path; ``<id>-1``, ``<id>-2``, ... along it.

    Parameters
    ----------
    path_ids
        Input path ids by position.
    source, part, offset
        For each piece: input position, part number and start offset along the part.
    taken
        Ids already in use (input ids); generated ids are added.

    Returns
    -------
    list of str
        One id per piece, in piece order.
    """
    ids = [""] * len(source)
    order = np.lexsort((offset, part, source))
    counts = np.bincount(source, minlength=len(path_ids))
    numbers: dict[int, int] = {}
    for i in order:
        src = int(source[i])
        base = str(path_ids.iloc[src])
        if counts[src] == 1:
            ids[i] = base
            continue
        numbers[src] = numbers.get(src, 0) + 1
        ids[i] = unique(f"{base}-{numbers[src]}", taken)
    return ids


def connector_ids(count: int, taken: set[str]) -> list[str]:
    """``C-1``, ``C-2``, ... (skipping any id already used by an input path)."""
    return [unique(f"C-{k}", taken) for k in range(1, count + 1)]


def taken_ids(ids: Iterable[object]) -> set[str]:
    """The set of ids already in use."""
    return {str(i) for i in ids}
