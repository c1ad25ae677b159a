"""Tests for recbook.metrics: golden values worked by hand, properties, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recbook import metrics as M

PER_USER = {
    "precision": M.precision_at_k,
    "recall": M.recall_at_k,
    "f1": M.f1_at_k,
    "ndcg": M.ndcg_at_k,
    "map": M.average_precision_at_k,
    "hit_rate": M.hit_at_k,
    "mrr": M.reciprocal_rank_at_k,
}


# ------------------------------------------------------------------ rating
def test_rmse_mae_golden():
    # errors 0, 0, 2: RMSE = sqrt(4/3), MAE = 2/3
    assert M.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert M.mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    # errors 1, 1, 1, 1: both 1
    assert M.rmse(np.array([1.0, 2, 3, 4]), pd.Series([2.0, 1, 4, 3])) == pytest.approx(1.0)
    assert M.mae([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(1.0)


def test_rmse_punishes_large_errors_more():
    # same total absolute error 4: four errors of 1 vs one error of 4
    assert M.mae([0, 0, 0, 0], [1, 1, 1, 1]) == M.mae([0, 0, 0, 0], [4, 0, 0, 0]) == 1.0
    assert M.rmse([0, 0, 0, 0], [1, 1, 1, 1]) == 1.0
    assert M.rmse([0, 0, 0, 0], [4, 0, 0, 0]) == 2.0


@pytest.mark.parametrize("fn", [M.rmse, M.mae])
def test_rating_errors(fn):
    with pytest.raises(ValueError, match="same length"):
        fn([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
    with pytest.raises(ValueError, match="NaN"):
        fn([1, np.nan], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        fn([1, 2], [1, np.inf])
    with pytest.raises(ValueError, match="one-dimensional"):
        fn([[1, 2]], [[1, 2]])
    with pytest.raises(ValueError, match="numeric"):
        fn(["a"], [1])


@given(st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10)), min_size=1, max_size=30))
def test_mae_le_rmse(pairs):
    a, b = zip(*pairs)
    assert M.mae(a, b) <= M.rmse(a, b) + 1e-12


# ------------------------------------------------------------- golden ranking
def test_ranking_golden_example():
    rec, rel = ["a", "b", "c", "d"], {"b", "d", "e"}
    # hits at ranks 2 and 4; |R| = 3; k = 4
    assert M.precision_at_k(rec, rel, 4) == 0.5  # 2 / 4
    assert M.recall_at_k(rec, rel, 4) == pytest.approx(2 / 3)  # 2 / 3
    # AP = (P@2 + P@4) / min(3, 4) = (1/2 + 2/4) / 3
    assert M.average_precision_at_k(rec, rel, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)
    # DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3) + 1/log2(4)
    ndcg = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert M.ndcg_at_k(rec, rel, 4) == pytest.approx(ndcg)
    assert M.ndcg_at_k(rec, rel, 4) == pytest.approx(0.49819, abs=1e-5)
    assert M.reciprocal_rank_at_k(rec, rel, 4) == 0.5
    assert M.hit_at_k(rec, rel, 4) == 1.0


def test_only_first_k_count_and_k_is_the_denominator():
    rec, rel = ["a", "b", "c", "d"], {"b", "d", "e"}
    # k = 2: one hit at rank 2
    assert M.precision_at_k(rec, rel, 2) == 0.5
    assert M.recall_at_k(rec, rel, 2) == pytest.approx(1 / 3)
    # AP@2 = (1/2) / min(3, 2) = 1/4
    assert M.average_precision_at_k(rec, rel, 2) == pytest.approx(0.25)
    # NDCG@2 = (1/log2 3) / (1 + 1/log2 3)
    assert M.ndcg_at_k(rec, rel, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # k = 1: miss
    for fn in PER_USER.values():
        assert fn(rec, rel, 1) == 0.0
    # k larger than the list: precision divides by k (empty slots are misses)
    assert M.precision_at_k(rec, rel, 10) == pytest.approx(2 / 10)
    # AP@10 = (1/2 + 2/4) / min(3, 10)
    assert M.average_precision_at_k(rec, rel, 10) == pytest.approx(1 / 3)


def test_no_hit_gives_zero():
    for fn in PER_USER.values():
        assert fn([1, 2, 3], {4}, 3) == 0.0


def test_inputs_of_any_iterable_type():
    rec = np.array([3, 1, 2])
    assert M.precision_at_k(rec, [1, 1, 5], 3) == pytest.approx(1 / 3)
    assert M.recall_at_k((3, 1, 2), np.array([1, 5]), 3) == 0.5
    assert M.reciprocal_rank_at_k(pd.Series([3, 1, 2]).tolist(), frozenset({2}), 3) == pytest.approx(1 / 3)


@pytest.mark.parametrize("fn", list(PER_USER.values()))
def test_ranking_errors(fn):
    with pytest.raises(ValueError, match="relevant is empty"):
        fn([1, 2], set(), 2)
    for bad_k in (0, -1):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            fn([1, 2], {1}, bad_k)
    for bad_k in (1.5, True, "3"):  # a wrong type is a TypeError
        with pytest.raises(TypeError, match="k must be a positive integer"):
            fn([1, 2], {1}, bad_k)
    with pytest.raises(ValueError, match="more than once"):
        fn([1, 2, 1], {1}, 3)
    with pytest.raises(TypeError, match="ordered"):
        fn({1, 2}, {1}, 2)
    with pytest.raises(TypeError):
        fn("abc", {"a"}, 2)
    with pytest.raises(TypeError):
        fn([1, 2], 1, 2)


# --------------------------------------------------------------- properties
@st.composite
def ranking_case(draw, max_items: int = 25):
    n = draw(st.integers(1, max_items))
    perm = draw(st.permutations(list(range(n))))
    length = draw(st.integers(0, n))
    rec = list(perm[:length])
    rel = draw(st.sets(st.integers(0, n + 3), min_size=1, max_size=n + 3))
    k = draw(st.integers(1, max_items + 2))
    return rec, rel, k


@settings(max_examples=300, deadline=None)
@given(ranking_case())
def test_every_metric_in_unit_interval(case):
    rec, rel, k = case
    for fn in PER_USER.values():
        assert 0.0 <= fn(rec, rel, k) <= 1.0 + 1e-12


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(0, 40), min_size=1, max_size=20), st.integers(1, 25), st.integers(0, 10))
def test_perfect_ranking(rel, k, n_extra):
    others = [i for i in range(100, 100 + n_extra)]
    rec = sorted(rel) + others
    assert M.ndcg_at_k(rec, rel, k) == pytest.approx(1.0)
    assert M.average_precision_at_k(rec, rel, k) == pytest.approx(1.0)
    assert M.reciprocal_rank_at_k(rec, rel, k) == 1.0
    assert M.hit_at_k(rec, rel, k) == 1.0
    assert M.recall_at_k(rec, rel, k) == pytest.approx(min(len(rel), k) / len(rel))
    if len(rel) >= k:
        assert M.precision_at_k(rec, rel, k) == 1.0
    else:
        assert M.precision_at_k(rec, rel, k) == pytest.approx(len(rel) / k)


@settings(max_examples=300, deadline=None)
@given(ranking_case(), st.data())
def test_moving_a_hit_up_never_hurts(case, data):
    rec, rel, k = case
    top = rec[:k]
    hit_pos = [j for j, item in enumerate(top) if item in rel]
    miss_pos = [j for j, item in enumerate(top) if item not in rel]
    pairs = [(i, j) for i in miss_pos for j in hit_pos if i < j]
    if not pairs:
        return
    i, j = data.draw(st.sampled_from(pairs))
    swapped = list(rec)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    # the set of hits in the top k is unchanged, only their ranks improve
    assert M.ndcg_at_k(swapped, rel, k) > M.ndcg_at_k(rec, rel, k)
    assert M.average_precision_at_k(swapped, rel, k) > M.average_precision_at_k(rec, rel, k)
    assert M.reciprocal_rank_at_k(swapped, rel, k) >= M.reciprocal_rank_at_k(rec, rel, k)
    assert M.precision_at_k(swapped, rel, k) == M.precision_at_k(rec, rel, k)
    assert M.recall_at_k(swapped, rel, k) == M.recall_at_k(rec, rel, k)


@settings(max_examples=200, deadline=None)
@given(st.lists(ranking_case(max_items=15), min_size=1, max_size=8), st.integers(1, 17))
def test_batch_equals_per_user(cases, k):
    hits = np.zeros((len(cases), k), dtype=bool)
    n_rel = np.zeros(len(cases), dtype=np.int64)
    for u, (rec, rel, _) in enumerate(cases):
        for r, item in enumerate(rec[:k]):
            hits[u, r] = item in rel
        n_rel[u] = len(rel)
    batch = M.ranking_metrics_from_hits(hits, n_rel)
    assert set(batch) == set(M.RANKING_METRICS) == set(PER_USER)
    for name, fn in PER_USER.items():
        assert batch[name].shape == (len(cases),)
        for u, (rec, rel, _) in enumerate(cases):
            assert batch[name][u] == pytest.approx(fn(rec, rel, k), rel=1e-12, abs=1e-12)


def test_batch_golden_and_errors():
    out = M.ranking_metrics_from_hits(np.array([[0, 1, 0, 1], [1, 0, 0, 0]]), [3, 1])
    assert out["precision"].tolist() == [0.5, 0.25]
    assert out["recall"].tolist() == pytest.approx([2 / 3, 1.0])
    assert out["map"].tolist() == pytest.approx([1 / 3, 1.0])
    assert out["mrr"].tolist() == [0.5, 1.0]
    assert out["ndcg"][1] == 1.0
    with pytest.raises(ValueError, match="2-D"):
        M.ranking_metrics_from_hits([True, False], [1])
    with pytest.raises(ValueError, match="shape"):
        M.ranking_metrics_from_hits([[True, False]], [1, 2])
    with pytest.raises(ValueError, match="positive integers"):
        M.ranking_metrics_from_hits([[False, False]], [0])
    with pytest.raises(ValueError, match="hits but only"):
        M.ranking_metrics_from_hits([[True, True]], [1])
    with pytest.raises(ValueError, match="zero columns"):
        M.ranking_metrics_from_hits(np.zeros((1, 0), bool), [1])
    with pytest.raises(ValueError, match="booleans"):
        M.ranking_metrics_from_hits([[2, 0]], [2])


# ----------------------------------------------------------- beyond accuracy
def test_coverage():
    # union {1, 2, 3} of a 10-item catalogue
    assert M.coverage([[1, 2], [2, 3]], 10) == pytest.approx(0.3)
    assert M.coverage(np.array([[1, 2], [2, 1]]), 4) == 0.5
    assert M.coverage(pd.Series([[1], [2]]), 2) == 1.0
    with pytest.raises(ValueError, match="n_items"):
        M.coverage([[1, 2, 3]], 2)
    with pytest.raises(ValueError, match="positive integer"):
        M.coverage([[1]], 0)
    with pytest.raises(TypeError):
        M.coverage(pd.DataFrame({"user": [1], "item": [1]}), 3)
    with pytest.raises(TypeError):
        M.coverage([1, 2], 3)


def test_novelty_golden_and_zero_popularity_rule():
    pop = {"a": 4, "b": 1, "c": 2}
    # -log2(4/4) = 0, -log2(1/4) = 2, -log2(2/4) = 1
    assert M.novelty([["a", "b"], ["c"]], pop, n_users=4) == pytest.approx((0 + 2 + 1) / 3)
    # an unseen item ("z", or count 0) is treated as seen by one user: log2(4) = 2
    assert M.novelty([["z"]], pop, 4) == pytest.approx(2.0)
    assert M.novelty([["a"]], {"a": 0}, 4) == pytest.approx(2.0)
    assert M.novelty([["c", "a"]], pd.Series(pop), 4) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="exceeds"):
        M.novelty([["a"]], {"a": 5}, 4)
    with pytest.raises(ValueError, match="no item"):
        M.novelty([[]], pop, 4)
    with pytest.raises(ValueError, match="n_users"):
        M.novelty([["a"]], pop, 0)
    with pytest.raises(TypeError):
        M.novelty([["a"]], [4], 4)


def test_intra_list_diversity():
    vecs = {"a": [1, 0], "b": [2, 0], "c": [0, 1], "d": [1, 1], "z": [0, 0]}
    # pairs (a,b): cos 1 -> 0; (a,c), (b,c): cos 0 -> 1; mean 2/3
    assert M.intra_list_diversity(["a", "b", "c"], vecs) == pytest.approx(2 / 3)
    # (a, d): cos = 1/sqrt(2)
    assert M.intra_list_diversity(["a", "d"], vecs) == pytest.approx(1 - 1 / math.sqrt(2))
    # a zero vector has cosine 0 with everything
    assert M.intra_list_diversity(["a", "z"], vecs) == pytest.approx(1.0)
    frame = pd.DataFrame.from_dict(vecs, orient="index")
    assert M.intra_list_diversity(np.array(["a", "b", "c"]), frame) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="at least two"):
        M.intra_list_diversity(["a"], vecs)
    with pytest.raises(ValueError, match="no vector"):
        M.intra_list_diversity(["a", "q"], vecs)
    with pytest.raises(ValueError, match="duplicated"):
        M.intra_list_diversity(["a", "a"], vecs)
    with pytest.raises(ValueError, match="same length"):
        M.intra_list_diversity(["a", "b"], {"a": [1, 0], "b": [1]})
    with pytest.raises(TypeError):
        M.intra_list_diversity(["a", "b"], [[1, 0], [0, 1]])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 3), min_size=3, max_size=3), min_size=2, max_size=8, unique_by=tuple)
)
def test_diversity_in_unit_interval_for_nonnegative_features(rows):
    vecs = {j: row for j, row in enumerate(rows)}
    value = M.intra_list_diversity(list(vecs), vecs)
    assert -1e-12 <= value <= 1 + 1e-12


def test_f1_is_the_harmonic_mean_by_hand():
    rec, rel = ["a", "b", "c", "d"], {"b", "d", "e"}
    p, r = 2 / 4, 2 / 3
    assert M.f1_at_k(rec, rel, 4) == pytest.approx(2 * p * r / (p + r))
    assert M.f1_at_k(["x", "y"], {"a"}, 2) == 0.0
    # not the arithmetic mean: one hit in a list of 10 for a user with one relevant item
    assert M.f1_at_k(["a"] + list("bcdefghij"), {"a"}, 10) == pytest.approx(2 * 0.1 * 1.0 / 1.1)
    hits = np.array([[True, False, True, False]])
    assert M.ranking_metrics_from_hits(hits, np.array([3]))["f1"][0] == pytest.approx(2 * 2 / (4 + 3))


# ------------------------------------------------------- profile distance
def test_profile_distance_by_hand():
    vecs = {"a": [1, 0], "b": [0, 1], "c": [1, 1], "d": [3, 0], "z": [0, 0]}
    # b is orthogonal to a: distance 1; d points the same way as a: distance 0
    assert M.profile_distance(["b"], ["a"], vecs) == pytest.approx(1.0)
    assert M.profile_distance(["d"], ["a"], vecs) == pytest.approx(0.0)
    # list (b, c), history (a, d): b -> 1, 1; c -> 1 - 1/sqrt2 twice; mean over 4 pairs
    expected = (1 + 1 + 2 * (1 - 1 / math.sqrt(2))) / 4
    assert M.profile_distance(["b", "c"], ["a", "d"], vecs) == pytest.approx(expected)
    # repeats in the history count once; a zero vector is at distance 1 from everything
    assert M.profile_distance(["b", "c"], ["a", "a", "d"], vecs) == pytest.approx(expected)
    assert M.profile_distance(["z"], ["a", "b"], vecs) == pytest.approx(1.0)
    frame = pd.DataFrame.from_dict(vecs, orient="index")
    assert M.profile_distance(np.array(["b", "c"]), {"a", "d"}, frame) == pytest.approx(expected)


def test_profile_distance_is_not_popularity_novelty():
    # the same list is maximally novel by popularity and at distance 0 from the history
    vecs = {"hit": [1.0, 0.0], "niche": [1.0, 0.0]}
    assert M.profile_distance(["niche"], ["hit"], vecs) == pytest.approx(0.0)
    assert M.novelty([["niche"]], {"hit": 100, "niche": 1}, n_users=100) == pytest.approx(math.log2(100))


def test_profile_distance_errors():
    vecs = {"a": [1, 0], "b": [0, 1]}
    with pytest.raises(ValueError, match="recommended is empty"):
        M.profile_distance([], ["a"], vecs)
    with pytest.raises(ValueError, match="history is empty"):
        M.profile_distance(["a"], [], vecs)
    with pytest.raises(ValueError, match="duplicated"):
        M.profile_distance(["a", "a"], ["b"], vecs)
    with pytest.raises(ValueError, match="no vector"):
        M.profile_distance(["a"], ["q"], vecs)
    with pytest.raises(TypeError, match="ordered sequence"):
        M.profile_distance({"a"}, ["b"], vecs)
    with pytest.raises(TypeError, match="iterable"):
        M.profile_distance(["a"], 3, vecs)
    with pytest.raises(TypeError):
        M.profile_distance(["a"], ["b"], [[1, 0], [0, 1]])


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_mean_profile_distance_equals_mean_of_per_user(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    vecs = pd.DataFrame(rng.integers(0, 3, size=(12, 4)).astype(float), index=[f"i{j}" for j in range(12)])
    items = list(vecs.index)
    n_users = data.draw(st.integers(1, 6))
    lists = {u: list(rng.choice(items, size=rng.integers(1, 5), replace=False)) for u in range(n_users)}
    hists = {u: list(rng.choice(items, size=rng.integers(1, 8))) for u in range(n_users)}
    per_user = [M.profile_distance(lists[u], hists[u], vecs) for u in lists]
    assert M.mean_profile_distance(lists, pd.Series(hists), vecs) == pytest.approx(np.mean(per_user), abs=1e-12)


def test_mean_profile_distance_errors():
    vecs = {"a": [1, 0], "b": [0, 1]}
    with pytest.raises(ValueError, match="no entry"):
        M.mean_profile_distance({1: ["a"]}, {2: ["b"]}, vecs)
    with pytest.raises(ValueError, match="recommended_lists is empty"):
        M.mean_profile_distance({}, {}, vecs)
    with pytest.raises(ValueError, match="is empty"):
        M.mean_profile_distance({1: []}, {1: ["a"]}, vecs)
    with pytest.raises(ValueError, match="empty"):
        M.mean_profile_distance({1: ["a"]}, {1: []}, vecs)
    with pytest.raises(ValueError, match="no vector"):
        M.mean_profile_distance({1: ["q"]}, {1: ["a"]}, vecs)
    with pytest.raises(TypeError, match="mapping"):
        M.mean_profile_distance([["a"]], {1: ["a"]}, vecs)
