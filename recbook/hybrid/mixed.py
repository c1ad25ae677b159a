"""The mixed hybrid: the components' ranked lists interleaved into one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from recbook.base import Recommender, top_k
from recbook.hybrid._base import _Hybrid, _check_models
from recbook.hybrid.scores import interleave, normalize_scores
from recbook.hybrid.weighted import MODELS
from recbook.utils import InstanceOf, Integer, Options, check_int

__all__ = ["MixedHybrid"]


class MixedHybrid(_Hybrid):
    r"""Mixed hybrid: the components' top-K lists interleaved into one list.

    Each component ranks the user's unseen items; :func:`interleave` merges
    the top ``depth`` of every list without duplicates, by ``"round_robin"``
    (optionally with ``k_per_model`` slot quotas, e.g. ``(7, 3)`` for seven
    collaborative and three content items in every ten) or by
    ``"team_draft"`` (Radlinski et al., 2008; coin flips seeded by ``seed``
    and the user's internal index, so lists are reproducible).

    **Scores.** ``score_items`` returns rank-derived scores: the merged items
    score above everything else, in merged order; the remaining items follow
    in the order of the mean of the components' standardised scores. Seen
    items are never placed in the merged part (with ``exclude_seen=False``
    they rank after it).

    **Ratings.** A mixed hybrid shows lists side by side and has no rating of
    its own; ``predict`` returns the plain average of the components'
    predictions, a convenience only.

    Parameters
    ----------
    models : list of Recommender
    k_per_model : sequence of int, optional
        Positive slot quotas, one per model (round-robin only).
    method : {"round_robin", "team_draft"}
    depth : int
        How far down each component's list the interleaving goes.
    seed : int
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "models": [MODELS],
        "k_per_model": [None, InstanceOf(list, tuple, np.ndarray, what="a sequence of positive integers")],
        "method": [Options("round_robin", "team_draft")],
        "depth": [Integer(min=1)],
        "seed": [Integer(min=0)],
    }

    def __init__(
        self,
        models: Sequence[Recommender],
        k_per_model: Sequence[int] | None = None,
        method: str = "round_robin",
        depth: int = 100,
        seed: int = 0,
    ) -> None:
        self.models = models
        self.k_per_model = k_per_model
        self.method = method
        self.depth = depth
        self.seed = seed

    @classmethod
    def _example(cls, data: Any) -> "MixedHybrid":
        from recbook.baselines import ItemMean, Popularity

        return cls([Popularity(), ItemMean()], k_per_model=[2, 1], depth=20)

    def _components(self) -> list[Recommender]:
        return list(self.models)

    def _check_params(self) -> None:
        models = _check_models(self.models)
        if self.k_per_model is not None:
            if self.method != "round_robin":
                raise ValueError("k_per_model applies to method='round_robin' only")
            if len(self.k_per_model) != len(models):
                raise ValueError(
                    f"k_per_model must have one positive integer per model ({len(models)}), got {self.k_per_model!r}"
                )
            for j, v in enumerate(self.k_per_model):
                check_int(f"k_per_model[{j}]", v, minimum=1)

    def _fitted_components(self) -> list[Recommender]:
        return self.models_

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        self.models_ = [clone(m).fit(frame) for m in self.models]

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return np.mean([self._comp_predict(c, u, i) for c in range(len(self.models_))], axis=0)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        n_items = self.n_items_
        depth = min(self.depth, n_items)
        base = np.zeros((len(u), n_items))
        tops = []
        for c in range(len(self.models_)):
            s = self._comp_scores(c, u)
            base += normalize_scores(s, "zscore")
            masked = self._seen_mask(u, s.copy())
            top = top_k(masked, depth)
            ok = np.isfinite(np.take_along_axis(masked, top, axis=1))
            tops.append((top, ok))
        base /= len(self.models_)
        finite = np.isfinite(base)
        offset = (np.abs(base[finite]).max() if finite.any() else 0.0) + 1.0
        out = np.where(finite, base, -np.inf) - offset  # the tail: every value < 0
        for row in range(len(u)):
            lists = [top[row][ok[row]] for top, ok in tops]
            rng = np.random.default_rng([int(self.seed), int(u[row]) + 1])
            merged = interleave(lists, method=self.method, quotas=self.k_per_model, seed=rng)
            merged = np.asarray(merged, dtype=np.int64)
            out[row, merged] = len(merged) - np.arange(len(merged), dtype=np.float64)
        return out
