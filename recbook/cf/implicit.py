r"""Top-K models for implicit feedback: :class:`ImplicitALS`, :class:`BPR`, :class:`EASE`.

Implicit feedback records *that* a user interacted with an item (a click, a
play, a purchase, or simply the fact that a movie was rated), not how much
they liked it. There are no negative examples, only unobserved pairs, so the
models here learn a *score* for ranking rather than a rating: they are ranking
models (``predict`` returns unclipped scores) and are evaluated with the full
ranking protocol of :func:`recbook.evaluate.evaluate_topk`.

Each training pair ``(u, i)`` is one interaction (a duplicated pair counts
once, with its last ``rating``); the ``rating`` column, 1.0 when absent, is the
interaction strength :math:`r_{ui}` used by :class:`ImplicitALS`'s confidence.
:class:`BPR` and :class:`EASE` only use *whether* a pair was observed.

**Unknown users and items** (the policy of :mod:`recbook.base` for ranking
models): an unknown user gets the popularity score of each item (its number
of training users), so ``recommend`` gives them the most popular items; a
pair with an unknown item scores 0.

References
----------
Y. Hu, Y. Koren and C. Volinsky, "Collaborative filtering for implicit
feedback datasets", ICDM 2008.
S. Rendle, C. Freudenthaler, Z. Gantner and L. Schmidt-Thieme, "BPR: Bayesian
personalized ranking from implicit feedback", UAI 2009.
H. Steck, "Embarrassingly shallow autoencoders for sparse data", WWW 2019.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from typing import ClassVar

from recbook.base import Recommender
from recbook.utils import Integer, Real, history_frame

__all__ = ["ImplicitALS", "BPR", "EASE"]


class _RankingModel(Recommender):
    """Shared pieces: the binary interaction matrix, popularity fallback, scoring."""

    _rating_model = False

    def _interactions(self) -> sp.csr_matrix:
        """Training pairs as a CSR matrix with sorted indices (value = last rating)."""
        X = self.train_.tocsr(copy=True)
        X.sort_indices()
        return X

    def _set_popularity(self, X: sp.csr_matrix) -> None:
        self.popularity_ = np.bincount(X.indices, minlength=self.n_items_).astype(np.float64)

    def _known_scores(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _known_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        out = np.zeros(len(u))
        ki = i >= 0
        ku = u >= 0
        cold = ki & ~ku
        out[cold] = self.popularity_[i[cold]]
        both = ki & ku
        if both.any():
            out[both] = self._known_pairs(u[both], i[both])
        return out

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        known = u >= 0
        scores = np.empty((len(u), self.n_items_))
        if known.any():
            scores[known] = self._known_scores(u[known])
        scores[~known] = self.popularity_
        return scores


# --------------------------------------------------------------------------
# implicit ALS
# --------------------------------------------------------------------------
@numba.njit(cache=True)
def _ials_half(indptr, indices, conf, Y, YtY, reg, out):  # pragma: no cover - compiled
    """p_u = (Q^T Q + Q_u^T (C_u - I) Q_u + reg I)^{-1} Q_u^T C_u 1 for every row u (Y = the fixed side)."""
    k = Y.shape[1]
    base = YtY + reg * np.eye(k)
    for uu in range(out.shape[0]):
        start = indptr[uu]
        stop = indptr[uu + 1]
        if stop == start:
            out[uu] = np.linalg.solve(base, np.zeros(k))
            continue
        Yu = np.ascontiguousarray(Y[indices[start:stop]])
        c = conf[start:stop]  # c_uj - 1 = alpha * r_uj
        W = Yu * c.reshape(-1, 1)
        A = base + np.dot(W.T, Yu)
        b = np.dot(Yu.T, c + 1.0)
        out[uu] = np.linalg.solve(A, b)


class ImplicitALS(_RankingModel):
    r"""Weighted matrix factorisation for implicit feedback (Hu, Koren & Volinsky 2008).

    Every (user, item) pair is a training example: the observed indicator
    :math:`o_{ui} = 1` if the pair was observed and 0 otherwise (Hu et al.
    write :math:`p_{ui}`), trusted with confidence
    :math:`c_{ui} = 1 + \alpha r_{ui}` (1 for unobserved pairs). The loss over
    *all* pairs is

    .. math::

        \sum_{u,i} c_{ui} (o_{ui} - q_i^\top p_u)^2
        + \lambda \Bigl(\sum_u \lVert p_u\rVert^2 + \sum_i \lVert q_i\rVert^2\Bigr).

    With the item factors :math:`Q` fixed, each user's factors solve

    .. math::

        \bigl(Q^\top Q + Q^\top (C^u - I) Q + \lambda I\bigr)\, p_u = Q^\top C^u o_u,

    where :math:`C^u` is the diagonal matrix of the user's confidences and
    :math:`o_u` the user's 0/1 row. :math:`C^u - I` is non-zero only on the
    user's items, so the dense :math:`Q^\top Q` is computed once per half-step
    (the ":math:`Y^\top Y` trick" of the paper, whose item factors are
    :math:`Y`) and each system costs :math:`O(|I_u| d^2 + d^3)` instead of
    :math:`O(|I| d^2)`.
    Items are solved symmetrically. Systems are solved exactly (LAPACK, in a
    compiled loop, BLAS limited to one thread for these small systems). Factors start at ``RandomState(seed).normal(0, 0.01)``
    (users, then items); one epoch is users then items. The score of a pair is
    :math:`q_i^\top p_u`.

    Parameters
    ----------
    n_factors : int, default 64
        Latent dimension :math:`d`.
    n_epochs : int, default 15
    reg : float, default 0.01
        :math:`\lambda` (>= 0).
    alpha : float, default 40.0
        Confidence slope :math:`\alpha` (>= 0).
    seed : int, default 0

    Attributes
    ----------
    user_factors_, item_factors_ : np.ndarray
    history_ : pandas.DataFrame
        ``epoch`` and ``loss``: the weighted loss (above, including the
        regularisation) after each epoch, divided by the number of user-item pairs.

    References
    ----------
    Y. Hu, Y. Koren and C. Volinsky, "Collaborative filtering for implicit
    feedback datasets", ICDM 2008.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "n_factors": [Integer(min=1)],
        "n_epochs": [Integer(min=1)],
        "reg": [Real(min=0)],
        "alpha": [Real(min=0)],
        "seed": [Integer(min=0)],
    }

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 15,
        reg: float = 0.01,
        alpha: float = 40.0,
        seed: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.reg = reg
        self.alpha = alpha
        self.seed = seed

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        X = self._interactions()
        if np.any(X.data < 0):
            raise ValueError(
                "ImplicitALS needs non-negative interaction strengths (rating column); "
                f"got a minimum of {X.data.min()}"
            )
        self._set_popularity(X)
        XT = X.T.tocsr()
        XT.sort_indices()
        alpha, reg, f = float(self.alpha), float(self.reg), self.n_factors
        rng = np.random.RandomState(self.seed)
        users = rng.normal(0.0, 0.01, (self.n_users_, f))
        items = rng.normal(0.0, 0.01, (self.n_items_, f))
        conf_u = alpha * X.data
        conf_i = alpha * XT.data
        history = np.zeros(self.n_epochs)
        # thousands of tiny f x f systems: BLAS threads only add overhead
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                for epoch in range(self.n_epochs):
                    _ials_half(X.indptr, X.indices, conf_u, items, items.T @ items, reg, users)
                    _ials_half(XT.indptr, XT.indices, conf_i, users, users.T @ users, reg, items)
                    history[epoch] = self._loss(X, users, items, alpha, reg)
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                f"ImplicitALS: a normal-equation system is singular ({exc}); use reg > 0 "
                f"(got reg={self.reg!r})"
            ) from None
        self.user_factors_, self.item_factors_ = users, items
        self.history_ = history_frame(history, "loss")

    def _loss(self, X: sp.csr_matrix, users: np.ndarray, items: np.ndarray, alpha: float, reg: float) -> float:
        # sum over all pairs of (0 - s)^2 = ||U I^T||_F^2, computed as trace((U^T U)(I^T I)),
        # then correct the observed pairs: c (1 - s)^2 - s^2
        coo = X.tocoo()
        s = np.einsum("nf,nf->n", users[coo.row], items[coo.col])
        c = 1.0 + alpha * coo.data
        total = float(np.sum((users.T @ users) * (items.T @ items)))
        total += float(np.sum(c * (1.0 - s) ** 2 - s**2))
        total += reg * (float(np.sum(users**2)) + float(np.sum(items**2)))
        return total / (self.n_users_ * self.n_items_)

    def _known_scores(self, u: np.ndarray) -> np.ndarray:
        return self.user_factors_[u] @ self.item_factors_.T

    def _known_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return np.einsum("nf,nf->n", self.user_factors_[u], self.item_factors_[i])


# --------------------------------------------------------------------------
# BPR
# --------------------------------------------------------------------------
@numba.njit(cache=True)
def _bpr_epochs(indptr, indices, row_of, P, Q, b, lr, reg, n_epochs, seed, history):  # pragma: no cover
    np.random.seed(seed)
    n_pos = indices.shape[0]
    n_items = Q.shape[0]
    k = P.shape[1]
    for epoch in range(n_epochs):
        loss = 0.0
        n_used = 0
        for _ in range(n_pos):
            t = np.random.randint(0, n_pos)
            uu = row_of[t]
            ii = indices[t]
            start = indptr[uu]
            stop = indptr[uu + 1]
            if stop - start >= n_items:
                continue  # the user has seen every item: no negative exists
            while True:  # uniform negative by rejection (indices are sorted)
                jj = np.random.randint(0, n_items)
                lo = start
                hi = stop
                while lo < hi:
                    mid = (lo + hi) // 2
                    if indices[mid] < jj:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo == stop or indices[lo] != jj:
                    break
            x = b[ii] - b[jj]
            for f in range(k):
                x += P[uu, f] * (Q[ii, f] - Q[jj, f])
            # g = sigma(-x) = d/dx ln sigma(x); loss = -ln sigma(x) = ln(1 + e^{-x})
            if x >= 0:
                ex = np.exp(-x)
                g = ex / (1.0 + ex)
                loss += np.log1p(ex)
            else:
                ex = np.exp(x)
                g = 1.0 / (1.0 + ex)
                loss += -x + np.log1p(ex)
            n_used += 1
            b[ii] += lr * (g - reg * b[ii])
            b[jj] += lr * (-g - reg * b[jj])
            for f in range(k):
                pf = P[uu, f]
                qi = Q[ii, f]
                qj = Q[jj, f]
                P[uu, f] += lr * (g * (qi - qj) - reg * pf)
                Q[ii, f] += lr * (g * pf - reg * qi)
                Q[jj, f] += lr * (-g * pf - reg * qj)
        history[epoch] = loss / max(n_used, 1)


class BPR(_RankingModel):
    r"""Bayesian personalised ranking with matrix factorisation (Rendle et al. 2009).

    BPR learns from *pairs*: a user should score an item they interacted with,
    :math:`i \in I_u`, above one they did not, :math:`j \notin I_u`. With the
    score :math:`\hat r_{ui} = q_i^\top p_u + b_i` and
    :math:`\hat x_{uij} = \hat r_{ui} - \hat r_{uj}`, it maximises

    .. math::

        \sum_{(u,i,j)} \ln \sigma(\hat x_{uij})
        - \lambda \bigl(\lVert p_u\rVert^2 + \lVert q_i\rVert^2
        + \lVert q_j\rVert^2 + b_i^2 + b_j^2\bigr)

    by LearnBPR: SGD on triples drawn with replacement -- a positive pair
    :math:`(u, i)` uniformly from the training interactions, then a negative
    :math:`j` uniformly from the items :math:`u` has not interacted with.
    With :math:`g = \sigma(-\hat x_{uij}) = 1 - \sigma(\hat x_{uij})`, one step is

    .. math::

        p_u &\leftarrow p_u + \gamma \bigl(g(q_i - q_j) - \lambda p_u\bigr) \\
        q_i &\leftarrow q_i + \gamma (g\,p_u - \lambda q_i), \quad
        q_j \leftarrow q_j + \gamma (-g\,p_u - \lambda q_j) \\
        b_i &\leftarrow b_i + \gamma (g - \lambda b_i), \quad
        b_j \leftarrow b_j + \gamma (-g - \lambda b_j).

    An epoch draws as many triples as there are training interactions. The
    item bias :math:`b_i` is the common extension of Rendle's model (as in
    Cornac and LightFM). Factors start at ``RandomState(seed).normal(0, 0.01)``
    (users, then items), biases at 0; the sampler is seeded with ``seed``.
    The defaults were chosen on a validation split of the ml-100k training
    data (section 3.4 of the book); an epoch takes about 10 ms there.

    Parameters
    ----------
    n_factors : int, default 64
        Latent dimension :math:`d`.
    n_epochs : int, default 100
    lr : float, default 0.02
        Step size :math:`\gamma` (> 0).
    reg : float, default 0.01
        :math:`\lambda` (>= 0).
    seed : int, default 0

    Attributes
    ----------
    user_factors_, item_factors_, item_bias_ : np.ndarray
    history_ : pandas.DataFrame
        ``epoch`` and ``loss``: the mean BPR loss :math:`-\ln\sigma(\hat x_{uij})`
        of the triples of each epoch (measured just before each step).

    References
    ----------
    S. Rendle et al., "BPR: Bayesian personalized ranking from implicit
    feedback", UAI 2009.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "n_factors": [Integer(min=1)],
        "n_epochs": [Integer(min=1)],
        "lr": [Real(min=0, min_open=True)],
        "reg": [Real(min=0)],
        "seed": [Integer(min=0)],
    }

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 100,
        lr: float = 0.02,
        reg: float = 0.01,
        seed: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr = lr
        self.reg = reg
        self.seed = seed

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        X = self._interactions()
        self._set_popularity(X)
        rng = np.random.RandomState(self.seed)
        P = rng.normal(0.0, 0.01, (self.n_users_, self.n_factors))
        Q = rng.normal(0.0, 0.01, (self.n_items_, self.n_factors))
        b = np.zeros(self.n_items_)
        row_of = np.repeat(np.arange(self.n_users_, dtype=np.int64), np.diff(X.indptr))
        history = np.zeros(self.n_epochs)
        _bpr_epochs(
            X.indptr.astype(np.int64), X.indices.astype(np.int64), row_of, P, Q, b,
            float(self.lr), float(self.reg), int(self.n_epochs), int(self.seed) % 2**32, history,
        )  # fmt: skip
        self.user_factors_, self.item_factors_, self.item_bias_ = P, Q, b
        self.history_ = history_frame(history, "loss")

    def _known_scores(self, u: np.ndarray) -> np.ndarray:
        return self.user_factors_[u] @ self.item_factors_.T + self.item_bias_[None, :]

    def _known_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return np.einsum("nf,nf->n", self.user_factors_[u], self.item_factors_[i]) + self.item_bias_[i]


# --------------------------------------------------------------------------
# EASE
# --------------------------------------------------------------------------
class EASE(_RankingModel):
    r"""Embarrassingly shallow autoencoder (Steck 2019): an item-item model in closed form.

    With the binary user-item matrix :math:`X` (1 where a pair was observed),
    EASE learns an item-item weight matrix :math:`B` with a zero diagonal
    (an item may not predict itself):

    .. math::

        \min_B \lVert X - XB \rVert_F^2 + \lambda \lVert B \rVert_F^2
        \quad \text{s.t. } \operatorname{diag}(B) = 0 .

    The Lagrangian, with one multiplier :math:`\nu_j` per constraint
    :math:`B_{jj} = 0`, gives the closed form, with
    :math:`P = (X^\top X + \lambda I)^{-1}`,

    .. math::

        B = I - P \,\operatorname{diag}(1 / \operatorname{diag}(P)),
        \qquad B_{ij} = -P_{ij} / P_{jj} \ (i \ne j),\ B_{jj} = 0 ,

    and the scores of user :math:`u` are the row :math:`x_u B` (:math:`x_u`
    the user's row of :math:`X`). The cost
    is one :math:`|I| \times |I|` inversion (memory :math:`O(|I|^2)`), fine for
    a catalogue of a few tens of thousands of items.

    Parameters
    ----------
    reg : float, default 500.0
        :math:`\lambda` (> 0 so that the system is invertible).

    Attributes
    ----------
    B_ : np.ndarray
        ``(n_items_, n_items_)`` item-item weights, zero diagonal.

    References
    ----------
    H. Steck, "Embarrassingly shallow autoencoders for sparse data", WWW 2019.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {"reg": [Real(min=0, min_open=True)]}

    def __init__(self, reg: float = 500.0) -> None:
        self.reg = reg

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        reg = float(self.reg)
        X = self._interactions()
        X.data[:] = 1.0
        self._set_popularity(X)
        G = (X.T @ X).toarray()
        G[np.diag_indices_from(G)] += reg
        P = np.linalg.inv(G)
        B = -P / np.diag(P)[None, :]
        B[np.diag_indices_from(B)] = 0.0
        self.B_ = B
        self._X = X

    def _known_scores(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(self._X[u] @ self.B_)

    def _known_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        rows = self._known_scores(np.unique(u))
        pos = np.searchsorted(np.unique(u), u)
        return rows[pos, i]
