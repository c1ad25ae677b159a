"""MultVAE's fold-in (recommend_for_items): a new user is encoded from a few items, without retraining."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recbook.models.vae import MultVAE  # noqa: E402


@pytest.fixture(scope="module")
def clusters():
    """Two worlds: users 0-39 take 10 of items 0-19, users 40-79 take 10 of items 20-39."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(80):
        pool = np.arange(20) if u < 40 else np.arange(20, 40)
        rows += [(u, int(i)) for i in rng.choice(pool, 10, replace=False)]
    return pd.DataFrame(rows, columns=["user", "item"])


@pytest.fixture(scope="module")
def model(clusters):
    return MultVAE(hidden=32, latent=8, dropout=0.2, n_epochs=60, batch_size=16, lr=0.01, anneal_steps=100).fit(clusters)


@pytest.mark.parametrize("given, world", [([0, 1, 2], range(20)), ([25, 31, 38], range(20, 40))])
def test_a_new_user_gets_the_items_of_the_cluster_they_showed(model, given, world):
    rec = model.recommend_for_items(given, k=10)
    assert list(rec.columns) == ["item", "score", "rank"] and list(rec["rank"]) == list(range(1, 11))
    assert set(rec["item"]) <= set(world) - set(given), "the ten best are unseen items of the same world"
    assert (np.diff(rec["score"].to_numpy()) <= 0).all()


def test_fold_in_equals_scoring_a_training_user_with_the_same_bag(model, clusters):
    """Folding in is the encoder at work: a new user with user 5's items gets user 5's scores."""
    items = clusters.loc[clusters["user"] == 5, "item"].tolist()
    rec = model.recommend_for_items(items, k=5)
    trained = model.recommend([5], k=5)
    assert rec["item"].tolist() == trained["item"].tolist()
    np.testing.assert_allclose(rec["score"].to_numpy(), trained["score"].to_numpy(), rtol=1e-6)


def test_seen_items_may_be_kept_and_unknown_ids_are_ignored(model):
    kept = model.recommend_for_items([0, 1, 2], k=40, exclude_seen=False)
    assert {0, 1, 2} <= set(kept["item"]) and len(kept) == 40
    with_unknown = model.recommend_for_items([0, 1, 2, 10_000, 99_999], k=10)
    pd.testing.assert_frame_equal(with_unknown, model.recommend_for_items([0, 1, 2], k=10))


def test_no_known_item_gives_the_unknown_user_fallback(model):
    rec = model.recommend_for_items([10_000], k=5)
    best = np.argsort(-model.fallback_scores_, kind="stable")[:5]
    assert rec["item"].tolist() == model.item_ids_[best].tolist()
    np.testing.assert_allclose(rec["score"].to_numpy(), model.fallback_scores_[best])


def test_fold_in_needs_a_fitted_model_and_a_valid_k(model):
    with pytest.raises(ValueError, match="fit"):
        MultVAE().recommend_for_items([1, 2])
    with pytest.raises((ValueError, TypeError), match="k"):
        model.recommend_for_items([0, 1], k=0)
