"""The bibliography parses, and every citation in the book has an entry.

The strict book build (``make test``) would catch both, but only after the
notebooks have been re-checked; this test catches them in seconds. A merge
that dropped three closing braces from ``book/references.bib`` once failed CI
at the book-build stage.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def _entries() -> list[tuple[int, str]]:
    """(line, key) of each entry, and a check that each one's braces close before the next."""
    entries, depth, start = [], 0, None
    for number, line in enumerate(BIB.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("@"):
            assert depth == 0, f"references.bib: the entry at line {start} is not closed before line {number}"
            start = number
            entries.append((number, line.split("{", 1)[1].rstrip(",").strip()))
        if not line.lstrip().startswith("%"):
            depth += line.count("{") - line.count("}")
    assert depth == 0, f"references.bib: the entry at line {start} is not closed at the end of the file"
    return entries


def _cited_keys() -> set[str]:
    texts = []
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        texts += ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    for path in sorted((ROOT / "book").rglob("*.md")):
        texts.append(path.read_text(encoding="utf-8"))
    return {key.strip() for text in texts for match in CITE.finditer(text) for key in match.group(1).split(",")}


def test_every_entry_closes_and_keys_are_unique():
    keys = [key for _, key in _entries()]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicates, f"duplicate keys in references.bib: {duplicates}"


def test_bibliography_parses_with_pybtex():
    pybtex = pytest.importorskip("pybtex.database")
    data = pybtex.parse_file(str(BIB))
    assert set(data.entries) == {key for _, key in _entries()}


def test_every_citation_has_an_entry():
    keys = {key for _, key in _entries()}
    missing = sorted(_cited_keys() - keys)
    assert not missing, f"cited but not in references.bib: {missing}"
