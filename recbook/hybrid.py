r"""Chapter 5: hybrid recommenders, built from any recbook models.

A hybrid combines two or more *component* recommenders (collaborative,
content-based, popularity, ...) so that one covers the other's blind spots:
collaborative filtering is accurate where there are many ratings, content
models still work for an item nobody has rated yet. Every class here is itself
a :class:`recbook.base.Recommender` (``fit``, ``predict``, ``recommend``) and
takes its components as *unfitted* estimators: ``fit`` clones them with
:func:`sklearn.base.clone` (the caller's objects are never touched) and fits
the clones on the training frame.

The strategies, by Burke's (2002) families:

* :class:`WeightedHybrid` (weighted): :math:`\sum_m w_m\,\hat r^{(m)}_{ui}` with fixed
  or learned (non-negative least squares) weights;
* :class:`SwitchingHybrid` (switching): the fallback model for cold pairs, the
  primary model otherwise;
* :class:`MixedHybrid` (mixed): the components' lists interleaved
  (:func:`interleave`: round robin or team draft);
* :class:`FeatureCombination` (feature combination; feature augmentation with
  ``models``): one learner on collaborative statistics and content features;
* :class:`CascadeHybrid` (cascade): the first model picks candidates, the
  second re-ranks them;
* :class:`StackingHybrid` (a learned weighted hybrid): out-of-fold component
  predictions feed a meta-learner;
* :class:`AdaptiveHybrid` (weighted, per pair): a softmax gate on user and item
  activity sets each pair's weights;
* :class:`MetaLevelHybrid` (meta-level): user-KNN whose similarities come from
  content profiles (the content *model* is the collaborative step's input).

Beyond accuracy (section 5.3):

* :func:`mmr_rerank` and :class:`MMRReranker`: maximal marginal relevance
  (Carbonell & Goldstein, 1998) re-ranks a model's candidates for relevance
  and variety over item features;
* :func:`explain_hybrid`: each component's contribution to every item of a
  user's list, for the hybrids that add weighted component scores.

The learned combiners (:class:`WeightedHybrid` with ``learn_weights``,
:class:`AdaptiveHybrid`) learn on the validation split of a named protocol
(:meth:`recbook.evaluate.Protocol.validation_split` of the training data,
``validation=``), so that the validation data look like the task the hybrid
is evaluated on.

**Shared conventions.**

* *Catalogue.* A hybrid knows the union of its components' users and items
  (training ids first, in order of first appearance). A content component that
  can score items without ratings therefore lets the hybrid recommend them.
* *Unknown ids.* A component asked about a user or item it does not know gives
  its own documented fallback estimate; the hybrid combines those.
* *Rating vs ranking.* ``predict`` combines the components' predictions
  (clipped to each component's rating scale, exactly as their own ``predict``
  returns them) and is clipped to the training rating scale when every
  component is a rating model. Top-K lists (``recommend``, ``score_items``)
  combine *scores*, which can live on different scales (a rating, a count, a
  cosine): the weighted, switching and adaptive hybrids therefore standardise
  each component's scores per user before mixing (:func:`normalize_scores`).

References
----------
R. Burke, "Hybrid recommender systems: survey and experiments", User Modeling
and User-Adapted Interaction 12(4), 2002.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from recbook.base import Recommender, _as_1d, check_interactions, check_k, top_k
from recbook.cf.knn import KNN
from recbook.utils import check_int, check_seed

__all__ = [
    "normalize_scores",
    "interleave",
    "WeightedHybrid",
    "SwitchingHybrid",
    "MixedHybrid",
    "FeatureCombination",
    "CascadeHybrid",
    "StackingHybrid",
    "AdaptiveHybrid",
    "MetaLevelHybrid",
    "mmr_rerank",
    "MMRReranker",
    "explain_hybrid",
]

_NORMALIZERS = ("zscore", "minmax", "none")
#: Protocols whose ``validation_split`` a learned combiner can learn on (recbook.evaluate.PROTOCOLS).
_VALIDATION = ("rating", "topk", "cold-items", "cold-users")
_CHUNK = 262_144  # rows per call of a scikit-learn learner at scoring time


# ====================================================================== checks
def _check_model(name: str, model: Any) -> Recommender:
    if not isinstance(model, Recommender):
        raise TypeError(
            f"{name} must be a recbook Recommender (an estimator with fit/predict/recommend), "
            f"got {type(model).__name__}"
        )
    return model


def _check_models(models: Any, name: str = "models", min_len: int = 1) -> list[Recommender]:
    if isinstance(models, Recommender):
        raise TypeError(f"{name} must be a list of recbook Recommenders, got a single {type(models).__name__}")
    if not isinstance(models, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple of recbook Recommenders, got {type(models).__name__}")
    if len(models) < min_len:
        raise ValueError(
            f"{name} must hold at least {min_len} model(s), got {len(models)}: a hybrid needs components"
        )
    return [_check_model(f"{name}[{j}]", m) for j, m in enumerate(models)]


def _check_normalize(value: Any) -> str:
    if value not in _NORMALIZERS:
        raise ValueError(f"normalize must be one of {_NORMALIZERS}, got {value!r}")
    return value


def _check_validation(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"validation must be a protocol name (a str), got {type(value).__name__}")
    if value not in _VALIDATION:
        raise ValueError(
            f"validation must name one of the protocols {_VALIDATION} whose validation split "
            f"the combiner learns on, got {value!r}"
        )
    return value


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


# ============================================================ score helpers
def normalize_scores(scores: Any, method: str = "zscore") -> np.ndarray:
    r"""Put each row of a score matrix on a common scale.

    Mixing the scores of different models in one ranking needs a common scale:
    a rating model scores in :math:`[1, 5]`, popularity in counts, a content
    model in cosines. For one user's row :math:`s_1, \dots, s_n` (finite
    entries only; :math:`\pm\infty` entries, e.g. masked items, are kept):

    .. math::

        \text{zscore: } \tilde s_j = \frac{s_j - \bar s}{\sigma_s}, \qquad
        \text{minmax: } \tilde s_j = \frac{s_j - \min_l s_l}{\max_l s_l - \min_l s_l}.

    A constant row (no preference at all, e.g. a model's fallback for an
    unknown user) becomes all zeros, so it adds nothing to a mixture instead
    of producing NaN. recbook's hybrids default to the **z-score**: one
    extreme score (a blockbuster's count) squashes every other min-max score
    towards 0, whereas the z-score measures each item in "standard deviations
    above this user's average item", which is comparable across models and
    robust to the scale and shift of each model's output.

    Parameters
    ----------
    scores : array-like, shape (n_users, n_items)
    method : {"zscore", "minmax", "none"}

    Returns
    -------
    numpy.ndarray
        A new float array of the same shape.

    Examples
    --------
    >>> normalize_scores([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]).round(4).tolist()
    [[-1.2247, 0.0, 1.2247], [0.0, 0.0, 0.0]]
    """
    method = _check_normalize(method)
    s = np.array(scores, dtype=np.float64, copy=True)
    if s.ndim == 1:
        s = s[None, :]
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D (n_users, n_items) array, got shape {s.shape}")
    if method == "none" or s.size == 0:
        return s
    finite = np.isfinite(s)
    n = np.maximum(finite.sum(axis=1), 1)
    vals = np.where(finite, s, 0.0)
    if method == "zscore":
        mean = vals.sum(axis=1) / n
        dev = np.where(finite, s - mean[:, None], 0.0)
        std = np.sqrt((dev**2).sum(axis=1) / n)
        scale = np.maximum(np.abs(mean), 1.0) * 1e-12
        ok = std > scale
        out = np.where(ok[:, None], dev / np.where(ok, std, 1.0)[:, None], 0.0)
    else:
        lo = np.where(finite, s, np.inf).min(axis=1)
        hi = np.where(finite, s, -np.inf).max(axis=1)
        rng = hi - lo
        ok = np.isfinite(rng) & (rng > 0)
        out = np.where(ok[:, None], (vals - np.where(ok, lo, 0.0)[:, None]) / np.where(ok, rng, 1.0)[:, None], 0.0)
    out[~finite] = s[~finite]
    return out


def interleave(
    lists: Sequence[Sequence[Any]],
    k: int | None = None,
    method: str = "round_robin",
    quotas: Sequence[int] | None = None,
    seed: int | np.random.Generator = 0,
    return_sources: bool = False,
) -> list | tuple[list, list]:
    r"""Merge ranked lists into one, without duplicates.

    ``"round_robin"``
        The lists take turns; with ``quotas`` :math:`(q_1, \dots, q_C)` list
        :math:`c` fills :math:`q_c` of every :math:`Q = \sum_c q_c` slots,
        spread evenly (at slot :math:`t` the list with the largest deficit
        :math:`q_c (t+1)/Q - \text{taken}_c` picks, ties to the lower index).
        Equal quotas give plain alternation A, B, A, B, ...
    ``"team_draft"``
        Team-draft interleaving (Radlinski, Kurup & Joachims, 2008): in each
        round the team with fewer picks goes first (ties by a coin flip from
        ``seed``) and every team adds its best item not yet in the list. It
        is the fair interleaving used to compare two rankers online: a click
        credits the team that contributed the item.

    A list whose next item is already taken skips to its next new item; an
    exhausted list drops out.

    Parameters
    ----------
    lists : sequence of sequences
        Ranked lists, best first.
    k : int, optional
        Length of the merged list; default: until every list is exhausted.
    method : {"round_robin", "team_draft"}
    quotas : sequence of int, optional
        Positive slot shares for ``"round_robin"``; default one each.
    seed : int or numpy Generator
        Coin flips of ``"team_draft"``.
    return_sources : bool
        Also return, for each merged item, the index of the list it came from.

    Returns
    -------
    list, or (list, list of int)

    Examples
    --------
    >>> interleave([["a", "b", "c"], ["b", "d", "e"]], k=4)
    ['a', 'b', 'c', 'd']
    >>> interleave([[1, 2, 3, 4, 5], [6, 7, 8]], k=5, quotas=[3, 2])
    [1, 6, 2, 7, 3]
    """
    if method not in ("round_robin", "team_draft"):
        raise ValueError(f"method must be 'round_robin' or 'team_draft', got {method!r}")
    if isinstance(lists, (str, bytes)) or not isinstance(lists, Sequence) or len(lists) == 0:
        raise ValueError("lists must be a non-empty sequence of ranked lists")
    lists = [list(lst.tolist() if isinstance(lst, np.ndarray) else lst) for lst in lists]
    n_lists = len(lists)
    total = len(set().union(*[set(lst) for lst in lists]))
    k = total if k is None else min(check_k(k), total)
    if quotas is None:
        q = np.ones(n_lists)
    else:
        if method != "round_robin":
            raise ValueError("quotas apply to method='round_robin' only; team-draft gives every team one pick a round")
        if len(quotas) != n_lists:
            raise ValueError(f"quotas must have one entry per list ({n_lists}), got {len(quotas)}")
        for j, v in enumerate(quotas):
            check_int(f"quotas[{j}]", v, minimum=1)
        q = np.asarray(quotas, dtype=np.float64)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_seed(seed))
    pos = [0] * n_lists
    taken: set = set()
    out: list = []
    src: list[int] = []

    def next_new(c: int) -> Any:
        lst = lists[c]
        while pos[c] < len(lst) and lst[pos[c]] in taken:
            pos[c] += 1
        return lst[pos[c]] if pos[c] < len(lst) else _EXHAUSTED

    counts = np.zeros(n_lists)
    if method == "round_robin":
        alive = np.ones(n_lists, dtype=bool)
        while len(out) < k and alive.any():
            deficit = np.where(alive, q * (len(out) + 1) / q.sum() - counts, -np.inf)
            c = int(np.argmax(deficit))
            item = next_new(c)
            if item is _EXHAUSTED:
                alive[c] = False
                continue
            taken.add(item)
            out.append(item)
            src.append(c)
            counts[c] += 1
    else:
        while len(out) < k:
            order = np.lexsort((rng.random(n_lists), counts))  # fewer picks first, coin flip on ties
            picked = False
            for c in order:
                if len(out) >= k:
                    break
                item = next_new(int(c))
                if item is _EXHAUSTED:
                    continue
                taken.add(item)
                out.append(item)
                src.append(int(c))
                counts[c] += 1
                picked = True
            if not picked:
                break
    return (out, src) if return_sources else out


class _Exhausted:
    pass


_EXHAUSTED = _Exhausted()


def _predict_chunked(learner: Any, X: np.ndarray) -> np.ndarray:
    if len(X) <= _CHUNK:
        return np.asarray(learner.predict(X), dtype=np.float64)
    return np.concatenate(
        [np.asarray(learner.predict(X[s : s + _CHUNK]), dtype=np.float64) for s in range(0, len(X), _CHUNK)]
    )


def _rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))


def _pair_counts(frame: pd.DataFrame, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct-rating counts in ``frame`` of each user in ``users`` and item in ``items`` (0 if absent)."""
    pairs = frame[["user", "item"]].drop_duplicates()
    nu = pairs["user"].value_counts()
    ni = pairs["item"].value_counts()
    cu = nu.reindex(users).fillna(0).to_numpy(dtype=np.float64)
    ci = ni.reindex(items).fillna(0).to_numpy(dtype=np.float64)
    return cu, ci


# ================================================================= the base
class _Hybrid(Recommender):
    """Shared machinery: fit clones, align catalogues, call components by index."""

    def _check_params(self) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:  # pragma: no cover
        raise NotImplementedError

    def _fitted_components(self) -> list[Recommender]:  # pragma: no cover - every subclass overrides
        """The fitted component clones, in the order the ``_comp_*`` helpers index them."""
        raise NotImplementedError

    def _extra_item_ids(self) -> np.ndarray | None:
        return None

    def _extra_user_ids(self) -> np.ndarray | None:
        return None

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        """Nothing to learn on indices: :meth:`fit` fits the components on the raw frame."""

    def fit(self, train: pd.DataFrame) -> "_Hybrid":
        """Clone and fit the components on ``train`` (``user, item[, rating]``), then combine them."""
        self._check_params()
        frame = check_interactions(train, "train")
        super().fit(frame)
        self._fit_hybrid(frame)
        self._align()
        return self

    # ------------------------------------------------------------ catalogue
    def _align(self) -> None:
        comps = self._fitted_components()
        self._clip = all(getattr(m, "_clip", True) for m in comps)

        def union(first: np.ndarray, others: list[np.ndarray]) -> pd.Index:
            index = pd.Index(first)
            for arr in others:
                if arr is None or len(arr) == 0:
                    continue
                extra = pd.Index(arr)
                extra = extra[~extra.isin(index)].unique()
                if len(extra):
                    index = index.append(extra)
            return index

        users = union(self.user_ids_, [m.user_ids_ for m in comps] + [self._extra_user_ids()])
        extra_items = self._extra_item_ids()
        items = union(self.item_ids_, [m.item_ids_ for m in comps] + [extra_items])
        if len(users) != self.n_users_ or len(items) != self.n_items_:
            self.user_ids_ = np.asarray(users)
            self.item_ids_ = np.asarray(items)
            self._user_index = users
            self._item_index = items
            self.n_users_ = len(users)
            self.n_items_ = len(items)
            self.train_ = self.train_.tocsr(copy=True)
            self.train_.resize((self.n_users_, self.n_items_))
        self.user_counts_ = np.diff(self.train_.indptr).astype(np.float64)
        self.item_counts_ = np.bincount(self.train_.indices, minlength=self.n_items_).astype(np.float64)
        self._umaps = [m.user_index(self.user_ids_) for m in comps]
        self._imaps = [m.item_index(self.item_ids_) for m in comps]

    def _counts(self, u: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cu = np.where(u >= 0, self.user_counts_[np.maximum(u, 0)], 0.0)
        ci = np.where(i >= 0, self.item_counts_[np.maximum(i, 0)], 0.0)
        return cu, ci

    # ------------------------------------------------------ component calls
    def _comp_index(self, c: int, u: np.ndarray, i: np.ndarray | None = None):
        cu = np.where(u >= 0, self._umaps[c][np.maximum(u, 0)], -1)
        if i is None:
            return cu
        ci = np.where(i >= 0, self._imaps[c][np.maximum(i, 0)], -1)
        return cu, ci

    def _comp_predict(self, c: int, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Component ``c``'s ``predict`` for hybrid index pairs (clipped like its own ``predict``)."""
        model = self._fitted_components()[c]
        cu, ci = self._comp_index(c, u, i)
        est = np.asarray(model._predict_idx(cu, ci), dtype=np.float64)
        if getattr(model, "_clip", True):
            est = np.clip(est, *model.rating_scale_)
        return est

    def _comp_knows(self, c: int, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        cu, ci = self._comp_index(c, u, i)
        return (cu >= 0) & (ci >= 0)

    def _comp_scores(self, c: int, u: np.ndarray) -> np.ndarray:
        """Component ``c``'s ``score_items`` rows, re-indexed to the hybrid's catalogue.

        Items the component does not know get its fallback estimate for an
        unknown item (its ``predict`` for that pair).
        """
        model = self._fitted_components()[c]
        cu = self._comp_index(c, u)
        raw = np.asarray(model._score_users(cu), dtype=np.float64)
        imap = self._imaps[c]
        known = imap >= 0
        if known.all():
            return raw[:, imap]
        out = np.empty((len(u), self.n_items_))
        out[:, known] = raw[:, imap[known]]
        unknown = np.flatnonzero(~known)
        fb = np.asarray(
            model._predict_idx(np.repeat(cu, len(unknown)), np.full(len(cu) * len(unknown), -1, dtype=np.int64)),
            dtype=np.float64,
        )
        out[:, unknown] = fb.reshape(len(u), len(unknown))
        return out

    def _seen_mask(self, u: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``scores`` with each known user's training items set to ``-inf``."""
        known = np.flatnonzero(u >= 0)
        if len(known):
            seen = self.train_[u[known]].tocoo()
            scores[known[seen.row], seen.col] = -np.inf
        return scores

    def _validation_split(self, frame: pd.DataFrame, validation: str, seed: int):
        """``(fit part, validation part)`` of ``frame``: the named protocol's :meth:`validation_split`."""
        from recbook.evaluate import get_protocol

        return get_protocol(validation).validation_split(frame, seed=seed)


# ================================================================= weighted
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
        self._check_params()

    def _check_params(self) -> None:
        models = _check_models(self.models)
        learn = _check_bool("learn_weights", self.learn_weights)
        _check_normalize(self.normalize)
        _check_validation(self.validation)
        check_seed(self.seed)
        if self.weights is not None:
            if learn:
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


# ================================================================ switching
class SwitchingHybrid(_Hybrid):
    r"""Switching hybrid: the fallback model for cold pairs, the primary otherwise.

    With :math:`n_u`, :math:`n_i` the numbers of training ratings of user
    :math:`u` and item :math:`i` (0 when unknown),

    .. math::

        \hat r_{ui} = \begin{cases}
            \hat r^{\text{primary}}_{ui} & n_u \ge t_U \text{ and } n_i \ge t_I,\\
            \hat r^{\text{fallback}}_{ui} & \text{otherwise.}
        \end{cases}

    The typical use is collaborative filtering as ``primary`` and a content
    model (which needs no ratings of the item) as ``fallback``, the cure for
    the new-item problem (Schein et al., 2002). The decision is made per
    pair, so one user's list can mix both models. For top-K the chosen model's
    per-user standardised score fills each cell (``normalize``).

    Parameters
    ----------
    primary, fallback : Recommender
        Unfitted components.
    min_user_ratings, min_item_ratings : int
        Thresholds :math:`t_U, t_I` (non-negative).
    normalize : {"zscore", "minmax", "none"}
        Per-user score normalisation for top-K. Use ``"none"`` when both
        models predict ratings on the same scale.
    """

    def __init__(
        self,
        primary: Recommender,
        fallback: Recommender,
        min_user_ratings: int = 5,
        min_item_ratings: int = 5,
        normalize: str = "zscore",
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.min_user_ratings = min_user_ratings
        self.min_item_ratings = min_item_ratings
        self.normalize = normalize
        self._check_params()

    def _check_params(self) -> None:
        _check_model("primary", self.primary)
        _check_model("fallback", self.fallback)
        check_int("min_user_ratings", self.min_user_ratings, minimum=0)
        check_int("min_item_ratings", self.min_item_ratings, minimum=0)
        _check_normalize(self.normalize)

    def _fitted_components(self) -> list[Recommender]:
        return [self.primary_, self.fallback_]

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        self.primary_ = clone(self.primary).fit(frame)
        self.fallback_ = clone(self.fallback).fit(frame)

    def _cold_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        cu, ci = self._counts(u, i)
        return (cu < self.min_user_ratings) | (ci < self.min_item_ratings)

    def uses_fallback(self, users: Any, items: Any) -> np.ndarray:
        """Boolean array: which ``(users[j], items[j])`` pairs the fallback model serves."""
        users, items = _as_1d(users, "users"), _as_1d(items, "items")
        if len(users) != len(items):
            raise ValueError(f"users and items must have the same length, got {len(users)} and {len(items)}")
        return self._cold_idx(self.user_index(users), self.item_index(items))

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        cold = self._cold_idx(u, i)
        est = np.empty(len(u))
        if (~cold).any():
            est[~cold] = self._comp_predict(0, u[~cold], i[~cold])
        if cold.any():
            est[cold] = self._comp_predict(1, u[cold], i[cold])
        return est

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        cold = self._cold_idx(
            np.repeat(u, self.n_items_), np.tile(np.arange(self.n_items_), len(u))
        ).reshape(len(u), self.n_items_)
        out = normalize_scores(self._comp_scores(0, u), self.normalize)
        if cold.any():
            fb = normalize_scores(self._comp_scores(1, u), self.normalize)
            out[cold] = fb[cold]
        return out

    def _score_parts(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights (1 for the model that serves the pair, else 0) and normalised scores, ``(len(u), n_items_, 2)``."""
        cold = self._cold_idx(
            np.repeat(u, self.n_items_), np.tile(np.arange(self.n_items_), len(u))
        ).reshape(len(u), self.n_items_)
        Z = np.stack([normalize_scores(self._comp_scores(c, u), self.normalize) for c in (0, 1)], axis=2)
        return np.stack([~cold, cold], axis=2).astype(np.float64), Z


# ==================================================================== mixed
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
        self._check_params()

    def _check_params(self) -> None:
        models = _check_models(self.models)
        if self.method not in ("round_robin", "team_draft"):
            raise ValueError(f"method must be 'round_robin' or 'team_draft', got {self.method!r}")
        if self.k_per_model is not None:
            if self.method != "round_robin":
                raise ValueError("k_per_model applies to method='round_robin' only")
            if not isinstance(self.k_per_model, (list, tuple, np.ndarray)) or len(self.k_per_model) != len(models):
                raise ValueError(
                    f"k_per_model must have one positive integer per model ({len(models)}), got {self.k_per_model!r}"
                )
            for j, v in enumerate(self.k_per_model):
                check_int(f"k_per_model[{j}]", v, minimum=1)
        check_int("depth", self.depth, minimum=1)
        check_seed(self.seed)

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
            rng = np.random.default_rng([check_seed(self.seed), int(u[row]) + 1])
            merged = interleave(lists, method=self.method, quotas=self.k_per_model, seed=rng)
            merged = np.asarray(merged, dtype=np.int64)
            out[row, merged] = len(merged) - np.arange(len(merged), dtype=np.float64)
        return out


# ====================================================== feature combination
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
        self._check_params()

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
        self._item_table = self._as_table("item_features", self.item_features, nonneg=True)
        self._user_table = self._as_table("user_features", self.user_features, nonneg=False)
        _check_models(self.models, min_len=0)
        if self.learner is not None and not (hasattr(self.learner, "fit") and hasattr(self.learner, "predict")):
            raise TypeError(f"learner must be a scikit-learn regressor with fit/predict, got {type(self.learner).__name__}")
        check_int("n_folds", self.n_folds, minimum=2)
        s = self.shrinkage
        if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)) or not np.isfinite(s) or s < 0:
            raise ValueError(f"shrinkage must be a finite non-negative number, got {s!r}")
        check_seed(self.seed)

    def _fitted_components(self) -> list[Recommender]:
        return self.models_

    def _extra_item_ids(self) -> np.ndarray | None:
        return None if self._item_table is None else self._item_table.index.to_numpy()

    def _extra_user_ids(self) -> np.ndarray | None:
        return None if self._user_table is None else self._user_table.index.to_numpy()

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
        su, si = np.maximum(u, 0), np.maximum(i, 0)
        pu = np.where(u >= 0, self._pos_u[su], -1)
        pi = np.where(i >= 0, self._pos_i[si], -1)
        fi = np.where(i >= 0, self._pos_f[si], len(self._F) - 1 if self._F is not None else 0)
        gu = np.where(u >= 0, self._pos_g[su], len(self._G) - 1 if self._G is not None else 0)
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


# ================================================================== cascade
class CascadeHybrid(_Hybrid):
    r"""Cascade: the first model proposes candidates, the second re-ranks them.

    For user :math:`u`, let :math:`C_u` be the ``n_candidates`` unseen items
    with the highest scores of ``first``. Then

    .. math::

        s_{ui} = \begin{cases} s^{\text{second}}_{ui} & i \in C_u,\\
                 -\infty & \text{otherwise,} \end{cases}

    so every recommended item is a first-stage candidate, ordered by the
    second model. This is the two-stage *retrieval + ranking* architecture of
    large systems (a cheap model narrows millions of items to hundreds, an
    expensive one orders them; Covington et al., 2016), and Burke's cascade
    in which a later model refines an earlier one. ``recommend`` with ``k >
    n_candidates`` raises: the first stage would not supply enough items.

    **Ratings.** ``predict`` is the second model's prediction where the second
    model knows both the user and the item, and the first model's otherwise
    (e.g. a content first stage that can score cold items) -- provided the
    first is a rating model; a ranking first stage (popularity, EASE) has no
    rating to offer, and the second model's own fallback is used instead.

    Parameters
    ----------
    first, second : Recommender
    n_candidates : int
        Candidates per user (positive).
    """

    def __init__(self, first: Recommender, second: Recommender, n_candidates: int = 100) -> None:
        self.first = first
        self.second = second
        self.n_candidates = n_candidates
        self._check_params()

    def _check_params(self) -> None:
        _check_model("first", self.first)
        _check_model("second", self.second)
        check_int("n_candidates", self.n_candidates, minimum=1)

    def _fitted_components(self) -> list[Recommender]:
        return [self.first_, self.second_]

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        self.first_ = clone(self.first).fit(frame)
        self.second_ = clone(self.second).fit(frame)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        est = self._comp_predict(1, u, i)
        if not getattr(self.first_, "_clip", True):  # a ranking score is no rating to fall back on
            return est
        cold = ~self._comp_knows(1, u, i)
        if cold.any():
            est[cold] = self._comp_predict(0, u[cold], i[cold])
        return est

    def candidates(self, users: Any) -> pd.DataFrame:
        """The first stage's candidates: ``user, item, first_score, first_rank``."""
        users = _as_1d(users, "users")
        u = self.user_index(users)
        s1 = self._seen_mask(u, self._comp_scores(0, u))
        top = top_k(s1, min(self.n_candidates, self.n_items_))
        sc = np.take_along_axis(s1, top, axis=1)
        ok = np.isfinite(sc)
        rows = np.repeat(np.arange(len(u)), top.shape[1]).reshape(top.shape)
        ranks = np.tile(np.arange(1, top.shape[1] + 1), (len(u), 1))
        return pd.DataFrame(
            {"user": users[rows[ok]], "item": self.item_ids_[top[ok]], "first_score": sc[ok], "first_rank": ranks[ok]}
        )

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        s1 = self._seen_mask(u, self._comp_scores(0, u))
        top = top_k(s1, min(self.n_candidates, self.n_items_))
        ok = np.isfinite(np.take_along_axis(s1, top, axis=1))
        s2 = self._comp_scores(1, u)
        out = np.full((len(u), self.n_items_), -np.inf)
        rows = np.repeat(np.arange(len(u)), top.shape[1]).reshape(top.shape)
        out[rows[ok], top[ok]] = s2[rows[ok], top[ok]]
        return out

    def recommend(self, users: Any = None, k: int = 10, exclude_seen: bool = True, batch_size: int = 512) -> pd.DataFrame:
        """Top-``k`` of the re-ranked candidates; ``k`` may not exceed ``n_candidates``."""
        k = check_k(k)
        if k > self.n_candidates:
            raise ValueError(
                f"k={k} is larger than n_candidates={self.n_candidates}: the first stage supplies only "
                "n_candidates items per user; raise n_candidates"
            )
        return super().recommend(users, k=k, exclude_seen=exclude_seen, batch_size=batch_size)


# ================================================================= stacking
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
        self._check_params()

    def _check_params(self) -> None:
        _check_models(self.models)
        if self.meta_learner is not None and not (
            hasattr(self.meta_learner, "fit") and hasattr(self.meta_learner, "predict")
        ):
            raise TypeError(
                f"meta_learner must be a scikit-learn regressor with fit/predict, got {type(self.meta_learner).__name__}"
            )
        check_int("n_folds", self.n_folds, minimum=2)
        _check_bool("meta_features", self.meta_features)
        check_seed(self.seed)

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
            if getattr(m, "_clip", True):
                np.clip(S[c], *m.rating_scale_, out=S[c])
        uu = np.repeat(u, n_items)
        ii = np.tile(np.arange(n_items, dtype=np.int64), len(u))
        X = self._meta_X([s.ravel() for s in S], uu, ii)
        return _predict_chunked(self.meta_learner_, X).reshape(len(u), n_items)


# ================================================================= adaptive
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

        w_m(\mathbf z) = \frac{\exp(\alpha_m + \boldsymbol\beta_m^\top \mathbf z)}
                              {\sum_{m'} \exp(\alpha_{m'} + \boldsymbol\beta_{m'}^\top \mathbf z)},
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
        :math:`[\alpha_m, \boldsymbol\beta_m]` per component.
    validation_rmse_ : dict
        Validation RMSE of each component, of their equal-weight mix and of the gated mix.
    """

    _CONTEXT = ("user_count", "item_count")

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
        self._check_params()

    def _check_params(self) -> None:
        _check_models(self.models, min_len=2)
        if isinstance(self.context, str) or not isinstance(self.context, (list, tuple)) or not self.context:
            raise ValueError(f"context must be a non-empty list drawn from {self._CONTEXT}, got {self.context!r}")
        bad = [c for c in self.context if c not in self._CONTEXT]
        if bad or len(set(self.context)) != len(self.context):
            raise ValueError(f"context must list distinct names among {self._CONTEXT}, got {self.context!r}")
        lam = self.l2
        if isinstance(lam, bool) or not isinstance(lam, (int, float, np.integer, np.floating)) or not np.isfinite(lam) or lam < 0:
            raise ValueError(f"l2 must be a finite non-negative number, got {lam!r}")
        _check_normalize(self.normalize)
        _check_validation(self.validation)
        c = self.cold_item_fraction
        if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)) or not 0.0 <= c < 1.0:
            raise ValueError(f"cold_item_fraction must be a number in [0, 1), got {c!r}")
        check_seed(self.seed)

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


# =============================================================== meta-level
class MetaLevelHybrid(KNN):
    r"""Meta-level hybrid: collaborative filtering on top of content *models*.

    In Burke's meta-level hybrid the **model** learned by one technique (not
    its predictions) is the input of another. Here, as in Pazzani's
    "collaboration via content" (1999), the content technique learns each
    user's profile :math:`\mathbf p_u` (:func:`recbook.content.user_profiles`:
    the centred, rating-weighted mean of the unit feature vectors of the items
    the user rated), and user-based KNN (:class:`recbook.cf.KNN`, the same
    neighbour selection and aggregation, ``rule`` as there) uses the cosine of
    the profiles as its user-user similarity:

    .. math::

        \mathrm{sim}(u, v) = \cos(\mathbf p_u, \mathbf p_v), \qquad
        \hat r_{ui} = \mu_u + \frac{\sum_{v \in N_i^k(u),\ \mathrm{sim}>0}
        \mathrm{sim}(u, v)\,(r_{vi} - \mu_v)}{\sum_{v \in N_i^k(u),\ \mathrm{sim}>0} \mathrm{sim}(u, v)}
        \quad (\texttt{rule="with\\_means"}).

    Two users can be neighbours without a single co-rated item, as long as
    they like the same kinds of items: the similarity no longer needs overlap,
    which helps users with few ratings. Items still need ratings (a neighbour
    must have rated :math:`i`), so this does not solve the new-item problem.

    Parameters
    ----------
    item_features : FeatureMatrix, DataFrame or (ids, matrix)
        A vector for every training item (as for :class:`recbook.content.ContentKNN`).
    k, min_k : int
        Neighbours kept and minimum positive neighbours (see :class:`recbook.cf.KNN`).
    rule : {"basic", "with_means", "with_zscore", "baseline"}

    Attributes
    ----------
    sim_ : numpy.ndarray, shape (n_users_, n_users_)
        Cosine similarity of the users' content profiles.
    profiles_ : recbook.content.FeatureMatrix
        The users' content profiles, in internal user order.

    References
    ----------
    Burke (2002); M. J. Pazzani, "A framework for collaborative, content-based
    and demographic filtering", Artificial Intelligence Review 13, 1999.
    """

    def __init__(self, item_features: Any, k: int = 40, min_k: int = 1, rule: str = "with_means") -> None:
        self.item_features = item_features
        super().__init__(k=k, min_k=min_k, sim="cosine", user_based=True, rule=rule)

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        from recbook.content import cosine_similarity, user_profiles

        if self.sim != "cosine" or self.user_based is not True:
            raise ValueError("MetaLevelHybrid is user-based with profile cosine: leave sim and user_based alone")
        super()._fit(u, i, r)  # neighbour lists, means and deviations of recbook.cf.KNN
        frame = pd.DataFrame({"user": self.user_ids_[u], "item": self.item_ids_[i], "rating": r})
        profiles = user_profiles(frame, self.item_features).rows(self.user_ids_)
        self.profiles_ = profiles
        sim = np.asarray(cosine_similarity(profiles.matrix), dtype=np.float64)
        np.fill_diagonal(sim, 1.0)
        self.sim_ = sim


# ============================================================ diversity: MMR
def _check_relevance_weight(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"relevance_weight must be a number in [0, 1], got {type(value).__name__}")
    if not (np.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"relevance_weight must be a number in [0, 1], got {value!r}")
    return float(value)


def mmr_rerank(
    scores: Any,
    similarity: Any,
    k: int = 10,
    relevance_weight: float = 0.5,
    n_candidates: int | None = None,
) -> np.ndarray:
    r"""Maximal marginal relevance: re-rank each row's candidates for relevance *and* novelty.

    A list ranked by score alone often repeats itself: the ten films a model
    likes best for a user may be ten films of one kind. Maximal marginal
    relevance (MMR; Carbonell & Goldstein, 1998) builds the list greedily.
    With :math:`C_u` the ``n_candidates`` best-scored items of row :math:`u`,
    their scores rescaled to :math:`[0, 1]` (min-max over :math:`C_u`,
    :math:`\tilde s_{ui}`), and :math:`S` the items already chosen, the next
    item is

    .. math::

        i^{*} = \operatorname*{arg\,max}_{i \in C_u \setminus S}
        \Big[\eta\, \tilde s_{ui} - (1 - \eta) \max_{j \in S} \operatorname{sim}(i, j)\Big],
        \qquad \max_{j \in \emptyset} = 0,

    where :math:`\eta` (``relevance_weight``; Carbonell and Goldstein write
    :math:`\lambda`) trades relevance against similarity to what the list
    already holds. :math:`\eta = 1` is the score ranking itself; smaller
    :math:`\eta` pushes near-duplicates of chosen items down. The first item
    is always the best-scored one (for :math:`\eta > 0`). Because the list is
    built greedily, the first :math:`K` items of a longer MMR list are the MMR
    list of length :math:`K`.

    Ties in the bracket go to the lower column index, the rule of
    :func:`recbook.base.top_k`. Entries of ``scores`` that are ``-inf`` or NaN
    (masked items) come after every finite one, lower column first, as in
    :func:`recbook.base.top_k`; with ``relevance_weight=1`` the result *is*
    ``top_k(scores, k)``.

    Parameters
    ----------
    scores : array-like, shape (n_rows, n_items)
        One row of scores per user (larger is better).
    similarity : array-like, shape (n_items, n_items)
        ``similarity[i, j]`` = :math:`\operatorname{sim}(i, j)`, finite (e.g.
        the cosine of item feature vectors, in :math:`[0, 1]` for non-negative
        features such as genres, so that it is on the scale of :math:`\tilde s`).
    k : int
        List length (at most ``n_candidates``).
    relevance_weight : float
        :math:`\eta \in [0, 1]`.
    n_candidates : int, optional
        Size of :math:`C_u` (default: every item).

    Returns
    -------
    numpy.ndarray of int64, shape (n_rows, min(k, n_candidates, n_items))
        Column indices, the chosen order.

    References
    ----------
    J. Carbonell and J. Goldstein, "The use of MMR, diversity-based reranking
    for reordering documents and producing summaries", SIGIR 1998.

    Examples
    --------
    >>> sim = np.array([[1, .8, .2, 0], [.8, 1, .1, 0], [.2, .1, 1, 0], [0, 0, 0, 1]])
    >>> mmr_rerank([[4.0, 3.0, 2.0, 0.0]], sim, k=4, relevance_weight=0.5).tolist()
    [[0, 2, 3, 1]]
    """
    from recbook.base import _finite_or_minus_inf

    try:
        s = np.array(scores, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise TypeError("scores must be a numeric (n_rows, n_items) array") from None
    if s.ndim == 1:
        s = s[None, :]
    if s.ndim != 2 or s.shape[1] == 0:
        raise ValueError(f"scores must be a 2-D (n_rows, n_items) array with at least one item, got shape {s.shape}")
    s = _finite_or_minus_inf(s)
    n_rows, n_items = s.shape
    try:
        sim = np.asarray(similarity, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("similarity must be a numeric (n_items, n_items) array") from None
    if sim.shape != (n_items, n_items):
        raise ValueError(f"similarity must have shape {(n_items, n_items)} (one row and column per item), got {sim.shape}")
    if not np.all(np.isfinite(sim)):
        raise ValueError("similarity must be finite")
    k = check_k(k)
    eta = _check_relevance_weight(relevance_weight)
    n_cand = n_items if n_candidates is None else min(check_int("n_candidates", n_candidates), n_items)
    k = min(k, n_cand)
    if eta == 1.0:
        return top_k(s, k)
    cand = top_k(s, n_cand)  # (n_rows, n_cand): the candidates C_u, best first
    rel = normalize_scores(np.take_along_axis(s, cand, axis=1), "minmax")  # -inf stays -inf
    finite = np.isfinite(rel)
    taken = np.zeros(cand.shape, dtype=bool)
    max_sim = np.zeros(cand.shape)
    chosen = np.empty((n_rows, k), dtype=np.int64)
    rows = np.arange(n_rows)
    never = np.iinfo(np.int64).max
    for t in range(k):
        value = np.where(finite, eta * np.where(finite, rel, 0.0) - (1.0 - eta) * max_sim, -np.inf)
        value[taken] = -np.inf
        best = np.where(taken, -np.inf, value).max(axis=1, keepdims=True)
        is_best = (value == best) & ~taken
        col = np.where(is_best, cand, never).min(axis=1)  # ties: the lower column index
        pos = np.argmax(is_best & (cand == col[:, None]), axis=1)
        chosen[:, t] = col
        taken[rows, pos] = True
        max_sim = np.maximum(max_sim, sim[cand, col[:, None]])
    return chosen


class MMRReranker(_Hybrid):
    r"""A ranking model's lists re-ranked by maximal marginal relevance over item features.

    The base ``model`` scores every item for the user; the user's training
    items are removed; its ``n_candidates`` best items are re-ordered by
    :func:`mmr_rerank` with the cosine similarity of the items'
    ``item_features`` vectors,

    .. math::

        i^{*} = \operatorname*{arg\,max}_{i \in C_u \setminus S}
        \Big[\eta\, \tilde s_{ui} - (1 - \eta) \max_{j \in S} \cos(\mathbf x_i, \mathbf x_j)\Big],

    so the list trades some relevance (:math:`\tilde s`, the base scores
    min-max scaled over the candidates) for variety among its items
    (Carbonell & Goldstein, 1998; Ziegler et al., 2005, do the same with a
    taxonomy). ``relevance_weight=1`` (:math:`\eta`) returns the base ranking
    exactly.

    **Scores.** ``score_items`` returns rank-derived scores: the MMR order of
    the candidates first (the candidate chosen at step :math:`t` scores
    :math:`|C_u| - t`), then the other items in the base model's order, every
    one below the candidates. With ``exclude_seen=False`` the seen items
    come after the candidates. ``predict`` is the base model's: MMR changes
    lists, not rating estimates.

    **Cost.** The item-item similarity is a dense ``n_items x n_items``
    matrix (about 23 MB for 1,700 items), and each user costs ``n_candidates``
    greedy steps over ``n_candidates`` items.

    Parameters
    ----------
    model : Recommender
        The base ranking model. Cloned and fitted on ``fit``'s data, unless
        ``prefit``.
    item_features : FeatureMatrix, DataFrame or (ids, matrix)
        One vector per item (items without one are similar to nothing).
    relevance_weight : float
        :math:`\eta \in [0, 1]`.
    n_candidates : int
        Size of the candidate set :math:`C_u`.
    prefit : bool
        ``model`` is already fitted on the training data that ``fit`` gets,
        and is used as it is (not cloned, not refitted): sweeping
        ``relevance_weight`` then costs no refit. :func:`sklearn.base.clone`
        (and so :meth:`recbook.evaluate.Protocol.run`) returns an unfitted
        copy of a prefit reranker's model: use ``prefit=False`` there.

    Attributes
    ----------
    model_ : Recommender
        The fitted base model.
    similarity_ : numpy.ndarray, shape (n_items_, n_items_)
        Cosine similarity of the catalogue's feature vectors.

    References
    ----------
    J. Carbonell and J. Goldstein, SIGIR 1998; C.-N. Ziegler, S. M. McNee,
    J. A. Konstan and G. Lausen, "Improving recommendation lists through
    topic diversification", WWW 2005.
    """

    def __init__(
        self,
        model: Recommender,
        item_features: Any,
        relevance_weight: float = 0.7,
        n_candidates: int = 100,
        prefit: bool = False,
    ) -> None:
        self.model = model
        self.item_features = item_features
        self.relevance_weight = relevance_weight
        self.n_candidates = n_candidates
        self.prefit = prefit
        self._check_params()

    def _check_params(self) -> None:
        from recbook.content import as_feature_matrix

        _check_model("model", self.model)
        self._features = as_feature_matrix(self.item_features, "item_features")
        _check_relevance_weight(self.relevance_weight)
        check_int("n_candidates", self.n_candidates, minimum=1)
        _check_bool("prefit", self.prefit)

    def _fitted_components(self) -> list[Recommender]:
        return [self.model_]

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        if self.prefit:
            if not hasattr(self.model, "user_ids_"):
                raise ValueError("prefit=True needs a fitted model: call model.fit(train) first, or use prefit=False")
            self.model_ = self.model
        else:
            self.model_ = clone(self.model).fit(frame)

    def _align(self) -> None:
        from recbook.content import cosine_similarity

        super()._align()
        sim = np.asarray(cosine_similarity(self._features.reindex(self.item_ids_).matrix), dtype=np.float64)
        self.similarity_ = sim

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self._comp_predict(0, u, i)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        base = self._comp_scores(0, u)
        masked = self._seen_mask(u, base.copy())
        n_cand = min(self.n_candidates, self.n_items_)
        order = mmr_rerank(masked, self.similarity_, k=n_cand, relevance_weight=self.relevance_weight,
                           n_candidates=n_cand)  # fmt: skip
        finite = np.isfinite(base)
        top = base[finite].max() if finite.any() else 0.0
        out = np.where(finite, base - top - 1.0, -np.inf)  # the tail: every value <= -1, base order
        rows = np.repeat(np.arange(len(u)), order.shape[1]).reshape(order.shape)
        ok = np.isfinite(np.take_along_axis(masked, order, axis=1))
        rank_score = np.broadcast_to(order.shape[1] - np.arange(order.shape[1], dtype=np.float64), order.shape)
        out[rows[ok], order[ok]] = rank_score[ok]
        return out


# ============================================================ explanations
def explain_hybrid(hybrid: Recommender, user: Any, k: int = 10, names: Sequence[str] | None = None) -> pd.DataFrame:
    r"""Why each item of a user's list is there: every component's share of its score.

    For the hybrids that mix per-user normalised component scores
    (:class:`WeightedHybrid`, :class:`SwitchingHybrid`,
    :class:`AdaptiveHybrid`), the score of item :math:`i` for user :math:`u` is

    .. math::

        s_{ui} = \sum_m w_m(u, i)\, \tilde s^{(m)}_{ui},

    with :math:`w_m` the fixed weight, the switch (1 for the model that serves
    the pair, 0 for the other) or the gate's weight, and :math:`\tilde
    s^{(m)}_{ui}` component :math:`m`'s score standardised over the user's
    row (:func:`normalize_scores`). Each term :math:`w_m \tilde s^{(m)}_{ui}`
    is that component's *contribution*; they add up to the score exactly.
    The component with the largest contribution is the one that put the item
    in the list (the ``source``); its own rank of the item (among the user's
    unseen items) says whether it would have recommended the item alone. The
    evidence behind a component's score comes from the component itself,
    e.g. :meth:`recbook.content.ContentKNN.explain` (the user's rated items
    most similar in content).

    Parameters
    ----------
    hybrid : WeightedHybrid, SwitchingHybrid or AdaptiveHybrid
        A fitted hybrid.
    user : hashable
        A raw user id.
    k : int
        Length of the list to explain (``hybrid.recommend([user], k)``).
    names : sequence of str, optional
        One name per component (default: their class names).

    Returns
    -------
    pandas.DataFrame
        One row per recommended item, best first: ``rank, item, score,
        source``, then for each component ``<name> weight``, ``<name> score``
        (normalised), ``<name> contribution`` and ``<name> rank`` (1 = the
        component's own first choice).

    Raises
    ------
    TypeError
        ``hybrid`` is not one of the three score-mixing hybrids.
    ValueError
        ``names`` does not hold one distinct name per component.

    References
    ----------
    N. Tintarev and J. Masthoff, "A survey of explanations in recommender
    systems", ICDE Workshops 2007.
    """
    if not isinstance(hybrid, (WeightedHybrid, SwitchingHybrid, AdaptiveHybrid)):
        raise TypeError(
            "explain_hybrid explains WeightedHybrid, SwitchingHybrid and AdaptiveHybrid (hybrids that add "
            f"weighted component scores), got {type(hybrid).__name__}"
        )
    hybrid._check_fitted()
    comps = hybrid._fitted_components()
    if names is None:
        names = [type(m).__name__ for m in comps]
        if len(set(names)) < len(names):
            names = [f"{n} {j}" for j, n in enumerate(names)]
    else:
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise TypeError(f"names must be a sequence of str, got {type(names).__name__}")
        names = [str(n) for n in names]
        if len(names) != len(comps) or len(set(names)) != len(names):
            raise ValueError(f"names must hold {len(comps)} distinct names, one per component, got {names!r}")
    recs = hybrid.recommend([user], k=check_k(k))
    u = hybrid.user_index([user])
    cols = hybrid.item_index(recs["item"].to_numpy())
    W, Z = hybrid._score_parts(u)
    W, Z = W[0], Z[0]
    contrib = np.where(W == 0, 0.0, W * np.where(np.isfinite(Z), Z, 0.0))
    out = pd.DataFrame({"rank": recs["rank"].to_numpy(), "item": recs["item"].to_numpy(),
                        "score": recs["score"].to_numpy()})  # fmt: skip
    out["source"] = np.asarray(names)[np.argmax(contrib[cols], axis=1)] if len(cols) else []
    for m, name in enumerate(names):
        own = hybrid._seen_mask(u, hybrid._comp_scores(m, u))[0]
        own = np.where(np.isnan(own), -np.inf, own)
        idx = np.arange(len(own))
        ranks = [int(np.sum(own > own[c]) + np.sum((own == own[c]) & (idx < c)) + 1) for c in cols]
        out[f"{name} weight"] = W[cols, m]
        out[f"{name} score"] = Z[cols, m]
        out[f"{name} contribution"] = contrib[cols, m]
        out[f"{name} rank"] = ranks
    return out
