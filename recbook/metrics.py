r"""Evaluation metrics: rating error, top-K ranking quality, beyond accuracy.

Three families, as taught in chapter 2.4 of the book:

* **Rating metrics** compare predicted and true ratings: :func:`rmse`,
  :func:`mae`.
* **Ranking metrics** judge one user's ranked list ``recommended`` against the
  set of items ``relevant`` to that user (binary relevance), looking only at
  the first ``k`` positions: :func:`precision_at_k`, :func:`recall_at_k`,
  :func:`ndcg_at_k`, :func:`average_precision_at_k`,
  :func:`reciprocal_rank_at_k`, :func:`hit_at_k`. They are written as plain,
  readable loops for teaching; :func:`ranking_metrics_from_hits` computes all
  of them for many users at once with NumPy and agrees with them (a property
  test checks it), which is what :func:`recbook.evaluate.evaluate_topk` uses.
* **Beyond-accuracy metrics** describe the lists themselves: catalogue
  :func:`coverage`, :func:`novelty` (popularity-based: how little known the
  recommended items are), :func:`intra_list_diversity`, and
  :func:`profile_distance` / :func:`mean_profile_distance` (history-based
  novelty: how far the recommended items lie from what the user consumed).

Notation: for one user, :math:`L = (i_1, \dots, i_k)` is the top-:math:`k` list
(``recommended[:k]``), :math:`R` the relevant set and
:math:`\mathrm{rel}_r = 1` if :math:`i_r \in R`, else 0.

References
----------
.. [1] Herlocker, Konstan, Terveen & Riedl, "Evaluating collaborative filtering
   recommender systems", ACM TOIS 22(1), 2004.
.. [2] Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR
   techniques", ACM TOIS 20(4), 2002.
.. [3] Manning, Raghavan & Schütze, *Introduction to Information Retrieval*,
   Cambridge University Press, 2008, ch. 8.
.. [4] Castells, Vargas & Wang, "Novelty and diversity metrics for recommender
   systems: choice, discovery and relevance", DDR workshop at ECIR, 2011.
.. [5] Zhou, Kuscsik, Liu, Medo, Wakeling & Zhang, "Solving the apparent
   diversity-accuracy dilemma of recommender systems", PNAS 107(10), 2010.
.. [6] Ziegler, McNee, Konstan & Lausen, "Improving recommendation lists
   through topic diversification", WWW 2005.
.. [7] Vargas & Castells, "Rank and relevance in novelty and diversity
   metrics for recommender systems", RecSys 2011.
.. [8] Adamopoulos & Tuzhilin, "On unexpectedness in recommender systems: or
   how to better expect the unexpected", ACM TIST 5(4), 2014.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recbook.base import check_k

__all__ = [
    "rmse",
    "mae",
    "precision_at_k",
    "recall_at_k",
    "f1_at_k",
    "ndcg_at_k",
    "average_precision_at_k",
    "reciprocal_rank_at_k",
    "hit_at_k",
    "ranking_metrics_from_hits",
    "RANKING_METRICS",
    "coverage",
    "novelty",
    "self_information",
    "intra_list_diversity",
    "profile_distance",
    "mean_profile_distance",
]

#: Names of the per-user ranking metrics, as returned by
#: :func:`ranking_metrics_from_hits` and averaged by ``evaluate_topk``.
RANKING_METRICS: tuple[str, ...] = ("precision", "recall", "f1", "ndcg", "map", "hit_rate", "mrr")


# ====================================================================== rating
def _check_pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if isinstance(values, (pd.Series, pd.Index)):
            values = values.to_numpy()
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric, got {type(values).__name__}: {exc}") from None
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got an array of shape {arr.shape}")
        arrays.append(arr)
    a, b = arrays
    if len(a) != len(b):
        raise ValueError(
            f"y_true and y_pred must have the same length, got {len(a)} and {len(b)}"
        )
    if len(a) == 0:
        raise ValueError("y_true and y_pred are empty: an error needs at least one pair")
    for name, arr in (("y_true", a), ("y_pred", b)):
        if not np.all(np.isfinite(arr)):
            bad = int((~np.isfinite(arr)).sum())
            raise ValueError(f"{name} has {bad} NaN or infinite value(s)")
    return a, b


def rmse(y_true: Any, y_pred: Any) -> float:
    r"""Root mean squared error.

    .. math::

        \mathrm{RMSE} = \sqrt{\frac{1}{n}\sum_{j=1}^{n} (\hat r_j - r_j)^2}

    Squaring makes one error of 2 stars cost as much as four errors of 1
    star, so RMSE punishes large mistakes more than :func:`mae`; always
    :math:`\mathrm{MAE} \le \mathrm{RMSE} \le \sqrt{n}\,\mathrm{MAE}`.

    Parameters
    ----------
    y_true, y_pred : array-like of float, shape (n,)
        True and predicted ratings, same length, no NaN.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Different lengths, empty input, NaN/inf or a non-numeric value.

    References
    ----------
    Herlocker et al., ACM TOIS 2004, section 4.1.

    Examples
    --------
    >>> rmse([1, 2, 3], [1, 2, 5])
    1.1547005383792515
    """
    a, b = _check_pair(y_true, y_pred)
    return float(np.sqrt(np.mean((b - a) ** 2)))


def mae(y_true: Any, y_pred: Any) -> float:
    r"""Mean absolute error.

    .. math::

        \mathrm{MAE} = \frac{1}{n}\sum_{j=1}^{n} \lvert \hat r_j - r_j \rvert

    Parameters
    ----------
    y_true, y_pred : array-like of float, shape (n,)
        True and predicted ratings, same length, no NaN.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Different lengths, empty input, NaN/inf or a non-numeric value.

    References
    ----------
    Herlocker et al., ACM TOIS 2004, section 4.1.

    Examples
    --------
    >>> mae([1, 2, 3], [1, 2, 5])
    0.6666666666666666
    """
    a, b = _check_pair(y_true, y_pred)
    return float(np.mean(np.abs(b - a)))


# ===================================================================== ranking
def _check_ranking(recommended: Any, relevant: Any, k: Any) -> tuple[list, set, int]:
    """Validate one user's inputs; return (top-k list, relevant set, k)."""
    k = check_k(k)
    if isinstance(recommended, (str, bytes)) or not isinstance(recommended, Iterable):
        raise TypeError(
            "recommended must be an ordered sequence of item ids (list, tuple, array), "
            f"got {type(recommended).__name__}"
        )
    if isinstance(recommended, (set, frozenset)):
        raise TypeError("recommended must be an ordered sequence, got an unordered set")
    rec = list(recommended.tolist() if isinstance(recommended, np.ndarray) else recommended)
    if len(set(rec)) != len(rec):
        seen: set = set()
        dup = next(x for x in rec if x in seen or seen.add(x))  # type: ignore[func-returns-value]
        raise ValueError(f"recommended contains item {dup!r} more than once; a ranked list has no duplicates")
    if isinstance(relevant, (str, bytes)) or not isinstance(relevant, Iterable):
        raise TypeError(f"relevant must be a set (or iterable) of item ids, got {type(relevant).__name__}")
    rel = set(relevant.tolist() if isinstance(relevant, np.ndarray) else relevant)
    if not rel:
        raise ValueError(
            "relevant is empty: ranking metrics are undefined for a user without relevant "
            "items (the protocol averages only over users with test items)"
        )
    return rec[:k], rel, k


def precision_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    r"""Precision at ``k``: the fraction of the ``k`` slots that hold a relevant item.

    .. math::

        P@k = \frac{1}{k} \sum_{r=1}^{k} \mathrm{rel}_r

    The denominator is ``k`` even when ``recommended`` is shorter than ``k``
    (an empty slot is a miss), so a perfect list scores 1 only when
    :math:`|R| \ge k`.

    Parameters
    ----------
    recommended : sequence
        Item ids, best first, without duplicates; only the first ``k`` count.
    relevant : iterable
        The user's relevant items (converted to a set); must not be empty.
    k : int
        Cut-off, a positive integer.

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ValueError
        ``k <= 0``, empty ``relevant`` or duplicates in ``recommended``.
    TypeError
        ``recommended`` is not an ordered sequence.

    References
    ----------
    Manning, Raghavan & Schütze, *Introduction to Information Retrieval*, 2008, ch. 8.

    Examples
    --------
    >>> precision_at_k(["a", "b", "c", "d"], {"b", "d", "e"}, k=4)
    0.5
    """
    top, rel, k = _check_ranking(recommended, relevant, k)
    hits = sum(1 for item in top if item in rel)
    return hits / k


def recall_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    r"""Recall at ``k``: the fraction of the relevant items found in the top ``k``.

    .. math::

        R@k = \frac{1}{|R|} \sum_{r=1}^{k} \mathrm{rel}_r

    Parameters, returns and errors as in :func:`precision_at_k`.

    References
    ----------
    Manning, Raghavan & Schütze, *Introduction to Information Retrieval*, 2008, ch. 8.

    Examples
    --------
    >>> round(recall_at_k(["a", "b", "c", "d"], {"b", "d", "e"}, k=4), 4)
    0.6667
    """
    top, rel, _ = _check_ranking(recommended, relevant, k)
    hits = sum(1 for item in top if item in rel)
    return hits / len(rel)


def f1_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    r"""F1 at ``k``: the harmonic mean of precision and recall at ``k``.

    .. math::

        F_1@k = \frac{2\, P@k \cdot R@k}{P@k + R@k}
              = \frac{2 \sum_{r=1}^{k} \mathrm{rel}_r}{k + |R|},

    and 0 when the list holds no relevant item. The *harmonic* mean is small
    when either precision or recall is small, so a list cannot score well by
    being long (high recall, low precision) or by being one safe item (high
    precision, low recall). It is not a weighted average of the two: for
    P = 0.9 and R = 0.1 the arithmetic mean is 0.5, F1 only 0.18.

    Parameters, returns and errors as in :func:`precision_at_k`.

    References
    ----------
    C. J. van Rijsbergen, *Information Retrieval*, 2nd ed., 1979, ch. 7;
    Manning, Raghavan & Schütze, *Introduction to Information Retrieval*, 2008, ch. 8.

    Examples
    --------
    >>> round(f1_at_k(["a", "b", "c", "d"], {"b", "d", "e"}, k=4), 4)
    0.5714
    """
    top, rel, k = _check_ranking(recommended, relevant, k)
    hits = sum(1 for item in top if item in rel)
    return 2.0 * hits / (k + len(rel))


def ndcg_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    r"""Normalised discounted cumulative gain at ``k`` (binary gains).

    .. math::

        \mathrm{DCG}@k = \sum_{r=1}^{k} \frac{\mathrm{rel}_r}{\log_2(r+1)}, \qquad
        \mathrm{IDCG}@k = \sum_{r=1}^{\min(|R|,\,k)} \frac{1}{\log_2(r+1)}, \qquad
        \mathrm{NDCG}@k = \frac{\mathrm{DCG}@k}{\mathrm{IDCG}@k}

    The ideal list puts all relevant items first, so NDCG is 1 for any list
    that starts with :math:`\min(|R|, k)` relevant items.

    Parameters, returns and errors as in :func:`precision_at_k`.

    References
    ----------
    Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques",
    ACM TOIS 2002.

    Examples
    --------
    >>> round(ndcg_at_k(["a", "b", "c", "d"], {"b", "d", "e"}, k=4), 4)
    0.4982
    """
    top, rel, k = _check_ranking(recommended, relevant, k)
    dcg = 0.0
    for rank, item in enumerate(top, start=1):
        if item in rel:
            dcg += 1.0 / math.log2(rank + 1)
    idcg = 0.0
    for rank in range(1, min(len(rel), k) + 1):
        idcg += 1.0 / math.log2(rank + 1)
    return dcg / idcg


def average_precision_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    r"""Average precision at ``k`` (its mean over users is MAP@k).

    .. math::

        \mathrm{AP}@k = \frac{1}{\min(|R|,\,k)} \sum_{r=1}^{k} \mathrm{rel}_r \, P@r

    i.e. the precision at each rank that holds a hit, summed, divided by the
    largest number of hits a top-``k`` list can hold, so a perfect list scores 1.

    Parameters, returns and errors as in :func:`precision_at_k`.

    References
    ----------
    Manning, Raghavan & Schütze, *Introduction to Information Retrieval*, 2008,
    section 8.4 (MAP), with the ``min(|R|, k)`` normalisation common in
    recommender evaluation.

    Examples
    --------
    >>> round(average_precision_at_k(["a", "b", "c", "d"], {"b", "d", "e"}, k=4), 4)
    0.3333
    """
    top, rel, k = _check_ranking(recommended, relevant, k)
    hits = 0
    total = 0.0
    for rank, item in enumerate(top, start=1):
        if item in rel:
            hits += 1
            total += hits / rank
    return total / min(len(rel), k)


def reciprocal_rank_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    r"""Reciprocal rank of the first relevant item within the top ``k`` (0 if none).

    .. math::

        \mathrm{RR}@k = \begin{cases} 1 / r^\ast & r^\ast \le k \\ 0 & \text{otherwise}
        \end{cases}, \qquad r^\ast = \min\{r : \mathrm{rel}_r = 1\}

    Its mean over users is MRR@k.

    Parameters, returns and errors as in :func:`precision_at_k`.

    References
    ----------
    Voorhees, "The TREC-8 question answering track report", TREC 1999.

    Examples
    --------
    >>> reciprocal_rank_at_k(["a", "b", "c", "d"], {"b", "d", "e"}, k=4)
    0.5
    """
    top, rel, _ = _check_ranking(recommended, relevant, k)
    for rank, item in enumerate(top, start=1):
        if item in rel:
            return 1.0 / rank
    return 0.0


def hit_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    r"""Hit at ``k``: 1 if at least one relevant item is in the top ``k``, else 0.

    .. math::

        \mathrm{HR}@k = \mathbb{1}\Big[\sum_{r=1}^{k} \mathrm{rel}_r > 0\Big]

    Its mean over users is the hit rate.

    Parameters, returns and errors as in :func:`precision_at_k`.

    References
    ----------
    Deshpande & Karypis, "Item-based top-N recommendation algorithms",
    ACM TOIS 22(1), 2004.

    Examples
    --------
    >>> hit_at_k(["a", "b", "c", "d"], {"b", "d", "e"}, k=4)
    1.0
    """
    top, rel, _ = _check_ranking(recommended, relevant, k)
    return 1.0 if any(item in rel for item in top) else 0.0


def ranking_metrics_from_hits(hits: Any, n_relevant: Any) -> dict[str, np.ndarray]:
    r"""All ranking metrics for many users at once, from a hit matrix.

    Row ``u`` of ``hits`` describes user ``u``'s top-``k`` list:
    ``hits[u, r]`` is true when the item at rank ``r + 1`` is relevant. An
    empty slot (the user had fewer than ``k`` candidates) is a miss. With
    :math:`h_{u,r}` the hits, :math:`c_{u,r} = \sum_{s \le r} h_{u,s}` their
    running count, :math:`n_u = |R_u|` and :math:`m_u = \min(n_u, k)`:

    .. math::

        P_u = \frac{c_{u,k}}{k}, \quad R_u = \frac{c_{u,k}}{n_u}, \quad
        \mathrm{NDCG}_u = \frac{\sum_r h_{u,r}/\log_2(r+1)}{\sum_{r \le m_u} 1/\log_2(r+1)}, \quad
        \mathrm{AP}_u = \frac{1}{m_u}\sum_r h_{u,r}\,\frac{c_{u,r}}{r},

    :math:`\mathrm{RR}_u = 1/r^\ast_u` (rank of the first hit, 0 without one)
    and :math:`\mathrm{HR}_u = \mathbb{1}[c_{u,k} > 0]`. The values equal those
    of the per-user functions (:func:`precision_at_k`, ...) up to floating
    point summation order (a property test checks agreement to 1e-12).

    Parameters
    ----------
    hits : array-like of bool, shape (n_users, k)
        Hit matrix; ``k >= 1``.
    n_relevant : array-like of int, shape (n_users,)
        Number of relevant items of each user, at least 1 and at least the
        number of hits in the row.

    Returns
    -------
    dict of str to np.ndarray
        Keys :data:`RANKING_METRICS` (``precision, recall, f1, ndcg, map,
        hit_rate, mrr``), each an array of shape ``(n_users,)``.

    Raises
    ------
    ValueError
        Wrong shapes, ``k == 0``, a user without relevant items or with more
        hits than relevant items.

    Examples
    --------
    >>> out = ranking_metrics_from_hits([[False, True, False, True]], [3])
    >>> [round(float(out[m][0]), 4) for m in ("precision", "recall", "ndcg", "map", "mrr")]
    [0.5, 0.6667, 0.4982, 0.3333, 0.5]
    """
    h = np.asarray(hits)
    if h.ndim != 2:
        raise ValueError(f"hits must be a 2-D (n_users, k) array, got shape {h.shape}")
    if h.dtype != bool:
        if not np.all((h == 0) | (h == 1)):
            raise ValueError("hits must hold booleans (or 0/1 values)")
        h = h.astype(bool)
    n_users, k = h.shape
    if k == 0:
        raise ValueError("hits has zero columns: k must be a positive integer")
    n_rel = np.asarray(n_relevant)
    if n_rel.shape != (n_users,):
        raise ValueError(
            f"n_relevant must have shape ({n_users},) to match hits, got {n_rel.shape}"
        )
    if n_rel.size and (np.any(n_rel != np.round(n_rel)) or np.any(n_rel < 1)):
        raise ValueError(
            "n_relevant must hold positive integers: ranking metrics are undefined for a "
            "user without relevant items"
        )
    n_rel = n_rel.astype(np.int64)
    n_hits = h.sum(axis=1)
    if np.any(n_hits > n_rel):
        u = int(np.flatnonzero(n_hits > n_rel)[0])
        raise ValueError(
            f"user row {u} has {int(n_hits[u])} hits but only {int(n_rel[u])} relevant items"
        )
    hf = h.astype(np.float64)
    ranks = np.arange(1, k + 1, dtype=np.float64)
    discount = 1.0 / np.log2(ranks + 1.0)
    ideal = np.cumsum(discount)  # ideal[m - 1] = IDCG with m relevant items in the top
    m = np.minimum(n_rel, k)
    # cumsum adds term by term in rank order, exactly as the per-user loops do
    dcg = np.cumsum(hf * discount, axis=1)[:, -1]
    running = np.cumsum(hf, axis=1)
    ap_sum = np.cumsum(hf * running / ranks, axis=1)[:, -1]
    first = np.argmax(h, axis=1)
    any_hit = n_hits > 0
    return {
        "precision": n_hits / k,
        "recall": n_hits / n_rel,
        "f1": 2.0 * n_hits / (k + n_rel),
        "ndcg": dcg / ideal[m - 1],
        "map": ap_sum / m,
        "hit_rate": any_hit.astype(np.float64),
        "mrr": np.where(any_hit, 1.0 / (first + 1.0), 0.0),
    }


# ============================================================ beyond accuracy
def _as_lists(recommended_lists: Any, name: str = "recommended_lists") -> list[list]:
    if isinstance(recommended_lists, pd.DataFrame):
        raise TypeError(
            f"{name} must be an iterable of lists of item ids; for a recommend() frame pass "
            "frame.groupby('user')['item'].apply(list)"
        )
    if isinstance(recommended_lists, pd.Series):
        recommended_lists = recommended_lists.tolist()
    if isinstance(recommended_lists, np.ndarray):
        if recommended_lists.ndim != 2:
            raise ValueError(
                f"{name} as an array must be 2-D (n_lists, k), got shape {recommended_lists.shape}"
            )
        return [list(row) for row in recommended_lists.tolist()]
    if isinstance(recommended_lists, (str, bytes)) or not isinstance(recommended_lists, Iterable):
        raise TypeError(f"{name} must be an iterable of lists of item ids, got {type(recommended_lists).__name__}")
    out = []
    for lst in recommended_lists:
        if isinstance(lst, (str, bytes)) or not isinstance(lst, Iterable):
            raise TypeError(f"each element of {name} must be a list of item ids, got {type(lst).__name__}")
        out.append(list(lst.tolist() if isinstance(lst, np.ndarray) else lst))
    return out


def coverage(recommended_lists: Any, n_items: int) -> float:
    r"""Catalogue coverage: the share of the catalogue that appears in some list.

    .. math::

        \mathrm{Coverage} = \frac{\big|\bigcup_u L_u\big|}{|I|}

    Popularity-based recommenders show nearly everyone the same few items and
    cover a tiny fraction of the catalogue; a random recommender covers almost
    all of it.

    Parameters
    ----------
    recommended_lists : iterable of sequences, or 2-D array
        One list of item ids per user.
    n_items : int
        Catalogue size :math:`|I|` (positive).

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ValueError
        ``n_items`` not positive, or more distinct recommended items than
        ``n_items`` (the catalogue size must be wrong).

    References
    ----------
    Herlocker et al., ACM TOIS 2004, section 7.1; Ge, Delgado-Battenfeld &
    Jannach, "Beyond accuracy", RecSys 2010.

    Examples
    --------
    >>> coverage([[1, 2], [2, 3]], n_items=10)
    0.3
    """
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items <= 0:
        raise ValueError(f"n_items must be a positive integer, got {n_items!r}")
    lists = _as_lists(recommended_lists)
    union: set = set()
    for lst in lists:
        union.update(lst)
    if len(union) > n_items:
        raise ValueError(
            f"the lists hold {len(union)} distinct items but n_items={n_items}: "
            "n_items must be the size of the whole catalogue"
        )
    return len(union) / int(n_items)


def self_information(counts: Any, n_users: int) -> np.ndarray:
    r"""Self-information :math:`-\log_2 p(i)` of items seen by ``counts`` users.

    :math:`p(i) = \max(\mathrm{count}_i, 1) / n_{\mathrm{users}}`: an item
    nobody interacted with is treated as seen by one user (its novelty is the
    maximum, :math:`\log_2 n_{\mathrm{users}}`, instead of infinite). This is
    the rule used by :func:`novelty` and ``evaluate_topk``.

    Parameters
    ----------
    counts : array-like of int
        Number of distinct users who interacted with each item (>= 0, <= n_users).
    n_users : int
        Number of users (positive).
    """
    if isinstance(n_users, bool) or not isinstance(n_users, (int, np.integer)) or n_users <= 0:
        raise ValueError(f"n_users must be a positive integer, got {n_users!r}")
    c = np.asarray(counts, dtype=np.float64)
    if np.any(c < 0) or not np.all(np.isfinite(c)):
        raise ValueError("item popularity counts must be finite and non-negative")
    if np.any(c > n_users):
        raise ValueError(
            f"an item popularity count ({c.max():g}) exceeds n_users={n_users}: counts must be "
            "numbers of distinct users"
        )
    return -np.log2(np.maximum(c, 1.0) / n_users)


def novelty(recommended_lists: Any, item_popularity: Mapping | pd.Series, n_users: int) -> float:
    r"""Mean self-information (surprisal) of the recommended items.

    .. math::

        \mathrm{Novelty} = \frac{1}{\sum_u |L_u|} \sum_u \sum_{i \in L_u} -\log_2 p(i),
        \qquad p(i) = \frac{|\{u : u \text{ interacted with } i\}|}{n_{\mathrm{users}}}

    A recommendation of an item everyone already knows carries little
    information (:math:`p(i) \to 1`, novelty :math:`\to 0`); a rarely seen item
    carries a lot. **Zero popularity rule**: an item with count 0 (or absent
    from ``item_popularity``) is treated as seen by one user,
    :math:`p(i) = 1/n_{\mathrm{users}}`, so novelty stays finite and at most
    :math:`\log_2 n_{\mathrm{users}}`.

    Parameters
    ----------
    recommended_lists : iterable of sequences, or 2-D array
        One list of item ids per user (all slots are averaged together).
    item_popularity : mapping or pandas.Series
        Item id -> number of distinct users who interacted with it (in the
        training data).
    n_users : int
        Number of users the counts come from.

    Returns
    -------
    float, in [0, log2(n_users)]

    Raises
    ------
    ValueError
        No recommended item at all, ``n_users`` not positive, or a count
        outside ``[0, n_users]``.

    References
    ----------
    Zhou et al., PNAS 2010 (mean self-information); Castells, Vargas & Wang,
    "Novelty and diversity metrics for recommender systems", 2011.

    Examples
    --------
    >>> novelty([["a", "b"]], {"a": 4, "b": 1}, n_users=4)  # (0 + 2) / 2
    1.0
    """
    if isinstance(item_popularity, pd.Series):
        pop = item_popularity.to_dict()
    elif isinstance(item_popularity, Mapping):
        pop = item_popularity
    else:
        raise TypeError(
            "item_popularity must be a mapping or pandas Series item id -> user count, "
            f"got {type(item_popularity).__name__}"
        )
    items = [item for lst in _as_lists(recommended_lists) for item in lst]
    if not items:
        raise ValueError("recommended_lists holds no item: novelty is undefined")
    counts = np.array([pop.get(item, 0) for item in items], dtype=np.float64)
    return float(np.mean(self_information(counts, n_users)))


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; zero rows stay zero (cosine 0 with everything)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def _vector_table(item_vectors: Any) -> tuple[pd.Index, np.ndarray]:
    """Return (item-id index, 2-D float matrix) from a DataFrame or mapping."""
    if isinstance(item_vectors, pd.DataFrame):
        index = item_vectors.index
        mat = item_vectors.to_numpy(dtype=np.float64)
    elif isinstance(item_vectors, Mapping):
        if not item_vectors:
            raise ValueError("item_vectors is empty")
        index = pd.Index(list(item_vectors.keys()))
        rows = [np.asarray(v, dtype=np.float64).ravel() for v in item_vectors.values()]
        dims = {len(r) for r in rows}
        if len(dims) != 1:
            raise ValueError(f"item_vectors must all have the same length, got lengths {sorted(dims)}")
        mat = np.vstack(rows)
    else:
        raise TypeError(
            "item_vectors must be a pandas DataFrame indexed by item id (one row per item) "
            f"or a mapping item id -> vector, got {type(item_vectors).__name__}"
        )
    if not index.is_unique:
        raise ValueError("item_vectors has duplicated item ids in its index")
    if not np.all(np.isfinite(mat)):
        raise ValueError("item_vectors holds NaN or infinite values")
    return index, mat


def intra_list_diversity(recommended: Sequence, item_vectors: pd.DataFrame | Mapping) -> float:
    r"""Intra-list diversity: mean pairwise cosine distance within one list.

    .. math::

        \mathrm{ILD}(L) = \frac{2}{|L|(|L|-1)} \sum_{a < b}
        \big(1 - \cos(\mathbf v_{i_a}, \mathbf v_{i_b})\big)

    With non-negative features (genres, TF-IDF) it lies in [0, 1]: 0 when all
    items look alike, 1 when no two share a feature. A zero vector has cosine
    similarity 0 with every vector (the convention of
    :func:`sklearn.metrics.pairwise.cosine_similarity`).

    Parameters
    ----------
    recommended : sequence
        One list of item ids, at least two of them.
    item_vectors : pandas.DataFrame or mapping
        A DataFrame indexed by item id with one feature vector per row, or a
        mapping item id -> 1-D vector.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Fewer than two items (diversity of a single item is undefined), an
        item without a vector, or a duplicated item.

    References
    ----------
    Ziegler, McNee, Konstan & Lausen, "Improving recommendation lists through
    topic diversification", WWW 2005.

    Examples
    --------
    >>> vecs = {"a": [1, 0], "b": [1, 0], "c": [0, 1]}
    >>> round(intra_list_diversity(["a", "b", "c"], vecs), 4)  # (0 + 1 + 1) / 3
    0.6667
    """
    if isinstance(recommended, (str, bytes)) or not isinstance(recommended, Iterable):
        raise TypeError(f"recommended must be a sequence of item ids, got {type(recommended).__name__}")
    rec = list(recommended.tolist() if isinstance(recommended, np.ndarray) else recommended)
    if len(rec) < 2:
        raise ValueError(
            f"intra-list diversity needs at least two items, got {len(rec)}: it is the mean "
            "distance over pairs"
        )
    if len(set(rec)) != len(rec):
        raise ValueError("recommended contains duplicated items")
    index, mat = _vector_table(item_vectors)
    pos = index.get_indexer(rec)
    if np.any(pos < 0):
        missing = [rec[j] for j in np.flatnonzero(pos < 0)[:5].tolist()]
        raise ValueError(f"item_vectors has no vector for item(s) {missing}")
    unit = _unit_rows(mat[pos])
    sim = unit @ unit.T
    n = len(rec)
    off_diagonal = sim.sum() - np.trace(sim)
    return float(1.0 - off_diagonal / (n * (n - 1)))


def _history_list(history: Any, name: str) -> list:
    if isinstance(history, (str, bytes)) or not isinstance(history, Iterable):
        raise TypeError(f"{name} must be an iterable of item ids, got {type(history).__name__}")
    items = list(pd.unique(np.asarray(list(history.tolist() if isinstance(history, np.ndarray) else history),
                                      dtype=object)))
    if not items:
        raise ValueError(f"{name} is empty: the distance from a user's history needs at least one item")
    return items


def _positions(index: pd.Index, items: list, name: str) -> np.ndarray:
    pos = index.get_indexer(items)
    if np.any(pos < 0):
        missing = [items[j] for j in np.flatnonzero(pos < 0)[:5].tolist()]
        raise ValueError(f"item_vectors has no vector for item(s) {missing} (in {name})")
    return pos


def profile_distance(recommended: Sequence, history: Iterable, item_vectors: pd.DataFrame | Mapping) -> float:
    r"""Distance of a list from the user's history: history-based novelty of one list.

    The mean cosine distance between each recommended item and each item of
    the user's history :math:`I_u` (the items the user interacted with):

    .. math::

        \mathrm{PD}(L_u) = \frac{1}{|L_u|\,|I_u|} \sum_{i \in L_u} \sum_{j \in I_u}
        \big(1 - \cos(\mathbf x_i, \mathbf x_j)\big)
        = 1 - \frac{1}{|L_u|} \sum_{i \in L_u} \hat{\mathbf x}_i^{\top} \bar{\mathbf x}_u ,

    with :math:`\hat{\mathbf x}_i = \mathbf x_i / \lVert \mathbf x_i \rVert` and
    :math:`\bar{\mathbf x}_u` the mean of the unit vectors of the history.
    It is the *expected profile distance* of Vargas & Castells (2011) without
    rank discount or relevance weighting, and the distance-from-the-expected
    idea of *unexpectedness* (Adamopoulos & Tuzhilin, 2014): a list of items
    unlike anything the user consumed scores high. With non-negative
    features it lies in [0, 1]. A zero vector has cosine 0 with everything
    (as in :func:`intra_list_diversity`).

    This differs from :func:`novelty`, which asks how *little known* the
    items are to everybody (popularity), not how *different* they are from
    what this user already knows: an obscure film of the user's favourite
    genre is novel by popularity and close to the profile.

    Parameters
    ----------
    recommended : sequence
        One list of item ids, without duplicates, at least one item.
    history : iterable
        The user's items (typically the training items); repeats count once.
    item_vectors : pandas.DataFrame or mapping
        Item id -> feature vector, as for :func:`intra_list_diversity`.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        ``recommended`` or ``history`` is not an iterable of ids, or
        ``item_vectors`` has the wrong type.
    ValueError
        An empty list or history, a duplicated recommended item, or an item
        without a vector.

    References
    ----------
    Vargas & Castells, "Rank and relevance in novelty and diversity metrics
    for recommender systems", RecSys 2011; Adamopoulos & Tuzhilin, "On
    unexpectedness in recommender systems", ACM TIST 2014.

    Examples
    --------
    >>> vecs = {"a": [1, 0], "b": [0, 1], "c": [1, 1]}
    >>> profile_distance(["b"], ["a"], vecs)  # orthogonal: distance 1
    1.0
    >>> round(profile_distance(["b", "c"], ["a"], vecs), 4)  # (1 + (1 - 0.7071)) / 2
    0.6464
    """
    if isinstance(recommended, (str, bytes, set, frozenset)) or not isinstance(recommended, Iterable):
        raise TypeError(f"recommended must be an ordered sequence of item ids, got {type(recommended).__name__}")
    rec = list(recommended.tolist() if isinstance(recommended, np.ndarray) else recommended)
    if not rec:
        raise ValueError("recommended is empty: the distance of a list needs at least one item")
    if len(set(rec)) != len(rec):
        raise ValueError("recommended contains duplicated items")
    hist = _history_list(history, "history")
    index, mat = _vector_table(item_vectors)
    unit = _unit_rows(mat)
    r = unit[_positions(index, rec, "recommended")]
    h = unit[_positions(index, hist, "history")]
    total = 0.0
    for x in r:  # the double sum of the definition, one recommended item at a time
        total += float(np.sum(1.0 - h @ x))
    return total / (len(rec) * len(hist))


def mean_profile_distance(
    recommended_lists: Mapping | pd.Series,
    histories: Mapping | pd.Series,
    item_vectors: pd.DataFrame | Mapping,
) -> float:
    r"""Mean of :func:`profile_distance` over users, computed in one pass.

    .. math::

        \overline{\mathrm{PD}} = \frac{1}{|U_e|} \sum_{u \in U_e}
        \Big(1 - \frac{1}{|L_u|} \sum_{i \in L_u} \hat{\mathbf x}_i^{\top} \bar{\mathbf x}_u\Big),

    where :math:`U_e` are the users of ``recommended_lists``. The identity
    :math:`\frac{1}{|I_u|}\sum_{j \in I_u} \cos(\mathbf x_i, \mathbf x_j)
    = \hat{\mathbf x}_i^{\top} \bar{\mathbf x}_u` turns the double sum into one
    dot product per recommended item; the result equals the mean of
    :func:`profile_distance` over the users (a test checks it).

    Parameters
    ----------
    recommended_lists : mapping or pandas.Series
        User id -> list of recommended item ids (e.g.
        ``model.recommend(users).groupby("user")["item"].apply(list)``).
    histories : mapping or pandas.Series
        User id -> the user's items (e.g.
        ``train.groupby("user")["item"].apply(list)``); every user of
        ``recommended_lists`` needs a non-empty history.
    item_vectors : pandas.DataFrame or mapping
        Item id -> feature vector.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        ``recommended_lists`` or ``histories`` is not a mapping or Series.
    ValueError
        No list at all, an empty list or history, a user without a history,
        or an item without a vector.

    References
    ----------
    Vargas & Castells, RecSys 2011; Adamopoulos & Tuzhilin, ACM TIST 2014.

    Examples
    --------
    >>> vecs = {"a": [1, 0], "b": [0, 1], "c": [1, 1]}
    >>> round(mean_profile_distance({1: ["b"], 2: ["b", "c"]}, {1: ["a"], 2: ["a"]}, vecs), 4)
    0.8232
    """
    lists, hists = [], []
    for name, value in (("recommended_lists", recommended_lists), ("histories", histories)):
        if isinstance(value, pd.Series):
            value = value.to_dict()
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a mapping or pandas Series user id -> item ids, got {type(value).__name__}")
        (lists if name == "recommended_lists" else hists).append(value)
    rec_map, hist_map = lists[0], hists[0]
    if not rec_map:
        raise ValueError("recommended_lists is empty: no user to average over")
    users = list(rec_map)
    missing = [u for u in users if u not in hist_map]
    if missing:
        raise ValueError(f"histories has no entry for user(s) {missing[:5]}: every listed user needs a history")
    index, mat = _vector_table(item_vectors)
    unit = _unit_rows(mat)
    rec_items, rec_user, hist_items, hist_user = [], [], [], []
    for row, user in enumerate(users):
        rec = _as_lists([rec_map[user]])[0]
        if not rec:
            raise ValueError(f"the list of user {user!r} is empty")
        hist = _history_list(hist_map[user], f"histories[{user!r}]")
        rec_items += rec
        rec_user += [row] * len(rec)
        hist_items += hist
        hist_user += [row] * len(hist)
    n = len(users)
    ru, hu = np.asarray(rec_user), np.asarray(hist_user)
    centroid = np.zeros((n, unit.shape[1]))
    np.add.at(centroid, hu, unit[_positions(index, hist_items, "histories")])
    centroid /= np.bincount(hu, minlength=n)[:, None]
    sims = np.einsum("ij,ij->i", unit[_positions(index, rec_items, "recommended_lists")], centroid[ru])
    per_user = 1.0 - np.bincount(ru, sims, minlength=n) / np.bincount(ru, minlength=n)
    return float(per_user.mean())
