"""Build the installable plugin zip: ``build/heatnet_processing.zip`` (``make plugin``).

The zip holds one folder, ``heatnet_processing/``, with the plugin's files and a copy of
``schemas/parameters.schema.json`` (the Design network algorithm builds its parameters from
it). Pure Python (zipfile), so it works wherever Python does.
"""

from __future__ import annotations

import argparse
import logging
import zipfile
from pathlib import Path

LOG = logging.getLogger("build_zip")
HERE = Path(__file__).resolve().parent
PLUGIN = HERE / "heatnet_processing"
SCHEMA = HERE.parent / "schemas" / "parameters.schema.json"
SKIPPED = {"__pycache__", ".mypy_cache", ".ruff_cache"}


def plugin_files(folder: Path = PLUGIN) -> list[Path]:
    """The plugin's files, caches and compiled files left out."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not SKIPPED & set(path.parts) and path.suffix not in (".pyc", ".pyo")
    )


def build(target: Path, folder: Path = PLUGIN, schema: Path = SCHEMA) -> Path:
    """Write the zip (replacing any old one); returns its path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in plugin_files(folder):
            archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
        archive.write(schema, f"{folder.name}/{schema.name}")
    partial.replace(target)
    return target


def main() -> None:
    """``python qgis_plugin/build_zip.py [-o build/heatnet_processing.zip]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-o", "--output", type=Path, default=HERE.parent / "build" / "heatnet_processing.zip"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    LOG.info("wrote %s", build(args.output))


if __name__ == "__main__":
    main()
