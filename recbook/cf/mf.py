r"""Matrix factorisation for explicit ratings: :class:`BiasedMF`, :class:`SVDpp`, :class:`ALS`.

All three fit the latent-factor model of Koren, Bell & Volinsky (2009),

.. math::

    \hat r_{ui} = \mu + b_u + b_i + q_i^\top p_u ,

with :math:`p_u, q_i \in \mathbb R^d`, by minimising the
regularised squared error over the training ratings :math:`R`

.. math::

    \sum_{(u,i) \in R} \bigl(r_{ui} - \hat r_{ui}\bigr)^2
    + \lambda \bigl(b_u^2 + b_i^2 + \lVert q_i \rVert^2 + \lVert p_u \rVert^2\bigr).

:class:`BiasedMF` and :class:`SVDpp` minimise it by stochastic gradient
descent in the exact order of Surprise's ``SVD`` and ``SVDpp`` (so that, with
the same seed, they reproduce Surprise's predictions); :class:`ALS` by
alternating exact ridge regressions.

**Unknown users and items** (the policy of :mod:`recbook.base`): the estimate
uses only the known parts, :math:`\mu`, plus :math:`b_u` if the user is
known, plus :math:`b_i` if the item is known, plus the factor term if both
are -- exactly what Surprise's ``SVD`` does. Predictions are clipped to the
training rating scale.

**Fitted attributes** use the package's vocabulary: ``user_bias_``,
``item_bias_``, ``user_factors_``, ``item_factors_`` (Surprise's ``bu``,
``bi``, ``pu``, ``qi``: ``bu_``, ``bi_``, ``pu_``, ``qi_`` are aliases), and
``history_``, a DataFrame with the training RMSE after each epoch
(``epoch``, ``train_rmse``; computed exactly, before clipping). Because a fit with
``n_epochs=e`` is the first ``e`` epochs of a longer fit with the same seed,
held-out curves are obtained by refitting with ``n_epochs = 1, 2, ...``.

References
----------
Y. Koren, R. Bell and C. Volinsky, "Matrix factorization techniques for
recommender systems", IEEE Computer 42(8), 2009.
Y. Koren, "Factorization meets the neighborhood: a multifaceted collaborative
filtering model", KDD 2008.
N. Hug, "Surprise: a Python library for recommender systems", JOSS 5(52), 2020.
"""

from __future__ import annotations


import numba
import numpy as np
from threadpoolctl import threadpool_limits

from typing import ClassVar

from recbook.base import Recommender, SurpriseNames, lookup
from recbook.utils import Integer, Real, history_frame

#: The hyper-parameters the three models share.
_MF_CONSTRAINTS: dict[str, list] = {
    "n_factors": [Integer(min=1)],
    "n_epochs": [Integer(min=1)],
    "reg": [Real(min=0)],
    "init_std": [Real(min=0)],
    "seed": [Integer(min=0)],
}


__all__ = ["BiasedMF", "SVDpp", "ALS"]


def _user_order(u: np.ndarray) -> np.ndarray:
    """Surprise's visiting order: user by user (inner id order), each in training order."""
    return np.argsort(u, kind="stable")


# --------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------
@numba.njit(cache=True)
def _train_rmse(u, i, r, mu, bu, bi, pu, qi):  # pragma: no cover - compiled
    n = r.shape[0]
    k = pu.shape[1]
    sse = 0.0
    for idx in range(n):
        uu = u[idx]
        ii = i[idx]
        dot = 0.0
        for f in range(k):
            dot += qi[ii, f] * pu[uu, f]
        e = r[idx] - (mu + bu[uu] + bi[ii] + dot)
        sse += e * e
    return np.sqrt(sse / n)


@numba.njit(cache=True)
def _svd_sgd(u, i, r, mu, bu, bi, pu, qi, lr, reg, n_epochs, history):  # pragma: no cover
    """Surprise's SVD.sgd, statement for statement (arrays updated in place)."""
    n = r.shape[0]
    k = pu.shape[1]
    for epoch in range(n_epochs):
        for idx in range(n):
            uu = u[idx]
            ii = i[idx]
            dot = 0.0
            for f in range(k):
                dot += qi[ii, f] * pu[uu, f]
            err = r[idx] - (mu + bu[uu] + bi[ii] + dot)
            bu[uu] += lr * (err - reg * bu[uu])
            bi[ii] += lr * (err - reg * bi[ii])
            for f in range(k):
                puf = pu[uu, f]
                qif = qi[ii, f]
                pu[uu, f] += lr * (err * qif - reg * puf)
                qi[ii, f] += lr * (err * puf - reg * qif)
        history[epoch] = _train_rmse(u, i, r, mu, bu, bi, pu, qi)


@numba.njit(cache=True)
def _svdpp_user_vectors(indptr, indices, pu, yj):  # pragma: no cover
    """p_u + |I_u|^{-1/2} sum_{j in I_u} y_j for every user."""
    n_users, k = pu.shape
    out = pu.copy()
    for uu in range(n_users):
        start = indptr[uu]
        stop = indptr[uu + 1]
        if stop == start:
            continue
        s = np.sqrt(stop - start)
        for p in range(start, stop):
            j = indices[p]
            for f in range(k):
                out[uu, f] += yj[j, f] / s
    return out


@numba.njit(cache=True)
def _svdpp_sgd(u, i, r, indptr, indices, mu, bu, bi, pu, qi, yj, lr, reg, n_epochs, history):  # pragma: no cover
    """Surprise's SVDpp.sgd with the y_j updates of one user's block deferred.

    ``u`` must be sorted (user by user). Inside user u's block every y_j,
    j in I_u, receives the same affine update per rating,
    y_j <- (1 - lr reg) y_j + lr e q_i / sqrt|I_u|, so after m ratings
    y_j = A y_j^start + B with a scalar A and a vector B; the implicit sum is
    z = A z^start + sqrt|I_u| B. Applying A, B once at the end of the block
    is exactly Surprise's per-rating update, at O(|I_u| d) per user instead
    of per rating.
    """
    n = r.shape[0]
    k = pu.shape[1]
    z0 = np.zeros(k)
    z = np.zeros(k)
    B = np.zeros(k)
    decay = 1.0 - lr * reg
    for epoch in range(n_epochs):
        idx = 0
        while idx < n:
            uu = u[idx]
            end = idx
            while end < n and u[end] == uu:
                end += 1
            start_j = indptr[uu]
            stop_j = indptr[uu + 1]
            n_j = stop_j - start_j
            sq = np.sqrt(n_j)
            for f in range(k):
                z0[f] = 0.0
                B[f] = 0.0
            for p in range(start_j, stop_j):
                j = indices[p]
                for f in range(k):
                    z0[f] += yj[j, f] / sq
            A = 1.0
            for t in range(idx, end):
                ii = i[t]
                for f in range(k):
                    z[f] = A * z0[f] + sq * B[f]
                dot = 0.0
                for f in range(k):
                    dot += qi[ii, f] * (pu[uu, f] + z[f])
                err = r[t] - (mu + bu[uu] + bi[ii] + dot)
                bu[uu] += lr * (err - reg * bu[uu])
                bi[ii] += lr * (err - reg * bi[ii])
                for f in range(k):
                    puf = pu[uu, f]
                    qif = qi[ii, f]
                    pu[uu, f] += lr * (err * qif - reg * puf)
                    qi[ii, f] += lr * (err * (puf + z[f]) - reg * qif)
                    B[f] = decay * B[f] + lr * err * qif / sq
                A *= decay
            for p in range(start_j, stop_j):
                j = indices[p]
                for f in range(k):
                    yj[j, f] = A * yj[j, f] + B[f]
            idx = end
        eff = _svdpp_user_vectors(indptr, indices, pu, yj)
        history[epoch] = _train_rmse(u, i, r, mu, bu, bi, eff, qi)


# --------------------------------------------------------------------------
# shared prediction code for mu + b_u + b_i + q_i . x_u models
# --------------------------------------------------------------------------
class _FactorRatingModel(SurpriseNames, Recommender):
    """Prediction for :math:`\\mu + b_u + b_i + q_i^\\top x_u`.

    Subclasses set ``user_bias_, item_bias_, item_factors_`` and
    ``_user_vectors`` (the vector :math:`x_u` that multiplies :math:`q_i`).
    """

    _user_vectors: np.ndarray

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        est = self.global_mean_ + lookup(self.user_bias_, u) + lookup(self.item_bias_, i)
        both = (u >= 0) & (i >= 0)
        est[both] += np.einsum("nf,nf->n", self.item_factors_[i[both]], self._user_vectors[u[both]])
        return est

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        scores = lookup(self._user_vectors, u) @ self.item_factors_.T
        scores += lookup(self.user_bias_, u)[:, None]
        scores += self.item_bias_[None, :] + self.global_mean_
        np.clip(scores, *self.rating_scale_, out=scores)
        return scores


class BiasedMF(_FactorRatingModel):
    r"""Biased matrix factorisation trained by SGD: Surprise's ``SVD``, exactly.

    Model and loss (Koren, Bell & Volinsky 2009, eq. 5):

    .. math::

        \hat r_{ui} = \mu + b_u + b_i + q_i^\top p_u, \qquad
        \min \sum_{(u,i)\in R} (r_{ui} - \hat r_{ui})^2
        + \lambda (b_u^2 + b_i^2 + \lVert q_i\rVert^2 + \lVert p_u\rVert^2).

    For each training rating, with :math:`e_{ui} = r_{ui} - \hat r_{ui}`
    computed once from the current parameters, SGD takes the steps

    .. math::

        b_u &\leftarrow b_u + \gamma (e_{ui} - \lambda b_u) \\
        b_i &\leftarrow b_i + \gamma (e_{ui} - \lambda b_i) \\
        p_u &\leftarrow p_u + \gamma (e_{ui} q_i - \lambda p_u) \\
        q_i &\leftarrow q_i + \gamma (e_{ui} p_u - \lambda q_i)

    (the two factor updates use the *old* :math:`p_u, q_i`).
    Everything follows Surprise's ``SVD`` with ``random_state=seed``:
    biases start at 0; ``P`` then ``Q`` are drawn with
    ``np.random.RandomState(seed).normal(0, init_std, ...)``; each epoch visits
    the ratings user by user, users in order of first appearance in the
    training frame, each user's ratings in frame order. With the same training
    frame and seed, predictions agree with Surprise to about 1e-12.

    Parameters
    ----------
    n_factors : int, default 100
        Latent dimension :math:`d`.
    n_epochs : int, default 20
        Passes over the training ratings.
    lr : float, default 0.005
        Step size :math:`\gamma` (> 0).
    reg : float, default 0.02
        Regularisation :math:`\lambda` (>= 0).
    init_std : float, default 0.1
        Standard deviation of the initial factors (>= 0).
    seed : int, default 0
        Seed of the ``RandomState`` that draws the initial factors.

    Attributes
    ----------
    user_bias_, item_bias_ : np.ndarray
        :math:`b_u` and :math:`b_i` (aliases ``bu_``, ``bi_``).
    user_factors_, item_factors_ : np.ndarray
        :math:`P` ``(n_users_, d)`` and :math:`Q` ``(n_items_, d)`` (aliases ``pu_``, ``qi_``).
    history_ : pandas.DataFrame
        ``epoch`` and ``train_rmse``, the training RMSE after each epoch.

    References
    ----------
    Koren, Bell & Volinsky, "Matrix factorization techniques for recommender
    systems", IEEE Computer, 2009. Hug, "Surprise", JOSS, 2020.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {**_MF_CONSTRAINTS, "lr": [Real(min=0, min_open=True)]}

    def __init__(
        self,
        n_factors: int = 100,
        n_epochs: int = 20,
        lr: float = 0.005,
        reg: float = 0.02,
        init_std: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr = lr
        self.reg = reg
        self.init_std = init_std
        self.seed = seed

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        rng = np.random.RandomState(self.seed)
        pu = rng.normal(0.0, self.init_std, (self.n_users_, self.n_factors))
        qi = rng.normal(0.0, self.init_std, (self.n_items_, self.n_factors))
        bu = np.zeros(self.n_users_)
        bi = np.zeros(self.n_items_)
        order = _user_order(u)
        history = np.zeros(self.n_epochs)
        _svd_sgd(
            u[order], i[order], r[order], self.global_mean_, bu, bi, pu, qi,
            float(self.lr), float(self.reg), int(self.n_epochs), history,
        )  # fmt: skip
        self.user_bias_, self.item_bias_, self.user_factors_, self.item_factors_ = bu, bi, pu, qi
        self._user_vectors = pu
        self.history_ = history_frame(history, "train_rmse")


class SVDpp(_FactorRatingModel):
    r"""SVD++ (Koren 2008): biased MF plus the implicit feedback of *which* items a user rated.

    .. math::

        \hat r_{ui} = \mu + b_u + b_i + q_i^\top \Bigl(p_u
        + |I_u|^{-1/2} \sum_{j \in I_u} y_j\Bigr),

    where :math:`I_u` is the set of items :math:`u` rated in training. The
    loss is the squared error plus :math:`\lambda` times the squared norms of
    every parameter involved; SGD (Surprise's ``SVDpp`` order and
    initialisation: ``P``, ``Q``, then ``Y`` drawn from
    ``RandomState(seed).normal(0, init_std)``) takes, with
    :math:`z_u = |I_u|^{-1/2}\sum_{j\in I_u}y_j`,

    .. math::

        b_u &\leftarrow b_u + \gamma (e_{ui} - \lambda b_u), \quad
        b_i \leftarrow b_i + \gamma (e_{ui} - \lambda b_i) \\
        p_u &\leftarrow p_u + \gamma (e_{ui} q_i - \lambda p_u) \\
        q_i &\leftarrow q_i + \gamma (e_{ui} (p_u + z_u) - \lambda q_i) \\
        y_j &\leftarrow y_j + \gamma (e_{ui} |I_u|^{-1/2} q_i - \lambda y_j)
        \quad \forall j \in I_u.

    The :math:`y_j` step is the same affine map for every
    :math:`j \in I_u` and every rating of the user's block, so it is
    accumulated and applied once per user: mathematically identical to
    Surprise's per-rating loop (agreement about 1e-10), but
    :math:`O(|R| d)` per epoch instead of :math:`O(\sum_u |I_u|^2 d)`.
    :math:`I_u` holds distinct items (Surprise counts a duplicated rating
    twice; the two agree on frames without duplicates).

    Parameters
    ----------
    n_factors : int, default 20
        Latent dimension :math:`d`.
    n_epochs : int, default 20
    lr : float, default 0.007
    reg : float, default 0.02
    init_std : float, default 0.1
    seed : int, default 0

    Attributes
    ----------
    user_bias_, item_bias_, user_factors_, item_factors_ : np.ndarray
        As in :class:`BiasedMF` (aliases ``bu_``, ``bi_``, ``pu_``, ``qi_``).
    implicit_factors_ : np.ndarray
        The implicit item factors :math:`y_j` (alias ``yj_``, Surprise's name).
    history_ : pandas.DataFrame
        ``epoch`` and ``train_rmse``.

    References
    ----------
    Y. Koren, "Factorization meets the neighborhood: a multifaceted
    collaborative filtering model", KDD 2008, section 4.
    """

    def __init__(
        self,
        n_factors: int = 20,
        n_epochs: int = 20,
        lr: float = 0.007,
        reg: float = 0.02,
        init_std: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr = lr
        self.reg = reg
        self.init_std = init_std
        self.seed = seed

    _parameter_constraints: ClassVar[dict[str, list]] = {**_MF_CONSTRAINTS, "lr": [Real(min=0, min_open=True)]}

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        rng = np.random.RandomState(self.seed)
        f = self.n_factors
        pu = rng.normal(0.0, self.init_std, (self.n_users_, f))
        qi = rng.normal(0.0, self.init_std, (self.n_items_, f))
        yj = rng.normal(0.0, self.init_std, (self.n_items_, f))
        bu = np.zeros(self.n_users_)
        bi = np.zeros(self.n_items_)
        order = _user_order(u)
        us, is_, rs = u[order], i[order], r[order]
        # I_u: distinct items of each user, in order of first rating
        indptr, indices = _distinct_items_per_user(us, is_, self.n_users_)
        history = np.zeros(self.n_epochs)
        _svdpp_sgd(
            us, is_, rs, indptr, indices, self.global_mean_, bu, bi, pu, qi, yj,
            float(self.lr), float(self.reg), int(self.n_epochs), history,
        )  # fmt: skip
        self.user_bias_, self.item_bias_, self.user_factors_, self.item_factors_ = bu, bi, pu, qi
        self.implicit_factors_ = yj
        self._user_vectors = _svdpp_user_vectors(indptr, indices, pu, yj)
        self.history_ = history_frame(history, "train_rmse")

    @property
    def yj_(self) -> np.ndarray:
        """Alias of ``implicit_factors_`` (Surprise's ``yj``)."""
        return self.implicit_factors_


def _distinct_items_per_user(us: np.ndarray, is_: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr, indices)`` of the distinct items of each user (``us`` sorted)."""
    keep = ~_duplicated_pairs(us, is_)
    u_k, i_k = us[keep], is_[keep]
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(u_k, minlength=n_users), out=indptr[1:])
    return indptr, i_k.astype(np.int64)


def _duplicated_pairs(u: np.ndarray, i: np.ndarray) -> np.ndarray:
    key = u.astype(np.int64) * (int(i.max()) + 1 if len(i) else 1) + i
    _, first = np.unique(key, return_index=True)
    dup = np.ones(len(u), dtype=bool)
    dup[first] = False
    return dup


class ALS(_FactorRatingModel):
    r"""Biased matrix factorisation fitted by alternating least squares.

    Same model and loss as :class:`BiasedMF`. With the items fixed, the loss
    separates over users and each user's problem is a ridge regression: with
    the user's unknowns :math:`\tilde p_u = (p_u, b_u)`, the items' known
    :math:`\tilde q_i = (q_i, 1)` and targets :math:`t_{ui} = r_{ui} - \mu - b_i`,
    the normal equations are

    .. math::

        \Bigl(\sum_{i \in I_u} \tilde q_i \tilde q_i^\top + \lambda I\Bigr)\, \tilde p_u
        = \sum_{i \in I_u} t_{ui}\, \tilde q_i ,

    a :math:`(d+1) \times (d+1)` system per user. Then, symmetrically, with the
    roles swapped (:math:`\tilde q_i = (q_i, b_i)` unknown,
    :math:`\tilde p_u = (p_u, 1)` known):

    .. math::

        \Bigl(\sum_{u \in U_i} \tilde p_u \tilde p_u^\top + \lambda I\Bigr)\, \tilde q_i
        = \sum_{u \in U_i} (r_{ui} - \mu - b_u)\, \tilde p_u .

    Each half-step is the exact minimiser given the other side, so the
    regularised loss never increases. One epoch = users then items. ``Q``
    starts at ``RandomState(seed).normal(0, init_std)``, biases at 0. The
    systems are built per entity and solved in one batched
    ``numpy.linalg.solve``. Note that :math:`\lambda` here is not scaled by the
    number of ratings (plain ridge), so good values are far larger than the
    SGD ``reg``.

    Parameters
    ----------
    n_factors : int, default 20
        Latent dimension :math:`d`.
    n_epochs : int, default 15
    reg : float, default 15.0
        :math:`\lambda` (>= 0; 0 can make a system singular).
    init_std : float, default 0.1
    seed : int, default 0

    Attributes
    ----------
    user_bias_, item_bias_, user_factors_, item_factors_ : np.ndarray
        As in :class:`BiasedMF` (aliases ``bu_``, ``bi_``, ``pu_``, ``qi_``).
    history_ : pandas.DataFrame
        ``epoch`` and ``train_rmse``.

    References
    ----------
    Koren, Bell & Volinsky, IEEE Computer, 2009 (section "Learning
    algorithms"); Y. Zhou et al., "Large-scale parallel collaborative
    filtering for the Netflix prize", AAIM 2008.
    """

    def __init__(
        self,
        n_factors: int = 20,
        n_epochs: int = 15,
        reg: float = 15.0,
        init_std: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.reg = reg
        self.init_std = init_std
        self.seed = seed

    _parameter_constraints: ClassVar[dict[str, list]] = dict(_MF_CONSTRAINTS)

    @staticmethod
    def _ridge(rows: np.ndarray, cols: np.ndarray, target: np.ndarray, Z: np.ndarray, n_rows: int, reg: float) -> np.ndarray:
        r"""Solve :math:`(Z_S^\top Z_S + \lambda I) x = Z_S^\top t_S` for each row's set ``S``."""
        d = Z.shape[1]
        order = np.argsort(rows, kind="stable")
        cols_s, t_s = cols[order], target[order]
        bounds = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=bounds[1:])
        Zs = Z[cols_s]
        A = np.empty((n_rows, d, d))
        for e in range(n_rows):
            block = Zs[bounds[e] : bounds[e + 1]]
            A[e] = block.T @ block
        A += reg * np.eye(d)
        b = np.zeros((n_rows, d))
        np.add.at(b, rows[order], Zs * t_s[:, None])
        return np.linalg.solve(A, b[:, :, None])[:, :, 0]

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        f, reg, mu = self.n_factors, float(self.reg), self.global_mean_
        rng = np.random.RandomState(self.seed)
        qi = rng.normal(0.0, self.init_std, (self.n_items_, f))
        pu = np.zeros((self.n_users_, f))
        bu = np.zeros(self.n_users_)
        bi = np.zeros(self.n_items_)
        ones_i = np.ones((self.n_items_, 1))
        ones_u = np.ones((self.n_users_, 1))
        history = np.zeros(self.n_epochs)
        # thousands of tiny (f+1) x (f+1) products: BLAS threads only add overhead
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                for epoch in range(self.n_epochs):
                    x = self._ridge(u, i, r - mu - bi[i], np.hstack([qi, ones_i]), self.n_users_, reg)
                    pu, bu = x[:, :f].copy(), x[:, f].copy()
                    w = self._ridge(i, u, r - mu - bu[u], np.hstack([pu, ones_u]), self.n_items_, reg)
                    qi, bi = w[:, :f].copy(), w[:, f].copy()
                    history[epoch] = _train_rmse(u, i, r, mu, bu, bi, pu, qi)
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                f"ALS: a normal-equation system is singular ({exc}); use reg > 0 (got reg={self.reg!r})"
            ) from None
        self.user_bias_, self.item_bias_, self.user_factors_, self.item_factors_ = bu, bi, pu, qi
        self._user_vectors = pu
        self.history_ = history_frame(history, "train_rmse")
