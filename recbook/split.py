"""Train/test splits of an interactions frame, all seeded, all returning frames.

Every function takes a frame with columns ``user, item[, rating, timestamp]``
and returns new frames that keep the original row index (so a row can be
traced back to the source file). Which split a result comes from matters as
much as the model: the book states its split in every experiment.

========================  ====================================================
function                  protocol
========================  ====================================================
:func:`random_split`      a random fraction of all interactions is held out
:func:`per_user_split`    the same fraction of *each user's* interactions
:func:`temporal_split`    everything after a global time cut-off is held out
:func:`leave_last_out`    each user's latest ``n`` interactions are held out
:func:`kfold`             Surprise's ``KFold(random_state=seed)``, exactly
:func:`cold_item_split`   every rating of a random set of items is held out
:func:`cold_user_split`   a random set of users keeps only ``n_given`` ratings
:func:`stratified_split`  the same fraction of each user's *or item's* rows,
                          as the Recommenders project's
                          ``python_stratified_split`` draws it
========================  ====================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recbook.base import check_interactions
from recbook.utils import check_fraction, check_int, check_seed

__all__ = [
    "random_split",
    "per_user_split",
    "temporal_split",
    "leave_last_out",
    "kfold",
    "cold_item_split",
    "cold_user_split",
    "stratified_split",
]


def _check_frame(ratings: pd.DataFrame, need_timestamp: bool = False) -> None:
    check_interactions(ratings, "ratings")
    if need_timestamp and "timestamp" not in ratings.columns:
        raise ValueError(
            "ratings has no 'timestamp' column; a temporal split needs one "
            f"(columns are {list(ratings.columns)})"
        )


def random_split(
    ratings: pd.DataFrame, test_size: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out a random ``test_size`` fraction of all interactions.

    The test set has ``round(test_size * n)`` rows (at least one). Users or
    items may appear only in the test set: that is the cold-start case the
    estimators' fallback policy handles.
    """
    _check_frame(ratings)
    test_size = check_fraction("test_size", test_size)
    rng = np.random.default_rng(check_seed(seed))
    n = len(ratings)
    n_test = min(max(1, int(round(test_size * n))), n - 1) if n > 1 else 0
    perm = rng.permutation(n)
    test_pos = np.sort(perm[:n_test])
    mask = np.zeros(n, dtype=bool)
    mask[test_pos] = True
    return ratings.iloc[~mask].copy(), ratings.iloc[mask].copy()


def per_user_split(
    ratings: pd.DataFrame, test_size: float = 0.2, seed: int = 0, min_train: int = 1, order: str = "random"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out ``test_size`` of each user's interactions (stratified by user).

    User :math:`u` with :math:`n_u` interactions gets
    :math:`\\min(\\mathrm{round}(t\\,n_u),\\ n_u - m)` test rows, where ``m`` is
    ``min_train``, so every user keeps at least ``min_train`` training rows
    and users with ``n_u <= min_train`` are kept whole in training. This is
    the "75/25 stratified by user" protocol of the top-K tables the book
    compares with.

    ``order="random"`` (the default) draws each user's test rows at random
    with ``seed``; ``order="time"`` holds out each user's *latest* rows (by
    ``timestamp``, ties by file order; ``seed`` is unused), so that a model
    is tested on every user's future.
    """
    if order not in ("random", "time"):
        raise ValueError(f"order must be 'random' or 'time', got {order!r}")
    _check_frame(ratings, need_timestamp=order == "time")
    test_size = check_fraction("test_size", test_size)
    check_int("min_train", min_train, minimum=0)
    rng = np.random.default_rng(check_seed(seed))
    n = len(ratings)
    codes, _ = pd.factorize(ratings["user"], sort=False)
    if order == "time":  # latest first (ties: later file row first), so a user's first n_test rows are its latest
        ts = pd.to_numeric(ratings["timestamp"]).to_numpy(dtype=np.float64)
        rows = np.lexsort((-np.arange(n), -ts, codes))
    else:  # a random key per row, then a stable sort by user: a random order within each user
        rows = np.lexsort((rng.random(n), codes))
    sorted_codes = codes[rows]
    counts = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos_in_user = np.arange(n) - starts[sorted_codes]
    n_test = np.minimum(np.round(test_size * counts).astype(np.int64), np.maximum(counts - min_train, 0))
    is_test_sorted = pos_in_user < n_test[sorted_codes]
    mask = np.zeros(n, dtype=bool)
    mask[rows[is_test_sorted]] = True
    return ratings.iloc[~mask].copy(), ratings.iloc[mask].copy()


def temporal_split(
    ratings: pd.DataFrame, test_size: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out the latest ``test_size`` fraction of interactions (global cut-off).

    Rows are ordered by ``timestamp`` (ties by file order); the last
    ``round(test_size * n)`` form the test set, so the model never sees the
    future. Deterministic: no seed is needed.
    """
    _check_frame(ratings, need_timestamp=True)
    test_size = check_fraction("test_size", test_size)
    n = len(ratings)
    n_test = min(max(1, int(round(test_size * n))), n - 1) if n > 1 else 0
    order = np.argsort(ratings["timestamp"].to_numpy(), kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[n - n_test :]] = True
    return ratings.iloc[~mask].copy(), ratings.iloc[mask].copy()


def leave_last_out(
    ratings: pd.DataFrame, n: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out each user's ``n`` most recent interactions.

    Users with ``n`` or fewer interactions stay whole in training. Ties in
    time are broken by file order (a later row counts as more recent). This is
    the sequential-recommendation protocol (SASRec and friends).
    """
    _check_frame(ratings, need_timestamp=True)
    check_int("n", n)
    codes, _ = pd.factorize(ratings["user"], sort=False)
    ts = ratings["timestamp"].to_numpy()
    pos = np.arange(len(ratings))
    order = np.lexsort((pos, ts, codes))  # by user, then time, then file order
    sorted_codes = codes[order]
    counts = np.bincount(codes)
    ends = np.cumsum(counts)
    from_end = ends[sorted_codes] - np.arange(len(ratings))  # 1 for a user's latest row
    is_test_sorted = (from_end <= n) & (counts[sorted_codes] > n)
    mask = np.zeros(len(ratings), dtype=bool)
    mask[order[is_test_sorted]] = True
    return ratings.iloc[~mask].copy(), ratings.iloc[mask].copy()


def kfold(
    ratings: pd.DataFrame, n_splits: int = 5, seed: int = 0
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """K-fold cross-validation, reproducing Surprise's ``KFold`` exactly.

    Surprise's ``KFold(n_splits, random_state=seed, shuffle=True)`` shuffles
    the row indices with ``np.random.RandomState(seed).shuffle`` and cuts them
    into contiguous folds, the first ``n % n_splits`` folds one row longer.
    Fold ``f``'s training rows are the shuffled indices before the fold
    followed by those after it, *in that order*: the order matters because
    models assign inner ids by first appearance, as Surprise does. With the
    rows in file order this gives Surprise's published 5-fold numbers.

    Returns
    -------
    list of (train, test) frames
    """
    _check_frame(ratings)
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)):
        raise TypeError(f"n_splits must be an integer, got {n_splits!r}")
    n = len(ratings)
    if n_splits < 2 or n_splits > n:
        raise ValueError(f"n_splits must be between 2 and the number of rows ({n}), got {n_splits}")
    indices = np.arange(n)
    np.random.RandomState(check_seed(seed)).shuffle(indices)
    folds = []
    start = stop = 0
    for f in range(n_splits):
        start = stop
        stop += n // n_splits + (1 if f < n % n_splits else 0)
        train_idx = np.concatenate([indices[:start], indices[stop:]])
        folds.append((ratings.iloc[train_idx].copy(), ratings.iloc[indices[start:stop]].copy()))
    return folds


def _draw_ids(ratings: pd.DataFrame, column: str, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Rows whose ``column`` id is among ``round(fraction * n_ids)`` drawn ids.

    At least one id and at most all but one are drawn without replacement from
    the distinct ids in order of first appearance.
    """
    ids = pd.unique(ratings[column])
    if len(ids) < 2:
        raise ValueError(f"ratings has {len(ids)} distinct {column}(s): need at least 2 to hold some out")
    n_cold = min(max(1, int(round(fraction * len(ids)))), len(ids) - 1)
    cold = ids[rng.choice(len(ids), size=n_cold, replace=False)]
    return ratings[column].isin(cold).to_numpy()


def cold_item_split(
    ratings: pd.DataFrame, item_fraction: float = 0.15, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out a random set of *items*: all of their ratings go to the test set.

    ``round(item_fraction * n_items)`` items (at least one, at most all but
    one) are drawn without replacement by ``numpy.random.default_rng(seed)``
    from the distinct items in order of first appearance. The training frame
    has no rating of them, so they are new items for every model: the
    new-item cold-start protocol of Schein et al. (SIGIR 2002).

    Returns
    -------
    (train, test) : pandas.DataFrame
        Rows keep their original index and order.
    """
    _check_frame(ratings)
    item_fraction = check_fraction("item_fraction", item_fraction)
    rng = np.random.default_rng(check_seed(seed))
    mask = _draw_ids(ratings, "item", item_fraction, rng)
    return ratings.iloc[~mask].copy(), ratings.iloc[mask].copy()


def cold_user_split(
    ratings: pd.DataFrame, user_fraction: float = 0.1, n_given: int = 3, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out a random set of *users*, who keep only ``n_given`` ratings each.

    ``round(user_fraction * n_users)`` users (at least one, at most all but
    one) are drawn without replacement by ``numpy.random.default_rng(seed)``
    from the distinct users in order of first appearance. Each keeps
    ``n_given`` of their ratings, drawn at random, in the training frame (a
    newcomer who rated a few items at sign-up: the "given-n" protocol of
    Breese et al., UAI 1998); all their other ratings form the test set. A
    drawn user with at most ``n_given`` ratings stays whole in training.
    ``n_given=0`` makes the held-out users completely unknown.

    Returns
    -------
    (train, test) : pandas.DataFrame
        Rows keep their original index and order.
    """
    _check_frame(ratings)
    user_fraction = check_fraction("user_fraction", user_fraction)
    n_given = check_int("n_given", n_given, minimum=0)
    rng = np.random.default_rng(check_seed(seed))
    is_cold = _draw_ids(ratings, "user", user_fraction, rng)
    pos = np.flatnonzero(is_cold)
    codes, _ = pd.factorize(ratings["user"].to_numpy()[pos], sort=False)
    order = np.lexsort((rng.random(len(pos)), codes))  # a random order within each cold user
    counts = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(pos), dtype=np.int64)
    rank[order] = np.arange(len(pos)) - starts[codes[order]]
    test = np.zeros(len(ratings), dtype=bool)
    test[pos] = (rank >= n_given) & (counts[codes] > n_given)
    return ratings.iloc[~test].copy(), ratings.iloc[test].copy()


def stratified_split(
    ratings: pd.DataFrame, test_size: float = 0.25, by: str = "user", seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out ``test_size`` of each user's (``by="user"``) or each item's rows.

    This draws exactly what the Recommenders project's
    ``python_stratified_split(data, ratio=1 - test_size, filter_by=by,
    seed=seed)`` draws from the same frame in the same row order: a key
    ``np.random.RandomState(seed).rand(n)`` per row, the rows sorted by group
    then key, and the ``j``-th of a group's ``c`` rows in training when
    ``j / c <= 1 - test_size`` (so ``floor((1 - test_size) c)`` training rows).
    Its MovieLens benchmark uses ``by="item"`` with ``seed=42``: every *item*
    loses a quarter of its ratings, so a light user may have all of theirs
    in the test set, unlike :func:`per_user_split`.

    Returns
    -------
    (train, test) : pandas.DataFrame
        Rows keep their original index and order.
    """
    _check_frame(ratings)
    test_size = check_fraction("test_size", test_size)
    if by not in ("user", "item"):
        raise ValueError(f"by must be 'user' or 'item', got {by!r}")
    key = np.random.RandomState(check_seed(seed)).rand(len(ratings))
    codes, _ = pd.factorize(ratings[by], sort=True)
    order = np.lexsort((key, codes))
    counts = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_codes = codes[order]
    rank = (np.arange(len(ratings)) - starts[sorted_codes] + 1) / counts[sorted_codes]
    train = np.zeros(len(ratings), dtype=bool)
    train[order] = rank <= 1.0 - test_size
    return ratings.iloc[train].copy(), ratings.iloc[~train].copy()
