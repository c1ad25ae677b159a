"""Baseline recommenders: the numbers every real model must beat.

Rating models (:class:`GlobalMean`, :class:`UserMean`, :class:`ItemMean`,
:class:`BaselineOnly`, :class:`NormalPredictor`) clip their predictions to
the training rating scale; ranking models (:class:`Popularity`,
:class:`DemographicPopularity`, :class:`RandomRecommender`) return unclipped
scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recbook.base import Recommender, SurpriseNames, lookup
from recbook.utils import InstanceOf, Integer, Options, Real

__all__ = [
    "GlobalMean",
    "UserMean",
    "ItemMean",
    "BaselineOnly",
    "NormalPredictor",
    "Popularity",
    "DemographicPopularity",
    "RandomRecommender",
]


class GlobalMean(Recommender):
    r"""Predict the global mean rating :math:`\hat r_{ui} = \mu` for every pair."""

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        pass

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return np.full(len(u), self.global_mean_)


class UserMean(Recommender):
    r"""Predict the user's mean rating :math:`\hat r_{ui} = \bar r_u`.

    Unknown users fall back to :math:`\mu`.
    """

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        self.user_mean_ = np.bincount(u, r, self.n_users_) / np.bincount(u, minlength=self.n_users_)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return lookup(self.user_mean_, u, self.global_mean_)


class ItemMean(Recommender):
    r"""Predict the item's mean rating :math:`\hat r_{ui} = \bar r_i`.

    Unknown items fall back to :math:`\mu`.
    """

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        self.item_mean_ = np.bincount(i, r, self.n_items_) / np.bincount(i, minlength=self.n_items_)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return lookup(self.item_mean_, i, self.global_mean_)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        return np.tile(self.item_mean_, (len(u), 1))


class BaselineOnly(SurpriseNames, Recommender):
    r"""Baseline estimate :math:`\hat r_{ui} = \mu + b_u + b_i` (Koren 2010).

    The biases minimise the regularised squared error

    .. math::

        \sum_{(u,i) \in R} (r_{ui} - \mu - b_u - b_i)^2
        + \lambda_u \sum_u b_u^2 + \lambda_i \sum_i b_i^2 .

    ``method="als"`` (the default, as in Surprise) alternates the two exact
    coordinate updates, items first, starting from zero:

    .. math::

        b_i \leftarrow \frac{\sum_{u \in U_i} (r_{ui} - \mu - b_u)}{\lambda_i + |U_i|},
        \qquad
        b_u \leftarrow \frac{\sum_{i \in I_u} (r_{ui} - \mu - b_i)}{\lambda_u + |I_u|},

    for ``n_epochs`` rounds. ``method="sgd"`` instead visits the ratings user
    by user and takes gradient steps
    :math:`b_u \leftarrow b_u + \gamma (e_{ui} - \lambda b_u)` (and the same
    for :math:`b_i`), as Surprise's ``baseline_sgd`` does.

    Unknown users or items contribute a zero bias (the estimate restricted to
    what is known), exactly like Surprise's ``BaselineOnly``.

    Parameters
    ----------
    method : {"als", "sgd"}
    n_epochs : int, optional
        Default 10 for ALS, 20 for SGD (Surprise's defaults).
    reg_u, reg_i : float
        ALS regularisation :math:`\lambda_u = 15`, :math:`\lambda_i = 10`.
    reg, learning_rate : float
        SGD regularisation (0.02) and step size (0.005).

    Attributes
    ----------
    user_bias_, item_bias_ : numpy.ndarray
        :math:`b_u` and :math:`b_i` (Surprise's ``bu``, ``bi``: ``bu_``,
        ``bi_`` are aliases).

    References
    ----------
    Y. Koren, "Factor in the neighbors: scalable and accurate collaborative
    filtering", ACM TKDD 4(1), 2010.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "method": [Options("als", "sgd")],
        "n_epochs": [None, Integer(min=1)],
        "reg_u": [Real(min=0)],
        "reg_i": [Real(min=0)],
        "reg": [Real(min=0)],
        "learning_rate": [Real(min=0, min_open=True)],
    }

    def __init__(
        self,
        method: str = "als",
        n_epochs: int | None = None,
        reg_u: float = 15.0,
        reg_i: float = 10.0,
        reg: float = 0.02,
        learning_rate: float = 0.005,
    ) -> None:
        self.method = method
        self.n_epochs = n_epochs
        self.reg_u = reg_u
        self.reg_i = reg_i
        self.reg = reg
        self.learning_rate = learning_rate

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        default_epochs = 10 if self.method == "als" else 20
        n_epochs = int(default_epochs if self.n_epochs is None else self.n_epochs)
        mu = self.global_mean_
        bu = np.zeros(self.n_users_)
        bi = np.zeros(self.n_items_)
        if self.method == "als":
            reg_u, reg_i = float(self.reg_u), float(self.reg_i)
            n_u = np.bincount(u, minlength=self.n_users_)
            n_i = np.bincount(i, minlength=self.n_items_)
            for _ in range(n_epochs):
                bi = np.bincount(i, r - mu - bu[u], self.n_items_) / (reg_i + n_i)
                bu = np.bincount(u, r - mu - bi[i], self.n_users_) / (reg_u + n_u)
        else:
            reg, lr = float(self.reg), float(self.learning_rate)
            order = np.argsort(u, kind="stable")  # user by user, each in training order
            uu, ii, rr = u[order].tolist(), i[order].tolist(), r[order].tolist()
            bu_l, bi_l = bu.tolist(), bi.tolist()
            for _ in range(n_epochs):
                for a, b, x in zip(uu, ii, rr):
                    err = x - (mu + bu_l[a] + bi_l[b])
                    bu_l[a] += lr * (err - reg * bu_l[a])
                    bi_l[b] += lr * (err - reg * bi_l[b])
            bu, bi = np.array(bu_l), np.array(bi_l)
        self.user_bias_ = bu
        self.item_bias_ = bi

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self.global_mean_ + lookup(self.user_bias_, u) + lookup(self.item_bias_, i)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        return self.global_mean_ + lookup(self.user_bias_, u)[:, None] + self.item_bias_[None, :]


class NormalPredictor(Recommender):
    r"""Random ratings drawn from :math:`\mathcal N(\hat\mu, \hat\sigma^2)`.

    :math:`\hat\mu` and :math:`\hat\sigma` are the maximum-likelihood mean and
    standard deviation of the training ratings (Surprise's
    ``NormalPredictor``). Each call to :meth:`predict` draws from a fresh
    generator seeded with ``seed``, so the same call gives the same numbers.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {"seed": [Integer(min=0)]}

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        self.sigma_ = float(np.sqrt(np.mean((r - self.global_mean_) ** 2)))

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return rng.normal(self.global_mean_, self.sigma_, size=len(u))


class Popularity(Recommender):
    r"""Rank items by how many training interactions they have.

    The score of item :math:`i` is :math:`|U_i|` for every user; an unknown
    item scores 0. With ``exclude_seen`` in :meth:`recommend` this is the
    classic "most popular" top-K baseline, surprisingly hard to beat on
    MovieLens.
    """

    _rating_model = False

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        self.item_count_ = np.bincount(i, minlength=self.n_items_).astype(np.float64)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return lookup(self.item_count_, i)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        return np.tile(self.item_count_, (len(u), 1))


class DemographicPopularity(Recommender):
    r"""Rank items by their popularity among the users of the same demographic group.

    The users are partitioned into groups by one or more columns of a user
    table (``by``, e.g. an age band, a gender, an occupation). With
    :math:`\mathcal{U}_g` the training users of group :math:`g = g(u)`, the
    score of item :math:`i` for user :math:`u` is the share of the group who
    interacted with :math:`i`, shrunk towards the share of all users:

    .. math::

        s_{ui} = \frac{\lvert U_i \cap \mathcal{U}_g \rvert + \lambda\, \lvert U_i \rvert / m}
                      {\lvert \mathcal{U}_g \rvert + \lambda},

    where :math:`U_i` are the training users of :math:`i`, :math:`m` the
    number of training users and :math:`\lambda` = ``shrinkage`` a number of
    pseudo-users who behave like the whole population. :math:`\lambda = 0`
    gives the group's own popularity; :math:`\lambda \to \infty` gives the
    global :class:`Popularity` ranking. This is the *demographic filtering* of
    Pazzani (1999): it needs no rating history from the user, only the
    answers to a sign-up questionnaire, so it suits new users.

    **Fallback.** A user unknown to the model, or without a row (or with a
    missing value) in ``users``, gets the global share :math:`\lvert U_i
    \rvert / m`, i.e. the global popularity ranking; an unknown item scores 0.
    Repeated (user, item) pairs count once.

    Parameters
    ----------
    users : pandas.DataFrame
        Side data: one row per user, indexed by the raw user id, with the
        columns named in ``by`` (for MovieLens 100K, ``Dataset.users`` plus
        any derived column such as an age band). It is data rather than a
        hyper-parameter; it is a constructor argument so that the model keeps
        the one estimator shape.
    by : str or sequence of str, default "gender"
        The column(s) whose values define a group; several columns define
        their combinations (``("age_band", "gender")``).
    shrinkage : float, default 0.0
        :math:`\lambda \ge 0`, in pseudo-users.

    Raises
    ------
    TypeError
        ``users`` is not a DataFrame, or ``by`` is not a column name or a
        sequence of names (raised when :meth:`fit` starts).
    ValueError
        ``by`` names a missing column, its index has duplicated user ids, or
        ``shrinkage`` is negative or not finite (raised when :meth:`fit` starts).

    References
    ----------
    M. J. Pazzani, "A framework for collaborative, content-based and
    demographic filtering", Artificial Intelligence Review 13, 1999.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user": [1, 2, 3, 3], "item": ["a", "b", "b", "c"]})
    >>> users = pd.DataFrame({"sex": ["F", "M", "M"]}, index=[1, 2, 3])
    >>> m = DemographicPopularity(users, by="sex").fit(train)
    >>> m.recommend([1, 2], k=1, exclude_seen=False)["item"].tolist()
    ['a', 'b']
    """

    _rating_model = False
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "users": [InstanceOf(pd.DataFrame, what="a pandas DataFrame indexed by user id")],
        "by": [InstanceOf(str, list, tuple, what="a column name or a sequence of column names")],
        "shrinkage": [Real(min=0)],
    }

    def __init__(
        self, users: pd.DataFrame | None = None, by: str | Sequence[str] = "gender", shrinkage: float = 0.0
    ) -> None:
        self.users = users
        self.by = by
        self.shrinkage = shrinkage

    @classmethod
    def _example(cls, data: Any) -> "DemographicPopularity":
        ids = pd.unique(data.ratings["user"])
        return cls(pd.DataFrame({"group": [f"g{k % 3}" for k in range(len(ids))]}, index=ids), by="group")

    def _columns(self) -> list[str]:
        return [self.by] if isinstance(self.by, str) else list(self.by)

    def _check_params(self) -> None:
        cols = self._columns()
        if not cols or not all(isinstance(c, str) for c in cols):
            raise TypeError(f"by must be a column name or a non-empty sequence of column names, got {self.by!r}")
        missing = [c for c in cols if c not in self.users.columns]
        if missing:
            raise ValueError(f"by names column(s) {missing} that users lacks (columns: {list(self.users.columns)})")
        if not self.users.index.is_unique:
            raise ValueError("users has duplicated user ids in its index: one row per user")

    def _group_labels(self) -> pd.Series:
        """One label per row of ``users`` (NaN where a ``by`` value is missing)."""
        cols = self._columns()
        table = self.users[cols]
        labels = table[cols[0]].map(str).astype(object)
        for col in cols[1:]:
            labels = labels + " | " + table[col].map(str).astype(object)
        return labels.where(table.notna().all(axis=1))

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        lam = float(self.shrinkage)
        labels = self._group_labels().reindex(self.user_ids_)
        codes, groups = pd.factorize(labels, sort=False)  # -1: no group
        pairs = np.unique(np.stack([u, i], axis=1), axis=0)  # each (user, item) once
        pu, pi = pairs[:, 0], pairs[:, 1]
        n_groups = len(groups)
        g = codes[pu]
        ok = g >= 0
        counts = np.zeros((n_groups, self.n_items_))
        np.add.at(counts, (g[ok], pi[ok]), 1.0)
        size = np.bincount(codes[codes >= 0], minlength=n_groups).astype(np.float64)
        self.groups_ = np.asarray(groups)
        self.user_group_ = codes.astype(np.int64)
        self.global_share_ = np.bincount(pi, minlength=self.n_items_) / self.n_users_
        self.group_share_ = (counts + lam * self.global_share_) / (size[:, None] + lam)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        g = lookup(self.user_group_, u, -1)
        out = np.tile(self.global_share_, (len(u), 1))
        ok = g >= 0
        out[ok] = self.group_share_[g[ok]]
        return out

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        g = lookup(self.user_group_, u, -1)
        ii = np.maximum(i, 0)
        est = np.where(g >= 0, self.group_share_[np.maximum(g, 0), ii], self.global_share_[ii])
        return np.where(i >= 0, est, 0.0)


class RandomRecommender(Recommender):
    """Score every (user, item) pair with a reproducible uniform random number.

    The score of internal pair ``(u, i)`` is the ``i``-th draw of a generator
    seeded with ``(seed, u)``, so :meth:`predict` and :meth:`recommend` agree
    and the same seed always gives the same lists. Unknown users or items
    score 0. The floor every ranking model must clear.
    """

    _rating_model = False
    _parameter_constraints: ClassVar[dict[str, list]] = {"seed": [Integer(min=0)]}

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        pass

    def _row(self, u: int) -> np.ndarray:
        return np.random.default_rng([int(self.seed), int(u)]).random(self.n_items_)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        out = np.zeros((len(u), self.n_items_))
        for row, uu in enumerate(u):
            if uu >= 0:
                out[row] = self._row(uu)
        return out

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        out = np.zeros(len(u))
        ok = (u >= 0) & (i >= 0)
        for uu in np.unique(u[ok]):
            sel = ok & (u == uu)
            out[sel] = self._row(uu)[i[sel]]
        return out
