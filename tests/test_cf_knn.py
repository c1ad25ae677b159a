"""Tests for recbook.cf.knn: Surprise agreement, rules, fallbacks, top-K and bad input."""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd
import pytest

from recbook.base import NotFittedError
from sklearn.base import clone

from recbook.baselines import BaselineOnly
from recbook.cf import KNN, ItemKNN, TopNItemKNN, UserKNN
from recbook.cf.knn import RULES, select_neighbours
from tests.conftest import requires_ml100k

SURPRISE_SIMS = ("msd", "cosine", "pearson", "pearson_baseline")


def surprise_predictions(train, test, rule, sim, user_based, k=40, min_k=1, min_support=1, shrinkage=100,
                         rating_scale=None):  # fmt: skip
    """Predictions of Surprise's KNN class for ``rule`` on a (train, test) pair."""
    surprise = pytest.importorskip("surprise")
    cls = {
        "basic": surprise.KNNBasic,
        "with_means": surprise.KNNWithMeans,
        "with_zscore": surprise.KNNWithZScore,
        "baseline": surprise.KNNBaseline,
    }[rule]
    scale = rating_scale or (train["rating"].min(), train["rating"].max())
    data = surprise.Dataset.load_from_df(train[["user", "item", "rating"]], surprise.Reader(rating_scale=scale))
    opts = {"name": sim, "user_based": user_based, "min_support": min_support, "shrinkage": shrinkage}
    algo = cls(k=k, min_k=min_k, sim_options=opts, verbose=False).fit(data.build_full_trainset())
    return np.array([algo.predict(u, i).est for u, i in zip(test["user"], test["item"])])


def small_random(seed=0, n_users=30, n_items=25, n=300):
    """Unique random interactions with whole-star ratings (many exact ties)."""
    rng = np.random.default_rng(seed)
    pairs = rng.choice(n_users * n_items, size=n, replace=False)
    frame = pd.DataFrame(
        {"user": 100 + pairs // n_items, "item": 5000 + pairs % n_items,
         "rating": rng.integers(1, 6, size=n).astype(float)}
    )  # fmt: skip
    return frame.iloc[:250].reset_index(drop=True), frame.iloc[250:].reset_index(drop=True)


# ---------------------------------------------------------- Surprise agreement
@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("sim", SURPRISE_SIMS)
@pytest.mark.parametrize("user_based", [True, False])
def test_agrees_with_surprise_on_random_data(rule, sim, user_based):
    train, test = small_random(seed=3)
    test = pd.concat([test, pd.DataFrame({"user": [1, 100, 1], "item": [5000, 9, 9], "rating": 3.0})])
    ref = surprise_predictions(train, test, rule, sim, user_based, k=5, min_k=2)
    got = KNN(k=5, min_k=2, sim=sim, user_based=user_based, rule=rule).fit(train).predict(test.user, test.item)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def u1_subset():
    from recbook.datasets import ml100k_folds

    train, test = ml100k_folds()[0]
    train = train[train.user <= 200].reset_index(drop=True)
    test = test[test.user <= 200].reset_index(drop=True)
    # a few cold-start pairs: unknown user, unknown item
    extra = pd.DataFrame({"user": [9999, 1, 9999], "item": [1, 99999, 99999], "rating": [3.0, 3.0, 3.0]})
    return train, pd.concat([test.iloc[:2500], extra], ignore_index=True)


@requires_ml100k
@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("sim", SURPRISE_SIMS)
@pytest.mark.parametrize("user_based", [True, False])
def test_agrees_with_surprise_on_ml100k_subset(u1_subset, rule, sim, user_based):
    train, test = u1_subset
    ref = surprise_predictions(train, test, rule, sim, user_based, rating_scale=(1, 5))
    got = KNN(sim=sim, user_based=user_based, rule=rule).fit(train).predict(test.user, test.item)
    assert np.max(np.abs(got - ref)) <= 1e-9


@requires_ml100k
@pytest.mark.parametrize(
    "params",
    [
        dict(rule="basic", sim="msd", user_based=True, k=5, min_k=3, min_support=3),
        dict(rule="with_means", sim="pearson", user_based=False, k=10, min_k=5, min_support=5),
        dict(rule="with_zscore", sim="cosine", user_based=True, k=1, min_k=1, min_support=10),
        dict(rule="baseline", sim="pearson_baseline", user_based=False, k=20, min_k=2, shrinkage=10),
        dict(rule="baseline", sim="msd", user_based=True, k=40, min_k=40),
        dict(rule="with_means", sim="msd", user_based=True, k=3, min_k=0),
    ],
)
def test_agrees_with_surprise_non_default(u1_subset, params):
    train, test = u1_subset
    test = test.iloc[:1500]
    ref = surprise_predictions(train, test, rating_scale=(1, 5), **params)
    got = KNN(**params).fit(train).predict(test.user, test.item)
    assert np.max(np.abs(got - ref)) <= 1e-9


# ------------------------------------------------------------- neighbour choice
def test_select_neighbours_matches_heapq_nlargest():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 15))
        k = int(rng.integers(1, 8))
        row = rng.integers(-2, 3, size=n) / 2.0  # many ties, some non-positive
        chosen = select_neighbours(row[None, :], k)[0]
        ref = heapq.nlargest(k, range(n), key=lambda j: row[j])
        assert set(np.flatnonzero(chosen)) == set(ref)


def test_hand_computed_user_based_prediction():
    # user 1's neighbours for item 10 are users 2 and 3 (in that order)
    train = pd.DataFrame(
        {"user": [1, 1, 2, 2, 3, 3, 3], "item": [20, 30, 20, 10, 30, 10, 20],
         "rating": [4.0, 2.0, 5.0, 3.0, 2.0, 5.0, 3.0]}
    )  # fmt: skip
    model = KNN(sim="msd", rule="basic").fit(train)
    s12 = 1 / ((4 - 5) ** 2 + 1)  # common item 20
    s13 = 1 / (((2 - 2) ** 2 + (4 - 3) ** 2) / 2 + 1)  # common items 20, 30
    assert model.sim_[0, 1] == pytest.approx(s12)
    expected = (s12 * 3 + s13 * 5) / (s12 + s13)
    assert model.predict([1], [10])[0] == pytest.approx(expected)
    # k=1 keeps only the most similar neighbour (user 3)
    assert KNN(k=1).fit(train).predict([1], [10])[0] == pytest.approx(5.0)
    # with_means: mu_1 + weighted mean of the neighbours' deviations
    m = {1: 3.0, 2: 4.0, 3: 10 / 3}
    wm = KNN(rule="with_means").fit(train).predict([1], [10])[0]
    assert wm == pytest.approx(m[1] + (s12 * (3 - m[2]) + s13 * (5 - m[3])) / (s12 + s13))


def test_only_positive_similarities_are_aggregated():
    # pearson: user 2 is perfectly anti-correlated with user 1 and must be ignored
    train = pd.DataFrame(
        {"user": [1, 1, 2, 2, 2, 3, 3, 3], "item": [20, 30, 20, 30, 10, 20, 30, 10],
         "rating": [1.0, 5.0, 5.0, 1.0, 1.0, 2.0, 4.0, 4.0]}
    )  # fmt: skip
    model = KNN(sim="pearson").fit(train)
    assert model.sim_[0, 1] == pytest.approx(-1.0)
    assert model.predict([1], [10])[0] == pytest.approx(4.0)


# --------------------------------------------------------------- fallbacks
def test_too_few_neighbours(tiny):
    mu = tiny.rating.mean()
    # item 50's only rater (user 3) shares no item with user 2: no positive neighbour
    basic = KNN(min_k=2, k=5).fit(tiny)
    assert basic.predict([2], [50])[0] == pytest.approx(mu)
    means = KNN(min_k=2, k=5, rule="with_means").fit(tiny)
    assert means.predict([2], [50])[0] == pytest.approx(3.0)  # user 2's mean (4 + 2) / 2
    # min_k=0 and no positive neighbour: Surprise divides by zero for KNNBasic; recbook falls back
    assert KNN(min_k=0).fit(tiny).predict([2], [50])[0] == pytest.approx(mu)
    assert KNN(min_k=0, rule="with_means").fit(tiny).predict([2], [50])[0] == pytest.approx(3.0)
    bsl = KNN(min_k=2, k=5, rule="baseline").fit(tiny)
    b = BaselineOnly().fit(tiny)
    assert bsl.predict([2], [50])[0] == pytest.approx(b.predict([2], [50])[0])


@pytest.mark.parametrize("rule", ["basic", "with_means", "with_zscore"])
def test_unknown_ids_fall_back_to_global_mean(tiny, rule):
    model = KNN(rule=rule).fit(tiny)
    mu = tiny.rating.mean()
    np.testing.assert_allclose(model.predict([99, 1, 99], [10, 99, 99]), [mu, mu, mu])


def test_baseline_rule_unknown_ids_use_known_biases(tiny):
    model = KNN(rule="baseline").fit(tiny)
    bl = BaselineOnly().fit(tiny)
    users, items = [99, 1, 99], [10, 99, 99]
    np.testing.assert_allclose(model.predict(users, items), bl.predict(users, items), atol=1e-12)
    assert model.predict([99], [10])[0] != pytest.approx(tiny.rating.mean())


def test_predictions_are_clipped(tiny):
    model = KNN(rule="with_zscore", sim="cosine").fit(tiny)
    users = np.repeat(tiny.user.unique(), tiny.item.nunique())
    items = np.tile(tiny.item.unique(), tiny.user.nunique())
    pred = model.predict(users, items)
    assert pred.min() >= 1.0 and pred.max() <= 5.0


def test_duplicated_pairs_keep_last_rating(tiny):
    dup = pd.concat([tiny, pd.DataFrame({"user": [1], "item": [10], "rating": [1.0], "timestamp": [10]})])
    a = KNN(rule="with_means").fit(dup)
    b = KNN(rule="with_means").fit(pd.concat([tiny.iloc[1:], dup.iloc[-1:]]))
    assert a.means_[0] == pytest.approx((1.0 + 3.0 + 4.0) / 3)
    users = np.repeat(tiny.user.unique(), tiny.item.nunique())
    items = np.tile(tiny.item.unique(), tiny.user.nunique())
    np.testing.assert_allclose(a.predict(users, items), b.predict(users, items), atol=1e-12)


# ------------------------------------------------------------------- top-K
@pytest.mark.parametrize("user_based", [True, False])
@pytest.mark.parametrize("rule", list(RULES))
def test_score_items_matches_predict(random_frame, user_based, rule):
    model = KNN(k=7, min_k=2, user_based=user_based, rule=rule, sim="pearson").fit(random_frame)
    users = np.array([model.user_ids_[0], model.user_ids_[5], -42])  # -42 is unknown
    scores = model.score_items(users)
    assert scores.shape == (3, model.n_items_)
    uu = np.repeat(model.user_index(users), model.n_items_)
    ii = np.tile(np.arange(model.n_items_), 3)
    grid = model._predict_idx(uu, ii).reshape(3, -1)
    np.testing.assert_allclose(scores, grid, atol=1e-12)


def test_recommend_and_evaluate_topk(random_frame):
    from recbook.evaluate import evaluate_topk

    train, test = random_frame.iloc[:500], random_frame.iloc[500:]
    model = ItemKNN(k=10).fit(train)
    rec = model.recommend(k=5)
    assert list(rec.columns) == ["user", "item", "score", "rank"]
    seen = set(zip(train.user, train.item))
    assert not any((u, i) in seen for u, i in zip(rec.user, rec.item))
    res = evaluate_topk(model, train, test, k=5)
    assert 0.0 <= res["precision"] <= 1.0 and res["n_users"] > 0


# ---------------------------------------------------------------- API shape
def test_shorthands_and_clone(tiny):
    assert UserKNN().user_based is True and ItemKNN().user_based is False
    item = ItemKNN(k=3, sim="cosine").fit(tiny)
    assert item.sim_.shape == (tiny.item.nunique(),) * 2
    np.testing.assert_array_equal(
        item.predict([1, 2], [20, 30]), KNN(k=3, sim="cosine", user_based=False).fit(tiny).predict([1, 2], [20, 30])
    )
    c = clone(ItemKNN(k=7))
    assert c.k == 7 and c.user_based is False
    assert "user_based" not in ItemKNN().get_params()


@pytest.mark.parametrize("sim", ["jaccard", "adjusted_cosine"])
def test_recbook_extra_similarities(tiny, sim):
    model = ItemKNN(sim=sim).fit(tiny)
    pred = model.predict(tiny.user, tiny.item)
    assert np.all(np.isfinite(pred)) and pred.min() >= 1 and pred.max() <= 5


def test_nearest_neighbors(random_frame):
    model = ItemKNN().fit(random_frame)
    item = model.item_ids_[0]
    nn = model.nearest_neighbors(item, n=5)
    assert list(nn.columns) == ["neighbor", "similarity"] and len(nn) == 5
    assert item not in set(nn.neighbor)
    assert np.all(np.diff(nn.similarity.to_numpy()) <= 0)
    row = model.sim_[0, 1:]
    assert nn.similarity.iloc[0] == pytest.approx(row.max())
    with pytest.raises(ValueError, match="entity"):
        model.nearest_neighbors("no such item")


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(k=0), ValueError, "k must be a positive integer"),
        (dict(k=-3), ValueError, "k must be a positive integer"),
        (dict(k=2.5), TypeError, "k must be a positive integer"),
        (dict(min_k=-1), ValueError, "min_k must be a non-negative integer"),
        (dict(k=5, min_k=6), ValueError, "min_k=6 exceeds k=5"),
        (dict(sim="euclid"), ValueError, "sim must be one of"),
        (dict(sim="MSD"), ValueError, "sim must be one of"),
        (dict(rule="median"), ValueError, "rule must be one of"),
        (dict(user_based="yes"), TypeError, "user_based must be True or False"),
        (dict(min_support=-1), ValueError, "min_support must be a non-negative integer"),
        (dict(shrinkage=-5), ValueError, "shrinkage must be a finite number >= 0"),
    ],
)
def test_bad_parameters(tiny, params, error, match):
    model = KNN(**params)  # constructing never validates
    with pytest.raises(error, match=match):
        model.fit(tiny)


def test_bad_training_data(tiny):
    with pytest.raises(ValueError, match="empty"):
        KNN().fit(tiny.iloc[:0])
    bad = tiny.copy()
    bad.loc[0, "rating"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KNN().fit(bad)
    with pytest.raises(TypeError, match="DataFrame"):
        KNN().fit(tiny.to_numpy())


def test_predict_before_fit_and_length_mismatch(tiny):
    with pytest.raises(NotFittedError, match="not fitted"):
        KNN().predict([1], [10])
    with pytest.raises(ValueError, match="same length"):
        KNN().fit(tiny).predict([1, 2], [10])


# ------------------------------------------------------ TopNItemKNN (sum of similarities)
def test_topn_hand_computed_jaccard_scores(tiny):
    # raters: item 10 {1, 2, 4}, 20 {1, 3}, 30 {1, 3}, 40 {2}, 50 {3}
    model = TopNItemKNN(sim="jaccard").fit(tiny)
    # user 1 rated 10, 20, 30: s(40) = J(40,10) = 1/3; s(50) = J(50,20) + J(50,30) = 1/2 + 1/2
    np.testing.assert_allclose(model.predict([1, 1], [40, 50]), [1 / 3, 1.0])
    # a rated item is scored by the user's *other* items: s(10) = J(10,20) + J(10,30) = 1/4 + 1/4
    assert model.predict([1], [10])[0] == pytest.approx(0.5)
    # k=1 keeps the single most similar of the user's items
    np.testing.assert_allclose(TopNItemKNN(k=1).fit(tiny).predict([1, 1], [40, 50]), [1 / 3, 0.5])
    rec = model.recommend([1], k=2)
    assert list(rec["item"]) == [50, 40] and list(rec["rank"]) == [1, 2]


def test_topn_unknown_ids(tiny):
    model = TopNItemKNN().fit(tiny)
    # unknown user: popularity (number of training users); unknown item: 0
    np.testing.assert_allclose(model.predict([99, 99, 1], [10, 50, 99]), [3.0, 1.0, 0.0])
    np.testing.assert_allclose(model.score_items([99])[0], model.popularity_)
    assert model.predict([1], [40])[0] < 5  # ranking scores are not ratings...
    assert TopNItemKNN().fit(tiny.assign(rating=100.0)).predict([1], [50])[0] == pytest.approx(1.0)  # ...nor clipped


@pytest.mark.parametrize("k", [None, 3])
def test_topn_matches_a_brute_force_sum_of_positive_similarities(random_frame, k):
    model = TopNItemKNN(k=k, sim="pearson").fit(random_frame)
    assert (model.sim_ < 0).any()  # negative similarities exist and must be ignored
    S = model.sim_
    for user in model.user_ids_[:6]:
        u = model.user_index([user])[0]
        items = np.flatnonzero(model.train_[u].toarray().ravel() != 0)  # internal order
        expected = np.empty(model.n_items_)
        for i in range(model.n_items_):
            others = items[items != i]
            sims = S[i, others]
            if k is not None:
                sims = sims[np.argsort(-sims, kind="stable")[:k]]
            expected[i] = sims[sims > 0].sum()
        np.testing.assert_allclose(model.score_items([user])[0], expected, atol=1e-12)


@pytest.mark.parametrize("k", [None, 4])
@pytest.mark.parametrize("sim", ["jaccard", "pearson_baseline", "msd"])
def test_topn_score_items_matches_predict(random_frame, k, sim):
    model = TopNItemKNN(k=k, sim=sim).fit(random_frame)
    users = np.array([model.user_ids_[0], model.user_ids_[7], -42])
    scores = model.score_items(users)
    grid = model.predict(np.repeat(users, model.n_items_), np.tile(model.item_ids_, 3)).reshape(3, -1)
    np.testing.assert_allclose(scores, grid, atol=1e-12)
    assert np.all(np.diag(model.sim_) == 0)


def test_topn_recommends_within_a_taste_group_and_clones():
    # two groups of users with disjoint items: co-occurrence only links items of the same group
    rng = np.random.default_rng(0)
    rows = [(u, 100 + (u % 2) * 10 + j, 4.0) for u in range(40) for j in rng.choice(10, size=5, replace=False)]
    train = pd.DataFrame(rows, columns=["user", "item", "rating"])
    rec = TopNItemKNN().fit(train).recommend(k=3)
    group_of_item = (rec["item"] - 100) // 10
    assert (group_of_item == rec["user"] % 2).all() and (rec["score"] > 0).all()
    c = clone(TopNItemKNN(k=5, sim="msd"))
    assert c.get_params() == {"k": 5, "sim": "msd", "min_support": 1, "shrinkage": 100}


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(k=0), ValueError, "k must be a positive integer"),
        (dict(k=2.5), TypeError, "k must be a positive integer or None"),
        (dict(sim=3), TypeError, "sim must be one of"),
        (dict(sim="euclid"), ValueError, "sim must be one of"),
        (dict(min_support=-1), ValueError, "min_support must be a non-negative integer"),
        (dict(shrinkage=-5), ValueError, "shrinkage must be a finite number >= 0"),
    ],
)
def test_topn_bad_parameters(tiny, params, error, match):
    with pytest.raises(error, match=match):
        TopNItemKNN(**params).fit(tiny)
