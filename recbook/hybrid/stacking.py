"""The stacking hybrid: out-of-fold component predictions feed a meta-learner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from recbook.base import Recommender
from recbook.hybrid._base import _Hybrid, _check_models, _pair_counts, _predict_chunked, _rmse
from recbook.hybrid.weighted import MODELS
from recbook.utils import Boolean, InstanceOf, Integer

__all__ = ["StackingHybrid"]


class StackingHybrid(_Hybrid):
    r"""Stacking: out-of-fold component predictions feed a meta-learner.

    The training data are cut into ``n_folds`` folds
    (:func:`recbook.split.kfold` with ``seed``). For each fold, fresh clones of
    the components are fitted on the other folds and predict the fold, so every
    training rating :math:`r_{ui}` gets *out-of-fold* predictions
    :math:`\hat r^{(1)}_{ui}, \dots, \hat r^{(M)}_{ui}` from models that never
    saw it. A meta-learner :math:`g` then learns

    .. math::

        r_{ui} \approx g\big(\hat r^{(1)}_{ui}, \dots, \hat r^{(M)}_{ui}
        [, \log(1+n_u), \log(1+n_i)]\big),

    and the components are refitted on all training data. With the default
    :class:`sklearn.linear_model.Ridge` this is a learned weighted hybrid with
    an intercept (the blending of the Netflix Prize, Koren et al., 2009); the
    optional activity meta-features let the mix shift with how much is known
    about the user and the item. Using *in-sample* predictions instead would
    reward the component that memorises its training data best. Top-K scores
    apply :math:`g` to the components' score rows.

    Parameters
    ----------
    models : list of Recommender
    meta_learner : scikit-learn regressor, optional
        Default ``Ridge(alpha=1.0)``.
    n_folds : int
        At least 2.
    meta_features : bool
        Add :math:`\log(1+n_u)` and :math:`\log(1+n_i)` (counts in the data
        the components were fitted on).
    seed : int

    Attributes
    ----------
    meta_learner_ : the fitted meta-learner
    oof_rmse_ : dict
        Out-of-fold RMSE of each component (an honest estimate of each).
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "models": [MODELS],
        "meta_learner": [None, InstanceOf(object, what="a scikit-learn regressor")],
        "n_folds": [Integer(min=2)],
        "meta_features": [Boolean()],
        "seed": [Integer(min=0)],
    }

    def __init__(
        self,
        models: Sequence[Recommender],
        meta_learner: Any = None,
        n_folds: int = 5,
        meta_features: bool = False,
        seed: int = 0,
    ) -> None:
        self.models = models
        self.meta_learner = meta_learner
        self.n_folds = n_folds
        self.meta_features = meta_features
        self.seed = seed

    @classmethod
    def _example(cls, data: Any) -> "StackingHybrid":
        from recbook.baselines import BaselineOnly, ItemMean

        return cls([BaselineOnly(), ItemMean()], n_folds=2)

    def _components(self) -> list[Recommender]:
        return list(self.models)

    def _check_params(self) -> None:
        _check_models(self.models)
        if self.meta_learner is not None and not (
            hasattr(self.meta_learner, "fit") and hasattr(self.meta_learner, "predict")
        ):
            raise TypeError(
                f"meta_learner must be a scikit-learn regressor with fit/predict, got {type(self.meta_learner).__name__}"
            )

    def _fitted_components(self) -> list[Recommender]:
        return self.models_

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        from recbook.split import kfold
        from sklearn.linear_model import Ridge

        Xs, ys = [], []
        for tr, te in kfold(frame.reset_index(drop=True), n_splits=self.n_folds, seed=self.seed):
            users, items = te["user"].to_numpy(), te["item"].to_numpy()
            cols = [clone(m).fit(tr).predict(users, items) for m in self.models]
            if self.meta_features:
                cu, ci = _pair_counts(tr, users, items)
                cols += [np.log1p(cu), np.log1p(ci)]
            Xs.append(np.column_stack(cols))
            ys.append(te["rating"].to_numpy(dtype=np.float64))
        X, y = np.vstack(Xs), np.concatenate(ys)
        self.oof_rmse_ = {f"model_{j}": _rmse(y, X[:, j]) for j in range(len(self.models))}
        learner = Ridge(alpha=1.0) if self.meta_learner is None else clone(self.meta_learner)
        self.meta_learner_ = learner.fit(X, y)
        self.models_ = [clone(m).fit(frame) for m in self.models]

    def _meta_X(self, cols: list[np.ndarray], u: np.ndarray, i: np.ndarray) -> np.ndarray:
        if self.meta_features:
            cu, ci = self._counts(u, i)
            cols = cols + [np.log1p(cu), np.log1p(ci)]
        return np.column_stack(cols)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        cols = [self._comp_predict(c, u, i) for c in range(len(self.models_))]
        return _predict_chunked(self.meta_learner_, self._meta_X(cols, u, i))

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        n_items = self.n_items_
        S = [self._comp_scores(c, u) for c in range(len(self.models_))]
        for c, m in enumerate(self.models_):  # the meta-learner was trained on clipped predictions
            if m._predicts_ratings():
                np.clip(S[c], *m.rating_scale_, out=S[c])
        uu = np.repeat(u, n_items)
        ii = np.tile(np.arange(n_items, dtype=np.int64), len(u))
        X = self._meta_X([s.ravel() for s in S], uu, ii)
        return _predict_chunked(self.meta_learner_, X).reshape(len(u), n_items)
