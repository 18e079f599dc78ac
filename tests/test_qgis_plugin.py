"""heatnet's QGIS Processing plugin in a real, headless QGIS (``make qgis-check``).

Runs ``tests/qgis_plugin_check.py`` with the system Python (``HEATNET_QGIS_PYTHON``, default
``/usr/bin/python3``) on the plugin as ``make plugin`` zips it; skipped where that Python cannot
import ``qgis.core``. ``HEATNET_QGIS_PNG_DIR`` keeps the screenshots (``make qgis-check``:
``build/qgis-check/plugin/``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import QGIS_PYTHON, ROOT, has_qgis

sys.path.insert(0, str(ROOT / "qgis_plugin"))
import build_zip

CHECK = Path(__file__).with_name("qgis_plugin_check.py")
HEATNET = Path(sys.executable).with_name("heatnet")
SCREENSHOTS = ("design-network-dialog.png", "design-network-result.png", "report-tiny.png")


@pytest.mark.slow
def test_plugin_runs_in_qgis(tmp_path: Path) -> None:
    if not has_qgis():
        pytest.skip(
            f"QGIS not importable by {QGIS_PYTHON} "
            "(apt-get install python3-qgis qgis-providers); set HEATNET_QGIS_PYTHON otherwise"
        )
    png_dir = Path(os.environ.get("HEATNET_QGIS_PNG_DIR") or tmp_path / "png")
    for name in SCREENSHOTS:
        (png_dir / name).unlink(missing_ok=True)
    plugin_zip = build_zip.build(tmp_path / "heatnet_processing.zip")
    result = subprocess.run(
        [QGIS_PYTHON, str(CHECK), str(png_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "HEATNET_EXECUTABLE": str(HEATNET),
            "HEATNET_PLUGIN_ZIP": str(plugin_zip),
        },
        check=False,
    )
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert "OK: the heatnet Processing plugin runs" in result.stdout
    assert "/plugins/heatnet_processing, heatnet" in result.stdout  # the zip's copy was run
    for name in SCREENSHOTS:
        assert (png_dir / name).stat().st_size > 5000, name
