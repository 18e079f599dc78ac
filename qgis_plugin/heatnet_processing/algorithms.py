"""The four Processing algorithms: Validate, Design network, Report, Create input template.

Each builds heatnet's argv with :mod:`heatnet_processing.command`, runs it in a subprocess
(streaming its log into the Processing log, honouring Cancel) and hands the results to QGIS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputBoolean,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterCrs,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProject,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication, QObject, Qt, pyqtSignal

from heatnet_processing import command
from heatnet_processing.provider import executable

DESIGN_LAYERS = ("paths", "buildings", "supplies")
TEMPLATE_LAYERS = ("paths", "buildings", "supplies")
KILL_AFTER_S = 600.0  # after Cancel, heatnet gets this long to write the best design


def tr(text: str) -> str:
    """Translate a user-visible text (Processing's convention)."""
    return QCoreApplication.translate("heatnet", text)


# --- running heatnet ---------------------------------------------------------------------------


def run_with_feedback(
    argv: list[str], feedback: QgsProcessingFeedback, time_limit_s: float | None = None
) -> command.Completed:
    """Run heatnet, its log lines into the Processing log and progress bar, Cancel honoured."""
    tracker = command.ProgressTracker(time_limit_s=time_limit_s)
    shown = {"text": ""}

    def show_progress() -> None:
        feedback.setProgress(tracker.tick())
        if tracker.text != shown["text"]:
            shown["text"] = tracker.text
            feedback.setProgressText(tracker.text)

    def on_line(line: str) -> None:
        info = tracker.feed(line)
        text = line.rstrip()
        if info.kind == "error":
            feedback.reportError(text, False)
        elif info.kind == "warning":
            feedback.pushWarning(text)
        else:
            feedback.pushConsoleInfo(text)
        show_progress()

    feedback.pushCommandInfo(" ".join(_quoted(a) for a in argv))
    try:
        completed = command.run_heatnet(
            argv,
            on_line,
            feedback.isCanceled,
            on_tick=show_progress,
            kill_after_s=KILL_AFTER_S,
        )
    except command.HeatnetNotFound as error:
        raise QgsProcessingException(str(error)) from error
    if completed.canceled:
        feedback.pushWarning(
            tr("Cancelled: heatnet was interrupted once (it keeps the best design)")
        )
    return completed


def _quoted(argument: str) -> str:
    return f'"{argument}"' if " " in argument else argument


def fail(what: str, completed: command.Completed) -> QgsProcessingException:
    """A failed heatnet run as the exception Processing shows (heatnet's words, no traceback)."""
    return QgsProcessingException(command.failure_message(what, completed))


# --- loading layers ----------------------------------------------------------------------------


class _LayerLoader(QObject):
    """Loads layers into the project in the main thread, for a run the user cancelled.

    Processing does not load an algorithm's layers once its feedback is cancelled, yet a
    cancelled design run still writes the best design; this queued signal loads it.
    """

    load = pyqtSignal(str, list)

    def __init__(self) -> None:
        super().__init__()
        self.load.connect(self._load, Qt.QueuedConnection)

    def _load(self, path: str, names: list[str]) -> None:
        for name in names:
            layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
            if layer.isValid():
                QgsProject.instance().addMapLayer(layer)


LOADER: _LayerLoader | None = None


def create_loader() -> None:
    """Create the loader in the calling (main) thread; the provider calls this on load."""
    global LOADER
    if LOADER is None:
        LOADER = _LayerLoader()


def present_layers(path: str, names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` that the GeoPackage holds."""
    found = []
    for name in names:
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        if layer.isValid():
            found.append(name)
    return found


def load_on_completion(
    path: str,
    names: tuple[str, ...],
    context: QgsProcessingContext,
    feedback: QgsProcessingFeedback,
) -> list[str]:
    """Have Processing add these layers of the GeoPackage to the project, with their own styles.

    The layers are opened with their default style (heatnet's, stored in the file's
    ``layer_styles``); Processing adds them once the algorithm has finished. After a Cancel
    Processing loads nothing, so the main-thread loader does it.
    """
    names_found = present_layers(path, names)
    if feedback.isCanceled():
        if LOADER is not None:
            LOADER.load.emit(path, names_found)
        return names_found
    stem = Path(path).stem
    for name in names_found:
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        context.temporaryLayerStore().addMapLayer(layer)
        details = QgsProcessingContext.LayerDetails(f"{stem} {name}", context.project(), "")
        context.addLayerToLoadOnCompletion(layer.id(), details)
    return names_found


# --- the algorithms ----------------------------------------------------------------------------


class HeatnetAlgorithm(QgsProcessingAlgorithm):
    """What the four share: provider group, a fresh instance, translations."""

    def createInstance(self) -> HeatnetAlgorithm:
        """A new instance (Processing runs each in its own)."""
        return type(self)()

    def tr(self, text: str) -> str:
        """Translate a user-visible text."""
        return tr(text)


def _input_parameters(algorithm: QgsProcessingAlgorithm, with_tables: bool = True) -> None:
    """INPUT, MAPPING and TABLES / TABLES_FOLDER, as validate and run take them."""
    algorithm.addParameter(
        QgsProcessingParameterFile(
            "INPUT", tr("Input GeoPackage"), QgsProcessingParameterFile.File, "gpkg"
        )
    )
    mapping = QgsProcessingParameterFile(
        "MAPPING",
        tr("Mapping file (--map)"),
        QgsProcessingParameterFile.File,
        "toml",
        optional=True,
    )
    mapping.setHelp(tr("A mapping.toml saying where your own layers and columns are"))
    algorithm.addParameter(mapping)
    if not with_tables:
        return
    tables = QgsProcessingParameterFile(
        "TABLES",
        tr("Tables from a GeoPackage (--tables)"),
        QgsProcessingParameterFile.File,
        "gpkg",
        optional=True,
    )
    tables.setHelp(tr("Non-spatial tables found there replace the input's own"))
    algorithm.addParameter(tables)
    folder = QgsProcessingParameterFile(
        "TABLES_FOLDER",
        tr("Tables from a folder of CSV files (--tables)"),
        QgsProcessingParameterFile.Folder,
        optional=True,
    )
    folder.setFlags(folder.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    algorithm.addParameter(folder)


def _input_values(
    algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext
) -> dict[str, str | None]:
    """INPUT, MAPPING and the one tables source, as strings (None when not given)."""
    source = algorithm.parameterAsFile(parameters, "INPUT", context)
    if not source:
        raise QgsProcessingException(tr("No input GeoPackage given"))
    values: dict[str, str | None] = {
        "source": source,
        "mapping": algorithm.parameterAsFile(parameters, "MAPPING", context) or None,
    }
    if "TABLES" in [p.name() for p in algorithm.parameterDefinitions()]:
        tables = algorithm.parameterAsFile(parameters, "TABLES", context) or None
        folder = algorithm.parameterAsFile(parameters, "TABLES_FOLDER", context) or None
        if tables and folder:
            raise QgsProcessingException(
                tr("Give the tables as a GeoPackage or a folder, not both")
            )
        values["tables"] = tables or folder
    return values


def _spec_parameter(spec: command.ParameterSpec) -> QgsProcessingParameterDefinition:
    """The optional, advanced Processing parameter of one heatnet parameter."""
    if spec.kind in ("number", "integer"):
        kind = (
            QgsProcessingParameterNumber.Integer
            if spec.kind == "integer"
            else QgsProcessingParameterNumber.Double
        )
        parameter = QgsProcessingParameterNumber(spec.name, spec.key, kind, None, True)
        if spec.minimum is not None:
            parameter.setMinimum(spec.minimum)
        if spec.maximum is not None:
            parameter.setMaximum(spec.maximum)
    elif spec.kind in ("boolean", "enum"):
        parameter = QgsProcessingParameterEnum(
            spec.name, spec.key, list(spec.choices), False, 0, True
        )
    else:
        parameter = QgsProcessingParameterString(spec.name, spec.key, None, False, True)
    parameter.setHelp(spec.help())
    parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return parameter


def _spec_values(
    algorithm: QgsProcessingAlgorithm,
    specs: list[command.ParameterSpec],
    parameters: dict[str, Any],
    context: QgsProcessingContext,
) -> dict[str, Any]:
    """The values the user set, by spec name; a parameter left unset is absent."""
    values: dict[str, Any] = {}
    for spec in specs:
        raw = parameters.get(spec.name)
        if raw is None or raw == "":
            continue
        if spec.kind == "number":
            values[spec.name] = algorithm.parameterAsDouble(parameters, spec.name, context)
        elif spec.kind == "integer":
            values[spec.name] = algorithm.parameterAsInt(parameters, spec.name, context)
        elif spec.kind in ("boolean", "enum"):
            values[spec.name] = algorithm.parameterAsEnum(parameters, spec.name, context)
        else:
            values[spec.name] = algorithm.parameterAsString(parameters, spec.name, context)
    return values


def _parameters_help(specs: list[command.ParameterSpec]) -> str:
    """The advanced parameters as a list for the help panel: key, default, unit."""
    rows = []
    for spec in specs:
        unit = f" {spec.unit}" if spec.unit and spec.default is not None else ""
        rows.append(f"<li><b>{spec.key}</b>: {spec.default_text()}{unit}</li>")
    return "<ul>" + "".join(rows) + "</ul>"


class DesignNetwork(HeatnetAlgorithm):
    """``heatnet run``: validate, build the network, optimise, write the design (styled)."""

    def __init__(self) -> None:
        super().__init__()
        self.specs = command.load_specs()

    def name(self) -> str:
        """The id: heatnet:designnetwork."""
        return "designnetwork"

    def displayName(self) -> str:
        """The name in the toolbox."""
        return self.tr("Design network")

    def shortHelpString(self) -> str:
        """The help panel of the dialog."""
        return self.tr(
            "Runs <code>heatnet run</code>: validates the input, builds the network, chooses the "
            "buildings, pipes, diameters and supplies that maximise the network NPV and writes "
            "the design to a GeoPackage, whose paths, buildings and supplies load with "
            "heatnet's styles.<br><br>"
            "<b>Cancel</b> stops the search and keeps the best design found so far (heatnet is "
            "interrupted once, as by Ctrl-C; the design is flagged <code>run_interrupted</code>). "
            "Before any design exists nothing is written.<br><br>"
            "Time limit: 90s, 10m, 1h, 1h30m or a number of seconds; empty: the "
            "optimiser/runtime-limit parameter (default 1 h).<br><br>"
            "<b>Advanced parameters</b> are heatnet's parameters, named by key. Left unset, a "
            "parameter keeps the value in the input's parameters table, else heatnet's default:"
        ) + _parameters_help(self.specs)

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """INPUT, MAPPING, TABLES, TIME_LIMIT, THREADS, OUTPUT, then every heatnet parameter."""
        _input_parameters(self)
        limit = QgsProcessingParameterString("TIME_LIMIT", self.tr("Time limit"), None, False, True)
        limit.setHelp(self.tr("90s, 10m, 1h, 1h30m or seconds; empty: optimiser/runtime-limit"))
        self.addParameter(limit)
        threads = QgsProcessingParameterNumber(
            "THREADS",
            self.tr("Solver threads"),
            QgsProcessingParameterNumber.Integer,
            None,
            True,
            1,
        )
        threads.setHelp(self.tr("Threads for HiGHS (heatnet's default: 1)"))
        self.addParameter(threads)
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "OUTPUT", self.tr("Design"), self.tr("GeoPackage (*.gpkg)")
            )
        )
        for spec in self.specs:
            self.addParameter(_spec_parameter(spec))
        self.addOutput(QgsProcessingOutputString("STATE", self.tr("State")))
        self.addOutput(QgsProcessingOutputNumber("OBJECTIVE", self.tr("Objective (NPV)")))
        self.addOutput(QgsProcessingOutputNumber("MIP_GAP", self.tr("Proven gap")))
        self.addOutput(QgsProcessingOutputNumber("UPPER_BOUND", self.tr("Upper bound")))
        self.addOutput(QgsProcessingOutputBoolean("INTERRUPTED", self.tr("Interrupted")))

    def argv(
        self, parameters: dict[str, Any], context: QgsProcessingContext
    ) -> tuple[list[str], str, str | None]:
        """Heatnet's argv, the output path and the time limit text."""
        inputs = _input_values(self, parameters, context)
        output = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        limit = command.time_limit_text(
            parameters.get("TIME_LIMIT")
            and self.parameterAsString(parameters, "TIME_LIMIT", context)
        )
        threads = parameters.get("THREADS")
        values = _spec_values(self, self.specs, parameters, context)
        argv = command.run_argv(
            executable(),
            str(inputs["source"]),
            output,
            mapping=inputs["mapping"],
            tables=inputs.get("tables"),
            time_limit=limit,
            threads=None
            if threads in (None, "")
            else self.parameterAsInt(parameters, "THREADS", context),
            settings=command.set_arguments(self.specs, values),
        )
        return argv, output, limit

    def processAlgorithm(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Run heatnet; load the design's layers; return its state and figures."""
        argv, output, limit = self.argv(parameters, context)
        completed = run_with_feedback(argv, feedback, command.time_limit_seconds(limit))
        if completed.returncode not in (0, 4):
            raise fail("run", completed)
        try:
            outcome = command.parse_run_json(completed.stdout)
        except ValueError as error:
            raise QgsProcessingException(f"{error}:\n{completed.stderr_tail()}") from error
        names = DESIGN_LAYERS + (("infeasible_reasons",) if completed.returncode == 4 else ())
        load_on_completion(output, names, context, feedback)
        self._report(outcome, completed, feedback)
        return {
            "OUTPUT": output,
            "STATE": outcome.state,
            "OBJECTIVE": outcome.objective,
            "MIP_GAP": outcome.mip_gap,
            "UPPER_BOUND": outcome.upper_bound,
            "INTERRUPTED": outcome.interrupted,
        }

    @staticmethod
    def _report(
        outcome: command.RunOutcome, completed: command.Completed, feedback: QgsProcessingFeedback
    ) -> None:
        """The outcome's headline in the log; infeasible as an error line."""
        if completed.returncode == 4:
            feedback.reportError(tr("Proven infeasible: see the infeasible_reasons table"), False)
        for warning in outcome.warnings:
            feedback.pushWarning(f"{warning.get('code')}: {warning.get('message')}")
        feedback.pushInfo(
            f"state {outcome.state}, NPV {outcome.objective}, gap {outcome.mip_gap}, "
            f"upper bound {outcome.upper_bound}"
        )


class Validate(HeatnetAlgorithm):
    """``heatnet validate --format json``: every problem with the input at once."""

    def __init__(self) -> None:
        super().__init__()
        self.specs = command.load_specs()

    def name(self) -> str:
        """The id: heatnet:validate."""
        return "validate"

    def displayName(self) -> str:
        """The name in the toolbox."""
        return self.tr("Validate")

    def shortHelpString(self) -> str:
        """The help panel of the dialog."""
        return self.tr(
            "Runs <code>heatnet validate</code>: checks the input against heatnet's schemas and "
            "reports every problem at once (errors in red). VALID says whether a design run "
            "would accept it; the findings can also be kept as JSON. Advanced parameters are "
            "checked as <code>--set</code> overrides, as Design network would pass them."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """INPUT, MAPPING, TABLES, an optional JSON file, the heatnet parameters."""
        _input_parameters(self)
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "JSON", self.tr("Findings as JSON"), self.tr("JSON (*.json)"), None, True, False
            )
        )
        for spec in self.specs:
            self.addParameter(_spec_parameter(spec))
        self.addOutput(QgsProcessingOutputBoolean("VALID", self.tr("Valid")))
        self.addOutput(QgsProcessingOutputNumber("ERRORS", self.tr("Errors")))
        self.addOutput(QgsProcessingOutputNumber("WARNINGS", self.tr("Warnings")))

    def processAlgorithm(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Run validate; each finding into the log; VALID and the counts out."""
        inputs = _input_values(self, parameters, context)
        settings = command.set_arguments(
            self.specs, _spec_values(self, self.specs, parameters, context)
        )
        argv = command.validate_argv(
            executable(),
            str(inputs["source"]),
            mapping=inputs["mapping"],
            tables=inputs.get("tables"),
            settings=settings,
        )
        completed = run_with_feedback(argv, feedback)
        if completed.returncode not in (0, 3):
            raise fail("validate", completed)
        try:
            findings = command.parse_validate_json(completed.stdout)
        except ValueError as error:
            raise fail("validate", completed) from error
        for issue in findings.get("issues", []):
            text = command.issue_text(issue)
            if issue.get("severity") == "error":
                feedback.reportError(text, False)
            else:
                feedback.pushWarning(text)
        results: dict[str, Any] = {
            "VALID": bool(findings.get("valid")),
            "ERRORS": findings.get("errors", 0),
            "WARNINGS": findings.get("warnings", 0),
        }
        target = (
            self.parameterAsFileOutput(parameters, "JSON", context)
            if parameters.get("JSON")
            else ""
        )
        if target:
            Path(target).write_text(
                json.dumps(findings, indent=2, ensure_ascii=False), encoding="utf-8"
            )
            results["JSON"] = target
        feedback.pushInfo(
            f"{'valid' if results['VALID'] else 'INVALID'}: {results['ERRORS']} errors, "
            f"{results['WARNINGS']} warnings"
        )
        return results


class Report(HeatnetAlgorithm):
    """``heatnet report``: a design drawn as a PNG sheet or an offline HTML page."""

    def name(self) -> str:
        """The id: heatnet:report."""
        return "report"

    def displayName(self) -> str:
        """The name in the toolbox."""
        return self.tr("Report")

    def shortHelpString(self) -> str:
        """The help panel of the dialog."""
        return self.tr(
            "Runs <code>heatnet report</code> on a design written by Design network: a map, "
            "the headline figures and the cashflow, as a PNG or a self-contained HTML page "
            "(chosen by the output's extension). Needs heatnet installed with its "
            "<code>[report]</code> extra."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """INPUT (a design) and OUTPUT (.png or .html)."""
        self.addParameter(
            QgsProcessingParameterFile(
                "INPUT", self.tr("Design GeoPackage"), QgsProcessingParameterFile.File, "gpkg"
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "OUTPUT", self.tr("Report"), self.tr("PNG (*.png);;HTML (*.html)")
            )
        )

    def processAlgorithm(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Run report."""
        design = self.parameterAsFile(parameters, "INPUT", context)
        output = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        if Path(output).suffix.lower() not in (".png", ".html"):
            raise QgsProcessingException(self.tr("The report must be a .png or an .html file"))
        completed = run_with_feedback(command.report_argv(executable(), design, output), feedback)
        if completed.returncode != 0:
            raise fail("report", completed)
        return {"OUTPUT": output}


class CreateTemplate(HeatnetAlgorithm):
    """``heatnet init``: an empty input GeoPackage to fill in QGIS."""

    BUILDINGS = ("polygon", "point")

    def name(self) -> str:
        """The id: heatnet:createtemplate."""
        return "createtemplate"

    def displayName(self) -> str:
        """The name in the toolbox."""
        return self.tr("Create input template")

    def shortHelpString(self) -> str:
        """The help panel of the dialog."""
        return self.tr(
            "Runs <code>heatnet init</code>: an empty input GeoPackage with every layer, table "
            "and column heatnet reads, in the CRS you choose. Its paths, buildings and supplies "
            "are added to the project to draw into; every parameter is listed with a blank "
            "value (its default)."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        """CRS, building geometry, OUTPUT."""
        self.addParameter(QgsProcessingParameterCrs("CRS", self.tr("CRS"), "ProjectCrs"))
        self.addParameter(
            QgsProcessingParameterEnum(
                "BUILDINGS", self.tr("Buildings drawn as"), list(self.BUILDINGS), False, 0
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "OUTPUT", self.tr("Template"), self.tr("GeoPackage (*.gpkg)")
            )
        )

    def processAlgorithm(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Run init; load the template's layers."""
        crs = self.parameterAsCrs(parameters, "CRS", context)
        if not crs.isValid() or not crs.authid():
            raise QgsProcessingException(self.tr("Choose a CRS with an authority code (EPSG:...)"))
        output = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        buildings = self.BUILDINGS[self.parameterAsEnum(parameters, "BUILDINGS", context)]
        argv = command.init_argv(executable(), output, crs.authid(), buildings)
        completed = run_with_feedback(argv, feedback)
        if completed.returncode != 0:
            raise fail("init", completed)
        load_on_completion(output, TEMPLATE_LAYERS, context, feedback)
        return {"OUTPUT": output}


ALGORITHMS = (Validate, DesignNetwork, Report, CreateTemplate)
