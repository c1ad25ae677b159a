from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recbook import baselines
from recbook.base import NotFittedError, Recommender, top_k
from tests.conftest import requires_ml100k

RATING_MODELS = [
    baselines.GlobalMean,
    baselines.UserMean,
    baselines.ItemMean,
    baselines.BaselineOnly,
    baselines.NormalPredictor,
]
ALL_MODELS = RATING_MODELS + [baselines.Popularity, baselines.RandomRecommender]


def test_means_by_hand(tiny):
    mu = tiny.rating.mean()
    assert baselines.GlobalMean().fit(tiny).predict([1], [99])[0] == pytest.approx(mu)
    assert baselines.UserMean().fit(tiny).predict([1, 2, 7], [10, 10, 10]).tolist() == pytest.approx([4.0, 3.0, mu])
    assert baselines.ItemMean().fit(tiny).predict([1, 1], [10, 99]).tolist() == pytest.approx([13 / 3, mu])


def test_baseline_als_one_epoch_by_hand(tiny):
    m = baselines.BaselineOnly(n_epochs=1, reg_i=1.0, reg_u=2.0).fit(tiny)
    mu = tiny.rating.mean()
    # items first from b_u = 0: b_i = sum(r - mu) / (reg_i + |U_i|)
    bi_10 = (5 + 4 + 4 - 3 * mu) / (1 + 3)
    assert m.bi_[m.item_index([10])[0]] == pytest.approx(bi_10)
    # then users with the new item biases
    bi = {it: m.bi_[m.item_index([it])[0]] for it in (10, 20, 30)}
    bu_1 = ((5 - mu - bi[10]) + (3 - mu - bi[20]) + (4 - mu - bi[30])) / (2 + 3)
    assert m.bu_[m.user_index([1])[0]] == pytest.approx(bu_1)
    # unknown user: mu + b_i; unknown item: mu + b_u; both: mu
    assert m.predict([99], [10])[0] == pytest.approx(mu + bi_10)
    assert m.predict([1], [99])[0] == pytest.approx(mu + bu_1)
    assert m.predict([99], [99])[0] == pytest.approx(mu)


@pytest.mark.parametrize("cls", RATING_MODELS)
def test_rating_models_clip_and_shape(cls, random_frame):
    m = cls().fit(random_frame)
    p = m.predict(random_frame.user, random_frame.item)
    assert p.shape == (len(random_frame),)
    assert p.min() >= 1 and p.max() <= 5


@pytest.mark.parametrize("cls", ALL_MODELS)
def test_recommend_shape_and_exclusion(cls, random_frame):
    m = cls().fit(random_frame)
    users = [0, 1, 2, 12345]  # the last is unknown: fallback scores, no crash
    rec = m.recommend(users, k=5)
    assert list(rec.columns) == ["user", "item", "score", "rank"]
    assert (rec.groupby("user").size() == 5).all()
    seen = set(zip(random_frame.user, random_frame.item))
    assert not any((u, i) in seen for u, i in zip(rec.user, rec.item))
    # scores are sorted within each user and agree with predict()
    for _, g in rec.groupby("user"):
        assert np.all(np.diff(g.score.to_numpy()) <= 0)
        assert g["rank"].tolist() == [1, 2, 3, 4, 5]
    if cls is not baselines.NormalPredictor:  # NormalPredictor draws a fresh sequence per call
        known = rec[rec.user != 12345]
        assert np.allclose(m.predict(known.user, known.item), np.clip(known.score, *m.rating_scale_) if m._predicts_ratings() else known.score)


@pytest.mark.parametrize("cls", ALL_MODELS)
def test_deterministic(cls, random_frame):
    a = cls().fit(random_frame).predict(random_frame.user[:50], random_frame.item[:50])
    b = cls().fit(random_frame).predict(random_frame.user[:50], random_frame.item[:50])
    assert np.array_equal(a, b)


def test_popularity_ranks_by_count(tiny):
    rec = baselines.Popularity().fit(tiny).recommend([99], k=2)
    assert rec.item.tolist() == [10, 20]  # 10 has three ratings, 20 and 30 two (tie -> first seen)
    assert rec.score.tolist() == [3.0, 2.0]


def test_random_recommender_seeded(random_frame):
    a = baselines.RandomRecommender(seed=1).fit(random_frame).recommend([0, 1], k=10)
    b = baselines.RandomRecommender(seed=1).fit(random_frame).recommend([0, 1], k=10)
    c = baselines.RandomRecommender(seed=2).fit(random_frame).recommend([0, 1], k=10)
    assert a.equals(b) and not a.item.equals(c.item)


def test_normal_predictor_moments(random_frame):
    m = baselines.NormalPredictor(seed=0).fit(random_frame)
    draws = m._predict_idx(np.zeros(20000, dtype=int), np.zeros(20000, dtype=int))
    assert draws.mean() == pytest.approx(random_frame.rating.mean(), abs=0.05)
    assert draws.std() == pytest.approx(random_frame.rating.std(ddof=0), abs=0.05)


@pytest.mark.parametrize(
    "frame, exc, match",
    [
        ([1, 2, 3], TypeError, "DataFrame"),
        (pd.DataFrame({"user": [1], "rating": [3.0]}), ValueError, "item"),
        (pd.DataFrame({"user": [], "item": [], "rating": []}), ValueError, "empty"),
        (pd.DataFrame({"user": [1, 2], "item": [1, 2], "rating": [3.0, np.nan]}), ValueError, "NaN"),
        (pd.DataFrame({"user": [1, None], "item": [1, 2], "rating": [3.0, 4.0]}), ValueError, "missing"),
        (pd.DataFrame({"user": [1], "item": [1], "rating": ["good"]}), ValueError, "numeric"),
    ],
)
def test_fit_bad_input(frame, exc, match):
    with pytest.raises(exc, match=match):
        baselines.BaselineOnly().fit(frame)


def test_bad_hyperparameters(tiny):
    with pytest.raises(ValueError, match="method"):
        baselines.BaselineOnly(method="adam").fit(tiny)
    with pytest.raises(ValueError, match="n_epochs"):
        baselines.BaselineOnly(n_epochs=0).fit(tiny)
    with pytest.raises(ValueError, match="reg_u"):
        baselines.BaselineOnly(reg_u=-1).fit(tiny)


def test_predict_and_recommend_errors(tiny):
    m = baselines.GlobalMean()
    with pytest.raises(NotFittedError, match="not fitted"):
        m.predict([1], [10])
    m.fit(tiny)
    with pytest.raises(ValueError, match="same length"):
        m.predict([1, 2], [10])
    with pytest.raises(ValueError, match="k must"):
        m.recommend([1], k=0)
    with pytest.raises(ValueError, match="one-dimensional"):
        m.predict([[1]], [[10]])


def test_implicit_frame_without_rating():
    frame = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"]})
    rec = baselines.Popularity().fit(frame).recommend(["b"], k=1)
    assert rec.item.tolist() == ["y"]


def test_top_k_ties_and_masking():
    scores = np.array([[1.0, 3.0, 3.0, -np.inf, 2.0]])
    assert top_k(scores, 3).tolist() == [[1, 2, 4]]
    assert top_k(scores, 10).tolist() == [[1, 2, 4, 0, 3]]


def test_base_is_abstract(tiny):
    with pytest.raises(NotImplementedError):
        Recommender().fit(tiny)


@requires_ml100k
@pytest.mark.parametrize("method", ["als", "sgd"])
def test_baseline_only_matches_surprise_on_u1(method):
    surprise = pytest.importorskip("surprise")
    from recbook.datasets import ml100k_folds

    train, test = ml100k_folds()[0]
    ours = baselines.BaselineOnly(method=method).fit(train).predict(test.user, test.item)
    data = surprise.Dataset.load_from_df(train[["user", "item", "rating"]], surprise.Reader(rating_scale=(1, 5)))
    algo = surprise.BaselineOnly(bsl_options={"method": method}, verbose=False).fit(data.build_full_trainset())
    theirs = np.array([algo.predict(u, i).est for u, i in zip(test.user, test.item)])
    assert np.abs(ours - theirs).max() <= 1e-9


# ------------------------------------------------------- demographic popularity
@pytest.fixture
def groups_frame():
    train = pd.DataFrame(
        {
            "user": [1, 1, 2, 3, 3, 4, 4, 4, 5],
            "item": ["a", "b", "a", "c", "b", "c", "b", "b", "c"],  # user 4 has b twice: counts once
        }
    )
    users = pd.DataFrame({"sex": ["F", "F", "M", "M", None], "age": [20, 30, 20, 30, 40]}, index=[1, 2, 3, 4, 5])
    return train, users


def test_demographic_popularity_by_hand(groups_frame):
    train, users = groups_frame
    m = baselines.DemographicPopularity(users, by="sex").fit(train)
    # group F = users 1, 2: a by both, b by 1 -> shares a 1, b 1/2, c 0
    assert m.predict([1, 1, 1], ["a", "b", "c"]).tolist() == pytest.approx([1.0, 0.5, 0.0])
    # group M = users 3, 4: b and c by both -> 1, 1; a 0
    assert m.predict([3, 3, 3], ["a", "b", "c"]).tolist() == pytest.approx([0.0, 1.0, 1.0])
    # user 5 has no group, user 99 is unknown: the global share over 5 users (a 2/5, b 3/5, c 3/5)
    glob = [2 / 5, 3 / 5, 3 / 5]
    assert m.predict([5, 5, 5], ["a", "b", "c"]).tolist() == pytest.approx(glob)
    assert m.predict([99, 99, 99], ["a", "b", "c"]).tolist() == pytest.approx(glob)
    assert m.predict([1], ["zzz"]).tolist() == [0.0]  # unknown item
    # the score matrix agrees with predict
    users_ = [1, 3, 5, 99]
    grid = m.score_items(users_)
    for row, u in enumerate(users_):
        assert grid[row].tolist() == pytest.approx(m.predict([u] * 3, list(m.item_ids_)).tolist())
    assert m.recommend([2], k=1)["item"].tolist() == ["b"]  # 2 saw a; next best in F is b


def test_demographic_popularity_shrinkage_and_combinations(groups_frame):
    train, users = groups_frame
    lam = 2.0
    m = baselines.DemographicPopularity(users, by="sex", shrinkage=lam).fit(train)
    # F (2 users) on item c: (0 + 2 * 3/5) / (2 + 2)
    assert m.predict([1], ["c"])[0] == pytest.approx((0 + lam * 3 / 5) / (2 + lam))
    # a huge shrinkage ranks like global Popularity
    big = baselines.DemographicPopularity(users, by="sex", shrinkage=1e9).fit(train)
    pop = baselines.Popularity().fit(train.drop_duplicates())
    assert big.recommend([1, 3], k=3, exclude_seen=False)["item"].tolist() == pop.recommend(
        [1, 3], k=3, exclude_seen=False
    )["item"].tolist()
    # two columns: every (sex, age) pair is its own group; user 1 (F, 20) is alone
    two = baselines.DemographicPopularity(users, by=("sex", "age")).fit(train)
    assert two.predict([1, 1, 1], ["a", "b", "c"]).tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert len(two.groups_) == 4


def test_demographic_popularity_errors(groups_frame):
    train, users = groups_frame
    with pytest.raises(TypeError, match="DataFrame"):
        baselines.DemographicPopularity().fit(train)
    with pytest.raises(TypeError, match="column name"):
        baselines.DemographicPopularity(users, by=3).fit(train)
    with pytest.raises(TypeError, match="column name"):
        baselines.DemographicPopularity(users, by=[]).fit(train)
    with pytest.raises(ValueError, match="lacks"):
        baselines.DemographicPopularity(users, by="occupation").fit(train)
    with pytest.raises(ValueError, match="duplicated"):
        baselines.DemographicPopularity(pd.concat([users, users]), by="sex").fit(train)
    with pytest.raises(ValueError, match="shrinkage"):
        baselines.DemographicPopularity(users, by="sex", shrinkage=-1.0).fit(train)


def test_demographic_popularity_clones_with_its_side_data(groups_frame):
    from sklearn.base import clone

    train, users = groups_frame
    m = clone(baselines.DemographicPopularity(users, by="sex", shrinkage=1.0))
    assert m.by == "sex" and m.users.equals(users)
    assert m.fit(train).recommend([1], k=1)["item"].tolist() == ["c"]
