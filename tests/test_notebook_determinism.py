"""The same notebook run twice on one machine prints the same numbers.

nbval compares a fresh run with the *stored* outputs; this test compares two
fresh runs with each other, so that nondeterminism (an unseeded generator, a
dict or set order, a thread race) is caught even when someone re-executes and
re-stores a notebook. It runs one short notebook that draws random numbers
(the sampled protocol's negatives, splits) and trains nothing heavy.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02-architecture" / "04-metrics.ipynb"


def _run(path: Path) -> list[list[str]]:
    """Per code cell: its printed text (streams joined), then each rich output's text."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        # Streams are joined: how a cell's printing is cut into messages depends on timing
        # (one run gave ['...0.0011', '\n'], the next ['...0.0011\n']), the text does not.
        texts, stream = [], ""
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                stream += out.get("text", "")
            for mime in ("text/plain", "text/html"):
                if mime in out.get("data", {}):
                    texts.append(out["data"][mime])
        outputs.append([stream, *texts])
    return outputs


@pytest.mark.skipif(not os.environ.get("RECBOOK_DATA"), reason="needs the data sets (RECBOOK_DATA)")
def test_a_notebook_run_twice_prints_the_same_numbers():
    first, second = _run(NOTEBOOK), _run(NOTEBOOK)
    assert len(first) == len(second)
    for n, (a, b) in enumerate(zip(first, second)):
        assert a == b, f"code cell {n} of {NOTEBOOK.name} printed different output on a second run"
