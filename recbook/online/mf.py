r"""Online matrix factorisation and prequential evaluation (chapter 9.2).

A rating stream arrives in time order. Three ways to keep a factor model
current are compared by **prequential** ("predictive sequential") evaluation
(Dawid 1984; Gama, Sebastião & Rodrigues 2013; Vinagre, Jorge & Gama 2014):
each event is first *predicted* by the current model, its error recorded, and
only then is the event given to the model to learn from. No event is ever
used before it is predicted, so the running error is an honest estimate of
what a deployed model would have scored.

- :class:`OnlineMF` -- biased MF (:class:`recbook.cf.BiasedMF`, the same
  model, the same SGD step) warm-started on a batch and then updated by one
  stochastic gradient step per incoming event (online gradient descent;
  Rendle & Schmidt-Thieme 2008 for the factor-model case);
- :class:`PeriodicRetrain` -- any recbook estimator refitted from scratch on
  everything seen so far every ``every`` events, frozen in between
  (``every=None``: never refitted, the *static* model);
- :func:`prequential` -- runs a learner over a stream in chunks and returns a
  tidy frame of chunk RMSE, running RMSE and the seconds spent.

References
----------
S. Rendle and L. Schmidt-Thieme, "Online-updating regularized kernel matrix
factorization models for large-scale recommender systems", RecSys 2008.
J. Vinagre, A. M. Jorge and J. Gama, "Evaluation of recommender systems in
streaming environments", REDD workshop at RecSys 2014.
J. Gama, R. Sebastião and P. P. Rodrigues, "On evaluating stream learning
algorithms", Machine Learning 90(3), 2013.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Protocol

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from recbook.base import Recommender, check_interactions
from recbook.cf.mf import BiasedMF, _svd_sgd
from recbook.utils import Real, check_int

__all__ = ["OnlineMF", "PeriodicRetrain", "prequential"]


@numba.njit(cache=True)
def _predict_then_learn(u, i, r, mu, lo, hi, bu, bi, pu, qi, cu, ci, lr, reg, out):  # pragma: no cover
    """For each event in order: predict (known parts only, clipped), then one SGD step.

    The step is :func:`recbook.cf.mf._svd_sgd` on the single event (one
    epoch of Surprise's SVD over one rating), so the update rule is the batch
    model's, not a copy of it.
    """
    k = pu.shape[1]
    hist = np.zeros(1)
    for t in range(r.shape[0]):
        uu = u[t]
        ii = i[t]
        est = mu
        if cu[uu] > 0:
            est += bu[uu]
        if ci[ii] > 0:
            est += bi[ii]
        if cu[uu] > 0 and ci[ii] > 0:
            for f in range(k):
                est += qi[ii, f] * pu[uu, f]
        out[t] = min(max(est, lo), hi)
        _svd_sgd(u[t : t + 1], i[t : t + 1], r[t : t + 1], mu, bu, bi, pu, qi, lr, reg, 1, hist)
        cu[uu] += 1
        ci[ii] += 1


def _check_stream(frame: Any, name: str = "stream") -> pd.DataFrame:
    """An interactions frame with a rating column (``ValueError``/``TypeError`` otherwise)."""
    return check_interactions(frame, name, require_rating=True)


class OnlineMF(BiasedMF):
    r"""Biased MF that keeps learning from a stream: one SGD step per event.

    ``fit(train)`` is :class:`recbook.cf.BiasedMF`'s batch fit (the warm
    start). Afterwards :meth:`predict_learn` / :meth:`partial_fit` /
    :meth:`learn_one` take events in order and, for each rating
    :math:`r_{ui}` at time :math:`t`, take the step of online gradient
    descent on that event's regularised loss
    :math:`\ell_t = (r_{ui} - \hat r_{ui})^2 + \lambda(b_u^2+b_i^2+\lVert p_u\rVert^2+\lVert q_i\rVert^2)`:

    .. math::

        e_{ui} &= r_{ui} - (\mu + b_u + b_i + q_i^\top p_u) \\
        b_u &\leftarrow b_u + \gamma_{\mathrm{on}} (e_{ui} - \lambda b_u), \quad
        b_i \leftarrow b_i + \gamma_{\mathrm{on}} (e_{ui} - \lambda b_i) \\
        p_u &\leftarrow p_u + \gamma_{\mathrm{on}} (e_{ui} q_i - \lambda p_u), \quad
        q_i \leftarrow q_i + \gamma_{\mathrm{on}} (e_{ui} p_u - \lambda q_i)

    -- exactly one epoch of :class:`~recbook.cf.BiasedMF`'s SGD over the one
    rating (the same compiled kernel), with step size :math:`\gamma_{\mathrm{on}}` =
    ``online_lr`` (default ``lr``). An update costs :math:`O(d)`, a refit
    :math:`O(\text{n\_epochs}\cdot|R|\,d)`.

    **New users and items** met in the stream get a row: biases 0, factors
    drawn from :math:`\mathcal N(0, \text{init\_std}^2)` by a generator seeded
    with ``seed + 1``. Until a user (item) has been learned from, predictions
    use only the known parts, as for an unknown id (:mod:`recbook.cf.mf`).
    :math:`\mu` and the rating scale stay those of the warm-start batch.

    Parameters
    ----------
    n_factors, n_epochs, lr, reg, init_std, seed :
        As in :class:`recbook.cf.BiasedMF` (the warm-start fit).
    online_lr : float or None, default None
        Step size :math:`\gamma_{\mathrm{on}}` of the online updates (``None``: ``lr``).

    Attributes
    ----------
    n_updates_ : int
        Events learned since ``fit``.

    References
    ----------
    Rendle & Schmidt-Thieme, "Online-updating regularized kernel matrix
    factorization models for large-scale recommender systems", RecSys 2008.
    Koren, Bell & Volinsky, "Matrix factorization techniques for recommender
    systems", IEEE Computer, 2009.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **BiasedMF._parameter_constraints,
        "online_lr": [Real(min=0, min_open=True), None],
    }

    def __init__(
        self,
        n_factors: int = 100,
        n_epochs: int = 20,
        lr: float = 0.005,
        reg: float = 0.02,
        init_std: float = 0.1,
        seed: int = 0,
        online_lr: float | None = None,
    ) -> None:
        super().__init__(n_factors=n_factors, n_epochs=n_epochs, lr=lr, reg=reg, init_std=init_std, seed=seed)
        self.online_lr = online_lr

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        super()._fit(u, i, r)
        self.user_count_ = np.bincount(u, minlength=self.n_users_).astype(np.int64)
        self.item_count_ = np.bincount(i, minlength=self.n_items_).astype(np.int64)
        self.n_updates_ = 0
        self._grow_rng = np.random.RandomState(self.seed + 1)
        self._pending: list[pd.DataFrame] = []

    # ``train_`` (the seen interactions that ``recommend`` excludes) is brought
    # up to date lazily, when items are next scored, not at every update.
    def _sync_train(self) -> None:
        if self._pending:
            old = self.train_.tocoo()
            new = pd.concat(self._pending, ignore_index=True)
            frame = pd.DataFrame(
                {
                    "u": np.concatenate([old.row, new["u"].to_numpy()]),
                    "i": np.concatenate([old.col, new["i"].to_numpy()]),
                    "r": np.concatenate([old.data, new["r"].to_numpy()]),
                }
            ).drop_duplicates(["u", "i"], keep="last")
            self.train_ = sp.csr_matrix(
                (frame["r"].to_numpy(), (frame["u"].to_numpy(), frame["i"].to_numpy())),
                shape=(self.n_users_, self.n_items_),
            )
            self._pending = []

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        self._sync_train()
        return super()._score_users(u)

    def _grow(self, ids: np.ndarray, kind: str) -> np.ndarray:
        """Internal indices of raw ids, adding rows for ids not seen yet."""
        index = self._user_index if kind == "user" else self._item_index
        idx = index.get_indexer(ids).astype(np.int64)
        if (idx < 0).any():
            new = pd.unique(pd.Index(ids[idx < 0]))
            d = self.n_factors
            factors = self._grow_rng.normal(0.0, self.init_std, (len(new), d))
            if kind == "user":
                self.user_factors_ = np.vstack([self.user_factors_, factors])
                self.user_bias_ = np.concatenate([self.user_bias_, np.zeros(len(new))])
                self.user_count_ = np.concatenate([self.user_count_, np.zeros(len(new), np.int64)])
                self._user_index = self._user_index.append(pd.Index(new))
                self.user_ids_ = np.asarray(self._user_index)
                self.n_users_ = len(self._user_index)
                self._user_vectors = self.user_factors_
                index = self._user_index
            else:
                self.item_factors_ = np.vstack([self.item_factors_, factors])
                self.item_bias_ = np.concatenate([self.item_bias_, np.zeros(len(new))])
                self.item_count_ = np.concatenate([self.item_count_, np.zeros(len(new), np.int64)])
                self._item_index = self._item_index.append(pd.Index(new))
                self.item_ids_ = np.asarray(self._item_index)
                self.n_items_ = len(self._item_index)
                self.n_train_items_ = self.n_items_
                index = self._item_index
            idx = index.get_indexer(ids).astype(np.int64)
        return idx

    def predict_learn(self, events: pd.DataFrame) -> np.ndarray:
        """Predict each event, then learn from it, in frame order; return the predictions.

        ``events`` is an interactions frame (``user, item, rating``). The
        prediction of event :math:`t` uses the model after events
        :math:`0..t-1` only (prequential order), clipped to the rating scale.
        """
        self._check_fitted()
        frame = _check_stream(events, "events")
        u = self._grow(frame["user"].to_numpy(), "user")
        i = self._grow(frame["item"].to_numpy(), "item")
        r = frame["rating"].to_numpy(dtype=np.float64)
        out = np.empty(len(r))
        lr = float(self.lr if self.online_lr is None else self.online_lr)
        lo, hi = self.rating_scale_
        _predict_then_learn(
            u, i, r, self.global_mean_, lo, hi, self.user_bias_, self.item_bias_,
            self.user_factors_, self.item_factors_, self.user_count_, self.item_count_,
            lr, float(self.reg), out,
        )  # fmt: skip
        self.n_updates_ += len(r)
        self._pending.append(pd.DataFrame({"u": u, "i": i, "r": r}))
        return out

    def partial_fit(self, events: pd.DataFrame) -> "OnlineMF":
        """Learn from ``events`` in order (one SGD step each) and return the model."""
        self.predict_learn(events)
        return self

    def learn_one(self, user: Any, item: Any, rating: float) -> float:
        """Learn from one event; return the prediction made just before learning it."""
        frame = pd.DataFrame({"user": [user], "item": [item], "rating": [rating]})
        return float(self.predict_learn(frame)[0])

    @classmethod
    def _example(cls, data: Any = None) -> "OnlineMF":
        return cls(n_factors=4, n_epochs=3)


class StreamLearner(Protocol):
    """What :func:`prequential` needs: ``fit(frame)`` and ``predict_learn(frame) -> predictions``."""

    def fit(self, train: pd.DataFrame) -> Any: ...

    def predict_learn(self, events: pd.DataFrame) -> np.ndarray: ...


class PeriodicRetrain:
    """Refit an estimator from scratch on everything seen, every ``every`` events.

    Between refits the model is frozen: event :math:`t` is predicted by the
    model fitted on the warm-start batch plus the stream up to the last
    multiple of ``every`` at or before :math:`t`. With ``every=None`` the
    model is never refitted (the *static* baseline). Retraining costs a full
    fit, :math:`O(\\text{n\\_epochs}\\cdot|R|\\,d)` for matrix factorisation,
    however few events arrived.

    Parameters
    ----------
    estimator : recbook.base.Recommender
        Cloned (unfitted) at every refit; predictions go through its
        ``predict`` (with its fallback for ids it has not seen).
    every : int or None
        Events between refits (a positive integer), or ``None``.

    Attributes
    ----------
    model_ : Recommender
        The model currently serving.
    n_retrains_ : int
        Refits since ``fit`` (the warm-start fit not counted).
    retrain_seconds_ : list of float
        Wall time of each refit.
    """

    def __init__(self, estimator: Recommender, every: int | None = None) -> None:
        if not isinstance(estimator, Recommender):
            raise TypeError(f"estimator must be a recbook Recommender, got {type(estimator).__name__}")
        self.estimator = estimator
        self.every = None if every is None else check_int("every", every)

    def fit(self, train: pd.DataFrame) -> "PeriodicRetrain":
        """Fit a clone of the estimator on the warm-start batch."""
        frame = _check_stream(train, "train")
        self._seen = [frame[["user", "item", "rating"]]]
        self.model_ = clone(self.estimator).fit(frame)
        self.n_retrains_ = 0
        self.retrain_seconds_: list[float] = []
        self._since = 0
        return self

    def predict_learn(self, events: pd.DataFrame) -> np.ndarray:
        """Predict each event with the serving model, then record it; refit at every ``every``-th event."""
        if not hasattr(self, "model_"):
            raise RuntimeError("PeriodicRetrain is not fitted yet: call fit(train) first")
        frame = _check_stream(events, "events")[["user", "item", "rating"]]
        out = np.empty(len(frame))
        start = 0
        while start < len(frame):
            room = len(frame) - start if self.every is None else self.every - self._since
            stop = min(len(frame), start + room)
            seg = frame.iloc[start:stop]
            out[start:stop] = self.model_.predict(seg["user"].to_numpy(), seg["item"].to_numpy())
            self._seen.append(seg)
            self._since += stop - start
            if self.every is not None and self._since == self.every:
                tic = time.perf_counter()
                self.model_ = clone(self.estimator).fit(pd.concat(self._seen, ignore_index=True))
                self.retrain_seconds_.append(time.perf_counter() - tic)
                self.n_retrains_ += 1
                self._since = 0
            start = stop
        return out

    def partial_fit(self, events: pd.DataFrame) -> "PeriodicRetrain":
        """Record ``events`` (refitting when due) and return self."""
        self.predict_learn(events)
        return self

    def __repr__(self) -> str:
        return f"PeriodicRetrain({self.estimator!r}, every={self.every!r})"


def prequential(learner: StreamLearner, stream: pd.DataFrame, chunk: int = 1000) -> pd.DataFrame:
    r"""Prequential evaluation: predict each event, then learn from it, in stream order.

    The stream is cut into consecutive chunks of ``chunk`` events (the last
    may be shorter) and each is passed to ``learner.predict_learn``, which
    predicts every event before it learns from it. With errors
    :math:`e_t = r_t - \hat r_t` the frame reports, per chunk :math:`c`,

    .. math::

        \text{RMSE}_c = \sqrt{\tfrac{1}{|c|}\textstyle\sum_{t\in c} e_t^2},
        \qquad
        \text{running RMSE}_c = \sqrt{\tfrac{1}{n_c}\textstyle\sum_{t \le \text{end}(c)} e_t^2}

    (Gama et al. 2013; Vinagre et al. 2014), and the wall time the learner
    spent on the chunk (predicting and learning). ``learner`` must already be
    fitted (warm-started); the stream must be in time order.

    Parameters
    ----------
    learner : object with ``predict_learn(frame)``
        E.g. :class:`OnlineMF` or :class:`PeriodicRetrain`.
    stream : pandas.DataFrame
        ``user, item, rating`` (and optionally ``timestamp``), in order.
    chunk : int
        Events per reported chunk (a positive integer).

    Returns
    -------
    pandas.DataFrame
        One row per chunk: ``chunk, events`` (events so far), ``rmse``,
        ``running_rmse``, ``seconds``, ``cum_seconds`` and, if the stream has
        one, ``timestamp`` (of the chunk's last event).
    """
    if not callable(getattr(learner, "predict_learn", None)):
        raise TypeError(f"learner must have a predict_learn(frame) method, got {type(learner).__name__}")
    chunk = check_int("chunk", chunk)
    frame = _check_stream(stream, "stream")
    if "timestamp" in frame.columns and (np.diff(frame["timestamp"].to_numpy()) < 0).any():
        raise ValueError("stream must be in timestamp order (sort it with kind='stable')")
    rows = []
    sse = 0.0
    seconds = 0.0
    for c, start in enumerate(range(0, len(frame), chunk)):
        part = frame.iloc[start : start + chunk]
        tic = time.perf_counter()
        pred = np.asarray(learner.predict_learn(part), dtype=np.float64)
        spent = time.perf_counter() - tic
        err2 = (part["rating"].to_numpy(dtype=np.float64) - pred) ** 2
        sse += float(err2.sum())
        seconds += spent
        row = {
            "chunk": c,
            "events": start + len(part),
            "rmse": float(np.sqrt(err2.mean())),
            "running_rmse": float(np.sqrt(sse / (start + len(part)))),
            "seconds": spent,
            "cum_seconds": seconds,
        }
        if "timestamp" in part.columns:
            row["timestamp"] = int(part["timestamp"].iloc[-1])
        rows.append(row)
    return pd.DataFrame(rows)
