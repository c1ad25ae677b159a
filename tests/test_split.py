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
