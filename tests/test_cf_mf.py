"""Tests for recbook.cf.mf: BiasedMF (= Surprise SVD), SVDpp (= Surprise SVD++), ALS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recbook.base import NotFittedError

from recbook.baselines import BaselineOnly
from recbook.cf import ALS, SVDpp, BiasedMF
from recbook.datasets import synthetic
from recbook.evaluate import evaluate_ratings
from recbook.split import random_split

MODELS = [
    lambda **kw: BiasedMF(n_factors=5, n_epochs=10, **kw),
    lambda **kw: SVDpp(n_factors=5, n_epochs=10, **kw),
    lambda **kw: ALS(n_factors=5, n_epochs=5, **kw),
]
IDS = ["BiasedMF", "SVDpp", "ALS"]


@pytest.fixture(scope="module")
def world():
    """A latent-factor world where factors matter, split 80/20."""
    ratings = synthetic(n_users=200, n_items=300, n_ratings=10000, seed=0).ratings
    return random_split(ratings, 0.2, seed=0)


# ----------------------------------------------------------- Surprise parity
def _surprise_predictions(algo, train: pd.DataFrame, users, items) -> np.ndarray:
    surprise = pytest.importorskip("surprise")
    data = surprise.Dataset.load_from_df(
        train[["user", "item", "rating"]], surprise.Reader(rating_scale=(1, 5))
    )
    algo.fit(data.build_full_trainset())
    return np.array([algo.predict(u, i).est for u, i in zip(users, items)])


def _pairs_with_unknowns(frame: pd.DataFrame):
    users = list(frame["user"].unique()[:6]) + [-1, -1, frame["user"].iloc[0]]
    items = list(frame["item"].unique()[:6]) + [frame["item"].iloc[0], -5, -5]
    # all pairs of those users and items, including unknown ones
    uu, ii = np.meshgrid(users, items)
    return uu.ravel(), ii.ravel()


def test_biasedmf_reproduces_surprise_svd(random_frame):
    surprise = pytest.importorskip("surprise")
    users, items = _pairs_with_unknowns(random_frame)
    ours = BiasedMF(n_factors=8, n_epochs=15, seed=3).fit(random_frame).predict(users, items)
    theirs = _surprise_predictions(
        surprise.SVD(n_factors=8, n_epochs=15, random_state=3), random_frame, users, items
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_svdpp_reproduces_surprise_svdpp(random_frame):
    surprise = pytest.importorskip("surprise")
    users, items = _pairs_with_unknowns(random_frame)
    ours = SVDpp(n_factors=6, n_epochs=10, seed=1).fit(random_frame).predict(users, items)
    theirs = _surprise_predictions(
        surprise.SVDpp(n_factors=6, n_epochs=10, random_state=1), random_frame, users, items
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_biasedmf_differs_from_surprise_with_another_seed(random_frame):
    """The parity test can fail: a different initialisation gives other numbers."""
    surprise = pytest.importorskip("surprise")
    users, items = _pairs_with_unknowns(random_frame)
    ours = BiasedMF(n_factors=8, n_epochs=15, seed=4).fit(random_frame).predict(users, items)
    theirs = _surprise_predictions(
        surprise.SVD(n_factors=8, n_epochs=15, random_state=3), random_frame, users, items
    )
    assert np.abs(ours - theirs).max() > 1e-4


# ------------------------------------------------------------------ learning
def test_models_beat_baseline_on_a_latent_factor_world(world):
    train, test = world
    base = evaluate_ratings(BaselineOnly().fit(train), test)["rmse"]
    for model in (
        BiasedMF(n_factors=10, n_epochs=30, lr=0.01, reg=0.05),
        SVDpp(n_factors=10, n_epochs=30, lr=0.01, reg=0.05),
        ALS(n_factors=8, n_epochs=15, reg=5.0),
    ):
        rmse = evaluate_ratings(model.fit(train), test)["rmse"]
        assert rmse < base - 0.02, (type(model).__name__, rmse, base)


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_training_error_decreases(make, world):
    train, _ = world
    model = make().fit(train)
    assert list(model.history_.columns) == ["epoch", "train_rmse"]
    assert model.history_["epoch"].tolist() == list(range(1, model.n_epochs + 1))
    hist = model.history_["train_rmse"].to_numpy()
    assert hist.shape == (model.n_epochs,)
    assert np.all(np.isfinite(hist))
    assert hist[-1] < hist[0]
    # history_ is the exact training RMSE of the final model (before clipping)
    r = train["rating"].to_numpy()
    u, i = model.user_index(train["user"]), model.item_index(train["item"])
    raw = model._predict_idx(u, i)
    assert hist[-1] == pytest.approx(np.sqrt(np.mean((r - raw) ** 2)), rel=1e-9)


def test_epochs_are_a_prefix_of_a_longer_fit(world):
    """Fitting e epochs gives the state after e epochs of a longer run (learning curves)."""
    train, _ = world
    short = BiasedMF(n_factors=4, n_epochs=3).fit(train)
    long = BiasedMF(n_factors=4, n_epochs=6).fit(train)
    np.testing.assert_allclose(short.history_["train_rmse"], long.history_["train_rmse"][:3])


def test_als_satisfies_the_item_normal_equations(world):
    """After the last half-step (items), each item's ridge gradient is zero."""
    train, _ = world
    lam = 5.0
    m = ALS(n_factors=4, n_epochs=3, reg=lam).fit(train)
    u = m.user_index(train["user"])
    i = m.item_index(train["item"])
    r = train["rating"].to_numpy()
    resid = r - m._predict_idx(u, i)
    V = np.hstack([m.pu_, np.ones((m.n_users_, 1))])
    W = np.hstack([m.qi_, m.bi_[:, None]])
    grad = np.zeros_like(W)
    np.add.at(grad, i, resid[:, None] * V[u])
    grad -= lam * W
    assert np.abs(grad).max() < 1e-8


def test_als_loss_never_increases(world):
    """Each half-step is an exact minimiser, so the regularised loss is monotone."""
    train, _ = world
    lam = 5.0
    r = train["rating"].to_numpy()
    losses = []
    for epochs in range(1, 6):
        m = ALS(n_factors=6, n_epochs=epochs, reg=lam).fit(train)
        u, i = m.user_index(train["user"]), m.item_index(train["item"])
        sse = np.sum((r - m._predict_idx(u, i)) ** 2)
        penalty = sum(np.sum(a**2) for a in (m.pu_, m.qi_, m.bu_, m.bi_))
        losses.append(sse + lam * penalty)
    assert np.all(np.diff(losses) <= 1e-6 * losses[0])
    assert losses[-1] < losses[0]


# ------------------------------------------------------- shapes, determinism
@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_shapes_and_ranges(make, random_frame):
    m = make().fit(random_frame)
    users = random_frame["user"].to_numpy()[:50]
    items = random_frame["item"].to_numpy()[:50]
    pred = m.predict(users, items)
    assert pred.shape == (50,)
    assert pred.min() >= 1.0 and pred.max() <= 5.0
    scores = m.score_items(users[:7])
    assert scores.shape == (7, m.n_items_)
    # score_items agrees with predict on the same pairs
    np.testing.assert_allclose(scores[np.arange(7), m.item_index(items[:7])], pred[:7])
    rec = m.recommend(users[:3], k=5)
    assert list(rec.columns) == ["user", "item", "score", "rank"]
    assert len(rec) == 15
    assert m.pu_.shape == (m.n_users_, 5) and m.qi_.shape == (m.n_items_, 5)


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_same_seed_same_predictions(make, random_frame):
    users, items = random_frame["user"], random_frame["item"]
    a = make(seed=7).fit(random_frame).predict(users, items)
    b = make(seed=7).fit(random_frame).predict(users, items)
    c = make(seed=8).fit(random_frame).predict(users, items)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-7  # the seed only sets the initial factors


# ---------------------------------------------------------------- unknown ids
@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_unknown_ids_use_the_known_parts(make, tiny):
    m = make().fit(tiny)
    mu = m.global_mean_
    bu = m.bu_[m.user_index([1])[0]]
    bi = m.bi_[m.item_index([10])[0]]
    pred = m.predict([1, 999, 999], [777, 10, 777])
    expected = np.clip([mu + bu, mu + bi, mu], *m.rating_scale_)
    np.testing.assert_allclose(pred, expected)
    scores = m.score_items([999])
    np.testing.assert_allclose(scores[0], np.clip(mu + m.bi_, *m.rating_scale_))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (BiasedMF, {"n_factors": 0}, "n_factors"),
        (BiasedMF, {"n_epochs": 2.5}, "n_epochs"),
        (BiasedMF, {"lr": 0.0}, "lr"),
        (BiasedMF, {"reg": -0.1}, "reg"),
        (BiasedMF, {"init_std": float("nan")}, "init_std"),
        (BiasedMF, {"seed": -1}, "seed"),
        (SVDpp, {"n_factors": -3}, "n_factors"),
        (SVDpp, {"lr": -1.0}, "lr"),
        (ALS, {"reg": -1.0}, "reg"),
        (ALS, {"n_epochs": 0}, "n_epochs"),
        (ALS, {"n_factors": True}, "n_factors"),
    ],
)
def test_bad_hyper_parameters(cls, kwargs, match, tiny):
    model = cls(**kwargs)  # the constructor only stores; the checks run when fit starts
    error = TypeError if isinstance(next(iter(kwargs.values())), (bool, float)) and match in ("n_epochs", "n_factors") else ValueError
    with pytest.raises(error, match=match):
        model.fit(tiny)


def test_bad_hyper_parameter_set_later_is_caught_at_fit(tiny):
    m = BiasedMF()
    m.set_params(lr=-1.0)
    with pytest.raises(ValueError, match="lr"):
        m.fit(tiny)


@pytest.mark.parametrize("cls", [BiasedMF, SVDpp, ALS])
def test_bad_frames(cls, tiny):
    with pytest.raises(ValueError, match="empty"):
        cls().fit(tiny.iloc[:0])
    bad = tiny.copy()
    bad.loc[2, "rating"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cls().fit(bad)
    with pytest.raises(TypeError):
        cls().fit(tiny.to_numpy())
    with pytest.raises(NotFittedError, match="not fitted"):
        cls().predict([1], [10])
