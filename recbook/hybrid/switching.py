"""The switching hybrid: the fallback model for cold pairs, the primary otherwise."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from recbook.base import Recommender, _as_1d
from recbook.hybrid._base import _Hybrid
from recbook.hybrid.scores import _NORMALIZERS, normalize_scores
from recbook.utils import InstanceOf, Integer, Options

__all__ = ["SwitchingHybrid"]


class SwitchingHybrid(_Hybrid):
    r"""Switching hybrid: the fallback model for cold pairs, the primary otherwise.

    With :math:`n_u`, :math:`n_i` the numbers of training ratings of user
    :math:`u` and item :math:`i` (0 when unknown),

    .. math::

        \hat r_{ui} = \begin{cases}
            \hat r^{\text{primary}}_{ui} & n_u \ge t_U \text{ and } n_i \ge t_I,\\
            \hat r^{\text{fallback}}_{ui} & \text{otherwise.}
        \end{cases}

    The typical use is collaborative filtering as ``primary`` and a content
    model (which needs no ratings of the item) as ``fallback``, the cure for
    the new-item problem (Schein et al., 2002). The decision is made per
    pair, so one user's list can mix both models. For top-K the chosen model's
    per-user standardised score fills each cell (``normalize``).

    Parameters
    ----------
    primary, fallback : Recommender
        Unfitted components.
    min_user_ratings, min_item_ratings : int
        Thresholds :math:`t_U, t_I` (non-negative).
    normalize : {"zscore", "minmax", "none"}
        Per-user score normalisation for top-K. Use ``"none"`` when both
        models predict ratings on the same scale.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "primary": [InstanceOf(Recommender, what="a recbook Recommender")],
        "fallback": [InstanceOf(Recommender, what="a recbook Recommender")],
        "min_user_ratings": [Integer(min=0)],
        "min_item_ratings": [Integer(min=0)],
        "normalize": [Options(*_NORMALIZERS)],
    }

    def __init__(
        self,
        primary: Recommender,
        fallback: Recommender,
        min_user_ratings: int = 5,
        min_item_ratings: int = 5,
        normalize: str = "zscore",
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.min_user_ratings = min_user_ratings
        self.min_item_ratings = min_item_ratings
        self.normalize = normalize

    @classmethod
    def _example(cls, data: Any) -> "SwitchingHybrid":
        from recbook.baselines import BaselineOnly, ItemMean

        return cls(BaselineOnly(), ItemMean(), min_user_ratings=3, min_item_ratings=3)

    def _components(self) -> list[Recommender]:
        return [self.primary, self.fallback]

    def _fitted_components(self) -> list[Recommender]:
        return [self.primary_, self.fallback_]

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        self.primary_ = clone(self.primary).fit(frame)
        self.fallback_ = clone(self.fallback).fit(frame)

    def _cold_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        cu, ci = self._counts(u, i)
        return (cu < self.min_user_ratings) | (ci < self.min_item_ratings)

    def uses_fallback(self, users: Any, items: Any) -> np.ndarray:
        """Boolean array: which ``(users[j], items[j])`` pairs the fallback model serves."""
        users, items = _as_1d(users, "users"), _as_1d(items, "items")
        if len(users) != len(items):
            raise ValueError(f"users and items must have the same length, got {len(users)} and {len(items)}")
        return self._cold_idx(self.user_index(users), self.item_index(items))

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        cold = self._cold_idx(u, i)
        est = np.empty(len(u))
        if (~cold).any():
            est[~cold] = self._comp_predict(0, u[~cold], i[~cold])
        if cold.any():
            est[cold] = self._comp_predict(1, u[cold], i[cold])
        return est

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        cold = self._cold_idx(
            np.repeat(u, self.n_items_), np.tile(np.arange(self.n_items_), len(u))
        ).reshape(len(u), self.n_items_)
        out = normalize_scores(self._comp_scores(0, u), self.normalize)
        if cold.any():
            fb = normalize_scores(self._comp_scores(1, u), self.normalize)
            out[cold] = fb[cold]
        return out

    def _score_parts(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights (1 for the model that serves the pair, else 0) and normalised scores, ``(len(u), n_items_, 2)``."""
        cold = self._cold_idx(
            np.repeat(u, self.n_items_), np.tile(np.arange(self.n_items_), len(u))
        ).reshape(len(u), self.n_items_)
        Z = np.stack([normalize_scores(self._comp_scores(c, u), self.normalize) for c in (0, 1)], axis=2)
        return np.stack([~cold, cold], axis=2).astype(np.float64), Z
