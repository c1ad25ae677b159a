"""Resolve cross-references to recbook objects under the names readers use.

The API reference (book/api/) documents every object once, in the module that
defines it: ``recbook.cf.mf.BiasedMF``. The docstrings and the book name the
same objects the way they are imported, ``recbook.cf.BiasedMF`` or, inside the
``recbook.cf`` package docstring, just ``BiasedMF``; a method inherited from
``Recommender`` is ``fit`` in a model's docstring. Sphinx finds none of these
names among the documented ones and leaves the reference as plain text.

This extension handles Python references that Sphinx could not resolve and
that point into recbook: it imports the named object (trying the reference's
class and module context first, as Python's own lookup would), takes the
module and qualified name where the object is defined, and links there if that
name is documented. References to other libraries stay plain text.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from sphinx.util.nodes import make_refnode

_MISSING = object()


def _locate(path: str) -> Any:
    """The object at a dotted path inside recbook, or ``_MISSING``."""
    parts = path.split(".")
    if parts[0] != "recbook":
        return _MISSING
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, _MISSING)
            if obj is _MISSING:
                return _MISSING
        return obj
    return _MISSING


def _documented_names(obj: Any, path: str) -> list[str]:
    """Candidate documented names of ``obj``, best first."""
    if isinstance(obj, type(sys)):
        return [obj.__name__]
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        return [f"{module}.{qualname}"]
    # data (a dict, a tuple): every loaded recbook module that holds this very object
    name = path.rpartition(".")[2]
    return [
        f"{modname}.{name}"
        for modname, mod in sorted(sys.modules.items())
        if modname.startswith("recbook") and getattr(mod, name, _MISSING) is obj
    ]


def _missing_reference(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    module, cls = node.get("py:module"), node.get("py:class")
    paths = []
    if module and cls:
        paths.append(f"{module}.{cls}.{target}")
    if module:
        paths.append(f"{module}.{target}")
    paths.append(target)
    objects = env.get_domain("py").objects
    for path in paths:
        obj = _locate(path)
        if obj is _MISSING:
            continue
        found = [name for name in _documented_names(obj, path) if name in objects]
        if len(found) == 1:
            entry = objects[found[0]]
            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, found[0])
    return None


def setup(app):
    app.connect("missing-reference", _missing_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
