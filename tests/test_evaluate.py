"""Tests for recbook.evaluate, with tiny models defined here (no other recbook models)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recbook.base import NotFittedError

from recbook import metrics as M
from recbook.base import Recommender
from recbook.evaluate import (
    cross_validate,
    evaluate_ratings,
    evaluate_topk,
    evaluate_topk_sampled,
)


class TableModel(Recommender):
    """Scores read from a table {user: {item: score}}; anything else scores 0."""

    _rating_model = False

    def __init__(self, table=None):
        self.table = table

    def _fit(self, u, i, r):
        table = self.table or {}
        self.scores_ = np.zeros((self.n_users_, self.n_items_))
        for user, row in table.items():
            uu = self.user_index([user])[0]
            if uu < 0:
                continue
            for item, score in row.items():
                ii = self.item_index([item])[0]
                if ii >= 0:
                    self.scores_[uu, ii] = score

    def _predict_idx(self, u, i):
        ok = (u >= 0) & (i >= 0)
        out = np.zeros(len(u))
        out[ok] = self.scores_[u[ok], i[ok]]
        return out

    def _score_users(self, u):
        out = np.zeros((len(u), self.n_items_))
        out[u >= 0] = self.scores_[u[u >= 0]]
        return out


class RandomScores(Recommender):
    """Fixed random scores per (user, item), drawn at fit time; unknown users: item index order."""

    _rating_model = False

    def __init__(self, seed=0):
        self.seed = seed

    def _fit(self, u, i, r):
        rng = np.random.default_rng(self.seed)
        self.scores_ = rng.random((self.n_users_, self.n_items_))
        self.fallback_ = -np.arange(self.n_items_, dtype=float)

    def _predict_idx(self, u, i):
        return np.where(u >= 0, 1.0, 0.0)  # not used by top-K

    def _score_users(self, u):
        out = np.tile(self.fallback_, (len(u), 1))
        out[u >= 0] = self.scores_[u[u >= 0]]
        return out


class ItemMeanModel(Recommender):
    """Predict each item's mean training rating (global mean for unknown items)."""

    def _fit(self, u, i, r):
        self.mean_ = np.bincount(i, r, self.n_items_) / np.bincount(i, minlength=self.n_items_)

    def _predict_idx(self, u, i):
        return np.where(i >= 0, self.mean_[np.maximum(i, 0)], self.global_mean_)


# ------------------------------------------------------------- hand-made case
SCORES = {
    "u1": dict(A=9, B=8, C=7, D=6, E=5, F=4),
    "u2": dict(F=9, E=8, D=7, C=6, B=5, A=4),
}
TRAIN = pd.DataFrame(
    {
        "user": ["u1", "u1", "u2", "u2", "u3", "u3", "u3", "u3"],
        "item": ["A", "B", "A", "C", "A", "D", "E", "F"],
        "rating": [5.0] * 8,
    }
)
# u1: relevant {D, F, G}; G was never seen in training; u2: relevant {F, B}; u3: no test item
TEST = pd.DataFrame(
    {
        "user": ["u1", "u1", "u1", "u2", "u2"],
        "item": ["D", "F", "G", "F", "B"],
        "rating": [4.0, 5.0, 5.0, 2.0, 5.0],
    }
)


@pytest.fixture()
def table_model():
    return TableModel(SCORES).fit(TRAIN)


def test_evaluate_topk_hand_computed(table_model):
    res = evaluate_topk(table_model, TRAIN, TEST, k=3)
    # u1: train A, B masked -> top-3 C, D, E; hits [0, 1, 0]; |R| = 3 (G counts, unreachable)
    # u2: train A, C masked -> top-3 F, E, D; hits [1, 0, 0]; |R| = 2
    l3 = math.log2(3)
    p = (1 / 3 + 1 / 3) / 2
    r = (1 / 3 + 1 / 2) / 2
    ndcg = ((1 / l3) / (1 + 1 / l3 + 1 / 2) + 1 / (1 + 1 / l3)) / 2
    ap = ((1 / 2) / 3 + 1 / 2) / 2  # u1: P@2 / min(3,3); u2: P@1 / min(2,3)
    mrr = (1 / 2 + 1) / 2
    assert res["n_users"] == 2
    assert res["precision"] == pytest.approx(p)
    assert res["recall"] == pytest.approx(r)
    assert res["ndcg"] == pytest.approx(ndcg)
    assert res["map"] == pytest.approx(ap)
    assert res["mrr"] == pytest.approx(mrr)
    assert res["hit_rate"] == 1.0
    # recommended items {C, D, E, F} of the 6 the model knows
    assert res["coverage"] == pytest.approx(4 / 6)
    # every recommended item was seen by 1 of 3 training users: -log2(1/3)
    assert res["novelty"] == pytest.approx(math.log2(3))
    assert "diversity" not in res
    assert res["f1"] == pytest.approx((2 * 1 / (3 + 3) + 2 * 1 / (3 + 2)) / 2)  # per user 2|L∩R|/(k+|R|), then mean
    assert set(res) == {"precision", "recall", "f1", "ndcg", "map", "hit_rate", "mrr", "coverage", "novelty", "n_users"}


def test_train_items_are_excluded(table_model):
    # if the masking were missing, u1's list would be A, B, C (A, B are u1's best scores)
    test = pd.DataFrame({"user": ["u1"], "item": ["A"]})
    res = evaluate_topk(table_model, TRAIN, test, k=3)
    assert res["hit_rate"] == 0.0
    rec = table_model.recommend(["u1"], k=3)
    assert rec["item"].tolist() == ["C", "D", "E"]
    # passing an empty-for-u1 train frame unmasks A: now it is a hit at rank 1
    res2 = evaluate_topk(table_model, TRAIN[TRAIN.user != "u1"], test, k=3)
    assert res2["hit_rate"] == 1.0 and res2["mrr"] == 1.0


def test_relevance_threshold(table_model):
    # threshold 4: u1 relevant {D, F, G} (all >= 4), u2 relevant {B} (F rated 2 is not relevant)
    res = evaluate_topk(table_model, TRAIN, TEST, k=3, relevance_threshold=4)
    assert res["n_users"] == 2
    # u2: top F, E, D holds no B -> all zero; u1 as before
    assert res["hit_rate"] == 0.5
    assert res["recall"] == pytest.approx((1 / 3 + 0) / 2)
    # threshold 5: u1 {F, G}: F at rank 6 -> miss; u2 {B}: miss
    res5 = evaluate_topk(table_model, TRAIN, TEST, k=3, relevance_threshold=5)
    assert res5["hit_rate"] == 0.0 and res5["n_users"] == 2
    # a user whose test ratings are all below the threshold is skipped
    test = TEST.assign(rating=[1.0, 1.0, 1.0, 2.0, 5.0])
    assert evaluate_topk(table_model, TRAIN, test, k=3, relevance_threshold=4)["n_users"] == 1
    with pytest.raises(ValueError, match="relevance_threshold"):
        evaluate_topk(table_model, TRAIN, TEST, k=3, relevance_threshold=6)
    with pytest.raises(ValueError, match="relevance_threshold"):
        evaluate_topk(table_model, TRAIN, TEST, k=3, relevance_threshold="high")


def test_k_larger_than_catalogue(table_model):
    res = evaluate_topk(table_model, TRAIN, TEST, k=10)
    # u1: 4 unseen items C, D, E, F -> hits D (rank 2), F (rank 4); precision divides by k = 10
    # u2: 4 unseen items F, E, D, B -> hits F (rank 1), B (rank 4)
    assert res["precision"] == pytest.approx((2 / 10 + 2 / 10) / 2)
    assert res["recall"] == pytest.approx((2 / 3 + 1) / 2)
    assert res["coverage"] == pytest.approx(5 / 6)  # B, C, D, E, F


def test_diversity_with_item_features(table_model):
    feats = pd.DataFrame(
        {"x": [1, 1, 1, 0, 1, 0], "y": [0, 0, 0, 1, 1, 1]}, index=list("ABCDEF"), dtype=float
    )
    res = evaluate_topk(table_model, TRAIN, TEST, k=3, item_features=feats)
    # u1 list C, D, E; u2 list F, E, D -- check against the per-list function
    expected = (M.intra_list_diversity(list("CDE"), feats) + M.intra_list_diversity(list("FED"), feats)) / 2
    assert res["diversity"] == pytest.approx(expected)
    # hand: u1 pairs (C,D)=1, (C,E)=1-1/sqrt2, (D,E)=1-1/sqrt2; u2 (F,E), (F,D)=0, (E,D) -> same minus...
    u1 = (1 + 2 * (1 - 1 / math.sqrt(2))) / 3
    u2 = (2 * (1 - 1 / math.sqrt(2)) + 0) / 3
    assert res["diversity"] == pytest.approx((u1 + u2) / 2)
    with pytest.raises(ValueError, match="no vector"):
        evaluate_topk(table_model, TRAIN, TEST, k=3, item_features=feats.drop(index="A"))


def _synthetic(seed=0, n_users=40, n_items=60, n=700):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user": rng.integers(0, n_users, n),
            "item": rng.integers(0, n_items, n) * 10,
            "rating": rng.integers(1, 6, n).astype(float),
        }
    ).drop_duplicates(["user", "item"])
    test_mask = rng.random(len(frame)) < 0.25
    train, test = frame[~test_mask], frame[test_mask]
    # a cold user and a cold item in the test set
    test = pd.concat([test, pd.DataFrame({"user": [999, 999, 1], "item": [0, 10, 12345], "rating": [5.0, 4.0, 3.0]})])
    return train, test


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evaluate_topk_agrees_with_per_user_metrics(seed):
    train, test = _synthetic(seed)
    model = RandomScores(seed=seed).fit(train)
    k = 5
    feats = pd.DataFrame(
        np.random.default_rng(seed).random((model.n_items_, 4)), index=model.item_ids_
    )
    res = evaluate_topk(model, train, test, k=k, item_features=feats, batch_size=7)
    users = pd.unique(test["user"])
    # recommend() masks the model's own training interactions, the same frame here;
    # the cold user (999) gets the fallback scores and no mask
    rec = model.recommend(users, k=k)
    lists = {u: g.sort_values("rank")["item"].tolist() for u, g in rec.groupby("user")}
    per_user = {name: [] for name in M.RANKING_METRICS}
    fns = dict(
        precision=M.precision_at_k, recall=M.recall_at_k, f1=M.f1_at_k, ndcg=M.ndcg_at_k,
        map=M.average_precision_at_k, hit_rate=M.hit_at_k, mrr=M.reciprocal_rank_at_k,
    )
    for u in users:
        relevant = set(test.loc[test.user == u, "item"])
        for name, fn in fns.items():
            per_user[name].append(fn(lists[u], relevant, k))
    assert res["n_users"] == len(users)
    for name in M.RANKING_METRICS:
        assert res[name] == pytest.approx(np.mean(per_user[name]), rel=1e-12)
    all_lists = [lists[u] for u in users]
    assert res["coverage"] == pytest.approx(M.coverage(all_lists, model.n_items_))
    pop = train.drop_duplicates(["user", "item"]).groupby("item")["user"].nunique()
    assert res["novelty"] == pytest.approx(M.novelty(all_lists, pop, train["user"].nunique()))
    assert res["diversity"] == pytest.approx(np.mean([M.intra_list_diversity(x, feats) for x in all_lists]))
    # batch size does not matter
    res_big = evaluate_topk(model, train, test, k=k, item_features=feats, batch_size=1024)
    for key in res:
        assert res_big[key] == pytest.approx(res[key], rel=1e-12)


def test_progress_bar_runs(table_model, capsys):
    res = evaluate_topk(table_model, TRAIN, TEST, k=3, show_progress=True)
    assert res["n_users"] == 2


def test_evaluate_topk_errors(table_model):
    with pytest.raises(TypeError, match="Recommender"):
        evaluate_topk(object(), TRAIN, TEST)
    with pytest.raises(NotFittedError, match="not fitted"):
        evaluate_topk(TableModel(SCORES), TRAIN, TEST)
    with pytest.raises(ValueError, match="k must be"):
        evaluate_topk(table_model, TRAIN, TEST, k=0)
    with pytest.raises(ValueError, match="batch_size"):
        evaluate_topk(table_model, TRAIN, TEST, batch_size=0)
    with pytest.raises(ValueError, match="test is empty"):
        evaluate_topk(table_model, TRAIN, TEST.iloc[:0])
    with pytest.raises(ValueError, match="missing column"):
        evaluate_topk(table_model, TRAIN, TEST.drop(columns="item"))
    with pytest.raises(TypeError, match="DataFrame"):
        evaluate_topk(table_model, TRAIN, [("u1", "A")])


# ------------------------------------------------------------------ sampled
def test_sampled_protocol_hand_computed(table_model):
    # with n_negatives >= the candidates, every candidate is used (no randomness):
    # u1 candidates {C, E} (A, B train; D, F test): D (6) beats E (5), loses to C (7) -> rank 2;
    #   F (4) -> rank 3; G is unknown to the model and skipped.
    # u2 candidates {D, E}: F (9) -> rank 1; B (5) -> rank 3.
    res = evaluate_topk_sampled(table_model, TRAIN, TEST, k=2, n_negatives=50, seed=0)
    assert res["n_interactions"] == 4
    assert res["hit_rate"] == pytest.approx(2 / 4)
    assert res["ndcg"] == pytest.approx((1 / math.log2(3) + 1.0) / 4)


def test_sampled_is_deterministic_and_inflated():
    train, test = _synthetic(0, n_users=60, n_items=200, n=2500)
    model = RandomScores(seed=3).fit(train)
    a = evaluate_topk_sampled(model, train, test, k=5, n_negatives=20, seed=1)
    b = evaluate_topk_sampled(model, train, test, k=5, n_negatives=20, seed=1)
    assert a == b
    for key in ("hit_rate", "ndcg"):
        assert 0 <= a[key] <= 1
    # random scores: HR@5 among 21 candidates is about 5/21, far above full ranking
    assert a["hit_rate"] == pytest.approx(5 / 21, abs=0.05)
    full = evaluate_topk(model, train, test, k=5)
    assert a["hit_rate"] > full["precision"]
    with pytest.raises(ValueError, match="n_negatives"):
        evaluate_topk_sampled(model, train, test, n_negatives=0)


# ------------------------------------------------------------------ ratings
def test_evaluate_ratings():
    train = pd.DataFrame({"user": [1, 1, 2], "item": [10, 20, 10], "rating": [4.0, 2.0, 2.0]})
    model = ItemMeanModel().fit(train)  # item 10 -> 3, item 20 -> 2, unknown -> mu = 8/3
    test = pd.DataFrame({"user": [1, 2, 3], "item": [10, 20, 30], "rating": [5.0, 2.0, 3.0]})
    # errors -2, 0, -1/3
    res = evaluate_ratings(model, test)
    assert res["rmse"] == pytest.approx(math.sqrt((4 + 0 + 1 / 9) / 3))
    assert res["mae"] == pytest.approx((2 + 0 + 1 / 3) / 3)
    assert list(evaluate_ratings(model, test, metrics=["mae"])) == ["mae"]
    with pytest.raises(ValueError, match="metrics"):
        evaluate_ratings(model, test, metrics=["auc"])
    with pytest.raises(ValueError, match="rating"):
        evaluate_ratings(model, test.drop(columns="rating"))


# ---------------------------------------------------------- cross-validation
def _folds():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"user": rng.integers(0, 20, 300), "item": rng.integers(0, 30, 300), "rating": rng.integers(1, 6, 300).astype(float)}
    )
    idx = np.arange(len(frame))
    parts = np.array_split(idx, 3)
    return [(frame.drop(index=p), frame.iloc[p]) for p in parts]


def test_cross_validate_ratings_clones_the_estimator():
    folds = _folds()
    est = ItemMeanModel()
    per_fold, summary = cross_validate(est, folds)
    assert not hasattr(est, "user_ids_")  # the original stays unfitted
    assert list(per_fold.columns) == ["rmse", "mae"]
    assert per_fold.index.tolist() == [1, 2, 3]
    for f, (train, test) in enumerate(folds, start=1):
        direct = evaluate_ratings(ItemMeanModel().fit(train), test)
        assert per_fold.loc[f, "rmse"] == pytest.approx(direct["rmse"])
    assert summary.loc["mean", "rmse"] == pytest.approx(per_fold["rmse"].mean())
    assert summary.loc["std", "mae"] == pytest.approx(np.std(per_fold["mae"].to_numpy()))


def test_cross_validate_topk_factory_and_times():
    folds = _folds()
    per_fold, summary = cross_validate(lambda: RandomScores(seed=1), folds, task="both", k=3, return_times=True)
    assert {"rmse", "precision", "ndcg", "coverage", "n_users", "fit_time", "test_time"} <= set(per_fold.columns)
    assert list(summary.index) == ["mean", "std"]
    with pytest.raises(ValueError, match="task"):
        cross_validate(ItemMeanModel(), folds, task="accuracy")
    with pytest.raises(TypeError):
        cross_validate(3, folds)
    with pytest.raises(ValueError, match="empty"):
        cross_validate(ItemMeanModel(), [])
    with pytest.raises(TypeError, match="factory"):
        cross_validate(lambda: 3, folds)


class ConstantScores(Recommender):
    """Every item gets the same score: the positive item ties with all its negatives."""

    _rating_model = False

    def _fit(self, u, i, r):
        pass

    def _predict_idx(self, u, i):
        return np.zeros(len(u))


def test_sampled_protocol_counts_ties_against_the_positive_item():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"user": np.repeat(np.arange(5), 3), "item": rng.permutation(200)[:15]})
    test = pd.DataFrame({"user": np.arange(5), "item": 500 + np.arange(5)})
    catalogue = pd.DataFrame({"user": [99] * 200, "item": np.arange(200)})
    both = pd.concat([train, catalogue, pd.DataFrame({"user": [98] * 5, "item": 500 + np.arange(5)})])
    model = ConstantScores().fit(both)
    res = evaluate_topk_sampled(model, both, test, k=10, n_negatives=50, seed=0)
    # rank = 1 + |{j : s_j >= s_pos}| = 51 > 10: no hit, although every score is equal
    assert res["hit_rate"] == 0.0 and res["ndcg"] == 0.0


def test_pareto_front_against_brute_force():
    from recbook.evaluate import pareto_front

    rng = np.random.default_rng(0)
    cost, quality = rng.integers(0, 20, 200).astype(float), rng.integers(0, 20, 200) / 20
    front = pareto_front(cost, quality)
    for i in range(len(cost)):
        dominated = any(cost[j] <= cost[i] and quality[j] >= quality[i] and (cost[j], quality[j]) != (cost[i], quality[i])
                        for j in range(len(cost)))
        assert front[i] == (not dominated)
    assert front[np.argmin(cost + 1e-3 * -quality)]  # the cheapest (best among the cheapest) is on the front
    with pytest.raises(ValueError, match="one length"):
        pareto_front([1, 2], [0.1])
    with pytest.raises(ValueError, match="finite"):
        pareto_front([1, np.nan], [0.1, 0.2])
    with pytest.raises(ValueError, match="no variants"):
        pareto_front([], [])
