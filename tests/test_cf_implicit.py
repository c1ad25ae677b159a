"""Tests for recbook.cf.implicit: ImplicitALS, BPR, EASE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recbook.baselines import Popularity
from recbook.cf import BPR, EASE, ImplicitALS
from recbook.evaluate import evaluate_topk
from recbook.split import per_user_split

MODELS = [
    lambda **kw: ImplicitALS(n_factors=4, n_epochs=5, reg=1.0, alpha=5.0, **kw),
    lambda **kw: BPR(n_factors=4, n_epochs=20, lr=0.05, reg=0.001, **kw),
    lambda **kw: EASE(reg=10.0),
]
IDS = ["ImplicitALS", "BPR", "EASE"]


@pytest.fixture(scope="module")
def two_tastes() -> pd.DataFrame:
    """120 users in two groups; each group interacts with its own 30 items (plus noise).

    Popular items are shared, so popularity cannot tell a user's group while
    a personalised model can.
    """
    rng = np.random.default_rng(0)
    rows = []
    for user in range(120):
        group = user % 2
        own = np.arange(30) + 30 * group
        liked = rng.choice(own, size=12, replace=False)
        noise = rng.choice(60, size=2, replace=False)
        for item in np.unique(np.concatenate([liked, noise])):
            rows.append((user, int(item)))
    frame = pd.DataFrame(rows, columns=["user", "item"])
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


# ------------------------------------------------------------------ learning
@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_personalised_models_beat_popularity(make, two_tastes):
    train, test = per_user_split(two_tastes, test_size=0.3, seed=0)
    pop = evaluate_topk(Popularity().fit(train), train, test, k=5)["precision"]
    ours = evaluate_topk(make().fit(train), train, test, k=5)["precision"]
    assert ours > pop + 0.1, (ours, pop)


def test_implicit_als_loss_never_increases(two_tastes):
    m = ImplicitALS(n_factors=6, n_epochs=8, reg=0.5, alpha=10.0).fit(two_tastes)
    hist = m.history_["loss"].to_numpy()
    assert np.all(np.diff(hist) <= 1e-12)
    # history_ is the loss of the final factors
    X = m.train_.toarray() > 0
    C = 1 + 10.0 * X
    S = m.user_factors_ @ m.item_factors_.T
    loss = np.sum(C * (X - S) ** 2) + 0.5 * (np.sum(m.user_factors_**2) + np.sum(m.item_factors_**2))
    assert hist[-1] == pytest.approx(loss / X.size, rel=1e-9)


def test_implicit_als_solves_the_item_normal_equations(two_tastes):
    """After the last half-step, every item's factors solve its weighted ridge system."""
    alpha, lam = 3.0, 0.7
    m = ImplicitALS(n_factors=5, n_epochs=2, reg=lam, alpha=alpha).fit(two_tastes)
    X = m.train_.toarray()
    U = m.user_factors_
    for item in (0, 7, 31):
        c = 1 + alpha * X[:, item]
        p = (X[:, item] > 0).astype(float)
        A = U.T @ (c[:, None] * U) + lam * np.eye(5)
        np.testing.assert_allclose(m.item_factors_[item], np.linalg.solve(A, U.T @ (c * p)), atol=1e-10)


def test_implicit_als_uses_interaction_strength(two_tastes):
    weighted = two_tastes.assign(rating=np.where(two_tastes["item"] % 3 == 0, 5.0, 1.0))
    a = ImplicitALS(n_factors=4, n_epochs=3).fit(two_tastes)
    b = ImplicitALS(n_factors=4, n_epochs=3).fit(weighted)
    assert not np.allclose(a.item_factors_, b.item_factors_)


def test_bpr_loss_decreases(two_tastes):
    m = BPR(n_factors=8, n_epochs=30, lr=0.05, reg=0.001).fit(two_tastes)
    hist = m.history_["loss"].to_numpy()
    assert hist.shape == (30,) and m.history_["epoch"].iloc[-1] == 30
    assert hist[-1] < 0.8 * hist[0]
    assert hist[0] == pytest.approx(np.log(2), abs=0.05)  # small initial factors


def test_ease_columns_are_ridge_regressions(two_tastes):
    """Column j of B regresses item j on all other items (Steck 2019, eq. 3)."""
    lam = 4.0
    m = EASE(reg=lam).fit(two_tastes)
    X = (m.train_.toarray() > 0).astype(float)
    assert np.all(np.diag(m.B_) == 0)
    for j in (0, 13, 45):
        others = np.delete(np.arange(X.shape[1]), j)
        Xo = X[:, others]
        w = np.linalg.solve(Xo.T @ Xo + lam * np.eye(len(others)), Xo.T @ X[:, j])
        np.testing.assert_allclose(m.B_[others, j], w, atol=1e-9)


# ------------------------------------------------------- shapes, determinism
@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_shapes_and_consistency(make, two_tastes):
    m = make().fit(two_tastes)
    users = two_tastes["user"].to_numpy()[:20]
    items = two_tastes["item"].to_numpy()[:20]
    pred = m.predict(users, items)
    assert pred.shape == (20,)
    scores = m.score_items(users)
    assert scores.shape == (20, m.n_items_)
    np.testing.assert_allclose(scores[np.arange(20), m.item_index(items)], pred, atol=1e-12)
    rec = m.recommend(users[:4], k=5)
    assert list(rec.columns) == ["user", "item", "score", "rank"]
    assert len(rec) == 20
    seen = set(map(tuple, two_tastes[["user", "item"]].to_numpy()))
    assert not any((u, i) in seen for u, i in zip(rec["user"], rec["item"]))


def test_ranking_models_do_not_clip(two_tastes):
    m = EASE(reg=1.0).fit(two_tastes.assign(rating=3.0))
    s = m.score_items([0, 1])
    assert s.min() < 0 or s.max() > 3.0 or s.max() < 1.0  # not squeezed into [3, 3]


@pytest.mark.parametrize("make", MODELS[:2], ids=IDS[:2])
def test_same_seed_same_scores(make, two_tastes):
    a = make(seed=3).fit(two_tastes).score_items([0, 1, 2])
    b = make(seed=3).fit(two_tastes).score_items([0, 1, 2])
    c = make(seed=4).fit(two_tastes).score_items([0, 1, 2])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# ---------------------------------------------------------------- unknown ids
@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_unknown_users_get_popularity(make, two_tastes):
    m = make().fit(two_tastes)
    counts = two_tastes.groupby("item").size()
    scores = m.score_items([-1])[0]
    np.testing.assert_array_equal(scores, counts.loc[m.item_ids_].to_numpy())
    pred = m.predict([-1, -1, 0], [m.item_ids_[0], 999, 999])
    np.testing.assert_array_equal(pred, [counts.loc[m.item_ids_[0]], 0.0, 0.0])
    rec = m.recommend([-1], k=3)
    third = counts.sort_values(ascending=False).iloc[2]
    assert len(rec) == 3 and all(counts.loc[item] >= third for item in rec["item"])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (ImplicitALS, {"n_factors": 0}, "n_factors"),
        (ImplicitALS, {"alpha": -1.0}, "alpha"),
        (ImplicitALS, {"reg": float("inf")}, "reg"),
        (ImplicitALS, {"n_epochs": -2}, "n_epochs"),
        (BPR, {"lr": 0}, "lr"),
        (BPR, {"reg": -0.5}, "reg"),
        (BPR, {"seed": 1.5}, "seed"),
        (EASE, {"reg": 0.0}, "reg"),
        (EASE, {"reg": "big"}, "reg"),
    ],
)
def test_bad_hyper_parameters(cls, kwargs, match, tiny):
    model = cls(**kwargs)  # the constructor only stores; the checks run when fit starts
    value = next(iter(kwargs.values()))
    error = TypeError if isinstance(value, str) or (match == "seed" and isinstance(value, float)) else ValueError
    with pytest.raises(error, match=match):
        model.fit(tiny)


@pytest.mark.parametrize("cls", [ImplicitALS, BPR, EASE])
def test_bad_frames(cls, tiny):
    with pytest.raises(ValueError, match="empty"):
        cls().fit(tiny.iloc[:0])
    bad = tiny.copy()
    bad.loc[0, "rating"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cls().fit(bad)


def test_implicit_als_rejects_negative_strengths(tiny):
    with pytest.raises(ValueError, match="non-negative"):
        ImplicitALS().fit(tiny.assign(rating=-1.0))


def test_bpr_handles_a_user_who_saw_everything():
    frame = pd.DataFrame({"user": [1, 1, 2], "item": [10, 20, 10]})
    m = BPR(n_factors=2, n_epochs=3).fit(frame)  # must terminate
    assert m.recommend([1], k=2).empty
    assert list(m.recommend([2], k=2)["item"]) == [20]
