"""The API reference (book/api/) documents every public name of recbook, each once.

Source-level and fast: the package is read with :mod:`ast` (nothing is
imported, so torch is not needed), the pages with regular expressions, and
``_toc.yml`` line by line. No book is built.

*Public* means listed in a module's ``__all__``; a chapter package lists its
names in the ``_WHERE`` dictionary it gives ``lazy_exports``. A name that a
module or package re-exports (``recbook.cf.EASE``) is the same object as the
one its defining module exports (``recbook.cf.implicit.EASE``), and the
reference documents it once, at the defining module: that is where
``show_source``, the "[source]" links and the code cells' links point.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "recbook"
API = ROOT / "book" / "api"


# --------------------------------------------------------------------------
# what the package exports
# --------------------------------------------------------------------------
def _module_files() -> dict[str, Path]:
    """Dotted name -> file of every public module (no part starting with ``_``)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        out[".".join(parts)] = path
    return out


MODULES = _module_files()
_TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _strings(node: ast.AST) -> list[str]:
    """The string constants of a list, tuple or set literal (possibly inside ``sorted(...) + [...]``)."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if isinstance(node, ast.BinOp):
        return _strings(node.left) + _strings(node.right)
    if isinstance(node, ast.Call) and node.args:
        return _strings(node.args[0])
    return []


def _assigned(tree: ast.Module, name: str) -> ast.AST | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return node.value
    return None


def exports(module: str) -> dict[str, str | None]:
    """Public name -> the module it is taken from (``None``: look in ``module`` itself).

    Submodules listed as public names and dunder names (``__version__``) are left out.
    """
    tree = _TREES[module]
    where = _assigned(tree, "_WHERE")
    if isinstance(where, ast.Dict):  # a lazy chapter package
        out = {}
        for key, value in zip(where.keys, where.values):
            name, target = key.value, value.value
            if target != f"{module}.{name}":
                out[name] = target
        return out
    value = _assigned(tree, "__all__")
    assert value is not None, f"{module} has no __all__"
    names = [n for n in _strings(value) if not n.startswith("__") and f"{module}.{n}" not in MODULES]
    return {name: None for name in names}


def _imported_from(module: str, name: str) -> str | None:
    """The module a top-level ``from X import name`` takes ``name`` from, or ``None``."""
    for node in _TREES[module].body:
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    assert alias.name == name, f"{module} re-exports {alias.name} as {name}"
                    return node.module
    return None


def _defines(module: str, name: str) -> bool:
    for node in _TREES[module].body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
    return _assigned(_TREES[module], name) is not None


def defining_module(module: str, name: str) -> str:
    """Follow re-exports from ``module`` to the module whose source defines ``name``."""
    seen = []
    while True:
        seen.append(module)
        assert module in MODULES, f"{name}: {seen} leads to a module that is not public"
        if _defines(module, name):
            return module
        source = _imported_from(module, name)
        assert source is not None, f"{module}.{name} is exported but neither defined nor imported there"
        module = source
        assert len(seen) < 10, seen


def public_api() -> dict[tuple[str, str], list[str]]:
    """(defining module, name) -> every public path it is exported under."""
    out: dict[tuple[str, str], list[str]] = {}
    for module in MODULES:
        for name, source in exports(module).items():
            key = (defining_module(source or module, name), name)
            out.setdefault(key, []).append(f"{module}.{name}")
    return out


# --------------------------------------------------------------------------
# what the pages document
# --------------------------------------------------------------------------
_DIRECTIVE = re.compile(r"^\s*\.\. (automodule|autoclass|autofunction|autodata|autoexception)::\s*(\S+)\s*$")
_OPTION = re.compile(r"^\s+:([\w-]+):\s*(.*)$")


def api_pages() -> list[Path]:
    return sorted(API.glob("*.md"))


def directives(page: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(directive, argument, options) of every autodoc directive on a page."""
    out = []
    lines = page.read_text(encoding="utf-8").splitlines()
    for k, line in enumerate(lines):
        m = _DIRECTIVE.match(line)
        if not m:
            continue
        options = {}
        for follow in lines[k + 1 :]:
            o = _OPTION.match(follow)
            if not o:
                break
            options[o.group(1)] = o.group(2).strip()
        out.append((m.group(1), m.group(2), options))
    return out


def documented() -> list[tuple[str, str, str]]:
    """(module, name, page) for every object an API page documents."""
    out = []
    for page in api_pages():
        for kind, target, options in directives(page):
            if kind == "automodule":
                assert target in MODULES, f"{page.name}: automodule of unknown module {target}"
                if "members" not in options:
                    # the inherited-members default of _config.yml would document every member
                    assert "no-inherited-members" in options, f"{page.name}: automodule {target} needs :no-inherited-members:"
                    continue
                assert options["members"] == "", f"{page.name}: list members through __all__, not :members: {options['members']}"
                # a leading "+" extends autodoc_default_options' exclusions (_config.yml)
                excluded = {n.strip() for n in options.get("exclude-members", "").lstrip("+").split(",") if n.strip()}
                for name in exports(target):
                    if name not in excluded:
                        out.append((target, name, page.name))
            else:
                module, _, name = target.rpartition(".")
                out.append((module, name, page.name))
    return out


# --------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------
def test_every_public_name_is_documented_once_where_it_is_defined():
    api = public_api()
    assert len(api) > 200, "the scan of the package found too few public names"
    entries = documented()
    counts = Counter((module, name) for module, name, _ in entries)

    missing = sorted(f"{m}.{n} (public as {', '.join(paths)})" for (m, n), paths in api.items() if counts[(m, n)] == 0)
    assert not missing, "public names missing from book/api/*.md:\n  " + "\n  ".join(missing)

    twice = sorted(f"{m}.{n}" for (m, n), c in counts.items() if c > 1)
    assert not twice, "documented more than once:\n  " + "\n  ".join(twice)

    elsewhere = sorted(f"{m}.{n} on {page}" for m, n, page in entries if (m, n) not in api)
    assert not elsewhere, (
        "documented where it is not defined, or not public (document an object at its "
        "defining module; a re-export belongs in :exclude-members:):\n  " + "\n  ".join(elsewhere)
    )


def _data_without_doc(module: str, name: str) -> bool:
    """A module-level constant that autodoc would skip: no ``#:`` comment above it, no string after it."""
    body = _TREES[module].body
    lines = MODULES[module].read_text(encoding="utf-8").splitlines()
    for k, node in enumerate(body):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            comment = lines[node.lineno - 2].strip().startswith("#:") if node.lineno > 1 else False
            after = k + 1 < len(body) and isinstance(body[k + 1], ast.Expr) and isinstance(body[k + 1].value, ast.Constant)
            return not (comment or after)
    return False


def test_every_public_constant_has_a_doc_comment():
    # autodoc's :members: leaves out a constant that has no documentation
    bare = sorted(f"{m}.{n}" for m, n in public_api() if _data_without_doc(m, n))
    assert not bare, "give these a '#:' comment on the line above:\n  " + "\n  ".join(bare)


def _undocumented_methods(module: str, name: str) -> list[str]:
    """Public methods of a class (its own and those of its private bases in the same module)
    that have no docstring anywhere along that chain (autodoc_inherit_docstrings finds none)."""
    classes = {n.name: n for n in _TREES[module].body if isinstance(n, ast.ClassDef)}
    documented: dict[str, bool] = {}
    todo = [classes[name]]
    while todo:
        cls = todo.pop(0)
        for f in cls.body:
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and not f.name.startswith("_"):
                if not any(ast.unparse(d).endswith((".setter", ".deleter")) for d in f.decorator_list):
                    documented[f.name] = documented.get(f.name, False) or bool(ast.get_docstring(f))
        todo += [classes[b.id] for b in cls.bases if isinstance(b, ast.Name) and b.id.startswith("_") and b.id in classes]
    return sorted(m for m, ok in documented.items() if not ok)


def test_every_public_method_has_a_docstring():
    # autodoc's :members: leaves out an undocumented method, and an override of a
    # torch or scikit-learn method without its own docstring shows the library's text
    bare = []
    for module, name in public_api():
        if any(isinstance(n, ast.ClassDef) and n.name == name for n in _TREES[module].body):
            bare += [f"{module}.{name}.{m}" for m in _undocumented_methods(module, name)]
    assert not bare, "public methods without a docstring:\n  " + "\n  ".join(sorted(bare))


def test_every_public_module_has_its_docstring_on_a_page():
    shown = {target for page in api_pages() for kind, target, _ in directives(page) if kind == "automodule"}
    assert sorted(set(MODULES) - shown) == []


def test_the_scan_sees_re_exports():
    # the scan itself: package names lead to their defining modules
    api = public_api()
    assert "recbook.cf.EASE" in api[("recbook.cf.implicit", "EASE")]
    assert set(api[("recbook.evaluate.core", "evaluate_new_items")]) >= {
        "recbook.evaluate.evaluate_new_items",
        "recbook.content.evaluate_new_items",
        "recbook.content.knn.evaluate_new_items",
    }
    assert ("recbook.compress.sharing", "QREmbedding") not in api
    assert "recbook.compress.sharing.QREmbedding" in api[("recbook.models.embeddings", "QREmbedding")]


def _toc_files() -> list[str]:
    text = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    return re.findall(r"^\s*(?:-\s*)?(?:file|root):\s*(\S+)\s*$", text, flags=re.M)


def test_every_api_page_is_in_the_table_of_contents():
    toc = _toc_files()
    pages = [f"book/api/{p.stem}" for p in api_pages()]
    assert "book/api/index" in pages
    assert sorted(set(pages) - set(toc)) == []


def test_the_reference_follows_the_chapter_order():
    # one page per entry of recbook._SUBMODULES, listed in that (the book's) order
    order = _strings(_assigned(_TREES["recbook"], "_SUBMODULES"))
    toc = [f.removeprefix("book/api/") for f in _toc_files() if f.startswith("book/api/") and f != "book/api/index"]
    assert toc == order
    for name in order:
        targets = [t for _, t, _ in directives(API / f"{name}.md")]
        assert f"recbook.{name}" in targets, f"book/api/{name}.md does not document recbook.{name}"
