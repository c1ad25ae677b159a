r"""Content-based nearest neighbours, and the cold-item protocol of chapter 4.

:class:`ContentKNN` predicts a user's rating of an item from the ratings the
user gave to the items whose *content* is most similar. It needs no rating of
the item itself, so it can score an item that nobody has rated yet -- the
*new-item cold-start* case in which collaborative filtering can only fall
back to a baseline (Schein et al., SIGIR 2002).

:func:`cold_item_split` makes that case measurable (every rating of a random
set of items goes to the test set) and :func:`evaluate_new_items` ranks the
new items for each user.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recbook.base import Recommender, select_top
from recbook.content.features import FeatureMatrix, _unit_rows_any, as_feature_matrix
from recbook.content.similarity import METRICS, _between, _prepare, _profile_weights
from recbook.evaluate.core import evaluate_new_items  # noqa: F401  (re-exported: chapter 4's protocol)
from recbook.split import cold_item_split
from recbook.utils import InstanceOf, Integer, Options

__all__ = ["ContentKNN", "cold_item_split", "evaluate_new_items"]

#: What a content model accepts as item features (converted by ``as_feature_matrix`` at fit).
FEATURES = InstanceOf(FeatureMatrix, pd.DataFrame, tuple, what="a FeatureMatrix, a DataFrame indexed by item id, or (ids, matrix)")

#: Entries of a similarity block computed at once (memory ~ 8 bytes each).
_BLOCK = 2_000_000
#: Catalogues up to this size get their whole item-item similarity matrix
#: precomputed at fit time (3,000 items: 72 MB); larger ones compute blocks on demand.
_DENSE_LIMIT = 3000


def _aggregate(s: np.ndarray, dev: np.ndarray, k: int, min_k: int) -> np.ndarray:
    r"""Offsets :math:`\sum_{j \in N_k} s_j d_j / \sum_{j \in N_k} s_j` row by row.

    ``s`` is a ``(t, m)`` similarity block between ``t`` target items and the
    user's ``m`` rated items, ``dev`` the ``m`` rating deviations. Only the
    ``k`` largest *positive* similarities of each row count; a row with fewer
    than ``min_k`` of them gets offset 0.
    """
    s = np.where(s > 0, s, 0.0)
    if s.shape[1] > k:  # the k largest, ties to the earlier rated item (recbook.base.select_top)
        s = np.where(select_top(s, k), s, 0.0)
    d = np.broadcast_to(dev, s.shape)
    num = (s * d).sum(axis=1)
    den = s.sum(axis=1)
    ok = ((s > 0).sum(axis=1) >= min_k) & (den > 0)
    return np.where(ok, num / np.where(ok, den, 1.0), 0.0)


def _items_without_ratings(features: FeatureMatrix, frame: pd.DataFrame) -> pd.Index:
    """The ids of ``features`` with no training interaction, in ``features``' order (a content model's cold items).

    A content model returns them from ``_extra_items``, so the base class
    appends them to the catalogue: the model can score and recommend items
    nobody has rated yet.
    """
    return features.ids[~features.ids.isin(pd.unique(frame["item"]))]


def _catalogue_rows(model: Recommender, features: FeatureMatrix) -> np.ndarray:
    """The row of ``features`` for each catalogue item of a fitted model, in catalogue order.

    Raises
    ------
    ValueError
        A training item has no feature vector (the message names it).
    """
    pos = features.ids.get_indexer(model.item_ids_)
    if np.any(pos < 0):
        missing = model.item_ids_[pos < 0]
        raise ValueError(
            f"item_features has no vector for {len(missing)} training item(s) "
            f"(e.g. {missing[:10].tolist()}); every rated item needs features "
            "(drop those ratings or give those items a vector)"
        )
    return pos


class ContentKNN(Recommender):
    r"""Item-based nearest neighbours over *content* similarity.

    **Rating mode** (``mode="knn"``, the default). With :math:`I_u` the items
    user :math:`u` rated in training, :math:`\bar r_u` the user's mean rating
    and :math:`N_u^k(i)` the ``k`` items of :math:`I_u` whose feature
    vectors are most similar to item :math:`i`'s (only positive similarities
    count),

    .. math::

        \hat r_{ui} = \bar r_u +
        \frac{\sum_{j \in N_u^k(i)} \mathrm{sim}(i, j)\,(r_{uj} - \bar r_u)}
             {\sum_{j \in N_u^k(i)} |\mathrm{sim}(i, j)|}.

    It is the item-based KNN of chapter 3 with two changes: the similarity
    comes from item features (``sim`` = cosine, Pearson or Jaccard of the
    vectors, :mod:`recbook.content.similarity`) instead of co-ratings, and the
    baseline is the *user's* mean, because a new item has no mean of its own.
    Since the neighbours' similarities are positive, the estimate is a
    weighted mean of the user's own ratings, so it never leaves the rating
    scale. Fewer than ``min_k`` positive neighbours give :math:`\bar r_u`.

    **Ranking mode** (``mode="profile"``). The score is
    :math:`\cos(\boldsymbol\pi_u, \mathbf x_i)` (or Pearson with ``sim="pearson"``)
    between the user's profile :math:`\boldsymbol\pi_u` (the centred,
    rating-weighted mean of the rated items' unit vectors, see
    :func:`recbook.content.user_profiles`) and the item's vector: a score in
    :math:`[-1, 1]` for ranking, not a rating (not clipped).

    **Catalogue and cold items.** The model's catalogue ``item_ids_`` is the
    training items (in order of first appearance, as for every recbook model)
    *followed by every item of* ``item_features`` *that has no training
    rating*. So :meth:`predict`, :meth:`score_items`, :meth:`recommend` and
    :func:`recbook.evaluate.evaluate_topk` score and recommend items nobody has
    rated: that is the point of content-based filtering. ``n_train_items_``
    counts the rated ones (the first columns).

    **Fallbacks** (the package's unknown-id policy). A user unknown at
    training time gets the item's training mean rating if the item was rated,
    else the global mean :math:`\mu` (profile mode: score 0). An item with no
    feature vector and no rating gets the user's mean :math:`\bar r_u`, or
    :math:`\mu` for an unknown user (profile mode: 0).

    Parameters
    ----------
    item_features : FeatureMatrix, DataFrame or (ids, matrix)
        One vector per item, indexed by item id (dense or sparse); it must
        cover every training item and may cover more (the cold items).
    k : int
        Neighbours :math:`k` (a positive integer).
    sim : {"cosine", "pearson", "jaccard"}
        Similarity of feature vectors. Pearson densifies sparse features.
    mode : {"knn", "profile"}
        Rating prediction by neighbours, or profile-cosine ranking scores.
    min_k : int
        Least number of positive neighbours for a neighbour estimate.

    Attributes
    ----------
    n_train_items_ : int
        Items with a training rating (the first ``n_train_items_`` of ``item_ids_``).
    user_mean_ : numpy.ndarray
        :math:`\bar r_u` per internal user.
    item_mean_ : numpy.ndarray
        Mean training rating per rated item (fallback for unknown users).

    References
    ----------
    M. J. Pazzani and D. Billsus, "Content-based recommendation systems", in
    *The Adaptive Web*, 2007; P. Lops, M. de Gemmis and G. Semeraro,
    "Content-based recommender systems: state of the art and trends", 2011;
    A. I. Schein et al., "Methods and metrics for cold-start
    recommendations", SIGIR 2002.

    Examples
    --------
    >>> import pandas as pd
    >>> feats = pd.DataFrame({"comedy": [1, 1, 0, 1], "drama": [0, 1, 1, 0]}, index=[10, 20, 30, 40])
    >>> train = pd.DataFrame({"user": [1, 1, 1], "item": [10, 20, 30], "rating": [5.0, 3.0, 1.0]})
    >>> model = ContentKNN(feats, k=2).fit(train)
    >>> [round(float(x), 4) for x in model.predict([1], [40])]  # item 40 has no rating
    [4.1716]
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "item_features": [FEATURES],
        "k": [Integer(min=1)],
        "sim": [Options(*METRICS)],
        "mode": [Options("knn", "profile")],
        "min_k": [Integer(min=1)],
    }

    def __init__(
        self,
        item_features: Any,
        k: int = 40,
        sim: str = "cosine",
        mode: str = "knn",
        min_k: int = 1,
    ) -> None:
        self.item_features = item_features
        self.k = k
        self.sim = sim
        self.mode = mode
        self.min_k = min_k

    @classmethod
    def _example(cls, data: Any) -> "ContentKNN":
        from recbook.content.features import genre_features

        return cls(genre_features(data.items), k=10)

    def _predicts_ratings(self) -> bool:
        return self.mode != "profile"  # profile mode returns cosine scores, not ratings

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        if self.mode == "profile" and self.sim == "jaccard":
            raise ValueError("mode='profile' needs sim='cosine' or 'pearson' (a profile is not a set)")

    def _extra_items(self, frame: pd.DataFrame) -> pd.Index:
        self._features = as_feature_matrix(self.item_features, "item_features")
        return _items_without_ratings(self._features, frame)

    def _setup_users(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        last = pd.DataFrame({"u": u, "i": i, "r": r}).drop_duplicates(["u", "i"], keep="last")
        last = last.sort_values("u", kind="stable")
        uu = last["u"].to_numpy()
        self._nbr_items = last["i"].to_numpy()
        self._nbr_ratings = last["r"].to_numpy(dtype=np.float64)
        counts = np.bincount(uu, minlength=self.n_users_)
        self._indptr = np.concatenate([[0], np.cumsum(counts)])
        self.user_mean_ = np.bincount(uu, self._nbr_ratings, self.n_users_) / np.maximum(counts, 1)
        n_i = np.bincount(i, minlength=self.n_train_items_)
        self.item_mean_ = np.bincount(i, r, self.n_train_items_) / np.maximum(n_i, 1)
        self._last = (uu, self._nbr_items, self._nbr_ratings)

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        features = self._features
        rows = _catalogue_rows(self, features)
        self._setup_users(u, i, r)
        mat = features.matrix[rows]
        if self.mode == "knn":
            self._x, self._counts = _prepare(mat, self.sim)
            self._full = self._full_similarity(self._x, self._counts, self.sim)
        else:
            w = _profile_weights(*self._last, self.n_users_, self.n_items_, centre=True)
            profiles = w @ _unit_rows_any(mat)
            both = sp.vstack([profiles, mat], format="csr") if sp.issparse(mat) else np.vstack([profiles, mat])
            prepared, _ = _prepare(both, self.sim)
            self._profiles = prepared[: self.n_users_]
            self._x = prepared[self.n_users_ :]
            self._counts = None

    # ------------------------------------------------------------ scoring
    def _neighbours(self, uu: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self._indptr[uu], self._indptr[uu + 1]
        return self._nbr_items[lo:hi], self._nbr_ratings[lo:hi] - self.user_mean_[uu]

    def _full_similarity(self, x: Any, counts: np.ndarray | None, sim: str) -> np.ndarray | None:
        """The whole item-item similarity matrix for small catalogues (else ``None``)."""
        if x.shape[0] > _DENSE_LIMIT:
            return None
        return _between(x, counts, x, counts, sim)

    def _similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if getattr(self, "_full", None) is not None:
            return self._full[np.ix_(a, b)]
        ca = None if self._counts is None else self._counts[a]
        cb = None if self._counts is None else self._counts[b]
        return _between(self._x[a], ca, self._x[b], cb, self.sim)

    def _chunk_offsets(self, targets: np.ndarray, nbrs: np.ndarray, dev: np.ndarray) -> np.ndarray:
        """Neighbour offsets for target items (internal indices) of one user."""
        return _aggregate(self._similarity(targets, nbrs), dev, int(self.k), int(self.min_k))

    def _user_estimates(self, uu: int, targets: np.ndarray, everything: bool = False) -> np.ndarray:
        """Estimates (or profile scores) of one known user for internal items ``targets``.

        ``everything=True`` says that ``targets`` is the whole catalogue in
        order, so profile mode can skip copying the item rows.
        """
        if self.mode == "profile":
            prod = self._profiles[uu] @ (self._x if everything else self._x[targets]).T
            return np.clip(np.asarray(prod.toarray() if sp.issparse(prod) else prod).ravel(), -1.0, 1.0)
        nbrs, dev = self._neighbours(uu)
        out = np.zeros(len(targets))
        if len(nbrs):
            step = max(1, _BLOCK // len(nbrs))
            for start in range(0, len(targets), step):
                sl = slice(start, start + step)
                out[sl] = self._chunk_offsets(targets[sl], nbrs, dev)
        return self.user_mean_[uu] + out

    def _fallback(self, i: np.ndarray) -> np.ndarray:
        """Estimates for an unknown user."""
        if self.mode == "profile":
            return np.zeros(len(i))
        rated = (i >= 0) & (i < self.n_train_items_)
        return np.where(rated, self.item_mean_[np.clip(i, 0, max(self.n_train_items_ - 1, 0))], self.global_mean_)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        est = np.empty(len(u))
        unknown_user = u < 0
        est[unknown_user] = self._fallback(i[unknown_user])
        no_item = (~unknown_user) & (i < 0)
        est[no_item] = 0.0 if self.mode == "profile" else self.user_mean_[u[no_item]]
        sel = np.flatnonzero((~unknown_user) & (i >= 0))
        if len(sel):
            order = sel[np.argsort(u[sel], kind="stable")]
            users, starts = np.unique(u[order], return_index=True)
            bounds = np.append(starts, len(order))
            for uu, a, b in zip(users, bounds[:-1], bounds[1:]):
                idx = order[a:b]
                est[idx] = self._user_estimates(int(uu), i[idx])
        return est

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        out = np.empty((len(u), self.n_items_))
        everything = np.arange(self.n_items_)
        for row, uu in enumerate(u):
            out[row] = self._fallback(everything) if uu < 0 else self._user_estimates(int(uu), everything, True)
        return out

    # ------------------------------------------------------------ explain
    def explain(self, user: Any, item: Any) -> pd.DataFrame:
        """The neighbours behind ``predict([user], [item])`` (rating mode).

        Returns
        -------
        pandas.DataFrame
            One row per neighbour in :math:`N_u^k(i)`, most similar first:
            ``item, similarity, rating, deviation`` (:math:`r_{uj} - \\bar r_u`)
            and ``weight`` (its share of the total similarity). Empty when the
            user is unknown or no neighbour has a positive similarity.
        """
        self._check_fitted()
        if self.mode != "knn":
            raise ValueError("explain() describes neighbour estimates: use mode='knn'")
        uu = int(self.user_index([user])[0])
        ii = int(self.item_index([item])[0])
        cols = ["item", "similarity", "rating", "deviation", "weight"]
        if uu < 0 or ii < 0:
            return pd.DataFrame(columns=cols)
        nbrs, dev = self._neighbours(uu)
        s = self._similarity(np.array([ii]), nbrs)[0]
        keep = np.flatnonzero(s > 0)
        keep = keep[np.argsort(-s[keep], kind="stable")][: int(self.k)]
        total = s[keep].sum()
        return pd.DataFrame(
            {
                "item": self.item_ids_[nbrs[keep]],
                "similarity": s[keep],
                "rating": dev[keep] + self.user_mean_[uu],
                "deviation": dev[keep],
                "weight": s[keep] / total if total > 0 else s[keep],
            },
            columns=cols,
        )

