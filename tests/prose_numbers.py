"""Prose that cannot drift from the outputs: every decimal in a notebook's text is backed.

A decimal number in a notebook's markdown (a metric, a ratio, a time) is
*backed* when it is one of:

1. **glued**: written as ``{glue:text}`key``` (myst-nb), so the website shows
   the value the code computed; such a number is not a literal in the text;
2. **in the notebook's outputs**: the same value, at the precision the text
   uses, appears in a stored output of that notebook (a percentage may match
   the output's fraction: "6.3 %" is backed by 0.0630);
3. **an input**: a number written in a code cell of the notebook (a
   hyper-parameter such as ``lr=0.005``, not a comment);
4. **cited**: listed for that notebook in ``tests/prose_allowlist.toml`` with
   the work it comes from (a published figure the book compares with).

Section numbers (``2.3``, ``exercise 4.1.6``), versions and dotted triples are
not decimals. Run ``python tests/prose_numbers.py [notebook ...]`` to list
the unbacked numbers with their context; ``tests/test_prose_numbers.py``
fails on any.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = ROOT / "tests" / "prose_allowlist.toml"

NUMBER = re.compile(r"(?<![\w.\-/])(\d+\.\d+)(?![\w.]*\d)(\s*%)?")
REFERENCE_WORDS = re.compile(
    r"(section|sections|chapter|chapters|exercise|exercises|notebook|notebooks|figure|table|"
    r"part|appendix|listing|equation|eq\.|step|python|version|§|v|solution|sections?\s+\d+\.\d+\s+and)"
    r"[\s~]*$",
    re.IGNORECASE,
)
DROP = [
    re.compile(r"\{glue(:[a-z]+)?\}`[^`]*`"),  # glued values
    re.compile(r"\{(cite|cite:t|cite:p|doc|ref|numref|term|eq|download)[^}]*\}`[^`]*`"),  # roles
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),
    re.compile(r"^\s*\(.*\)=\s*$", re.M),  # labels
    re.compile(r"^#+\s*(Exercise\s+)?[\d.]+\s", re.M),  # heading numbers
    re.compile(r"^[`:]{3,}\{?[\w-]*\}?.*$", re.M),  # fence lines (directive names, titles)
    re.compile(r"^:[\w-]+:.*$", re.M),  # directive options
]


def _text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    data = output.get("data", {})
    parts = []
    for mime, value in data.items():
        if mime.startswith("text/") or "papermill.record" in mime:
            parts.append("".join(value) if isinstance(value, list) else str(value))
    return "\n".join(parts)


def _decimals(text: str) -> list[Decimal]:
    out = []
    for m in re.finditer(r"\d+\.\d+(?:[eE][-+]?\d+)?", text):
        try:
            out.append(Decimal(m.group(0)))
        except InvalidOperation:  # pragma: no cover
            pass
    return out


def backing_numbers(nb: dict) -> set[Decimal]:
    """Every decimal in the notebook's stored outputs and (comment-free) code."""
    values: set[Decimal] = set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        code = "\n".join(line.split("#", 1)[0] for line in src.splitlines())
        values.update(_decimals(code))
        for output in cell.get("outputs", []):
            values.update(_decimals(_text(output)))
    return values


def _matches(value: Decimal, places: int, backing: set[Decimal]) -> bool:
    q = Decimal(1).scaleb(-places)
    for b in backing:
        b = abs(b)
        if b == value:
            return True
        if b.as_tuple().exponent < -places and (
            b.quantize(q, rounding=ROUND_HALF_UP) == value or b.quantize(q, rounding=ROUND_HALF_EVEN) == value
        ):
            return True
    return False


def _is_backed(token: str, percent: bool, backing: set[Decimal]) -> bool:
    value = Decimal(token)
    places = len(token.split(".")[1])
    if _matches(value, places, backing):
        return True
    if percent:  # "6.3 %" against an output fraction 0.0630 or a printed percentage
        return _matches(value / 100, places + 2, backing)
    return _matches(value / 100, places + 2, backing) or _matches(value * 100, max(places - 2, 0), backing)


def prose_tokens(markdown: str) -> list[tuple[str, bool, str]]:
    """``(number, is_percentage, context)`` for every decimal in a markdown cell."""
    text = markdown
    for pattern in DROP:
        text = pattern.sub(" ", text)
    found = []
    for m in NUMBER.finditer(text):
        before = text[max(0, m.start() - 20) : m.start()]
        if REFERENCE_WORDS.search(before):
            continue
        context = text[max(0, m.start() - 50) : m.end() + 30].replace("\n", " ")
        found.append((m.group(1), bool(m.group(2)), context))
    return found


def allowlist() -> dict[str, dict[str, str]]:
    if not ALLOWLIST.exists():
        return {}
    return tomllib.loads(ALLOWLIST.read_text())


def unbacked(path: Path, allowed: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    """``(cell index, number, context)`` for every unbacked decimal of a notebook."""
    nb = json.loads(path.read_text())
    backing = backing_numbers(nb)
    allowed = allowed or {}
    bad = []
    for n, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for token, percent, context in prose_tokens("".join(cell["source"])):
            if token in allowed:
                continue
            if not _is_backed(token, percent, backing):
                bad.append((n, token, context))
    return bad


def notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts) + sorted(
        (ROOT / "book").rglob("*.ipynb")
    )


def main(argv: list[str]) -> int:
    allow = allowlist()
    paths = [Path(a).resolve() for a in argv] or notebooks()
    total = 0
    for path in paths:
        rel = str(path.relative_to(ROOT))
        bad = unbacked(path, {**allow.get("constants", {}), **allow.get(rel, {})})
        total += len(bad)
        for cell, token, context in bad:
            print(f"{rel} cell {cell}: {token}   ...{context}...")
    print(f"{total} unbacked decimal(s)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
