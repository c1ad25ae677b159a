r"""Neighbourhood collaborative filtering: user-based and item-based k-NN.

:class:`KNN` reproduces Surprise's ``KNNBasic``, ``KNNWithMeans``,
``KNNWithZScore`` and ``KNNBaseline`` (``rule="basic"``, ``"with_means"``,
``"with_zscore"``, ``"baseline"``) prediction for prediction, and is
vectorised: test pairs are grouped by the entity whose raters are the
candidate neighbours, and each group is scored with a few array operations on
a block of the similarity matrix.

Notation (user-based; swap the roles of users and items for item-based):
to predict :math:`r_{ui}`, the candidates are the users :math:`v` who rated
:math:`i`, in the order they appear in the training data. :math:`N_i^k(u)`
is the set of the :math:`k` candidates most similar to :math:`u` (ties
broken in favour of the earlier candidate, as ``heapq.nlargest`` does),
**including** non-positive similarities; only the neighbours with
:math:`\mathrm{sim}(u, v) > 0` are then aggregated:

.. math::

    \hat r_{ui} = \beta_{ui} + \sigma_u\,
    \frac{\sum_{v \in N_i^k(u),\ \mathrm{sim}(u,v) > 0} \mathrm{sim}(u, v)\, z_{vi}}
         {\sum_{v \in N_i^k(u),\ \mathrm{sim}(u,v) > 0} \mathrm{sim}(u, v)}

=============  =====================  ==================  ======================================
rule           :math:`\beta_{ui}`     :math:`\sigma_u`    :math:`z_{vi}`
=============  =====================  ==================  ======================================
basic          0                      1                   :math:`r_{vi}`
with_means     :math:`\bar r_u`       1                   :math:`r_{vi} - \bar r_v`
with_zscore    :math:`\bar r_u`       :math:`\sigma_u`    :math:`(r_{vi} - \bar r_v)/\sigma_v`
baseline       :math:`b_{ui}`         1                   :math:`r_{vi} - b_{vi}`
=============  =====================  ==================  ======================================

with :math:`\bar r_u`, :math:`\sigma_u` the mean and population standard
deviation of the user's ratings (a user with :math:`\sigma_u = 0` uses the
standard deviation of all ratings) and :math:`b_{ui} = \mu + b_u + b_i` the
baseline of :class:`recbook.baselines.BaselineOnly`.

**When the neighbourhood is too small** (fewer than ``min_k`` positive
neighbours among the ``k`` kept), exactly as in Surprise:

* ``basic`` cannot predict and falls back to the global mean :math:`\mu`;
* the other rules drop the neighbour term and return :math:`\beta_{ui}`
  (the user's mean, or the baseline).

**Unknown users or items** (the documented fallback): ``basic``,
``with_means`` and ``with_zscore`` return the global mean :math:`\mu`;
``baseline`` returns the baseline restricted to what is known,
:math:`\mu + b_u` or :math:`\mu + b_i` (or :math:`\mu`). Predictions are
clipped to the training rating scale.

References
----------
* P. Resnick et al., "GroupLens: an open architecture for collaborative
  filtering of netnews", CSCW 1994.
* B. Sarwar et al., "Item-based collaborative filtering recommendation
  algorithms", WWW 2001.
* Y. Koren, "Factor in the neighbors: scalable and accurate
  collaborative filtering", ACM TKDD 4(1), 2010 (the baseline rule).
* N. Hug, "Surprise: a Python library for recommender systems", JOSS
  5(52), 2020 (``prediction_algorithms/knns.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recbook.base import Recommender, SurpriseNames, lookup, select_top
from recbook.cf import similarity as _similarity
from recbook.utils import Boolean, Integer, Options, Real, check_int

__all__ = ["KNN", "UserKNN", "ItemKNN", "TopNItemKNN", "RULES", "SIMILARITY_NAMES"]

#: Aggregation rules and the Surprise class each reproduces.
RULES = {
    "basic": "KNNBasic",
    "with_means": "KNNWithMeans",
    "with_zscore": "KNNWithZScore",
    "baseline": "KNNBaseline",
}
#: Similarity names accepted by :class:`KNN` (the last two are not in Surprise).
SIMILARITY_NAMES = ("cosine", "msd", "pearson", "pearson_baseline", "jaccard", "adjusted_cosine")


def select_neighbours(block: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` largest entries of each row, ties to the earlier column.

    Row by row this is the set ``heapq.nlargest(k, row)`` keeps (Surprise's
    choice): every entry above the ``k``-th largest value, plus the earliest
    entries equal to it until ``k`` are chosen. It is
    :func:`recbook.base.select_top`, the package's one tie rule, under the
    name chapter 3 uses.

    Parameters
    ----------
    block : numpy.ndarray, shape (m, n)
        Similarities of ``m`` targets to ``n`` candidates (candidate order
        matters for ties).
    k : int
        Neighbourhood size.

    Returns
    -------
    numpy.ndarray of bool, shape (m, n)
    """
    return select_top(block, k)


def _similarity_matrix(
    mat: sp.csr_matrix,
    sim_name: str,
    min_support: int,
    shrinkage: float,
    baseline: tuple[float, np.ndarray, np.ndarray] | None,
) -> np.ndarray:
    """The ``(n, n)`` similarity of the rows of ``mat`` for a name of :data:`SIMILARITY_NAMES`."""
    if sim_name == "pearson_baseline":
        return _similarity.pearson_baseline(mat, min_support, shrinkage, baseline=baseline)
    return _similarity.SIMILARITIES[sim_name](mat, min_support)


def _baseline_biases(model: Recommender, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """User and item biases of :class:`~recbook.baselines.BaselineOnly` on every training row."""
    from recbook.baselines import BaselineOnly

    # fitted on every training row, as Surprise's baseline_als does
    bl = BaselineOnly().fit(pd.DataFrame({"user": u, "item": i, "rating": r}))
    bu = np.zeros(model.n_users_)
    bi = np.zeros(model.n_items_)
    bu[bl.user_ids_] = bl.user_bias_
    bi[bl.item_ids_] = bl.item_bias_
    return bu, bi


#: The hyper-parameters of the neighbourhood models, declared once.
_KNN_CONSTRAINTS: dict[str, list] = {
    "k": [Integer(min=1)],
    "min_k": [Integer(min=0)],
    "sim": [Options(*SIMILARITY_NAMES)],
    "min_support": [Integer(min=0)],
    "shrinkage": [Real(min=0)],
    "rule": [Options(*RULES)],
}


class KNN(SurpriseNames, Recommender):
    r"""k-nearest-neighbour rating prediction, user- or item-based (Surprise-exact).

    See the module docstring for the prediction rules and fallbacks.

    Parameters
    ----------
    k : int, default 40
        Maximum number of neighbours kept per prediction.
    min_k : int, default 1
        Minimum number of neighbours with positive similarity; below it the
        prediction falls back (see the module docstring). At most ``k``.
    sim : str, default "msd"
        ``"cosine"``, ``"msd"``, ``"pearson"``, ``"pearson_baseline"``
        (Surprise's four), or the recbook extras ``"jaccard"`` and
        ``"adjusted_cosine"`` (not in Surprise); see
        :mod:`recbook.cf.similarity`.
    user_based : bool, default True
        Compare users (True) or items (False).
    min_support : int, default 1
        Pairs with fewer common items (users) get similarity 0.
    shrinkage : float, default 100
        Shrinkage of ``pearson_baseline`` (ignored by the other measures).
    rule : str, default "basic"
        ``"basic"``, ``"with_means"``, ``"with_zscore"`` or ``"baseline"``.

    Attributes
    ----------
    sim_ : numpy.ndarray
        The ``(n, n)`` similarity matrix between users (user-based) or items,
        indexed by internal index (``user_ids_`` / ``item_ids_``).
    means_, sigmas_ : numpy.ndarray
        Mean and (population) standard deviation of each user's (item's)
        ratings; a zero deviation is replaced by that of all ratings.
    user_bias_, item_bias_ : numpy.ndarray
        Baseline biases, when ``rule="baseline"`` or ``sim="pearson_baseline"``
        (Surprise's ``bu``, ``bi``: ``bu_``, ``bi_`` are aliases).

    Notes
    -----
    A duplicated ``(user, item)`` pair keeps its last rating for the
    similarities and neighbourhoods (Surprise would use both copies).
    Where Surprise divides by zero (``basic`` with ``min_k=0`` and no
    positive neighbour; a zero norm in ``cosine``/``pearson_baseline``),
    recbook returns the fallback or a zero similarity instead of raising.

    Examples
    --------
    >>> from recbook.cf import KNN
    >>> model = KNN(k=40, sim="pearson_baseline", rule="baseline").fit(train)
    >>> model.predict([196], [242])
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {**_KNN_CONSTRAINTS, "user_based": [Boolean()]}

    def __init__(
        self,
        k: int = 40,
        min_k: int = 1,
        sim: str = "msd",
        user_based: bool = True,
        min_support: int = 1,
        shrinkage: float = 100,
        rule: str = "basic",
    ) -> None:
        self.k = k
        self.min_k = min_k
        self.sim = sim
        self.user_based = user_based
        self.min_support = min_support
        self.shrinkage = shrinkage
        self.rule = rule

    # ----------------------------------------------------------- checks
    def _check_params(self) -> None:
        if self.min_k > self.k:
            raise ValueError(
                f"min_k={self.min_k!r} exceeds k={self.k!r}: at most k neighbours are kept, so every "
                "prediction would fall back; choose min_k <= k"
            )

    # -------------------------------------------------------------- fit
    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        ub = bool(self.user_based)
        sim_name = self.sim
        mu = self.global_mean_

        if self.rule == "baseline" or sim_name == "pearson_baseline":
            self.user_bias_, self.item_bias_ = _baseline_biases(self, u, i, r)

        # one rating per pair (the last), rows kept in training order
        last = pd.DataFrame({"u": u, "i": i, "r": r}).drop_duplicates(["u", "i"], keep="last")
        u_d, i_d, r_d = (last[c].to_numpy() for c in ("u", "i", "r"))
        x, y = (u_d, i_d) if ub else (i_d, u_d)
        n_x, n_y = (self.n_users_, self.n_items_) if ub else (self.n_items_, self.n_users_)
        mat = sp.csr_matrix((r_d, (x, y)), shape=(n_x, n_y))

        baseline = None
        if sim_name == "pearson_baseline":
            baseline = (mu, *((self.user_bias_, self.item_bias_) if ub else (self.item_bias_, self.user_bias_)))
        self.sim_ = self._neighbour_similarity(mat, baseline, u, i, r)

        # per-entity mean and population std (two passes, so a constant row has std exactly 0)
        count = np.bincount(x, minlength=n_x).astype(np.float64)
        self.means_ = np.bincount(x, r_d, n_x) / np.maximum(count, 1)
        var = np.bincount(x, (r_d - self.means_[x]) ** 2, n_x) / np.maximum(count, 1)
        sig = np.sqrt(var)
        overall = float(np.std(r))
        self.sigmas_ = np.where(sig == 0.0, overall, sig)

        # candidate lists: for each y, the x that rated it, in training order
        order = np.argsort(y, kind="stable")
        self._ptr = np.concatenate([[0], np.cumsum(np.bincount(y, minlength=n_y))]).astype(np.int64)
        cx, cy, cr = x[order], y[order], r_d[order]
        self._cand = cx
        if self.rule == "basic":
            val = cr
        elif self.rule == "with_means":
            val = cr - self.means_[cx]
        elif self.rule == "with_zscore":
            val = (cr - self.means_[cx]) / self.sigmas_[cx]
        else:
            bx, by = (self.user_bias_, self.item_bias_) if ub else (self.item_bias_, self.user_bias_)
            val = cr - ((mu + bx[cx]) + by[cy])
        self._val = np.ascontiguousarray(val, dtype=np.float64)

    def _neighbour_similarity(
        self, mat: sp.csr_matrix, baseline: Any, u: np.ndarray, i: np.ndarray, r: np.ndarray
    ) -> np.ndarray:
        """The ``(n, n)`` similarity of the rows of ``mat`` (users or items); a subclass may replace it."""
        return _similarity_matrix(mat, self.sim, int(self.min_support), float(self.shrinkage), baseline)

    # ---------------------------------------------------------- kernels
    def _aggregate(self, xs: np.ndarray | None, y: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour term and validity for targets ``xs`` against candidate list ``y``.

        ``xs=None`` means every user (user-based) or item (item-based).
        Returns ``(term, ok)``: ``term = sum(w z) / sum(w)`` over the kept
        positive neighbours, and ``ok`` where there are at least ``min_k`` of
        them (and a positive weight sum).
        """
        lo, hi = self._ptr[y], self._ptr[y + 1]
        cand = self._cand[lo:hi]
        sim = self.sim_  # symmetric, so sim[xs][:, cand] == sim[cand][:, xs].T
        if xs is None:
            block = np.ascontiguousarray(sim[cand].T)
        elif len(xs) <= len(cand):
            block = sim[xs][:, cand]
        else:
            block = np.ascontiguousarray(sim[cand][:, xs].T)
        keep = select_neighbours(block, int(self.k))
        keep &= block > 0
        np.multiply(block, keep, out=block)  # the weights: kept positive similarities
        den = block.sum(axis=1)
        num = block @ self._val[lo:hi]
        ok = (keep.sum(axis=1) >= int(self.min_k)) & (den > 0)
        term = np.zeros(len(den))
        np.divide(num, den, out=term, where=ok)
        return term, ok

    def _base(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """The estimate without neighbours (and the fallback), per pair."""
        if self.rule == "baseline":
            return self.global_mean_ + lookup(self.user_bias_, u) + lookup(self.item_bias_, i)
        est = np.full(len(u), self.global_mean_)
        if self.rule in ("with_means", "with_zscore"):
            x = u if self.user_based else i
            known = (u >= 0) & (i >= 0)
            est[known] = self.means_[x[known]]
        return est

    def _combine(self, base: np.ndarray, xs: np.ndarray, term: np.ndarray, ok: np.ndarray) -> np.ndarray:
        if self.rule == "basic":
            return np.where(ok, term, self.global_mean_)
        if self.rule == "with_zscore":
            return np.where(ok, base + term * self.sigmas_[xs], base)
        return np.where(ok, base + term, base)

    # ---------------------------------------------------------- predict
    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        est = self._base(u, i)
        known = np.flatnonzero((u >= 0) & (i >= 0))
        if len(known) == 0:
            return est
        x, y = (u, i) if self.user_based else (i, u)
        order = known[np.argsort(y[known], kind="stable")]
        ys = y[order]
        cuts = np.flatnonzero(np.diff(ys)) + 1
        for group in np.split(order, cuts):
            xs = x[group]
            term, ok = self._aggregate(xs, int(y[group[0]]))
            est[group] = self._combine(est[group], xs, term, ok)
        return est

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        """Unclipped estimates of every item for each user (for top-K lists)."""
        u = np.asarray(u, dtype=np.int64)
        n_items = self.n_items_
        all_items = np.arange(n_items, dtype=np.int64)
        out = np.empty((len(u), n_items))
        known = np.flatnonzero(u >= 0)
        for row in np.flatnonzero(u < 0):  # unknown user: the fallback for every item
            out[row] = self._base(np.full(n_items, -1), all_items)
        if len(known) == 0:
            return out
        ku = u[known]
        if self.user_based:
            base = self._base(np.repeat(ku, n_items), np.tile(all_items, len(ku))).reshape(len(ku), n_items)
            for item in range(n_items):
                term, ok = self._aggregate(ku, item)
                out[known, item] = self._combine(base[:, item], ku, term, ok)
        else:
            for row, user in zip(known, ku):
                base = self._base(np.full(n_items, user), all_items)
                term, ok = self._aggregate(None, int(user))
                out[row] = self._combine(base, all_items, term, ok)
        return out

    # -------------------------------------------------------- neighbours
    def nearest_neighbors(self, entity: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` most similar users (user-based) or items (item-based) to one entity.

        Ties are broken by the lower internal index (Surprise's
        ``get_neighbors``); the entity itself is excluded.

        Parameters
        ----------
        entity : raw id
            A training user id (user-based) or item id (item-based).
        n : int, default 10

        Returns
        -------
        pandas.DataFrame
            Columns ``neighbor`` (raw id) and ``similarity``, most similar first.
        """
        self._check_fitted()
        n = check_int("n", n, 1)
        ids = self.user_ids_ if self.user_based else self.item_ids_
        idx = (self.user_index if self.user_based else self.item_index)([entity])[0]
        if idx < 0:
            side = "user" if self.user_based else "item"
            raise ValueError(f"entity={entity!r} is not a {side} of the training data")
        row = self.sim_[idx].copy()
        others = np.delete(np.arange(len(row)), idx)
        vals = row[others]
        order = np.argsort(-vals, kind="stable")[:n]
        return pd.DataFrame({"neighbor": ids[others[order]], "similarity": vals[order]})


class _OneSidedKNN(KNN):
    """:class:`KNN` whose side (users or items) is fixed by the class, not a parameter."""

    _parameter_constraints: ClassVar[dict[str, list]] = dict(_KNN_CONSTRAINTS)
    user_based: ClassVar[bool]

    def __init__(
        self,
        k: int = 40,
        min_k: int = 1,
        sim: str = "msd",
        min_support: int = 1,
        shrinkage: float = 100,
        rule: str = "basic",
    ) -> None:
        self.k = k
        self.min_k = min_k
        self.sim = sim
        self.min_support = min_support
        self.shrinkage = shrinkage
        self.rule = rule


class UserKNN(_OneSidedKNN):
    """:class:`KNN` with ``user_based=True``: neighbours are similar users."""

    user_based: ClassVar[bool] = True


class ItemKNN(_OneSidedKNN):
    """:class:`KNN` with ``user_based=False``: neighbours are similar items."""

    user_based: ClassVar[bool] = False


class TopNItemKNN(Recommender):
    r"""Item-based top-N recommendation: score an item by the *sum* of its similarities to the user's items.

    The rating rules of :class:`KNN` divide by the similarity mass of the
    neighbourhood, so an item backed by one similar neighbour can reach the
    top of a list. A top-N recommender keeps that mass as the score
    (Deshpande & Karypis 2004; the "summed score" of Sarwar et al. 2001):

    .. math::

        s_{ui} = \sum_{j \in N_u^k(i)} \max\bigl(\mathrm{sim}(i, j), 0\bigr),

    where :math:`N_u^k(i)` is the set of the :math:`k` items most similar to
    :math:`i` among the items :math:`I_u \setminus \{i\}` that user :math:`u`
    interacted with (all of them when ``k`` is ``None``), chosen exactly as
    :class:`ItemKNN` chooses neighbours: non-positive similarities may be
    kept but add nothing, and ties go to the item that appears first in the
    training data. With ``k=None`` the scores of every item are one product,
    :math:`s_u = x_u S^+`, with :math:`x_u` the user's 0/1 row and
    :math:`S^+` the similarity matrix with its negative entries and its
    diagonal set to 0. With :math:`k`, :math:`s_{ui}` is the denominator of
    the ``basic`` rule of :class:`ItemKNN`: the amount of evidence, not the
    average rating.

    The item-item similarity is any of :data:`SIMILARITY_NAMES`, computed as
    :class:`ItemKNN` computes it from the training ratings (the ``rating``
    column; 1.0 when absent). ``"jaccard"`` ignores the rating values and is
    the natural choice for implicit feedback. The measures computed over
    the common raters only can give similarity 1 to two items that share a
    single rater (``"cosine"`` always, ``"msd"`` when the two ratings are
    equal), which a sum rewards: raise ``min_support`` with them.

    This is a ranking model: ``predict`` returns the unclipped score
    :math:`s_{ui}` (0 for a pair with an unknown item), and an unknown user
    gets the popularity of each item (its number of training users), as the
    other ranking models of :mod:`recbook.cf` do.

    Parameters
    ----------
    k : int or None, default None
        Neighbours of the target item among the user's items; ``None`` sums
        over all of them.
    sim : str, default "jaccard"
        One of :data:`SIMILARITY_NAMES` (see :mod:`recbook.cf.similarity`).
    min_support : int, default 1
        Item pairs with fewer common users get similarity 0.
    shrinkage : float, default 100
        Shrinkage of ``"pearson_baseline"`` (ignored by the other measures).

    Attributes
    ----------
    sim_ : numpy.ndarray
        ``(n_items_, n_items_)`` item-item similarities, diagonal 0.
    popularity_ : numpy.ndarray
        Number of training users of each item (the unknown-user fallback).

    References
    ----------
    M. Deshpande and G. Karypis, "Item-based top-N recommendation
    algorithms", ACM TOIS 22(1), 2004.
    B. Sarwar et al., "Item-based collaborative filtering recommendation
    algorithms", WWW 2001.

    Examples
    --------
    >>> from recbook.cf import TopNItemKNN
    >>> TopNItemKNN(sim="jaccard").fit(train).recommend([196], k=10)
    """

    _rating_model = False
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "k": [None, Integer(min=1)],
        "sim": [Options(*SIMILARITY_NAMES)],
        "min_support": [Integer(min=0)],
        "shrinkage": [Real(min=0)],
    }

    def __init__(self, k: int | None = None, sim: str = "jaccard", min_support: int = 1, shrinkage: float = 100) -> None:
        self.k = k
        self.sim = sim
        self.min_support = min_support
        self.shrinkage = shrinkage

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        sim_name = self.sim
        items_by_users = self.train_.T.tocsr()  # last rating of each pair, rows = items
        baseline = None
        if sim_name == "pearson_baseline":
            bu, bi = _baseline_biases(self, u, i, r)
            baseline = (self.global_mean_, bi, bu)
        sim = _similarity_matrix(items_by_users, sim_name, int(self.min_support), float(self.shrinkage), baseline)
        np.fill_diagonal(sim, 0.0)  # an item is not its own neighbour
        self.sim_ = sim
        self._sim_pos = np.maximum(sim, 0.0)
        seen = self.train_.tocsr(copy=True)
        seen.data = np.ones_like(seen.data)
        seen.sort_indices()
        self._seen = seen
        self.popularity_ = np.bincount(seen.indices, minlength=self.n_items_).astype(np.float64)

    def _user_scores(self, user: int) -> np.ndarray:
        """:math:`s_{ui}` of every item for one known user."""
        items = self._seen.indices[self._seen.indptr[user] : self._seen.indptr[user + 1]]
        if self.k is None or len(items) <= self.k:
            return np.asarray(self._seen[user] @ self._sim_pos).ravel()
        block = self.sim_[:, items]
        keep = select_neighbours(block, int(self.k))
        keep &= block > 0
        return (block * keep).sum(axis=1)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.int64)
        out = np.empty((len(u), self.n_items_))
        known = u >= 0
        out[~known] = self.popularity_
        if self.k is None:
            if known.any():
                out[known] = np.asarray(self._seen[u[known]] @ self._sim_pos)
        else:
            for row in np.flatnonzero(known):
                out[row] = self._user_scores(int(u[row]))
        return out

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        out = np.zeros(len(u))
        ki = i >= 0
        cold = ki & (u < 0)
        out[cold] = self.popularity_[i[cold]]
        both = np.flatnonzero(ki & (u >= 0))
        for user in np.unique(u[both]):
            rows = both[u[both] == user]
            out[rows] = self._user_scores(int(user))[i[rows]]
        return out
