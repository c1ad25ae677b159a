"""recbook: the companion package of *Knowledge Distillation and Model
Compression for Large Recommendation Models*.

Importing :mod:`recbook` is cheap: submodules load on first use
(``recbook.datasets``, ``recbook.split``, ``recbook.metrics``, ...), and
nothing here imports torch or sentence-transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The package's modules, in the book's chapter order (later chapters add theirs here).
_SUBMODULES = {
    "base",
    "utils",
    "testing",
    "datasets",
    "split",
    "metrics",
    "evaluate",
    "baselines",
    "cf",
    "content",
    "hybrid",
    "train",
    "models",
    "distill",
    "compress",
    "online",
}

__all__ = sorted(_SUBMODULES) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"recbook.{name}")
    raise AttributeError(f"module 'recbook' has no attribute {name!r}")
