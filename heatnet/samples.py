"""The bundled sample inputs, for ``heatnet sample DIR``: a pip user's first run.

The samples (``sample_data/`` in the source tree, ``heatnet/sample_data`` in a wheel) are:
``district.gpkg`` (a real district, from the topotherm project, MIT licence), its twin with plant
units ``district-plants.gpkg``, the hand-checkable ``tiny.gpkg``, their ``README.md`` and the
data's licence notice ``LICENSE-topotherm.txt``.
"""

from __future__ import annotations

import logging
import shutil
from importlib import resources
from pathlib import Path

from heatnet.core.atomic import atomic_output, check_output
from heatnet.core.errors import InputError, SchemaError

log = logging.getLogger(__name__)

SAMPLES = ("district.gpkg", "district-plants.gpkg", "tiny.gpkg", "README.md")
LICENCE = "LICENSE-topotherm.txt"
"""The district data's licence notice (in the source tree: ``source/topotherm-district/``)."""


def sample_files() -> dict[str, Path]:
    """Each sample file by the name it is written under: inside the package, else the source tree.

    Raises
    ------
    SchemaError
        When the samples are not where an installation puts them (a broken installation).
    """
    packaged = resources.files("heatnet") / "sample_data"
    if packaged.is_dir():
        folder = Path(str(packaged))
        return {name: folder / name for name in (*SAMPLES, LICENCE)}
    tree = Path(__file__).resolve().parents[1] / "sample_data"
    if tree.is_dir():
        files = {name: tree / name for name in SAMPLES}
        files[LICENCE] = tree / "source" / "topotherm-district" / LICENCE
        return files
    raise SchemaError("heatnet's sample data were not found (broken installation)")


def write_samples(folder: Path, *, overwrite: bool = False) -> list[Path]:
    """Copy the samples into ``folder`` (which must exist), each written atomically.

    Raises
    ------
    InputError
        When ``folder`` is not a folder; :class:`~heatnet.core.atomic.OutputExistsError` when a
        sample is there already and ``overwrite`` is false (then nothing is written).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    files = sample_files()
    targets = [folder / name for name in files]
    for target in targets:  # refuse before writing anything
        check_output(target, overwrite=overwrite)
    written = []
    for source, target in zip(files.values(), targets, strict=True):
        with atomic_output(target, overwrite=True) as temporary:
            if target.name == "README.md":
                text = readme_for_copy(source.read_text(encoding="utf-8"))
                Path(temporary).write_text(text, encoding="utf-8")
            else:
                shutil.copyfile(source, temporary)
        written.append(target)
        log.info("wrote %s", target)
    return written


COPY_NOTE = (
    "> Written by `heatnet sample`. `build_samples.py` and `source/`, named below, are in "
    "heatnet's source repository (`sample_data/`), not in this folder; the licence notice is "
    "[`LICENSE-topotherm.txt`](LICENSE-topotherm.txt) here.\n\n"
)


def readme_for_copy(text: str) -> str:
    """The samples' README as a copied folder has it: links to what the copy holds.

    The licence link points at the copy's ``LICENSE-topotherm.txt``; a note at the top says the
    build script and source data it names stay in the source tree.
    """
    text = text.replace(f"](source/topotherm-district/{LICENCE})", f"]({LICENCE})")
    return COPY_NOTE + text
