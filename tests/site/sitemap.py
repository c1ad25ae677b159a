"""What the built website should hold, read from the book's sources, and what it
does hold, read from its HTML files. No browser is needed here.

``check_site.py`` uses these helpers; ``test_sitemap.py`` tests them on a tiny
hand-written site. Paths inside the site are POSIX paths relative to the HTML
root (``book/intro.html``), called *site paths* below.
"""

from __future__ import annotations

import html.parser
import importlib
import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

REPO = Path(__file__).resolve().parents[2]
SOURCE_SUFFIXES = (".ipynb", ".md", ".rst")
#: Pages Sphinx writes besides the table of contents' pages (crawled when present).
SPECIAL_PAGES = ("genindex.html", "search.html", "py-modindex.html")
BINDER = "https://mybinder.org"
COLAB = "https://colab.research.google.com"


# -- the table of contents -------------------------------------------------------------
@dataclass(frozen=True)
class TocEntry:
    """One page of ``_toc.yml``: its docname and depth (0 root, 1 chapter, 2 section, ...)."""

    docname: str
    level: int

    @property
    def html(self) -> str:
        return self.docname + ".html"


def docname(file: str) -> str:
    """``notebooks/a/b.ipynb`` and ``notebooks/a/b`` -> ``notebooks/a/b``."""
    for suffix in SOURCE_SUFFIXES:
        if file.endswith(suffix):
            return file[: -len(suffix)]
    return file


def read_toc(toc_file: Path) -> list[TocEntry]:
    """Every page of a Jupyter Book ``_toc.yml``, in reading order (``url`` entries skipped)."""
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    entries = [TocEntry(docname(toc["root"]), 0)]

    def walk(items: list[dict], level: int) -> None:
        for item in items or []:
            if "file" in item:
                entries.append(TocEntry(docname(item["file"]), level))
            elif "glob" in item:
                base = toc_file.parent
                for path in sorted(base.glob(item["glob"])):
                    if path.suffix in SOURCE_SUFFIXES:
                        entries.append(TocEntry(docname(path.relative_to(base).as_posix()), level))
            for key in ("sections", "chapters"):
                walk(item.get(key, []), level + 1)
            for part in item.get("parts", []):
                walk(part.get("chapters", []) + part.get("sections", []), level + 1)

    walk(toc.get("chapters", []) + toc.get("sections", []), 1)
    for part in toc.get("parts", []):
        walk(part.get("chapters", []), 1)
    return entries


def chapters(toc: list[TocEntry]) -> list[TocEntry]:
    """The toc's level-1 entries: each chapter's first page."""
    return [e for e in toc if e.level == 1]


def crawl_list(toc: list[TocEntry], html_root: Path) -> list[str]:
    """The site paths a reader can reach: the toc's pages, then Sphinx's special pages."""
    pages = [e.html for e in toc]
    pages += [p for p in SPECIAL_PAGES if (html_root / p).is_file()]
    return pages


def source_file(name: str, repo: Path = REPO) -> Path | None:
    """The source of a docname in the repository (``.ipynb``, ``.md`` or ``.rst``)."""
    for suffix in SOURCE_SUFFIXES:
        path = repo / (name + suffix)
        if path.is_file():
            return path
    return None


# -- parsing the built HTML ------------------------------------------------------------
@dataclass
class Page:
    """What one HTML file holds: its ids and every URL it refers to, as ``(tag, attr, url)``."""

    ids: set[str] = field(default_factory=set)
    refs: list[tuple[str, str, str]] = field(default_factory=list)


class _Collector(html.parser.HTMLParser):
    URL_ATTRS = {"a": "href", "img": "src", "link": "href", "script": "src", "source": "src", "iframe": "src"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.page.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.page.ids.add(a["name"])
        attr = self.URL_ATTRS.get(tag)
        if attr and a.get(attr) is not None:
            self.page.refs.append((tag, attr, a[attr]))
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            m = re.search(r"url=(\S+)", a.get("content") or "", re.I)
            if m:
                self.page.refs.append(("meta", "refresh", m.group(1).strip("'\"")))


class Site:
    """The built HTML tree, parsed on demand (each file once)."""

    def __init__(self, html_root: Path) -> None:
        self.root = Path(html_root)
        self._pages: dict[str, Page] = {}

    def exists(self, path: str) -> bool:
        return (self.root / path).is_file()

    def page(self, path: str) -> Page:
        if path not in self._pages:
            collector = _Collector()
            collector.feed((self.root / path).read_text(encoding="utf-8", errors="replace"))
            collector.close()
            self._pages[path] = collector.page
        return self._pages[path]

    def resolve(self, page: str, url: str) -> tuple[str, str] | None:
        """``(site path, fragment)`` of a URL written in ``page``, or ``None`` if it leaves the site."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith(("//", "javascript:", "mailto:", "data:")):
            return None
        if not parts.path:  # "#anchor": this page
            return page, unquote(parts.fragment)
        path = unquote(parts.path)
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
        if path.endswith("/") or (self.root / target).is_dir():
            target = posixpath.join(target, "index.html")
        return target, unquote(parts.fragment)

    def broken_refs(self, page: str) -> list[str]:
        """Every local URL in ``page`` whose file is missing, or whose ``#anchor`` has no id."""
        broken = []
        for tag, attr, url in self.page(page).refs:
            where = self.resolve(page, url)
            if where is None:
                continue
            target, fragment = where
            if target.startswith("../"):
                broken.append(f"{page}: <{tag} {attr}={url!r}> points outside the site")
            elif not self.exists(target):
                broken.append(f"{page}: <{tag} {attr}={url!r}> -> {target} does not exist")
            elif fragment and tag == "a" and target.endswith(".html"):
                if fragment not in self.page(target).ids:
                    broken.append(f"{page}: <a href={url!r}> -> no id {fragment!r} in {target}")
        return broken


def soup(html: Path | str):
    """A BeautifulSoup tree of an HTML file (a ``Path``) or text."""
    from bs4 import BeautifulSoup

    return BeautifulSoup(html.read_text(encoding="utf-8") if isinstance(html, Path) else html, "html.parser")


def sidebar_links(html_root: Path, page: str) -> list[tuple[str, int]]:
    """``(site path, toctree level)`` of every page link in the sidebar of ``page``."""
    site = Site(html_root)
    nav = soup(html_root / page).select_one("nav.bd-docs-nav")
    if nav is None:
        return []
    links = []
    for a in nav.select("a.reference.internal"):
        where = site.resolve(page, a.get("href", ""))
        li = a.find_parent("li")
        level = 0
        if li is not None:
            m = re.search(r"toctree-l(\d+)", " ".join(li.get("class", [])))
            level = int(m.group(1)) if m else 0
        if where is not None:
            links.append((where[0], level))
    return links


# -- the launch and download buttons -------------------------------------------------------
@dataclass(frozen=True)
class Repository:
    owner: str
    name: str
    branch: str
    path_to_book: str

    def repo_path(self, name: str, suffix: str) -> str:
        return posixpath.join(self.path_to_book, name + suffix) if self.path_to_book else name + suffix

    def binder(self, name: str) -> str:
        """The Binder URL of a notebook (JupyterLab interface)."""
        notebook = self.repo_path(name, ".ipynb")
        return f"{BINDER}/v2/gh/{self.owner}/{self.name}/{self.branch}?urlpath=lab/tree/{notebook}"

    def colab(self, name: str) -> str:
        return f"{COLAB}/github/{self.owner}/{self.name}/blob/{self.branch}/{self.repo_path(name, '.ipynb')}"


def read_repository(config_file: Path) -> Repository:
    """The ``repository:`` section of ``_config.yml``: the one place the URL is written."""
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    repo = config.get("repository") or {}
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repo.get("url", ""))
    if not m:
        raise ValueError(f"{config_file}: repository.url {repo.get('url')!r} is not a GitHub repository URL")
    if not repo.get("branch"):
        raise ValueError(f"{config_file}: repository.branch is not set")
    return Repository(m.group(1), m.group(2), repo["branch"], (repo.get("path_to_book") or "").strip("/"))


def header_buttons(html_root: Path, page: str) -> dict[str, list[tuple[str, str]]]:
    """The header's launch and download menus of ``page``: ``{menu: [(label, href or onclick)]}``."""
    text = (html_root / page).read_text(encoding="utf-8")
    # The buttons sit in the article's header: parse only up to the article's body (fast).
    body = text.find('id="jb-print-docs-body"', text.find("article-header-buttons"))
    s = soup(text[:body] if body > 0 else text)
    menus: dict[str, list[tuple[str, str]]] = {}
    for menu in ("launch", "download"):
        box = s.select_one(f".article-header-buttons .dropdown-{menu}-buttons")
        items = [] if box is None else box.select(".dropdown-item")
        menus[menu] = [
            (item.get_text(" ", strip=True), item.get("href") or item.get("onclick") or "") for item in items
        ]
    return menus


def button_problems(html_root: Path, page: str, name: str, repo: Repository, repo_root: Path = REPO) -> list[str]:
    """What is wrong with the launch and download buttons of one toc page."""
    source = source_file(name, repo_root)
    if source is None:
        return [f"{page}: no source file {name}.* in the repository"]
    menus = header_buttons(html_root, page)
    site = Site(html_root)
    problems = []
    downloads = {label: href for label, href in menus["download"]}
    want = source.suffix
    href = downloads.get(want)
    if href is None:
        problems.append(f"{page}: the download menu offers {sorted(downloads)}, not {want}")
    else:
        target = site.resolve(page, href)
        expected = f"_sources/{name}{want}"
        if target is None or target[0] != expected:
            problems.append(f"{page}: the {want} download points to {href!r}, not {expected}")
        elif not site.exists(expected):
            problems.append(f"{page}: the {want} download {expected} is not in the site")
        elif want == ".ipynb":
            try:
                nb = json.loads((html_root / expected).read_text(encoding="utf-8"))
                if not isinstance(nb.get("cells"), list):
                    raise ValueError("no cells")
            except ValueError as exc:
                problems.append(f"{page}: {expected} is not a notebook ({exc})")
    if ".pdf" not in downloads:
        problems.append(f"{page}: the download menu has no .pdf entry")
    if want == ".ipynb":
        launch = {label: href for label, href in menus["launch"]}
        for label, url in (("Binder", repo.binder(name)), ("Colab", repo.colab(name))):
            if launch.get(label) != url:
                problems.append(f"{page}: {label} button is {launch.get(label)!r}, expected {url!r}")
    return problems


# -- the API reference -----------------------------------------------------------------
def public_names() -> dict[str, list[str]]:
    """``{subpackage: __all__}`` for every module listed in ``recbook._SUBMODULES``."""
    import recbook

    names = {}
    for sub in sorted(recbook._SUBMODULES):
        module = importlib.import_module(f"recbook.{sub}")
        names[sub] = sorted(getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")])
    return names


def api_ids(html_root: Path, folder: str = "book/api") -> set[str]:
    """The ids of the object descriptions in the API reference pages (``recbook.cf.KNN``, ...)."""
    site = Site(html_root)
    ids: set[str] = set()
    for path in sorted((html_root / folder).glob("**/*.html")):
        ids |= {i for i in site.page(path.relative_to(html_root).as_posix()).ids if "recbook." in i}
    return ids


def undocumented(expected: dict[str, list[str]], ids: set[str]) -> list[str]:
    """Public names with no entry in the reference.

    ``recbook.<sub>.<name>`` is documented when an id is ``recbook.<sub>.<name>`` or
    ``recbook.<sub>.<module>.<name>`` (the module that defines it; module names are
    lower case, so a method ``recbook.cf.knn.KNN.fit`` is not the function ``fit``),
    when ``module-recbook.<sub>.<name>`` exists (a submodule), when the object's own
    ``__module__.__qualname__`` is an id, or when the same object is documented under
    another subpackage (a re-export documented once).
    """

    def direct(sub: str, name: str) -> bool:
        # recbook.<sub>.<name>, or recbook.<sub>.<module path>.<name> (lower-case module
        # names, so that a method ``recbook.cf.knn.KNN.fit`` does not count as ``fit``).
        pattern = re.compile(rf"recbook\.{re.escape(sub)}\.(?:[a-z_][a-z0-9_]*\.)*{re.escape(name)}")
        return f"module-recbook.{sub}.{name}" in ids or any(pattern.fullmatch(i) for i in ids)

    missing = [(sub, name) for sub, names in expected.items() for name in names if not direct(sub, name)]
    if not missing or not ids:
        return [f"recbook.{sub}.{name}" for sub, name in missing]
    # A re-exported object may be documented once, where it is defined.
    documented = {}
    for sub, names in expected.items():
        for name in names:
            if direct(sub, name):
                documented.setdefault(name, []).append(sub)
    still = []
    for sub, name in missing:
        obj = getattr(importlib.import_module(f"recbook.{sub}"), name, None)
        canonical = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', name)}"
        elsewhere = any(
            getattr(importlib.import_module(f"recbook.{other}"), name, None) is obj
            for other in documented.get(name, [])
        )
        if canonical not in ids and not elsewhere:
            still.append(f"recbook.{sub}.{name}")
    return still
