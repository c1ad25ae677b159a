r"""The one estimator shape every recbook model follows.

A recbook model is used like a scikit-learn estimator:

>>> model = SomeModel(hyper=1.0)          # hyper-parameters only
>>> model.fit(train)                       # a DataFrame user, item[, rating]
>>> model.predict(users, items)            # np.ndarray, one value per pair
>>> model.recommend([1, 2], k=10)          # DataFrame user, item, score, rank

Inputs and outputs use the data set's own ids; the mapping to ``0..n-1``
indices is internal (``user_ids_[u]`` is the raw id of internal user ``u``).

**The contract** (checked for every public model by ``tests/test_estimators.py``):

* ``__init__`` stores its arguments under the same names and does nothing
  else; ``get_params``/``set_params``/``clone`` round-trip. Side data given to
  a constructor (item features, a user->group mapping) is never copied by
  :func:`sklearn.base.clone` and never printed in full by ``repr``, and
  ``fit`` never modifies it.
* Hyper-parameters are validated **once, when** ``fit`` **starts**, against the
  class's declared ``_parameter_constraints`` (see
  :func:`recbook.utils.validate_params`; a wrong type raises ``TypeError``, a
  bad value ``ValueError``), then by the optional ``_check_params`` hook for
  rules that involve several parameters.
* ``fit`` returns ``self``; every fitted attribute ends with ``_``; a model
  used before ``fit`` raises :class:`NotFittedError`.
* The same seed gives the same predictions; a pickled model predicts the same.

**Unknown users and items** (one policy for the whole package, as in
Surprise): a pair whose user or item was not in the training data gets the
model's *fallback* estimate, which every model documents. For rating models it
is the baseline estimate restricted to what is known (the global mean
:math:`\mu`, plus :math:`b_u` or :math:`b_i` when one side is known) or simply
:math:`\mu`; for pure ranking models it is the item's popularity score. Nothing
crashes deep inside NumPy; :func:`lookup` is the one helper for "a value per
known index, a fallback for ``-1``".

**Rating or ranking model.** A rating model estimates ratings, and
``predict`` clips them to the training scale; a ranking model returns scores
that only order items. The class says which with ``_rating_model`` (a class
attribute), or by overriding :meth:`Recommender._predicts_ratings` when it
depends on a hyper-parameter.

**One vocabulary of fitted attributes** (where a model has them):
``user_factors_``, ``item_factors_`` (:math:`P`, :math:`Q`, one row per
internal id), ``user_bias_``, ``item_bias_`` (:math:`b_u`, :math:`b_i`),
``history_`` (a DataFrame, one row per epoch, columns ``epoch`` and the
losses). Models that reproduce Surprise also answer to Surprise's names
``pu_``, ``qi_``, ``bu_``, ``bi_`` (aliases, not copies).

Subclasses implement three hooks on internal indices, and may use two more:

``_fit(u, i, r)``
    train on integer arrays ``u`` (users), ``i`` (items) and float ``r``.
``_predict_idx(u, i)``
    estimates for index pairs, where ``-1`` marks an unknown user or item.
``_score_users(u)``
    optional: a dense ``(len(u), n_items_)`` score matrix for top-K; the
    default evaluates ``_predict_idx`` on the grid, which is correct but slow.
``_extra_items(frame)``, ``_extra_users(frame)``
    optional: ids of items (users) the model can score although they have no
    training interaction (a content model's cold items); the base class
    appends them to the catalogue before ``_fit``.
``_fit_frame(frame, u, i, r)``
    optional: for meta-estimators (hybrids) that fit component models on the
    training *frame* itself; the default calls ``_fit(u, i, r)``.
``_check_params()``
    optional: checks that involve several hyper-parameters.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from recbook.utils import Integer, validate_params

__all__ = [
    "NotFittedError",
    "Recommender",
    "SurpriseNames",
    "check_interactions",
    "check_k",
    "lookup",
    "select_top",
    "top_k",
]


class NotFittedError(ValueError, AttributeError):
    """A model was used before :meth:`Recommender.fit` (also a ``ValueError`` and an ``AttributeError``, as in scikit-learn)."""


def lookup(values: np.ndarray, index: np.ndarray, fallback: Any = 0.0) -> np.ndarray:
    """``values[index]`` where ``index >= 0``, ``fallback`` where ``index == -1``.

    The one way recbook reads a per-user or per-item array for indices that may
    mark an unknown id (``-1``): ``lookup(item_bias, i)`` is :math:`b_i` for
    known items and 0 for unknown ones. ``values`` may have more dimensions
    (rows are looked up; unknown rows are filled with ``fallback``).
    """
    index = np.asarray(index, dtype=np.int64)
    known = index >= 0
    out = np.asarray(values)[np.where(known, index, 0)]
    if out.ndim > 1:
        return np.where(known.reshape((-1,) + (1,) * (out.ndim - 1)), out, fallback)
    return np.where(known, out, fallback)


def check_interactions(
    frame: Any, name: str = "train", require_rating: bool = False
) -> pd.DataFrame:
    """Validate an interactions frame and return a clean copy.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``user`` and ``item`` and, optionally, ``rating`` (filled
        with 1.0 when absent, i.e. implicit feedback).
    name : str
        Argument name used in error messages.
    require_rating : bool
        Raise if the ``rating`` column is missing.

    Raises
    ------
    TypeError
        ``frame`` is not a DataFrame.
    ValueError
        Missing columns, an empty frame, missing ids or NaN/inf ratings.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame with columns user, item[, rating], "
            f"got {type(frame).__name__}"
        )
    missing = [c for c in ("user", "item") if c not in frame.columns]
    if require_rating and "rating" not in frame.columns:
        missing.append("rating")
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {missing}; expected columns user, item, rating "
            f"(got {list(frame.columns)})"
        )
    if len(frame) == 0:
        raise ValueError(f"{name} is empty: a model needs at least one interaction to fit")
    out = frame[[c for c in ("user", "item", "rating", "timestamp") if c in frame.columns]].copy()
    if "rating" not in out.columns:
        out["rating"] = 1.0
    for col in ("user", "item"):
        if out[col].isna().any():
            bad = int(out[col].isna().sum())
            raise ValueError(f"{name} has {bad} missing value(s) in column {col!r}")
    try:
        ratings = out["rating"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}['rating'] must be numeric: {exc}") from None
    if not np.all(np.isfinite(ratings)):
        bad = int((~np.isfinite(ratings)).sum())
        raise ValueError(f"{name}['rating'] has {bad} NaN or infinite value(s); drop or impute them first")
    out["rating"] = ratings
    return out


def _as_1d(values: Any, name: str) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy()
    if np.isscalar(values) or isinstance(values, (str, bytes)):
        return np.asarray([values])
    if isinstance(values, Iterable) and not isinstance(values, np.ndarray):
        values = list(values)
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got an array of shape {arr.shape}")
    return arr


def check_k(k: Any, name: str = "k") -> int:
    """Validate a list length ``k`` (a positive integer; ``TypeError`` for a non-integer)."""
    validate_params({name: k}, {name: [Integer(min=1)]}, "")
    return int(k)


def _finite_or_minus_inf(scores: np.ndarray) -> np.ndarray:
    """``scores`` as a float array with NaN replaced by ``-inf`` (never ranked first)."""
    scores = np.asarray(scores)
    if scores.dtype.kind not in "f":
        scores = scores.astype(np.float64)
    nan = np.isnan(scores)
    if nan.any():
        scores = np.where(nan, -np.inf, scores)
    return scores


def select_top(scores: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` largest entries of each row; ties go to the lower column index.

    This is the book's one tie rule for every ranking and neighbour choice:
    the larger value wins, and among equal values the entry with the lower
    column index (the earlier candidate) wins, exactly as
    ``heapq.nlargest(k, row)`` and a stable descending sort choose. The
    result does not depend on the CPU: it uses ``np.partition`` only for the
    *value* of the ``k``-th largest entry (which is unique), never for the
    choice among entries equal to it, which ``np.argpartition`` makes
    differently on different SIMD code paths.

    Runs in linear time per row: one partition, two comparisons and, only for
    rows with more entries tied at the ``k``-th value than places left, a
    cumulative sum.

    Parameters
    ----------
    scores : numpy.ndarray, shape (m, n)
        Scores of ``n`` candidates for each of ``m`` rows (NaN counts as
        ``-inf``).
    k : int
        Entries to keep per row (``k >= n`` keeps every entry).

    Returns
    -------
    numpy.ndarray of bool, shape (m, n)
        Exactly ``min(k, n)`` entries of each row are ``True``.
    """
    scores = _finite_or_minus_inf(np.atleast_2d(scores))
    m, n = scores.shape
    k = check_k(k)
    if k >= n:
        return np.ones((m, n), dtype=bool)
    kth = np.partition(scores, n - k, axis=1)[:, n - k : n - k + 1]
    above = scores > kth
    tie = scores == kth
    room = k - above.sum(axis=1, keepdims=True)
    crowded = (tie.sum(axis=1, keepdims=True) > room).ravel()
    if crowded.any():  # more ties than places: keep the earliest ones
        t = tie[crowded]
        tie[crowded] = t & (np.cumsum(t, axis=1) <= room[crowded])
    return above | tie


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` largest scores in each row, best first.

    Ties are broken by the lower column index (the book's one tie rule, see
    :func:`select_top`), so the result is the first ``k`` columns of a
    *stable* descending sort, ``np.argsort(-scores, kind="stable")[:, :k]``,
    on every machine; but it costs O(n) per row plus O(k log k) to order the
    winners, not O(n log n). ``-inf`` entries (masked items) and NaN come
    after every finite score.

    Parameters
    ----------
    scores : numpy.ndarray, shape (m, n) or (n,)
        A 1-D array is treated as one row.
    k : int
        List length (a positive integer); at most ``n`` columns are returned.

    Returns
    -------
    numpy.ndarray of int64, shape (m, min(k, n))
    """
    scores = _finite_or_minus_inf(np.atleast_2d(scores))
    m, n = scores.shape
    k = min(check_k(k), n)
    if k == n:
        return np.argsort(-scores, axis=1, kind="stable")
    part = np.nonzero(select_top(scores, k))[1].reshape(m, k)  # ascending column order
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")  # ties keep the lower column first
    return np.take_along_axis(part, order, axis=1)


def _is_side_data(value: Any) -> bool:
    """Data (not a hyper-parameter value) given to a constructor: shared by clones, summarised by repr."""
    if isinstance(value, (pd.DataFrame, pd.Series, np.ndarray)) or sp.issparse(value):
        return True
    if type(value).__name__ == "FeatureMatrix":
        return True
    if isinstance(value, Mapping) and value and all(_is_side_data(v) for v in value.values()):
        return True
    return False


def _short(value: Any) -> str:
    """A one-line description of a constructor argument for ``repr``."""
    if isinstance(value, pd.DataFrame):
        return f"<DataFrame {value.shape[0]}x{value.shape[1]}>"
    if isinstance(value, pd.Series):
        return f"<Series {len(value)}>"
    if isinstance(value, np.ndarray):
        return f"<ndarray {'x'.join(map(str, value.shape))} {value.dtype}>"
    if sp.issparse(value):
        return f"<sparse {value.shape[0]}x{value.shape[1]}>"
    if type(value).__name__ == "FeatureMatrix":
        return repr(value)
    if isinstance(value, Mapping) and _is_side_data(value):
        return "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, Recommender) for v in value):
        inner = ", ".join(_short(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def _append_new(ids: Any, extra: Any) -> pd.Index:
    """``ids`` followed by the values of ``extra`` it does not hold yet (first occurrence order)."""
    ids = pd.Index(ids)
    if len(extra) == 0:
        return ids
    extra = pd.Index(pd.unique(pd.Index(extra)))
    extra = extra[~extra.isin(ids)]
    return ids.append(extra) if len(extra) else ids


class Recommender(BaseEstimator):
    """Base class: parameter checks, id mapping, input checks, ``predict`` and ``recommend``.

    See the module docstring for the contract every subclass follows. The
    attributes below are set by :meth:`fit`.

    Attributes
    ----------
    user_ids_, item_ids_ : np.ndarray
        Raw ids of the internal users and items, in order of first
        appearance in the training frame (Surprise's inner-id order), then
        (for models with ``_extra_items``) the items without interactions.
    n_users_, n_items_ : int
    n_train_items_ : int
        Items with at least one training interaction (the first columns).
    global_mean_ : float
        Mean training rating :math:`\\mu`.
    rating_scale_ : tuple of float
        ``(min, max)`` of the training ratings; predictions of rating models
        are clipped to it.
    train_ : scipy.sparse.csr_matrix
        The training interactions, ``n_users_ x n_items_`` (last value wins
        for duplicated pairs), used to exclude seen items.
    """

    #: Declared hyper-parameter constraints, checked when ``fit`` starts.
    _parameter_constraints: ClassVar[dict[str, list]] = {}
    #: Rating models clip ``predict`` to the training scale; ranking models don't.
    _rating_model: ClassVar[bool] = True

    # ------------------------------------------------------------- contract
    def _predicts_ratings(self) -> bool:
        """Whether ``predict`` estimates ratings (clipped to the scale) rather than ranking scores."""
        return bool(type(self)._rating_model)

    def _validate_params(self) -> None:
        """Check the declared constraints, then the cross-parameter hook."""
        validate_params(self.get_params(deep=False), self._parameter_constraints, type(self).__name__)
        self._check_params()

    def _check_params(self) -> None:
        """Hook for checks that involve several hyper-parameters (default: none)."""

    def _extra_items(self, frame: pd.DataFrame) -> np.ndarray:
        """Hook: ids of items without training interactions that the model can score (default: none)."""
        return np.empty(0, dtype=object)

    def _extra_users(self, frame: pd.DataFrame) -> np.ndarray:
        """Hook: ids of users without training interactions that the model can score (default: none)."""
        return np.empty(0, dtype=object)

    def _fit_frame(self, frame: pd.DataFrame, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        """Hook for meta-estimators that need the training frame itself; the default fits on indices."""
        self._fit(u, i, r)

    def __sklearn_clone__(self) -> "Recommender":
        """Clone for :func:`sklearn.base.clone`: estimators are cloned, side data shared, the rest deep-copied."""
        from sklearn.base import clone

        params = {}
        for name, value in self.get_params(deep=False).items():
            if isinstance(value, Recommender):
                params[name] = clone(value)
            elif _is_side_data(value):
                params[name] = value  # data, not a hyper-parameter: never copied
            elif isinstance(value, (list, tuple)) and any(isinstance(v, Recommender) for v in value):
                params[name] = type(value)(clone(v) if isinstance(v, Recommender) else copy.deepcopy(v) for v in value)
            else:
                params[name] = copy.deepcopy(value)
        return type(self)(**params)

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:  # noqa: N803 - scikit-learn's signature
        import inspect

        defaults = {
            n: p.default for n, p in inspect.signature(type(self).__init__).parameters.items() if n != "self"
        }
        parts = []
        for name, value in self.get_params(deep=False).items():
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = default is not inspect.Parameter.empty and not _is_side_data(value) and bool(default == value)
            except Exception:  # pragma: no cover - exotic values
                same = False
            if not same:
                parts.append(f"{name}={_short(value)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # ------------------------------------------------------------------ fit
    def fit(self, train: pd.DataFrame) -> "Recommender":
        """Fit the model on an interactions frame (``user, item[, rating]``) and return it.

        Hyper-parameters are validated first (``TypeError``/``ValueError``),
        then the frame (:func:`check_interactions`).
        """
        self._validate_params()
        frame = check_interactions(train, "train")
        u_codes, user_ids = pd.factorize(frame["user"], sort=False)
        i_codes, item_ids = pd.factorize(frame["item"], sort=False)
        r = frame["rating"].to_numpy(dtype=np.float64)
        n_train_items = len(item_ids)
        item_ids = _append_new(item_ids, self._extra_items(frame))
        user_ids = _append_new(user_ids, self._extra_users(frame))
        self.user_ids_ = np.asarray(user_ids)
        self.item_ids_ = np.asarray(item_ids)
        self._user_index = pd.Index(user_ids)
        self._item_index = pd.Index(item_ids)
        self.n_users_ = len(user_ids)
        self.n_items_ = len(item_ids)
        self.n_train_items_ = n_train_items
        self.global_mean_ = float(r.mean())
        self.rating_scale_ = (float(r.min()), float(r.max()))
        u = u_codes.astype(np.int64)
        i = i_codes.astype(np.int64)
        # keep the last rating of a duplicated pair rather than their sum
        last = pd.DataFrame({"u": u, "i": i, "r": r}).drop_duplicates(["u", "i"], keep="last")
        self.train_ = sp.csr_matrix(
            (last["r"].to_numpy(), (last["u"].to_numpy(), last["i"].to_numpy())),
            shape=(self.n_users_, self.n_items_),
        )
        self._fit_frame(frame, u, i, r)
        return self

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------- mapping
    def _check_fitted(self) -> None:
        if not hasattr(self, "user_ids_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(train) first")

    def user_index(self, users: Any) -> np.ndarray:
        """Internal indices of raw user ids (``-1`` for unknown users)."""
        self._check_fitted()
        return self._user_index.get_indexer(_as_1d(users, "users")).astype(np.int64)

    def item_index(self, items: Any) -> np.ndarray:
        """Internal indices of raw item ids (``-1`` for unknown items)."""
        self._check_fitted()
        return self._item_index.get_indexer(_as_1d(items, "items")).astype(np.int64)

    # ------------------------------------------------------------- predict
    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Estimate the rating (or score) of each ``(users[j], items[j])`` pair.

        Unknown users or items get the model's fallback estimate (see the
        module docstring). Rating models clip to :attr:`rating_scale_`.
        """
        self._check_fitted()
        users = _as_1d(users, "users")
        items = _as_1d(items, "items")
        if len(users) != len(items):
            raise ValueError(
                f"users and items must have the same length, got {len(users)} and {len(items)}"
            )
        u = self._user_index.get_indexer(users).astype(np.int64)
        i = self._item_index.get_indexer(items).astype(np.int64)
        est = np.asarray(self._predict_idx(u, i), dtype=np.float64)
        if self._predicts_ratings():
            est = np.clip(est, *self.rating_scale_)
        return est

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # --------------------------------------------------------------- top-K
    def score_items(self, users: Any) -> np.ndarray:
        """Scores of every catalogue item for each user: shape ``(len(users), n_items_)``.

        Column ``j`` belongs to item ``item_ids_[j]``. Unknown users get the
        fallback scores.
        """
        u = self.user_index(users)
        return np.asarray(self._score_users(u), dtype=np.float64)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        n = len(u)
        uu = np.repeat(u, self.n_items_)
        ii = np.tile(np.arange(self.n_items_, dtype=np.int64), n)
        return np.asarray(self._predict_idx(uu, ii), dtype=np.float64).reshape(n, self.n_items_)

    def recommend(
        self,
        users: Any = None,
        k: int = 10,
        exclude_seen: bool = True,
        batch_size: int = 512,
    ) -> pd.DataFrame:
        """Top-``k`` items for each user, ranked over the whole catalogue.

        Parameters
        ----------
        users : array-like, optional
            Raw user ids; default every training user.
        k : int
            List length (a positive integer).
        exclude_seen : bool
            Drop items the user interacted with in training.
        batch_size : int
            Users scored at once (memory is ``batch_size * n_items_`` floats).

        Returns
        -------
        pandas.DataFrame
            Columns ``user, item, score, rank`` (rank 1 is best), ``k`` rows
            per user or fewer when the user has seen almost everything; ties
            are broken by the lower internal index (:func:`top_k`).
        """
        self._check_fitted()
        k = check_k(k)
        batch_size = check_k(batch_size, "batch_size")
        if not isinstance(exclude_seen, (bool, np.bool_)):
            raise TypeError(f"exclude_seen must be True or False, got {exclude_seen!r}")
        users = self.user_ids_ if users is None else _as_1d(users, "users")
        uidx = self._user_index.get_indexer(users).astype(np.int64)
        out_u, out_i, out_s, out_r = [], [], [], []
        for start in range(0, len(users), batch_size):
            bu = uidx[start : start + batch_size]
            scores = np.array(self._score_users(bu), dtype=np.float64, copy=True)
            if exclude_seen:
                known = np.flatnonzero(bu >= 0)
                if len(known):
                    seen = self.train_[bu[known]].tocoo()
                    scores[known[seen.row], seen.col] = -np.inf
            top = top_k(scores, k)
            top_scores = np.take_along_axis(scores, top, axis=1)
            valid = np.isfinite(top_scores)
            rows = np.repeat(np.arange(len(bu)), top.shape[1]).reshape(top.shape)
            ranks = np.tile(np.arange(1, top.shape[1] + 1), (len(bu), 1))
            out_u.append(np.asarray(users[start : start + batch_size])[rows[valid]])
            out_i.append(self.item_ids_[top[valid]])
            out_s.append(top_scores[valid])
            out_r.append(ranks[valid])
        if not out_u:
            return pd.DataFrame({"user": [], "item": [], "score": [], "rank": []})
        return pd.DataFrame(
            {
                "user": np.concatenate(out_u),
                "item": np.concatenate(out_i),
                "score": np.concatenate(out_s),
                "rank": np.concatenate(out_r).astype(np.int64),
            }
        )


class SurpriseNames:
    """Surprise's names for the fitted attributes, as read-only aliases (not copies).

    ``pu_``, ``qi_``, ``bu_``, ``bi_`` are ``user_factors_``, ``item_factors_``,
    ``user_bias_`` and ``item_bias_``: the chapters that compare a model with
    Surprise may use either spelling.
    """

    @property
    def pu_(self) -> np.ndarray:
        """Alias of ``user_factors_`` (Surprise's ``pu``)."""
        return self.user_factors_  # type: ignore[attr-defined]

    @property
    def qi_(self) -> np.ndarray:
        """Alias of ``item_factors_`` (Surprise's ``qi``)."""
        return self.item_factors_  # type: ignore[attr-defined]

    @property
    def bu_(self) -> np.ndarray:
        """Alias of ``user_bias_`` (Surprise's ``bu``)."""
        return self.user_bias_  # type: ignore[attr-defined]

    @property
    def bi_(self) -> np.ndarray:
        """Alias of ``item_bias_`` (Surprise's ``bi``)."""
        return self.item_bias_  # type: ignore[attr-defined]
