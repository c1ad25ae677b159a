"""The site check's HTML and table-of-contents helpers, on a tiny hand-written site.

These tests need no browser and no built book: they show that each static
check of ``check_site.py`` finds the fault it is meant to find.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sitemap

PAGE = """<!DOCTYPE html><html><head><title>{title}</title>
<link rel="stylesheet" href="{up}_static/style.css"></head><body>
<nav class="bd-links bd-docs-nav"><ul class="nav bd-sidenav">
<li class="toctree-l1"><a class="reference internal" href="{up}book/a.html">A</a></li>
<li class="toctree-l1 has-children"><a class="reference internal" href="{up}nb/c.html">C</a>
<details><ul><li class="toctree-l2"><a class="reference internal" href="{up}nb/c1.html">C.1</a></li></ul></details></li>
</ul></nav>
<div class="article-header-buttons">{buttons}</div>
<div id="jb-print-docs-body"><h1 id="top">{title}</h1>{body}</div></body></html>"""


def write(root: Path, path: str, body: str = "", buttons: str = "") -> None:
    up = "../" * path.count("/")
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(PAGE.format(title=path, up=up, body=body, buttons=buttons), encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "html"
    (root / "_static").mkdir(parents=True)
    (root / "_static/style.css").write_text("")
    (root / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/a.html" />')
    write(root, "book/a.html", '<p id="x">x</p><a href="#x">here</a> <a href="../nb/c.html#sec">c</a>')
    write(root, "nb/c.html", '<section id="sec"></section><a href="https://example.org/">out</a>')
    write(root, "nb/c1.html", '<a href="c.html">up</a> <a href="./">folder</a>')
    (root / "nb/index.html").write_text("<title>folder</title>")
    return root


def test_read_toc_levels_and_order(tmp_path: Path) -> None:
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: book/intro\nparts:\n"
        "  - caption: One\n    chapters:\n      - file: book/a.md\n"
        "      - file: nb/c\n        sections:\n          - file: nb/c1.ipynb\n"
        "            sections:\n              - file: nb/c1a\n"
        "  - caption: Two\n    chapters:\n      - url: https://example.org\n        title: Out\n      - file: book/z\n"
    )
    entries = sitemap.read_toc(toc)
    assert [(e.docname, e.level) for e in entries] == [
        ("book/intro", 0),
        ("book/a", 1),
        ("nb/c", 1),
        ("nb/c1", 2),
        ("nb/c1a", 3),
        ("book/z", 1),
    ]
    assert [e.html for e in sitemap.chapters(entries)] == ["book/a.html", "nb/c.html", "book/z.html"]


def test_the_real_toc_has_the_books_chapters() -> None:
    entries = sitemap.read_toc(sitemap.REPO / "_toc.yml")
    assert entries[0].level == 0
    assert all(sitemap.source_file(e.docname) is not None for e in entries)


def test_good_links_pass(site: Path) -> None:
    s = sitemap.Site(site)
    for page in ("book/a.html", "nb/c.html", "nb/c1.html", "index.html"):
        assert s.broken_refs(page) == [], page


@pytest.mark.parametrize(
    ("href", "fault"),
    [
        ("missing.html", "does not exist"),
        ("../nb/c.html#nowhere", "no id 'nowhere'"),
        ("#nowhere", "no id 'nowhere'"),
        ("../../outside.html", "outside the site"),
        ("../_static/gone.png", "does not exist"),
    ],
)
def test_broken_links_are_found(site: Path, href: str, fault: str) -> None:
    write(site, "book/a.html", f'<a href="{href}">bad</a>')
    broken = sitemap.Site(site).broken_refs("book/a.html")
    assert len(broken) == 1 and fault in broken[0], broken


def test_broken_image_and_redirect_are_found(site: Path) -> None:
    write(site, "book/a.html", '<img src="../_images/none.png">')
    (site / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/gone.html" />')
    s = sitemap.Site(site)
    assert "_images/none.png" in s.broken_refs("book/a.html")[0]
    assert "book/gone.html" in s.broken_refs("index.html")[0]


def test_sidebar_links(site: Path) -> None:
    assert sitemap.sidebar_links(site, "nb/c1.html") == [("book/a.html", 1), ("nb/c.html", 1), ("nb/c1.html", 2)]


def test_read_repository(tmp_path: Path) -> None:
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://github.com/own/rep\n  branch: dev\n  path_to_book: book\n")
    repo = sitemap.read_repository(config)
    assert repo.binder("nb/c") == "https://mybinder.org/v2/gh/own/rep/dev?urlpath=lab/tree/book/nb/c.ipynb"
    assert repo.colab("nb/c") == "https://colab.research.google.com/github/own/rep/blob/dev/book/nb/c.ipynb"
    config.write_text("repository:\n  url: https://gitlab.com/own/rep\n  branch: main\n")
    with pytest.raises(ValueError, match="GitHub"):
        sitemap.read_repository(config)


def _menus(binder: str, colab: str, download: str) -> str:
    return (
        '<div class="dropdown dropdown-launch-buttons"><ul>'
        f'<li><a class="dropdown-item" href="{binder}"><img alt="Binder logo"> Binder</a></li>'
        f'<li><a class="dropdown-item" href="{colab}">Colab</a></li></ul></div>'
        '<div class="dropdown dropdown-download-buttons"><ul>'
        f'<li><a class="dropdown-item" href="{download}">.ipynb</a></li>'
        '<li><button class="dropdown-item" onclick="window.print()">.pdf</button></li></ul></div>'
    )


def test_buttons(site: Path, tmp_path: Path) -> None:
    repo_root = tmp_path / "repo"
    (repo_root / "nb").mkdir(parents=True)
    (repo_root / "nb/c.ipynb").write_text("{}")
    (site / "_sources/nb").mkdir(parents=True)
    (site / "_sources/nb/c.ipynb").write_text(json.dumps({"cells": []}))
    repo = sitemap.Repository("own", "rep", "main", "")
    good = _menus(repo.binder("nb/c"), repo.colab("nb/c"), "../_sources/nb/c.ipynb")
    write(site, "nb/c.html", buttons=good)
    assert sitemap.button_problems(site, "nb/c.html", "nb/c", repo, repo_root) == []

    wrong_branch = sitemap.Repository("own", "rep", "master", "")
    bad = _menus(wrong_branch.binder("nb/c"), repo.colab("nb/c"), "../_sources/nb/gone.ipynb")
    write(site, "nb/c.html", buttons=bad)
    problems = sitemap.button_problems(site, "nb/c.html", "nb/c", repo, repo_root)
    assert len(problems) == 2
    assert "download points to" in problems[0] and "Binder button" in problems[1]


def test_undocumented_names() -> None:
    expected = {"cf": ["EASE", "KNN", "similarity"], "utils": ["seed_everything"]}
    ids = {
        "recbook.cf.knn.KNN",  # at its defining module
        "module-recbook.cf.similarity",  # a submodule
        "recbook.cf.EASE",  # at the subpackage
        "recbook.utils.Integer.seed_everything",  # a method of the same name does not count
    }
    assert sitemap.undocumented(expected, ids) == ["recbook.utils.seed_everything"]
    assert sitemap.undocumented(expected, ids | {"recbook.utils.seed_everything"}) == []
    assert len(sitemap.undocumented(expected, set())) == 4
