r"""Compressed retrieval: finding a user's top items without scoring every item exactly (chapter 8).

A factor model scores item :math:`i` for user :math:`u` by an inner product,
:math:`s_{ui} = p_u^\top q_i + b_i = \tilde p_u^\top \tilde q_i` with
:math:`\tilde p_u = (p_u, 1)` and :math:`\tilde q_i = (q_i, b_i)`
(:func:`mips_vectors`). Recommending is then *maximum inner-product search*
(MIPS) over the item vectors. Exact search costs :math:`O(nd)` per user for a
catalogue of :math:`n` items; at :math:`n = 10^6` that is the whole cost of
serving.

**Product quantization** (Jégou et al. 2011) cuts each item vector into
:math:`M` sub-vectors of :math:`d / M` dimensions and replaces each sub-vector
by the nearest of :math:`2^{\text{nbits}}` centroids learned by k-means on
that slice, so an item is stored as :math:`M` codes of ``nbits`` bits
(:math:`M` bytes at 8 bits instead of :math:`4d`). A query's inner product
with every centroid of every slice is computed once (a table of
:math:`M \cdot 2^{\text{nbits}}` numbers), after which the approximate score of
any item is a sum of :math:`M` table look-ups:

.. math::

    \hat s_{ui} = \sum_{m=1}^{M} \tilde p_u^{(m)\top} c_m\big(\mathrm{code}_m(i)\big).

**IVF-PQ** adds a coarse k-means over the catalogue with ``nlist`` cells and
scans only the ``nprobe`` cells nearest to the query, so the cost per query
falls from :math:`n` look-up sums to about :math:`n \cdot \text{nprobe} /
\text{nlist}`. Both are approximate: the quality of the result is its
*recall@K against exact search*, the share of the exact top-K that the index
returns (:func:`recall_at_k`).

:class:`ItemIndex` wraps the indexes of the `faiss` library (Johnson et al.
2019) behind one small interface and measures its size as the bytes of the
serialized index, as :func:`~recbook.compress.size.state_nbytes` does for a
model. Methods:

``"flat"``   exact search over float32 vectors (``IndexFlatIP``);
``"sq8"``    every dimension in 8 bits (``IndexScalarQuantizer``);
``"pq"``     product quantization, ``m`` sub-vectors of ``nbits`` bits (``IndexPQ``);
``"ivfpq"``  a coarse quantizer with ``nlist`` cells over PQ codes (``IndexIVFPQ``), searching ``nprobe`` cells.

References
----------
H. Jégou, M. Douze and C. Schmid, "Product quantization for nearest neighbor
search", IEEE TPAMI 33(1), 2011.
J. Johnson, M. Douze and H. Jégou, "Billion-scale similarity search with
GPUs", IEEE Transactions on Big Data, 2019.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from recbook.base import Recommender
from recbook.utils import Boolean, InstanceOf, Integer

__all__ = ["ItemIndex", "Retrieved", "mips_vectors", "recall_at_k", "exact_top_k", "INDEX_METHODS"]

#: The search methods :class:`ItemIndex` offers.
INDEX_METHODS = ("flat", "sq8", "pq", "ivfpq")


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - faiss-cpu is in the [deep] extra
        raise ImportError("ItemIndex needs faiss: pip install faiss-cpu (it is in recbook's [deep] extra)") from err
    return faiss


def _matrix(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows x dimensions), got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be numeric, got {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} has NaN or infinite entries")
    return a


def mips_vectors(model: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""Query and item vectors whose inner products are a fitted factor model's scores.

    :math:`\tilde p_u = (p_u, 1)` and :math:`\tilde q_i = (q_i, b_i)`, so that
    :math:`\tilde p_u^\top \tilde q_i = p_u^\top q_i + b_i`; a model without
    item biases gets no extra column.

    Parameters
    ----------
    model : a fitted recbook factor model
        Anything with ``user_factors_`` and ``item_factors_`` (and optionally
        ``item_bias_``), e.g. :class:`~recbook.models.bpr.TorchBPR`.

    Returns
    -------
    (queries, items) : tuple of float32 arrays, shapes ``(n_users, d')`` and ``(n_items, d')``
    """
    if not (hasattr(model, "user_factors_") and hasattr(model, "item_factors_")):
        raise TypeError(
            f"mips_vectors needs a fitted factor model with user_factors_ and item_factors_, got {type(model).__name__}"
        )
    p = _matrix(model.user_factors_, "user_factors_")
    q = _matrix(model.item_factors_, "item_factors_")
    if p.shape[1] != q.shape[1]:
        raise ValueError(f"user and item factors differ in dimension: {p.shape[1]} vs {q.shape[1]}")
    bias = getattr(model, "item_bias_", None)
    if bias is None:
        return p, q
    b = np.asarray(bias, dtype=np.float32).reshape(-1, 1)
    if len(b) != len(q):
        raise ValueError(f"item_bias_ has {len(b)} entries for {len(q)} items")
    return np.hstack([p, np.ones((len(p), 1), np.float32)]), np.hstack([q, b])


def recall_at_k(exact: Any, found: Any) -> float:
    r"""Mean share of each query's exact top-K that an approximate search returned.

    .. math::

        \text{recall@}K = \frac{1}{|U|} \sum_u \frac{|T_u \cap \hat T_u|}{K}

    where :math:`T_u` is row ``u`` of ``exact`` and :math:`\hat T_u` row ``u``
    of ``found`` (item ids, ``K`` per row; order does not matter; ``-1``, which
    faiss returns when it finds fewer than ``K`` items, never matches).
    """
    t, f = np.asarray(exact), np.asarray(found)
    if t.ndim != 2 or f.ndim != 2 or t.shape != f.shape:
        raise ValueError(f"exact and found must be 2-D arrays of one shape (queries x K), got {t.shape} and {f.shape}")
    if t.shape[1] == 0:
        raise ValueError("K must be at least 1")
    if len(t) == 0:
        raise ValueError("no queries")
    hits = [np.intersect1d(a[a >= 0], b[b >= 0]).size for a, b in zip(t, f)]
    return float(np.mean(hits) / t.shape[1])


class ItemIndex(BaseEstimator):
    """A searchable (and possibly compressed) index of item vectors for inner-product search.

    See the module docstring for the methods and the formulas.

    Parameters
    ----------
    method : {"flat", "sq8", "pq", "ivfpq"}, default "pq"
    m : int, default 16
        Sub-vectors per item for ``"pq"`` and ``"ivfpq"``; the vectors are
        padded with zero columns to a multiple of ``m`` (which changes no
        inner product).
    nbits : int, default 8
        Bits per sub-vector code (1 to 16; 8 is the usual byte).
    nlist : int, optional
        Coarse cells of ``"ivfpq"``; default :math:`\\lceil \\sqrt{n}\\,\\rceil`.
    nprobe : int, default 16
        Cells ``"ivfpq"`` scans per query.
    train_size : int, default 65536
        Items sampled (with ``seed``) to train the quantizers. faiss warns
        when k-means gets fewer than 39 points per centroid (a catalogue of
        under 10,000 items for 256 centroids); the index silences that warning
        and trains anyway: such codebooks are nearly as large as the vectors
        they replace, which the index's ``nbytes_`` shows.
    seed : int, default 0

    Attributes
    ----------
    index_ : faiss.Index
    n_items_, dim_ : int
        Items indexed and their dimension before padding.
    nbytes_ : int
        Bytes of the serialized index (codes, codebooks, lists).
    """

    def __init__(
        self,
        method: str = "pq",
        m: int = 16,
        nbits: int = 8,
        nlist: int | None = None,
        nprobe: int = 16,
        train_size: int = 65536,
        seed: int = 0,
    ) -> None:
        if method not in INDEX_METHODS:
            raise ValueError(f"method must be one of {INDEX_METHODS}, got {method!r}")
        for name, value, low in (("m", m, 1), ("nprobe", nprobe, 1), ("train_size", train_size, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if isinstance(nbits, bool) or not isinstance(nbits, (int, np.integer)) or not 1 <= nbits <= 16:
            raise ValueError(f"nbits must be an integer from 1 to 16, got {nbits!r}")
        if nlist is not None and (isinstance(nlist, bool) or not isinstance(nlist, (int, np.integer)) or nlist < 1):
            raise ValueError(f"nlist must be a positive integer or None, got {nlist!r}")
        self.method = method
        self.m = int(m)
        self.nbits = int(nbits)
        self.nlist = nlist
        self.nprobe = int(nprobe)
        self.train_size = int(train_size)
        self.seed = int(seed)

    def _pad(self, x: np.ndarray) -> np.ndarray:
        extra = self._padded - x.shape[1]
        return np.hstack([x, np.zeros((len(x), extra), np.float32)]) if extra else x

    def fit(self, items: Any) -> "ItemIndex":
        """Train the quantizers on a sample of ``items`` (rows are items) and add every item."""
        faiss = _faiss()
        x = _matrix(items, "items")
        n, d = x.shape
        if n == 0 or d == 0:
            raise ValueError(f"items must have at least one row and one column, got shape {x.shape}")
        self.n_items_, self.dim_ = n, d
        step = self.m if self.method in ("pq", "ivfpq") else 1
        self._padded = -(-d // step) * step
        x = self._pad(x)
        D, ip = self._padded, faiss.METRIC_INNER_PRODUCT
        if self.method == "flat":
            index = faiss.IndexFlatIP(D)
        elif self.method == "sq8":
            index = faiss.IndexScalarQuantizer(D, faiss.ScalarQuantizer.QT_8bit, ip)
        elif self.method == "pq":
            if n < 2**self.nbits:
                raise ValueError(f"pq with nbits={self.nbits} needs at least {2**self.nbits} items to train, got {n}")
            index = faiss.IndexPQ(D, self.m, self.nbits, ip)
            index.pq.cp.seed = self.seed
            index.pq.cp.min_points_per_centroid = 1  # small catalogues: see the class docstring
        else:
            nlist = self.nlist if self.nlist is not None else int(np.ceil(np.sqrt(n)))
            if n < max(nlist, 2**self.nbits):
                raise ValueError(f"ivfpq needs at least max(nlist, 2**nbits) = {max(nlist, 2**self.nbits)} items, got {n}")
            quantizer = faiss.IndexFlatIP(D)
            index = faiss.IndexIVFPQ(quantizer, D, nlist, self.m, self.nbits, ip)
            index.cp.seed = self.seed
            index.pq.cp.seed = self.seed
            index.cp.min_points_per_centroid = index.pq.cp.min_points_per_centroid = 1
            index.nprobe = min(self.nprobe, nlist)
            self._quantizer = quantizer  # the IVF index does not own it from Python
            self.nlist_ = nlist
        if not index.is_trained:
            rng = np.random.default_rng(self.seed)
            sample = x if n <= self.train_size else x[np.sort(rng.choice(n, self.train_size, replace=False))]
            index.train(sample)
        index.add(x)
        self.index_ = index
        self.nbytes_ = int(faiss.serialize_index(index).size)
        return self

    def search(self, queries: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items with the largest (approximate) inner product for every query row.

        Returns
        -------
        (scores, ids) : float32 and int64 arrays of shape ``(n_queries, k)``, best first;
            ``ids`` are row numbers of the indexed items (``-1`` where fewer than ``k`` were found).
        """
        if not hasattr(self, "index_"):
            raise ValueError("this ItemIndex is not fitted yet: call fit(items) first")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        q = _matrix(queries, "queries")
        if q.shape[1] != self.dim_:
            raise ValueError(f"queries have {q.shape[1]} dimensions, the index {self.dim_}")
        scores, ids = self.index_.search(self._pad(q), int(k))
        return scores, ids.astype(np.int64)


def exact_top_k(queries: Any, items: Any, k: int = 10) -> np.ndarray:
    """Row numbers of the exact top-``k`` items by inner product (ties to the lower row), for reference."""
    from recbook.base import top_k

    q, x = _matrix(queries, "queries"), _matrix(items, "items")
    return top_k(q @ x.T, k)


class Retrieved(Recommender):
    """A fitted factor model that recommends through an :class:`ItemIndex` instead of scoring every item.

    For every user the index returns its ``k + (items the user has seen)``
    best candidates, no more (so that at most ``k`` remain once the seen items
    are removed, as many as an exact search would leave);
    every other item gets score :math:`-\\infty`. The candidates keep the
    index's approximate scores, or, with ``rerank=True``, are re-scored
    exactly (the usual two-stage serving: compressed retrieval, exact
    ranking). The protocols therefore measure what the index loses in the
    book's own metrics, beside :func:`recall_at_k` against exact search.

    Parameters
    ----------
    model : a fitted factor model (see :func:`mips_vectors`) or an unfitted one, fitted here
    index : ItemIndex, default ``ItemIndex("pq")``
        Cloned and fitted on the model's item vectors.
    k : int, default 10
        The list length the candidates must cover.
    rerank : bool, default False

    Attributes
    ----------
    model_, index_ : the fitted model and index
    nbytes_ : int
        Bytes of the serialized index.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "model": [InstanceOf(Recommender, what="a recbook factor model")],
        "index": [InstanceOf(ItemIndex, what="an ItemIndex"), None],
        "k": [Integer(min=1)],
        "rerank": [Boolean()],
    }

    def __init__(self, model: Recommender, index: ItemIndex | None = None, k: int = 10, rerank: bool = False) -> None:
        self.model = model
        self.index = index
        self.k = k
        self.rerank = rerank

    @classmethod
    def _example(cls, data: Any) -> "Retrieved":
        from recbook.models.bpr import TorchBPR

        return cls(TorchBPR(n_factors=8, n_epochs=2, batch_size=256), ItemIndex("flat"))

    def _fit_frame(self, frame: pd.DataFrame, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        import copy

        from sklearn.base import clone

        model = self.model
        if hasattr(model, "user_ids_") and hasattr(model, "item_factors_"):
            if not (np.array_equal(model.user_ids_, self.user_ids_) and np.array_equal(model.item_ids_, self.item_ids_)):
                raise ValueError("the fitted model was trained on other users or items: fit it on the same data, or pass it unfitted")
        else:
            model = clone(model).fit(frame)
        self.model_ = model
        self._queries, self._items = mips_vectors(model)
        index = copy.deepcopy(self.index) if self.index is not None else ItemIndex("pq")
        self.index_ = index.fit(self._items)
        self.nbytes_ = self.index_.nbytes_
        self._n_seen = np.diff(self.train_.tocsr().indptr)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.int64)
        out = np.full((len(u), self.n_items_), -np.inf)
        known = np.flatnonzero(u >= 0)
        if len(known):
            need = np.minimum(self.n_items_, self.k + self._n_seen[u[known]])  # per user: k plus the seen items
            depth = int(need.max())
            scores, ids = self.index_.search(self._queries[u[known]], depth)
            rows = np.repeat(known, depth).reshape(len(known), depth)
            ok = (ids >= 0) & (np.arange(depth)[None, :] < need[:, None])
            if self.rerank:
                exact = np.einsum("ij,ij->i", self._queries[u[rows[ok]]], self._items[ids[ok]])
                out[rows[ok], ids[ok]] = exact
            else:
                out[rows[ok], ids[ok]] = scores[ok]
        unknown = np.flatnonzero(u < 0)
        if len(unknown):
            fallback = getattr(self.model_, "fallback_scores_", None)
            out[unknown] = np.zeros(self.n_items_) if fallback is None else fallback
        return out

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        from recbook.compress.serve import predict_from_score_rows

        return predict_from_score_rows(self, u, i)
