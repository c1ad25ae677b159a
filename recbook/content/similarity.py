r"""Similarity between feature vectors, and user profiles built from rated items.

Three similarities between two feature vectors :math:`\mathbf a, \mathbf b`:

.. math::

    \cos(\mathbf a, \mathbf b) = \frac{\mathbf a^\top \mathbf b}{\lVert\mathbf a\rVert\,\lVert\mathbf b\rVert},
    \qquad
    \rho(\mathbf a, \mathbf b) = \cos(\mathbf a - \bar a\mathbf 1,\ \mathbf b - \bar b\mathbf 1),
    \qquad
    J(\mathbf a, \mathbf b) = \frac{|A \cap B|}{|A \cup B|},

where :math:`\bar a` is the mean of :math:`\mathbf a`'s *features* (Pearson
correlation across features) and :math:`A = \{f : a_f \ne 0\}` the set of
features :math:`\mathbf a` has (Jaccard ignores the values). A zero vector has
similarity 0 with everything, as does a constant vector under Pearson.

These compare *content* vectors over all features. The collaborative
similarities of chapter 3 (:mod:`recbook.cf.similarity`) compare rating
vectors over co-rated users only: same names, different inputs.

References
----------
M. J. Pazzani and D. Billsus, "Content-based recommendation systems", in
*The Adaptive Web*, 2007; P. Lops et al., "Content-based recommender
systems: state of the art and trends", 2011.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recbook.base import check_interactions
from recbook.content.features import FeatureMatrix, _unit_rows_any, as_feature_matrix

__all__ = [
    "METRICS",
    "cosine_similarity",
    "pearson_similarity",
    "jaccard_similarity",
    "pairwise_similarity",
    "most_similar",
    "user_profiles",
]

#: The similarity names understood by :func:`pairwise_similarity` and ``ContentKNN``.
METRICS = ("cosine", "pearson", "jaccard")


def _as_matrix(obj: Any, name: str) -> Any:
    if isinstance(obj, FeatureMatrix):
        return obj.matrix
    if isinstance(obj, pd.DataFrame):
        return as_feature_matrix(obj, name).matrix
    if sp.issparse(obj):
        return sp.csr_matrix(obj, dtype=np.float64)
    arr = np.asarray(obj, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (one vector per row), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return metric


def _prepare(mat: Any, metric: str) -> tuple[Any, np.ndarray | None]:
    """Pre-process rows so that a similarity is a (sparse) matrix product.

    cosine: unit rows; pearson: rows centred on their mean then unit (dense);
    jaccard: 0/1 rows plus each row's number of features.
    """
    if metric == "cosine":
        return _unit_rows_any(mat), None
    if metric == "pearson":
        dense = mat.toarray() if sp.issparse(mat) else np.asarray(mat)
        centred = dense - dense.mean(axis=1, keepdims=True)
        return _unit_rows_any(centred), None
    binary = sp.csr_matrix(mat != 0, dtype=np.float64) if sp.issparse(mat) else (np.asarray(mat) != 0).astype(np.float64)
    counts = np.asarray(binary.sum(axis=1)).ravel()
    return binary, counts


def _dense(x: Any) -> np.ndarray:
    return x.toarray() if sp.issparse(x) else np.asarray(x)


#: A sparse right-hand block with at most this many entries is densified before
#: the product: sparse x dense is several times faster than sparse x sparse
#: when rows are not very sparse (e.g. concatenated embedding + tag blocks).
_DENSIFY_LIMIT = 4_000_000


def _between(pa: Any, ca: np.ndarray | None, pb: Any, cb: np.ndarray | None, metric: str) -> np.ndarray:
    """Similarity matrix between pre-processed row blocks (see :func:`_prepare`)."""
    if sp.issparse(pb) and pb.shape[0] * pb.shape[1] <= _DENSIFY_LIMIT:
        pb = pb.toarray()
    prod = _dense(pa @ pb.T)
    if metric != "jaccard":
        return np.clip(prod, -1.0, 1.0)
    union = ca[:, None] + cb[None, :] - prod
    return np.divide(prod, union, out=np.zeros_like(prod), where=union > 0)


def pairwise_similarity(a: Any, b: Any = None, metric: str = "cosine") -> np.ndarray:
    """Similarity of every row of ``a`` with every row of ``b`` (default ``a``).

    Parameters
    ----------
    a, b : array-like, sparse matrix, DataFrame or FeatureMatrix
        One feature vector per row, same number of columns.
    metric : {"cosine", "pearson", "jaccard"}

    Returns
    -------
    numpy.ndarray
        Dense ``(len(a), len(b))`` matrix. Pearson densifies sparse input.
    """
    _check_metric(metric)
    ma = _as_matrix(a, "a")
    mb = ma if b is None else _as_matrix(b, "b")
    if ma.shape[1] != mb.shape[1]:
        raise ValueError(f"a and b must have the same number of features, got {ma.shape[1]} and {mb.shape[1]}")
    pa, ca = _prepare(ma, metric)
    pb, cb = (pa, ca) if b is None else _prepare(mb, metric)
    return _between(pa, ca, pb, cb, metric)


def cosine_similarity(a: Any, b: Any = None) -> np.ndarray:
    r"""Cosine similarity :math:`\mathbf a^\top\mathbf b / (\lVert\mathbf a\rVert\lVert\mathbf b\rVert)` of every pair of rows."""
    return pairwise_similarity(a, b, "cosine")


def pearson_similarity(a: Any, b: Any = None) -> np.ndarray:
    r"""Pearson correlation across features of every pair of rows (cosine of the row-centred vectors)."""
    return pairwise_similarity(a, b, "pearson")


def jaccard_similarity(a: Any, b: Any = None) -> np.ndarray:
    r"""Jaccard similarity :math:`|A\cap B| / |A\cup B|` of the non-zero feature sets of every pair of rows."""
    return pairwise_similarity(a, b, "jaccard")


def most_similar(
    features: Any,
    items: Any,
    n: int = 5,
    metric: str = "cosine",
    labels: pd.Series | None = None,
) -> pd.DataFrame:
    """The ``n`` nearest neighbours of each query item under a representation.

    Parameters
    ----------
    features : FeatureMatrix, DataFrame or (ids, matrix)
        Item vectors indexed by item id.
    items : item id or list of item ids
        Query items.
    n : int
        Neighbours per query (the query itself is left out).
    metric : {"cosine", "pearson", "jaccard"}
    labels : pandas.Series, optional
        Item id -> label (e.g. titles); adds ``query_label`` and ``label``.

    Returns
    -------
    pandas.DataFrame
        Columns ``query, rank, item, similarity`` (and labels); ties broken
        by the lower row position.
    """
    from recbook.base import top_k

    f = as_feature_matrix(features, "features")
    _check_metric(metric)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    queries = [items] if np.isscalar(items) else list(items)
    qpos = f.positions(queries, "query items")
    prepared, counts = _prepare(f.matrix, metric)
    sims = _between(prepared[qpos], None if counts is None else counts[qpos], prepared, counts, metric)
    sims[np.arange(len(qpos)), qpos] = -np.inf
    top = top_k(sims, min(int(n), len(f) - 1)) if len(f) > 1 else np.zeros((len(qpos), 0), dtype=int)
    rows = []
    for q, row, srow in zip(queries, top, sims):
        for r, j in enumerate(row, start=1):
            rows.append({"query": q, "rank": r, "item": f.ids[j], "similarity": float(srow[j])})
    out = pd.DataFrame(rows, columns=["query", "rank", "item", "similarity"])
    if labels is not None:
        out.insert(1, "query_label", out["query"].map(labels))
        out["label"] = out["item"].map(labels)
    return out


# ----------------------------------------------------------------------------
# User profiles
# ----------------------------------------------------------------------------
def _profile_weights(
    u: np.ndarray, i: np.ndarray, r: np.ndarray, n_users: int, n_items: int, centre: bool
) -> sp.csr_matrix:
    r"""Sparse ``(n_users, n_items)`` matrix of profile weights :math:`w_{uj}` (see :func:`user_profiles`)."""
    counts = np.bincount(u, minlength=n_users).astype(np.float64)
    if centre:
        mean = np.bincount(u, r, minlength=n_users) / np.maximum(counts, 1)
        val = r - mean[u]
    else:
        val = r.astype(np.float64)
    mass = np.bincount(u, np.abs(val), minlength=n_users)
    flat = mass[u] <= 1e-12 * np.maximum(1.0, np.abs(r).max())  # all deviations zero: plain mean
    w = np.where(flat, 1.0 / np.maximum(counts[u], 1), val / np.where(flat, 1.0, mass[u]))
    return sp.csr_matrix((w, (u, i)), shape=(n_users, n_items))


def user_profiles(
    ratings: pd.DataFrame,
    item_features: Any,
    centre: bool = True,
    normalize: bool = True,
) -> FeatureMatrix:
    r"""Content profile of every user: a rating-weighted mean of the rated items' vectors.

    With :math:`I_u` the items user :math:`u` rated, :math:`\bar r_u` the
    user's mean rating and :math:`\hat{\mathbf x}_j` item :math:`j`'s vector
    scaled to unit length (``normalize=True``), the centred profile is

    .. math::

        \boldsymbol\pi_u = \frac{\sum_{j \in I_u} (r_{uj} - \bar r_u)\,\hat{\mathbf x}_j}
                           {\sum_{j \in I_u} |r_{uj} - \bar r_u|}.

    Items rated above the user's own mean pull the profile towards their
    content, items rated below push it away, so a generous and a harsh rater
    who like the same things get the same profile. When all the user's
    ratings are equal (every deviation is 0, e.g. implicit feedback) the
    profile is the plain mean :math:`\frac{1}{|I_u|}\sum_j \hat{\mathbf x}_j`.
    With ``centre=False`` the weights are :math:`r_{uj} / \sum_j |r_{uj}|`
    (a rating-weighted mean). Duplicated ``(user, item)`` rows keep the last
    rating. A user's content score for item :math:`i` is then
    :math:`\cos(\boldsymbol\pi_u, \mathbf x_i)` (``ContentKNN(mode="profile")``).

    Parameters
    ----------
    ratings : pandas.DataFrame
        ``user, item, rating`` (missing ``rating`` means implicit, all 1).
    item_features : FeatureMatrix, DataFrame or (ids, matrix)
        A vector for every rated item.
    centre : bool
        Subtract the user's mean rating first.
    normalize : bool
        Scale item vectors to unit length first.

    Returns
    -------
    FeatureMatrix
        One profile per user (ids in order of first appearance), same columns
        as ``item_features``; sparse if the features are.

    Raises
    ------
    ValueError
        A rated item has no feature vector (the message names it).

    References
    ----------
    M. J. Pazzani and D. Billsus, "Content-based recommendation systems", 2007.
    """
    frame = check_interactions(ratings, "ratings")
    f = as_feature_matrix(item_features, "item_features")
    frame = frame.drop_duplicates(["user", "item"], keep="last")
    u, users = pd.factorize(frame["user"], sort=False)
    pos = f.positions(frame["item"].unique(), "rated items")  # raises naming missing items
    del pos
    i = f.ids.get_indexer(frame["item"].to_numpy())
    w = _profile_weights(u.astype(np.int64), i.astype(np.int64), frame["rating"].to_numpy(), len(users), len(f), centre)
    x = _unit_rows_any(f.matrix) if normalize else f.matrix
    prof = w @ x
    return FeatureMatrix(pd.Index(users, name="user"), prof, list(f.columns), "user profiles")
