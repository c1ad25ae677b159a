"""Every decimal in a notebook's prose is glued, in its outputs, an input, or cited.

See tests/prose_numbers.py for the rules; run it as a script to list offenders.
"""

from __future__ import annotations

import pytest

from tests import prose_numbers as P

ALLOW = P.allowlist()
CONSTANTS = ALLOW.get("constants", {})


@pytest.mark.parametrize("path", P.notebooks(), ids=lambda p: str(p.relative_to(P.ROOT)))
def test_prose_numbers_are_backed(path):
    rel = str(path.relative_to(P.ROOT))
    allowed = {**CONSTANTS, **ALLOW.get(rel, {})}
    bad = P.unbacked(path, allowed)
    assert not bad, "unbacked decimals (glue them, quote the output above, or cite them):\n" + "\n".join(
        f"  cell {cell}: {token}  ...{context}..." for cell, token, context in bad
    )


def test_allowlist_entries_are_used_and_cited():
    notebooks = {str(p.relative_to(P.ROOT)) for p in P.notebooks()}
    for section, entries in ALLOW.items():
        if section == "constants":
            continue
        assert section in notebooks, f"allowlist section {section!r} names no notebook"
        path = P.ROOT / section
        import json

        nb = json.loads(path.read_text())
        prose = " ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        for number, source in entries.items():
            assert source.strip(), f"{section}: {number} needs the work it is cited from"
            assert number in prose, f"{section}: allowlisted {number} no longer appears in the prose: remove it"


def test_checker_catches_a_drifted_number(tmp_path):
    import json

    nb = {
        "cells": [
            {"cell_type": "code", "source": ["x = 0.005\n"], "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["ndcg 0.48171\n", "share 0.0630\n"]}]},
            {"cell_type": "markdown", "source": [
                "## 2.3 Results\nNDCG is 0.4817 (0.482 rounded), lr 0.005, density 6.3 %, see section 3.2; "
                "but 0.4999 drifted, and so did {glue:text}`ok` not.\n"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    path = tmp_path / "t.ipynb"
    path.write_text(json.dumps(nb))
    assert [token for _, token, _ in P.unbacked(path)] == ["0.4999"]
