"""The adaptive hybrid: a softmax gate on user and item activity sets each pair's weights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from recbook.base import Recommender, _as_1d
from recbook.hybrid._base import _VALIDATION, _Hybrid, _check_models, _pair_counts, _rmse
from recbook.hybrid.scores import _NORMALIZERS, normalize_scores
from recbook.hybrid.weighted import MODELS
from recbook.utils import InstanceOf, Integer, Options, Real

__all__ = ["AdaptiveHybrid"]


def _gate_objective(
    theta: np.ndarray, P: np.ndarray, Zb: np.ndarray, y: np.ndarray, lam: float
) -> tuple[float, np.ndarray]:
    r"""Loss and gradient of the softmax gate.

    With logits :math:`L = Z_b \Theta^\top`, weights :math:`W = \mathrm{softmax}(L)`
    and :math:`p = \sum_c W_c P_c`, the loss is
    :math:`\frac1n \sum (p - y)^2 + \lambda \lVert\Theta\rVert^2` and
    :math:`\partial \mathrm{loss} / \partial L_c = \frac2n (p - y)\, W_c (P_c - p)`.
    """
    n, n_models = P.shape
    T = theta.reshape(n_models, Zb.shape[1])
    logits = Zb @ T.T
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    w /= w.sum(axis=1, keepdims=True)
    p = (w * P).sum(axis=1)
    err = p - y
    g_logit = (2.0 / n) * err[:, None] * w * (P - p[:, None])
    grad = g_logit.T @ Zb + 2.0 * lam * T
    return float(np.mean(err**2) + lam * np.sum(T**2)), grad.ravel()


class AdaptiveHybrid(_Hybrid):
    r"""Adaptive hybrid: a learned gate sets each pair's component weights.

    A weighted hybrid uses the same weights for everyone; but collaborative
    filtering is reliable for an active user and a popular item and unreliable
    for a newcomer, where a content or baseline model does better. The gate
    (a softmax *mixture of experts*) makes the weights a function of the
    pair's context :math:`\mathbf z_{ui}` -- by default the standardised
    :math:`\log(1+n_u)` and :math:`\log(1+n_i)`:

    .. math::

        w_m(\mathbf z) = \frac{\exp(\kappa_m + \boldsymbol\theta_m^\top \mathbf z)}
                              {\sum_{m'} \exp(\kappa_{m'} + \boldsymbol\theta_{m'}^\top \mathbf z)},
        \qquad
        \hat r_{ui} = \sum_m w_m(\mathbf z_{ui})\, \hat r^{(m)}_{ui}.

    The gate's parameters minimise the squared error on a validation split of
    the training data (components fitted on the rest) plus
    :math:`\ell_2` times the squared parameters, by L-BFGS with an analytic
    gradient; then the components are refitted on all training data and the
    gate is kept. The validation split is the ``validation`` protocol's
    :meth:`recbook.evaluate.Protocol.validation_split` with ``seed`` (the
    default ``"rating"``: 10 % of the ratings at random). The counts of the
    validation stage come from the data the components were fitted on (90 %
    of the training data by default), those at prediction time from all of
    it: a small shift, :math:`\log(1/0.9) \approx 0.1` in :math:`\log n`.

    **Validation that looks like deployment.** A gate can only learn about
    contexts its validation data contain: a random split of ratings has
    almost no pair with an unrated item, so the gate would extrapolate to new
    items. With ``cold_item_fraction`` :math:`> 0`, that fraction of the
    training *items* is held out entirely and all their ratings join the
    validation set (the rest is split by ``validation``), so the gate sees
    both warm pairs and :math:`n_i = 0` pairs -- use it when new items matter
    at test time. ``validation="cold-items"`` or ``"cold-users"`` instead
    learns the gate on the new-item or new-user situation alone.

    This is an offline, honestly evaluable form of adaptivity; a bandit that
    picks the component per user from live feedback (e.g. LinUCB, Li et al.,
    2010) needs an interactive loop and is discussed in chapter 9. For top-K
    the gate weights mix per-user standardised scores.

    Parameters
    ----------
    models : list of Recommender
        At least two components.
    context : sequence of {"user_count", "item_count"}
        Which activity features the gate sees (at least one).
    l2 : float
        Ridge penalty on the gate's parameters.
    normalize : {"zscore", "minmax", "none"}
    validation : {"rating", "topk", "cold-items", "cold-users"}
        The protocol whose validation split of the (remaining) training data
        the gate is learned on.
    cold_item_fraction : float
        Fraction of training items whose ratings all go to the validation set
        (in ``[0, 1)``; drawn with ``seed``).
    seed : int

    Attributes
    ----------
    models_ : list of Recommender
    gate_coef_ : numpy.ndarray, shape (n_models, 1 + len(context))
        :math:`[\kappa_m, \boldsymbol\theta_m]` per component.
    validation_rmse_ : dict
        Validation RMSE of each component, of their equal-weight mix and of the gated mix.
    """

    _CONTEXT = ("user_count", "item_count")

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "models": [MODELS],
        "context": [InstanceOf(list, tuple, what="a list of context names")],
        "l2": [Real(min=0)],
        "normalize": [Options(*_NORMALIZERS)],
        "validation": [Options(*_VALIDATION)],
        "cold_item_fraction": [Real(0, 1, max_open=True)],
        "seed": [Integer(min=0)],
    }

    def __init__(
        self,
        models: Sequence[Recommender],
        context: Sequence[str] = ("user_count", "item_count"),
        l2: float = 1e-3,
        normalize: str = "zscore",
        validation: str = "rating",
        cold_item_fraction: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.models = models
        self.context = context
        self.l2 = l2
        self.normalize = normalize
        self.validation = validation
        self.cold_item_fraction = cold_item_fraction
        self.seed = seed

    @classmethod
    def _example(cls, data: Any) -> "AdaptiveHybrid":
        from recbook.baselines import BaselineOnly, ItemMean

        return cls([BaselineOnly(), ItemMean()])

    def _components(self) -> list[Recommender]:
        return list(self.models)

    def _check_params(self) -> None:
        _check_models(self.models, min_len=2)
        if not self.context:
            raise ValueError(f"context must be a non-empty list drawn from {self._CONTEXT}, got {self.context!r}")
        bad = [c for c in self.context if c not in self._CONTEXT]
        if bad or len(set(self.context)) != len(self.context):
            raise ValueError(f"context must list distinct names among {self._CONTEXT}, got {self.context!r}")

    def _fitted_components(self) -> list[Recommender]:
        return self.models_

    def _gate_split(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Fit part and validation part: random ratings, plus every rating of some held-out items."""
        if self.cold_item_fraction == 0:
            return self._validation_split(frame, self.validation, self.seed)
        items = pd.unique(frame["item"])
        n_cold = min(max(1, int(round(self.cold_item_fraction * len(items)))), len(items) - 1)
        cold = items[np.random.default_rng([self.seed, 1]).choice(len(items), size=n_cold, replace=False)]
        is_cold = frame["item"].isin(cold).to_numpy()
        fit_part, val = self._validation_split(frame.iloc[~is_cold], self.validation, self.seed)
        return fit_part, pd.concat([val, frame.iloc[is_cold]])

    def _context(self, cu: np.ndarray, ci: np.ndarray) -> np.ndarray:
        cols = {"user_count": np.log1p(cu), "item_count": np.log1p(ci)}
        return np.column_stack([cols[c] for c in self.context])

    def _gate(self, Z: np.ndarray) -> np.ndarray:
        Zs = (Z - self._z_mean) / self._z_std
        logits = self.gate_coef_[:, 0][None, :] + Zs @ self.gate_coef_[:, 1:].T
        logits -= logits.max(axis=1, keepdims=True)
        w = np.exp(logits)
        return w / w.sum(axis=1, keepdims=True)

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        from scipy.optimize import minimize

        fit_part, val = self._gate_split(frame)
        users, items = val["user"].to_numpy(), val["item"].to_numpy()
        y = val["rating"].to_numpy(dtype=np.float64)
        P = np.column_stack([clone(m).fit(fit_part).predict(users, items) for m in self.models])
        Z = self._context(*_pair_counts(fit_part, users, items))
        self._z_mean = Z.mean(axis=0)
        std = Z.std(axis=0)
        self._z_std = np.where(std > 0, std, 1.0)
        Zb = np.column_stack([np.ones(len(Z)), (Z - self._z_mean) / self._z_std])
        n, n_models = P.shape
        lam = float(self.l2)

        res = minimize(_gate_objective, np.zeros(n_models * Zb.shape[1]), args=(P, Zb, y, lam), jac=True,
                       method="L-BFGS-B", options={"maxiter": 500})  # fmt: skip
        self.gate_coef_ = res.x.reshape(n_models, Zb.shape[1])
        W = self._gate(Z)
        self.validation_rmse_ = {f"model_{j}": _rmse(y, P[:, j]) for j in range(n_models)}
        self.validation_rmse_["equal_weights"] = _rmse(y, P.mean(axis=1))
        self.validation_rmse_["hybrid"] = _rmse(y, (W * P).sum(axis=1))
        self.models_ = [clone(m).fit(frame) for m in self.models]

    def gate_weights(self, users: Any, items: Any) -> np.ndarray:
        """The gate's weights, shape ``(n_pairs, n_models)``, for raw-id pairs."""
        self._check_fitted()
        users, items = _as_1d(users, "users"), _as_1d(items, "items")
        if len(users) != len(items):
            raise ValueError(f"users and items must have the same length, got {len(users)} and {len(items)}")
        cu, ci = self._counts(self.user_index(users), self.item_index(items))
        return self._gate(self._context(cu, ci))

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        W = self._gate(self._context(*self._counts(u, i)))
        P = np.column_stack([self._comp_predict(c, u, i) for c in range(len(self.models_))])
        return (W * P).sum(axis=1)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        n_items = self.n_items_
        uu = np.repeat(u, n_items)
        ii = np.tile(np.arange(n_items, dtype=np.int64), len(u))
        W = self._gate(self._context(*self._counts(uu, ii)))
        out = np.zeros((len(u), n_items))
        for c in range(len(self.models_)):
            out += W[:, c].reshape(len(u), n_items) * normalize_scores(self._comp_scores(c, u), self.normalize)
        return out

    def _score_parts(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gate weights and normalised scores, each ``(len(u), n_items_, n_models)``."""
        n_items = self.n_items_
        uu = np.repeat(u, n_items)
        ii = np.tile(np.arange(n_items, dtype=np.int64), len(u))
        W = self._gate(self._context(*self._counts(uu, ii))).reshape(len(u), n_items, -1)
        Z = np.stack([normalize_scores(self._comp_scores(c, u), self.normalize) for c in range(len(self.models_))], axis=2)
        return W, Z
