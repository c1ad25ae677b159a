"""TwoTower: the text item tower, cold items, the losses, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recbook.datasets import synthetic  # noqa: E402
from recbook.evaluate import evaluate_new_items  # noqa: E402
from recbook.models.twotower import TwoTower  # noqa: E402
from recbook.split import cold_item_split  # noqa: E402


@pytest.fixture(scope="module")
def world():
    data = synthetic(n_users=50, n_items=60, n_ratings=1200, seed=1)
    rng = np.random.default_rng(0)
    feats = pd.DataFrame(rng.normal(size=(len(data.items), 12)), index=data.items.index)
    return data.ratings[["user", "item", "rating"]], feats


def test_new_items_join_the_catalogue_and_are_scored(world):
    ratings, feats = world
    train, test = cold_item_split(ratings, item_fraction=0.2, seed=0)
    model = TwoTower(feats, n_factors=8, hidden=16, n_epochs=2).fit(train)
    new = np.setdiff1d(feats.index, train["item"].unique())
    assert model.n_train_items_ == train["item"].nunique()
    assert model.n_items_ == model.n_train_items_ + len(new)
    assert set(model.item_ids_[model.n_train_items_:]) == set(new)
    scores = model.predict(np.repeat(train["user"].iloc[0], len(new)), new)
    assert np.all(np.isfinite(scores)) and np.ptp(scores) > 0  # new items get distinct, text-based scores
    res = evaluate_new_items(model, test, k=5)
    assert 0.0 <= res["ndcg"] <= 1.0


def test_score_is_the_dot_product_of_the_towers(world):
    ratings, feats = world
    model = TwoTower(feats, n_factors=4, hidden=0, n_epochs=1, item_tower="text").fit(ratings)
    sd = model.state_dict_
    x = feats.loc[model.item_ids_].to_numpy(dtype=np.float32)
    q = x @ sd["proj.weight"].T + sd["proj.bias"]        # linear projection of the frozen text vectors
    p = sd["user.weight"]
    u = model.user_ids_[3]
    got = model.predict([u] * model.n_items_, model.item_ids_)
    assert np.allclose(got, p[3] @ q.T, atol=1e-5)
    assert np.allclose(model.item_factors_, q, atol=1e-5)
    assert not any(k.startswith("text") for k in sd)     # the text vectors are inputs, not trained state


def test_id_residual_only_for_training_items(world):
    ratings, feats = world
    train, _ = cold_item_split(ratings, item_fraction=0.2, seed=0)
    model = TwoTower(feats, item_tower="text+id", n_factors=4, hidden=8, n_epochs=2, loss="bpr").fit(train)
    res = model.state_dict_["residual.weight"]
    assert np.abs(res[: model.n_train_items_]).sum() > 0
    assert np.all(res[model.n_train_items_:] == 0)        # new items: never sampled, never moved
    plain = TwoTower(feats, n_factors=4, hidden=8, n_epochs=2, loss="bpr").fit(train)
    assert "residual.weight" not in plain.state_dict_


@pytest.mark.parametrize("user_tower", ["id", "mean"])
@pytest.mark.parametrize("loss", ["bpr", "softmax"])
def test_variants_train_and_lower_the_loss(world, user_tower, loss):
    ratings, feats = world
    model = TwoTower(feats, user_tower=user_tower, loss=loss, n_factors=8, hidden=16, n_epochs=6, lr=0.01).fit(ratings)
    h = model.history_["loss"].to_numpy()
    assert np.all(np.isfinite(h)) and h[-1] < h[0]


def test_mean_user_tower_is_the_mean_of_item_vectors(world):
    ratings, feats = world
    model = TwoTower(feats, user_tower="mean", n_factors=4, hidden=0, n_epochs=1).fit(ratings)
    q = model.item_factors_
    u = 0
    items = model.train_[u].indices
    p = model.state_dict_["user_map.weight"] @ q[items].mean(axis=0)
    assert np.allclose(model._score_users(np.array([u]))[0], q @ p, atol=1e-4)


def test_bad_input(world):
    ratings, feats = world
    with pytest.raises(ValueError):
        TwoTower(feats, item_tower="bert").fit(ratings)
    with pytest.raises(ValueError):
        TwoTower(feats, loss="hinge").fit(ratings)
    with pytest.raises(ValueError):
        TwoTower(feats, temperature=0.0).fit(ratings)
    with pytest.raises(TypeError):
        TwoTower("not features").fit(ratings)
    with pytest.raises(ValueError, match="no vector"):
        TwoTower(feats.iloc[:30], n_epochs=1).fit(ratings)   # a training item without a text vector
