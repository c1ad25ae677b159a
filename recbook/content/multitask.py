r"""Multi-task learning: one item representation from content, trained for two tasks.

:class:`MultiTaskContentMF` is a matrix factorisation whose item factor is not
a free vector per item but a function of the item's content, shared by two
heads: the rating of the user (the main task) and an auxiliary label of the
item, such as its genres. Because the item side depends on content only, the
model rates items nobody has rated yet; the auxiliary task is a second source
of supervision for the shared representation (Caruana, 1997).

torch is imported only inside :meth:`MultiTaskContentMF.fit`; prediction is
NumPy.

References
----------
R. Caruana, "Multitask learning", *Machine Learning* 28(1), 41-75, 1997; S.
Ruder, "An overview of multi-task learning in deep neural networks",
arXiv:1706.05098, 2017.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recbook.base import Recommender, lookup
from recbook.content.features import FeatureMatrix, _unit_rows_any, as_feature_matrix
from recbook.content._torch import single_thread
from recbook.content.knn import FEATURES, _catalogue_rows, _items_without_ratings
from recbook.utils import Integer, Real, history_frame

__all__ = ["MultiTaskContentMF"]


class MultiTaskContentMF(Recommender):
    r"""Content-based matrix factorisation with an auxiliary task on the shared item representation.

    Item :math:`i`'s content vector :math:`\mathbf x_i` (scaled to unit
    length) passes through one shared layer,

    .. math::

        \mathbf h_i = \tanh(W^\top \mathbf x_i + \mathbf c) \in \mathbb R^{d},

    which two heads read:

    .. math::

        \hat r_{ui} = \mu + b_u + p_u^\top \mathbf h_i
        \quad\text{(rating)}, \qquad
        \hat y_{ig} = \sigma(\mathbf v_g^\top \mathbf h_i + e_g)
        \quad\text{(auxiliary label } g\text{)} .

    The parameters minimise, with full-batch Adam,

    .. math::

        \mathcal L = \frac{1}{|\mathcal K|}\sum_{(u,i) \in \mathcal K} (r_{ui} - \hat r_{ui})^2
        + \lambda_{\text{aux}}\, \frac{1}{|I_{\text{aux}}|\, G} \sum_{i \in I_{\text{aux}}} \sum_{g=1}^{G}
          \operatorname{BCE}(y_{ig}, \hat y_{ig})
        + \lambda \Big(\frac{1}{m} \lVert P \rVert_F^2 + \frac{1}{d} \lVert W \rVert_F^2\Big),

    where :math:`\operatorname{BCE}(y, \hat y) = -y \ln \hat y - (1 - y)\ln(1 - \hat y)`
    and :math:`I_{\text{aux}}` are the *training* items that have an
    auxiliary label (the labels of items without ratings are never used).
    With :math:`\lambda_{\text{aux}} = 0` (``aux_weight=0``) it is a
    single-task model. There is no free item bias :math:`b_i`: everything
    the model knows about an item comes through :math:`\mathbf h_i`, so a new
    item with content gets a real estimate.

    **Catalogue, fallbacks.** As for :class:`recbook.content.ContentKNN`, the
    catalogue is the training items followed by every item of
    ``item_features`` without a rating. An unknown user gets :math:`\mu`
    (there is no :math:`b_u` or :math:`p_u` to use); an item without
    features gets :math:`\mu + b_u`.

    Parameters
    ----------
    item_features : FeatureMatrix, DataFrame or (ids, matrix)
        The content :math:`\mathbf x_i` of every training item (and of the
        new items to score); densified.
    aux_targets : FeatureMatrix, DataFrame or (ids, matrix), optional
        Auxiliary labels in :math:`[0, 1]` per item (e.g.
        :func:`recbook.content.genre_features`); required when
        ``aux_weight > 0``.
    aux_weight : float
        :math:`\lambda_{\text{aux}} \ge 0`, the weight of the auxiliary loss.
    n_factors : int
        :math:`d`, the size of the shared representation.
    n_epochs : int
        Adam steps (full batch).
    lr : float
        Adam learning rate :math:`\gamma`.
    reg : float
        :math:`\lambda \ge 0`.
    seed : int
        Seed of the initial weights (a torch generator).

    Attributes
    ----------
    user_bias_ : numpy.ndarray
        :math:`b_u` per internal user.
    user_factors_ : numpy.ndarray
        :math:`P`, shape ``(n_users_, d)``.
    item_repr_ : numpy.ndarray
        :math:`\mathbf h_i` of every catalogue item, shape ``(n_items_, d)``.
    history_ : pandas.DataFrame
        ``epoch`` and ``loss`` (the rating MSE on the training ratings before
        each step, and after the last), and ``aux_loss`` (the auxiliary BCE on
        the same steps; absent without an auxiliary task).
    aux_columns_ : list of str
        Names of the auxiliary labels.
    n_train_items_ : int
        Items with a training rating (the first ``n_train_items_`` of ``item_ids_``).

    References
    ----------
    R. Caruana, "Multitask learning", Machine Learning 28(1), 1997;
    Y. Koren, R. Bell and C. Volinsky, "Matrix factorization techniques for
    recommender systems", IEEE Computer 42(8), 2009.

    Examples
    --------
    >>> import pandas as pd
    >>> x = pd.DataFrame({"f": [1.0, 0.0, 1.0], "g": [0.0, 1.0, 0.1]}, index=[10, 20, 30])
    >>> train = pd.DataFrame({"user": [1, 1, 2], "item": [10, 20, 10], "rating": [5.0, 1.0, 4.0]})
    >>> m = MultiTaskContentMF(x, n_factors=2, n_epochs=200, lr=0.05).fit(train)
    >>> bool(m.predict([1], [30])[0] > m.predict([1], [20])[0])  # item 30 looks like 10
    True
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "item_features": [FEATURES],
        "aux_targets": [None, FEATURES],
        "aux_weight": [Real(min=0)],
        "n_factors": [Integer(min=1)],
        "n_epochs": [Integer(min=0)],
        "lr": [Real(min=0, min_open=True)],
        "reg": [Real(min=0)],
        "seed": [Integer(min=0)],
    }

    def __init__(
        self,
        item_features: Any,
        aux_targets: Any = None,
        aux_weight: float = 0.0,
        n_factors: int = 32,
        n_epochs: int = 100,
        lr: float = 0.02,
        reg: float = 0.03,
        seed: int = 0,
    ) -> None:
        self.item_features = item_features
        self.aux_targets = aux_targets
        self.aux_weight = aux_weight
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr = lr
        self.reg = reg
        self.seed = seed

    @classmethod
    def _example(cls, data: Any) -> "MultiTaskContentMF":
        from recbook.content.features import genre_features

        g = genre_features(data.items)
        return cls(g, aux_targets=g, aux_weight=0.5, n_factors=4, n_epochs=5)

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        if self.aux_weight > 0 and self.aux_targets is None:
            raise ValueError("aux_weight > 0 needs aux_targets (the auxiliary labels of the items)")

    def _extra_items(self, frame: pd.DataFrame) -> pd.Index:
        self._features = as_feature_matrix(self.item_features, "item_features")
        return _items_without_ratings(self._features, frame)

    def _aux_matrix(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Auxiliary labels of the training items that have one: (internal item indices, labels, names)."""
        aux = as_feature_matrix(self.aux_targets, "aux_targets")
        y = aux.toarray()
        if y.min(initial=0.0) < 0 or y.max(initial=0.0) > 1:
            raise ValueError("aux_targets must hold labels in [0, 1] (e.g. multi-hot genres)")
        pos = aux.ids.get_indexer(self.item_ids_[: self.n_train_items_])
        have = np.flatnonzero(pos >= 0)
        if len(have) == 0:
            raise ValueError("aux_targets has no row for any training item")
        return have, y[pos[have]], list(aux.columns)

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        features = self._features
        rows = _catalogue_rows(self, features)
        x = _unit_rows_any(features.matrix[rows])
        self._x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
        last = pd.DataFrame({"u": u, "i": i, "r": r}).drop_duplicates(["u", "i"], keep="last")
        uu, ii, rr = (last[c].to_numpy() for c in ("u", "i", "r"))
        aux = self._aux_matrix() if self.aux_targets is not None else None
        self.aux_columns_ = [] if aux is None else aux[2]
        with single_thread() as torch:
            self._train_torch(torch, uu, ii, rr.astype(np.float64), aux)
        self.item_repr_ = np.tanh(self._x @ self._W + self._c)

    def _train_torch(self, torch: Any, u: np.ndarray, i: np.ndarray, r: np.ndarray, aux: Any) -> None:
        f32 = torch.float32
        g = torch.Generator().manual_seed(int(self.seed))
        n_feat, d = self._x.shape[1], int(self.n_factors)

        def uniform(shape: tuple[int, ...], bound: float) -> Any:
            return (torch.rand(shape, generator=g, dtype=f32) * 2 - 1) * bound

        W = uniform((n_feat, d), 1.0 / np.sqrt(n_feat)).requires_grad_()
        c = torch.zeros(d, dtype=f32, requires_grad=True)
        P = (torch.randn((self.n_users_, d), generator=g, dtype=f32) * 0.1).requires_grad_()
        bu = torch.zeros(self.n_users_, dtype=f32, requires_grad=True)
        params = [W, c, P, bu]
        use_aux = aux is not None and float(self.aux_weight) > 0
        if use_aux:
            n_labels = aux[1].shape[1]
            A = uniform((d, n_labels), 1.0 / np.sqrt(d)).requires_grad_()
            e = torch.zeros(n_labels, dtype=f32, requires_grad=True)
            params += [A, e]
            aux_items = torch.from_numpy(aux[0].astype(np.int64))
            Yaux = torch.from_numpy(aux[1].astype(np.float32))
        X = torch.from_numpy(self._x.astype(np.float32))
        U = torch.from_numpy(u.astype(np.int64))
        I = torch.from_numpy(i.astype(np.int64))
        R = torch.from_numpy((r - self.global_mean_).astype(np.float32))
        opt = torch.optim.Adam(params, lr=float(self.lr))

        def losses() -> tuple[Any, Any, Any]:
            H = torch.tanh(X @ W + c)
            pred = bu[U] + (P[U] * H[I]).sum(dim=1)
            mse = torch.mean((pred - R) ** 2)
            penalty = float(self.reg) * ((P * P).sum() / self.n_users_ + (W * W).sum() / d)
            bce = torch.zeros((), dtype=f32)
            if use_aux:
                logits = H[aux_items] @ A + e
                bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, Yaux)
            return mse, bce, mse + float(self.aux_weight) * bce + penalty

        curve, aux_curve = [], []
        for _ in range(int(self.n_epochs)):
            opt.zero_grad()
            mse, bce, total = losses()
            curve.append(float(mse.detach()))
            if use_aux:
                aux_curve.append(float(bce.detach()))
            total.backward()
            opt.step()
        with torch.no_grad():
            mse, bce, _ = losses()
        curve.append(float(mse))
        if use_aux:
            aux_curve.append(float(bce))
        self.history_ = history_frame(curve, "loss")
        if use_aux:
            self.history_["aux_loss"] = aux_curve
        self._W = W.detach().numpy().astype(np.float64)
        self._c = c.detach().numpy().astype(np.float64)
        self.user_factors_ = P.detach().numpy().astype(np.float64)
        self.user_bias_ = bu.detach().numpy().astype(np.float64)
        if use_aux:
            self._A = A.detach().numpy().astype(np.float64)
            self._e = e.detach().numpy().astype(np.float64)

    # ------------------------------------------------------------ scoring
    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        est = self.global_mean_ + lookup(self.user_bias_, u)
        known_u = u >= 0
        both = known_u & (i >= 0)
        est[both] += np.einsum("nd,nd->n", self.user_factors_[u[both]], self.item_repr_[i[both]])
        return est

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        return (self.global_mean_ + lookup(self.user_bias_, u)[:, None]
                + lookup(self.user_factors_, u) @ self.item_repr_.T)

    def predict_aux(self, items: Any) -> pd.DataFrame:
        r"""The auxiliary head's probabilities :math:`\hat y_{ig}` for ``items`` (one row per item).

        Raises ``ValueError`` when the model has no auxiliary head
        (``aux_weight=0``) or an item is not in the catalogue.
        """
        self._check_fitted()
        if not hasattr(self, "_A"):
            raise ValueError("this model was trained without an auxiliary task (aux_weight=0)")
        idx = self.item_index(items)
        if np.any(idx < 0):
            raise ValueError(f"{int((idx < 0).sum())} of the items are not in the model's catalogue")
        z = self.item_repr_[idx] @ self._A + self._e
        return pd.DataFrame(1.0 / (1.0 + np.exp(-z)), index=pd.Index(self.item_ids_[idx], name="item"),
                            columns=self.aux_columns_)

    def item_representation(self, items: Any = None) -> FeatureMatrix:
        r"""The shared representation :math:`\mathbf h_i` of ``items`` (default: the whole catalogue)."""
        self._check_fitted()
        idx = np.arange(self.n_items_) if items is None else self.item_index(items)
        if np.any(idx < 0):
            raise ValueError(f"{int((idx < 0).sum())} of the items are not in the model's catalogue")
        return FeatureMatrix(pd.Index(self.item_ids_[idx], name="item"), self.item_repr_[idx],
                             [f"h{j}" for j in range(int(self.n_factors))], "shared representation")
