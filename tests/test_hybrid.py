"""Tests of recbook.hybrid: every strategy on small frames, built from baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recbook.base import NotFittedError
from sklearn.base import clone
from sklearn.linear_model import LinearRegression

from recbook.baselines import BaselineOnly, GlobalMean, ItemMean, Popularity, UserMean
from recbook.hybrid import (
    AdaptiveHybrid,
    CascadeHybrid,
    FeatureCombination,
    MixedHybrid,
    MMRReranker,
    StackingHybrid,
    SwitchingHybrid,
    WeightedHybrid,
    explain_hybrid,
    interleave,
    mmr_rerank,
    normalize_scores,
)
from recbook.evaluate import get_protocol
from recbook.split import random_split


#: A small training frame for the bad-parameter tests: parameters are checked when fit starts.
_TINY = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [10, 20, 10, 30, 20], "rating": [4.0, 3.0, 5.0, 2.0, 1.0]})


def _rmse(model, test: pd.DataFrame) -> float:
    pred = model.predict(test["user"].to_numpy(), test["item"].to_numpy())
    return float(np.sqrt(np.mean((pred - test["rating"].to_numpy()) ** 2)))


@pytest.fixture(scope="module")
def additive() -> tuple[pd.DataFrame, pd.DataFrame]:
    """r = 3 + b_u + b_i + noise, with heavy and light users and items.

    UserMean captures only b_u and ItemMean only b_i: complementary components.
    """
    rng = np.random.default_rng(0)
    n_users, n_items = 120, 150
    b_u = rng.normal(0, 0.8, n_users)
    b_i = rng.normal(0, 0.8, n_items)
    act = rng.lognormal(0, 1.0, n_users)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    p = np.outer(act, pop).ravel()
    p /= p.sum()
    pairs = rng.choice(n_users * n_items, size=5000, replace=False, p=p)
    u, i = np.divmod(pairs, n_items)
    r = 3.0 + b_u[u] + b_i[i] + rng.normal(0, 0.3, len(u))
    frame = pd.DataFrame({"user": u + 1, "item": 1000 + i, "rating": np.clip(r, 1, 5)})
    return random_split(frame, test_size=0.2, seed=0)


@pytest.fixture(scope="module")
def genre_world() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ratings driven by user taste for item genres; item 999 has genres but no ratings."""
    rng = np.random.default_rng(3)
    n_users, n_items, n_genres = 60, 80, 4
    G = (rng.random((n_items + 1, n_genres)) < 0.35).astype(float)
    G[np.arange(n_items + 1), rng.integers(0, n_genres, n_items + 1)] = 1.0
    taste = rng.normal(0, 1.0, (n_users, n_genres))
    pairs = rng.choice(n_users * n_items, size=1800, replace=False)
    u, i = np.divmod(pairs, n_items)
    score = np.einsum("nf,nf->n", taste[u], G[i]) / G[i].sum(axis=1)
    r = np.clip(np.round(3.2 + 1.2 * score + rng.normal(0, 0.4, len(u))), 1, 5)
    frame = pd.DataFrame({"user": u, "item": i, "rating": r})
    feats = pd.DataFrame(G, index=pd.Index(list(range(n_items)) + [999], name="item"),
                         columns=[f"g{j}" for j in range(n_genres)])  # fmt: skip
    return frame, feats, pd.DataFrame({"taste": list(taste)})


# ============================================================ helpers
def test_normalize_scores_zscore_minmax_and_constant_rows():
    s = np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0], [0.0, 10.0, -np.inf]])
    z = normalize_scores(s, "zscore")
    np.testing.assert_allclose(z[0], [-1.224744871, 0.0, 1.224744871], atol=1e-9)
    np.testing.assert_array_equal(z[1], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(z[2, :2], [-1.0, 1.0])
    assert z[2, 2] == -np.inf
    m = normalize_scores(s, "minmax")
    np.testing.assert_allclose(m[0], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(m[1], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(normalize_scores(s, "none"), s)
    with pytest.raises(ValueError, match="normalize must be one of"):
        normalize_scores(s, "rank")


def test_interleave_round_robin_alternates_and_deduplicates():
    a, b = [1, 2, 3, 4, 5], [6, 7, 8, 9, 10]
    merged, src = interleave([a, b], k=6, return_sources=True)
    assert merged == [1, 6, 2, 7, 3, 8]
    assert src == [0, 1, 0, 1, 0, 1]
    # duplicates are skipped, the list that hit one moves to its next new item
    assert interleave([["a", "b", "c"], ["a", "d", "b", "e"]], k=5) == ["a", "d", "b", "e", "c"]
    # quotas: 7 and 3 of every 10 slots, spread out
    merged, src = interleave([list(range(20)), list(range(100, 120))], k=10, quotas=[7, 3], return_sources=True)
    assert src.count(0) == 7 and src.count(1) == 3
    assert src[:3] == [0, 1, 0]
    # an exhausted list drops out; k above the union stops at the union
    assert interleave([[1], [2, 3, 4]], k=10) == [1, 2, 3, 4]


def test_interleave_team_draft_is_fair_and_seeded():
    a, b = list(range(0, 40)), list(range(100, 140))
    merged, src = interleave([a, b], k=20, method="team_draft", seed=5, return_sources=True)
    assert len(set(merged)) == 20
    counts = np.bincount(src, minlength=2)
    assert abs(counts[0] - counts[1]) <= 1
    for r in range(0, 20, 2):  # every round: one pick from each team, in some order
        assert sorted(src[r : r + 2]) == [0, 1]
    assert merged == interleave([a, b], k=20, method="team_draft", seed=5)
    orders = {tuple(interleave([a, b], k=20, method="team_draft", seed=s)) for s in range(6)}
    assert len(orders) > 1  # the coin flips matter


def test_interleave_bad_input():
    with pytest.raises(ValueError, match="method"):
        interleave([[1]], method="balanced")
    with pytest.raises(ValueError, match="quotas"):
        interleave([[1], [2]], quotas=[1])
    with pytest.raises(ValueError, match="quotas"):
        interleave([[1], [2]], quotas=[1, 1], method="team_draft")
    with pytest.raises(ValueError, match="quotas\\[1\\]"):
        interleave([[1], [2]], quotas=[1, 0])
    with pytest.raises(ValueError, match="non-empty"):
        interleave([])


# =========================================================== weighted
def test_weighted_with_weights_one_zero_equals_first_model(random_frame):
    train, test = random_split(random_frame, test_size=0.2, seed=0)
    test = pd.concat([test, pd.DataFrame({"user": [999, 0], "item": [1000, 77777], "rating": [3.0, 3.0]})])
    first = BaselineOnly().fit(train)
    hybrid = WeightedHybrid([BaselineOnly(), Popularity()], weights=[1.0, 0.0]).fit(train)
    np.testing.assert_allclose(
        hybrid.predict(test["user"], test["item"]), first.predict(test["user"], test["item"]), atol=1e-12
    )
    users = train["user"].unique()[:10]
    got = hybrid.recommend(users, k=5)
    want = first.recommend(users, k=5)
    assert got[["user", "item", "rank"]].equals(want[["user", "item", "rank"]])


def test_weighted_weights_are_normalised_and_mix_predictions(additive):
    train, test = additive
    h = WeightedHybrid([UserMean(), ItemMean()], weights=[2, 2]).fit(train)
    np.testing.assert_allclose(h.weights_, [0.5, 0.5])
    um, im = UserMean().fit(train), ItemMean().fit(train)
    want = 0.5 * um.predict(test["user"], test["item"]) + 0.5 * im.predict(test["user"], test["item"])
    np.testing.assert_allclose(h.predict(test["user"], test["item"]), np.clip(want, *h.rating_scale_))
    h70 = WeightedHybrid([UserMean(), ItemMean()], weights=(0.7, 0.3)).fit(train)
    want = 0.7 * um.predict(test["user"], test["item"]) + 0.3 * im.predict(test["user"], test["item"])
    np.testing.assert_allclose(h70.predict(test["user"], test["item"]), want)


def test_weighted_learned_weights_are_nonnegative_and_help(additive):
    train, test = additive
    h = WeightedHybrid([UserMean(), ItemMean(), GlobalMean()], learn_weights=True, seed=0).fit(train)
    assert np.all(h.weights_ >= 0)
    assert h.validation_rmse_["hybrid"] <= min(h.validation_rmse_[f"model_{j}"] for j in range(3)) + 1e-9
    best = min(_rmse(UserMean().fit(train), test), _rmse(ItemMean().fit(train), test))
    assert _rmse(h, test) < best


def test_learned_weights_use_the_protocols_validation_split(additive, monkeypatch):
    """The weights are learned on Protocol.validation_split(train, seed) of the named protocol."""
    train, _ = additive
    seen = {}
    protocol = get_protocol("cold-items")
    original = type(protocol).validation_split

    def spy(self, frame, seed=None):
        fit_part, val = original(self, frame, seed)
        seen[self.name] = (seed, set(val["item"]) - set(fit_part["item"]))
        return fit_part, val

    monkeypatch.setattr(type(protocol), "validation_split", spy)
    h = WeightedHybrid([UserMean(), ItemMean()], learn_weights=True, validation="cold-items", seed=3).fit(train)
    seed, unseen = seen["cold-items"]
    assert seed == 3 and len(unseen) > 0  # whole items held out: the weights are learned on new items
    # on new items ItemMean can only give the global mean: the weights move towards UserMean
    warm = WeightedHybrid([UserMean(), ItemMean()], learn_weights=True, validation="rating", seed=3).fit(train)
    assert seen["rating"][0] == 3
    assert h.weights_[0] / h.weights_.sum() > warm.weights_[0] / warm.weights_.sum() + 0.2


def test_adaptive_gate_learns_on_the_named_protocols_split(additive):
    train, _ = additive
    h = AdaptiveHybrid([UserMean(), ItemMean()], validation="cold-items", seed=1)
    fit_part, val = h._gate_split(train)
    want_fit, want_val = get_protocol("cold-items").validation_split(train, seed=1)
    assert fit_part.equals(want_fit) and val.equals(want_val)


def test_weighted_does_not_touch_the_callers_models(additive):
    train, _ = additive
    um = UserMean()
    h = WeightedHybrid([um, ItemMean()]).fit(train)
    assert not hasattr(um, "user_ids_")
    assert h.models_[0] is not um
    again = clone(h).fit(train)
    np.testing.assert_array_equal(again.weights_, h.weights_)


def test_weighted_bad_input():
    with pytest.raises(ValueError, match="at least 1 model"):
        WeightedHybrid([]).fit(_TINY)
    with pytest.raises(TypeError, match="models\\[1\\]"):
        WeightedHybrid([UserMean(), "svd"]).fit(_TINY)
    with pytest.raises(TypeError, match="models must be a list or tuple"):
        WeightedHybrid(UserMean()).fit(_TINY)
    with pytest.raises(TypeError, match="list or tuple"):
        WeightedHybrid({"a": UserMean()}).fit(_TINY)
    with pytest.raises(ValueError, match="one entry per model"):
        WeightedHybrid([UserMean(), ItemMean()], weights=[1.0]).fit(_TINY)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedHybrid([UserMean(), ItemMean()], weights=[1.0, -0.5]).fit(_TINY)
    with pytest.raises(ValueError, match="all be zero"):
        WeightedHybrid([UserMean(), ItemMean()], weights=[0, 0]).fit(_TINY)
    with pytest.raises(ValueError, match="not both"):
        WeightedHybrid([UserMean(), ItemMean()], weights=[1, 1], learn_weights=True).fit(_TINY)
    with pytest.raises(ValueError, match="validation must be one of 'rating', 'topk'"):
        WeightedHybrid([UserMean()], validation="random").fit(_TINY)
    with pytest.raises(TypeError, match="validation must be one of"):
        WeightedHybrid([UserMean()], validation=0.1).fit(_TINY)
    with pytest.raises(ValueError, match="normalize"):
        WeightedHybrid([UserMean()], normalize="softmax").fit(_TINY)
    h = WeightedHybrid([UserMean(), ItemMean()])
    h.set_params(weights=[1.0, 2.0, 3.0])  # set_params bypasses __init__: fit checks again
    with pytest.raises(ValueError, match="one entry per model"):
        h.fit(pd.DataFrame({"user": [1], "item": [1], "rating": [3.0]}))


def test_hybrid_of_ranking_models_is_not_clipped(random_frame):
    h = WeightedHybrid([Popularity()]).fit(random_frame)
    pop = Popularity().fit(random_frame)
    items = random_frame["item"].unique()
    np.testing.assert_allclose(h.predict(np.zeros(len(items), int), items), pop.predict(np.zeros(len(items), int), items))
    assert h.predict([0], [items[0]])[0] > 5


# ========================================================== switching
def test_switching_uses_fallback_exactly_for_cold_pairs(random_frame):
    train, test = random_split(random_frame, test_size=0.25, seed=1)
    extra = pd.DataFrame({"user": [12345, 0], "item": [1000, 5555], "rating": [1.0, 1.0]})
    test = pd.concat([test, extra])
    h = SwitchingHybrid(BaselineOnly(), ItemMean(), min_user_ratings=12, min_item_ratings=9).fit(train)
    prim, fb = BaselineOnly().fit(train), ItemMean().fit(train)
    n_u = train.groupby("user").size()
    n_i = train.groupby("item").size()
    cold = (
        test["user"].map(n_u).fillna(0).to_numpy() < 12
    ) | (test["item"].map(n_i).fillna(0).to_numpy() < 9)
    assert 0 < cold.sum() < len(test)
    np.testing.assert_array_equal(h.uses_fallback(test["user"], test["item"]), cold)
    got = h.predict(test["user"], test["item"])
    np.testing.assert_allclose(got[cold], fb.predict(test["user"], test["item"])[cold])
    np.testing.assert_allclose(got[~cold], prim.predict(test["user"], test["item"])[~cold])
    # a cold user's whole list comes from the fallback model
    light = n_u[n_u < 12].index[0]
    assert h.recommend([light], k=5)["item"].tolist() == fb.recommend([light], k=5)["item"].tolist()


def test_switching_bad_input():
    with pytest.raises(TypeError, match="fallback"):
        SwitchingHybrid(UserMean(), None).fit(_TINY)
    with pytest.raises(ValueError, match="min_user_ratings"):
        SwitchingHybrid(UserMean(), ItemMean(), min_user_ratings=-1).fit(_TINY)
    with pytest.raises(TypeError, match="min_item_ratings"):
        SwitchingHybrid(UserMean(), ItemMean(), min_item_ratings=2.5).fit(_TINY)


# ============================================================== mixed
def test_mixed_round_robin_interleaves_the_components_lists(random_frame):
    h = MixedHybrid([BaselineOnly(), Popularity()], depth=30).fit(random_frame)
    a, b = BaselineOnly().fit(random_frame), Popularity().fit(random_frame)
    for user in random_frame["user"].unique()[:8]:
        la = a.recommend([user], k=30)["item"].tolist()
        lb = b.recommend([user], k=30)["item"].tolist()
        got = h.recommend([user], k=10)["item"].tolist()
        assert got == interleave([la, lb], k=10)
        assert got[0] == la[0] and (got[1] == lb[0] or lb[0] == la[0])


def test_mixed_quotas_and_team_draft_are_deterministic(random_frame):
    h = MixedHybrid([BaselineOnly(), Popularity()], k_per_model=[7, 3]).fit(random_frame)
    a = BaselineOnly().fit(random_frame)
    user = random_frame["user"].iloc[0]
    got = h.recommend([user], k=10)["item"].tolist()
    assert len(set(got) & set(a.recommend([user], k=10)["item"])) >= 7
    td1 = MixedHybrid([BaselineOnly(), Popularity()], method="team_draft", seed=3).fit(random_frame)
    td2 = MixedHybrid([BaselineOnly(), Popularity()], method="team_draft", seed=3).fit(random_frame)
    assert td1.recommend(k=10).equals(td2.recommend(k=10))
    users = random_frame["user"].unique()
    assert td1.recommend(users[:5], k=10).equals(td1.recommend(users, k=10).iloc[:50].reset_index(drop=True))


def test_mixed_bad_input():
    with pytest.raises(ValueError, match="one positive integer per model"):
        MixedHybrid([UserMean(), ItemMean()], k_per_model=[3]).fit(_TINY)
    with pytest.raises(ValueError, match="k_per_model\\[0\\]"):
        MixedHybrid([UserMean(), ItemMean()], k_per_model=[0, 3]).fit(_TINY)
    with pytest.raises(ValueError, match="round_robin"):
        MixedHybrid([UserMean(), ItemMean()], k_per_model=[1, 1], method="team_draft").fit(_TINY)
    with pytest.raises(ValueError, match="depth"):
        MixedHybrid([UserMean()], depth=0).fit(_TINY)


# ============================================================ cascade
def test_cascade_returns_only_first_stage_candidates_reranked(random_frame):
    h = CascadeHybrid(Popularity(), BaselineOnly(), n_candidates=15).fit(random_frame)
    pop, base = Popularity().fit(random_frame), BaselineOnly().fit(random_frame)
    users = random_frame["user"].unique()[:10]
    recs = h.recommend(users, k=10)
    for user, group in recs.groupby("user"):
        cand = set(pop.recommend([user], k=15)["item"])
        assert set(group["item"]) <= cand
        assert set(h.candidates([user])["item"]) == cand
        # ordered by the second model's score
        s = base.predict(np.full(len(group), user), group["item"].to_numpy())
        assert np.all(np.diff(s) <= 1e-12)
    # the second stage changes the order of the first
    assert not recs["item"].equals(pop.recommend(users, k=10)["item"])
    # a list holds at most n_candidates items: the first stage supplies no more
    assert (h.recommend(users, k=20).groupby("user").size() == 15).all()
    with pytest.raises(ValueError, match="n_candidates"):
        CascadeHybrid(Popularity(), BaselineOnly(), n_candidates=0).fit(random_frame)


def test_cascade_predict_falls_back_to_first_for_items_the_second_does_not_know(genre_world):
    frame, feats, _ = genre_world
    first = FeatureCombination(item_features=feats, learner=LinearRegression(), n_folds=3)
    h = CascadeHybrid(first, BaselineOnly(), n_candidates=20).fit(frame)
    assert 999 in set(h.item_ids_)  # the content first stage brings the cold item
    fc = clone(first).fit(frame)
    base = BaselineOnly().fit(frame)
    users = np.array([0, 1, 2])
    np.testing.assert_allclose(h.predict(users, [999] * 3), fc.predict(users, [999] * 3))
    np.testing.assert_allclose(h.predict(users, [5, 6, 7]), base.predict(users, [5, 6, 7]))


# =========================================================== stacking
def test_stacking_beats_its_best_component_when_they_are_complementary(additive):
    train, test = additive
    h = StackingHybrid([UserMean(), ItemMean()], n_folds=5, seed=0).fit(train)
    best = min(_rmse(UserMean().fit(train), test), _rmse(ItemMean().fit(train), test))
    got = _rmse(h, test)
    assert got < best - 0.05, (got, best)
    assert set(h.oof_rmse_) == {"model_0", "model_1"}
    # both components get a clearly positive weight
    assert np.all(h.meta_learner_.coef_ > 0.3)


def test_stacking_meta_features_custom_learner_and_determinism(additive):
    train, test = additive
    h1 = StackingHybrid([UserMean(), ItemMean()], meta_learner=LinearRegression(), meta_features=True).fit(train)
    h2 = StackingHybrid([UserMean(), ItemMean()], meta_learner=LinearRegression(), meta_features=True).fit(train)
    assert h1.meta_learner_.n_features_in_ == 4
    np.testing.assert_array_equal(h1.predict(test["user"], test["item"]), h2.predict(test["user"], test["item"]))
    assert h1.recommend(k=5).equals(h2.recommend(k=5))
    with pytest.raises(ValueError, match="n_folds"):
        StackingHybrid([UserMean()], n_folds=1).fit(train)
    with pytest.raises(TypeError, match="meta_learner"):
        StackingHybrid([UserMean()], meta_learner="ridge").fit(train)


# ================================================ feature combination
def test_feature_combination_learns_taste_and_scores_cold_items(genre_world):
    frame, feats, _ = genre_world
    train, test = random_split(frame, test_size=0.2, seed=0)
    h = FeatureCombination(item_features=feats, n_folds=3, seed=0).fit(train)
    assert h.learner_.n_features_in_ == len(h.feature_names_) == 4 + 1 + feats.shape[1]
    assert _rmse(h, test) < _rmse(BaselineOnly().fit(train), test) - 0.05
    # the cold item (features, no ratings) is in the catalogue and gets personalised estimates
    assert 999 in set(h.item_ids_)
    users = train["user"].unique()[:30]
    cold = h.predict(users, np.full(len(users), 999))
    assert np.std(cold) > 0.05
    assert h.item_counts_[h.item_index([999])[0]] == 0
    scores = h.score_items(users[:3])
    assert scores.shape == (3, h.n_items_) and np.all(np.isfinite(scores))


def test_feature_combination_augmentation_and_user_features(genre_world):
    frame, feats, _ = genre_world
    train, test = random_split(frame, test_size=0.2, seed=0)
    users = pd.DataFrame({"age": np.arange(60) % 7, "flag": np.arange(60) % 2}, index=pd.Index(np.arange(60)))
    users.loc[500] = [3, 1]  # a user with side information and no ratings
    h = FeatureCombination(item_features=feats, user_features=users, models=[BaselineOnly()],
                           learner=LinearRegression(), n_folds=3).fit(train)  # fmt: skip
    assert h.feature_names_[-3:] == ["user:age", "user:flag", "model_0"]
    assert 500 in set(h.user_ids_)
    assert np.isfinite(h.predict([500], [3])).all()


def test_feature_combination_bad_input():
    with pytest.raises(TypeError, match="item_features"):
        FeatureCombination(item_features=np.ones((3, 2))).fit(_TINY)
    bad = pd.DataFrame({"a": [1.0, -1.0]}, index=[1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        FeatureCombination(item_features=bad).fit(_TINY)
    with pytest.raises(ValueError, match="NaN"):
        FeatureCombination(item_features=pd.DataFrame({"a": [1.0, np.nan]})).fit(_TINY)
    with pytest.raises(ValueError, match="shrinkage"):
        FeatureCombination(shrinkage=-1).fit(_TINY)
    with pytest.raises(TypeError, match="learner"):
        FeatureCombination(learner=3).fit(_TINY)


# =========================================================== adaptive
@pytest.fixture(scope="module")
def user_world() -> tuple[pd.DataFrame, pd.DataFrame]:
    """r = 3 + b_u + large noise: UserMean is right for heavy users, noisy for light ones."""
    rng = np.random.default_rng(0)
    n_users, n_items = 300, 200
    b_u = rng.normal(0, 0.7, n_users)
    p = np.outer(rng.lognormal(0, 1.2, n_users), 1.0 / np.arange(1, n_items + 1) ** 0.5).ravel()
    pairs = rng.choice(n_users * n_items, size=8000, replace=False, p=p / p.sum())
    u, i = np.divmod(pairs, n_items)
    frame = pd.DataFrame({"user": u, "item": i, "rating": 3 + b_u[u] + rng.normal(0, 1.0, len(u))})
    return random_split(frame, test_size=0.2, seed=0)


def test_adaptive_gate_trusts_user_mean_more_for_heavy_users(user_world):
    train, test = user_world
    # a per-user validation split (the topk protocol's) holds ratings of every user, light ones included
    h = AdaptiveHybrid([UserMean(), ItemMean()], validation="topk", seed=0).fit(train)
    n_u = train.groupby("user").size().sort_values(kind="stable")
    item = train["item"].iloc[0]
    w = h.gate_weights(n_u.index.to_numpy(), np.full(len(n_u), item))
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert np.all(np.diff(w[:, 0]) >= -1e-12)  # UserMean's weight grows with the user's activity
    assert w[-1, 0] > w[0, 0] + 0.3
    v = h.validation_rmse_
    assert v["hybrid"] <= min(v["equal_weights"], v["model_0"], v["model_1"]) + 1e-9
    fixed = _rmse(WeightedHybrid([UserMean(), ItemMean()]).fit(train), test)
    best = min(_rmse(UserMean().fit(train), test), _rmse(ItemMean().fit(train), test))
    got = _rmse(h, test)
    assert got < fixed and got < best, (got, fixed, best)
    again = AdaptiveHybrid([UserMean(), ItemMean()], validation="topk", seed=0).fit(train)
    np.testing.assert_array_equal(again.gate_coef_, h.gate_coef_)
    recs = h.recommend(train["user"].unique()[:4], k=5)
    assert len(recs) == 20


def test_adaptive_gate_gradient_is_exact():
    """The analytic gradient of the gate's loss agrees with finite differences."""
    from scipy.optimize import approx_fprime

    from recbook.hybrid.adaptive import _gate_objective

    rng = np.random.default_rng(1)
    P, y = rng.normal(3, 1, (50, 3)), rng.normal(3, 1, 50)
    Zb = np.column_stack([np.ones(50), rng.normal(size=(50, 2))])
    theta = rng.normal(0, 0.5, 9)
    num = approx_fprime(theta, lambda t: _gate_objective(t, P, Zb, y, 0.01)[0], 1e-7)
    np.testing.assert_allclose(_gate_objective(theta, P, Zb, y, 0.01)[1], num, rtol=1e-4, atol=1e-6)


def test_adaptive_cold_item_validation_holds_out_whole_items(user_world):
    train, _ = user_world
    h = AdaptiveHybrid([UserMean(), ItemMean()], cold_item_fraction=0.2, seed=4)
    fit_part, val = h._gate_split(train)
    assert len(fit_part) + len(val) == len(train)
    unseen = set(val["item"]) - set(fit_part["item"])
    n_items = train["item"].nunique()
    assert abs(len(unseen) - 0.2 * n_items) <= 0.02 * n_items + 1  # ~20 % of items are wholly in validation
    assert train[train["item"].isin(unseen)].index.isin(val.index).all()
    h.fit(train)
    assert np.isfinite(h.gate_coef_).all()


def test_adaptive_bad_input():
    with pytest.raises(ValueError, match="validation must be one of"):
        AdaptiveHybrid([UserMean(), ItemMean()], validation="sequential").fit(_TINY)
    with pytest.raises(ValueError, match="cold_item_fraction"):
        AdaptiveHybrid([UserMean(), ItemMean()], cold_item_fraction=1.0).fit(_TINY)
    with pytest.raises(ValueError, match="at least 2"):
        AdaptiveHybrid([UserMean()]).fit(_TINY)
    with pytest.raises(ValueError, match="context"):
        AdaptiveHybrid([UserMean(), ItemMean()], context=("user_age",)).fit(_TINY)
    with pytest.raises(ValueError, match="context"):
        AdaptiveHybrid([UserMean(), ItemMean()], context=()).fit(_TINY)
    with pytest.raises(ValueError, match="l2"):
        AdaptiveHybrid([UserMean(), ItemMean()], l2=-1.0).fit(_TINY)


# ============================================================ shared
@pytest.mark.parametrize(
    "make",
    [
        lambda: WeightedHybrid([BaselineOnly(), Popularity()]),
        lambda: SwitchingHybrid(BaselineOnly(), ItemMean()),
        lambda: MixedHybrid([BaselineOnly(), Popularity()], method="team_draft"),
        lambda: CascadeHybrid(Popularity(), BaselineOnly(), n_candidates=20),
        lambda: StackingHybrid([UserMean(), ItemMean()], n_folds=3),
        lambda: AdaptiveHybrid([UserMean(), ItemMean()]),
        lambda: FeatureCombination(learner=LinearRegression(), n_folds=3),
    ],
)
def test_every_hybrid_is_deterministic_and_handles_unknown_ids(make, random_frame):
    train, test = random_split(random_frame, test_size=0.2, seed=2)
    a, b = make().fit(train), make().fit(train)
    users = np.concatenate([test["user"].to_numpy(), [-7]])
    items = np.concatenate([test["item"].to_numpy(), [-9]])
    pa = a.predict(users, items)
    assert np.all(np.isfinite(pa))
    np.testing.assert_array_equal(pa, b.predict(users, items))
    ra = a.recommend(list(train["user"].unique()[:6]) + [-7], k=5)
    assert ra.equals(b.recommend(list(train["user"].unique()[:6]) + [-7], k=5))
    assert ra.groupby("user").size().eq(5).all()
    seen = set(zip(train["user"], train["item"]))
    assert not any((u, i) in seen for u, i in zip(ra["user"], ra["item"]))
    assert clone(a).get_params().keys() == a.get_params().keys()


def test_unfitted_and_bad_frame():
    h = WeightedHybrid([UserMean()])
    with pytest.raises(NotFittedError, match="not fitted"):
        h.predict([1], [1])
    with pytest.raises(TypeError, match="DataFrame"):
        h.fit([(1, 2, 3.0)])


def test_cascade_predict_ignores_a_ranking_first_stage(random_frame):
    train, test = random_split(random_frame, test_size=0.2, seed=0)
    test = pd.concat([test, pd.DataFrame({"user": [0], "item": [424242], "rating": [3.0]})])
    h = CascadeHybrid(Popularity(), BaselineOnly(), n_candidates=10).fit(train)
    base = BaselineOnly().fit(train)
    np.testing.assert_allclose(h.predict(test["user"], test["item"]), base.predict(test["user"], test["item"]))


# ========================================================= meta-level
def test_meta_level_uses_content_profile_similarity(genre_world):
    from recbook.content import cosine_similarity, user_profiles

    from recbook.hybrid import MetaLevelHybrid

    frame, feats, _ = genre_world
    train, test = random_split(frame, test_size=0.2, seed=0)
    h = MetaLevelHybrid(feats, k=20).fit(train)
    prof = user_profiles(train, feats).rows(h.user_ids_)
    want = cosine_similarity(prof.matrix)
    np.fill_diagonal(want, 1.0)
    np.testing.assert_allclose(h.sim_, want)
    # taste-driven world: neighbours by taste beat the user's mean alone
    assert _rmse(h, test) < _rmse(UserMean().fit(train), test) - 0.02
    assert clone(h).get_params()["k"] == 20
    with pytest.raises(ValueError, match="k must"):
        MetaLevelHybrid(feats, k=0).fit(train)


# ============================================================== MMR
def test_mmr_matches_a_hand_computation():
    # relevance after min-max: (1, .75, .5, 0); items 0 and 1 are near-duplicates
    sim = np.array([[1, 0.8, 0.2, 0], [0.8, 1, 0.1, 0], [0.2, 0.1, 1, 0], [0, 0, 0, 1.0]])
    scores = [[4.0, 3.0, 2.0, 0.0]]
    # eta = .5: step 2 values: item 1 .375 - .4 = -.025, item 2 .25 - .1 = .15, item 3 0 -> item 2;
    # step 3: item 1 .375 - .4 = -.025, item 3 0 -> item 3; then item 1
    assert mmr_rerank(scores, sim, k=4, relevance_weight=0.5).tolist() == [[0, 2, 3, 1]]
    # eta = .8: step 2: item 1 .6 - .16 = .44 beats item 2 .4 - .04 = .36 -> the score order
    assert mmr_rerank(scores, sim, k=4, relevance_weight=0.8).tolist() == [[0, 1, 2, 3]]
    # a greedy list: the first k of a longer list are the list of length k
    assert mmr_rerank(scores, sim, k=2, relevance_weight=0.5).tolist() == [[0, 2]]
    # candidates: only the best three are re-ranked
    assert mmr_rerank(scores, sim, k=3, relevance_weight=0.5, n_candidates=3).tolist() == [[0, 2, 1]]


def test_mmr_with_relevance_weight_one_is_the_base_ranking():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=(30, 50)), 1)  # many ties
    scores[rng.random(scores.shape) < 0.2] = -np.inf  # masked items
    x = rng.random((50, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sim = x @ x.T
    from recbook.base import top_k

    np.testing.assert_array_equal(mmr_rerank(scores, sim, k=10, relevance_weight=1.0), top_k(scores, 10))
    # eta < 1 with zero similarity keeps the score order too (the second term vanishes)
    np.testing.assert_array_equal(mmr_rerank(scores, np.zeros((50, 50)), k=10, relevance_weight=0.3),
                                  top_k(scores, 10))  # fmt: skip


def test_mmr_ties_go_to_the_lower_column_and_masked_items_come_last():
    sim = np.zeros((4, 4))
    assert mmr_rerank([[1.0, 2.0, 2.0, 1.0]], sim, k=4, relevance_weight=0.5).tolist() == [[1, 2, 0, 3]]
    assert mmr_rerank([[-np.inf, 1.0, np.nan, 0.5]], sim, k=4, relevance_weight=0.5).tolist() == [[1, 3, 0, 2]]
    # a constant row: every candidate ties, the lower column first
    assert mmr_rerank([[3.0, 3.0, 3.0]], np.eye(3), k=3, relevance_weight=0.9).tolist() == [[0, 1, 2]]


def test_mmr_bad_input():
    sim = np.eye(3)
    with pytest.raises(ValueError, match="relevance_weight"):
        mmr_rerank([[1.0, 2.0, 3.0]], sim, relevance_weight=1.5)
    with pytest.raises(TypeError, match="relevance_weight"):
        mmr_rerank([[1.0, 2.0, 3.0]], sim, relevance_weight="high")
    with pytest.raises(ValueError, match="shape"):
        mmr_rerank([[1.0, 2.0, 3.0]], np.eye(4))
    with pytest.raises(ValueError, match="finite"):
        mmr_rerank([[1.0, 2.0, 3.0]], np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="k must"):
        mmr_rerank([[1.0, 2.0, 3.0]], sim, k=0)
    with pytest.raises(ValueError, match="n_candidates"):
        mmr_rerank([[1.0, 2.0, 3.0]], sim, n_candidates=0)
    with pytest.raises(ValueError, match="2-D"):
        mmr_rerank(np.ones((2, 2, 2)), sim)
    with pytest.raises(TypeError, match="scores"):
        mmr_rerank([["a", "b", "c"]], sim)


def test_mmr_reranker_diversifies_a_models_lists(genre_world):
    frame, feats, _ = genre_world
    train, _ = random_split(frame, test_size=0.2, seed=0)
    base = Popularity().fit(train)
    users = train["user"].unique()[:10]
    same = MMRReranker(Popularity(), feats, relevance_weight=1.0, n_candidates=30).fit(train)
    assert same.recommend(users, k=10)[["user", "item", "rank"]].equals(base.recommend(users, k=10)[["user", "item", "rank"]])
    div = MMRReranker(Popularity(), feats, relevance_weight=0.3, n_candidates=30).fit(train)
    got = div.recommend(users, k=10)
    x = feats.to_numpy() / np.linalg.norm(feats.to_numpy(), axis=1, keepdims=True)
    pos = {item: j for j, item in enumerate(feats.index)}

    def mean_sim(items):
        v = x[[pos[i] for i in items]]
        s = v @ v.T
        return (s.sum() - np.trace(s)) / (len(items) * (len(items) - 1))

    sims = []
    for user in users:
        mine = got[got.user == user]["item"].tolist()
        theirs = base.recommend([user], k=10)["item"].tolist()
        assert set(mine) <= set(base.recommend([user], k=30)["item"])  # candidates only
        assert mine[0] == theirs[0]  # the first item is the most relevant
        sims.append((mean_sim(mine), mean_sim(theirs)))
    sims = np.array(sims)
    assert sims[:, 0].mean() < sims[:, 1].mean() - 0.01  # the lists are less alike on average
    # the scores put the MMR list first, in order, every other item after it
    s = div.score_items(users[:1])[0]
    order = div.item_index(got[got.user == users[0]]["item"])
    rest = np.setdiff1d(np.arange(len(s)), order)
    assert np.all(np.diff(s[order]) < 0) and s[order].min() > s[rest].max()
    # predict is the base model's
    items = np.full(len(users), train["item"].iloc[0])
    np.testing.assert_allclose(div.predict(users, items), base.predict(users, items))


def test_mmr_reranker_prefit_uses_the_fitted_model(genre_world):
    frame, feats, _ = genre_world
    base = Popularity().fit(frame)
    a = MMRReranker(base, feats, relevance_weight=0.5, n_candidates=20, prefit=True).fit(frame)
    b = MMRReranker(Popularity(), feats, relevance_weight=0.5, n_candidates=20).fit(frame)
    assert a.model_ is base and b.model_ is not base
    assert a.recommend(k=5).equals(b.recommend(k=5))
    with pytest.raises(ValueError, match="prefit=True needs a fitted model"):
        MMRReranker(Popularity(), feats, prefit=True).fit(frame)
    with pytest.raises(ValueError, match="relevance_weight"):
        MMRReranker(Popularity(), feats, relevance_weight=-0.1).fit(frame)
    with pytest.raises(ValueError, match="n_candidates"):
        MMRReranker(Popularity(), feats, n_candidates=0).fit(frame)
    with pytest.raises(TypeError, match="model"):
        MMRReranker("popularity", feats).fit(frame)
    with pytest.raises(TypeError, match="item_features"):
        MMRReranker(Popularity(), [1, 2, 3]).fit(frame)
    with pytest.raises(TypeError, match="prefit"):
        MMRReranker(Popularity(), feats, prefit="yes").fit(frame)


# ======================================================= explanations
def test_explain_hybrid_contributions_add_up_to_the_score(additive):
    train, _ = additive
    h = WeightedHybrid([UserMean(), ItemMean(), Popularity()], weights=[0.2, 0.5, 0.3]).fit(train)
    user = train["user"].iloc[0]
    table = explain_hybrid(h, user, k=6, names=["user mean", "item mean", "popularity"])
    assert table["item"].tolist() == h.recommend([user], k=6)["item"].tolist()
    contrib = table[[f"{n} contribution" for n in ("user mean", "item mean", "popularity")]].sum(axis=1)
    np.testing.assert_allclose(contrib, table["score"], atol=1e-12)
    np.testing.assert_allclose(table["item mean weight"], 0.5)
    # UserMean gives every item of a user the same score: it contributes nothing to the ranking
    np.testing.assert_allclose(table["user mean contribution"], 0.0)
    z = normalize_scores(ItemMean().fit(train).score_items([user]))[0]
    item_idx = ItemMean().fit(train).item_index(table["item"])
    np.testing.assert_allclose(table["item mean score"], z[item_idx])
    best = np.argmax(table[["user mean contribution", "item mean contribution", "popularity contribution"]].to_numpy(), axis=1)
    assert table["source"].tolist() == [["user mean", "item mean", "popularity"][b] for b in best]
    # the component's own rank: rank 1 is its first choice among the user's unseen items
    pop_top = Popularity().fit(train).recommend([user], k=1)["item"].iloc[0]
    if pop_top in set(table["item"]):
        assert table.loc[table["item"] == pop_top, "popularity rank"].iloc[0] == 1


def test_explain_hybrid_switching_and_adaptive(random_frame, user_world):
    h = SwitchingHybrid(BaselineOnly(), ItemMean(), min_user_ratings=0, min_item_ratings=12).fit(random_frame)
    user = random_frame["user"].iloc[0]
    table = explain_hybrid(h, user, k=8)
    served = h.uses_fallback(np.full(len(table), user), table["item"].to_numpy())
    assert table["source"].tolist() == np.where(served, "ItemMean", "BaselineOnly").tolist()
    np.testing.assert_array_equal(table["ItemMean weight"], served.astype(float))
    train, _ = user_world
    g = AdaptiveHybrid([UserMean(), ItemMean()], seed=0).fit(train)
    user = train["user"].iloc[0]
    table = explain_hybrid(g, user, k=5)
    w = g.gate_weights(np.full(len(table), user), table["item"].to_numpy())
    np.testing.assert_allclose(table[["UserMean weight", "ItemMean weight"]].to_numpy(), w)
    np.testing.assert_allclose(table["UserMean contribution"] + table["ItemMean contribution"], table["score"], atol=1e-12)


def test_explain_hybrid_bad_input(random_frame):
    with pytest.raises(TypeError, match="explain_hybrid explains"):
        explain_hybrid(MixedHybrid([BaselineOnly(), Popularity()]).fit(random_frame), 0)
    h = WeightedHybrid([BaselineOnly(), BaselineOnly()])
    with pytest.raises(NotFittedError, match="not fitted"):
        explain_hybrid(h, 0)
    h.fit(random_frame)
    assert list(explain_hybrid(h, 0, k=2).columns[4:6]) == ["BaselineOnly 0 weight", "BaselineOnly 0 score"]
    with pytest.raises(ValueError, match="distinct names"):
        explain_hybrid(h, 0, names=["a", "a"])
    with pytest.raises(TypeError, match="names"):
        explain_hybrid(h, 0, names="ab")
