"""Check the built website in a headless browser, as a reader would see it.

Usage (from the repository root, after ``jupyter-book build .``)::

    python tests/site/check_site.py _build/html

The script serves the built HTML over ``http.server`` on 127.0.0.1 (a free
port), opens it in Debian's Chromium through Playwright's sync API and checks:

1. the home page loads and shows the book's title;
2. a chapter page loads (the rating-baselines notebook, else chapter 1);
3. the sidebar lists chapter 1 and the pages of chapter 2;
4. mathematics is rendered by MathJax (``mjx-container`` on the notation page),
   with no MathJax error;
5. a notebook figure is shown (an ``<img>`` whose ``naturalWidth`` > 0 on the
   behaviour-data page), and no image of the checked pages is broken;
6. the search page finds a word (``search.html?q=sparsity``);
7. an exercise solution is hidden until its dropdown is clicked;
8. no page asked for a local file that does not exist, and none needed the
   network (the site must work offline).

Each check prints ``PASS`` or ``FAIL``; the script ends with a line
``N passed, M failed`` and exits 1 if anything failed. Screenshots are saved in
``_build/site-check/`` (next to the HTML folder) for a person to look at.

Chromium: ``apt-get install -y chromium`` (Debian); the path can be changed
with the ``CHROMIUM`` environment variable.
"""

from __future__ import annotations

import functools
import http.server
import os
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

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
]
TIMEOUT_MS = 20_000

CHAPTER_PAGES = [
    "notebooks/02-architecture/03-rating-baselines.html",
    "book/01-overview.html",
]
FIGURE_PAGE = "notebooks/02-architecture/02-behaviour-data.html"
MATH_PAGE = "book/notation.html"
EXERCISE_PAGES = ["book/01-overview.html", "notebooks/02-architecture/03-rating-baselines.html"]
SEARCH_WORD = "sparsity"


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


class SiteChecker:
    def __init__(self, html_root: Path, base_url: str, shots: Path) -> None:
        self.root = html_root
        self.base = base_url
        self.shots = shots
        self.passed = 0
        self.failed = 0
        self.local_missing: list[str] = []
        self.external: list[str] = []

    # -- bookkeeping ---------------------------------------------------------
    def check(self, name: str, func: Callable[[], str]) -> None:
        try:
            detail = func()
        except Exception as exc:  # a failed check must not stop the others
            self.failed += 1
            print(f"FAIL  {name}: {type(exc).__name__}: {exc}")
            if os.environ.get("CHECK_SITE_DEBUG"):
                traceback.print_exc()
        else:
            self.passed += 1
            print(f"PASS  {name}" + (f" ({detail})" if detail else ""))

    def watch(self, page) -> None:
        """Record requests for missing local files and any request that leaves the machine."""
        host = urlparse(self.base).netloc

        def on_response(response) -> None:
            if urlparse(response.url).netloc == host and response.status >= 400:
                self.local_missing.append(f"{response.status} {response.url}")

        def on_request(request) -> None:
            url = urlparse(request.url)
            if url.scheme in ("http", "https") and url.netloc != host:
                self.external.append(request.url)

        page.on("response", on_response)
        page.on("request", on_request)

    def goto(self, page, path: str):
        response = page.goto(self.base + path, wait_until="load", timeout=TIMEOUT_MS)
        if response is None or not response.ok:
            status = None if response is None else response.status
            raise AssertionError(f"{path} answered {status}")
        return response

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=False)

    def exists(self, path: str) -> bool:
        return (self.root / path).is_file()

    # -- the checks ----------------------------------------------------------
    def home(self, page) -> str:
        self.goto(page, "index.html")  # a redirect to the root page (book/intro.html)
        page.wait_for_url("**/book/intro.html", timeout=TIMEOUT_MS)
        title = page.title()
        heading = page.locator("article h1").first.inner_text(timeout=TIMEOUT_MS)
        if BOOK_TITLE not in title and BOOK_TITLE not in heading:
            raise AssertionError(f"book title not found: <title> {title!r}, h1 {heading!r}")
        self.shot(page, "home")
        return f"h1 {heading.strip()[:60]!r}"

    def chapter(self, page) -> str:
        path = next((p for p in CHAPTER_PAGES if self.exists(p)), None)
        if path is None:
            raise AssertionError(f"none of {CHAPTER_PAGES} was built")
        self.goto(page, path)
        heading = page.locator("article h1").first.inner_text(timeout=TIMEOUT_MS).strip()
        n_par = page.locator("article p").count()
        if not heading or n_par < 3:
            raise AssertionError(f"{path}: heading {heading!r}, {n_par} paragraphs")
        self.shot(page, "chapter")
        return f"{path}: {heading[:50]!r}, {n_par} paragraphs"

    def sidebar(self, page) -> str:
        self.goto(page, "book/intro.html")
        nav = page.locator("nav.bd-docs-nav")
        nav.wait_for(timeout=TIMEOUT_MS)
        links = nav.locator("a.reference.internal")
        hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
        texts = nav.inner_text()
        if not any("01-overview" in h for h in hrefs) or "overview" not in texts.lower():
            raise AssertionError("chapter 1 (overview) is not in the sidebar")
        chapter2 = [h for h in hrefs if "02-architecture/" in h]
        if len(chapter2) < 5:  # the landing page and its four sections
            raise AssertionError(f"only {len(chapter2)} chapter-2 links in the sidebar: {chapter2}")
        return f"{len(hrefs)} links, {len(chapter2)} in chapter 2"

    def mathjax(self, page) -> str:
        self.goto(page, MATH_PAGE)
        page.wait_for_selector("mjx-container", timeout=TIMEOUT_MS)
        # MathJax typesets the page asynchronously: wait until it has finished.
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
            " && MathJax.startup.promise.then(() => true)",
            timeout=TIMEOUT_MS,
        )
        n = page.locator("mjx-container").count()
        errors = page.locator("mjx-merror").count()
        raw = page.locator("span.math").count() - page.locator("span.math mjx-container").count()
        if errors:
            raise AssertionError(f"{errors} MathJax errors")
        if raw > 0:
            raise AssertionError(f"{raw} inline formulas were not typeset")
        self.shot(page, "math")
        return f"{n} formulas typeset"

    def figure(self, page) -> str:
        self.goto(page, FIGURE_PAGE)
        images = page.locator("article img")
        n = images.count()
        if n == 0:
            raise AssertionError(f"no <img> in {FIGURE_PAGE}")
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('article img')).every(i => i.complete)",
            timeout=TIMEOUT_MS,
        )
        widths = page.eval_on_selector_all("article img", "els => els.map(e => e.naturalWidth)")
        if not any(w > 0 for w in widths):
            raise AssertionError(f"no image of {FIGURE_PAGE} loaded: naturalWidth {widths}")
        images.first.scroll_into_view_if_needed()
        self.shot(page, "figure")
        broken = []
        for path in ["book/01-overview.html", "notebooks/02-architecture/00-intro.html", FIGURE_PAGE]:
            if not self.exists(path):
                continue
            self.goto(page, path)
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('article img')).every(i => i.complete)",
                timeout=TIMEOUT_MS,
            )
            ws = page.eval_on_selector_all("article img", "els => els.map(e => [e.src, e.naturalWidth])")
            broken += [src for src, w in ws if w == 0]
        if broken:
            raise AssertionError(f"broken images: {broken}")
        return f"{n} image(s), widths {widths[:4]}"

    def search(self, page) -> str:
        self.goto(page, f"search.html?q={SEARCH_WORD}")
        results = page.locator("#search-results ul.search li")
        results.first.wait_for(timeout=TIMEOUT_MS)
        # Sphinx lists the results one by one, then writes a summary ("... found N pages ...").
        page.wait_for_function(
            "() => /found/i.test(document.querySelector('#search-results .search-summary')?.innerText || '')",
            timeout=TIMEOUT_MS,
        )
        n = results.count()
        if n == 0:
            raise AssertionError(f"no result for {SEARCH_WORD!r}")
        self.shot(page, "search")
        return f"{n} result(s) for {SEARCH_WORD!r}"

    def dropdown(self, page) -> str:
        path = next((p for p in EXERCISE_PAGES if self.exists(p)), None)
        if path is None:
            raise AssertionError(f"none of {EXERCISE_PAGES} was built")
        self.goto(page, path)
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

    def offline(self, page) -> str:
        if self.local_missing:
            raise AssertionError(f"missing local files: {sorted(set(self.local_missing))[:5]}")
        if self.external:
            raise AssertionError(f"requests outside the site: {sorted(set(self.external))[:5]}")
        return "no missing file, no external request"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
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
    print(f"serving {root} at {base}")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                checker.watch(page)
                checker.check("home page shows the book title", lambda: checker.home(page))
                checker.check("a chapter page loads", lambda: checker.chapter(page))
                checker.check("the sidebar lists the chapters", lambda: checker.sidebar(page))
                checker.check("MathJax renders the formulas", lambda: checker.mathjax(page))
                checker.check("a notebook figure is shown", lambda: checker.figure(page))
                checker.check("search finds a word", lambda: checker.search(page))
                checker.check("a solution is hidden until clicked", lambda: checker.dropdown(page))
                checker.check("the site works offline", lambda: checker.offline(page))
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    print(f"screenshots in {shots}")
    print(f"{checker.passed} passed, {checker.failed} failed")
    return 1 if checker.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
