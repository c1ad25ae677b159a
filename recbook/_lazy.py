"""Lazy exports for recbook's chapter packages (PEP 562).

A chapter package lists which module defines each public name; the module is
imported the first time the name is looked up, so ``import recbook.cf`` costs
nothing and ``import recbook`` never pulls in torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    package: str, where: Mapping[str, str], modules: Iterable[str] = ()
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for a package that loads on demand.

    Parameters
    ----------
    package:
        The package's dotted name, e.g. ``"recbook.cf"`` (used in error messages
        and to find submodules).
    where:
        Public name -> dotted module that defines it. A name whose module path
        ends with ``"." + name`` is the submodule itself.
    modules:
        Further submodule names, reachable as attributes but not listed in
        ``__all__``.
    """
    where = dict(where)
    extra = tuple(modules)
    public = sorted(where)

    def __getattr__(name: str) -> Any:
        if name in where:
            module = importlib.import_module(where[name])
            return module if where[name].endswith("." + name) else getattr(module, name)
        if name in extra:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(public) | set(extra))

    return public, __getattr__, __dir__
