"""``heatnet run`` end to end: the command line, read back from disk.

1. The command line: exit codes 0, 3, 4 and 5, the overwrite guard, -q, --log, --run-name,
   --tables; the input is never modified.
2. Ctrl-C and SIGTERM: exit 130, nothing written, no temporary file left behind.

The runs on the bench's looped grids of 1,000 and 2,000 buildings and the interrupted district
runs are marked slow. The shared runs (tiny, switched, infeasible) are fixtures in
``tests/run_designs.py``; helpers and input builders live in ``tests/runs.py``.
"""

from __future__ import annotations

import itertools
import re
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from tests.conftest import CRS, ROOT, SAMPLE, TINY, base_frames, sha256, write_gpkg
from tests.run_designs import SWITCHED_OFF, CliRun

# the runs these tests read: fixtures of tests/run_designs.py, imported under their own names
# so that pytest finds them in this module (each runs once per module)
from tests.run_designs import infeasible as infeasible
from tests.run_designs import infeasible_run as infeasible_run
from tests.run_designs import switched as switched
from tests.run_designs import tiny as tiny
from tests.runs import (
    HEATNET,
    LAYERS,
    ONE_SECOND_H,
    TABLES,
    headline,
    heatnet,
    looped_input,
    pump_lines,
    read_output,
)

# ---------------------------------------------------------------------------------------------
# 1. The command line


@pytest.fixture(scope="module")
def cli_tiny(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    folder = tmp_path_factory.mktemp("cli")
    before = sha256(TINY)
    out = folder / "out" / "tiny.gpkg"
    log = folder / "logs" / "run.log"  # --log makes its folder; -o needs --mkdir
    result = heatnet("run", TINY, "-o", out, "--mkdir", "--run-name", "street test", "--log", log)
    return CliRun(result, read_output(TINY, out) if out.exists() else None, before, log)


def test_run_exits_0_with_the_headline_on_stdout(cli_tiny):
    result, written = cli_tiny.result, cli_tiny.written
    assert result.returncode == 0, result.stderr
    assert written is not None
    lines = headline(result.stdout)
    summary = written.summary
    assert lines["state"] == "optimal (linear pipes)"
    assert lines["network npv"] == f"{summary['network_npv']:,.0f}"
    assert lines["buildings"] == "2 of 3 connected (2 connections)"
    assert lines["output"] == str(written.path)
    stages = re.findall(r"INFO stage (\w+)", result.stderr)  # plain lines: stderr is not a TTY
    assert stages == ["validate", "topology", "optimise", "write"]
    assert "Traceback" not in result.stderr


def test_run_leaves_the_input_untouched(cli_tiny):
    assert sha256(TINY) == cli_tiny.input_hash_before


def test_output_opens_with_pyogrio_and_geopandas(cli_tiny):
    path = cli_tiny.written.path
    names = [name for name, _ in pyogrio.list_layers(path)]
    assert names[: len(LAYERS + TABLES)] == list(LAYERS + TABLES)
    for name in LAYERS:
        frame = gpd.read_file(path, layer=name)
        assert frame.crs == CRS
        assert len(frame) == len(cli_tiny.written[name])


def test_run_name_and_metadata_land_in_the_summary(cli_tiny):
    summary = cli_tiny.written.summary
    assert summary["run"] == "street test"
    assert summary["git_rev"].startswith("heatnet ")
    assert summary["user"].strip()
    started = datetime.fromisoformat(summary["start_date"])
    assert started.tzinfo is not None
    assert datetime.now(UTC) - timedelta(hours=1) < started <= datetime.now(UTC)


def test_run_name_defaults_to_the_input_stem(tiny):
    assert tiny.summary["run"] == "tiny"


def test_log_file_gets_everything(cli_tiny):
    lines = cli_tiny.log.read_text().splitlines()
    assert any("INFO heatnet.run: stage optimise" in line for line in lines)
    assert any(" DEBUG heatnet." in line for line in lines)
    assert "DEBUG" not in cli_tiny.result.stderr  # the console stays at INFO


def test_quiet_prints_no_progress(tmp_path, tiny):
    out = tmp_path / "out.gpkg"
    result = heatnet("run", TINY, "-o", out, "-q", "--threads", "2", "--seed", "7")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = headline(result.stdout)
    assert lines["state"] == "optimal (linear pipes)"
    # other solver threads and seed, the same (unique) optimum of the tiny sample
    assert lines["network npv"] == f"{tiny.summary['network_npv']:,.0f}"


def test_quiet_still_logs_progress_to_the_log_file(tmp_path):
    log = tmp_path / "run.log"
    result = heatnet("run", TINY, "-o", tmp_path / "out.gpkg", "-q", "--log", log)
    assert result.returncode == 0, result.stderr
    assert "stage optimise" in log.read_text()


def test_each_new_incumbent_is_logged_once(cli_tiny):
    found = re.findall(
        r"MIP (\d+): incumbent ([-\d,]+) .*\(new incumbent\)", cli_tiny.result.stderr
    )
    assert found
    for (a, x), (b, y) in itertools.pairwise(found):
        assert (a, x) != (b, y), f"MIP {a}: incumbent {x} reported twice"


def test_tables_option_replaces_the_inputs_tables(tmp_path):
    tariffs = pyogrio.read_dataframe(TINY, layer="tariffs").assign(annual_charge_per_kwh=0.2)
    tables = write_gpkg(tmp_path / "tables.gpkg", {"tariffs": tariffs})
    before = sha256(tables)
    out = tmp_path / "out.gpkg"
    result = heatnet("run", TINY, "-o", out, "--tables", tables)
    assert result.returncode == 0, result.stderr
    b = read_output(TINY, out)["buildings"].set_index("building_id")
    # 500 + 10 × (100 + 0.2 × kWh + 20 × kW): B1 100,000 kWh 40 kW, B2 80,000 kWh 35 kW
    assert b.loc[["B1", "B2"], "tariff_pv"].tolist() == pytest.approx([209_500, 168_500])
    assert sha256(tables) == before


def test_set_overrides_are_recorded_in_the_parameters_table(switched):
    table = switched["parameters"].set_index("parameter")
    for key, value in {"finance/npv-rate": "0.05", **SWITCHED_OFF}.items():
        assert table.loc[key, "source"] == "--set", key
        assert table.loc[key, "value"] == value, key
    assert table.loc["finance/npv-term", ["value", "source"]].tolist() == ["11", "table"]


@pytest.fixture(scope="module")
def broken_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    folder = tmp_path_factory.mktemp("broken")
    frames = base_frames()
    frames["buildings"] = frames["buildings"].assign(
        annual_demand_kwh=[20_000.0, -5.0], tariff_id=[7, 1]
    )
    source = write_gpkg(folder / "broken.gpkg", frames)
    return heatnet("run", source, "-o", folder / "out.gpkg"), folder


def test_invalid_input_exits_3_and_writes_nothing(broken_run):
    result, folder = broken_run
    assert result.returncode == 3, result.stdout + result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["broken.gpkg"]
    text = result.stderr
    assert "buildings: 2 errors" in text
    # every issue names the table, the row (fid and id), the column and a stable code
    assert re.search(r"fid 1 \(B1\)\s+unknown_tariff_id: \[tariff_id\]", text)
    assert re.search(r"fid 2 \(B2\)\s+negative_value: \[annual_demand_kwh\]", text)
    assert result.stdout == ""
    assert "Traceback" not in text


def test_invalid_input_message_shows_plain_values(broken_run):
    result, _ = broken_run
    assert "np.float64" not in result.stderr
    assert "np.int64" not in result.stderr
    assert "value -5.0 must be at least 0" in result.stderr


def test_existing_output_is_kept_without_overwrite(tmp_path):
    out = tmp_path / "out.gpkg"
    out.write_text("keep me")
    refused = heatnet("run", TINY, "-o", out)
    assert refused.returncode == 2  # a usage error
    assert "--overwrite" in refused.stderr
    assert out.read_text() == "keep me"
    replaced = heatnet("run", TINY, "-o", out, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert read_output(TINY, out).summary["state"] == "optimal"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gpkg"]


def test_input_is_never_the_output(tmp_path):
    source = tmp_path / "tiny.gpkg"
    shutil.copyfile(TINY, source)
    before = sha256(source)
    result = heatnet("run", source, "-o", source, "--overwrite")
    assert result.returncode == 2  # a usage error
    assert "refusing to write over the input" in result.stderr
    assert sha256(source) == before


def test_infeasible_exits_4_with_reasons_and_nothing_built(infeasible_run, infeasible):
    result = infeasible_run.result
    assert result.returncode == 4, result.stderr
    assert headline(result.stdout)["state"] == "infeasible (linear pipes)"
    summary = infeasible.summary
    assert summary["state"] == "infeasible"
    reasons = infeasible["infeasible_reasons"]
    assert reasons["reason_type"].tolist() == ["min_buildings"]
    assert "constraint/min-buildings" in reasons["message"].iloc[0]
    for name in LAYERS:
        assert not infeasible[name]["in_network"].any(), name
    assert infeasible["cashflow"].empty
    for key in ("objective", "network_npv", "lower_bound", "mip_gap", "network_linear_density"):
        assert pd.isna(summary[key]), key
    assert summary["network_building_count"] == 0
    assert summary["network_length"] == 0
    assert sha256(TINY) == infeasible_run.input_hash_before


def test_required_building_900_m_from_every_path_exits_4_naming_it(tmp_path):
    # tiny's street runs along y = 300000 from x = 400000 to 400200; B3 goes 900 m north of its
    # end, beyond the default heatnet/max-connector-length of 500 m, and becomes required
    source, out = tmp_path / "far.gpkg", tmp_path / "far-out.gpkg"
    shutil.copyfile(TINY, source)
    buildings = pyogrio.read_dataframe(source, layer="buildings")
    far = buildings["building_id"] == "B3"
    buildings.loc[far, "constraint"] = "required"
    buildings.loc[far, "geometry"] = shapely.Point(400180, 300900)
    pyogrio.write_dataframe(buildings, source, layer="buildings", driver="GPKG")
    result = heatnet("run", source, "-o", out)
    assert result.returncode == 4, result.stderr
    reasons = read_output(source, out)["infeasible_reasons"]
    unreachable = reasons[reasons["reason_type"] == "unreachable_required_building"]
    assert unreachable["message"].tolist() == [
        "required building B3 is unreachable: no path within heatnet/max-connector-length (500 m)"
    ]


def test_no_design_means_no_bounds(infeasible):
    summary = infeasible.summary
    assert pd.isna(summary["upper_bound"])


@pytest.mark.slow
def test_no_design_in_the_time_limit_exits_5(tmp_path):
    # 1,988 buildings, of which at least 1,900 must connect: the heuristic seed (the buildings
    # whose branches pay for themselves: ~1,520) does not satisfy that, and HiGHS has not even
    # finished the root LP after 1 s. (With min-buildings 1,500 the seed is a design at once.)
    source = looped_input(tmp_path, 2_000)
    out = tmp_path / "out.gpkg"
    result = heatnet(
        "run", source, "-o", out,
        "--set", f"optimiser/runtime-limit={ONE_SECOND_H}",
        "--set", "constraint/min-buildings=1900",
    )  # fmt: skip
    assert result.returncode == 5, result.stdout + result.stderr
    assert headline(result.stdout)["state"] == "no-solution (linear pipes)"
    written = read_output(source, out)
    summary = written.summary
    assert summary["state"] == "no-solution"
    for key in ("objective", "network_npv", "lower_bound", "mip_gap"):
        assert pd.isna(summary[key]), key
    for name in LAYERS:
        assert not written[name]["in_network"].any(), name
    assert written["cashflow"].empty
    assert written["infeasible_reasons"].empty


@pytest.mark.slow
def test_time_limit_keeps_the_best_design_found(tmp_path):
    # docs/decisions.md §4.3: 992 buildings in 1 s cannot be solved to the 5 % gap, but the
    # seed design HiGHS starts from is a design: it is written, exit 0, state feasible, with
    # its gap
    source = looped_input(tmp_path, 1_000)
    out = tmp_path / "out.gpkg"
    result = heatnet("run", source, "-o", out, "--set", f"optimiser/runtime-limit={ONE_SECOND_H}")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = read_output(source, out).summary
    assert summary["state"] == "feasible"
    assert summary["network_building_count"] > 0
    # a bound is proven (the relaxation's, or at worst every building's value summed) and far
    assert summary["mip_gap"] > 0.05
    assert summary["upper_bound"] > summary["objective"]
    # nothing is required, so the empty network (NPV 0) is a design: a run cut short must write
    # one at least as good (the old shortest-path seed wrote -1.4 M here)
    assert summary["network_npv"] >= 0
    assert summary["objective"] >= 0


# ---------------------------------------------------------------------------------------------
# 2. Interrupts


def interrupt_run(tmp_path, signums, after):
    """Run the district, send ``signums`` once a stderr line contains ``after``; (code, log)."""
    out = tmp_path / "district.gpkg"
    command = [*HEATNET, "run", str(SAMPLE), "-o", str(out)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    ) as process:
        lines, seen = pump_lines(process.stderr)
        try:
            deadline = time.monotonic() + 120
            optimising = False
            while True:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
                assert line is not None, "heatnet ended before the signal:\n" + "".join(seen)
                optimising = optimising or "stage optimise" in line
                if optimising and after in line:
                    break
            for signum in signums:  # back to back: a second one is not a late first one
                process.send_signal(signum)
            code = process.wait(timeout=90)
            while lines.get(timeout=10) is not None:
                pass
        finally:
            if process.poll() is None:
                process.kill()
    return out, code, "".join(seen)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_first_interrupt_writes_the_best_design_found(signum, tmp_path):
    # once a design is priced, an interrupt stops the search and writes that design: exit 0,
    # state feasible or optimal with its proven gap, and the warning says it was interrupted
    out, code, log = interrupt_run(tmp_path, [signum], "design priced at")
    assert code == 0, log
    assert "interrupted: stopping the search" in log
    assert "stage write" in log
    written = read_output(SAMPLE, out)
    assert written.summary["network_building_count"] > 0
    assert written.summary["state"] in ("optimal", "feasible")
    assert "run_interrupted" in set(written["warnings"]["code"])
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_interrupt_before_any_design_writes_nothing(tmp_path, monkeypatch):
    # SIGTERM lands while the model is built, before any design exists (the constructive
    # designs come right after): the search stops at once, nothing is priced or written, 130
    from click.testing import CliRunner

    import heatnet.optimise.loop
    from heatnet.cli.commands import cli

    real_build = heatnet.optimise.loop.build_model

    def build_then_interrupt(*args, **kwargs):
        model = real_build(*args, **kwargs)
        signal.raise_signal(signal.SIGTERM)  # the search's handler: a stop request
        return model

    monkeypatch.setattr(heatnet.optimise.loop, "build_model", build_then_interrupt)
    out = tmp_path / "district.gpkg"
    result = CliRunner().invoke(cli, ["run", str(TINY), "-o", str(out)])
    assert result.exit_code == 130, result.output
    assert f"interrupted; {out} not written" in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary left behind
