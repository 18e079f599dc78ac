"""Geometry and CRS checks for the spatial layers.

Polygons that are invalid are repaired (with a warning) because a self-touching building outline
is common and harmless to fix; lines are never changed silently, because a path's shape is what
the network is built from.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Proj, Transformer

from heatnet.core.issues import Issue, Severity, error, warning
from heatnet.inputs.checker import RowContext

log = logging.getLogger(__name__)

_POLYGONAL = frozenset({"Polygon", "MultiPolygon"})


def check_geometry(
    layer: gpd.GeoDataFrame,
    allowed: tuple[str, ...],
    ctx: RowContext,
    notes: Mapping[int, tuple[str, str]] | None = None,
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Check every active feature's geometry: present, non-empty, allowed type, valid.

    Parameters
    ----------
    layer
        The layer as read; not modified.
    allowed
        Allowed geometry types (from the schema's ``x-geometry``).
    ctx
        Row ids and the rows to validate.
    notes
        Features whose stored geometry was read as something else, by fid: ``(code,
        message)`` (:attr:`heatnet.inputs.load.RawInputs.geometry_notes`). Reported on every row,
        forbidden ones too (they are written back out): ``linearised_geometry`` (a curve read
        as straight segments) as a warning, anything else (geometry unreadable, ``None``) as an
        error.

    Returns
    -------
    tuple
        A copy with Z and M dropped and invalid polygons repaired, and the issues found.
    """
    issues: list[Issue] = []
    out = layer.copy()
    geoms = out.geometry.to_numpy()
    active = ctx.active.to_numpy(dtype=bool)
    index = out.index
    lost = []
    for row, (code, message) in (notes or {}).items():
        severity = Severity.WARNING if code == "linearised_geometry" else Severity.ERROR
        issues.append(ctx.issue(code, row, message, "geometry", severity))
        if severity is Severity.ERROR:
            lost.append(row)
    active = active & ~np.asarray(index.isin(lost), dtype=bool)

    def report(mask: np.ndarray, code: str, message: str) -> None:
        for row in index[mask & active]:
            issues.append(ctx.issue(code, row, message, column="geometry"))

    missing = shapely.is_missing(geoms)
    report(missing, "missing_geometry", "has no geometry")
    empty = ~missing & shapely.is_empty(geoms)
    report(empty, "empty_geometry", "has an empty geometry")
    present = ~missing & ~empty
    types = np.asarray(shapely.get_type_id(geoms))
    names = np.array(
        [
            "Point",
            "LineString",
            "LinearRing",
            "Polygon",
            "MultiPoint",
            "MultiLineString",
            "MultiPolygon",
            "GeometryCollection",
        ]
    )
    kind = np.where(types >= 0, names[np.clip(types, 0, 7)], "")
    wrong = present & ~np.isin(kind, allowed)
    for row in index[wrong & active]:
        found = kind[index.get_loc(row)]
        message = f"geometry is a {found}; allowed: {', '.join(allowed)}"
        issues.append(ctx.issue("bad_geometry_type", row, message, column="geometry"))
    usable = present & ~wrong
    bounds = shapely.bounds(geoms)
    report(
        usable & ~np.isfinite(bounds).all(axis=1), "invalid_geometry", "has non-finite coordinates"
    )
    # every row, forbidden and wrong-typed ones too: all are written back, and M cannot be
    has_z = bool(shapely.has_z(geoms[present]).any())
    measured = shapely.has_m(geoms[present])
    has_m = bool(measured.any())
    if has_z:
        issues.append(
            warning(
                "dropped_z",
                ctx.table,
                "Z coordinates were dropped (heatnet works in 2D)",
                column="geometry",
            )
        )
    if has_m:
        issues.append(
            warning(
                "dropped_m",
                ctx.table,
                f"M (measure) values of {int(measured.sum())} feature(s) were dropped: heatnet "
                "does not use them, and the output is written without them",
                column="geometry",
            )
        )
    if has_z or has_m:
        geoms = shapely.force_2d(geoms)
    finite = usable & np.isfinite(bounds).all(axis=1)
    valid = np.ones(len(geoms), dtype=bool)
    valid[finite] = shapely.is_valid(geoms[finite])
    invalid = finite & ~valid
    geoms = _repair(geoms, invalid & active & np.isin(kind, list(_POLYGONAL)), ctx, issues)
    for row in index[invalid & active & ~np.isin(kind, list(_POLYGONAL))]:
        reason = shapely.is_valid_reason(geoms[index.get_loc(row)])
        issues.append(
            ctx.issue(
                "invalid_geometry",
                row,
                f"geometry is invalid ({reason}); lines are never repaired",
                column="geometry",
            )
        )
    out[out.geometry.name] = gpd.GeoSeries(geoms, index=index, crs=layer.crs)
    return out, issues


def _repair(
    geoms: np.ndarray, mask: np.ndarray, ctx: RowContext, issues: list[Issue]
) -> np.ndarray:
    """Make invalid polygons valid (structure method keeps holes and drops collapsed parts)."""
    if not mask.any():
        return geoms
    geoms = geoms.copy()
    where = np.flatnonzero(mask)
    reasons = shapely.is_valid_reason(geoms[where])
    fixed = shapely.make_valid(geoms[where], method="structure", keep_collapsed=False)
    for pos, reason, geom in zip(where, reasons, fixed, strict=True):
        row = ctx.ids.index[int(pos)]
        if geom is None or geom.is_empty or geom.geom_type not in _POLYGONAL:
            issues.append(
                ctx.issue(
                    "invalid_geometry",
                    row,
                    f"polygon is invalid ({reason}) and cannot be repaired",
                    column="geometry",
                )
            )
            continue
        geoms[pos] = geom
        message = f"invalid polygon ({reason}) was repaired"
        issues.append(ctx.issue("repaired_geometry", row, message, "geometry", Severity.WARNING))
    return geoms


def missing_crs(layers: Mapping[str, pd.DataFrame | None]) -> list[Issue]:
    """A ``missing_crs`` error for every layer read without a CRS (absent layers skipped)."""
    return [
        error("missing_crs", name, f"layer '{name}' has no coordinate reference system")
        for name, layer in layers.items()
        if isinstance(layer, gpd.GeoDataFrame) and layer.crs is None
    ]


def harmonise_crs(
    layers: Mapping[str, gpd.GeoDataFrame],
) -> tuple[dict[str, gpd.GeoDataFrame], CRS | None, CRS | None, list[Issue]]:
    """Bring every layer into one metric CRS for geometry work.

    Every layer must carry a CRS. Layers in another CRS than the buildings are reprojected to it
    (warning); a geographic (or non-metre) CRS, or a metric one whose scale at the data is off
    by more than :data:`MAX_SCALE_ERROR` (Web Mercator), is replaced for geometry work by the
    local UTM zone (warning).

    Parameters
    ----------
    layers
        ``buildings``, ``paths``, ``supplies`` as read.

    Returns
    -------
    tuple
        The layers in the work CRS, the input CRS (outputs are written in it), the work CRS, and
        the issues found. Both CRSs are ``None`` when a layer has none.
    """
    issues = missing_crs(layers)
    if issues:
        return dict(layers), None, None, issues
    input_crs = CRS.from_user_input(layers["buildings"].crs)
    out = {}
    for name, layer in layers.items():
        if not CRS.from_user_input(layer.crs).equals(input_crs):
            issues.append(
                warning(
                    "reprojected_layer",
                    name,
                    f"layer '{name}' is in {layer.crs.to_string()}; reprojected to the buildings' {input_crs.to_string()}",
                )
            )
            layer = layer.to_crs(input_crs)
        out[name] = layer
    work_crs = input_crs
    sample = pd.concat([out["buildings"].geometry, out["paths"].geometry]).dropna()
    sample = sample[~sample.is_empty]
    metric = _is_metric(input_crs)
    error_here = _scale_error(input_crs, sample) if metric else 0.0
    if (not metric or error_here > MAX_SCALE_ERROR) and len(sample):
        work_crs = gpd.GeoSeries(sample, crs=input_crs).estimate_utm_crs()
        why = (
            "is not in metres"
            if not metric
            else f"stretches lengths by {100 * error_here:.1f} % here (more than "
            f"{100 * MAX_SCALE_ERROR:g} %)"
        )
        issues.append(
            warning(
                "projected_to_utm",
                "buildings",
                f"{input_crs.to_string()} {why}: geometry work uses {work_crs.to_string()}; "
                f"outputs keep {input_crs.to_string()}",
            )
        )
        out = {name: layer.to_crs(work_crs) for name, layer in out.items()}
    return out, input_crs, work_crs, issues


MAX_SCALE_ERROR = 0.005
"""A metric CRS whose scale at the data is off by more than this (Web Mercator: 1/cos(latitude),
56 % at 50° N) is replaced by the local UTM zone for geometry work, like a geographic one."""


def _scale_error(crs: CRS, sample: gpd.GeoSeries) -> float:
    """How far the CRS's scale is from 1 at the data (the worse of meridian and parallel).

    Read at the corners and centre of the data's extent from the projection's own factors; 0
    when they cannot be computed (then the CRS is trusted, as before).
    """
    if not len(sample):
        return 0.0
    x0, y0, x1, y1 = gpd.GeoSeries(sample, crs=crs).total_bounds
    xs = np.array([x0, x1, x0, x1, (x0 + x1) / 2])
    ys = np.array([y0, y0, y1, y1, (y0 + y1) / 2])
    try:
        lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xs, ys)
        factors = Proj(crs).get_factors(lon, lat)
        scales = np.r_[factors.meridional_scale, factors.parallel_scale]
    except Exception:  # pyproj raises many kinds; an unknown scale is trusted
        log.debug("no scale factors for %s", crs.to_string())
        return 0.0
    scales = scales[np.isfinite(scales)]
    return float(np.abs(scales - 1.0).max()) if len(scales) else 0.0


def _is_metric(crs: CRS) -> bool:
    if not crs.is_projected:
        return False
    units = {axis.unit_name.lower() for axis in crs.axis_info}
    return units <= {"metre", "meter", "m"}
