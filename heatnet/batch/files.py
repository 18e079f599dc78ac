"""The files of a batch's folder: manifest, safety checks and summary.

The manifest records what ran, with which inputs, and which files are heatnet's; the checks run
before anything is written; the summary is one row per scenario.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio

from heatnet import __version__
from heatnet.batch.scenarios import Scenario
from heatnet.batch.worker import ScenarioResult
from heatnet.core.atomic import SQLITE_SIDE_FILES, atomic_output, name_max
from heatnet.core.errors import InputError, UsageError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


SUMMARY = "summary"


SUMMARY_FILES = (f"{SUMMARY}.csv", f"{SUMMARY}.gpkg")


LOGS = "logs"


_ENTRY_TYPES: dict[str, tuple[type | None, ...]] = {
    "input": (str,),
    "input_sha256": (str, None),
    "tables": (str, None),
    "tables_sha256": (str, None),
    "parameters": (dict,),
    "heatnet_version": (str,),
    "output": (str, None),
    "exit_code": (int,),
    "result": (dict,),
}


_RESULT_TYPES: dict[str, tuple[type | None, ...]] = {
    "name": (str,),
    "exit_code": (int,),
    "message": (str,),
    "runtime_s": (float,),
    "summary": (dict,),
    "output": (str, None),
    "worker": (str,),
}


_KINDS = {str: "a string", int: "an integer", float: "a number", dict: "an object", None: "null"}


def file_digest(path: Path | None) -> str | None:
    """SHA-256 of a file, or of every file below a folder (names and contents).

    None when there is no path, or the batch cannot see it (then ``--resume`` runs it again).
    """
    try:
        if path is None or not path.exists():
            return None
        digest = hashlib.sha256()
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for item in files:
            if path.is_dir():
                digest.update(str(item.relative_to(path)).encode())
            with item.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    except OSError:  # unreadable here: its scenario says why when it runs
        return None
    return digest.hexdigest()


def manifest_entry(scenario: Scenario, digests: Mapping[Path, str | None]) -> dict[str, Any]:
    """What a result depends on: input hashes, parameters, heatnet version."""
    return {
        "input": str(scenario.input),
        "input_sha256": digests[scenario.input],
        "tables": None if scenario.tables is None else str(scenario.tables),
        "tables_sha256": None if scenario.tables is None else digests[scenario.tables],
        "parameters": dict(sorted(scenario.overrides.items())),
        "heatnet_version": __version__,
    }


def input_digests(scenarios: Sequence[Scenario]) -> dict[Path, str | None]:
    """The SHA-256 of every input and tables file the scenarios read."""
    paths = {s.input for s in scenarios} | {s.tables for s in scenarios if s.tables is not None}
    return {p: file_digest(p) for p in paths}


def output_folder(folder: Path) -> Path:
    """The output folder, absolute (workers may run elsewhere) and created; InputError if not."""
    try:
        folder = folder.resolve()
        if folder.exists() and not folder.is_dir():
            raise UsageError(
                f"{folder} is a file; the batch writes into a folder (<scenario>.gpkg, "
                f"{', '.join(SUMMARY_FILES)}, {MANIFEST}, {LOGS}/): give a folder's path"
            )
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {folder}: {exc.strerror}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write into the output folder {folder}")
    return folder


@dataclass(frozen=True, slots=True)
class Manifest:
    """An earlier batch's manifest: its finished scenarios and the files heatnet wrote."""

    scenarios: dict[str, dict[str, Any]]
    files: frozenset[str]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    for kind, text in _KINDS.items():
        if kind is not None and isinstance(value, kind):
            return text
    return "a list" if isinstance(value, list) else type(value).__name__


def _typed(value: Any, kinds: tuple[type | None, ...]) -> bool:
    if value is None or isinstance(value, bool):
        return value is None and None in kinds
    if isinstance(value, int) and float in kinds:
        return True
    return any(kind is not None and isinstance(value, kind) for kind in kinds)


def _fields_problems(where: str, data: Mapping[str, Any], types: Mapping[str, Any]) -> list[str]:
    problems = []
    for key, kinds in types.items():
        if key not in data:
            problems.append(f"{where}'{key}' is missing")
        elif not _typed(data[key], kinds):
            wanted = " or ".join(_KINDS[k] for k in kinds)
            problems.append(f"{where}'{key}' is {_kind(data[key])}, not {wanted}")
    return problems


def _manifest_problems(data: Any) -> list[str]:
    """What makes ``data`` (parsed JSON) no manifest of heatnet's (nothing when it is one)."""
    if not isinstance(data, dict):
        return [f"it holds {_kind(data)}, not an object"]
    problems = _fields_problems("", data, {"heatnet_version": (str,), "scenarios": (dict,)})
    files = data.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        problems.append("'files' is not a list of file names")
    for name, entry in (data.get("scenarios") or {}).items() if not problems else ():
        where = f"scenarios → '{name}'"
        if not isinstance(entry, dict):
            problems.append(f"{where} is {_kind(entry)}, not an object")
            continue
        problems += _fields_problems(f"{where} → ", entry, _ENTRY_TYPES)
        if isinstance(entry.get("result"), dict):
            problems += _fields_problems(f"{where} → result → ", entry["result"], _RESULT_TYPES)
        parameters = entry.get("parameters")
        if isinstance(parameters, dict) and not all(
            isinstance(v, str) for v in parameters.values()
        ):
            problems.append(f"{where} → 'parameters' holds a value that is not text")
    return problems


def _recorded_files(data: Any, folder: Path) -> frozenset[str]:
    """The files of ``folder`` a manifest says heatnet wrote (read defensively: any JSON).

    A manifest written before ``files`` was kept (heatnet < 0.x) records them implicitly: its
    scenarios' outputs, the summary files and the logs folder.
    """
    if not isinstance(data, dict):
        return frozenset()
    listed = data.get("files")
    if isinstance(listed, list):
        return frozenset(f for f in listed if isinstance(f, str))
    entries = data.get("scenarios")
    outputs = {
        e["output"]
        for e in (entries.values() if isinstance(entries, dict) else ())
        if isinstance(e, dict) and isinstance(e.get("output"), str)
    }
    logs = folder / LOGS
    found = {f"{LOGS}/{p.name}" for p in logs.glob("*.log")} if logs.is_dir() else set()
    return frozenset(outputs | found | set(SUMMARY_FILES))


def read_manifest(folder: Path, *, overwrite: bool) -> Manifest | None:
    """The folder's manifest; None when there is none.

    One heatnet cannot read (not JSON, or not the structure heatnet writes: hand-edited) is
    refused, naming what is wrong, unless ``overwrite`` (start afresh: no scenario is kept,
    and the files it names as heatnet's still are).
    """
    path = folder / MANIFEST
    if not os.path.lexists(path):
        return None
    data: Any = None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # a folder, unreadable, not UTF-8, not JSON
        problems = [f"not JSON ({exc})" if isinstance(exc, ValueError) else exc.strerror or ""]
    else:
        problems = _manifest_problems(data)
    if not problems:
        return Manifest(dict(data["scenarios"]), _recorded_files(data, folder))
    what = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    if not overwrite:
        raise InputError(
            f"{path} is not a batch manifest heatnet can read: {what}. It records what an "
            "earlier batch did (was it edited by hand?); restore it, or use --overwrite to start "
            "afresh (every scenario runs again and the manifest is rewritten)"
        )
    if path.is_dir():
        raise InputError(f"{path} is a folder; the batch writes its manifest there")
    log.warning("%s cannot be read (%s): starting afresh (--overwrite)", path, what)
    return Manifest({}, _recorded_files(data, folder))


def stored_result(data: Mapping[str, Any]) -> ScenarioResult:
    """A finished scenario's result as the manifest keeps it (fields heatnet does not know: out)."""
    known = {f.name for f in fields(ScenarioResult)}
    return ScenarioResult(**{k: v for k, v in data.items() if k in known})


def files_written(todo: Sequence[Scenario]) -> list[str]:
    """The files (relative to the folder) a batch running ``todo`` writes."""
    per_scenario = [(s.output_name, f"{LOGS}/{s.name}.log") for s in todo]
    return [name for pair in per_scenario for name in pair] + list(SUMMARY_FILES)


def check_names(scenarios: Sequence[Scenario], folder: Path) -> None:
    """Every scenario's output (and the SQLite journal beside it) is a valid file name here."""
    limit = name_max(folder)
    longest = len(f".gpkg{SQLITE_SIDE_FILES[0]}")
    too_long = [s.name for s in scenarios if len(s.name.encode()) + longest > limit]
    if too_long:
        shown = ", ".join(f"'{n[:40]}...' ({len(n.encode())})" for n in too_long[:3])
        raise InputError(
            f"scenario name(s) too long for a file name in {folder} (at most {limit - longest} "
            f"characters there): {shown}"
            + (f" and {len(too_long) - 3} more" if len(too_long) > 3 else "")
        )


def check_targets(
    folder: Path, scenarios: Sequence[Scenario], written: Sequence[str], recorded: frozenset[str]
) -> None:
    """Refuse a batch that would replace a file heatnet did not write, or a scenario's input."""
    logs = folder / LOGS
    if os.path.lexists(logs) and not logs.is_dir():
        raise InputError(f"{logs} is not a folder; the batch writes its scenarios' logs there")
    targets = {(folder / name): name for name in written}
    for scenario in scenarios:
        for source in (scenario.input, scenario.tables):
            if source is not None and source in targets:
                raise InputError(
                    f"scenario '{scenario.name}' reads {source}, which this batch would write "
                    f"({targets[source]}): move that input out of {folder}"
                )
    folders = [name for name in written if (folder / name).is_dir()]
    foreign = [name for name in written if os.path.lexists(folder / name) and name not in recorded]
    if folders:
        raise InputError(
            f"{folder} holds folders where the batch writes files: {', '.join(folders)}"
        )
    if foreign:
        raise InputError(
            f"{folder} holds {len(foreign)} file(s) this batch would replace that heatnet did "
            f"not write (no {MANIFEST} there records them): {', '.join(foreign)}. heatnet never "
            "replaces them, with --overwrite or not: move them away or choose another folder"
        )


def write_manifest(path: Path, state: Mapping[str, Any]) -> None:
    """Rewrite the manifest atomically (a crash leaves the previous one whole)."""
    with atomic_output(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")


def summary_table(scenarios: Sequence[Scenario], results: Sequence[ScenarioResult]) -> pd.DataFrame:
    """One row per scenario: name, input, parameters, status, message, runtime, summary."""
    by_name = {r.name: r for r in results}
    keys = sorted({k for s in scenarios for k in s.overrides})
    rows = []
    for scenario in scenarios:
        result = by_name.get(scenario.name)
        if result is None:
            continue
        row: dict[str, Any] = {
            "scenario": scenario.name,
            "input": str(scenario.input),
            "tables": None if scenario.tables is None else str(scenario.tables),
            **{key: scenario.overrides.get(key) for key in keys},
            "exit_code": result.exit_code,
            "status": result.status,
            "message": result.message,
            "scenario_runtime_s": result.runtime_s,
            "output": result.output,
        }
        row.update(result.summary)
        rows.append(row)
    return pd.DataFrame(rows)


def write_summary(
    folder: Path, scenarios: Sequence[Scenario], results: Sequence[ScenarioResult]
) -> None:
    """Write ``summary.csv`` and ``summary.gpkg`` (one row per finished scenario), atomically."""
    table = summary_table(scenarios, results)
    with atomic_output(folder / f"{SUMMARY}.csv", overwrite=True) as temporary:
        table.to_csv(temporary, index=False)
    with atomic_output(folder / f"{SUMMARY}.gpkg", overwrite=True) as temporary:
        pyogrio.write_dataframe(
            table, temporary, layer=SUMMARY, driver="GPKG", dataset_options={"VERSION": "1.2"}
        )
