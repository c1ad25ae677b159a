from __future__ import annotations

import numpy as np
import pytest

from recbook import split
from tests.conftest import requires_ml100k


def _assert_partition(full, train, test):
    assert len(train) + len(test) == len(full)
    assert set(train.index).isdisjoint(test.index)
    assert set(train.index) | set(test.index) == set(full.index)


def test_random_split_partition_and_size(random_frame):
    train, test = split.random_split(random_frame, test_size=0.25, seed=3)
    _assert_partition(random_frame, train, test)
    assert len(test) == 150


def test_random_split_is_seeded(random_frame):
    a = split.random_split(random_frame, seed=5)[1]
    b = split.random_split(random_frame, seed=5)[1]
    c = split.random_split(random_frame, seed=6)[1]
    assert a.index.equals(b.index)
    assert not a.index.equals(c.index)


def test_per_user_split_stratified(random_frame):
    train, test = split.per_user_split(random_frame, test_size=0.2, seed=0)
    _assert_partition(random_frame, train, test)
    n_u = random_frame.groupby("user").size()
    t_u = test.groupby("user").size().reindex(n_u.index, fill_value=0)
    expected = np.minimum(np.round(0.2 * n_u), n_u - 1)
    assert (t_u == expected).all()
    assert set(train.user) == set(random_frame.user)  # every user keeps training rows


def test_per_user_split_keeps_single_rating_users(tiny):
    train, test = split.per_user_split(tiny, test_size=0.5, seed=0)
    assert 4 not in set(test.user)  # user 4 has one rating: stays in train


def test_temporal_split_respects_time(random_frame):
    train, test = split.temporal_split(random_frame, test_size=0.1)
    _assert_partition(random_frame, train, test)
    assert train.timestamp.max() < test.timestamp.min()
    assert len(test) == 60


def test_leave_last_out(tiny):
    train, test = split.leave_last_out(tiny, n=1)
    _assert_partition(tiny, train, test)
    assert sorted(test.item.tolist()) == [30, 40, 50]  # latest of users 1,2,3; user 4 has one row
    assert 4 in set(train.user)


def test_kfold_partitions(random_frame):
    folds = split.kfold(random_frame, n_splits=7, seed=0)
    tests = [t for _, t in folds]
    sizes = [len(t) for t in tests]
    assert sizes == [86, 86, 86, 86, 86, 85, 85]  # 600 = 7*85 + 5: the first five one longer
    all_test = np.concatenate([t.index for t in tests])
    assert sorted(all_test) == sorted(random_frame.index)
    for train, test in folds:
        _assert_partition(random_frame, train, test)


def test_kfold_matches_surprise_on_small_frame(random_frame):
    surprise = pytest.importorskip("surprise")
    data = surprise.Dataset.load_from_df(random_frame[["user", "item", "rating"]], surprise.Reader(rating_scale=(1, 5)))
    ours = split.kfold(random_frame, n_splits=5, seed=0)
    for (train, test), (s_train, s_test) in zip(ours, surprise.model_selection.KFold(5, random_state=0).split(data)):
        assert list(zip(test.user, test.item, test.rating)) == [(u, i, r) for u, i, r in s_test]
        raw_train = [(s_train.to_raw_uid(u), s_train.to_raw_iid(i), r) for u, i, r in s_train.all_ratings()]
        assert sorted(zip(train.user, train.item, train.rating)) == sorted(raw_train)
        # Surprise assigns inner ids by first appearance in the training list
        first_users = list(dict.fromkeys(train.user))
        assert first_users == [s_train.to_raw_uid(u) for u in range(s_train.n_users)]


@requires_ml100k
def test_kfold_matches_surprise_on_ml100k():
    surprise = pytest.importorskip("surprise")
    from recbook.datasets import load

    ratings = load("ml-100k").ratings
    data = surprise.Dataset.load_from_df(ratings[["user", "item", "rating"]], surprise.Reader(rating_scale=(1, 5)))
    ours = split.kfold(ratings, n_splits=5, seed=0)
    theirs = list(surprise.model_selection.KFold(5, random_state=0).split(data))
    for (_, test), (_, s_test) in zip(ours, theirs):
        assert list(zip(test.user, test.item, test.rating)) == [(u, i, r) for u, i, r in s_test]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda f: split.random_split(f, test_size=1.5), "test_size"),
        (lambda f: split.random_split(f, test_size=0), "test_size"),
        (lambda f: split.random_split(f, seed=-1), "seed"),
        (lambda f: split.per_user_split(f, min_train=-2), "min_train"),
        (lambda f: split.leave_last_out(f, n=0), "n must"),
        (lambda f: split.kfold(f, n_splits=1), "n_splits"),
        (lambda f: split.temporal_split(f.drop(columns="timestamp")), "timestamp"),
        (lambda f: split.random_split(f.drop(columns="item")), "item"),
        (lambda f: split.random_split(f.iloc[:0]), "empty"),
    ],
)
def test_bad_input(tiny, call, match):
    with pytest.raises(ValueError, match=match):
        call(tiny)


def test_not_a_frame():
    with pytest.raises(TypeError, match="DataFrame"):
        split.random_split([(1, 2, 3.0)])


# ------------------------------------------------------------- cold users
def test_cold_user_split_keeps_n_given_per_cold_user(random_frame):
    train, test = split.cold_user_split(random_frame, user_fraction=0.25, n_given=3, seed=0)
    _assert_partition(random_frame, train, test)
    cold = set(test.user)
    assert len(cold) == 10  # round(0.25 * 40)
    given = train[train.user.isin(cold)].groupby("user").size()
    assert (given == 3).all() and set(given.index) == cold
    n_u = random_frame.groupby("user").size()
    assert (test.groupby("user").size() == n_u[sorted(cold)] - 3).all()
    # the warm users are untouched
    warm = random_frame[~random_frame.user.isin(cold)]
    assert set(warm.index) <= set(train.index)


def test_cold_user_split_seeded_and_zero_given(random_frame):
    a = split.cold_user_split(random_frame, 0.1, n_given=2, seed=4)[1]
    b = split.cold_user_split(random_frame, 0.1, n_given=2, seed=4)[1]
    assert a.index.equals(b.index)
    assert not a.index.equals(split.cold_user_split(random_frame, 0.1, n_given=2, seed=5)[1].index)
    train, test = split.cold_user_split(random_frame, 0.1, n_given=0, seed=0)
    assert set(test.user).isdisjoint(train.user)


def test_cold_user_split_small_users_stay_whole(tiny):
    train, test = split.cold_user_split(tiny, user_fraction=0.75, n_given=3, seed=0)
    # every user of `tiny` has at most 3 ratings: nothing can be held out
    assert len(test) == 0 and len(train) == len(tiny)


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [({"user_fraction": 0.0}, ValueError), ({"user_fraction": 1.0}, ValueError),
     ({"n_given": -1}, ValueError), ({"seed": -1}, ValueError)],
)
def test_cold_user_split_bad_arguments(random_frame, kwargs, exc):
    with pytest.raises(exc):
        split.cold_user_split(random_frame, **kwargs)


# ------------------------------------------------ Recommenders' stratified split
def _stratified_reference(frame, ratio, by, seed):
    """The algorithm of Recommenders' python_stratified_split, written with pandas."""
    data = frame.copy()
    np.random.seed(seed)
    data["key"] = np.random.rand(len(data))
    data = data.sort_values([by, "key"])
    data["rank"] = (data.groupby(by).cumcount() + 1) / data.groupby(by)[by].transform("count")
    train = data[data["rank"] <= ratio]
    return set(train.index), set(data.index) - set(train.index)


@pytest.mark.parametrize("by", ["user", "item"])
def test_stratified_split_matches_recommenders_algorithm(random_frame, by):
    train, test = split.stratified_split(random_frame, test_size=0.25, by=by, seed=42)
    _assert_partition(random_frame, train, test)
    ref_train, ref_test = _stratified_reference(random_frame, 0.75, by, 42)
    assert set(train.index) == ref_train and set(test.index) == ref_test
    c = random_frame.groupby(by).size()
    assert (train.groupby(by).size().reindex(c.index, fill_value=0) == np.floor(0.75 * c)).all()


@requires_ml100k
def test_stratified_split_on_ml100k_matches_reference():
    from recbook.datasets import load

    ratings = load("ml-100k").ratings
    train, test = split.stratified_split(ratings, test_size=0.25, by="item", seed=42)
    ref_train, _ = _stratified_reference(ratings, 0.75, "item", 42)
    assert set(train.index) == ref_train
    # stratified by item: users lose very different shares of their ratings (per_user_split: 0.25 each)
    share = (test.groupby("user").size() / ratings.groupby("user").size()).fillna(0.0)
    assert share.max() > 0.4 and share.min() < 0.1


def test_stratified_split_bad_by(random_frame):
    with pytest.raises(ValueError, match="by must be"):
        split.stratified_split(random_frame, by="time")


def test_per_user_split_by_time_holds_out_each_users_latest(random_frame):
    train, test = split.per_user_split(random_frame, test_size=0.2, order="time")
    _assert_partition(random_frame, train, test)
    n_u = random_frame.groupby("user").size()
    t_u = test.groupby("user").size().reindex(n_u.index, fill_value=0)
    assert (t_u == np.minimum(np.round(0.2 * n_u), n_u - 1)).all()  # same sizes as the random order
    latest_train = train.groupby("user").timestamp.max()
    earliest_test = test.groupby("user").timestamp.min()
    assert (latest_train.reindex(earliest_test.index) <= earliest_test).all()  # the future is held out
    again = split.per_user_split(random_frame, test_size=0.2, order="time", seed=9)[1]
    assert again.index.equals(test.index)  # no randomness


def test_per_user_split_by_time_ties_by_file_order():
    import pandas as pd

    frame = pd.DataFrame({"user": [1, 1, 1, 1], "item": [1, 2, 3, 4], "rating": 1.0, "timestamp": [5, 7, 7, 6]})
    train, test = split.per_user_split(frame, test_size=0.25, order="time")
    assert test["item"].tolist() == [3]  # two rows at the latest time: the later one in the file


def test_per_user_split_rejects_bad_order(random_frame):
    with pytest.raises(ValueError, match="order"):
        split.per_user_split(random_frame, order="latest")
    with pytest.raises(ValueError, match="timestamp"):
        split.per_user_split(random_frame.drop(columns="timestamp"), order="time")
