"""The weighted hybrid: a fixed or learned linear mix of the components."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from recbook.base import Recommender
from recbook.hybrid._base import _VALIDATION, _Hybrid, _check_models, _rmse
from recbook.hybrid.scores import _NORMALIZERS, normalize_scores
from recbook.utils import Boolean, InstanceOf, Integer, Options

__all__ = ["WeightedHybrid"]

#: Components of a hybrid: a list or tuple of Recommenders (their types are checked when fit starts).
MODELS = InstanceOf(list, tuple, what="a list or tuple of recbook Recommenders")


class WeightedHybrid(_Hybrid):
    r"""Weighted hybrid: a fixed or learned linear mix of the components.

    .. math::

        \hat r_{ui} = \sum_{m=1}^{M} w_m\, \hat r^{(m)}_{ui}, \qquad w_m \ge 0.

    Fixed weights are rescaled to sum to 1 (``weights=(0.7, 0.3)`` is the
    classic "70 % collaborative, 30 % content" mix); ``weights=None`` gives
    equal weights. With ``learn_weights=True`` the weights are the
    non-negative least-squares solution on a validation split of the
    *training* data,

    .. math::

        \mathbf w = \arg\min_{\mathbf w \ge 0}
        \sum_{(u,i,r) \in V} \Big(r - \sum_m w_m \hat r^{(m)}_{ui}\Big)^2,

    where the components are first fitted on the training data minus
    :math:`V` and then refitted on all of it. :math:`V` is cut from the
    training data by the ``validation`` protocol's
    :meth:`recbook.evaluate.Protocol.validation_split` with ``seed`` (the
    default ``"rating"``: 10 % of the ratings at random; ``"cold-items"``:
    every rating of 15 % of the items, so that the weights are learned on new
    items). Learned weights are used as found (no intercept; they need not
    sum to exactly 1). Non-negativity keeps them interpretable and stops two
    correlated models from cancelling each other with large weights of
    opposite sign.

    **Top-K.** ``recommend``/``score_items`` mix per-user standardised scores
    :math:`\sum_m w_m\,\tilde s^{(m)}_{ui}` (``normalize``, see
    :func:`normalize_scores`), because components score on different scales.
    With weights :math:`(1, 0, \dots)` both ``predict`` and the ranking equal
    the first model's.

    Parameters
    ----------
    models : list of Recommender
        Unfitted components (cloned at ``fit``).
    weights : sequence of float, optional
        Non-negative, one per model, not all zero.
    learn_weights : bool
        Learn the weights on a validation split (``weights`` must be None).
    normalize : {"zscore", "minmax", "none"}
        Per-user score normalisation for top-K.
    validation : {"rating", "topk", "cold-items", "cold-users"}
        The protocol whose validation split of the training data the weights
        are learned on (used with ``learn_weights`` only).
    seed : int
        Seed of the validation split (the protocol adds 100).

    Attributes
    ----------
    models_ : list of Recommender
        The fitted clones.
    weights_ : numpy.ndarray
        The weights used.
    validation_rmse_ : dict
        With ``learn_weights``: validation RMSE of each component and of the mix.

    References
    ----------
    Burke (2002); Koren, Bell & Volinsky (2009) on blending.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "models": [MODELS],
        "weights": [None, InstanceOf(list, tuple, np.ndarray, what="a sequence of non-negative numbers")],
        "learn_weights": [Boolean()],
        "normalize": [Options(*_NORMALIZERS)],
        "validation": [Options(*_VALIDATION)],
        "seed": [Integer(min=0)],
    }

    def __init__(
        self,
        models: Sequence[Recommender],
        weights: Sequence[float] | None = None,
        learn_weights: bool = False,
        normalize: str = "zscore",
        validation: str = "rating",
        seed: int = 0,
    ) -> None:
        self.models = models
        self.weights = weights
        self.learn_weights = learn_weights
        self.normalize = normalize
        self.validation = validation
        self.seed = seed

    @classmethod
    def _example(cls, data: Any) -> "WeightedHybrid":
        from recbook.baselines import BaselineOnly, ItemMean

        return cls([BaselineOnly(), ItemMean()], weights=[0.7, 0.3])

    def _components(self) -> list[Recommender]:
        return list(self.models)

    def _check_params(self) -> None:
        models = _check_models(self.models)
        if self.weights is not None:
            if self.learn_weights:
                raise ValueError("give either weights or learn_weights=True, not both")
            try:
                w = np.asarray(self.weights, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"weights must be a sequence of numbers, got {self.weights!r}") from None
            if w.ndim != 1 or len(w) != len(models):
                raise ValueError(
                    f"weights must have one entry per model ({len(models)}), got {self.weights!r}"
                )
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError(f"weights must be finite and non-negative, got {self.weights!r}")
            if w.sum() <= 0:
                raise ValueError(f"weights must not all be zero, got {self.weights!r}")

    def _fitted_components(self) -> list[Recommender]:
        return self.models_

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        from scipy.optimize import nnls

        n = len(self.models)
        if self.learn_weights:
            fit_part, val = self._validation_split(frame, self.validation, self.seed)
            y = val["rating"].to_numpy(dtype=np.float64)
            P = np.column_stack(
                [clone(m).fit(fit_part).predict(val["user"].to_numpy(), val["item"].to_numpy()) for m in self.models]
            )
            w, _ = nnls(P, y)
            if w.sum() <= 0:  # pragma: no cover - only when every prediction is <= 0
                w = np.full(n, 1.0 / n)
            self.validation_rmse_ = {f"model_{j}": _rmse(y, P[:, j]) for j in range(n)}
            self.validation_rmse_["hybrid"] = _rmse(y, P @ w)
        elif self.weights is None:
            w = np.full(n, 1.0 / n)
        else:
            w = np.asarray(self.weights, dtype=np.float64)
            w = w / w.sum()
        self.weights_ = w
        self.models_ = [clone(m).fit(frame) for m in self.models]

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        est = np.zeros(len(u))
        for c, w in enumerate(self.weights_):
            if w != 0:
                est += w * self._comp_predict(c, u, i)
        return est

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        out = np.zeros((len(u), self.n_items_))
        for c, w in enumerate(self.weights_):
            if w != 0:
                out += w * normalize_scores(self._comp_scores(c, u), self.normalize)
        return out

    def _score_parts(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights and normalised scores, each ``(len(u), n_items_, n_models)``: the score is their product summed."""
        Z = np.stack([normalize_scores(self._comp_scores(c, u), self.normalize) for c in range(len(self.models_))], axis=2)
        return np.broadcast_to(self.weights_, Z.shape), Z
