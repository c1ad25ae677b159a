"""Include each script once per page.

Sphinx 7.4 can list a JavaScript file twice when an extension (here sphinx-thebe,
loaded by Jupyter Book) adds it late in the build; the browser then reports
``Identifier 'THEBE_JS_URL' has already been declared`` on every page. Sphinx 8
fixed this (sphinx-doc/sphinx#13402); the book pins Sphinx 7.4, so this
extension drops the repeats from each page's ``script_files`` before rendering.
"""

from __future__ import annotations


def _dedupe(app, pagename, templatename, context, doctree) -> None:
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", None) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
