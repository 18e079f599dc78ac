"""Citations of the design record point at sections that exist, and nothing cites outside it.

Code and docs cite docs/decisions.md by section number (``docs/decisions.md §4.1``) or by anchor
(``docs/decisions.md#2-units``); the docs link to it relatively (``[..](decisions.md#anchor)``).
Every such citation must name a section of docs/decisions.md. Documents outside the repository
(the old decisions record, the shared reference notes) must not be cited at all: a reader of the
repository cannot open them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "decisions.md"
SCANNED = ("heatnet", "tests", "bench", "schemas", "sample_data", "docs", "README.md")
SUFFIXES = {".py", ".md", ".json", ".txt", ".toml", ".csv", ".cfg", ".yaml", ".yml", ".qml"}

HEADING = re.compile(r"^#{2,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
NUMBER = re.compile(r"(\d+(?:\.\d+)*)\.?(?:\s|$)")
BY_NUMBER = re.compile(r"docs/decisions\.md\s*((?:§\s*\d+(?:\.\d+)*(?:\s*(?:,|and|or)\s*)?)+)")
SECTION_SIGN = re.compile(r"§\s*(\d+(?:\.\d+)*)")
BY_ANCHOR = re.compile(r"docs/decisions\.md#([\w-]+)")
RELATIVE_LINK = re.compile(r"\]\(decisions\.md#([\w-]+)\)")
OUTSIDE = (
    re.compile(r"DECISIONS\s+§?\d"),  # the old record, cited by number
    re.compile(r"\.\./shared"),  # anything beside the repository
)
# a file (with a suffix) or a folder (trailing slash); `heatnet/snap-tolerance` is a parameter key
REPO_PATH = re.compile(r"`((?:heatnet|tests|schemas|docs|bench|sample_data)/[\w./-]*(?:\.\w+|/))`")


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return kept.replace(" ", "-")


def record_sections(text: str) -> tuple[set[str], set[str]]:
    """Section numbers and anchors of the headings of a decisions record."""
    numbers, anchors = set(), set()
    for title in HEADING.findall(text):
        anchors.add(slug(title))
        if match := NUMBER.match(title):
            numbers.add(match.group(1))
    return numbers, anchors


def citations(text: str, *, in_docs: bool = False) -> list[tuple[str, str]]:
    """Every citation in a text, as ("§", number) or ("#", anchor)."""
    found = [
        ("§", number) for group in BY_NUMBER.findall(text) for number in SECTION_SIGN.findall(group)
    ]
    found += [("#", anchor) for anchor in BY_ANCHOR.findall(text)]
    if in_docs:
        found += [("#", anchor) for anchor in RELATIVE_LINK.findall(text)]
    return found


def missing(text: str, numbers: set[str], anchors: set[str], *, in_docs: bool = False) -> list[str]:
    """The citations in a text that name no section."""
    return [
        f"{kind}{ref}"
        for kind, ref in citations(text, in_docs=in_docs)
        if ref not in (numbers if kind == "§" else anchors)
    ]


def scanned_files() -> list[Path]:
    files = []
    for name in SCANNED:
        root = ROOT / name
        candidates = [root] if root.is_file() else sorted(root.rglob("*"))
        files += [
            path
            for path in candidates
            if path.is_file()
            and path.suffix in SUFFIXES
            and "__pycache__" not in path.parts
            and ".venv" not in path.parts
        ]
    return files


@pytest.fixture(scope="module")
def record() -> tuple[set[str], set[str]]:
    return record_sections(RECORD.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8", errors="replace")
        for path in scanned_files()
    }


def test_the_record_keeps_its_top_level_numbers(record):
    numbers, anchors = record
    top = sorted(int(n) for n in numbers if "." not in n)
    assert top == list(range(1, len(top) + 1))
    assert len(top) >= 7  # sections 1-7 keep the numbering code has cited since the start
    assert "2-units" in anchors


def test_every_citation_names_a_section(record, texts):
    numbers, anchors = record
    assert any(citations(text) for text in texts.values()), "no citations found: pattern broken?"
    bad = {
        name: found
        for name, text in texts.items()
        if (found := missing(text, numbers, anchors, in_docs=name.startswith("docs/")))
    }
    assert not bad, f"citations of sections docs/decisions.md does not have: {bad}"


def test_a_missing_section_is_caught(record):
    numbers, anchors = record
    cited = "see docs/decisions.md " + "§99 and docs/decisions.md" + "#99-nowhere"
    assert missing(cited, numbers, anchors) == ["§99", "#99-nowhere"]
    assert missing("docs/decisions.md " + "§2, §4.9", numbers, anchors) == ["§4.9"]
    assert missing("docs/decisions.md " + "§4.1", numbers, anchors) == []


@pytest.mark.parametrize("pattern", OUTSIDE, ids=["old-record", "beside-the-repository"])
def test_nothing_cites_documents_outside_the_repository(texts, pattern):
    bad = sorted(name for name, text in texts.items() if pattern.search(text))
    assert not bad, f"{pattern.pattern!r} in {bad}: cite docs/decisions.md instead"


def test_paths_named_in_the_record_exist():
    named = REPO_PATH.findall(RECORD.read_text(encoding="utf-8"))
    assert named
    absent = sorted({p for p in named if not (ROOT / p).exists()})
    assert not absent, f"docs/decisions.md names files that do not exist: {absent}"
