"""Diversity by re-ranking: maximal marginal relevance over item features."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from recbook.base import Recommender, check_k, top_k
from recbook.content.knn import FEATURES
from recbook.hybrid._base import _Hybrid
from recbook.hybrid.scores import normalize_scores
from recbook.utils import Boolean, InstanceOf, Integer, Real, check_int

__all__ = ["mmr_rerank", "MMRReranker"]


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
    similarity_ : numpy.ndarray, shape ``(n_items_, n_items_)``
        Cosine similarity of the catalogue's feature vectors.

    References
    ----------
    J. Carbonell and J. Goldstein, SIGIR 1998; C.-N. Ziegler, S. M. McNee,
    J. A. Konstan and G. Lausen, "Improving recommendation lists through
    topic diversification", WWW 2005.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "model": [InstanceOf(Recommender, what="a recbook Recommender")],
        "item_features": [FEATURES],
        "relevance_weight": [Real(0, 1)],
        "n_candidates": [Integer(min=1)],
        "prefit": [Boolean()],
    }

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

    @classmethod
    def _example(cls, data: Any) -> "MMRReranker":
        from recbook.baselines import Popularity
        from recbook.content.features import genre_features

        return cls(Popularity(), genre_features(data.items), n_candidates=20)

    def _components(self) -> list[Recommender]:
        return [self.model]

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
        from recbook.content import as_feature_matrix, cosine_similarity

        super()._align()
        features = as_feature_matrix(self.item_features, "item_features")
        sim = np.asarray(cosine_similarity(features.reindex(self.item_ids_).matrix), dtype=np.float64)
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
