r"""Top-K lists judged as yes/no predictions, and a user-satisfaction proxy.

Chapter 9.3 of the book revisits the outline's list of evaluation metrics.
Precision, recall, F1, coverage and novelty already live in
:mod:`recbook.metrics` (and :func:`recbook.evaluate.evaluate_topk` reports
them); this module adds the two pieces that chapter needs on top:

* :func:`topk_confusion` -- the confusion matrix of top-:math:`K` lists over
  every candidate (user, item) cell, and the *accuracy* the outline lists
  first, to show that on a sparse catalogue it rewards recommending nothing;
* :func:`satisfied_share` -- the share of users with at least :math:`m` hits
  in their list, an offline proxy for "user satisfaction".

References
----------
Herlocker, Konstan, Terveen & Riedl, "Evaluating collaborative filtering
recommender systems", ACM TOIS 22(1), 2004; Cremonesi, Koren & Turrin,
"Performance of recommender algorithms on top-N recommendation tasks",
RecSys 2010.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recbook.base import check_interactions
from recbook.utils import check_int

__all__ = ["satisfied_share", "topk_confusion"]


def topk_confusion(recommended: pd.DataFrame, test: pd.DataFrame, train: pd.DataFrame, n_items: int) -> dict[str, float]:
    r"""Confusion matrix of top-K lists over all candidate (user, item) cells.

    Every user :math:`u` of ``test`` has :math:`C_u = |I| - |T_u|` candidate
    cells (the items not in their training rows :math:`T_u`). A cell is a
    *positive prediction* when the item is in the user's list :math:`L_u`
    and *actually positive* when it is in the user's test rows :math:`R_u`.
    Summed over users:

    .. math::

        TP = \sum_u |L_u \cap R_u|,\quad FP = \sum_u |L_u| - TP,\quad
        FN = \sum_u |R_u| - TP,\quad TN = \sum_u C_u - TP - FP - FN,

    .. math::

        \mathrm{accuracy} = \frac{TP + TN}{\sum_u C_u},\qquad
        P = \frac{TP}{TP + FP},\quad R = \frac{TP}{TP + FN},\quad
        F_1 = \frac{2PR}{P + R}.

    *Accuracy* is the outline's "预测正确的样本数占总样本数的比例". With
    :math:`K` slots per user and a few dozen relevant items among more than a
    thousand candidates, :math:`TN` dominates, so the empty list (all
    "no") scores higher than any list with fewer than half its slots right.
    :math:`P`, :math:`R` and :math:`F_1` here are *micro* averages (pooled
    over users); :func:`recbook.evaluate.evaluate_topk` reports per-user
    (macro) averages, which weight every user alike.

    Parameters
    ----------
    recommended : pandas.DataFrame
        Columns ``user, item``: the lists (e.g. ``model.recommend(...)``);
        may be empty (the "recommend nothing" system). Rows of users absent
        from ``test`` are ignored.
    test : pandas.DataFrame
        Held-out interactions ``user, item``: the actual positives.
    train : pandas.DataFrame
        Training interactions ``user, item``: those cells are not candidates.
    n_items : int
        Catalogue size :math:`|I|`.

    Returns
    -------
    dict
        ``tp, fp, fn, tn, candidates`` (counts, as floats) and ``accuracy,
        precision, recall, f1`` (precision is 0 for an empty list).

    Raises
    ------
    TypeError
        ``recommended`` is not a DataFrame.
    ValueError
        Missing columns, ``n_items`` not positive, a user with more training
        and test items than the catalogue holds, or a recommended cell that
        is a training cell (lists must exclude seen items).

    Examples
    --------
    >>> import pandas as pd
    >>> tr = pd.DataFrame({"user": [1], "item": [0]})
    >>> te = pd.DataFrame({"user": [1, 1], "item": [1, 2]})
    >>> rec = pd.DataFrame({"user": [1, 1], "item": [1, 3]})
    >>> d = topk_confusion(rec, te, tr, n_items=10)
    >>> d["tp"], d["fp"], d["fn"], d["tn"], d["accuracy"]
    (1.0, 1.0, 1.0, 6.0, 0.7777777777777778)
    """
    if not isinstance(recommended, pd.DataFrame):
        raise TypeError(f"recommended must be a DataFrame with columns user, item, got {type(recommended).__name__}")
    missing = {"user", "item"} - set(recommended.columns)
    if missing:
        raise ValueError(f"recommended lacks column(s) {sorted(missing)}")
    n_items = check_int("n_items", n_items)
    test_f = check_interactions(test, "test")[["user", "item"]].drop_duplicates()
    train_f = check_interactions(train, "train")[["user", "item"]].drop_duplicates()
    users = pd.Index(test_f["user"].unique())
    train_f = train_f[train_f["user"].isin(users)]
    rec = recommended[["user", "item"]].drop_duplicates()
    rec = rec[rec["user"].isin(users)]
    if len(rec) and len(rec.merge(train_f, on=["user", "item"])):
        raise ValueError("recommended holds training cells: the lists must exclude the items users have seen")
    n_train = train_f.groupby("user").size().reindex(users, fill_value=0).to_numpy()
    n_test = test_f.groupby("user").size().reindex(users, fill_value=0).to_numpy()
    cand = n_items - n_train
    if np.any(cand < n_test):
        raise ValueError(f"n_items={n_items} is smaller than some user's training plus test items")
    candidates = float(cand.sum())
    tp = float(len(rec.merge(test_f, on=["user", "item"]))) if len(rec) else 0.0
    fp = float(len(rec)) - tp
    fn = float(n_test.sum()) - tp
    tn = candidates - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "tp": tp, "fp": fp, "fn": fn, "tn": tn, "candidates": candidates,
        "accuracy": (tp + tn) / candidates, "precision": precision, "recall": recall, "f1": f1,
    }


def satisfied_share(hits: Any, min_hits: int = 1) -> float:
    r"""Share of users whose list holds at least ``min_hits`` relevant items.

    .. math::

        S_m = \frac{1}{|U|} \sum_{u \in U} \mathbb{1}\big[\,|L_u \cap R_u| \ge m\,\big]

    With :math:`m = 1` this is the hit rate (HR@K). It is a crude *offline
    proxy* for the outline's "user satisfaction": a user who finds nothing
    of interest in the list is taken as unsatisfied. It is no substitute for
    what users do online (clicks, return visits) or say (surveys).

    Parameters
    ----------
    hits : array-like of int
        Number of relevant items in each user's list (non-negative integers).
    min_hits : int, default 1
        The threshold :math:`m` (positive).

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ValueError
        Empty ``hits``, negative or non-integer counts, ``min_hits`` < 1.

    Examples
    --------
    >>> satisfied_share([0, 1, 3, 2], min_hits=2)
    0.5
    """
    min_hits = check_int("min_hits", min_hits)
    h = np.asarray(hits, dtype=np.float64).ravel()
    if h.size == 0:
        raise ValueError("hits is empty: no user to measure")
    if not np.all(np.isfinite(h)) or np.any(h < 0) or np.any(h != np.round(h)):
        raise ValueError("hits must be non-negative integer counts")
    return float(np.mean(h >= min_hits))
