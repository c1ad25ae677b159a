"""Check the built website in a headless browser, as a reader would see it.

Usage (from the repository root, after ``jupyter-book build .``)::

    python tests/site/check_site.py _build/html

Run it with the project's Python (``.venv/bin/python``): the API check imports
recbook. The script serves the built HTML over ``http.server`` on 127.0.0.1 (a
free port) and opens it in Debian's Chromium through Playwright's sync API, with
every host name except 127.0.0.1 unresolvable (the site must work offline).
The pages to visit come from ``_toc.yml`` (plus ``genindex``, ``search`` and
``py-modindex`` when built). It checks:

1. the home page (``index.html``) leads to the root page and shows the book's title;
2. crawl: every page loads with a title (a toc page also with a heading), no
   console error, no uncaught JavaScript error, and no request for a local file
   that fails (Chromium's own request for ``/favicon.ico`` aside); the crawl
   also records what checks 3, 5 and 7 need;
3. every image of every page loads (``naturalWidth`` > 0), and a notebook
   figure is shown;
4. every local link of every page (``a``, ``img``, ``link``, ``script``) points
   to a file of the site, and every ``#anchor`` to an id of its page (read from
   the HTML files with Python, not the browser);
5. the home page's sidebar links to every chapter of ``_toc.yml``, and every
   toc page can be reached by clicking links that the sidebar shows;
6. search finds a term of chapters 2, 3, 7 and 8 on a page of that chapter, and
   the Chinese glossary term 知识蒸馏 on the glossary page;
7. MathJax typesets every formula of every page with no error (no ``merror``,
   no undefined macro), and the notation page and a notebook page's display
   formulas are among them;
8. an exercise solution is hidden until its dropdown is clicked;
9. the API reference (``book/api/*.html``) has an entry for every public name
   of recbook (each module's ``__all__``, see ``recbook._SUBMODULES``);
10. on every notebook page the Binder and Colab buttons point to the notebook in
    the repository named in ``_config.yml`` (``repository:``), and on every page
    the download menu offers the page's source (``.ipynb`` or ``.md``, present
    in ``_sources/``) and ``.pdf``; in the browser, the menus open and list them;
11. no page needed the network, and no console error or failed request happened
    outside the crawl (in the home, search, dropdown and button checks).

Each check prints ``PASS`` or ``FAIL`` with its time; the script ends with a line
``N passed, M failed`` and the total time, and exits 1 if anything failed.
Screenshots are saved in ``site-check/`` next to the HTML folder for a person to
look at. ``CHECK_SITE_DEBUG=1`` prints the traceback of a failed check.

Chromium: ``apt-get install -y chromium`` (Debian); the path can be changed
with the ``CHROMIUM`` environment variable.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import posixpath
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlparse, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sitemap  # noqa: E402 - the sibling module, importable when run as a script

BOOK_TITLE = "Knowledge Distillation and Model Compression for Large Recommendation Models"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Offline: no host name but the local server's resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
TIMEOUT_MS = 20_000

FIGURE_PAGE = "notebooks/02-architecture/02-behaviour-data.html"
MATH_PAGES = ["book/notation.html"]
#: A notebook page with display math; else the first notebook page that has some.
DISPLAY_MATH_PAGE = "notebooks/07-distillation/01-idea-and-math.html"
EXERCISE_PAGES = ["book/01-overview.html", "notebooks/02-architecture/03-rating-baselines.html"]
BUTTON_PAGES = ["notebooks/02-architecture/03-rating-baselines", "book/notation"]
#: (query, folder a result must come from): one term per chapter, and a Chinese glossary term.
SEARCHES = [
    ("sparsity", "notebooks/02-architecture/"),
    ("Pearson", "notebooks/03-collaborative-filtering/"),
    ("temperature", "notebooks/07-distillation/"),
    ("quantization", "notebooks/08-compression/"),
    ("知识蒸馏", "book/glossary.html"),
]

# Evaluated in each page: wait for MathJax, then report images, headings and sidebar links.
PAGE_STATE_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const images = await Promise.all(Array.from(document.images).map(async (img) => {
    img.loading = "eager";
    try { await img.decode(); } catch (e) {}
    return [img.getAttribute("src"), img.naturalWidth];
  }));
  const h1 = Array.from(document.querySelectorAll("h1")).map((h) => h.innerText.trim()).find((t) => t);
  // MathJax errors: <merror> and the red text of an undefined macro.
  const mathErrors = [];
  let nMath = 0;
  if (window.MathJax && MathJax.startup && MathJax.startup.document) {
    for (const item of MathJax.startup.document.math) {
      nMath += 1;
      item.root.walkTree((node) => {
        if (node.isKind("merror") || (node.isKind("mtext") && node.attributes.get("mathcolor") === "red")) {
          mathErrors.push(item.math.slice(0, 80));
        }
      });
    }
  }
  const untypeset = document.querySelectorAll(".math:not(:has(mjx-container))").length;
  const nDisplay = document.querySelectorAll("div.math").length;
  const nDisplayed = document.querySelectorAll('div.math mjx-container[display="true"]').length;
  const sidebar = Array.from(document.querySelectorAll("nav.bd-docs-nav a.reference.internal"))
    .filter((a) => a.getClientRects().length > 0).map((a) => a.href);
  return {
    images, h1: h1 || "", title: document.title.trim(), sidebar,
    nMath, mathErrors, untypeset, nDisplay, nDisplayed,
  };
}"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base class
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # The browser may drop a connection (e.g. its favicon request) when it closes.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``root`` on 127.0.0.1 in a daemon thread; return the server and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer(("127.0.0.1", _free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@dataclass
class Visit:
    """What one page showed in the browser."""

    h1: str = ""
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    n_images: int = 0
    sidebar: list[str] = field(default_factory=list)
    n_math: int = 0
    math_errors: list[str] = field(default_factory=list)
    untypeset: int = 0
    n_display: int = 0
    n_displayed: int = 0


def _limit(items: list[str], n: int = 8) -> str:
    more = f" ... and {len(items) - n} more" if len(items) > n else ""
    return "; ".join(items[:n]) + more


class SiteChecker:
    def __init__(self, html_root: Path, base_url: str, shots: Path, repo: Path = sitemap.REPO) -> None:
        self.root = html_root
        self.base = base_url
        self.shots = shots
        self.repo = repo
        self.site = sitemap.Site(html_root)
        self.toc = sitemap.read_toc(repo / "_toc.yml")
        self.pages = sitemap.crawl_list(self.toc, html_root)
        self.passed = 0
        self.failed = 0
        self.current = ""  # the page being visited, to file the browser's events under
        self.visits: dict[str, Visit] = {}
        self.external: list[str] = []
        self.errors: list[tuple[str, str]] = []  # (page, message) of every console error and failed request
        self.crawled = (0, 0)  # the slice of self.errors the crawl reported

    # -- bookkeeping ---------------------------------------------------------
    def check(self, name: str, func: Callable[[], str]) -> None:
        start = time.perf_counter()
        try:
            detail = func()
        except Exception as exc:  # a failed check must not stop the others
            self.failed += 1
            print(f"FAIL  {name} [{time.perf_counter() - start:.1f} s]: {type(exc).__name__}: {exc}")
            if os.environ.get("CHECK_SITE_DEBUG"):
                traceback.print_exc()
        else:
            self.passed += 1
            print(f"PASS  {name} [{time.perf_counter() - start:.1f} s]" + (f" ({detail})" if detail else ""))
        sys.stdout.flush()

    def site_path(self, url: str) -> str | None:
        """The site path of a URL of the local server (no query, no fragment), else ``None``."""
        if not url.startswith(self.base):
            return None
        path = urlsplit(url).path.lstrip("/")
        return path or "index.html"

    def watch(self, page) -> None:
        """File console errors, page errors and failed local requests under the page being visited."""
        host = urlparse(self.base).netloc

        def visit() -> Visit:
            return self.visits.setdefault(self.current, Visit())

        def log(kind: str, text: str) -> None:
            getattr(visit(), kind).append(text)
            self.errors.append((self.current, text[:200]))

        def on_console(msg) -> None:
            # Chromium asks for /favicon.ico on its own; the site links no such file
            # (the link check would catch a favicon the pages link to and lack).
            if msg.type == "error" and msg.location.get("url") != self.base + "favicon.ico":
                log("console_errors", msg.text)

        def on_pageerror(error) -> None:
            log("console_errors", f"uncaught {error}")

        def on_response(response) -> None:
            if urlparse(response.url).netloc == host and response.status >= 400:
                log("failed_requests", f"{response.status} {self.site_path(response.url)}")

        def on_requestfailed(request) -> None:
            failure = request.failure or ""
            if urlparse(request.url).netloc == host and "ERR_ABORTED" not in failure:
                log("failed_requests", f"{failure} {self.site_path(request.url)}")

        def on_request(request) -> None:
            url = urlparse(request.url)
            if url.scheme in ("http", "https", "ws", "wss") and url.netloc != host:
                self.external.append(f"{request.url} (from {self.current})")

        page.on("console", on_console)
        page.on("pageerror", on_pageerror)
        page.on("response", on_response)
        page.on("requestfailed", on_requestfailed)
        page.on("request", on_request)

    def goto(self, page, path: str):
        self.current = path.split("?")[0]
        response = page.goto(self.base + path, wait_until="load", timeout=TIMEOUT_MS)
        if response is None or not response.ok:
            status = None if response is None else response.status
            raise AssertionError(f"{path} answered {status}")
        return response

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=False)

    def wait_for_mathjax(self, page) -> None:
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
            " && MathJax.startup.promise.then(() => true)",
            timeout=TIMEOUT_MS,
        )

    # -- the checks ----------------------------------------------------------
    def home(self, page) -> str:
        self.goto(page, "index.html")  # a redirect to the root page
        root = self.toc[0].html
        page.wait_for_url(f"**/{root}", timeout=TIMEOUT_MS)
        title = page.title()
        heading = page.locator("article h1").first.inner_text(timeout=TIMEOUT_MS)
        if BOOK_TITLE not in title and BOOK_TITLE not in heading:
            raise AssertionError(f"book title not found: <title> {title!r}, h1 {heading!r}")
        self.shot(page, "home")
        return f"index.html -> {root}, h1 {heading.strip()[:50]!r}"

    def crawl(self, page) -> str:
        problems = []
        first = len(self.errors)
        for path in self.pages:
            if not self.site.exists(path):
                problems.append(f"{path} was not built")
                continue
            try:
                self.goto(page, path)
                state = page.evaluate(PAGE_STATE_JS)
            except Exception as exc:
                problems.append(f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                continue
            visit = self.visits.setdefault(path, Visit())
            visit.h1 = state["h1"]
            visit.n_images = len(state["images"])
            visit.broken_images = [src for src, width in state["images"] if not width]
            visit.sidebar = [p for p in (self.site_path(u) for u in state["sidebar"]) if p]
            visit.n_math, visit.math_errors, visit.untypeset = state["nMath"], state["mathErrors"], state["untypeset"]
            visit.n_display, visit.n_displayed = state["nDisplay"], state["nDisplayed"]
            if not state["title"] or (not visit.h1 and path not in sitemap.SPECIAL_PAGES):
                problems.append(f"{path}: no title or no heading")
        self.current = ""
        self.crawled = (first, len(self.errors))
        # The same console message on many pages is reported once, with the pages.
        where: dict[str, list[str]] = {}
        for path in self.pages:
            v = self.visits.get(path, Visit())
            for message in [f"console: {e[:200]}" for e in v.console_errors] + [
                f"request failed: {r}" for r in v.failed_requests
            ]:
                where.setdefault(message, []).append(path)
        for message, pages in where.items():
            more = ", ..." if len(pages) > 3 else ""
            problems.append(f"{message} (on {len(pages)} page(s): {', '.join(pages[:3])}{more})")
        if problems:
            raise AssertionError(f"{len(problems)} problem(s): {_limit(problems)}")
        return f"{len(self.pages)} pages, no console error, no failed request"

    def images(self, page) -> str:
        if not self.visits:
            raise AssertionError("the crawl visited no page")
        broken = [f"{p}: {src}" for p, v in self.visits.items() for src in v.broken_images]
        if broken:
            raise AssertionError(f"{len(broken)} broken image(s): {_limit(broken)}")
        n = sum(v.n_images for v in self.visits.values())
        figure = self.visits.get(FIGURE_PAGE)
        if figure is None or not figure.n_images:
            raise AssertionError(f"no image shown on {FIGURE_PAGE}")
        self.goto(page, FIGURE_PAGE)
        page.locator("article img").first.scroll_into_view_if_needed()
        self.shot(page, "figure")
        return f"{n} images on {len(self.visits)} pages, {figure.n_images} on {FIGURE_PAGE}"

    def links(self) -> str:
        broken = []
        for path in self.pages:
            if self.site.exists(path):
                broken += self.site.broken_refs(path)
        broken += self.site.broken_refs("index.html")
        if broken:
            raise AssertionError(f"{len(broken)} broken link(s): {_limit(broken)}")
        n = sum(len(self.site.page(p).refs) for p in self.pages if self.site.exists(p))
        return f"{n} references on {len(self.pages)} pages resolve"

    def sidebar(self, page) -> str:
        home = self.toc[0].html
        static = {p for p, _ in sitemap.sidebar_links(self.root, home)}
        visible = set(self.visits.get(home, Visit()).sidebar)
        chapters = [e.html for e in sitemap.chapters(self.toc)]
        missing = [c for c in chapters if c not in static]
        hidden = [c for c in chapters if c in static and c not in visible]
        problems = []
        if missing:
            problems.append(f"the home page's sidebar has no link to {missing}")
        if hidden:
            problems.append(f"chapter links not shown on the home page: {hidden}")
        # Every toc page must be reachable by clicking links the sidebar shows.
        reached, todo = {home}, [home]
        while todo:
            for target in self.visits.get(todo.pop(), Visit()).sidebar:
                if target not in reached:
                    reached.add(target)
                    todo.append(target)
        unreachable = [e.html for e in self.toc if e.html not in reached]
        if unreachable:
            problems.append(f"not reachable through the sidebar: {unreachable}")
        if problems:
            raise AssertionError("; ".join(problems))
        return f"{len(chapters)} chapters on the home page, all {len(self.toc)} toc pages reachable"

    def search(self, page) -> str:
        found, problems = [], []
        for query, where in SEARCHES:
            self.goto(page, f"search.html?q={quote(query)}")
            page.wait_for_function(
                "() => /found|did not match/i.test("
                "document.querySelector('#search-results .search-summary')?.innerText || '')",
                timeout=TIMEOUT_MS,
            )
            hrefs = page.eval_on_selector_all(
                "#search-results ul.search li a", "els => els.map(a => a.getAttribute('href'))"
            )
            hits = {r[0] for r in (self.site.resolve("search.html", h.split("?")[0]) for h in hrefs) if r}
            good = sorted(h for h in hits if h.startswith(where))
            if good:
                found.append(f"{query!r}: {len(hits)} pages, {good[0]}")
            else:
                problems.append(f"{query!r}: {len(hits)} page(s), none in {where}")
            if query == SEARCHES[0][0]:
                self.shot(page, "search")
        if problems:
            raise AssertionError("; ".join(problems) + (f" (found: {'; '.join(found)})" if found else ""))
        return "; ".join(found)

    def mathjax(self, page) -> str:
        if not self.visits:
            raise AssertionError("the crawl visited no page")
        problems = [f"{p}: MathJax error in {e!r}" for p, v in self.visits.items() for e in v.math_errors]
        problems += [f"{p}: {v.untypeset} formula(s) not typeset" for p, v in self.visits.items() if v.untypeset]
        display = DISPLAY_MATH_PAGE
        if display not in self.visits:
            notebooks = [e.html for e in self.toc if str(sitemap.source_file(e.docname, self.repo)).endswith(".ipynb")]
            display = next((p for p in notebooks if self.visits.get(p, Visit()).n_display), None)
        if display is None:
            problems.append("no notebook page has display math")
        out = []
        for path in MATH_PAGES + ([display] if display else []):
            v = self.visits.get(path)
            if v is None or not v.n_math:
                problems.append(f"{path}: no formula typeset")
            elif path == display and not 0 < v.n_display == v.n_displayed:
                problems.append(f"{path}: {v.n_displayed} of {v.n_display} display formulas typeset")
            else:
                out.append(f"{path}: {v.n_math} formulas, {v.n_displayed} displayed")
        if problems:
            raise AssertionError(f"{len(problems)} problem(s): {_limit(problems)}")
        self.goto(page, MATH_PAGES[0])
        self.wait_for_mathjax(page)
        self.shot(page, "math")
        n = sum(v.n_math for v in self.visits.values())
        return f"{n} formulas on {len(self.visits)} pages, no error; " + "; ".join(out)

    def dropdown(self, page) -> str:
        path = next((p for p in EXERCISE_PAGES if self.site.exists(p)), None)
        if path is None:
            raise AssertionError(f"none of {EXERCISE_PAGES} was built")
        self.goto(page, path)
        if not page.locator("div.admonition.dropdown").count():
            raise AssertionError(f"{path} has no solution dropdown (div.admonition.dropdown)")
        solution = page.locator("div.admonition.dropdown").first
        solution.wait_for(timeout=TIMEOUT_MS)
        page.wait_for_selector("div.admonition.dropdown button.toggle-button", timeout=TIMEOUT_MS)
        body = solution.locator(":scope > :not(.admonition-title)").first
        solution.scroll_into_view_if_needed()
        if body.is_visible():
            raise AssertionError("the solution is visible before the click")
        self.shot(page, "dropdown-closed")
        solution.locator(":scope > .admonition-title").click()
        body.wait_for(state="visible", timeout=TIMEOUT_MS)
        page.wait_for_timeout(600)  # let the fade-in finish before the screenshot
        self.shot(page, "dropdown-open")
        return f"{path}: hidden, then shown after a click"

    def api(self) -> str:
        pages = sorted((self.root / "book/api").glob("**/*.html"))
        if not pages:
            raise AssertionError("no API reference: book/api/*.html was not built")
        expected = sitemap.public_names()
        ids = sitemap.api_ids(self.root)
        missing = sitemap.undocumented(expected, ids)
        n = sum(len(v) for v in expected.values())
        if missing:
            raise AssertionError(f"{len(missing)} of {n} public names have no entry: {_limit(missing, 20)}")
        return f"{n} public names of {len(expected)} modules, {len(ids)} entries on {len(pages)} pages"

    def buttons(self, page) -> str:
        repo = sitemap.read_repository(self.repo / "_config.yml")
        problems, n_notebooks, n_pages = [], 0, 0
        for entry in self.toc:
            if not self.site.exists(entry.html):
                continue
            problems += sitemap.button_problems(self.root, entry.html, entry.docname, repo, self.repo)
            n_notebooks += str(sitemap.source_file(entry.docname, self.repo)).endswith(".ipynb")
            n_pages += 1
        # In the browser: the menus open, list the buttons, and the source downloads.
        for name in BUTTON_PAGES:
            source = sitemap.source_file(name, self.repo)
            if source is None or not self.site.exists(name + ".html"):
                problems.append(f"{name}: not built")
                continue
            self.goto(page, name + ".html")
            if source.suffix == ".ipynb":
                page.locator(".dropdown-launch-buttons button.dropdown-toggle").click()
                binder = page.locator(".dropdown-launch-buttons a.dropdown-item", has_text="Binder")
                binder.wait_for(state="visible", timeout=TIMEOUT_MS)
                if binder.get_attribute("href") != repo.binder(name):
                    problems.append(f"{name}: the Binder item shown is {binder.get_attribute('href')!r}")
                self.shot(page, "launch-menu")
                page.keyboard.press("Escape")
            page.locator(".dropdown-download-buttons button.dropdown-toggle").click()
            item = page.locator(".dropdown-download-buttons a.dropdown-item", has_text=source.suffix)
            item.wait_for(state="visible", timeout=TIMEOUT_MS)
            url = self.base + posixpath.normpath(posixpath.join(posixpath.dirname(name), item.get_attribute("href")))
            response = page.request.get(url)
            if not response.ok:
                problems.append(f"{name}: downloading {url} answered {response.status}")
            elif source.suffix == ".ipynb" and "cells" not in json.loads(response.body()):
                problems.append(f"{name}: the downloaded notebook has no cells")
            page.keyboard.press("Escape")
        if problems:
            raise AssertionError(f"{len(problems)} problem(s): {_limit(problems)}")
        return (
            f"{repo.owner}/{repo.name}@{repo.branch}: Binder and Colab on {n_notebooks} notebook pages, "
            f"source downloads on {n_pages} pages; menus open in the browser"
        )

    def offline(self) -> str:
        problems = []
        if self.external:
            problems.append(f"requests outside the site: {_limit(sorted(set(self.external)), 5)}")
        # Errors of the other checks (clicks, searches) that the crawl did not report.
        first, last = self.crawled
        reported = {text for _, text in self.errors[first:last]}
        others = [f"{p}: {t}" for p, t in self.errors[:first] + self.errors[last:] if t not in reported]
        if others:
            problems.append(f"console errors or failed requests in the other checks: {_limit(others, 5)}")
        if problems:
            raise AssertionError("; ".join(problems))
        return f"no request left 127.0.0.1 on {len(self.visits)} pages; no error in the other checks"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    start = time.perf_counter()
    root = Path(argv[1]).resolve()
    if not (root / "index.html").is_file():
        print(f"FAIL  {root} has no index.html: build the book first (jupyter-book build .)")
        print("0 passed, 1 failed")
        return 1
    shots = root.parent / "site-check"
    shots.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    server, base = serve(root)
    checker = SiteChecker(root, base, shots)
    print(f"serving {root} at {base}; {len(checker.pages)} pages from _toc.yml")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_default_timeout(TIMEOUT_MS)
                page = context.new_page()
                checker.watch(page)
                c = checker.check
                c("home page shows the book title", lambda: checker.home(page))
                c("every page loads without console errors or failed requests", lambda: checker.crawl(page))
                c("every image loads", lambda: checker.images(page))
                c("every internal link and anchor resolves", checker.links)
                c("the sidebar reaches every chapter and page", lambda: checker.sidebar(page))
                c("search finds terms of chapters 2, 3, 7, 8 and the Chinese glossary", lambda: checker.search(page))
                c("MathJax renders the formulas", lambda: checker.mathjax(page))
                c("a solution is hidden until clicked", lambda: checker.dropdown(page))
                c("the API reference lists every public name", checker.api)
                c("launch and download buttons point where they should", lambda: checker.buttons(page))
                c("the site works offline, with no error in the other checks", checker.offline)
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    print(f"screenshots in {shots}")
    print(f"total {time.perf_counter() - start:.1f} s")
    print(f"{checker.passed} passed, {checker.failed} failed")
    return 1 if checker.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
