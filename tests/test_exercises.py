"""Exercises are numbered per chapter and section, and every exercise has a hidden solution.

Numbering rule (CONTRIBUTING.md, "Notebooks"): the exercises of section ``c.s`` (the
notebook ``notebooks/0c-*/0s-*.ipynb``) are "Exercise c.s.1", "c.s.2", ... in order; a
chapter written as one page (chapter 1) numbers them "Exercise c.1", "c.2", ....
Each exercise admonition is followed by a ``Solution`` admonition of class ``dropdown``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXERCISE = re.compile(r"^`{3,}\{admonition\} Exercise ([0-9.]+)\s*$", re.M)
ADMONITION = re.compile(r"^`{3,}\{admonition\} (\S+)[^\n]*\n((?::[^\n]*\n)*)", re.M)


def _text(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text()


def _pages() -> list[tuple[Path, str]]:
    """Every chapter page with the number prefix its exercises must carry."""
    pages = [(ROOT / "book" / "01-overview.md", "1")]
    for nb in sorted(ROOT.glob("notebooks/0[2-9]-*/0[1-9]-*.ipynb")):
        chapter = int(nb.parent.name[:2])
        section = int(nb.name[:2])
        pages.append((nb, f"{chapter}.{section}"))
    return pages


@pytest.mark.parametrize("path,prefix", _pages(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_exercises_are_numbered_by_section_and_have_hidden_solutions(path: Path, prefix: str) -> None:
    text = _text(path)
    numbers = EXERCISE.findall(text)
    assert numbers, f"{path.relative_to(ROOT)} has no exercises"
    assert numbers == [f"{prefix}.{i}" for i in range(1, len(numbers) + 1)], (
        f"{path.relative_to(ROOT)}: exercises numbered {numbers}, expected {prefix}.1, {prefix}.2, ..."
    )
    kinds = [(m.group(1), m.group(2)) for m in ADMONITION.finditer(text) if m.group(1) in ("Exercise", "Solution")]
    for (kind, _), (next_kind, options) in zip(kinds, kinds[1:] + [("end", "")]):
        if kind == "Exercise":
            assert next_kind == "Solution" and ":class: dropdown" in options, (
                f"{path.relative_to(ROOT)}: every exercise is followed by a Solution admonition with :class: dropdown"
            )
