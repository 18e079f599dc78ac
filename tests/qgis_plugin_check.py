"""Run heatnet's Processing plugin in a real, headless QGIS and check what it loads.

Run with the system Python that has QGIS (not the project venv, which cannot import qgis):

    HEATNET_EXECUTABLE=.venv/bin/heatnet /usr/bin/python3 tests/qgis_plugin_check.py PNG_DIR

Environment: ``HEATNET_EXECUTABLE`` (required: the heatnet the plugin runs, set as the
provider's "heatnet executable" setting), ``HEATNET_PLUGIN_ZIP`` (optional: check the built zip,
extracted, instead of ``qgis_plugin/``), ``HEATNET_SKIP_CANCEL=1`` (skip the cancel check).

Registers the provider as QGIS does, then through ``processing.run``: Design network on
``sample_data/tiny.gpkg`` (state optimal, NPV as ``heatnet run`` gives it, progress and log
streamed, the three layers loaded into the project with heatnet's styles: rule-based paths,
categorised buildings and supplies); an invalid parameter gives a Processing error with
heatnet's message; Validate; Create input template; Report; Cancel on the district keeps the
best design (state feasible, flagged interrupted, layers loaded). Saves a screenshot of the
Design network dialog and a render of the loaded design in PNG_DIR. Exits 0 when all pass, 1
with one line per failure otherwise. Imports nothing from heatnet.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# QT_QPA_PLATFORM must be set before Qt loads (ruff allows os.environ before imports)
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "sample_data" / "tiny.gpkg"
DISTRICT = ROOT / "sample_data" / "district.gpkg"
TINY_NPV = 55134.2  # heatnet run sample_data/tiny.gpkg: optimal, 2 buildings connected
RENDERERS = {
    "paths": "RuleRenderer",
    "buildings": "categorizedSymbol",
    "supplies": "categorizedSymbol",
}


class Feedback(QgsProcessingFeedback):
    """Keeps what the algorithm reports; cancels once a line contains ``cancel_on``."""

    def __init__(self, cancel_on: str | None = None) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.errors: list[str] = []
        self.commands: list[str] = []
        self.progress_values: list[float] = []
        self.cancel_on = cancel_on
        self.progressChanged.connect(self.progress_values.append)

    def pushConsoleInfo(self, info: str) -> None:
        self.lines.append(info)
        if self.cancel_on and self.cancel_on in info and not self.isCanceled():
            print(f"cancelling after: {info}")
            self.cancel()

    def pushCommandInfo(self, info: str) -> None:
        self.commands.append(info)

    def reportError(self, error: str, fatalError: bool = False) -> None:
        self.errors.append(error)


def plugin_parent(work: Path) -> Path:
    """The folder holding ``heatnet_processing/``: the extracted zip, or ``qgis_plugin/``."""
    built = os.environ.get("HEATNET_PLUGIN_ZIP")
    if not built:
        return ROOT / "qgis_plugin"
    with zipfile.ZipFile(built) as archive:
        archive.extractall(work / "plugins")
    return work / "plugins"


def register(parent: Path, executable: str) -> object:
    """Load the plugin as QGIS does (classFactory, initProcessing) and set the executable."""
    from processing.core.ProcessingConfig import ProcessingConfig

    sys.path.insert(0, str(parent))
    import heatnet_processing

    plugin = heatnet_processing.classFactory(None)
    plugin.initProcessing()
    ProcessingConfig.setSettingValue("HEATNET_EXECUTABLE", executable)
    print(f"plugin from {Path(heatnet_processing.__file__).parent}, heatnet {executable}")
    return plugin


def run(algorithm: str, parameters: dict, feedback: Feedback | None = None):
    """``processing.run`` with a fresh context; the project layers it would load, loaded."""
    import processing
    from processing.gui.Postprocessing import handleAlgorithmResults

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = feedback or Feedback()
    results = processing.run(algorithm, parameters, context=context, feedback=feedback)
    to_load = dict(context.layersToLoadOnCompletion())
    alg = QgsApplication.processingRegistry().algorithmById(algorithm)
    handleAlgorithmResults(alg, context, feedback, False, parameters)
    return results, to_load, feedback


def project_layers(path: Path) -> dict[str, object]:
    """The project's layers read from this GeoPackage, by layer name in the file."""
    found = {}
    for layer in QgsProject.instance().mapLayers().values():
        source = layer.source()
        if source.split("|")[0] == str(path) and "layername=" in source:
            found[source.split("layername=")[1].split("|")[0]] = layer
    return found


def check_styled(name: str, layer, failures: list[str]) -> None:
    """heatnet's own style applied: its renderer type, and 'heatnet' among the stored styles."""
    count, _ids, names, _descriptions, _error = layer.listStylesInDatabase()
    if "heatnet" not in list(names[:count]):
        failures.append(f"design {name}: no 'heatnet' style stored in the file")
    kind = layer.renderer().type() if layer.renderer() else None
    if kind != RENDERERS[name]:
        failures.append(f"design {name}: renderer {kind!r}, expected {RENDERERS[name]!r}")
    print(f"design {name}: {layer.featureCount()} features, renderer {kind}")


def check_design(work: Path, failures: list[str]) -> list:
    """Design network on tiny: outputs, progress, log, and the three styled layers."""
    output = work / "tiny-design.gpkg"
    results, to_load, feedback = run(
        "heatnet:designnetwork",
        {"INPUT": str(TINY), "OUTPUT": str(output), "TIME_LIMIT": "120s", "THREADS": 1},
    )
    print(f"design results: {results}")
    if results.get("STATE") != "optimal":
        failures.append(f"design: STATE {results.get('STATE')!r}, expected 'optimal'")
    if abs((results.get("OBJECTIVE") or 0) - TINY_NPV) > 1:
        failures.append(f"design: OBJECTIVE {results.get('OBJECTIVE')}, expected {TINY_NPV}")
    if results.get("OUTPUT") != str(output) or not output.is_file():
        failures.append(f"design: OUTPUT {results.get('OUTPUT')!r} not written")
    if not any("stage optimise" in line for line in feedback.lines):
        failures.append(f"design: heatnet's log not streamed: {feedback.lines[:5]}")
    if not feedback.progress_values or max(feedback.progress_values) < 90:
        failures.append(f"design: progress reached {max(feedback.progress_values, default=0)}")
    if any("--set" in command for command in feedback.commands):
        failures.append(f"design: unset parameters were passed: {feedback.commands}")
    if len(to_load) != 3:
        failures.append(f"design: {len(to_load)} layers to load, expected 3")
    layers = project_layers(output)
    if sorted(layers) != sorted(RENDERERS):
        failures.append(f"design: project holds {sorted(layers)}, expected {sorted(RENDERERS)}")
    for name, layer in layers.items():
        check_styled(name, layer, failures)
    return [layers[n] for n in ("supplies", "buildings", "paths") if n in layers]


def check_bad_parameter(work: Path, failures: list[str]) -> None:
    """A value heatnet refuses: a Processing error with heatnet's own message, no traceback.

    finance/npv-rate's exclusive maximum 1 is an inclusive 1 in Processing: heatnet refuses it
    (exit 3). A value outside Processing's own range never reaches heatnet.
    """
    for values, expected in (
        ({"FINANCE_NPV_RATE": 1.0}, ("exit 3", "finance/npv-rate", "must be less than 1")),
        ({"CONSTRAINT_MAX_BUILDINGS": -1}, ("CONSTRAINT_MAX_BUILDINGS",)),
    ):
        feedback = Feedback()
        parameters = {"INPUT": str(TINY), "OUTPUT": str(work / "bad.gpkg"), **values}
        try:
            run("heatnet:designnetwork", parameters, feedback)
        except QgsProcessingException as error:
            message = str(error)
            print(f"refused {values}: {message.splitlines()[0]}")
            if not all(text in message for text in expected) or "Traceback" in message:
                failures.append(f"bad parameter {values}: message {message!r}")
            continue
        failures.append(f"bad parameter {values}: accepted")
    if (work / "bad.gpkg").exists():
        failures.append("bad parameter: an output was written")


def check_set_parameters(work: Path, failures: list[str]) -> None:
    """Set parameters reach heatnet as --set, each formatted as the schema's type wants."""
    feedback = Feedback()
    try:
        results, _to_load, _feedback = run(
            "heatnet:validate",
            {
                "INPUT": str(TINY),
                "FINANCE_NPV_RATE": 1.0,
                "OPTIMISER_PREVENT_LOOPS": 1,
                "HEATNET_PIPE_MODEL": 2,
                "CONSTRAINT_MAX_BUILDINGS": 2,
            },
            feedback,
        )
    except QgsProcessingException as error:
        failures.append(f"validate with --set: {error}")
        return
    command = " ".join(feedback.commands)
    for expected in (
        "finance/npv-rate=1 ",
        "optimiser/prevent-loops=true",
        "heatnet/pipe-model=discrete",
        "constraint/max-buildings=2",
    ):
        if expected.strip() not in command:
            failures.append(f"validate with --set: {expected.strip()!r} not in {command}")
    if results.get("VALID") is not False or not any("npv-rate" in e for e in feedback.errors):
        failures.append(
            f"validate with --set: npv-rate=1 not reported: {results} {feedback.errors}"
        )


def check_validate(work: Path, failures: list[str]) -> None:
    """Validate tiny: valid, no errors, the findings written as JSON."""
    target = work / "findings.json"
    results, _to_load, _feedback = run(
        "heatnet:validate", {"INPUT": str(TINY), "JSON": str(target)}
    )
    print(f"validate results: {results}")
    if results.get("VALID") is not True or results.get("ERRORS") != 0:
        failures.append(f"validate: {results}")
    if not target.is_file() or '"valid": true' not in target.read_text(encoding="utf-8"):
        failures.append("validate: findings JSON not written")


def check_template(work: Path, failures: list[str]) -> None:
    """Create input template: the file in the CRS asked for, its three layers loaded."""
    output = work / "template.gpkg"
    results, to_load, _feedback = run(
        "heatnet:createtemplate", {"CRS": "EPSG:25832", "OUTPUT": str(output)}
    )
    layers = project_layers(output)
    print(f"template: {sorted(layers)}")
    if sorted(layers) != ["buildings", "paths", "supplies"] or len(to_load) != 3:
        failures.append(f"template: loaded {sorted(layers)}")
    if results.get("OUTPUT") != str(output):
        failures.append(f"template: OUTPUT {results.get('OUTPUT')!r}")
    for name, layer in layers.items():
        if layer.crs().authid() != "EPSG:25832":
            failures.append(f"template {name}: CRS {layer.crs().authid()}")


def check_report(work: Path, png_dir: Path, failures: list[str]) -> None:
    """Report of the tiny design as a PNG."""
    target = png_dir / "report-tiny.png"
    target.unlink(missing_ok=True)
    run("heatnet:report", {"INPUT": str(work / "tiny-design.gpkg"), "OUTPUT": str(target)})
    if not target.is_file() or target.stat().st_size < 1000:
        failures.append("report: no PNG written")


def check_cancel(work: Path, failures: list[str]) -> None:
    """Cancel on the district once a design is priced: the best design kept and loaded."""
    output = work / "district-cancelled.gpkg"
    feedback = Feedback(cancel_on="design priced")
    started = time.monotonic()
    results, _to_load, _feedback = run(
        "heatnet:designnetwork",
        {"INPUT": str(DISTRICT), "OUTPUT": str(output), "TIME_LIMIT": "10m"},
        feedback,
    )
    for _ in range(20):  # the loader's queued signal, delivered by the event loop
        QgsApplication.processEvents()
    print(f"cancel: {results} after {time.monotonic() - started:.0f} s")
    if results.get("STATE") != "feasible" or results.get("INTERRUPTED") is not True:
        failures.append(f"cancel: {results}")
    if not output.is_file():
        failures.append("cancel: no design written")
    layers = project_layers(output)
    if sorted(layers) != sorted(RENDERERS):
        failures.append(f"cancel: project holds {sorted(layers)} of the kept design")
    for name, layer in layers.items():
        check_styled(name, layer, failures)


def screenshot_dialog(png: Path, failures: list[str]) -> None:
    """The Design network dialog as a user opens it, saved as PNG."""
    from processing.gui.AlgorithmDialog import AlgorithmDialog

    # processing.createAlgorithmDialog wants QGIS's main window (iface), absent headless
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("heatnet:designnetwork")
    dialog = AlgorithmDialog(algorithm, False, None)
    dialog.setParameters({"INPUT": str(TINY), "TIME_LIMIT": "10m"})
    dialog.resize(1100, 800)
    dialog.show()
    for _ in range(10):
        QgsApplication.processEvents()
    if not dialog.grab().save(str(png), "PNG"):
        failures.append(f"dialog: cannot save {png}")
    dialog.close()
    dialog.deleteLater()
    QgsApplication.processEvents()


def render(layers: list, png: Path, failures: list[str]) -> None:
    """The loaded design drawn with its own styles, saved as PNG; fails when blank."""
    extent = QgsRectangle()
    for layer in layers:
        extent.combineExtentWith(layer.extent())
    extent.scale(1.1)
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[-1].crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(1000, 750))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage().convertToFormat(QImage.Format_ARGB32)
    if not image.save(str(png), "PNG"):
        failures.append(f"render: cannot save {png}")
    pointer = image.constBits()
    pointer.setsize(image.sizeInBytes())
    background = QColor(255, 255, 255).rgba()
    painted = sum(1 for value in memoryview(bytes(pointer)).cast("I") if value != background)
    print(f"render: {png}, {painted} non-background pixels")
    if painted == 0:
        failures.append("render: the design map is blank")


def checks(work: Path, png_dir: Path, executable: str) -> list[str]:
    """Every check in turn; every QGIS object dies with this frame."""
    failures: list[str] = []
    plugin = register(plugin_parent(work), executable)
    algorithms = {
        a.id() for a in QgsApplication.processingRegistry().providerById("heatnet").algorithms()
    }
    expected = {
        "heatnet:validate",
        "heatnet:designnetwork",
        "heatnet:report",
        "heatnet:createtemplate",
    }
    if algorithms != expected:
        failures.append(f"provider: algorithms {sorted(algorithms)}")
    screenshot_dialog(png_dir / "design-network-dialog.png", failures)
    layers = check_design(work, failures)
    if layers:
        render(layers, png_dir / "design-network-result.png", failures)
    check_bad_parameter(work, failures)
    check_set_parameters(work, failures)
    check_validate(work, failures)
    check_template(work, failures)
    check_report(work, png_dir, failures)
    if os.environ.get("HEATNET_SKIP_CANCEL") != "1":
        check_cancel(work, failures)
    QgsProject.instance().clear()
    plugin.unload()
    if QgsApplication.processingRegistry().providerById("heatnet") is not None:
        failures.append("unload: the provider is still registered")
    return failures


def main(argv: list[str]) -> int:
    """Start QGIS (GUI enabled, offscreen), initialise Processing, run the checks."""
    executable = os.environ.get("HEATNET_EXECUTABLE")
    if len(argv) != 2 or not executable:
        print("usage: HEATNET_EXECUTABLE=... qgis_plugin_check.py PNG_DIR", file=sys.stderr)
        return 2
    png_dir = Path(argv[1]).resolve()
    png_dir.mkdir(parents=True, exist_ok=True)
    app = QgsApplication([], True)
    app.initQgis()
    sys.path.append(str(Path(QgsApplication.pkgDataPath()) / "python" / "plugins"))  # processing
    from processing.core.Processing import Processing

    Processing.initialize()
    print(f"QGIS {Qgis.QGIS_VERSION}")
    with tempfile.TemporaryDirectory(prefix="heatnet-plugin-") as work:
        try:
            failures = checks(Path(work), png_dir, executable)
        except Exception:  # report it like any failure, after QGIS is shut down cleanly
            failures = [f"unexpected error:\n{traceback.format_exc()}"]
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    Processing.deinitialize()
    app.exitQgis()
    if not failures:
        print("OK: the heatnet Processing plugin runs and its layers load styled")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
