"""A CRS that stretches lengths at the data is not trusted for metres (Web Mercator).

The district sample (EPSG:25832, UTM 32N, scale 0.9996 there) written in EPSG:3857 has every
length inflated by 1/cos(latitude), about 1.6 at its latitude: heatnet must measure in the local
UTM zone instead, warn, and design the same network as from the original.
"""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest
from pyproj import CRS

from heatnet.inputs.geometry import harmonise_crs
from heatnet.pipeline import check
from heatnet.topology import build_network
from tests.conftest import ROOT, write_gpkg

LAYERS = ("buildings", "paths", "supplies")
SAMPLE = ROOT / "sample_data" / "district.gpkg"


def layers_of(path, crs=None):
    out = {name: gpd.read_file(path, layer=name) for name in LAYERS}
    return {k: (v.to_crs(crs) if crs else v) for k, v in out.items()}


def test_web_mercator_is_replaced_by_utm_with_a_warning():
    _, input_crs, work_crs, issues = harmonise_crs(layers_of(SAMPLE, "EPSG:3857"))
    assert input_crs.equals(CRS("EPSG:3857"))
    assert work_crs.to_epsg() == 32632  # the local UTM zone
    (issue,) = [i for i in issues if i.code == "projected_to_utm"]
    assert "stretches lengths by" in issue.message


def test_a_utm_input_is_trusted():
    _, input_crs, work_crs, issues = harmonise_crs(layers_of(SAMPLE))
    assert work_crs.equals(input_crs)
    assert not [i for i in issues if i.code == "projected_to_utm"]


def test_web_mercator_input_measures_what_the_local_crs_measures(tmp_path):
    # the issue's symptom was lengths inflated ~1.6x: the network built from the Mercator copy
    # must measure what the original measures (both in UTM 32N; reprojection noise only)
    frames = {
        name: pyogrio.read_dataframe(SAMPLE, layer=name) for name, _ in pyogrio.list_layers(SAMPLE)
    }
    for name in LAYERS:
        frames[name] = frames[name].to_crs("EPSG:3857")
    mercator = write_gpkg(tmp_path / "mercator.gpkg", frames)
    lengths = {}
    for label, source in (("local", SAMPLE), ("mercator", mercator)):
        report = check(source)
        assert report.inputs is not None
        lengths[label] = float(build_network(report.inputs).model.edges["length_m"].sum())
    assert lengths["mercator"] == pytest.approx(lengths["local"], rel=1e-4)
