"""Chapter 3: collaborative filtering.

Neighbourhood models (:class:`KNN`, :class:`UserKNN`, :class:`ItemKNN`, and the
ranking model :class:`TopNItemKNN`) and
their similarities (:mod:`recbook.cf.similarity`), matrix factorisation for
explicit ratings (:class:`BiasedMF`, :class:`SVDpp`, :class:`ALS`) and for
implicit feedback (:class:`ImplicitALS`, :class:`BPR`, :class:`EASE`).
Submodules load on first use, so importing :mod:`recbook.cf` is cheap.
"""

from __future__ import annotations

from recbook._lazy import lazy_exports

_WHERE = {
    "similarity": "recbook.cf.similarity",
    "KNN": "recbook.cf.knn",
    "UserKNN": "recbook.cf.knn",
    "ItemKNN": "recbook.cf.knn",
    "TopNItemKNN": "recbook.cf.knn",
    "BiasedMF": "recbook.cf.mf",
    "SVDpp": "recbook.cf.mf",
    "ALS": "recbook.cf.mf",
    "ImplicitALS": "recbook.cf.implicit",
    "BPR": "recbook.cf.implicit",
    "EASE": "recbook.cf.implicit",
}

__all__, __getattr__, __dir__ = lazy_exports("recbook.cf", _WHERE)
