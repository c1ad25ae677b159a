"""Feature combination and augmentation: one learner on collaborative statistics, content features and component predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from recbook.base import Recommender, lookup
from recbook.hybrid._base import _CHUNK, _Hybrid, _check_models, _predict_chunked, _union
from recbook.hybrid.weighted import MODELS
from recbook.utils import InstanceOf, Integer, Real

__all__ = ["FeatureCombination"]

#: Feature tables: a DataFrame indexed by id, or a recbook FeatureMatrix.
TABLE = InstanceOf(pd.DataFrame, object, what="a pandas DataFrame indexed by id or a recbook FeatureMatrix")


class FeatureCombination(_Hybrid):
    r"""Feature combination: collaborative statistics and content features in one learner.

    Burke's *feature combination* treats collaborative information as extra
    features of a content-based learner. Here one scikit-learn regressor
    predicts the centred rating :math:`r_{ui} - \mu` from the feature vector
    of the pair,

    .. math::

        \mathbf x_{ui} = \big[\log(1+n_u),\ \log(1+n_i),\ b_u,\ b_i,\
        a_{ui},\ \mathbf f_i,\ \mathbf g_u,\ \hat r^{(1)}_{ui}, \dots\big],

    * collaborative statistics: activity :math:`n_u`, popularity :math:`n_i`,
      shrunk biases :math:`b_u = \sum_{j \in I_u}(r_{uj}-\mu)/(n_u+\lambda)`,
      :math:`b_i = \sum_{v \in U_i}(r_{vi}-\mu)/(n_i+\lambda)`;
    * a content-collaborative affinity: with :math:`\mathbf f_i \ge 0` the
      item's features, the user's shrunk residual taste for feature
      :math:`f`, :math:`d_{uf} = \sum_{j \in I_u} f_{jf}(r_{uj}-\mu-b_j)
      / (\sum_{j \in I_u} f_{jf} + \lambda)`, and
      :math:`a_{ui} = \sum_f f_{if} d_{uf} / \sum_f f_{if}`;
    * the raw item features :math:`\mathbf f_i` and user features
      :math:`\mathbf g_u` (when given);
    * optionally the predictions of component ``models`` -- Burke's *feature
      augmentation*: one model's output is an input feature of the next.

    **No leakage.** A training rating must not help compute its own
    features (a user mean that contains the target would look very
    predictive). The training rows' features are computed **out of fold**
    (``n_folds``-fold :func:`recbook.split.kfold` with ``seed``): the
    statistics and component predictions of a row come from the other folds.
    At prediction time they come from all training data.

    An item that has features but no training rating (a cold item) still gets
    :math:`\mathbf f_i` and :math:`a_{ui}`, so the model can recommend it:
    items of ``item_features`` join the hybrid's catalogue.

    Parameters
    ----------
    item_features : pandas.DataFrame or recbook.content.FeatureMatrix, optional
        Numeric, finite, non-negative item features indexed by item id (e.g.
        :func:`recbook.content.genre_features`). Missing items get zeros.
        Densified: keep it to tens or hundreds of columns.
    user_features : pandas.DataFrame, optional
        Numeric user features indexed by user id (e.g. age, one-hot gender).
    models : list of Recommender, optional
        Components whose out-of-fold predictions become features.
    learner : scikit-learn regressor, optional
        Default :class:`sklearn.ensemble.HistGradientBoostingRegressor`
        (100 iterations, learning rate 0.1, no early stopping,
        ``random_state=seed``). Scoring a full catalogue for top-K runs the
        learner on every (user, item) pair: the costliest hybrid here.
    n_folds : int
        Folds for the out-of-fold features (at least 2).
    shrinkage : float
        :math:`\lambda` of the shrunk means.
    seed : int

    Attributes
    ----------
    learner_ : the fitted regressor
    feature_names_ : list of str
    models_ : list of Recommender (fitted on all training data)
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "item_features": [None, TABLE],
        "user_features": [None, TABLE],
        "models": [MODELS],
        "learner": [None, InstanceOf(object, what="a scikit-learn regressor")],
        "n_folds": [Integer(min=2)],
        "shrinkage": [Real(min=0)],
        "seed": [Integer(min=0)],
    }

    def __init__(
        self,
        item_features: pd.DataFrame | None = None,
        user_features: pd.DataFrame | None = None,
        models: Sequence[Recommender] = (),
        learner: Any = None,
        n_folds: int = 5,
        shrinkage: float = 10.0,
        seed: int = 0,
    ) -> None:
        self.item_features = item_features
        self.user_features = user_features
        self.models = models
        self.learner = learner
        self.n_folds = n_folds
        self.shrinkage = shrinkage
        self.seed = seed

    @classmethod
    def _example(cls, data: Any) -> "FeatureCombination":
        from recbook.content.features import genre_features
        from sklearn.linear_model import Ridge

        return cls(item_features=genre_features(data.items), learner=Ridge(alpha=1.0), n_folds=2)

    def _components(self) -> list[Recommender]:
        return list(self.models)

    @staticmethod
    def _as_table(name: str, table: Any, nonneg: bool) -> pd.DataFrame | None:
        """``table`` as a numeric DataFrame indexed by id (a FeatureMatrix is converted)."""
        if table is None:
            return None
        if not isinstance(table, pd.DataFrame):
            if hasattr(table, "to_frame") and hasattr(table, "ids"):  # recbook.content.FeatureMatrix
                table = table.to_frame()
            else:
                raise TypeError(
                    f"{name} must be a pandas DataFrame indexed by id (or a recbook FeatureMatrix), "
                    f"got {type(table).__name__}"
                )
        if table.shape[1] == 0:
            raise ValueError(f"{name} has no columns")
        if not table.index.is_unique:
            raise ValueError(f"{name} has duplicated ids in its index")
        try:
            mat = table.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must hold numeric columns only, got dtypes {list(table.dtypes)}") from None
        if not np.all(np.isfinite(mat)):
            raise ValueError(f"{name} holds NaN or infinite values")
        if nonneg and np.any(mat < 0):
            raise ValueError(f"{name} must be non-negative (weights of features), got a minimum of {mat.min()}")
        return table

    def _check_params(self) -> None:
        self._as_table("item_features", self.item_features, nonneg=True)
        self._as_table("user_features", self.user_features, nonneg=False)
        _check_models(self.models, min_len=0)
        if self.learner is not None and not (hasattr(self.learner, "fit") and hasattr(self.learner, "predict")):
            raise TypeError(f"learner must be a scikit-learn regressor with fit/predict, got {type(self.learner).__name__}")

    def _fitted_components(self) -> list[Recommender]:
        return self.models_

    def _extra_items(self, frame: pd.DataFrame) -> pd.Index:
        table = self._as_table("item_features", self.item_features, nonneg=True)
        return _union([super()._extra_items(frame), [] if table is None else table.index])

    def _extra_users(self, frame: pd.DataFrame) -> pd.Index:
        table = self._as_table("user_features", self.user_features, nonneg=False)
        return _union([super()._extra_users(frame), [] if table is None else table.index])

    # ----------------------------------------------------------- statistics
    def _stats(self, frame: pd.DataFrame) -> dict:
        """Collaborative statistics of ``frame``, keyed by raw ids."""
        lam = float(self.shrinkage)
        mu = float(frame["rating"].mean())
        r = frame["rating"].to_numpy(dtype=np.float64) - mu
        uc, users = pd.factorize(frame["user"], sort=False)
        ic, items = pd.factorize(frame["item"], sort=False)
        n_u = np.bincount(uc, minlength=len(users)).astype(np.float64)
        n_i = np.bincount(ic, minlength=len(items)).astype(np.float64)
        b_u = np.bincount(uc, r, len(users)) / (n_u + lam)
        b_i = np.bincount(ic, r, len(items)) / (n_i + lam)
        stats = {"mu": mu, "users": pd.Index(users), "items": pd.Index(items), "n_u": n_u, "n_i": n_i,
                 "b_u": b_u, "b_i": b_i}  # fmt: skip
        if self._F is not None:
            F = self._F[self._f_pos(np.asarray(items))]  # rows of the frame's items (zeros if no features)
            resid = r - b_i[ic]
            R = sp.csr_matrix((resid, (uc, ic)), shape=(len(users), len(items)))
            W = sp.csr_matrix((np.ones_like(resid), (uc, ic)), shape=(len(users), len(items)))
            stats["d_uf"] = np.asarray(R @ F) / (np.asarray(W @ F) + lam)
        return stats

    def _features(
        self, stats: dict, pu: np.ndarray, pi: np.ndarray, fi: np.ndarray, gu: np.ndarray, preds: list[np.ndarray]
    ) -> np.ndarray:
        """Feature matrix of pairs given by positions: ``pu``/``pi`` into ``stats`` (-1: no ratings there),
        ``fi``/``gu`` into the feature tables (their last row is all zeros)."""
        ku, ki = pu >= 0, pi >= 0
        su, si = np.maximum(pu, 0), np.maximum(pi, 0)
        cols = [
            np.log1p(np.where(ku, stats["n_u"][su], 0.0)),
            np.log1p(np.where(ki, stats["n_i"][si], 0.0)),
            np.where(ku, stats["b_u"][su], 0.0),
            np.where(ki, stats["b_i"][si], 0.0),
        ]
        blocks = [np.column_stack(cols)]
        if self._F is not None:
            F = self._F[fi]
            d = np.where(ku[:, None], stats["d_uf"][su], 0.0)
            mass = F.sum(axis=1)
            aff = np.einsum("nf,nf->n", F, d) / np.where(mass > 0, mass, 1.0)
            blocks += [aff[:, None], F]
        if self._G is not None:
            blocks.append(self._G[gu])
        if preds:
            blocks.append(np.column_stack(preds) - stats["mu"])
        return np.hstack(blocks)

    def _positions(self, stats: dict, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, ...]:
        """Positions of raw ids in ``stats`` and in the feature tables."""
        pu = stats["users"].get_indexer(users)
        pi = stats["items"].get_indexer(items)
        fi = self._f_pos(items)
        gu = self._g_pos(users)
        return pu, pi, fi, gu

    def _f_pos(self, items: np.ndarray) -> np.ndarray:
        if self._F is None:
            return np.zeros(len(items), dtype=np.int64)
        pos = self._item_table.index.get_indexer(items)
        return np.where(pos >= 0, pos, len(self._F) - 1)

    def _g_pos(self, users: np.ndarray) -> np.ndarray:
        if self._G is None:
            return np.zeros(len(users), dtype=np.int64)
        pos = self._user_table.index.get_indexer(users)
        return np.where(pos >= 0, pos, len(self._G) - 1)

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        from recbook.split import kfold

        self._item_table = self._as_table("item_features", self.item_features, nonneg=True)
        self._user_table = self._as_table("user_features", self.user_features, nonneg=False)
        self._F = self._G = None
        if self._item_table is not None:
            F = self._item_table.to_numpy(dtype=np.float64)
            self._F = np.vstack([F, np.zeros((1, F.shape[1]))])  # last row: items without features
        if self._user_table is not None:
            G = self._user_table.to_numpy(dtype=np.float64)
            self._G = np.vstack([G, np.zeros((1, G.shape[1]))])
        Xs, ys = [], []
        for tr, te in kfold(frame.reset_index(drop=True), n_splits=self.n_folds, seed=self.seed):
            stats = self._stats(tr)
            users, items = te["user"].to_numpy(), te["item"].to_numpy()
            preds = [clone(m).fit(tr).predict(users, items) for m in self.models]
            Xs.append(self._features(stats, *self._positions(stats, users, items), preds))
            ys.append(te["rating"].to_numpy(dtype=np.float64) - stats["mu"])
        X, y = np.vstack(Xs), np.concatenate(ys)
        if self.learner is None:
            from sklearn.ensemble import HistGradientBoostingRegressor

            learner = HistGradientBoostingRegressor(
                max_iter=100, learning_rate=0.1, early_stopping=False, random_state=self.seed
            )
        else:
            learner = clone(self.learner)
        self.learner_ = learner.fit(X, y)
        self.models_ = [clone(m).fit(frame) for m in self.models]
        self._stats_full = self._stats(frame)
        names = ["log_user_count", "log_item_count", "user_bias", "item_bias"]
        if self._F is not None:
            names += ["content_affinity"] + [f"item:{c}" for c in self._item_table.columns]
        if self._G is not None:
            names += [f"user:{c}" for c in self._user_table.columns]
        names += [f"model_{j}" for j in range(len(self.models))]
        self.feature_names_ = names

    def _align(self) -> None:
        super()._align()
        st = self._stats_full
        self._pos_u = st["users"].get_indexer(self.user_ids_)
        self._pos_i = st["items"].get_indexer(self.item_ids_)
        self._pos_f = self._f_pos(self.item_ids_)
        self._pos_g = self._g_pos(self.user_ids_)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        pu = lookup(self._pos_u, u, -1)
        pi = lookup(self._pos_i, i, -1)
        fi = lookup(self._pos_f, i, len(self._F) - 1 if self._F is not None else 0)
        gu = lookup(self._pos_g, u, len(self._G) - 1 if self._G is not None else 0)
        preds = [self._comp_predict(c, u, i) for c in range(len(self.models_))]
        X = self._features(self._stats_full, pu, pi, fi, gu, preds)
        return self._stats_full["mu"] + _predict_chunked(self.learner_, X)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        n_items = self.n_items_
        out = np.empty((len(u), n_items))
        rows_per = max(1, _CHUNK // max(n_items, 1))
        ii = np.arange(n_items, dtype=np.int64)
        for s in range(0, len(u), rows_per):
            bu = u[s : s + rows_per]
            uu = np.repeat(bu, n_items)
            out[s : s + len(bu)] = self._predict_idx(uu, np.tile(ii, len(bu))).reshape(len(bu), n_items)
        return out
