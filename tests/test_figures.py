"""Every figure of the book has a caption, a label and alt text.

A plot is the image output of a notebook code cell. MyST-NB takes its caption,
label and alt text from the cell's metadata::

    "metadata": {"mystnb": {"figure": {"caption": "...", "name": "fig-3-item-space"},
                            "image": {"alt": "..."}}}

The caption is prose and follows the rule of ``tests/prose_numbers.py``: every
decimal in it is backed by the notebook (glued, printed, or an input). The alt
text is a literal description for a reader who cannot see the image. Figures
of the prose pages (``{figure}`` directives, markdown images) need ``:alt:``
and a caption too. Labels are ``fig-<chapter>-<slug>`` for notebook plots and
unique across the book. The homework notebooks are not part of the book.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests import prose_numbers as P

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]-*/*.ipynb"))
PAGES = sorted(ROOT.glob("book/**/*.md")) + sorted(ROOT.glob("notebooks/[0-9][0-9]-*/*.md"))
LABEL = re.compile(r"^fig-(?P<chapter>\d+)-[a-z0-9]+(-[a-z0-9]+)*$")
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<kind>figure|image)\}\s*(?P<arg>.*)$")
MD_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]*)\)")
HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.I)
ALLOW = P.allowlist()


def _image_outputs(cell: dict) -> list[dict]:
    return [o for o in cell.get("outputs", []) if any(m.startswith("image/") for m in o.get("data", {}))]


def _plots(path: Path) -> list[tuple[int, dict]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(n, c) for n, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and _image_outputs(c)]


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _chapter(path: Path) -> int:
    return int(path.parent.name.split("-", 1)[0])


def test_the_book_has_plots():
    # guards against the glob silently matching nothing
    assert sum(len(_plots(p)) for p in NOTEBOOKS) > 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_rel)
def test_every_plot_has_caption_label_and_alt(path):
    problems = []
    for n, cell in _plots(path):
        where = f"cell {n} ({cell.get('id')})"
        meta = cell.get("metadata", {}).get("mystnb", {})
        figure, image = meta.get("figure", {}), meta.get("image", {})
        caption, name, alt = figure.get("caption", ""), figure.get("name", ""), image.get("alt", "")
        if len(_image_outputs(cell)) != 1:
            problems.append(f"{where}: one figure per cell (split the cell): {len(_image_outputs(cell))} images")
        if not str(caption).strip():
            problems.append(f"{where}: no mystnb.figure.caption")
        elif "\n\n" in caption:
            problems.append(f"{where}: the caption must be one paragraph")
        m = LABEL.match(str(name))
        if not m:
            problems.append(f"{where}: mystnb.figure.name {name!r} is not fig-<chapter>-<slug>")
        elif int(m["chapter"]) != _chapter(path):
            problems.append(f"{where}: label {name!r} names chapter {m['chapter']}, the notebook is in {_chapter(path)}")
        if not str(alt).strip():
            problems.append(f"{where}: no mystnb.image.alt")
        elif alt.strip() == str(caption).strip():
            problems.append(f"{where}: the alt text repeats the caption; describe what the image shows")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_rel)
def test_caption_numbers_are_backed(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    backing = P.backing_numbers(nb)
    allowed = {**ALLOW.get("constants", {}), **ALLOW.get(_rel(path), {})}
    bad = []
    for n, cell in _plots(path):
        caption = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption", "")
        for token, percent, context in P.prose_tokens(caption):
            if token not in allowed and not P._is_backed(token, percent, backing):
                bad.append(f"cell {n}: {token}  ...{context}...")
    assert not bad, "unbacked decimals in figure captions (see tests/prose_numbers.py):\n" + "\n".join(bad)


def _page_figures(text: str) -> list[dict]:
    """``{figure}``/``{image}`` directives of a MyST page: kind, options, caption, line."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip())
        if not m:
            i += 1
            continue
        fence, start = m["fence"], i
        options, body = {}, []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            opt = re.match(r"^\s*:([\w-]+):\s*(.*)$", lines[i])
            if opt and not body:
                options[opt[1]] = opt[2]
            elif lines[i].strip() or body:
                body.append(lines[i])
            i += 1
        found.append({"kind": m["kind"], "options": options, "caption": "\n".join(body).strip(), "line": start + 1})
        i += 1
    return found


def _markdown_sources() -> list[tuple[str, str]]:
    sources = [(_rel(p), p.read_text(encoding="utf-8")) for p in PAGES]
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for n, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "markdown":
                sources.append((f"{_rel(path)} cell {n}", "".join(cell["source"])))
    return sources


def test_page_figures_have_alt_and_caption():
    problems = []
    for where, text in _markdown_sources():
        for fig in _page_figures(text):
            at = f"{where}:{fig['line']}"
            if not fig["options"].get("alt", "").strip():
                problems.append(f"{at}: {{{fig['kind']}}} without :alt:")
            if fig["kind"] == "figure" and not fig["caption"]:
                problems.append(f"{at}: {{figure}} without a caption")
            if fig["kind"] == "figure" and not fig["options"].get("name", "").strip():
                problems.append(f"{at}: {{figure}} without :name: (a label to cite it with {{numref}})")
        for m in MD_IMAGE.finditer(text):
            if not m["alt"].strip():
                problems.append(f"{where}: markdown image {m['src']} with empty alt text")
        for tag in HTML_IMAGE.findall(text):
            if not re.search(r'\balt\s*=\s*"[^"]+"', tag):
                problems.append(f"{where}: {tag[:60]} without alt text")
    assert not problems, "\n".join(problems)


def test_figure_labels_are_unique():
    labels: dict[str, list[str]] = {}
    for path in NOTEBOOKS:
        for n, cell in _plots(path):
            name = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")
            if name:
                labels.setdefault(name, []).append(f"{_rel(path)} cell {n}")
    for where, text in _markdown_sources():
        for fig in _page_figures(text):
            if fig["options"].get("name"):
                labels.setdefault(fig["options"]["name"], []).append(f"{where}:{fig['line']}")
    dup = {k: v for k, v in labels.items() if len(v) > 1}
    assert not dup, f"figure labels used more than once: {dup}"


def test_cells_mixing_a_plot_and_other_outputs_caption_only_the_plot():
    """MyST-NB wraps every display output of a captioned cell in the figure; the
    book's extension ``nb_image_figures`` restricts the figure to the image. Without
    it, a plot followed by a table gets a second figure with the same label."""
    mixed = []
    for path in NOTEBOOKS:
        for n, cell in _plots(path):
            others = [
                o
                for o in cell["outputs"]
                if o["output_type"] in ("display_data", "execute_result")
                and not any(m.startswith("image/") for m in o.get("data", {}))
                and not all(m.startswith("application/papermill.record/") for m in o.get("data", {}))
            ]
            if others and cell.get("metadata", {}).get("mystnb", {}).get("figure"):
                mixed.append(f"{_rel(path)} cell {n}")
    if not mixed:
        return
    sphinx = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8")).get("sphinx", {})
    loaded = set(sphinx.get("local_extensions") or {}) | set(sphinx.get("extra_extensions") or [])
    assert "nb_image_figures" in loaded, (
        "these cells show a plot and another output; load the nb_image_figures extension in _config.yml "
        "(sphinx: local_extensions) or split the cells:\n  " + "\n  ".join(mixed)
    )
