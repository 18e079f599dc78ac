"""Nothing lost, nothing misread: outputs under races, kills, signals and hostile folders.

Two runs publishing one output at once, a writer killed with SIGKILL, a batch folder holding the
user's own files, a file where the folder should be, overlong scenario names, hand-edited
manifests, SIGTERM to a batch and a Dask scheduler that dies under it. Every child process is
waited for with a timeout; no assertion depends on how fast the machine is (races are forced
with a barrier, not hoped for).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pyogrio
import pytest

from heatnet.batch import cluster as batch_cluster
from heatnet.batch.cluster import ClusterLost
from heatnet.batch.runner import run_batch
from heatnet.batch.scenarios import LONGEST_NAME, Scenario, read_scenarios
from heatnet.cli.commands import cli
from heatnet.core import atomic as atomic_module
from heatnet.core.atomic import (
    OutputExistsError,
    atomic_output,
    check_output,
    remove_stale_temporaries,
)
from heatnet.core.errors import InputError, ValidationError
from tests.conftest import ROOT, SAMPLE, TINY, sha256
from tests.runs import heatnet as run_heatnet
from tests.runs import pump_lines

HEATNET = (sys.executable, "-m", "heatnet")
DASK = Path(sys.executable).parent / "dask"
EXISTS = "exists; use --overwrite to replace it"
WAIT_S = 60.0

# `heatnet run` with a pause after the temporary output is complete, before it is published:
# writes its temporary path to MARKER, then waits (a minute at most) for the file RELEASE.
PAUSED_RUN = """
import sys, time
from pathlib import Path
import heatnet.outputs.gpkg
marker, release = Path(sys.argv[1]), Path(sys.argv[2])
real = heatnet.outputs.gpkg.write_styles
def paused(path, *args, **kwargs):
    real(path, *args, **kwargs)
    marker.write_text(str(path))
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
heatnet.outputs.gpkg.write_styles = paused
from heatnet.cli.commands import main
sys.argv = ["heatnet", *sys.argv[3:]]
main()
"""


# ---------------------------------------------------------------------------------------------
# Helpers


def heatnet(*args: object, timeout: float = WAIT_S) -> subprocess.CompletedProcess[str]:
    return run_heatnet(*args, timeout=timeout)


def start(command: list[str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, **kwargs
    )


def paused_run(marker: Path, release: Path, *args: object) -> subprocess.Popen[str]:
    return start([sys.executable, "-c", PAUSED_RUN, str(marker), str(release), *map(str, args)])


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.02)


def finish(process: subprocess.Popen[str], timeout_s: float = WAIT_S) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=10)
        raise
    return process.returncode, out, err


@pytest.fixture
def reaped() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started: killed and reaped afterwards, whatever happened."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired, ValueError, OSError):
            process.communicate(timeout=10)


def hidden(folder: Path) -> list[str]:
    """Dot files: heatnet's temporaries (and nothing else in these tests' folders)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def run_name(path: Path) -> str:
    return str(pyogrio.read_dataframe(path, layer="solution_summary").iloc[0]["run"])


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                             capture_output=True, text=True, timeout=WAIT_S, check=True)  # fmt: skip
    return int(process.stdout)


# ---------------------------------------------------------------------------------------------
# 1. Two runs, one output: exactly one wins


@pytest.mark.parametrize("attempt", range(3))
def test_two_runs_publishing_one_output_at_once_one_wins(tmp_path, reaped, attempt):
    output = tmp_path / "design.gpkg"
    release = tmp_path / "go"
    markers = [tmp_path / "first.ready", tmp_path / "second.ready"]
    for marker in markers:  # both pass the early check and write their temporary file ...
        reaped.append(
            paused_run(marker, release, "run", TINY, "-o", output, "--run-name", marker.stem)
        )
    wait_until(lambda: all(m.exists() for m in markers), "both runs to finish writing")
    assert not output.exists()
    release.touch()  # ... then both publish at once
    outcomes = {m.stem: finish(p) for m, p in zip(markers, reaped, strict=True)}

    codes = sorted(code for code, _, _ in outcomes.values())
    assert codes == [0, 2], {k: (c, e[-500:]) for k, (c, _, e) in outcomes.items()}
    winner = next(name for name, (code, _, _) in outcomes.items() if code == 0)
    loser = next(name for name, (code, _, _) in outcomes.items() if code != 0)
    assert EXISTS in outcomes[loser][2]
    assert "Traceback" not in outcomes[loser][2]
    assert run_name(output) == winner  # the loser replaced nothing
    assert hidden(tmp_path) == []  # neither temporary file (nor journal) is left


def test_two_plain_runs_on_one_output_never_both_succeed(tmp_path, reaped):
    output = tmp_path / "design.gpkg"
    for name in ("one", "two"):
        reaped.append(start([*HEATNET, "run", str(TINY), "-o", str(output), "--run-name", name]))
    outcomes = [finish(p) for p in reaped]
    assert sorted(code for code, _, _ in outcomes) == [0, 2]
    assert EXISTS in next(err for code, _, err in outcomes if code == 2)
    assert run_name(output) == ("one" if outcomes[0][0] == 0 else "two")
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("links", [True, False], ids=["hard-links", "no-hard-links"])
def test_an_output_appearing_during_the_write_is_never_replaced(tmp_path, monkeypatch, links):
    if not links:  # FAT, some network file systems: os.link fails with EPERM

        def no_link(*_args: object, **_kwargs: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(atomic_module.os, "link", no_link)
    target = tmp_path / "out.json"
    with (  # noqa: PT012
        pytest.raises(OutputExistsError, match="use --overwrite"),
        atomic_output(target, overwrite=False) as temporary,
    ):
        temporary.write_text("mine", encoding="utf-8")
        target.write_text("theirs", encoding="utf-8")  # another process, meanwhile
    assert target.read_text(encoding="utf-8") == "theirs"
    assert hidden(tmp_path) == []

    target.unlink()
    with atomic_output(target, overwrite=False) as temporary:
        temporary.write_text("mine", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "mine"
    with atomic_output(target, overwrite=True) as temporary:
        temporary.write_text("again", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "again"
    assert hidden(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# 2. A killed writer: no partial output, its temporary file cleaned by the next write


def test_a_writer_killed_before_publishing_leaves_nothing_the_next_run_keeps(tmp_path, reaped):
    output = tmp_path / "design.gpkg"
    release = tmp_path / "never"
    killed_marker, live_marker = tmp_path / "killed.ready", tmp_path / "live.ready"
    reaped.append(paused_run(killed_marker, release, "run", TINY, "-o", output))
    wait_until(killed_marker.exists, "the first run to write its temporary file")
    victim = reaped[0]
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=WAIT_S) == -signal.SIGKILL
    stale = Path(killed_marker.read_text(encoding="utf-8"))
    assert stale.exists(), "the killed writer's temporary file is left behind"
    assert f"-{victim.pid}-" in stale.name
    journal = Path(f"{stale}-journal")  # as SQLite leaves it when killed mid-transaction
    journal.write_bytes(b"")
    assert not output.exists()  # no partial output

    # a live writer of the same output, paused before publishing: its file must survive
    live_release = tmp_path / "live.go"
    reaped.append(paused_run(live_marker, live_release, "run", TINY, "-o", output))
    wait_until(live_marker.exists, "the live run to write its temporary file")
    live = Path(live_marker.read_text(encoding="utf-8"))

    done = heatnet("run", TINY, "-o", output, "--run-name", "after")

    assert done.returncode == 0, done.stderr
    assert run_name(output) == "after"
    assert not stale.exists()
    assert not journal.exists()
    assert live.exists(), "a live writer's temporary file was removed"
    live_release.touch()
    code, _, err = finish(reaped[1])
    assert code == 2  # the output exists: a usage error
    assert EXISTS in err
    assert run_name(output) == "after"
    assert hidden(tmp_path) == []


def test_only_stale_temporaries_of_the_same_output_on_this_machine_are_removed(tmp_path):
    target = tmp_path / "plan.gpkg"
    prefix = atomic_module._temporary_prefix(target)
    host = atomic_module._host()
    other_host = "0" * 6 if host != "0" * 6 else "1" * 6
    other_output = atomic_module._temporary_prefix(tmp_path / "other.gpkg")
    gone, alive = dead_pid(), os.getpid()
    names = {
        "stale": f"{prefix}{host}-{gone}-abc12345.gpkg",
        "stale journal": f"{prefix}{host}-{gone}-abc12345.gpkg-journal",
        "live": f"{prefix}{host}-{alive}-def67890.gpkg",
        "other machine": f"{prefix}{other_host}-{gone}-x.gpkg",
        "other output": f"{other_output}{host}-{gone}-y.gpkg",
        "user's": ".plan-notes.gpkg",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x")

    removed = remove_stale_temporaries(target)

    assert sorted(p.name for p in removed) == sorted([names["stale"], names["stale journal"]])
    left = set(hidden(tmp_path))
    assert left == {n for k, n in names.items() if not k.startswith("stale")}


def test_a_temporary_name_fits_the_file_system_for_the_longest_output_name(tmp_path):
    target = tmp_path / ("x" * (255 - len(".gpkg")) + ".gpkg")
    with atomic_output(target, overwrite=False) as temporary:
        assert len(temporary.name.encode()) + len("-journal") <= 255
        temporary.write_bytes(b"data")
    assert target.read_bytes() == b"data"
    with pytest.raises(InputError, match="257 bytes long; the file system allows 255"):
        check_output(tmp_path / ("y" * 252 + ".gpkg"), overwrite=False)


# ---------------------------------------------------------------------------------------------
# 3. A batch never replaces what heatnet did not write


@pytest.mark.parametrize("flag", [None, "--overwrite", "--resume"])
def test_a_batch_refuses_to_replace_the_users_files(tmp_path, flag):
    (tmp_path / "a.gpkg").write_bytes(TINY.read_bytes())
    csv = write_csv(tmp_path / "s.csv", "scenario,input\nb,a.gpkg\n")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "b.gpkg").write_bytes(TINY.read_bytes())  # the user's own b.gpkg
    (folder / "summary.gpkg").write_bytes(b"the user's summary")
    before = {p.name: sha256(p) for p in folder.iterdir()}

    done = heatnet("batch", csv, "-o", folder, *([flag] if flag else []))

    assert done.returncode == 3, done.stderr
    assert "b.gpkg" in done.stderr
    assert "summary.gpkg" in done.stderr
    assert "did not write" in done.stderr
    assert "Traceback" not in done.stderr
    assert {p.name: sha256(p) for p in folder.iterdir()} == before  # nothing written at all


def test_a_batch_replaces_its_own_files_but_not_one_added_since(tmp_path):
    folder = tmp_path / "out"
    scenarios = [Scenario("b", TINY)]
    assert run_batch(scenarios, folder, workers=1).exit_code == 0
    first = (folder / "b.gpkg").stat().st_mtime_ns
    (folder / "c.gpkg").write_bytes(b"the user's c")
    more = [*scenarios, Scenario("c", TINY)]

    with pytest.raises(InputError, match=r"did not write.*: c\.gpkg\."):
        run_batch(more, folder, workers=1, overwrite=True)
    assert (folder / "c.gpkg").read_bytes() == b"the user's c"

    (folder / "c.gpkg").unlink()
    time.sleep(0.01)
    report = run_batch(more, folder, workers=1, overwrite=True)
    assert report.exit_code == 0
    assert (folder / "b.gpkg").stat().st_mtime_ns > first
    assert run_name(folder / "c.gpkg") == "c"
    files = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["files"]
    assert {"b.gpkg", "c.gpkg", "logs/b.log", "logs/c.log", "summary.gpkg"} <= set(files)


def test_a_batch_refuses_a_scenario_reading_what_another_writes(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "b.gpkg").write_bytes(TINY.read_bytes())
    with pytest.raises(InputError, match=r"'a' reads .*b\.gpkg, which this batch would write"):
        run_batch([Scenario("a", folder / "b.gpkg"), Scenario("b", TINY)], folder, workers=1)
    assert sha256(folder / "b.gpkg") == sha256(TINY)


# ---------------------------------------------------------------------------------------------
# 4. Bad folders, names and manifests: exit 3 (2 for a bad -o) with a message, never a
# traceback


def test_batch_output_pointing_at_a_file_is_refused(tmp_path):
    csv = write_csv(tmp_path / "s.csv", f"scenario,input\nb,{TINY}\n")
    target = tmp_path / "results.gpkg"
    target.write_bytes(b"a file")
    # a file as the folder, or a folder below a file: a usage error (exit 2), as a missing
    # folder is
    for output, expected in ((target, 2), (target / "below", 2)):
        done = heatnet("batch", csv, "-o", output)
        assert done.returncode == expected, done.stderr
        assert str(target) in done.stderr
        assert "Traceback" not in done.stderr
        assert "internal error" not in done.stderr
    assert target.read_bytes() == b"a file"


def test_an_overlong_scenario_name_is_refused_before_anything_runs(tmp_path):
    csv = write_csv(tmp_path / "s.csv", f"scenario,input\n{'x' * 250},{TINY}\nok,{TINY}\n")
    done = heatnet("batch", csv, "-o", tmp_path / "out")
    assert done.returncode == 3, done.stderr
    assert "bad_scenario_name" in done.stderr
    assert f"at most {LONGEST_NAME}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
    # a sweep's suffix counts; the longest name that fits is accepted
    fits = write_csv(tmp_path / "fits.csv", f"scenario,input\n{'y' * LONGEST_NAME},{TINY}\n")
    assert read_scenarios(fits)[0].name == "y" * LONGEST_NAME
    with pytest.raises(ValidationError) as caught:
        read_scenarios(fits, ["finance/npv-rate=0:0.01:0.01"])
    assert [i.code for i in caught.value.issues] == ["bad_scenario_name"]
    assert "with its sweep suffix" in caught.value.issues[0].message


GOOD_ENTRY = {
    "input": str(TINY),
    "input_sha256": "0" * 64,
    "tables": None,
    "tables_sha256": None,
    "parameters": {},
    "heatnet_version": "0.1.0",
    "output": "b.gpkg",
    "exit_code": 0,
    "result": {
        "name": "b", "exit_code": 0, "message": "", "runtime_s": 1.0, "summary": {},
        "output": "b.gpkg", "worker": "local",
    },
}  # fmt: skip


def manifest_with(**entry_changes: object) -> str:
    entry = {**GOOD_ENTRY, **entry_changes}
    return json.dumps({"heatnet_version": "0.1.0", "scenarios": {"b": entry}, "files": []})


BROKEN_MANIFESTS = {
    "not JSON": ("{scenarios: oops", "not JSON"),
    "a list": ("[1, 2]", "a list, not an object"),
    "empty object": ("{}", "'scenarios' is missing"),
    "scenarios a list": ('{"heatnet_version": "0.1.0", "scenarios": []}', "'scenarios' is a list"),
    "entry a number": ('{"heatnet_version": "0.1.0", "scenarios": {"b": 5}}', "'b' is an integer"),
    "exit code text": (manifest_with(exit_code="0"), "'exit_code' is a string, not an integer"),
    "no input": (manifest_with(input=None), "'input' is null, not a string"),
    "result null": (manifest_with(result=None), "'result' is null, not an object"),
    "files not a list": ('{"heatnet_version": "1", "scenarios": {}, "files": "b.gpkg"}', "'files'"),
    "not UTF-8": ("\udcff", "not JSON"),
}


@pytest.mark.parametrize("case", BROKEN_MANIFESTS)
@pytest.mark.parametrize("flag", [None, "--resume"])
def test_a_broken_manifest_is_refused_naming_the_file_and_the_problem(tmp_path, runner, case, flag):
    text, problem = BROKEN_MANIFESTS[case]
    folder = tmp_path / "out"
    folder.mkdir()
    manifest = folder / "manifest.json"
    manifest.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    before = manifest.read_bytes()
    csv = write_csv(tmp_path / "s.csv", f"scenario,input\nb,{TINY}\n")

    result = runner.invoke(cli, ["batch", str(csv), "-o", str(folder), *([flag] if flag else [])])

    assert result.exit_code == 3, result.output
    assert str(manifest) in result.output
    assert problem in result.output
    assert "--overwrite to start afresh" in result.output
    assert manifest.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json"]


def test_the_real_command_reports_a_broken_manifest_without_a_traceback(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"scenarios": {"b": []}}', encoding="utf-8")
    csv = write_csv(tmp_path / "s.csv", f"scenario,input\nb,{TINY}\n")
    done = heatnet("batch", csv, "-o", folder, "--resume")
    assert done.returncode == 3, done.stderr
    assert "manifest.json is not a batch manifest heatnet can read" in done.stderr
    assert "Traceback" not in done.stderr


def test_overwrite_starts_afresh_from_a_broken_manifest(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "manifest.json").write_text("garbage", encoding="utf-8")
    report = run_batch([Scenario("b", TINY)], folder, workers=1, overwrite=True)
    assert report.exit_code == 0
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scenarios"]["b"]["exit_code"] == 0


# ---------------------------------------------------------------------------------------------
# 5. SIGTERM, and a cluster that dies: the batch stops, keeps what finished, never hangs


def recorded(folder: Path) -> dict[str, object]:
    try:
        return dict(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["scenarios"])
    except (OSError, ValueError, KeyError):
        return {}


def test_sigterm_stops_a_batch_like_ctrl_c(tmp_path, reaped):
    csv = write_csv(tmp_path / "s.csv", f"scenario,input\nquick,{TINY}\nslow,{SAMPLE}\n")
    folder = tmp_path / "out"
    batch = start([*HEATNET, "batch", str(csv), "-o", str(folder), "--workers", "2"])
    reaped.append(batch)
    _, seen = pump_lines(batch.stderr)
    wait_until(
        lambda: "quick" in recorded(folder) and (folder / "logs" / "slow.log").exists(),
        "quick to finish while slow runs",
    )
    children = psutil.Process(batch.pid).children(recursive=True)
    assert children, "the local cluster's workers"

    batch.send_signal(signal.SIGTERM)
    code = batch.wait(timeout=WAIT_S)

    _, alive = psutil.wait_procs(children, timeout=WAIT_S)
    stderr = "".join(seen)
    assert code == 130, stderr[-2000:]
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert not alive, f"worker processes left running: {alive}"
    entries = recorded(folder)
    assert list(entries) == ["quick"]
    assert run_name(folder / "quick.gpkg") == "quick"
    assert not (folder / "slow.gpkg").exists()
    summary = (folder / "summary.csv").read_text(encoding="utf-8")
    assert "quick" in summary
    assert "slow" not in summary


@pytest.fixture
def scheduler(tmp_path, reaped) -> tuple[str, subprocess.Popen[str]]:
    """A ``dask scheduler`` with no workers, on loopback."""
    file = tmp_path / "scheduler.json"
    process = start(
        [str(DASK), "scheduler", "--scheduler-file", str(file), "--port", "0", "--host",
         "127.0.0.1", "--dashboard-address", "127.0.0.1:0", "--no-dashboard"],
    )  # fmt: skip
    reaped.append(process)
    address: list[str] = []

    def read() -> bool:
        try:
            address.append(json.loads(file.read_text(encoding="utf-8"))["address"])
        except (OSError, ValueError, KeyError):
            return False
        return True

    wait_until(read, "the scheduler's address")
    return address[0], process


def test_a_batch_whose_scheduler_dies_stops_with_a_message(tmp_path, reaped, scheduler):
    address, process = scheduler
    csv = write_csv(tmp_path / "s.csv", f"scenario,input\nb,{TINY}\n")
    folder = tmp_path / "out"
    batch = start([*HEATNET, "batch", str(csv), "-o", str(folder), "--scheduler", address])
    reaped.append(batch)
    _, seen = pump_lines(batch.stderr)
    wait_until(lambda: any("[0/1] done" in line for line in seen), "the batch to submit")

    process.send_signal(signal.SIGKILL)  # no worker ever ran b: the batch would wait forever
    code = batch.wait(timeout=WAIT_S)

    stderr = "".join(seen)
    assert code == 1, stderr[-2000:]
    assert "lost the Dask scheduler" in stderr
    assert "--resume" in stderr
    assert "Traceback" not in stderr
    assert recorded(folder) == {}  # the manifest is whole (nothing finished)


@pytest.mark.timeout(60)
def test_a_cluster_without_workers_is_given_up(tmp_path, monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setattr(batch_cluster, "POLL_S", 0.2)
    monkeypatch.setattr(batch_cluster, "NO_WORKERS_S", 1.0)
    with (
        LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty,
        pytest.raises(ClusterLost, match="no workers for 1 s"),
    ):
        run_batch([Scenario("b", TINY)], tmp_path / "out", scheduler=empty.scheduler_address)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def tiny_disk(tmp_path):
    """A 96 KB tmpfs (root and mount permitted), else the test is skipped with the reason."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(folder)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], timeout=30, check=False)


def test_a_full_disk_is_a_clear_error_and_leaves_nothing(tiny_disk):
    out = tiny_disk / "tiny.gpkg"  # a GeoPackage of tiny is over 96 KB
    source = TINY
    before = sha256(source)
    result = subprocess.run(
        [sys.executable, "-m", "heatnet", "run", str(source), "-o", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert f"could not write {out}" in result.stderr
    assert "MB free there" in result.stderr
    assert list(tiny_disk.iterdir()) == []  # no output, no temporary, no journal
    assert sha256(source) == before


def test_an_interrupt_while_starting_is_quiet(tmp_path):
    # Ctrl-C while heatnet imports its libraries: no traceback. The signal is raised from
    # inside the command line's import, so the test does not depend on how fast imports are.
    out = tmp_path / "out.gpkg"
    script = (
        "import builtins, os, signal, sys\n"
        "real = builtins.__import__\n"
        "def interrupting(name, *args, **kwargs):\n"
        "    if name.startswith('heatnet.cli'):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupting\n"
        f"sys.argv = ['heatnet', 'run', {str(TINY)!r}, '-o', {str(out)!r}]\n"
        "from heatnet.entry import main\n"
        "main()\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert process.returncode == 130, process.stderr
    assert "Traceback" not in process.stderr
    assert "interrupted while starting" in process.stderr
    assert not out.exists()


def test_an_interrupt_after_the_output_is_published_says_it_is_complete(tmp_path, monkeypatch):
    # the signal lands while the closing lines print: the output is whole, and the message
    # says so (it used to print click's "Aborted!" and exit 1)
    from click.testing import CliRunner

    from heatnet.pipeline import RunOutcome

    def interrupted(self: RunOutcome) -> dict[str, str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(RunOutcome, "headline", interrupted)
    out = tmp_path / "out.gpkg"
    result = CliRunner().invoke(cli, ["run", str(TINY), "-o", str(out)])
    assert result.exit_code == 130, result.output
    assert f"interrupted; {out} written and complete" in result.output
    assert pyogrio.read_dataframe(out, layer="solution_summary")["state"].iloc[0] == "optimal"
