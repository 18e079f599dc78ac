"""Read the input GeoPackage (and an optional tables source) exactly as stored.

Nothing is coerced here: validation needs the raw cells to say precisely what is wrong with them.
The GeoPackage feature id is kept as the index (``fid``) so every issue can point at a feature a
QGIS user can find; CSV rows are indexed by the file line they start on (blank lines count).

Reading never changes a file. A GeoPackage with SQLite side files (``-wal`` frames not yet
checkpointed, or a ``-journal``) is read from a private copy of the database and those files:
GDAL, on closing a database it opened read-only, reopens it read-write to tidy a ``-wal`` away,
which checkpoints the frames into the input and deletes its ``-wal`` and ``-shm``; and SQLite's
``immutable`` mode (GDAL's ``IMMUTABLE=YES``) would keep the files but ignore the pending frames,
reading stale data. The copy reads exactly what SQLite would, and leaves the input, its ``-wal``
and its ``-shm`` byte-for-byte as they were.

CSV tables (``--tables`` folder) are read strictly by :mod:`heatnet.inputs.csv_tables`.

Curved geometries (CircularString, CompoundCurve, CurvePolygon, MultiCurve, MultiSurface) are
read as GDAL linearises them, in chords of at most :data:`ARC_STEP_DEGREES`, and noted so that
validation warns (``linearised_geometry``) on every such row, forbidden ones too; a TIN,
polyhedral surface or collection holding curves cannot be read and is an error. M values are
read and then dropped by validation (``dropped_m``), as Z is.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import shutil
import struct
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
import shapely.errors

from heatnet.core.errors import ValidationError
from heatnet.core.issues import Issue, RowKind, error
from heatnet.inputs.csv_tables import SQLITE_MAGIC as _SQLITE_MAGIC
from heatnet.inputs.csv_tables import read_csv
from heatnet.inputs.mapping import LayerMapping, TableMap, apply_mapping

log = logging.getLogger(__name__)

LAYERS = ("buildings", "paths", "supplies")
DISPATCH_TABLES = (
    "plant_units",
    "storages",
    "fuels",
    "fuel_distribution",
    "day_types",
    "demand_profiles",
)
"""The dispatch input tables, all optional (docs/decisions.md §6)."""
TABLES = (
    "tariffs",
    "connection_costs",
    "civil_costs",
    "civil_cost_names",
    "supply_costs",
    "parameters",
    *DISPATCH_TABLES,
)
"""The non-spatial tables, the format's then heatnet's own (the dispatch tables, all optional)."""
_SQLITE_SIDE_FILES = ("-wal", "-journal")
"""Side files holding data not yet in the database file; ``-shm`` is only an index of ``-wal``."""
_READ_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError)
_WKB_TYPES = {
    1: "Point", 2: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
    6: "MultiPolygon", 7: "GeometryCollection", 8: "CircularString", 9: "CompoundCurve",
    10: "CurvePolygon", 11: "MultiCurve", 12: "MultiSurface", 13: "Curve", 14: "Surface",
    15: "PolyhedralSurface", 16: "TIN", 17: "Triangle",
}  # fmt: skip
ARC_STEP_DEGREES = 1.0
"""Curves are read as straight segments spanning at most this much arc (GDAL's default is 4°).

A chord of 1° lies within R·(1 − cos 0.5°) ≈ 0.0038 % of the arc's radius R of the arc (4 mm on
a 100 m bend) and is ≈ 0.0013 % shorter than it; the ends of every curve are kept exactly.
"""
_LINEARISED = (
    f"its arcs were read as straight segments of at most {ARC_STEP_DEGREES:g}° of arc "
    "(within 0.004 % of each arc's radius of the arc, and at most 0.002 % shorter), as heatnet "
    "works with straight lines; the output holds the segments"
)


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
        Problems found while reading (missing or unreadable layers, malformed CSV).
    damaged
        Layers and tables that could not be read completely (their issues say why): a reference
        into one is not checked, since the row it names may be the one that could not be read.
    geometry_notes
        Per layer, by fid, features whose stored geometry was read as something else:
        ``("linearised_geometry", message)`` for a curve read as straight segments (a
        warning), or ``("bad_geometry_type", message)`` for a type heatnet cannot read at all
        (a TIN, a polyhedral surface; an error, and the frame's geometry is ``None``).
    """

    source: Path
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame | None]
    tables: Mapping[str, pd.DataFrame | None]
    origins: Mapping[str, Path]
    row_kinds: Mapping[str, RowKind]
    issues: tuple[Issue, ...]
    damaged: frozenset[str] = frozenset()
    geometry_notes: Mapping[str, Mapping[int, tuple[str, str]]] = field(default_factory=dict)


def _unreadable(path: Path, why: str) -> ValidationError:
    return ValidationError([error("unreadable_input", "input", f"{path}: {why}")])


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """The file to read for ``path``: itself, or a private copy when SQLite side files exist.

    GDAL would checkpoint a ``-wal`` into the file when it closes it (see the module notes);
    the copy (database, ``-wal`` and ``-journal``, never the ``-shm`` index, which SQLite
    rebuilds) is read instead and removed when the context ends. Use it around every GDAL read
    of a GeoPackage heatnet must not change.

    Raises
    ------
    ValidationError
        When the copy cannot be made (``unreadable_input``).
    """
    sides = [side for side in _SQLITE_SIDE_FILES if Path(f"{path}{side}").is_file()]
    if not sides or not path.is_file():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="heatnet-read-") as folder:
        copy = Path(folder) / path.name
        try:
            shutil.copyfile(path, copy)
            for side in sides:
                shutil.copyfile(f"{path}{side}", f"{copy}{side}")
        except OSError as exc:
            why = f"cannot copy it (and its {', '.join(sides)}) to read it unchanged: {exc}"
            raise _unreadable(path, why) from exc
        log.info("%s has a %s file: reading a copy so it stays untouched", path, "/".join(sides))
        yield copy


def _explain(exc: Exception, readable: Path, shown: Path) -> str:
    """A read error's text about ``shown`` (not the private copy), with a hint for damage."""
    why = str(exc).replace(str(readable), str(shown))
    if "malformed" in why or "not a database" in why:
        why += (
            " — the file is damaged: restore it from a backup, or try "
            f"sqlite3 {shown.name} .recover"
        )
    return why


def _gpkg_layers(path: Path, readable: Path) -> dict[str, str | None]:
    """Layer names of a GeoPackage with their geometry type; refuses anything else.

    ``path`` is the file named by the user (checked and named in errors); ``readable`` is what
    is opened: the file itself, or its private copy when it has SQLite side files.
    """
    if not path.exists():
        raise _unreadable(path, "file not found")
    if not path.is_file():
        raise _unreadable(path, "not a file")
    with path.open("rb") as handle:
        if handle.read(16) != _SQLITE_MAGIC:
            raise _unreadable(path, "not a GeoPackage (not an SQLite file)")
    try:
        listed = pyogrio.list_layers(readable)
        driver = (
            pyogrio.read_info(readable, layer=listed[0][0])["driver"] if len(listed) else "GPKG"
        )
    except _READ_ERRORS as exc:
        why = _explain(exc, readable, path)
        raise _unreadable(path, f"not a readable GeoPackage ({why})") from exc
    if driver != "GPKG":
        raise _unreadable(path, f"not a GeoPackage (GDAL reads it as {driver})")
    return {str(name): (None if kind is None else str(kind)) for name, kind in listed}


def _read_layer(
    readable: Path, name: str, shown: Path
) -> tuple[gpd.GeoDataFrame | pd.DataFrame | None, dict[int, tuple[str, str]], list[Issue]]:
    """A layer or table indexed by fid, notes on geometries read as something else, any error."""
    notes: dict[int, tuple[str, str]] = {}
    try:
        try:
            frame = pyogrio.read_dataframe(readable, layer=name, fid_as_index=True, use_arrow=True)
            curved = _collection_holds_curves(frame)
        except (NotImplementedError, shapely.errors.ShapelyError):
            curved = True
        if curved:
            frame, notes = _read_odd_geometries(readable, name)
    except _READ_ERRORS as exc:
        message = f"{shown}: '{name}' cannot be read ({_explain(exc, readable, shown)})"
        return None, {}, [error("unreadable_input", name, message)]
    frame.index = frame.index.astype("int64")
    return frame, notes, []


def _read_odd_geometries(
    path: Path, name: str
) -> tuple[gpd.GeoDataFrame, dict[int, tuple[str, str]]]:
    """A layer holding geometries shapely cannot (curves), each noted (see ``geometry_notes``).

    Curves are read as GDAL linearises them (:data:`ARC_STEP_DEGREES`); a type that is still
    unreadable then becomes ``None``. Only taken when the fast read fails, so the usual input
    pays nothing for it.
    """
    frame = pyogrio.read_dataframe(
        path, layer=name, fid_as_index=True, use_arrow=True, read_geometry=False
    )
    frame.index = frame.index.astype("int64")
    meta, table = pyogrio.read_arrow(path, layer=name, columns=[], return_fids=True)
    stored = dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))
    previous = pyogrio.get_gdal_config_option("OGR_ARC_STEPSIZE")
    pyogrio.set_gdal_config_options({"OGR_ARC_STEPSIZE": str(ARC_STEP_DEGREES)})
    try:
        _, fids, linear, _ = pyogrio.raw.read(path, layer=name, columns=[], return_fids=True)
    finally:
        pyogrio.set_gdal_config_options({"OGR_ARC_STEPSIZE": previous})
    geoms = np.full(len(fids), None, dtype=object)
    notes: dict[int, tuple[str, str]] = {}
    for pos, (fid, flat) in enumerate(zip(fids, linear, strict=True)):
        blob = stored.get(int(fid))
        if blob is not None and flat is not None:
            geoms[pos], note = _parse_wkb(bytes(blob), bytes(flat))
            if note is not None:
                notes[int(fid)] = note
    series = gpd.GeoSeries(geoms, index=pd.Index(fids, dtype="int64"), crs=meta["crs"])
    return gpd.GeoDataFrame(frame, geometry=series.reindex(frame.index)), notes


def _holds_curves(geom: shapely.Geometry) -> bool:
    """Whether a geometry collection holds a curve, however deeply (shapely reads those)."""
    try:
        parts = shapely.get_parts(geom)
    except NotImplementedError:  # shapely makes no object of a curve
        return True
    return any(_holds_curves(part) for part in parts if shapely.get_type_id(part) == 7)


def _collection_holds_curves(frame: pd.DataFrame) -> bool:
    """Whether any geometry of a layer read by the fast path is a collection holding curves."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return False
    geoms = frame.geometry.to_numpy()
    collections = geoms[np.asarray(shapely.get_type_id(geoms)) == 7]
    return any(_holds_curves(geom) for geom in collections)


def _parse_wkb(blob: bytes, flat: bytes) -> tuple[shapely.Geometry | None, tuple[str, str] | None]:
    """A stored geometry (or its linearised form, ``flat``) and a note when it is not as stored."""

    def unreadable(why: str) -> tuple[None, tuple[str, str]]:
        message = f"geometry is a {_wkb_name(blob)}, which heatnet cannot read ({why})"
        return None, ("bad_geometry_type", message)

    try:
        geom = shapely.from_wkb(blob)
    except NotImplementedError:  # a curve
        geom = None
    except shapely.errors.ShapelyError as exc:
        return unreadable(str(exc))
    if geom is not None and not (shapely.get_type_id(geom) == 7 and _holds_curves(geom)):
        return geom, None
    try:
        linear = shapely.from_wkb(flat)
    except (NotImplementedError, shapely.errors.ShapelyError) as exc:
        return unreadable(str(exc))
    if shapely.get_type_id(linear) == 7 and _holds_curves(linear):  # GDAL leaves those curved
        return unreadable("it holds curves; a layer holds points, lines or polygons")
    return linear, ("linearised_geometry", f"geometry is a {_wkb_name(blob)}: {_LINEARISED}")


def _wkb_name(blob: bytes) -> str:
    """The geometry type a WKB (ISO or extended) holds, e.g. ``CircularString Z``."""
    if len(blob) < 5 or blob[0] not in (0, 1):
        return "geometry of unknown type"
    code = struct.unpack("<I" if blob[0] == 1 else ">I", blob[1:5])[0]
    iso = code & 0x0FFFFFFF
    kind, dims = iso % 1000, iso // 1000
    z = dims in (1, 3) or bool(code & 0x80000000)
    m = dims in (2, 3) or bool(code & 0x40000000)
    suffix = f" {'Z' * z}{'M' * m}" if z or m else ""
    return _WKB_TYPES.get(kind, f"geometry of WKB type {kind}") + suffix


def _missing(name: str, available: list[str], where: Path) -> Issue:
    close = difflib.get_close_matches(name, available, n=1, cutoff=0.7)
    lowered = {a.lower(): a for a in available}
    hint = close[0] if close else lowered.get(name.lower())
    tip = f" (found '{hint}': the name must match exactly)" if hint else ""
    return error("missing_layer", name, f"layer '{name}' is missing from {where.name}{tip}")


def read_inputs(
    path: Path, *, tables: Path | None = None, mapping: LayerMapping | None = None
) -> RawInputs:
    """Read every layer and table heatnet uses.

    Parameters
    ----------
    path
        The input GeoPackage with ``buildings``, ``paths`` and ``supplies`` layers and, usually,
        the non-spatial tables.
    tables
        Optional second source for the non-spatial tables: a GeoPackage or a folder of
        ``<table>.csv`` files. A table found there is used instead of the input's own.
    mapping
        Where layers and tables come from and how their columns are named
        (:mod:`heatnet.inputs.mapping`); with one, ``path`` may be any source GDAL reads.

    Returns
    -------
    RawInputs
        The frames as stored, with read problems as issues.

    Raises
    ------
    ValidationError
        When ``path`` (or ``tables``) is not a readable GeoPackage or folder at all.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        # pyogrio warns that it lists a PointM layer as Point: validation reports M (dropped_m)
        warnings.filterwarnings("ignore", "Measured \\(M\\) geometry types", UserWarning)
        readable = {path: stack.enter_context(read_only(path))}
        if mapping is None:
            available = _gpkg_layers(path, readable[path])
        else:
            available = _source_layers(path, readable[path])
            for table in mapping.tables.values():
                if table.file is not None and table.file not in readable:
                    readable[table.file] = stack.enter_context(read_only(table.file))
        extra: dict[str, Path] = {}
        if tables is not None:
            readable[tables] = stack.enter_context(read_only(tables))
            extra = _table_source(tables, readable[tables])
        return _read_all(path, available, extra, readable, mapping)


@dataclass(slots=True)
class _Read:
    """What :func:`_read_all` gathers, layer by layer and table by table."""

    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame | None] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    origins: dict[str, Path] = field(default_factory=dict)
    row_kinds: dict[str, RowKind] = field(default_factory=dict)
    damaged: set[str] = field(default_factory=set)
    notes: dict[str, Mapping[int, tuple[str, str]]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def keep(
        self,
        name: str,
        frame: pd.DataFrame | None,
        origin: Path,
        kind: RowKind,
        found: list[Issue],
        *,
        broken: bool,
    ) -> None:
        (self.layers if name in LAYERS else self.frames)[name] = frame
        self.origins[name], self.row_kinds[name] = origin, kind
        self.issues += found
        if broken:
            self.damaged.add(name)


def _read_all(
    path: Path,
    available: Mapping[str, str | None],
    extra: Mapping[str, Path],
    readable: Mapping[Path, Path],
    mapping: LayerMapping | None = None,
) -> RawInputs:
    """Read every layer and table, each from the file ``readable`` maps its source to."""
    read = _Read()
    for name in (*LAYERS, *TABLES):
        mapped = mapping.get(name) if mapping is not None else None
        if mapped is not None:
            origin = mapped.file or path
            frame, notes, found = _read_mapped(mapped, readable[origin], origin, available)
            read.keep(name, frame, origin, "fid", found, broken=frame is None or bool(found))
            if notes:
                read.notes[name] = notes
    for name in LAYERS:
        if name in read.origins:
            continue  # mapped
        read.layers[name] = None
        if name not in available:
            read.issues.append(_missing(name, list(available), path))
            continue
        layer, notes, found = _read_layer(readable[path], name, path)
        read.keep(name, layer, path, "fid", found, broken=bool(found))
        if notes:
            read.notes[name] = notes
    for name in TABLES:
        if name not in read.origins:
            _read_table(read, name, extra.get(name, path if name in available else None), readable)
    return RawInputs(
        path,
        read.layers,
        read.frames,
        read.origins,
        read.row_kinds,
        tuple(read.issues),
        damaged=frozenset(read.damaged),
        geometry_notes=read.notes,
    )


def _read_table(read: _Read, name: str, origin: Path | None, readable: Mapping[Path, Path]) -> None:
    """One non-spatial table from its file (a GeoPackage or a CSV), or absent."""
    read.frames[name] = None
    if origin is None:
        return
    if origin.suffix.lower() == ".csv" and origin not in readable:
        frame, found, broken = read_csv(origin, name)
        read.keep(name, frame, origin, "line", found, broken=broken)
    else:
        frame, _, found = _read_layer(readable[origin], name, origin)
        read.keep(name, frame, origin, "fid", found, broken=bool(found))
    if frame is not None:
        log.debug("read %s from %s (%d rows)", name, origin, len(frame))


def _source_layers(path: Path, readable: Path) -> dict[str, str | None]:
    """Layer names of any source GDAL reads (a mapped input), with their geometry type."""
    if not path.exists():
        raise _unreadable(path, "file not found")
    try:
        listed = pyogrio.list_layers(readable)
    except _READ_ERRORS as exc:
        raise _unreadable(path, f"not readable by GDAL ({_explain(exc, readable, path)})") from exc
    return {str(name): (None if kind is None else str(kind)) for name, kind in listed}


def _read_mapped(
    table: TableMap, readable: Path, origin: Path, input_layers: Mapping[str, str | None]
) -> tuple[pd.DataFrame | None, dict[int, tuple[str, str]], list[Issue]]:
    """A mapped layer or table: read from its source, then renamed (:mod:`.mapping`)."""
    names = list(input_layers) if table.file is None else list(_source_layers(origin, readable))
    layer = table.layer
    if layer is None:
        layer = table.name if table.name in names or len(names) != 1 else names[0]
    if layer not in names:
        message = (
            f"{origin} has no layer {layer!r} for {table.name} (the mapping's"
            f" [{table.name}]; it has: {', '.join(names) or 'none'})"
        )
        return None, {}, [error("missing_layer", table.name, message)]
    frame, notes, found = _read_layer(readable, layer, origin)
    if frame is None:
        return None, notes, found
    mapped, more = apply_mapping(frame, table, f"{origin.name}:{layer}")
    log.debug("read %s from %s:%s (%d rows, mapped)", table.name, origin, layer, len(frame))
    return mapped, notes, found + more


def _table_source(source: Path, readable: Path) -> dict[str, Path]:
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
    available = _gpkg_layers(source, readable)
    return {name: source for name in TABLES if name in available}
