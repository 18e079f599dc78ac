"""Open a heatnet output GeoPackage in a real QGIS, check its default styles, render a PNG.

Run with the system Python that has QGIS (not the project venv, which cannot import qgis):

    /usr/bin/python3 tests/qgis_check.py OUTPUT.gpkg PNG_PATH

Checks, for each of ``paths``, ``buildings`` and ``supplies`` present in the file: the layer
opens; QGIS lists heatnet's style among the file's stored styles; opening the layer applied it by
default (the renderer is rule-based for paths, categorised by ``in_network`` for the others, not
QGIS's single-symbol fallback) with rules/categories on the expected fields; every feature gets a
symbol (so boolean categories match the data); and the rendered map is not blank. Exits 0 when
all pass, 1 with one line per failure otherwise. Imports nothing from heatnet.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# QT_QPA_PLATFORM must be set before Qt loads (ruff allows os.environ before imports)
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsExpression,
    QgsExpressionContext,
    QgsExpressionContextUtils,
    QgsFeature,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsRectangle,
    QgsRenderContext,
    QgsSymbolLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize, Qt
from qgis.PyQt.QtGui import QColor, QImage

LAYERS = ("supplies", "buildings", "paths")  # drawing order: first on top
STYLE_NAME = "heatnet"
WIDTH, HEIGHT = 1200, 900


def symbols_for(layer, values: dict[str, object]) -> list:
    """The symbols the layer's renderer gives a made-up feature with these attributes."""
    feature = QgsFeature(layer.fields())
    for field, value in values.items():
        feature[field] = value
    context = QgsRenderContext()
    context.expressionContext().appendScopes(
        QgsExpressionContextUtils.globalProjectLayerScopes(layer)
    )
    context.expressionContext().setFeature(feature)
    renderer = layer.renderer().clone()
    renderer.startRender(context, layer.fields())
    symbols = [symbol.clone() for symbol in renderer.symbolsForFeature(feature, context)]
    renderer.stopRender(context)
    return symbols


def check_paths(layer, failures: list[str]) -> None:
    renderer = layer.renderer()
    if renderer.type() != "RuleRenderer":
        failures.append(f"paths: renderer is {renderer.type()!r}, expected 'RuleRenderer'")
        return
    rules = renderer.rootRule().descendants()
    filters = " ".join(rule.filterExpression() for rule in rules)
    if len({rule.ruleKey() for rule in rules}) != len(rules):
        failures.append("paths: rule keys are not unique (the legend would toggle wrong rules)")
    for field in ("diameter_mm", "in_network", "connector", "unreachable"):
        if f'"{field}"' not in filters:
            failures.append(f"paths: no rule filters on {field}")
    check_path_symbols(layer, failures)
    check_path_labels(layer, failures)


def check_path_labels(layer, failures: list[str]) -> None:
    """Pipes in the network are labelled 'DN <diameter>' at street scale, nothing else."""
    if not layer.labelsEnabled() or layer.labeling() is None:
        failures.append("paths: no labels")
        return
    settings = layer.labeling().settings()
    if not (settings.isExpression and "diameter_mm" in settings.fieldName):
        failures.append(f"paths: labels are not the diameter: {settings.fieldName!r}")
    if not settings.scaleVisibility or settings.minimumScale != 5000:
        failures.append(
            f"paths: labels not limited to street scale ({settings.scaleVisibility}, "
            f"{settings.minimumScale}, {settings.maximumScale})"
        )
    expression = QgsExpression(settings.fieldName)
    context = QgsExpressionContext()
    texts = {}
    for name, values in {
        "main": {"in_network": True, "connector": False, "diameter_mm": 80.0},
        "connector": {"in_network": True, "connector": True, "diameter_mm": 25.0},
        "unused": {"in_network": False, "connector": False, "diameter_mm": None},
    }.items():
        feature = QgsFeature(layer.fields())
        for field, value in values.items():
            feature.setAttribute(field, value)
        context.setFeature(feature)
        texts[name] = expression.evaluate(context)
    if texts != {"main": "DN 80", "connector": "", "unused": ""}:
        failures.append(f"paths: label texts {texts}")


def check_path_symbols(layer, failures: list[str]) -> None:
    """Ask the renderer how made-up paths look: by diameter, dashed, faint, dotted."""

    def one(label: str, **values: object):
        base = {"in_network": True, "connector": False, "unreachable": False}
        symbols = symbols_for(layer, {**base, **values})
        if len(symbols) != 1:
            failures.append(f"paths: {label} gets {len(symbols)} symbols, expected 1")
            return None
        return symbols[0]

    mains = [one(f"main DN {dn}", diameter_mm=dn) for dn in (25, 40, 65, 100, 150, 250, 400)]
    if all(mains):
        widths = [symbol.width() for symbol in mains]
        lightness = [symbol.color().lightness() for symbol in mains]
        if widths != sorted(set(widths)) or lightness != sorted(set(lightness), reverse=True):
            failures.append(f"paths: mains not thicker and darker with DN: {widths} {lightness}")
        if any(s.symbolLayer(0).penStyle() != Qt.SolidLine for s in mains):
            failures.append("paths: mains are not solid")
    connector = one("connector", connector=True, diameter_mm=32)
    if connector and connector.symbolLayer(0).penStyle() != Qt.DashLine:
        failures.append("paths: connectors are not dashed")
    unused = one("path not in network", in_network=False)
    if (
        unused
        and mains[0]
        and not (unused.width() < mains[0].width() and unused.color().alpha() < 255)
    ):
        failures.append("paths: paths outside the network are not thin and translucent")
    unreachable = one("unreachable path", in_network=False, unreachable=True)
    if unreachable and unreachable.symbolLayer(0).penStyle() != Qt.DotLine:
        failures.append("paths: unreachable paths are not dotted")


def check_categorized(name: str, layer, failures: list[str]) -> None:
    renderer = layer.renderer()
    if renderer.type() != "categorizedSymbol":
        failures.append(f"{name}: renderer is {renderer.type()!r}, expected 'categorizedSymbol'")
        return
    if renderer.classAttribute() != "in_network":
        failures.append(f"{name}: categorised by {renderer.classAttribute()!r}, not in_network")
    values = sorted(str(category.value()) for category in renderer.categories())
    if values != ["false", "true"]:
        failures.append(f"{name}: category values {values}, expected ['false', 'true']")
    colors = set()
    for value in (True, False):
        symbols = symbols_for(layer, {"in_network": value})
        if len(symbols) != 1:
            failures.append(f"{name}: in_network={value} gets {len(symbols)} symbols, expected 1")
        colors.update(symbol.color().name() for symbol in symbols)
    if len(colors) != 2:
        failures.append(f"{name}: in and out of the network look the same: {colors}")
    if name == "buildings":
        categories = renderer.categories()  # a copy: keep it alive while using its symbols
        properties = categories[0].symbol().symbolLayer(0).dataDefinedProperties()
        prop = properties.property(QgsSymbolLayer.PropertyStrokeColor)
        if not (prop.isActive() and "unreachable" in prop.expressionString()):
            failures.append("buildings: no outline colour driven by unreachable")


def check_every_feature_drawn(name: str, layer, failures: list[str]) -> int:
    context = QgsRenderContext()
    context.expressionContext().appendScopes(
        QgsExpressionContextUtils.globalProjectLayerScopes(layer)
    )
    renderer = layer.renderer().clone()
    renderer.startRender(context, layer.fields())
    undrawn = []
    count = 0
    for feature in layer.getFeatures():
        count += 1
        context.expressionContext().setFeature(feature)
        if not renderer.willRenderFeature(feature, context):
            undrawn.append(feature.id())
    renderer.stopRender(context)
    if undrawn:
        failures.append(f"{name}: {len(undrawn)} of {count} features get no symbol: {undrawn[:10]}")
    return count


def open_layer(gpkg: Path, name: str, failures: list[str]):
    layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
    if not layer.isValid():
        failures.append(f"{name}: QGIS cannot open the layer")
        return None
    count, _ids, names, _descriptions, error = layer.listStylesInDatabase()
    related = list(names[:count])
    if error or STYLE_NAME not in related:
        failures.append(f"{name}: style {STYLE_NAME!r} not among stored styles {related} {error}")
    if name == "paths":
        check_paths(layer, failures)
    else:
        check_categorized(name, layer, failures)
    count = check_every_feature_drawn(name, layer, failures)
    print(f"{name}: {layer.geometryType()} x {count}, renderer {layer.renderer().type()}")
    return layer


def render(layers: list, png: Path, failures: list[str]) -> None:
    extent = QgsRectangle()
    for layer in layers:
        extent.combineExtentWith(layer.extent())
    extent.scale(1.05)
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[-1].crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(WIDTH, HEIGHT))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    for error in job.errors():
        failures.append(f"render: {error.layerID}: {error.message}")
    image = job.renderedImage().convertToFormat(QImage.Format_ARGB32)
    png.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(png), "PNG"):
        failures.append(f"render: cannot save {png}")
    pointer = image.constBits()
    pointer.setsize(image.sizeInBytes())
    pixels = memoryview(bytes(pointer)).cast("I")
    background = QColor(255, 255, 255).rgba()
    painted = sum(1 for value in pixels if value != background)
    print(f"render: {png} {image.width()}x{image.height()}, {painted} non-background pixels")
    if painted == 0:
        failures.append("render: the map is blank")


def run(gpkg: Path, png: Path) -> list[str]:
    """Open, check and render the layers; every QGIS object dies with this frame."""
    failures: list[str] = []
    layers = []
    for name in LAYERS:
        layer = open_layer(gpkg, name, failures)
        if layer is not None:
            layers.append(layer)
    if not layers:
        failures.append(f"none of {LAYERS} could be opened")
    else:
        render(layers, png, failures)
    return failures


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: qgis_check.py OUTPUT.gpkg PNG_PATH", file=sys.stderr)
        return 2
    gpkg, png = Path(argv[1]).resolve(), Path(argv[2])
    if not gpkg.is_file():
        print(f"FAIL: no such file {gpkg}", file=sys.stderr)
        return 1
    app = QgsApplication([], False)
    app.initQgis()
    warnings: list[str] = []

    def on_message(message: str, tag: str, level: Qgis.MessageLevel) -> None:
        if level >= Qgis.Warning:
            warnings.append(f"[{tag}] {message}")

    QgsApplication.messageLog().messageReceived.connect(on_message)
    print(f"QGIS {Qgis.QGIS_VERSION}")
    try:
        failures = run(gpkg, png)
    except Exception:  # report it like any failure, after QGIS is shut down cleanly
        failures = [f"unexpected error:\n{traceback.format_exc()}"]
    QgsApplication.messageLog().messageReceived.disconnect(on_message)
    for warning in warnings:
        print(f"QGIS warning: {warning}")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    app.exitQgis()
    if not failures:
        print("OK: default styles load and render")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
