"""The cascade hybrid: the first model picks candidates, the second re-ranks them."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from recbook.base import Recommender, _as_1d, top_k
from recbook.hybrid._base import _Hybrid
from recbook.utils import InstanceOf, Integer

__all__ = ["CascadeHybrid"]


class CascadeHybrid(_Hybrid):
    r"""Cascade: the first model proposes candidates, the second re-ranks them.

    For user :math:`u`, let :math:`C_u` be the ``n_candidates`` unseen items
    with the highest scores of ``first``. Then

    .. math::

        s_{ui} = \begin{cases} s^{\text{second}}_{ui} & i \in C_u,\\
                 -\infty & \text{otherwise,} \end{cases}

    so every recommended item is a first-stage candidate, ordered by the
    second model. This is the two-stage *retrieval + ranking* architecture of
    large systems (a cheap model narrows millions of items to hundreds, an
    expensive one orders them; Covington et al., 2016), and Burke's cascade
    in which a later model refines an earlier one. A list holds at most
    ``n_candidates`` items: with ``k > n_candidates``, ``recommend`` returns
    ``n_candidates`` items per user (the first stage supplies no more).

    **Ratings.** ``predict`` is the second model's prediction where the second
    model knows both the user and the item, and the first model's otherwise
    (e.g. a content first stage that can score cold items) -- provided the
    first is a rating model; a ranking first stage (popularity, EASE) has no
    rating to offer, and the second model's own fallback is used instead.

    Parameters
    ----------
    first, second : Recommender
    n_candidates : int
        Candidates per user (positive).
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "first": [InstanceOf(Recommender, what="a recbook Recommender")],
        "second": [InstanceOf(Recommender, what="a recbook Recommender")],
        "n_candidates": [Integer(min=1)],
    }

    def __init__(self, first: Recommender, second: Recommender, n_candidates: int = 100) -> None:
        self.first = first
        self.second = second
        self.n_candidates = n_candidates

    @classmethod
    def _example(cls, data: Any) -> "CascadeHybrid":
        from recbook.baselines import BaselineOnly, Popularity

        return cls(Popularity(), BaselineOnly(), n_candidates=30)

    def _components(self) -> list[Recommender]:
        return [self.first, self.second]

    def _fitted_components(self) -> list[Recommender]:
        return [self.first_, self.second_]

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        self.first_ = clone(self.first).fit(frame)
        self.second_ = clone(self.second).fit(frame)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        est = self._comp_predict(1, u, i)
        if not self.first_._predicts_ratings():  # a ranking score is no rating to fall back on
            return est
        cold = ~self._comp_knows(1, u, i)
        if cold.any():
            est[cold] = self._comp_predict(0, u[cold], i[cold])
        return est

    def candidates(self, users: Any) -> pd.DataFrame:
        """The first stage's candidates: ``user, item, first_score, first_rank``."""
        users = _as_1d(users, "users")
        u = self.user_index(users)
        s1 = self._seen_mask(u, self._comp_scores(0, u))
        top = top_k(s1, min(self.n_candidates, self.n_items_))
        sc = np.take_along_axis(s1, top, axis=1)
        ok = np.isfinite(sc)
        rows = np.repeat(np.arange(len(u)), top.shape[1]).reshape(top.shape)
        ranks = np.tile(np.arange(1, top.shape[1] + 1), (len(u), 1))
        return pd.DataFrame(
            {"user": users[rows[ok]], "item": self.item_ids_[top[ok]], "first_score": sc[ok], "first_rank": ranks[ok]}
        )

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        s1 = self._seen_mask(u, self._comp_scores(0, u))
        top = top_k(s1, min(self.n_candidates, self.n_items_))
        ok = np.isfinite(np.take_along_axis(s1, top, axis=1))
        s2 = self._comp_scores(1, u)
        out = np.full((len(u), self.n_items_), -np.inf)
        rows = np.repeat(np.arange(len(u)), top.shape[1]).reshape(top.shape)
        out[rows[ok], top[ok]] = s2[rows[ok], top[ok]]
        return out
