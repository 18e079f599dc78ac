"""Read the input GeoPackage (and an optional tables source) exactly as stored.

Nothing is coerced here: validation needs the raw cells to say precisely what is wrong with them.
The GeoPackage feature id is kept as the index (``fid``) so every issue can point at a feature a
QGIS user can find; CSV rows are indexed by their line number.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors

from heatnet.errors import ValidationError
from heatnet.issues import Issue, RowKind, error

log = logging.getLogger(__name__)

LAYERS = ("buildings", "paths", "supplies")
TABLES = (
    "tariffs",
    "connection_costs",
    "civil_costs",
    "civil_cost_names",
    "supply_costs",
    "parameters",
)
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class RawInputs:
    """Layers and tables as read, before any checking.

    Attributes
    ----------
    source
        The input GeoPackage.
    layers
        ``buildings``, ``paths``, ``supplies``: a GeoDataFrame, or ``None`` when absent.
    tables
        The non-spatial tables: a DataFrame, or ``None`` when absent.
    origins
        For every layer and table read, the file it came from.
    row_kinds
        What each frame's index counts (``fid`` or CSV ``line``).
    issues
        Problems found while reading (missing or unreadable layers).
    """

    source: Path
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame | None]
    tables: Mapping[str, pd.DataFrame | None]
    origins: Mapping[str, Path]
    row_kinds: Mapping[str, RowKind]
    issues: tuple[Issue, ...]


def _unreadable(path: Path, why: str) -> ValidationError:
    return ValidationError([error("unreadable_input", "input", f"{path}: {why}")])


def _gpkg_layers(path: Path) -> dict[str, str | None]:
    """Layer names of a GeoPackage with their geometry type; refuses anything else."""
    if not path.exists():
        raise _unreadable(path, "file not found")
    if not path.is_file():
        raise _unreadable(path, "not a file")
    with path.open("rb") as handle:
        if handle.read(16) != _SQLITE_MAGIC:
            raise _unreadable(path, "not a GeoPackage (not an SQLite file)")
    try:
        listed = pyogrio.list_layers(path)
        driver = pyogrio.read_info(path, layer=listed[0][0])["driver"] if len(listed) else "GPKG"
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise _unreadable(path, f"not a readable GeoPackage ({exc})") from exc
    if driver != "GPKG":
        raise _unreadable(path, f"not a GeoPackage (GDAL reads it as {driver})")
    return {str(name): (None if kind is None else str(kind)) for name, kind in listed}


def _read_layer(path: Path, name: str) -> gpd.GeoDataFrame | pd.DataFrame:
    frame = pyogrio.read_dataframe(path, layer=name, fid_as_index=True, use_arrow=True)
    frame.index = frame.index.astype("int64")
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")  # line 1 is the header
    return frame


def _missing(name: str, available: list[str], where: Path) -> Issue:
    close = difflib.get_close_matches(name, available, n=1, cutoff=0.7)
    lowered = {a.lower(): a for a in available}
    hint = close[0] if close else lowered.get(name.lower())
    tip = f" (found '{hint}': the name must match exactly)" if hint else ""
    return error("missing_layer", name, f"layer '{name}' is missing from {where.name}{tip}")


def read_inputs(path: Path, *, tables: Path | None = None) -> RawInputs:
    """Read every layer and table heatnet uses.

    Parameters
    ----------
    path
        The input GeoPackage with ``buildings``, ``paths`` and ``supplies`` layers and, usually,
        the non-spatial tables.
    tables
        Optional second source for the non-spatial tables: a GeoPackage or a folder of
        ``<table>.csv`` files. A table found there is used instead of the input's own.

    Returns
    -------
    RawInputs
        The frames as stored, with read problems as issues.

    Raises
    ------
    ValidationError
        When ``path`` (or ``tables``) is not a readable GeoPackage or folder at all.
    """
    available = _gpkg_layers(path)
    extra = _table_source(tables) if tables is not None else {}
    issues: list[Issue] = []
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame | None] = {}
    frames: dict[str, pd.DataFrame | None] = {}
    origins: dict[str, Path] = {}
    row_kinds: dict[str, RowKind] = {}
    for name in LAYERS:
        layers[name] = None
        if name not in available:
            issues.append(_missing(name, list(available), path))
            continue
        layers[name] = _read_layer(path, name)
        origins[name], row_kinds[name] = path, "fid"
    for name in TABLES:
        frames[name] = None
        if name in extra:
            origin = extra[name]
            csv = origin.suffix.lower() == ".csv"
            frames[name] = _read_csv(origin) if csv else _read_layer(origin, name)
            origins[name], row_kinds[name] = origin, ("line" if csv else "fid")
        elif name in available:
            frames[name] = _read_layer(path, name)
            origins[name], row_kinds[name] = path, "fid"
        frame = frames[name]
        if frame is not None:
            log.debug("read %s from %s (%d rows)", name, origins[name], len(frame))
    return RawInputs(path, layers, frames, origins, row_kinds, tuple(issues))


def _table_source(source: Path) -> dict[str, Path]:
    """Which non-spatial tables a ``--tables`` source provides, and from which file."""
    if source.is_dir():
        found = {
            name: source / f"{name}.csv" for name in TABLES if (source / f"{name}.csv").is_file()
        }
        if not found:
            raise _unreadable(
                source, f"no table CSV files ({', '.join(TABLES)}.csv) in this folder"
            )
        return found
    available = _gpkg_layers(source)
    return {name: source for name in TABLES if name in available}
