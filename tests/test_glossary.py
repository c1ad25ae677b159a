"""The bilingual glossary: every term used resolves, every entry is bilingual and used.

``book/glossary.md`` holds one ``{glossary}`` directive. Each entry starts
with its English term line, then further term lines, at least one of them
the Chinese term (the source outline's wording where it uses the term),
then the indented definition. The text links a term with ``{term}`word``
or ``{term}`shown text <Entry>```; Sphinx resolves the target against any
term line, exactly or ignoring case, and the strict build (``-W``) fails on
a target it cannot find. These checks catch the same mistakes from the
sources in a second, and a few that the build does not:

(a) every ``{term}`` in the book's markdown (pages and notebooks' markdown
    cells) names a term line of the glossary;
(b) every entry has a Chinese term line;
(c) every entry is referenced from the text at least once;
(d) every chapter's first page shows, right under its English title, the
    chapter heading of the source outline in Chinese, verbatim; a section
    page that names outline sections ("大纲 §2.1 ...") quotes their headings
    verbatim too. The outline is ``../shared/reference/outline.zh.md`` or
    ``$RECBOOK_OUTLINE``; without it only the Chinese line is required.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "book" / "glossary.md"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
TERM_ROLE = re.compile(r"\{term\}`([^`]+)`")
ZH_HEADING = re.compile(r'<p class="zh-heading" lang="zh">([^<]+)</p>')


def _parse() -> list[list[str]]:
    """Entries as lists of term lines: consecutive unindented lines form one entry."""
    text = GLOSSARY.read_text()
    match = re.search(r"^```\{glossary\}\n(.*?)^```\s*$", text, re.M | re.S)
    assert match, "book/glossary.md has no {glossary} directive"
    entries: list[list[str]] = []
    previous = "blank"
    for line in match.group(1).splitlines():
        if not line.strip():
            previous = "blank"
        elif line.startswith(":") and not entries:
            previous = "option"
        elif line[0].isspace():
            previous = "definition"
        else:
            if previous == "term":
                entries[-1].append(line.strip())
            else:
                assert previous != "definition", f"term line {line!r} right after a definition: add a blank line"
                entries.append([line.strip()])
            previous = "term"
    return entries


ENTRIES = _parse()


def markdown_sources() -> dict[str, str]:
    """Every markdown text of the book: pages, and notebooks' markdown cells."""
    out = {}
    for path in sorted(list((ROOT / "book").rglob("*.md")) + list((ROOT / "notebooks").rglob("*.md"))):
        if ".ipynb_checkpoints" not in path.parts and path != GLOSSARY:
            out[str(path.relative_to(ROOT))] = path.read_text()
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = json.loads(path.read_text())
        out[str(path.relative_to(ROOT))] = "\n\n".join(
            "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
        )
    return out


def term_target(role_text: str) -> str:
    """The target of a term role: ``shown <Target>`` or the text itself (whitespace folded)."""
    m = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>\s*", role_text)
    target = m.group(2) if m else role_text
    return re.sub(r"\s+", " ", target).strip()


def test_glossary_is_large_and_has_no_duplicate_term():
    lines = [t.lower() for entry in ENTRIES for t in entry]
    assert len(ENTRIES) >= 100, f"only {len(ENTRIES)} glossary entries"
    duplicates = sorted({t for t in lines if lines.count(t) > 1})
    assert not duplicates, f"term lines used by two entries (Sphinx warns): {duplicates}"


def test_every_term_role_resolves():
    known = {t.lower() for entry in ENTRIES for t in entry}
    missing = []
    for where, text in markdown_sources().items():
        for m in TERM_ROLE.finditer(text):
            target = term_target(m.group(1))
            if target.lower() not in known:
                missing.append(f"{where}: {{term}}`{m.group(1)}`")
    assert not missing, "terms not in book/glossary.md:\n" + "\n".join(missing)


def test_every_entry_has_a_chinese_term():
    lacking = [entry[0] for entry in ENTRIES if not any(CJK.search(t) for t in entry[1:])]
    assert not lacking, f"glossary entries without a Chinese term line: {lacking}"
    assert all(not CJK.search(entry[0]) for entry in ENTRIES), "each entry starts with its English term"


def test_every_entry_is_referenced():
    used = {term_target(m.group(1)).lower() for text in markdown_sources().values() for m in TERM_ROLE.finditer(text)}
    unused = [entry[0] for entry in ENTRIES if not any(t.lower() in used for t in entry)]
    assert not unused, f"glossary entries never linked from the text with {{term}}: {unused}"


def test_term_target_parsing():
    assert term_target("NDCG@10 <NDCG>") == "NDCG"
    assert term_target("long tail") == "long tail"
    assert term_target("latent\n  factors <Latent factor>") == "Latent factor"


def _outline() -> str | None:
    path = Path(os.environ.get("RECBOOK_OUTLINE", ROOT.parent / "shared" / "reference" / "outline.zh.md"))
    return path.read_text() if path.is_file() else None


def _first_text(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        return "".join(next(c for c in nb["cells"] if c["cell_type"] == "markdown")["source"])
    return path.read_text()


def _headings_under_title(text: str) -> list[str]:
    """The zh-heading lines that directly follow the page's H1."""
    lines = [line.strip() for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    if start is None:
        return []
    out = []
    for line in lines[start + 1 :]:
        if not line:
            continue
        m = ZH_HEADING.fullmatch(line)
        if not m:
            break
        out.append(m.group(1))
    return out


CHAPTER_PAGES = [ROOT / "book" / "01-overview.md"] + sorted(
    p for p in (ROOT / "notebooks").glob("[0-9][0-9]-*/00-intro.*") if p.suffix in (".md", ".ipynb")
)


@pytest.mark.parametrize("path", CHAPTER_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_chapter_page_shows_the_outline_chapter_heading(path):
    headings = _headings_under_title(_first_text(path))
    chapter = [h for h in headings if re.fullmatch(r"第\d+章：\S.*", h)]
    assert chapter, f"{path.name}: no Chinese chapter heading (第N章：...) right under the title"
    number = re.match(r"#\s+(\d+)|", _first_text(path).lstrip()).group(1) or "1"
    assert chapter[0].startswith(f"第{int(number)}章："), f"{chapter[0]!r} is not chapter {number}'s heading"
    outline = _outline()
    if outline is not None:
        assert re.search(rf"^#+\s*{re.escape(chapter[0])}\s*$", outline, re.M), (
            f"{chapter[0]!r} is not a heading of the outline, verbatim"
        )


def test_section_pages_quote_outline_headings():
    outline = _outline()
    pages = [p for p in sorted((ROOT / "notebooks").rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]
    pages += [ROOT / "book" / "part1.md"]
    seen = 0
    for path in pages:
        for heading in _headings_under_title(_first_text(path)):
            assert CJK.search(heading), f"{path.name}: zh-heading without Chinese text: {heading!r}"
            if outline is None:
                continue
            if heading.startswith("第"):  # a part or chapter heading, quoted whole
                assert re.search(rf"^#+\s*{re.escape(heading)}\s*$", outline, re.M), (
                    f"{path.name}: {heading!r} is not a heading of the outline, verbatim"
                )
                continue
            for number, title in re.findall(r"§(\d+\.\d+)\s+([^·]+?)\s*(?=·|$)", heading):
                seen += 1
                assert re.search(rf"^#+\s*{re.escape(number)}\s+{re.escape(title)}\s*$", outline, re.M), (
                    f"{path.name}: '{number} {title}' is not a section heading of the outline, verbatim"
                )
    if outline is not None:
        assert seen >= 20, f"only {seen} section pages quote an outline section heading"
