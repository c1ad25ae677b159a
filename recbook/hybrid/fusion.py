r"""Learned model fusion for top-K (chapter 9.2): a tuned weighted average or a gradient-boosted ranker.

Chapter 5's :class:`~recbook.hybrid.WeightedHybrid` and
:class:`~recbook.hybrid.StackingHybrid` learn to combine *rating* predictions
(least squares on held-out ratings). A top-K recommender is judged by its
lists, so :class:`LearnedFusion` learns the combination on the ranking task
itself: on the ``topk`` protocol's validation split of the training data.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from recbook.base import Recommender, top_k
from recbook.hybrid._base import _VALIDATION, _Hybrid, _check_models
from recbook.hybrid.scores import normalize_scores
from recbook.hybrid.weighted import MODELS
from recbook.utils import Boolean, InstanceOf, Integer, Options, Real

__all__ = ["LearnedFusion", "rank_normalize", "simplex_grid"]

_COMBINERS = ("boosting", "weighted")
_FUSION_NORMALIZERS = ("zscore", "rank")
#: Score of an item outside every base's candidate list is below this; seen items get _SEEN.
_OUTSIDE = -1.0
_SEEN = -3.0
#: Weight of the tie-breaking term added to the booster's probabilities.
_TIE = 1e-9


def simplex_grid(n_models: int, step: float = 0.1) -> np.ndarray:
    r"""Every weight vector on the simplex with entries that are multiples of ``step``.

    The candidates of a weighted average :math:`\sum_m w_m \tilde s^{(m)}` with
    :math:`w_m \ge 0` and :math:`\sum_m w_m = 1`. With :math:`n = 1/\text{step}`
    there are :math:`\binom{n + M - 1}{M - 1}` of them (66 for three models
    and ``step=0.1``), listed in lexicographic order of the integer parts, so
    the first best vector on ties is well defined.

    Parameters
    ----------
    n_models : int
        At least 1.
    step : float
        In ``(0, 1]``; ``1/step`` must be (close to) an integer.

    Returns
    -------
    numpy.ndarray, shape (n_weights, n_models)

    Examples
    --------
    >>> simplex_grid(2, 0.5).tolist()
    [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]
    """
    if isinstance(n_models, bool) or not isinstance(n_models, (int, np.integer)):
        raise TypeError(f"n_models must be an int, got {type(n_models).__name__}")
    if n_models < 1:
        raise ValueError(f"n_models must be at least 1, got {n_models}")
    if isinstance(step, bool) or not isinstance(step, (int, float, np.floating, np.integer)):
        raise TypeError(f"step must be a number, got {type(step).__name__}")
    if not (0 < step <= 1):
        raise ValueError(f"step must be in (0, 1], got {step}")
    n = round(1.0 / step)
    if abs(n * step - 1.0) > 1e-9:
        raise ValueError(f"1/step must be an integer (0.1, 0.25, 0.5, ...), got step={step}")
    rows = [c for c in itertools.product(range(n + 1), repeat=n_models) if sum(c) == n]
    return np.asarray(rows, dtype=np.float64) / n


def rank_normalize(scores: Any) -> np.ndarray:
    r"""Replace each row's scores by their rank, scaled to :math:`(0, 1]`.

    For a row with :math:`n` finite scores, the item of (0-based) rank
    :math:`r` (:func:`recbook.base.top_k`'s order: larger score first, then
    the lower column index) gets :math:`(n - r)/n`: the best item 1, the
    worst :math:`1/n`. Infinite entries (masked items) are kept. Rank
    normalisation ignores *how much* better a model thinks one item is than
    the next, which makes it robust to a model whose scores have a long tail
    (the Borda count of rank aggregation).

    Examples
    --------
    >>> rank_normalize([[0.3, 5.0, -1.0, 5.0]]).tolist()
    [[0.5, 1.0, 0.25, 0.75]]
    """
    s = np.array(scores, dtype=np.float64, copy=True)
    if s.ndim == 1:
        s = s[None, :]
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D (n_users, n_items) array, got shape {s.shape}")
    out = s.copy()
    if s.size == 0:
        return out
    ranks = _ranks(s)
    finite = np.isfinite(s)
    n = finite.sum(axis=1, keepdims=True)
    out[finite] = ((n - ranks) / np.maximum(n, 1))[finite]
    return out


def _ranks(s: np.ndarray) -> np.ndarray:
    """0-based rank of every entry of each row (stable descending order; NaN treated as -inf)."""
    s = np.where(np.isnan(s), -np.inf, s)
    order = np.argsort(-s, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(s.shape[1])[None, :].repeat(s.shape[0], axis=0), axis=1)
    return ranks


def _normalize(s: np.ndarray, method: str) -> np.ndarray:
    return normalize_scores(s, "zscore") if method == "zscore" else rank_normalize(s)


def _ndcg_from_scores(scores: np.ndarray, relevant: np.ndarray, n_relevant: np.ndarray, k: int) -> float:
    """Mean NDCG@k of full-ranking lists from a score matrix (seen items ``-inf``; ``relevant`` a boolean matrix)."""
    from recbook.metrics import ranking_metrics_from_hits

    top = top_k(scores, k)
    hits = np.take_along_axis(relevant, top, axis=1) & np.isfinite(np.take_along_axis(scores, top, axis=1))
    return float(ranking_metrics_from_hits(hits, n_relevant)["ndcg"].mean())


class LearnedFusion(_Hybrid):
    r"""Fuse several top-K recommenders: a weighted average tuned on validation, or a boosted ranker.

    **Validation stage.** The training data :math:`D` are cut by the
    ``validation`` protocol's :meth:`~recbook.evaluate.Protocol.validation_split`
    (``seed``; for ``"topk"`` 20 % of each user's interactions) into a fitting
    part :math:`D_f` and a validation part :math:`V`. Clones of the base
    models :math:`m = 1, \dots, M` are fitted on :math:`D_f`; their score rows
    :math:`s^{(m)}_{u\cdot}` over the items :math:`u` has not seen in
    :math:`D_f` are normalised per user (``normalize``: z-score
    :math:`\tilde s = (s - \bar s_u)/\sigma_u`, or :func:`rank_normalize`).

    **Weighted average** (always fitted): among the weight vectors of
    :func:`simplex_grid` (``weight_step``), keep the first with the best
    validation NDCG@``k`` of

    .. math::

        \hat s_{ui} = \sum_{m=1}^{M} w_m\, \tilde s^{(m)}_{ui}, \qquad w_m \ge 0,\ \sum_m w_m = 1.

    **Boosted fusion** (``combiner="boosting"``, stacking in the sense of
    Wolpert, 1992): each user's *candidates* :math:`C_u` are the union of the
    bases' top ``n_candidates`` unseen items. Every pair :math:`(u, i)`,
    :math:`i \in C_u`, gets the features

    .. math::

        x_{ui} = \big(\tilde s^{(1)}_{ui}, \dots, \tilde s^{(M)}_{ui},\;
        \log(1 + r^{(1)}_{ui}), \dots, \log(1 + r^{(M)}_{ui})
        [,\ \log(1 + n_i),\ \log(1 + n_u)]\big)

    (:math:`r^{(m)}_{ui}` the 0-based rank of :math:`i` in base :math:`m`'s
    list for :math:`u`; with ``extra_features`` the item's and the user's
    interaction counts in the data the bases were fitted on) and the label
    :math:`y_{ui} = \mathbb 1[(u, i) \in V]`. The training rows are the
    positives in :math:`C_u` and ``n_negatives`` negatives drawn without
    replacement from :math:`C_u` per user (users without a positive
    candidate are skipped). The default learner is scikit-learn's
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier`, gradient-boosted
    trees (Friedman, 2001) with the logistic loss, i.e. a pointwise
    learning-to-rank model
    :math:`P(y_{ui} = 1 \mid x_{ui}) = \sigma\big(\sum_t f_t(x_{ui})\big)`,
    constrained to be non-decreasing in every normalised score and
    non-increasing in every rank (``monotonic_cst``): a base that ranks an
    item higher never pushes it down. Trees are piecewise constant, so many
    candidates share one probability; those ties are broken by the tuned
    weighted average (a term :math:`10^{-9}\,\text{rank\_normalize}(\hat s)`
    is added), not by the catalogue order. A custom ``booster`` (any classifier
    with ``fit`` and ``predict_proba``) is used as given.

    **Serving.** The bases are refitted on all of :math:`D` and the fitted
    combiner is applied to their scores. The boosted fusion scores candidates
    with :math:`P(y=1 \mid x) \in [0, 1]`; other unseen items come after them
    (a score in :math:`(-2, -1)`, ordered by their mean rank over the
    bases). With one base, the weighted average ranks exactly as the base
    does, and so does the boosted fusion with ``extra_features=False`` and
    the default booster (monotone in the base's score, ties broken by it).

    Items the user has seen get the lowest score (``-3``; ``recommend``
    drops them anyway); an unknown user gets the bases' fallback rows (their
    popularity lists) fused the same way; an unknown item gets ``-3``.

    Parameters
    ----------
    models : list of Recommender
        Unfitted base models (cloned at ``fit``).
    combiner : {"boosting", "weighted"}
        The combiner used for scoring; the weighted average's weights are
        fitted either way (``weights_``).
    normalize : {"zscore", "rank"}
        Per-user score normalisation.
    n_candidates : int
        Length of each base's candidate list.
    n_negatives : int
        Negatives sampled per validation user.
    extra_features : bool
        Add item popularity and user activity features.
    weight_step : float
        Grid step of the weights (``1/weight_step`` an integer).
    k : int
        List length of the validation NDCG.
    booster : classifier, optional
        Default ``HistGradientBoostingClassifier(max_iter=150,
        learning_rate=0.05, max_leaf_nodes=15, monotonic_cst=...,
        random_state=seed)``.
    validation : {"topk", "rating", "cold-items", "cold-users"}
        The protocol whose validation split is used.
    seed : int
        Seed of the validation split, of the negative sampling and of the booster.

    Attributes
    ----------
    models_ : list of Recommender
        The bases refitted on all training data.
    weights_ : numpy.ndarray
        The tuned weights of the weighted average.
    weight_table_ : pandas.DataFrame
        Every weight vector tried with its validation NDCG@k (column ``ndcg``).
    booster_ : fitted classifier or None
        None with ``combiner="weighted"``, or when the validation part gave
        one class only (then the weighted average is used).
    feature_names_ : list of str
    n_train_rows_ : int
        Rows the booster was trained on.

    References
    ----------
    D. H. Wolpert, "Stacked generalization", Neural Networks 5(2), 1992.
    J. H. Friedman, "Greedy function approximation: a gradient boosting
    machine", Annals of Statistics 29(5), 2001.
    Y. Koren, "The BellKor solution to the Netflix Grand Prize", 2009.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "models": [MODELS],
        "combiner": [Options(*_COMBINERS)],
        "normalize": [Options(*_FUSION_NORMALIZERS)],
        "n_candidates": [Integer(min=1)],
        "n_negatives": [Integer(min=1)],
        "extra_features": [Boolean()],
        "weight_step": [Real(min=0, max=1, min_open=True)],
        "k": [Integer(min=1)],
        "booster": [None, InstanceOf(object, what="a scikit-learn classifier")],
        "validation": [Options(*_VALIDATION)],
        "seed": [Integer(min=0)],
    }

    def __init__(
        self,
        models: Sequence[Recommender],
        combiner: str = "boosting",
        normalize: str = "zscore",
        n_candidates: int = 100,
        n_negatives: int = 50,
        extra_features: bool = True,
        weight_step: float = 0.1,
        k: int = 10,
        booster: Any = None,
        validation: str = "topk",
        seed: int = 0,
    ) -> None:
        self.models = models
        self.combiner = combiner
        self.normalize = normalize
        self.n_candidates = n_candidates
        self.n_negatives = n_negatives
        self.extra_features = extra_features
        self.weight_step = weight_step
        self.k = k
        self.booster = booster
        self.validation = validation
        self.seed = seed

    @classmethod
    def _example(cls, data: Any) -> "LearnedFusion":
        from recbook.baselines import Popularity
        from recbook.cf import EASE

        return cls([EASE(reg=10.0), Popularity()], n_candidates=20, n_negatives=10, weight_step=0.5)

    def _components(self) -> list[Recommender]:
        return list(self.models)

    def _predicts_ratings(self) -> bool:
        return False

    def _check_params(self) -> None:
        _check_models(self.models)
        if self.booster is not None and not (hasattr(self.booster, "fit") and hasattr(self.booster, "predict_proba")):
            raise TypeError(
                f"booster must be a scikit-learn classifier with fit/predict_proba, got {type(self.booster).__name__}"
            )
        simplex_grid(len(self.models), self.weight_step)  # raises on a step whose inverse is not an integer

    def _fitted_components(self) -> list[Recommender]:
        return self.models_

    # ------------------------------------------------------------ features
    def _prepare(self, S: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        """Normalised scores, ranks and the candidate mask of score rows whose seen items are ``-inf``."""
        Z = [_normalize(s, self.normalize) for s in S]
        R = [_ranks(s) for s in S]
        finite = np.isfinite(S[0])
        cand = np.zeros(S[0].shape, dtype=bool)
        for r in R:
            cand |= r < self.n_candidates
        return Z, R, cand & finite

    def _features(
        self,
        Z: list[np.ndarray],
        R: list[np.ndarray],
        rows: np.ndarray,
        cols: np.ndarray,
        item_count: np.ndarray,
        user_count: np.ndarray,
    ) -> np.ndarray:
        """Feature rows of the pairs ``(rows[j], cols[j])`` (see the class docstring for the columns)."""
        parts = [z[rows, cols] for z in Z] + [np.log1p(r[rows, cols].astype(np.float64)) for r in R]
        if self.extra_features:
            parts += [np.log1p(item_count[cols]), np.log1p(user_count[rows])]
        return np.column_stack(parts)

    def _make_booster(self) -> Any:
        if self.booster is not None:
            return clone(self.booster)
        from sklearn.ensemble import HistGradientBoostingClassifier

        M = len(self.models)
        cst = [1] * M + [-1] * M + ([0, 0] if self.extra_features else [])
        return HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.05, max_leaf_nodes=15, monotonic_cst=cst, random_state=self.seed
        )

    # ----------------------------------------------------------------- fit
    def _fit_hybrid(self, frame: pd.DataFrame) -> None:
        fit_part, val = self._validation_split(frame, self.validation, self.seed)
        bases = [clone(m).fit(fit_part) for m in self.models]
        items = pd.Index(pd.unique(fit_part["item"]))
        users_f = pd.Index(pd.unique(fit_part["user"]))
        val = val[val["user"].isin(users_f)]
        vusers = pd.Index(pd.unique(val["user"]))
        M = len(self.models)
        self.feature_names_ = [f"z_{j}" for j in range(M)] + [f"log_rank_{j}" for j in range(M)]
        if self.extra_features:
            self.feature_names_ += ["log_item_count", "log_user_count"]
        self.weights_ = np.full(M, 1.0 / M)
        self.weight_table_ = pd.DataFrame(columns=[f"w_{j}" for j in range(M)] + ["ndcg"])
        self.booster_ = None
        self.n_train_rows_ = 0
        if len(vusers):
            S = []
            for m in bases:
                cols = m.item_index(items)
                raw = np.asarray(m.score_items(vusers), dtype=np.float64)
                s = np.where(cols[None, :] >= 0, raw[:, np.maximum(cols, 0)], -np.inf).astype(np.float64)
                S.append(s)
            seen = np.zeros(S[0].shape, dtype=bool)
            fu = vusers.get_indexer(fit_part["user"])
            fi = items.get_indexer(fit_part["item"])
            ok = fu >= 0
            seen[fu[ok], fi[ok]] = True
            for s in S:
                s[seen] = -np.inf
            vu = vusers.get_indexer(val["user"])
            vi = items.get_indexer(val["item"])
            relevant = np.zeros(S[0].shape, dtype=bool)
            relevant[vu[vi >= 0], vi[vi >= 0]] = True
            # honest denominators: a validation item the bases never saw still counts in |V_u|
            n_rel = val.groupby("user", sort=False)["item"].nunique().reindex(vusers).to_numpy()
            Z, R, cand = self._prepare(S)
            self._tune_weights(Z, relevant, n_rel)
            if self.combiner == "boosting":
                pairs = fit_part[["user", "item"]].drop_duplicates()
                item_count = pairs["item"].value_counts().reindex(items).fillna(0).to_numpy(dtype=np.float64)
                user_count = pairs["user"].value_counts().reindex(vusers).fillna(0).to_numpy(dtype=np.float64)
                self._fit_booster(Z, R, cand, relevant, item_count, user_count)
        self.models_ = [clone(m).fit(frame) for m in self.models]

    def _tune_weights(self, Z: list[np.ndarray], relevant: np.ndarray, n_rel: np.ndarray) -> None:
        grid = simplex_grid(len(Z), self.weight_step)
        scores = []
        for w in grid:
            mix = sum(wm * z for wm, z in zip(w, Z) if wm != 0)
            scores.append(_ndcg_from_scores(mix, relevant, n_rel, self.k))
        table = pd.DataFrame(grid, columns=[f"w_{j}" for j in range(len(Z))])
        table["ndcg"] = scores
        self.weight_table_ = table
        self.weights_ = grid[int(np.argmax(scores))]  # first best on ties

    def _fit_booster(
        self,
        Z: list[np.ndarray],
        R: list[np.ndarray],
        cand: np.ndarray,
        relevant: np.ndarray,
        item_count: np.ndarray,
        user_count: np.ndarray,
    ) -> None:
        """Train the second-level classifier on the positives and sampled negatives among the candidates."""
        rng = np.random.default_rng(self.seed)
        rows, cols, ys = [], [], []
        for row in range(len(relevant)):
            c = np.flatnonzero(cand[row])
            is_pos = relevant[row, c]
            pos = c[is_pos]
            if not len(pos):
                continue
            neg = c[~is_pos]
            if len(neg) > self.n_negatives:
                neg = np.sort(rng.choice(neg, size=self.n_negatives, replace=False))
            rows += [np.full(len(pos) + len(neg), row)]
            cols += [pos, neg]
            ys += [np.ones(len(pos)), np.zeros(len(neg))]
        if not rows:
            return
        r, c, y = np.concatenate(rows), np.concatenate(cols), np.concatenate(ys)
        if len(np.unique(y)) < 2:
            return
        X = self._features(Z, R, r, c, item_count, user_count)
        self.booster_ = self._make_booster().fit(X, y)
        self.n_train_rows_ = int(len(y))

    def with_combiner(self, combiner: str) -> "LearnedFusion":
        """A shallow copy of this fitted fusion that scores with ``combiner`` (no refit).

        Both combiners are fitted on the same validation data, so a benchmark
        can compare them without fitting the bases again.
        """
        self._check_fitted()
        if combiner not in _COMBINERS:
            raise ValueError(f"combiner must be one of {_COMBINERS}, got {combiner!r}")
        if combiner == "boosting" and self.booster_ is None:
            raise ValueError("this fusion has no fitted booster (fitted with combiner='weighted', or one class only)")
        import copy

        out = copy.copy(self)
        out.combiner = combiner
        return out

    # -------------------------------------------------------------- scoring
    def _score_users(self, u: np.ndarray) -> np.ndarray:
        S = [self._seen_mask(u, np.array(self._comp_scores(c, u), dtype=np.float64)) for c in range(len(self.models_))]
        seen = ~np.isfinite(S[0])
        if self.combiner == "weighted" or self.booster_ is None:
            out = sum(w * _normalize(s, self.normalize) for w, s in zip(self.weights_, S) if w != 0)
            out = np.where(np.isfinite(out), out, _SEEN)
            if np.any(~seen):
                lo = np.min(np.where(seen, np.inf, out))
                out = np.where(seen, min(lo, 0.0) - 1.0 + _SEEN, out)  # below every unseen item
            return out
        Z, R, cand = self._prepare(S)
        mean_rank = sum(r.astype(np.float64) for r in R) / len(R)
        n = S[0].shape[1]
        out = np.where(seen, _SEEN, _OUTSIDE - (mean_rank + 1.0) / (n + 1.0))
        rows, cols = np.nonzero(cand)
        if len(rows):
            uc, _ = self._counts(np.asarray(u)[rows], cols)
            user_count = np.zeros(len(u))
            user_count[rows] = uc
            X = self._features(Z, R, rows, cols, self.item_counts_, user_count)
            # a tree ensemble is piecewise constant: many candidates share one probability. Break those ties
            # by the tuned weighted average (a term below 1e-9), not by the catalogue order.
            mix = sum(w * z for w, z in zip(self.weights_, Z) if w != 0)
            tie = rank_normalize(np.where(seen, -np.inf, mix))
            out[rows, cols] = self.booster_.predict_proba(X)[:, 1] + _TIE * tie[rows, cols]
        return out

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.int64)
        i = np.asarray(i, dtype=np.int64)
        uniq, inv = np.unique(u, return_inverse=True)
        out = np.full(len(u), _SEEN)
        S = self._score_users(uniq)
        ok = i >= 0
        out[ok] = S[inv[ok], i[ok]]
        return out
