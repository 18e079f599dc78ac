"""The bundled samples are reproducible from their sources and valid."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pyogrio
import pytest

from heatnet.inputs.load import LAYERS, TABLES, read_inputs
from tests.conftest import ROOT, SAMPLE, TINY, valid_inputs, write_gpkg


def build_module():
    spec = importlib.util.spec_from_file_location(
        "build_samples", ROOT / "sample_data" / "build_samples.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("builder", "committed"), [("district_layers", SAMPLE), ("tiny_layers", TINY)]
)
def test_sample_rebuilds_to_the_committed_data(builder, committed, tmp_path):
    rebuilt = write_gpkg(tmp_path / committed.name, getattr(build_module(), builder)())
    held = {str(name) for name, _ in pyogrio.list_layers(committed)}
    assert held == {str(name) for name, _ in pyogrio.list_layers(rebuilt)}
    for name in (n for n in (*LAYERS, *TABLES) if n in held):
        expected = pyogrio.read_dataframe(committed, layer=name)
        actual = pyogrio.read_dataframe(rebuilt, layer=name)
        pd.testing.assert_frame_equal(actual, expected, check_dtype=False, obj=name)


def test_district_sample_is_real_and_valid():
    inputs = valid_inputs(read_inputs(SAMPLE))
    assert len(inputs.buildings) == 200
    assert len(inputs.paths) == 97
    assert inputs.issues == ()
    assert inputs.input_crs.to_epsg() == 25832
    # annual demand = peak * full-load hours, as documented
    b = inputs.buildings
    assert ((b["annual_demand_kwh"] - b["ts_0"] * b["flh_0"]).abs() < 1e-6).all()
    assert (
        ROOT / "sample_data" / "source" / "topotherm-district" / "LICENSE-topotherm.txt"
    ).exists()
