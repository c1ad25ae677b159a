r"""The book's evaluation protocol: rating error, full-ranking top-K, cross-validation.

* :func:`evaluate_ratings` -- RMSE/MAE of ``model.predict`` on a test frame.
* :func:`evaluate_topk` -- **the** top-K protocol of the book: every user with
  test items gets a list ranked over *every* item the model knows, minus the
  items the user interacted with in training; precision, recall, NDCG, MAP,
  hit rate and MRR at ``k`` are averaged over those users, plus catalogue
  coverage, novelty and (with item features) intra-list diversity.
* :func:`evaluate_topk_sampled` -- the *sampled* protocol (each test item
  ranked among 100 random negatives). It is kept only to teach why it
  misleads (Krichene & Rendle, KDD 2020); never use it to compare models.
* :func:`cross_validate` -- fit and evaluate a model on each fold of a split.

References
----------
.. [1] Cremonesi, Koren & Turrin, "Performance of recommender algorithms on
   top-N recommendation tasks", RecSys 2010.
.. [2] Krichene & Rendle, "On sampled metrics for item recommendation",
   KDD 2020.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recbook import metrics as _metrics
from recbook.base import Recommender, _as_1d, check_interactions, check_k, top_k
from recbook.utils import check_int

__all__ = [
    "evaluate_ratings",
    "evaluate_topk",
    "evaluate_new_items",
    "evaluate_topk_sampled",
    "cross_validate",
    "RATING_METRICS",
]

#: Rating metrics known to :func:`evaluate_ratings`, name -> function.
RATING_METRICS: dict[str, Callable[[Any, Any], float]] = {
    "rmse": _metrics.rmse,
    "mae": _metrics.mae,
}


def _check_model(model: Any) -> None:
    if not isinstance(model, Recommender):
        raise TypeError(f"model must be a fitted recbook Recommender, got {type(model).__name__}")
    model._check_fitted()


# ===================================================================== rating
def evaluate_ratings(
    model: Recommender, test: pd.DataFrame, metrics: Sequence[str] = ("rmse", "mae")
) -> dict[str, float]:
    r"""Rating-prediction error of a fitted model on a test frame.

    Calls ``model.predict(test.user, test.item)`` (unknown users/items get
    the model's fallback estimate) and compares with ``test.rating``.

    Parameters
    ----------
    model : Recommender
        A fitted rating model.
    test : pandas.DataFrame
        Columns ``user, item, rating``.
    metrics : sequence of str
        Names among :data:`RATING_METRICS` (``"rmse"``, ``"mae"``).

    Returns
    -------
    dict of str to float
        One entry per metric.

    Raises
    ------
    ValueError
        Unknown metric name or an invalid test frame.
    """
    _check_model(model)
    if isinstance(metrics, str):
        metrics = (metrics,)
    unknown = [m for m in metrics if m not in RATING_METRICS]
    if unknown or not metrics:
        raise ValueError(
            f"metrics must be a non-empty sequence of names among {sorted(RATING_METRICS)}, "
            f"got {list(metrics)!r}"
        )
    frame = check_interactions(test, "test", require_rating=True)
    pred = model.predict(frame["user"].to_numpy(), frame["item"].to_numpy())
    truth = frame["rating"].to_numpy()
    return {m: float(RATING_METRICS[m](truth, pred)) for m in metrics}


# ====================================================================== top-K
def _relevant_frame(test: pd.DataFrame, relevance_threshold: float | None) -> pd.DataFrame:
    frame = check_interactions(test, "test")
    if relevance_threshold is not None:
        if isinstance(relevance_threshold, bool) or not isinstance(
            relevance_threshold, (int, float, np.integer, np.floating)
        ) or not np.isfinite(relevance_threshold):
            raise ValueError(f"relevance_threshold must be a finite number or None, got {relevance_threshold!r}")
        frame = frame[frame["rating"] >= relevance_threshold]
        if len(frame) == 0:
            raise ValueError(
                f"no test rating reaches relevance_threshold={relevance_threshold}: "
                "no user has a relevant item to evaluate"
            )
    return frame.drop_duplicates(["user", "item"])


def _item_vector_matrix(model: Recommender, item_features: Any) -> np.ndarray:
    """Unit-length feature rows aligned with ``model.item_ids_``."""
    index, mat = _metrics._vector_table(item_features)
    pos = index.get_indexer(model.item_ids_)
    if np.any(pos < 0):
        missing = model.item_ids_[pos < 0]
        raise ValueError(
            f"item_features has no vector for {len(missing)} of the model's items "
            f"(e.g. {missing[:5].tolist()}); give a vector for every item in model.item_ids_"
        )
    return _metrics._unit_rows(mat[pos])


def _rank_loop(
    scores_of: Callable[[int, int], np.ndarray],
    relevant: sp.csr_matrix,
    seen: sp.csr_matrix | None,
    n_relevant: np.ndarray,
    k: int,
    batch_size: int,
    show_progress: bool,
    desc: str,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The ranking loop every top-K protocol shares.

    For each batch of rows ``[start, stop)``: score (``scores_of``), mask the
    ``seen`` entries with ``-inf``, take the top ``k`` (:func:`recbook.base.top_k`,
    ties to the lower column), look the hits up in ``relevant`` and compute
    the per-row ranking metrics. Returns the per-row metrics, the ``(n, k')``
    top columns and the mask of finite (valid) slots.
    """
    n = relevant.shape[0]
    per_user = {name: np.zeros(n) for name in _metrics.RANKING_METRICS}
    tops, valids = [], []
    bar = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=desc, unit="user")
    try:
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            scores = scores_of(start, stop)
            if seen is not None:
                block = seen[start:stop].tocoo()
                scores[block.row, block.col] = -np.inf
            top = top_k(scores, k)
            valid = np.isfinite(np.take_along_axis(scores, top, axis=1))
            hits = np.take_along_axis(relevant[start:stop].toarray(), top, axis=1) & valid
            if hits.shape[1] < k:  # fewer candidates than k: the missing slots are misses
                hits = np.pad(hits, ((0, 0), (0, k - hits.shape[1])))
            batch = _metrics.ranking_metrics_from_hits(hits, n_relevant[start:stop])
            for name in per_user:
                per_user[name][start:stop] = batch[name]
            tops.append(top)
            valids.append(valid)
            if bar is not None:
                bar.update(stop - start)
    finally:
        if bar is not None:
            bar.close()
    width = tops[0].shape[1] if tops else 0
    top_all = np.concatenate(tops) if tops else np.zeros((0, width), dtype=np.int64)
    valid_all = np.concatenate(valids) if valids else np.zeros((0, width), dtype=bool)
    return per_user, top_all, valid_all


def evaluate_topk(
    model: Recommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    item_features: pd.DataFrame | Mapping | None = None,
    batch_size: int = 1024,
    show_progress: bool = False,
    relevance_threshold: float | None = None,
    return_per_user: bool = False,
) -> dict[str, float] | tuple[dict[str, float], pd.DataFrame]:
    r"""Full-ranking top-``k`` evaluation, the book's one protocol.

    For every user :math:`u` with at least one relevant test item:

    1. score every item the model knows (``model.score_items``, columns
       aligned with ``model.item_ids_``);
    2. set the score of every item :math:`u` interacted with in ``train`` to
       :math:`-\infty` (those are never recommended);
    3. take the ``k`` best items :math:`L_u` (:func:`recbook.base.top_k`: ties
       broken by the lower internal index);
    4. compare with the relevant set :math:`R_u`, the user's test items
       (with ``relevance_threshold``, only those rated at least that much).

    Ranking metrics (:func:`recbook.metrics.ranking_metrics_from_hits`) are
    averaged over the evaluated users :math:`U_e`:

    .. math::

        \mathrm{metric}@k = \frac{1}{|U_e|} \sum_{u \in U_e} \mathrm{metric}(L_u, R_u)

    **Honest denominators.** A test item the model never saw in training can
    never be recommended (it has no score), yet it still counts in
    :math:`|R_u|` (recall, NDCG's ideal list, MAP); so does a test item that
    is also in the user's training rows (it is masked). Dropping such items
    would flatter the model. Users unknown to the model are evaluated too,
    with the model's fallback scores.

    Beyond accuracy: ``coverage`` is :func:`recbook.metrics.coverage` with
    :math:`|I|` = ``model.n_items_``; ``novelty`` is
    :func:`recbook.metrics.novelty` with popularity = number of distinct users
    of each item in ``train`` and :math:`n_{\mathrm{users}}` = distinct users in
    ``train``; ``diversity`` is the mean over users (with at least two
    recommended items) of :func:`recbook.metrics.intra_list_diversity`.

    Parameters
    ----------
    model : Recommender
        A fitted model.
    train : pandas.DataFrame
        The interactions the model was trained on (``user, item[, rating]``);
        they are excluded from the lists and give item popularity.
    test : pandas.DataFrame
        Held-out interactions (``user, item[, rating]``).
    k : int, default 10
        List length.
    item_features : pandas.DataFrame or mapping, optional
        Item id -> feature vector (DataFrame indexed by item id); when given,
        the result has a ``diversity`` entry. Every model item needs a vector.
    batch_size : int, default 1024
        Users scored at once; memory is about ``batch_size * n_items_ * 8`` bytes.
    show_progress : bool, default False
        Show a tqdm progress bar over users.
    relevance_threshold : float, optional
        If given, only test interactions with ``rating >= relevance_threshold``
        are relevant; users with none are not evaluated.
    return_per_user : bool, default False
        Also return a frame with one row per evaluated user (``user`` and
        the six ranking metrics), e.g. for :func:`~recbook.evaluate.paired_bootstrap`.

    Returns
    -------
    dict of str to float
        ``precision, recall, ndcg, map, hit_rate, mrr, coverage, novelty``
        (and ``diversity``), plus ``n_users`` (number of users evaluated).
        With ``return_per_user``, the pair ``(dict, per_user_frame)``.

    Raises
    ------
    TypeError
        ``model`` is not a recbook Recommender.
    recbook.base.NotFittedError
        ``model`` is not fitted.
    ValueError
        Invalid frames, ``k``, ``batch_size`` or features; no relevant
        test interaction at all.

    References
    ----------
    Cremonesi, Koren & Turrin, RecSys 2010; Krichene & Rendle, KDD 2020.

    Examples
    --------
    >>> from recbook.baselines import Popularity
    >>> evaluate_topk(Popularity().fit(train), train, test, k=10)
    {'precision': ..., 'recall': ..., ..., 'n_users': 943}
    """
    _check_model(model)
    k = check_k(k)
    batch_size = check_int("batch_size", batch_size)
    train_f = check_interactions(train, "train")
    rel_f = _relevant_frame(test, relevance_threshold)
    n_items = model.n_items_

    # evaluated users, in order of first appearance in the relevant test rows
    u_codes, users = pd.factorize(rel_f["user"], sort=False)
    n_eval = len(users)
    n_relevant = np.bincount(u_codes, minlength=n_eval)

    # relevance in model item space: (evaluated user row, model item index)
    i_rel = model.item_index(rel_f["item"].to_numpy())
    keep = i_rel >= 0
    relevant = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=bool), (u_codes[keep], i_rel[keep])),
        shape=(n_eval, n_items),
    )

    # training interactions of the evaluated users, in model item space
    users_index = pd.Index(users)
    u_tr = users_index.get_indexer(train_f["user"].to_numpy())
    i_tr = model.item_index(train_f["item"].to_numpy())
    keep = (u_tr >= 0) & (i_tr >= 0)
    seen = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=bool), (u_tr[keep], i_tr[keep])), shape=(n_eval, n_items)
    )

    # popularity (distinct train users per item) for novelty
    pairs = train_f[["user", "item"]].drop_duplicates()
    n_train_users = int(pairs["user"].nunique())
    i_pop = model.item_index(pairs["item"].to_numpy())
    counts = np.bincount(i_pop[i_pop >= 0], minlength=n_items)
    info = _metrics.self_information(counts, n_train_users)

    unit_vectors = None if item_features is None else _item_vector_matrix(model, item_features)

    def scores_of(start: int, stop: int) -> np.ndarray:
        scores = np.array(model.score_items(users[start:stop]), dtype=np.float64, copy=True)
        if scores.shape != (stop - start, n_items):
            raise ValueError(
                f"{type(model).__name__}.score_items returned shape {scores.shape}, "
                f"expected {(stop - start, n_items)}"
            )
        return scores

    per_user, top, valid = _rank_loop(
        scores_of, relevant, seen, n_relevant, k, batch_size, show_progress, "evaluate_topk"
    )
    rec = top[valid]
    recommended_items = np.zeros(n_items, dtype=bool)
    recommended_items[rec] = True
    n_slots = int(valid.sum())
    result = {name: float(per_user[name].mean()) for name in _metrics.RANKING_METRICS}
    result["coverage"] = float(recommended_items.sum()) / n_items
    result["novelty"] = float(info[rec].sum()) / n_slots if n_slots else float("nan")
    if unit_vectors is not None:
        n_valid = valid.sum(axis=1)
        div_sum, n_div = 0.0, 0
        for start in range(0, n_eval, batch_size):
            stop = min(start + batch_size, n_eval)
            emb = unit_vectors[top[start:stop]] * valid[start:stop, :, None]  # invalid slots -> zero rows
            sim = np.einsum("bid,bjd->bij", emb, emb)
            off = sim.sum(axis=(1, 2)) - np.einsum("bii->b", sim)
            nv = n_valid[start:stop]
            ok = nv >= 2
            div_sum += float(np.sum(1.0 - off[ok] / (nv[ok] * (nv[ok] - 1))))
            n_div += int(ok.sum())
        result["diversity"] = div_sum / n_div if n_div else float("nan")
    result["n_users"] = n_eval
    if return_per_user:
        frame = pd.DataFrame({name: per_user[name] for name in _metrics.RANKING_METRICS})
        frame.insert(0, "user", np.asarray(users))
        return result, frame
    return result


def evaluate_new_items(
    model: Recommender,
    test: pd.DataFrame,
    candidates: Any = None,
    k: int = 10,
    relevance_threshold: float | None = None,
    train: pd.DataFrame | None = None,
    seed: int = 0,
    batch_size: int = 256,
) -> dict[str, float]:
    r"""Rank a set of new (candidate) items for each user: the cold-item top-K protocol.

    For every user :math:`u` with a relevant test item, all ``candidates``
    (default: the distinct test items, i.e. the held-out items of
    :func:`recbook.split.cold_item_split`) are scored with ``model.predict``
    and ranked; the relevant set :math:`R_u` is the user's test items (rated
    at least ``relevance_threshold`` if given). Precision, recall, NDCG, MAP,
    hit rate and MRR at ``k`` (:func:`recbook.metrics.ranking_metrics_from_hits`)
    are averaged over those users, exactly as in :func:`evaluate_topk` (the
    two share one ranking loop).

    This answers "which of the new items should we show this user?", the
    question a content model can answer and a collaborative one cannot. The
    candidates are shuffled with ``seed`` before ranking and ties keep that
    order, so a model that gives every new item the same score (a
    collaborative model's fallback) gets a *random* list, not one ordered by
    id. With ``train``, the user's training items are removed from the
    candidates.

    Returns
    -------
    dict
        ``precision, recall, ndcg, map, hit_rate, mrr`` and ``n_users``,
        ``n_candidates``.
    """
    _check_model(model)
    k = check_k(k)
    batch_size = check_int("batch_size", batch_size)
    frame = _relevant_frame(test, relevance_threshold)
    cand = pd.unique(check_interactions(test, "test")["item"]) if candidates is None else _as_1d(candidates, "candidates")
    cand = pd.unique(cand)
    if len(cand) == 0:
        raise ValueError("candidates is empty: give at least one item to rank")
    cand = cand[np.random.default_rng(seed).permutation(len(cand))]
    cindex = pd.Index(cand)
    u_codes, users = pd.factorize(frame["user"], sort=False)
    c_pos = cindex.get_indexer(frame["item"].to_numpy())
    n_relevant = np.bincount(u_codes, minlength=len(users))
    keep = c_pos >= 0
    relevant = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=bool), (u_codes[keep], c_pos[keep])), shape=(len(users), len(cand))
    )
    seen = None
    if train is not None:
        tr = check_interactions(train, "train")
        tu = pd.Index(users).get_indexer(tr["user"].to_numpy())
        tc = cindex.get_indexer(tr["item"].to_numpy())
        ok = (tu >= 0) & (tc >= 0)
        seen = sp.csr_matrix((np.ones(int(ok.sum()), dtype=bool), (tu[ok], tc[ok])), shape=(len(users), len(cand)))

    def scores_of(start: int, stop: int) -> np.ndarray:
        bu = np.asarray(users[start:stop])
        return model.predict(np.repeat(bu, len(cand)), np.tile(cand, len(bu))).reshape(len(bu), len(cand))

    per_user, _, _ = _rank_loop(scores_of, relevant, seen, n_relevant, k, batch_size, False, "evaluate_new_items")
    out = {m: float(per_user[m].mean()) for m in _metrics.RANKING_METRICS}
    out["n_users"] = len(users)
    out["n_candidates"] = len(cand)
    return out


def evaluate_topk_sampled(
    model: Recommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    n_negatives: int = 100,
    seed: int = 0,
    batch_size: int = 1024,
) -> dict[str, float]:
    r"""The *sampled* top-``k`` protocol -- flawed, kept to teach the trap.

    For each test interaction :math:`(u, i)` whose item the model knows, draw
    ``n_negatives`` distinct items uniformly among the model's items that
    :math:`u` interacted with neither in ``train`` nor in ``test``, and rank
    :math:`i` among those :math:`n+1` candidates by the model's scores. With
    :math:`r` the rank of :math:`i` (ties counted against it:
    :math:`r = 1 + |\{j : s_{uj} \ge s_{ui}\}|`),

    .. math::

        \mathrm{HR}@k = \mathbb{1}[r \le k], \qquad
        \mathrm{NDCG}@k = \frac{\mathbb{1}[r \le k]}{\log_2(r + 1)},

    averaged over the test interactions (the protocol of NCF and SASRec,
    usually run with one held-out item per user).

    **Why it misleads.** Ranking among 101 items instead of the whole
    catalogue makes every number far larger, and Krichene & Rendle (2020)
    show that sampled metrics are not even consistent with the full ones:
    they can reverse which of two models is better. Use
    :func:`evaluate_topk` to compare models. Test items unknown to the model
    are skipped here (they cannot be scored), another small inflation.

    Parameters
    ----------
    model : Recommender
        A fitted model.
    train, test : pandas.DataFrame
        Interactions ``user, item[, rating]``.
    k : int, default 10
        Cut-off.
    n_negatives : int, default 100
        Negatives per test item; a user with fewer candidates uses all of them.
    seed : int, default 0
        Seed of the negative sampler.
    batch_size : int, default 1024
        Users scored at once.

    Returns
    -------
    dict
        ``hit_rate``, ``ndcg`` and ``n_interactions`` (test interactions ranked).

    References
    ----------
    Krichene & Rendle, "On sampled metrics for item recommendation", KDD 2020;
    He et al., "Neural collaborative filtering", WWW 2017 (the protocol).
    """
    from recbook.utils import check_random_state

    _check_model(model)
    k = check_k(k)
    n_negatives = check_int("n_negatives", n_negatives)
    batch_size = check_int("batch_size", batch_size)
    rng = check_random_state(seed)
    train_f = check_interactions(train, "train")
    test_f = check_interactions(test, "test").drop_duplicates(["user", "item"])
    n_items = model.n_items_

    i_test = model.item_index(test_f["item"].to_numpy())
    known = test_f[i_test >= 0].assign(i=i_test[i_test >= 0])
    if len(known) == 0:
        raise ValueError("no test item is known to the model: nothing to rank")
    u_codes, users = pd.factorize(known["user"], sort=False)
    users_index = pd.Index(users)
    both = pd.concat([train_f[["user", "item"]], test_f[["user", "item"]]])
    u_all = users_index.get_indexer(both["user"].to_numpy())
    i_all = model.item_index(both["item"].to_numpy())
    keep = (u_all >= 0) & (i_all >= 0)
    interacted = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=bool), (u_all[keep], i_all[keep])),
        shape=(len(users), n_items),
    )
    order = np.argsort(u_codes, kind="stable")
    pos_items = known["i"].to_numpy()[order]
    bounds = np.searchsorted(u_codes[order], np.arange(len(users) + 1))
    hr_sum = ndcg_sum = 0.0
    all_items = np.arange(n_items)
    for start in range(0, len(users), batch_size):
        stop = min(start + batch_size, len(users))
        scores = np.asarray(model.score_items(users[start:stop]), dtype=np.float64)
        for row in range(start, stop):
            pos = pos_items[bounds[row] : bounds[row + 1]]
            mask = np.ones(n_items, dtype=bool)
            mask[interacted.indices[interacted.indptr[row] : interacted.indptr[row + 1]]] = False
            candidates = all_items[mask]
            s = scores[row - start]
            n_neg = min(n_negatives, len(candidates))
            if n_neg > 0:
                neg = rng.permuted(np.tile(candidates, (len(pos), 1)), axis=1)[:, :n_neg]
                rank = 1 + np.sum(s[neg] >= s[pos][:, None], axis=1)
            else:
                rank = np.ones(len(pos), dtype=np.int64)
            hit = rank <= k
            hr_sum += float(hit.sum())
            ndcg_sum += float(np.sum(np.where(hit, 1.0 / np.log2(rank + 1.0), 0.0)))
    n = len(known)
    return {"hit_rate": hr_sum / n, "ndcg": ndcg_sum / n, "n_interactions": n}


# =========================================================== cross-validation
def cross_validate(
    model: Recommender | Callable[[], Recommender],
    folds: Iterable[tuple[pd.DataFrame, pd.DataFrame]],
    task: str = "rating",
    k: int = 10,
    rating_metrics: Sequence[str] = ("rmse", "mae"),
    return_times: bool = False,
    **topk_kwargs: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""Fit and evaluate a model on every ``(train, test)`` fold.

    Parameters
    ----------
    model : Recommender or callable
        An (unfitted) estimator, cloned for every fold with
        :func:`sklearn.base.clone`, or a zero-argument factory returning a
        fresh model.
    folds : iterable of (train, test) pairs
        E.g. ``recbook.split.kfold(ratings, n_splits=5, seed=0)``.
    task : {"rating", "topk", "both"}
        ``"rating"``: :func:`evaluate_ratings` with ``rating_metrics``;
        ``"topk"``: :func:`evaluate_topk` with ``k`` and ``topk_kwargs``;
        ``"both"``: both sets of columns.
    k : int, default 10
        Cut-off for the top-K metrics.
    rating_metrics : sequence of str
        Names for :func:`evaluate_ratings`.
    return_times : bool, default False
        Add ``fit_time`` and ``test_time`` columns (seconds; not deterministic).
    **topk_kwargs
        Passed to :func:`evaluate_topk` (``item_features``,
        ``relevance_threshold``, ...).

    Returns
    -------
    per_fold : pandas.DataFrame
        One row per fold (index ``fold``, starting at 1), one column per metric.
    summary : pandas.DataFrame
        Rows ``mean`` and ``std`` (population std, ``ddof=0``, as Surprise
        prints it) of every column.

    Examples
    --------
    >>> from recbook.baselines import BaselineOnly
    >>> from recbook.split import kfold
    >>> per_fold, summary = cross_validate(BaselineOnly(), kfold(ratings))
    >>> summary.loc["mean", "rmse"]
    """
    from sklearn.base import clone

    if task not in ("rating", "topk", "both"):
        raise ValueError(f"task must be 'rating', 'topk' or 'both', got {task!r}")
    if isinstance(model, Recommender):
        def make() -> Recommender:
            return clone(model)
    elif callable(model):
        make = model  # type: ignore[assignment]
    else:
        raise TypeError(
            "model must be a recbook Recommender (cloned per fold) or a zero-argument factory, "
            f"got {type(model).__name__}"
        )
    rows = []
    for fold, pair in enumerate(folds, start=1):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"each fold must be a (train, test) pair, fold {fold} is {type(pair).__name__}")
        train, test = pair
        est = make()
        if not isinstance(est, Recommender):
            raise TypeError(f"the model factory must return a Recommender, got {type(est).__name__}")
        t0 = time.perf_counter()
        est.fit(train)
        t1 = time.perf_counter()
        row: dict[str, float] = {}
        if task in ("rating", "both"):
            row.update(evaluate_ratings(est, test, rating_metrics))
        if task in ("topk", "both"):
            row.update(evaluate_topk(est, train, test, k=k, **topk_kwargs))
        t2 = time.perf_counter()
        if return_times:
            row["fit_time"] = t1 - t0
            row["test_time"] = t2 - t1
        rows.append(row)
    if not rows:
        raise ValueError("folds is empty: give at least one (train, test) pair")
    per_fold = pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="fold"))
    summary = pd.DataFrame({"mean": per_fold.mean(), "std": per_fold.std(ddof=0)}).T
    return per_fold, summary
