"""The HTML report in a real browser: headless Chromium opens it offline and draws the map.

Skipped where Chromium is not installed (``apt-get install chromium``; ``.ci/run`` installs it
when it can). The page is opened from a file with the network closed off; a probe script
appended to a copy of it reports what Bokeh loaded (each layer's feature count) into the DOM,
which Chromium dumps, and a screenshot is checked for the map's connected buildings. Set
``HEATNET_HTML_PNG_DIR`` to keep the screenshot (``make html-check`` keeps it in
``build/html-check/``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyogrio
import pytest
from PIL import Image

from heatnet.picture import render_report
from heatnet.picture.draw import CONNECTED
from tests.runs import run_library

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed")

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--virtual-time-budget=10000",
)  # fmt: skip
PROBE = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const out = {models: {}};
  try {
    for (const m of Bokeh.documents[0].all_models) {
      if (m.name && m.data_source) out.models[m.name] = m.data_source.get_length();
    }
  } catch (e) { out.error = String(e); }
  document.body.setAttribute("data-check", JSON.stringify(out));
}, 1000));
</script>
</body>"""


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("html")
    source = Path(__file__).resolve().parent.parent / "sample_data" / "tiny.gpkg"
    written = run_library(source, folder / "tiny-design.gpkg")
    return written.path, render_report(written.path, folder / "tiny-design.html")


def test_the_browser_loads_every_layer_of_the_map(report, tmp_path):
    gpkg, page = report
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")
    done = chromium(tmp_path, "--dump-dom", probe.as_uri())
    found = re.search(r'data-check="([^"]*)"', done.stdout)
    assert found, done.stderr[-2000:]
    loaded = json.loads(html.unescape(found.group(1)))
    assert "error" not in loaded, loaded
    models = loaded["models"]
    buildings = pyogrio.read_dataframe(gpkg, layer="buildings")
    connected = int(buildings["in_network"].astype(bool).sum())
    drawn = sum(n for name, n in models.items() if name.startswith("buildings_connected"))
    assert drawn == connected > 0
    paths = pyogrio.read_dataframe(gpkg, layer="paths")
    laid = paths[paths["in_network"].astype(bool) & ~paths["connector"].astype(bool)]
    assert sum(n for name, n in models.items() if name.startswith("pipes_")) == len(laid)
    assert models.get("supplies_used") == 1


def test_the_browser_draws_the_map(report, tmp_path):
    _, page = report
    shot = tmp_path / "report.png"
    done = chromium(tmp_path, "--window-size=1400,1900", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    rgb = np.array([int(CONNECTED[i : i + 2], 16) for i in (1, 3, 5)])
    orange = int((np.abs(pixels - rgb).max(axis=2) <= 40).sum())
    assert orange > 30  # connected buildings are drawn (filled, in the PNG's colour)
    keep = os.environ.get("HEATNET_HTML_PNG_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(keep) / "tiny-design.png")
