"""Default QGIS styles for the output layers, stored in the GeoPackage's ``layer_styles`` table.

QGIS opens a GeoPackage layer with the row of ``layer_styles`` marked ``useAsDefault`` for it, so
the output shows the design straight away (docs/decisions.md §5): pipes coloured and sized by
``diameter_mm``, connectors dashed, paths outside the network faint, buildings and supplies by
``in_network``. The styles are QML (QGIS 3.22 and later) built with ElementTree, so every value
is escaped; ``layer_styles`` has exactly the columns QGIS 3.22 itself creates (through GDAL) and
is registered in ``gpkg_contents``, without which QGIS ignores it.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from heatnet.core import palette
from heatnet.core.errors import HeatnetError

logger = logging.getLogger(__name__)

SymbolKind = Literal["marker", "line", "fill"]

STYLE_NAME = "heatnet"
"""``styleName`` of the rows written here; rewriting a file replaces them."""

_KEYS = uuid.UUID("0b7c6a55-2f1e-4d8e-9a51-6f3f4d1c2b7a")
# QGIS's own layerGeometryType codes (QgsWkbTypes::GeometryType).
_GEOMETRY_CODES: dict[SymbolKind, int] = {"marker": 0, "line": 1, "fill": 2}
_DEFAULT_KINDS: dict[str, SymbolKind] = {"paths": "line", "buildings": "fill", "supplies": "marker"}

# Colours, diameter classes and widths: heatnet.core.palette, shared with the PNG and HTML map.
_UNREACHABLE = palette.rgba(palette.UNREACHABLE)

# Columns and DDL exactly as QGIS 3.22 creates them (saveStyleToDatabase through GDAL's GPKG
# driver); the triggers keep GDAL's cached feature count in gpkg_ogr_contents right.
_LAYER_STYLES_DDL = (
    'CREATE TABLE IF NOT EXISTS "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,'
    ' "f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256),'
    ' "f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT,'
    ' "useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30),'
    " \"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))",
    'CREATE TRIGGER IF NOT EXISTS "trigger_insert_feature_count_layer_styles" AFTER INSERT ON'
    ' "layer_styles" BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count + 1'
    " WHERE lower(table_name) = lower('layer_styles'); END",
    'CREATE TRIGGER IF NOT EXISTS "trigger_delete_feature_count_layer_styles" AFTER DELETE ON'
    ' "layer_styles" BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count - 1'
    " WHERE lower(table_name) = lower('layer_styles'); END",
)


@dataclass(frozen=True, slots=True)
class _Look:
    """How one symbol looks: colours as ``r,g,b,a``, widths and sizes in mm."""

    color: str
    stroke: str = "0,0,0,0"
    width: float = 0.26
    style: str = "solid"
    shape: str = "circle"
    size: float = 2.0
    stroke_expression: str | None = None
    width_expression: str | None = None
    centroid: _Look | None = None  # fills only: a marker drawn at the centroid as well


def symbol_kind(geometry_type: str) -> SymbolKind | None:
    """The QGIS symbol kind that draws a geometry type.

    Parameters
    ----------
    geometry_type
        A geometry type name as shapely, pyogrio or ``gpkg_geometry_columns`` spell it
        (``"LineString"``, ``"MultiPolygon"``, ``"POINT"``, ``"Point Z"``, ...).

    Returns
    -------
    SymbolKind or None
        ``"marker"``, ``"line"`` or ``"fill"``; None for an unknown or mixed type.
    """
    name = geometry_type.upper()
    if "COLLECTION" in name:
        return None
    kinds: tuple[tuple[str, SymbolKind], ...] = (
        ("POINT", "marker"),
        ("LINESTRING", "line"),
        ("POLYGON", "fill"),
    )
    return next((kind for token, kind in kinds if token in name), None)


def _data_defined(element: ET.Element, expressions: Mapping[str, str]) -> None:
    outer = ET.SubElement(ET.SubElement(element, "data_defined_properties"), "Option", type="Map")
    ET.SubElement(outer, "Option", type="QString", name="name", value="")
    properties = ET.SubElement(outer, "Option", type="Map", name="properties")
    for key, expression in expressions.items():
        prop = ET.SubElement(properties, "Option", type="Map", name=key)
        ET.SubElement(prop, "Option", type="bool", name="active", value="true")
        ET.SubElement(prop, "Option", type="QString", name="expression", value=expression)
        ET.SubElement(prop, "Option", type="int", name="type", value="3")
    ET.SubElement(outer, "Option", type="QString", name="type", value="collection")


def _symbol_layer(
    symbol: ET.Element, cls: str, props: Mapping[str, str], look: _Look
) -> ET.Element:
    element = ET.SubElement(symbol, "layer", {"class": cls, "enabled": "1", "locked": "0"})
    element.set("pass", "0")
    options = ET.SubElement(element, "Option", type="Map")
    for key, value in props.items():
        ET.SubElement(options, "Option", type="QString", name=key, value=value)
    expressions = {"outlineColor": look.stroke_expression, "outlineWidth": look.width_expression}
    _data_defined(element, {k: v for k, v in expressions.items() if v is not None})
    return element


def _symbol(name: str, kind: SymbolKind, look: _Look) -> ET.Element:
    symbol = ET.Element("symbol", type=kind, name=name, alpha="1", clip_to_extent="1")
    symbol.set("force_rhr", "0")
    stroke = {"outline_color": look.stroke, "outline_width": f"{look.width:g}"}
    stroke |= {"outline_width_unit": "MM", "outline_style": look.style, "joinstyle": "round"}
    if kind == "line":
        line = {"line_color": look.color, "line_width": f"{look.width:g}", "capstyle": "round"}
        line |= {"line_width_unit": "MM", "line_style": look.style, "joinstyle": "round"}
        _symbol_layer(symbol, "SimpleLine", line, look)
    elif kind == "fill":
        _symbol_layer(symbol, "SimpleFill", {"color": look.color, "style": "solid", **stroke}, look)
        if look.centroid is not None:
            centre = {"point_on_surface": "1", "point_on_all_parts": "0", "clip_points": "0"}
            layer = _symbol_layer(symbol, "CentroidFill", centre, _Look(""))
            layer.append(_symbol(f"@{name}@1", "marker", look.centroid))
    else:
        marker = {"name": look.shape, "color": look.color, "size": f"{look.size:g}"}
        _symbol_layer(symbol, "SimpleMarker", {**marker, "size_unit": "MM", **stroke}, look)
    return symbol


def _renderer(kind: str, symbols: Iterable[ET.Element], **attributes: str) -> ET.Element:
    renderer = ET.Element("renderer-v2", type=kind, symbollevels="0", forceraster="0")
    renderer.attrib |= {"referencescale": "-1", "enableorderby": "0", **attributes}
    ET.SubElement(renderer, "symbols").extend(symbols)
    return renderer


def _document(kind: SymbolKind, renderer: ET.Element, labeling: ET.Element | None = None) -> str:
    categories = "Symbology" if labeling is None else "Symbology|Labeling"
    labels = "0" if labeling is None else "1"
    root = ET.Element("qgis", version="3.22.0", styleCategories=categories, labelsEnabled=labels)
    root.append(renderer)
    if labeling is not None:
        root.append(labeling)
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    # QGIS refuses a style whose geometry type differs from the layer's instead of drawing nothing
    ET.SubElement(root, "layerGeometryType").text = str(_GEOMETRY_CODES[kind])
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n{body}\n"


def _rule(parent: ET.Element, label: str, expression: str, symbol: str | None) -> ET.Element:
    # deterministic, and unique across the tree: a child's key hashes its parent's key too
    key = "{" + str(uuid.uuid5(_KEYS, f"{parent.get('key')}|{label}|{expression}")) + "}"
    rule = ET.SubElement(parent, "rule", key=key, label=label, filter=expression)
    if symbol is not None:
        rule.set("symbol", symbol)
    return rule


def _diameter_rules(parent: ET.Element, prefix: str, style: str) -> list[ET.Element]:
    symbols = []
    lower: float | None = None
    for index, (upper, colour, width) in enumerate(palette.PIPE_CLASSES):
        above = "" if lower is None else f'"diameter_mm" > {lower:g}'
        below = "" if upper is None else f'"diameter_mm" <= {upper:g}'
        name = f"{prefix}-{index}"
        _rule(
            parent, palette.class_label(index), " AND ".join(s for s in (above, below) if s), name
        )
        look = _Look(palette.rgba(colour), width=width, style=style)
        symbols.append(_symbol(name, "line", look))
        lower = upper
    name = f"{prefix}-unknown"
    _rule(parent, "DN unknown", '"diameter_mm" IS NULL', name)
    unknown = _Look(palette.rgba(palette.PIPE_UNKNOWN), width=0.6, style=style)
    symbols.append(_symbol(name, "line", unknown))
    return symbols


def paths_qml() -> str:
    """The default style of the ``paths`` layer: a rule-based renderer.

    Pipes in the network are drawn in seven ``diameter_mm`` classes (≤ 32, 50, 80, 125, 200,
    300 mm and above), thin and light to thick and dark; connectors use the same classes
    dashed (:data:`heatnet.core.palette.PIPE_CLASSES`: light blue to dark blue). Paths outside
    the network are thin, grey and half transparent; unreachable ones are dotted. Features are drawn in increasing diameter, so big mains stay
    on top.

    Returns
    -------
    str
        The QML document.
    """
    rules = ET.Element("rules", key="{" + str(uuid.uuid5(_KEYS, "paths")) + "}")
    network = 'coalesce("in_network", false)'
    outside = f'NOT {network} AND NOT coalesce("unreachable", false)'
    _rule(rules, "Not in network", outside, "outside")
    unreachable = f'NOT {network} AND coalesce("unreachable", false)'
    _rule(rules, "Unreachable", unreachable, "unreachable")
    mains = _rule(rules, "Pipes", f'{network} AND NOT coalesce("connector", false)', None)
    connectors = _rule(rules, "Connectors", f'{network} AND coalesce("connector", false)', None)
    symbols = [
        _symbol("outside", "line", _Look(palette.rgba(palette.PATH_UNUSED, 110), width=0.25)),
        _symbol(
            "unreachable",
            "line",
            _Look(palette.rgba(palette.PATH_UNREACHABLE, 150), width=0.35, style="dot"),
        ),
        *_diameter_rules(mains, "pipe", "solid"),
        *_diameter_rules(connectors, "connector", "dash"),
    ]
    renderer = _renderer("RuleRenderer", symbols, enableorderby="1")
    renderer.insert(0, rules)
    order = ET.SubElement(renderer, "orderby")
    ET.SubElement(
        order, "orderByClause", asc="1", nullsFirst="1"
    ).text = 'coalesce("diameter_mm", 0)'
    return _document("line", renderer, _diameter_labels())


LABEL_MAX_SCALE = 5000
"""Pipe diameters are labelled at street scale: 1:5,000 and closer."""
LABEL_TEXT = (
    'if(coalesce("in_network", false) AND NOT coalesce("connector", false) '
    "AND \"diameter_mm\" IS NOT NULL, 'DN ' || format_number(\"diameter_mm\", 0), '')"
)
"""The label of a pipe: ``DN 80`` for a main in the network; nothing for anything else."""


def _diameter_labels() -> ET.Element:
    """Simple labelling along the pipes, shown from 1:5,000 in (as QGIS 3.22 writes it)."""
    labeling = ET.Element("labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    text = ET.SubElement(
        settings, "text-style", fieldName=LABEL_TEXT, isExpression="1", fontSize="8",
        fontSizeUnit="Point", textColor=palette.rgba(palette.PIPE_CLASSES[-2].colour),
        textOpacity="1", fontWeight="50",
    )  # fmt: skip
    ET.SubElement(
        text, "text-buffer", bufferDraw="1", bufferSize="0.8", bufferSizeUnits="MM",
        bufferColor="255,255,255,255", bufferOpacity="1", bufferNoFill="1",
    )  # fmt: skip
    ET.SubElement(settings, "placement", placement="2", dist="0", repeatDistance="0")
    ET.SubElement(
        settings, "rendering", scaleVisibility="1", scaleMin="1",
        scaleMax=str(LABEL_MAX_SCALE), obstacle="1", drawLabels="1", mergeLines="0",
    )  # fmt: skip
    return labeling


def _categorized(
    kind: SymbolKind, looks: Mapping[str, tuple[str, _Look]], attribute: str = "in_network"
) -> str:
    categories = ET.Element("categories")
    symbols = []
    for index, (value, (label, look)) in enumerate(looks.items()):
        attributes = {"render": "true", "symbol": str(index), "value": value, "label": label}
        ET.SubElement(categories, "category", attributes)
        symbols.append(_symbol(str(index), kind, look))
    renderer = _renderer("categorizedSymbol", symbols, attr=attribute)
    renderer.insert(0, categories)
    return _document(kind, renderer)


def buildings_qml(geometry_type: str) -> str:
    """The default style of the ``buildings`` layer, categorised by ``in_network``.

    Light fills so that pipes read across them: pale orange with an orange outline in the
    network, near-white with a grey outline otherwise; unreachable buildings get a thick red
    outline (a data-defined stroke, so the two categories stay the legend).

    Parameters
    ----------
    geometry_type
        The layer's geometry type (polygons or points; anything else is drawn as polygons).

    Returns
    -------
    str
        The QML document.
    """
    kind = symbol_kind(geometry_type) or "fill"
    flagged = 'coalesce("unreachable", false)'
    width = f"if({flagged}, 0.8, 0.3)"

    def look(color: str, stroke: str) -> _Look:
        outline = f"if({flagged}, '{_UNREACHABLE}', '{stroke}')"
        return _Look(
            color, stroke, 0.3, size=2.6, stroke_expression=outline, width_expression=width
        )

    return _categorized(
        kind,
        {
            "true": (
                "In network",
                look(
                    palette.rgba(palette.BUILDING_CONNECTED),
                    palette.rgba(palette.BUILDING_CONNECTED_EDGE),
                ),
            ),
            "false": (
                "Not in network",
                look(
                    palette.rgba(palette.BUILDING_NOT_CONNECTED),
                    palette.rgba(palette.BUILDING_NOT_CONNECTED_EDGE),
                ),
            ),
        },
    )


def supplies_qml(geometry_type: str) -> str:
    """The default style of the ``supplies`` layer, categorised by ``in_network``.

    Points are large stars, red when used by the network and grey otherwise; polygons get
    the same colours as a translucent fill with a heavy outline and the star at their centre.

    Parameters
    ----------
    geometry_type
        The layer's geometry type (points or polygons; anything else is drawn as points).

    Returns
    -------
    str
        The QML document.
    """
    kind = symbol_kind(geometry_type) or "marker"
    red, grey, edge = palette.SUPPLY_USED, palette.SUPPLY_UNUSED, palette.SUPPLY_EDGE
    used = _Look(palette.rgba(red), palette.rgba(edge), 0.6, shape="star", size=7.0)
    unused = _Look(palette.rgba(grey), "110,110,110,255", 0.6, shape="star", size=5.0)
    if kind == "fill":
        used = _Look(palette.rgba(red, 120), palette.rgba(edge), 1.2, centroid=used)
        unused = _Look(palette.rgba(grey, 120), "110,110,110,255", 1.0, centroid=unused)
    return _categorized(kind, {"true": ("In network", used), "false": ("Not used", unused)})


def topology_paths_qml() -> str:
    """The ``paths`` style of a ``heatnet topology`` output: what the network is made of.

    Path pieces dark grey, connectors dashed blue, peripheral pieces (leading nowhere a building
    or supply needs) light grey, unreachable ones dotted red.
    """
    rules = ET.Element("rules", key="{" + str(uuid.uuid5(_KEYS, "topology-paths")) + "}")
    unreachable = 'coalesce("unreachable", false)'
    connector = 'coalesce("connector", false)'
    peripheral = 'coalesce("peripheral", false)'
    _rule(rules, "Unreachable", unreachable, "unreachable")
    _rule(rules, "Connector", f"NOT {unreachable} AND {connector}", "connector")
    _rule(rules, "Peripheral", f"NOT {unreachable} AND NOT {connector} AND {peripheral}", "side")
    _rule(rules, "Path", f"NOT {unreachable} AND NOT {connector} AND NOT {peripheral}", "path")
    blue = palette.rgba(palette.PIPE_CLASSES[2].colour)
    symbols = [
        _symbol("unreachable", "line", _Look(_UNREACHABLE, width=0.45, style="dot")),
        _symbol("connector", "line", _Look(blue, width=0.35, style="dash")),
        _symbol("side", "line", _Look(palette.rgba(palette.PATH_UNUSED, 160), width=0.3)),
        _symbol("path", "line", _Look("60,60,60,255", width=0.5)),
    ]
    renderer = _renderer("RuleRenderer", symbols)
    renderer.insert(0, rules)
    return _document("line", renderer)


def topology_qml(layer: str, geometry_type: str) -> str:
    """The style of a ``heatnet topology`` output layer: paths by role, the rest by reach.

    Raises
    ------
    HeatnetError
        If ``layer`` has no heatnet style.
    """
    if layer == "paths":
        return topology_paths_qml()
    if layer not in ("buildings", "supplies"):
        raise HeatnetError(f"no topology style for layer {layer!r}")
    default: SymbolKind = "fill" if layer == "buildings" else "marker"
    kind = symbol_kind(geometry_type) or default
    edge = palette.rgba(palette.BUILDING_NOT_CONNECTED_EDGE)
    if layer == "buildings":
        reached = _Look(palette.rgba(palette.BUILDING_NOT_CONNECTED), edge, 0.3, size=2.6)
        cut_off = _Look(palette.rgba(palette.UNREACHABLE, 90), _UNREACHABLE, 0.6, size=2.6)
    else:
        red, black = palette.rgba(palette.SUPPLY_USED), palette.rgba(palette.SUPPLY_EDGE)
        grey = palette.rgba(palette.SUPPLY_UNUSED)
        reached = _Look(red, black, 0.6, shape="star", size=7.0)
        cut_off = _Look(grey, _UNREACHABLE, 0.8, shape="star", size=7.0)
        if kind == "fill":
            reached = _Look(palette.rgba(palette.SUPPLY_USED, 120), edge, 1.0, centroid=reached)
            cut_off = _Look(palette.rgba(palette.SUPPLY_UNUSED, 120), _UNREACHABLE, 1.0,
                            centroid=cut_off)  # fmt: skip
    return _categorized(
        kind, {"false": ("Reachable", reached), "true": ("Unreachable", cut_off)}, "unreachable"
    )


def style_qml(layer: str, geometry_type: str, *, topology: bool = False) -> str:
    """The default QML of one styled layer (``paths``, ``buildings`` or ``supplies``).

    ``topology``: the style of a ``heatnet topology`` output (:func:`topology_qml`).

    Raises
    ------
    HeatnetError
        If ``layer`` has no heatnet style.
    """
    if topology:
        return topology_qml(layer, geometry_type)
    if layer == "paths":
        return paths_qml()
    if layer == "buildings":
        return buildings_qml(geometry_type)
    if layer == "supplies":
        return supplies_qml(geometry_type)
    raise HeatnetError(f"no default style for layer {layer!r}")


def write_styles(path: Path, geometry_types: Mapping[str, str], *, topology: bool = False) -> None:
    """Store the default QGIS styles of ``paths``, ``buildings`` and ``supplies`` in a GeoPackage.

    Creates ``layer_styles`` (if missing) as QGIS does, registers it in ``gpkg_contents`` as an
    attributes table, and writes one ``useAsDefault`` row per styled layer, replacing earlier
    heatnet rows and demoting any other default of the layer. The file must be closed by GDAL.

    Parameters
    ----------
    path
        A GeoPackage written by GDAL.
    geometry_types
        Layer name → geometry type (``"LineString"``, ``"Polygon"``, ``"Point"``, ...). Names
        other than the three styled layers are skipped; an unrecognised type (``"Unknown"`` for
        an empty layer) falls back to the type GDAL registered, then to the layer's usual one.
    topology
        Write the styles of a ``heatnet topology`` output instead of a design's.

    Raises
    ------
    HeatnetError
        If a named layer is not a spatial layer of the file.
    """
    wanted = {name: kind for name, kind in geometry_types.items() if name in _DEFAULT_KINDS}
    # isolation_level=None and an explicit BEGIN: sqlite3 would otherwise commit the CREATE
    # statements on their own, and a failure could leave a half-written layer_styles behind.
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("BEGIN")
        try:
            _write_rows(connection, path, wanted, topology=topology)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def _write_rows(
    connection: sqlite3.Connection, path: Path, wanted: Mapping[str, str], *, topology: bool
) -> None:
    registered = {
        str(table): (str(column), str(kind))
        for table, column, kind in connection.execute(
            "SELECT table_name, column_name, geometry_type_name FROM gpkg_geometry_columns"
        )
    }
    missing = sorted(set(wanted) - set(registered))
    if missing:
        raise HeatnetError(f"cannot style {missing}: no such spatial layer in {path}")
    _create_layer_styles(connection)
    for name, geometry_type in sorted(wanted.items()):
        column, gpkg_type = registered[name]
        if symbol_kind(geometry_type) is None:
            geometry_type = gpkg_type if symbol_kind(gpkg_type) else _DEFAULT_KINDS[name]
        qml = style_qml(name, geometry_type, topology=topology)
        _insert_style(connection, name, column, qml)
        logger.debug("default QGIS style written for %s (%s)", name, geometry_type)


def _create_layer_styles(connection: sqlite3.Connection) -> None:
    for statement in _LAYER_STYLES_DDL:
        connection.execute(statement)
    connection.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description,"
        " last_change, srs_id) VALUES ('layer_styles', 'attributes', 'layer_styles', '',"
        " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0)"
    )
    has_counts = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_ogr_contents'"
    ).fetchone()
    if has_counts:
        connection.execute(
            "INSERT OR IGNORE INTO gpkg_ogr_contents (table_name, feature_count)"
            " SELECT 'layer_styles', count(*) FROM layer_styles"
        )


def _insert_style(connection: sqlite3.Connection, table: str, column: str, qml: str) -> None:
    connection.execute(
        "DELETE FROM layer_styles WHERE f_table_name = ? AND styleName = ?", (table, STYLE_NAME)
    )
    connection.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (table,))
    connection.execute(
        "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name,"
        " f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner)"
        " VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '')",
        (table, column, STYLE_NAME, qml, "heatnet default style"),
    )
