"""Read a non-spatial table from a CSV file (a ``--tables`` folder), strictly, as stored.

CSV files are read strictly as UTF-8 (a byte-order mark is allowed), with ``,`` between fields and
``"`` around fields holding a comma, quote or line break: a file that is empty, binary, UTF-16,
not UTF-8, or has an unclosed quote, a row with more or fewer fields than the header, or a
column named twice is an error naming the file, line and column, never a guess. Cells stay
strings; rows are indexed by the file line they start on (blank lines count).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from heatnet.core.issues import Issue, error

SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of an SQLite file (a GeoPackage)."""
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
"""Bytes that were not UTF-8, as Python's surrogateescape decodes them."""


def _csv_text_problem(data: bytes) -> str | None:
    """Why these bytes are not UTF-8 CSV text at all (empty, UTF-16, binary), or ``None``."""
    if not data.removeprefix(codecs.BOM_UTF8):
        return "is empty: a CSV table needs at least its header line"
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                      (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):  # fmt: skip
        if data.startswith(bom):
            return f"is {name} text: heatnet reads CSV files as UTF-8 (save it as 'CSV UTF-8')"
    if data.startswith(SQLITE_MAGIC):
        return "is an SQLite database (a GeoPackage?), not a CSV file"
    if b"\x00" in data:
        return (
            "holds NUL bytes: it is a binary file (or UTF-16 text without a byte-order mark), "
            "not a UTF-8 CSV file"
        )
    return None


def read_csv(path: Path, table: str) -> tuple[pd.DataFrame | None, list[Issue], bool]:
    """A CSV table as strings indexed by the file line each row starts on.

    Returns
    -------
    tuple
        The frame (``None`` when the file is not CSV text at all), every problem found, and
        whether rows may be missing from the frame (a row was refused or the rest of the file
        could not be read).
    """
    issues: list[Issue] = []

    def problem(message: str, line: int | None = None, column: str | None = None) -> None:
        where = {"row": line, "column": column, "row_kind": "line"}
        issues.append(error("bad_csv", table, f"{path.name}: {message}", **where))

    try:
        data = path.read_bytes()
    except OSError as exc:
        problem(f"the file cannot be read ({exc})")
        return None, issues, True
    refused = _csv_text_problem(data)
    if refused:
        problem(f"the file {refused}")
        return None, issues, True
    text = data.decode("utf-8-sig", errors="surrogateescape")
    records, damaged = _csv_records(text, problem)
    nonblank = [(line, cells) for line, cells in records if any(c.strip() for c in cells)]
    if not nonblank:
        if not damaged:
            problem("the file has only blank lines: a CSV table needs at least its header line")
        return None, issues, True
    (header_line, header), rows = nonblank[0], nonblank[1:]
    if _NOT_UTF8.search(text):
        header, rows = _undecodable_cells(header_line, header, rows, problem)
    if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
        sep = next(s for s in ";\t|" if s in header[0])
        problem(
            f"the header is one column, {header[0]!r}: fields must be separated by commas "
            f"(this file looks {sep!r}-separated)",
            header_line,
        )
        return None, issues, True
    width = len(header)
    keep: list[tuple[int, list[str]]] = []
    for line, cells in rows:
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            cells = cells[:width]  # trailing empty fields hold nothing
        if len(cells) != width:
            hint = ": is a value holding a comma not quoted?" if len(cells) > width else ""
            problem(f"the row has {len(cells)} fields but the header has {width}{hint}", line)
            damaged = True
            continue
        keep.append((line, cells))
    columns = _csv_columns(header, header_line, keep, problem)
    frame = pd.DataFrame(
        {name: [cells[pos] for _, cells in keep] for pos, name in columns},
        index=pd.Index([line for line, _ in keep], dtype="int64", name="line"),
        dtype=object,
    )
    return frame, issues, damaged


def _csv_records(
    text: str, problem: Callable[..., None]
) -> tuple[list[tuple[int, list[str]]], bool]:
    """``(first line, fields)`` of every record; whether the rest could not be read."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    end = 0
    try:
        for cells in reader:
            records.append((end + 1, cells))
            end = reader.line_num
    except csv.Error as exc:
        if "end of data" in str(exc):
            why = "a quoted field starting on this line is never closed (an unbalanced '\"')"
        else:
            why = (
                f"the row is not valid CSV ({exc}): a field holding a comma, quote or line break must "
                'be quoted, with quotes inside it doubled ("")'
            )
        problem(f"{why}; nothing from this line on was read", end + 1)
        return records, True
    return records, False


def _undecodable_cells(
    header_line: int,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    problem: Callable[..., None],
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Report every cell holding bytes that are not UTF-8; show them as U+FFFD from then on."""
    hint = "save the file as 'CSV UTF-8' (it looks Latin-1 / Windows-1252 encoded)"

    def fixed(line: int, cells: list[str], names: list[str] | None) -> list[str]:
        out = []
        for pos, cell in enumerate(cells):
            found = _NOT_UTF8.findall(cell)
            if found:
                shown = " ".join(f"0x{ord(c) - 0xDC00:02X}" for c in dict.fromkeys(found))
                column = names[pos] if names is not None and pos < len(names) else None
                where = f"field {pos + 1}" if column is None else f"column '{column}'"
                problem(f"byte {shown} in {where} is not UTF-8: {hint}", line, column)
                cell = cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            out.append(cell)
        return out

    header = fixed(header_line, header, None)
    return header, [(line, fixed(line, cells, header)) for line, cells in rows]


def _csv_columns(
    header: list[str],
    header_line: int,
    rows: list[tuple[int, list[str]]],
    problem: Callable[..., None],
) -> list[tuple[int, str]]:
    """``(position, name)`` of the columns to read: each name once; unnamed empty ones dropped."""
    seen: dict[str, list[int]] = {}
    for pos, name in enumerate(header):
        seen.setdefault(name, []).append(pos)
    columns = []
    for name, positions in seen.items():
        if not name.strip():
            filled = [p for p in positions if any(cells[p].strip() for _, cells in rows)]
            if filled:
                fields = ", ".join(str(p + 1) for p in filled)
                problem(
                    f"field(s) {fields} of the header have no name but hold values", header_line
                )
            continue
        if len(positions) > 1:
            fields = ", ".join(str(p + 1) for p in positions)
            problem(
                f"the header names column '{name}' {len(positions)} times (fields {fields}); "
                "each column may appear once",
                header_line,
                name,
            )
        columns.append((positions[0], name))
    return sorted(columns)
