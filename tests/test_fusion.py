"""Tests of recbook.hybrid.fusion (chapter 9.2: model fusion)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from recbook import testing as T
from recbook.baselines import Popularity
from recbook.base import NotFittedError
from recbook.cf import EASE, TopNItemKNN
from recbook.evaluate import get_protocol
from recbook.hybrid.fusion import LearnedFusion, _ndcg_from_scores, rank_normalize, simplex_grid
from recbook.hybrid.scores import normalize_scores


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return T.example_data().ratings[["user", "item", "rating"]]


# ------------------------------------------------------------ helpers
def test_simplex_grid_counts_and_sums():
    g = simplex_grid(3, 0.1)
    assert g.shape == (66, 3)  # C(12, 2)
    assert np.allclose(g.sum(axis=1), 1.0) and (g >= 0).all()
    assert simplex_grid(1, 0.25).tolist() == [[1.0]]


@pytest.mark.parametrize(
    "args,exc",
    [((0, 0.1), ValueError), ((2, 0.0), ValueError), ((2, 0.3), ValueError), ((2, 1.5), ValueError),
     ((2.0, 0.1), TypeError), ((True, 0.1), TypeError), ((2, "0.1"), TypeError)],
)
def test_simplex_grid_bad_input(args, exc):
    with pytest.raises(exc):
        simplex_grid(*args)


def test_rank_normalize_by_hand():
    s = np.array([[0.3, 5.0, -1.0, 5.0], [1.0, -np.inf, 2.0, 0.0]])
    out = rank_normalize(s)
    assert out[0].tolist() == [0.5, 1.0, 0.25, 0.75]  # tie: the lower column first
    assert out[1, 1] == -np.inf
    assert np.allclose(out[1, [0, 2, 3]], [2 / 3, 1.0, 1 / 3])
    with pytest.raises(ValueError):
        rank_normalize(np.zeros((2, 2, 2)))


def test_ndcg_helper_matches_a_hand_computation():
    scores = np.array([[3.0, 2.0, 1.0, 0.0]])
    rel = np.array([[False, True, False, True]])
    # hits at ranks 2 and 4 of a list of 3 -> only rank 2 counts; ideal: 2 relevant at ranks 1, 2
    expected = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert np.isclose(_ndcg_from_scores(scores, rel, np.array([2]), 3), expected)


# ------------------------------------------------------------ the estimator
@pytest.mark.parametrize(
    "kwargs,exc",
    [({"models": EASE()}, TypeError), ({"models": []}, ValueError), ({"models": [EASE(), "knn"]}, TypeError),
     ({"combiner": "stacking"}, ValueError), ({"normalize": "minmax"}, ValueError),
     ({"n_candidates": 0}, ValueError), ({"n_negatives": 1.5}, TypeError), ({"weight_step": 0.3}, ValueError),
     ({"weight_step": 0}, ValueError), ({"booster": "hgb"}, TypeError), ({"validation": "sequential"}, ValueError)],
)
def test_bad_parameters_raise_at_fit(train, kwargs, exc):
    params = {"models": [EASE(reg=10.0), Popularity()], **kwargs}
    model = LearnedFusion(**params)  # the constructor only stores
    with pytest.raises(exc):
        model.fit(train)


def test_bad_training_data(train):
    with pytest.raises(TypeError):
        LearnedFusion([Popularity()]).fit(train.to_numpy())
    with pytest.raises(ValueError):
        LearnedFusion([Popularity()]).fit(train.iloc[:0])


def test_with_combiner(train):
    f = LearnedFusion([EASE(reg=10.0), Popularity()], n_candidates=20, weight_step=0.5)
    with pytest.raises(NotFittedError):
        f.with_combiner("weighted")
    f.fit(train)
    w = f.with_combiner("weighted")
    assert w.combiner == "weighted" and f.combiner == "boosting" and w.models_ is f.models_
    with pytest.raises(ValueError):
        f.with_combiner("mean")
    only_weights = LearnedFusion([EASE(reg=10.0)], combiner="weighted").fit(train)
    assert only_weights.booster_ is None
    with pytest.raises(ValueError, match="no fitted booster"):
        only_weights.with_combiner("boosting")


def test_weighted_fusion_of_one_base_ranks_like_the_base(train):
    base = EASE(reg=10.0).fit(train)
    users = train["user"].unique()[:15]
    for normalize in ("zscore", "rank"):
        f = LearnedFusion([EASE(reg=10.0)], combiner="weighted", normalize=normalize).fit(train)
        assert f.weights_.tolist() == [1.0]
        assert f.recommend(users, k=10)[["user", "item"]].equals(base.recommend(users, k=10)[["user", "item"]])


def test_boosted_fusion_of_one_base_is_monotone_in_the_base_score(train):
    """With one base and no extra features, the fused order is the base's: monotone trees, ties broken by the base."""
    base = EASE(reg=10.0).fit(train)
    f = LearnedFusion([EASE(reg=10.0)], extra_features=False, n_candidates=30, n_negatives=20).fit(train)
    assert f.booster_ is not None
    users = train["user"].unique()[:20]
    S, F = base.score_items(users), f.score_items(users)
    assert list(f.item_ids_) == list(base.item_ids_)
    seen = f.train_[f.user_index(users)].toarray() > 0
    for s, fs, sn in zip(S, F, seen):
        s, fs = s[~sn], fs[~sn]
        order = np.argsort(-s, kind="stable")
        strictly = np.diff(s[order]) < 0
        assert np.all(np.diff(fs[order])[strictly] < 0)
    # so the lists are the base's, although the trees alone tie many candidates (their ties are broken by the base)
    assert f.recommend(users, k=10)[["user", "item"]].equals(base.recommend(users, k=10)[["user", "item"]])


def test_a_custom_booster_is_used_as_given(train):
    """A custom classifier is cloned and fitted on the same features (no monotone constraint imposed)."""
    f = LearnedFusion([EASE(reg=10.0)], extra_features=False, n_candidates=30,
                      booster=LogisticRegression(C=1.0)).fit(train)
    coef = f.booster_.coef_.ravel()
    assert coef.shape == (2,)  # z-score and log-rank, fitted as given (no constraint imposed)


def test_weights_are_tuned_on_the_validation_split_of_the_training_data_only(train):
    """The chosen weights equal a by-hand grid search on Protocol.validation_split(train); test data never enter."""
    models = [EASE(reg=10.0), Popularity()]
    f = LearnedFusion(models, combiner="weighted", weight_step=0.25, seed=1).fit(train)
    fit_part, val = get_protocol("topk").validation_split(train, seed=1)
    fitted = [EASE(reg=10.0).fit(fit_part), Popularity().fit(fit_part)]
    users = pd.unique(val["user"][val["user"].isin(fit_part["user"])])
    items = fitted[0].item_ids_
    seen = fitted[0].train_[fitted[0].user_index(users)].toarray() > 0
    Z = []
    for m in fitted:
        s = m.score_items(users)[:, m.item_index(items)]
        s[seen] = -np.inf
        Z.append(normalize_scores(s))
    rel = np.zeros(seen.shape, dtype=bool)
    vv = val[val["user"].isin(users)]
    rel[pd.Index(users).get_indexer(vv["user"]), pd.Index(items).get_indexer(vv["item"])] = True
    n_rel = vv.groupby("user")["item"].nunique().reindex(users).to_numpy()
    mix = [sum(wm * z for wm, z in zip(w, Z) if wm != 0) for w in simplex_grid(2, 0.25)]
    ndcg = [_ndcg_from_scores(m, rel, n_rel, 10) for m in mix]
    assert np.allclose(f.weight_table_["ndcg"], ndcg)
    assert f.weights_.tolist() == simplex_grid(2, 0.25)[int(np.argmax(ndcg))].tolist()
    # a frame that adds "test" rows of other users changes nothing for these users' validation data:
    assert set(map(tuple, val[["user", "item"]].to_numpy())) <= set(map(tuple, train[["user", "item"]].to_numpy()))


def test_boosted_scores_put_candidates_first_and_seen_items_last(train):
    f = LearnedFusion([EASE(reg=10.0), TopNItemKNN()], n_candidates=5, n_negatives=10).fit(train)
    users = train["user"].unique()[:10]
    F = f.score_items(users)
    seen = f.train_[f.user_index(users)].toarray() > 0
    assert np.all(F[seen] == -3.0)
    inside = (F >= 0) & ~seen
    outside = (F < 0) & ~seen
    assert inside.any() and outside.any()
    assert np.all(F[inside] <= 1.0) and np.all((F[outside] > -2.0) & (F[outside] < -1.0))
    assert np.all(inside.sum(axis=1) <= 10)  # at most n_candidates per base


def test_contract(train):
    T.check_recommender(LearnedFusion._example(T.example_data()))
