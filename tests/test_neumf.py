"""NeuMF (recbook.models.neumf): the two towers, the fast all-items path, the losses by hand, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recbook.models.neumf import NeuMF  # noqa: E402
from recbook.testing import check_recommender  # noqa: E402


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(40), 8)
    items = np.concatenate([rng.choice(60, 8, replace=False) for _ in range(40)])
    return pd.DataFrame({"user": users, "item": items})


@pytest.fixture(scope="module")
def clusters():
    """Two worlds: users 0-29 take items 0-19, users 30-59 take items 20-39 (12 items each)."""
    rng = np.random.default_rng(1)
    rows = []
    for u in range(60):
        pool = np.arange(20) if u < 30 else np.arange(20, 40)
        rows += [(u, int(i)) for i in rng.choice(pool, 12, replace=False)]
    return pd.DataFrame(rows, columns=["user", "item"])


def _sigmoid_log(x):
    return -np.log1p(np.exp(-x))  # ln sigma(x)


def _by_hand(m, u, i, j):
    """x_ui of NeuMF from the NumPy state dict (GMF product, ReLU tower, linear head)."""
    s = m.state_dict_
    gmf = s["user_gmf.weight"][u] * s["item_gmf.weight"][i]
    h = np.concatenate([s["user_mlp.weight"][u], s["item_mlp.weight"][i]])
    layer = 0
    while f"mlp.{layer}.weight" in s:
        h = np.maximum(s[f"mlp.{layer}.weight"] @ h + s[f"mlp.{layer}.bias"], 0.0)
        layer += 1
    return float(s["head.weight"][0] @ np.concatenate([gmf, h]) + s["head.bias"][0])


@pytest.mark.parametrize("loss", ["bce", "bpr"])
def test_loss_is_the_formula_by_hand(frame, loss):
    m = NeuMF(n_factors=3, mlp_layers=(6, 4), loss=loss, n_neg=2, reg=0.1, n_epochs=1, seed=0).fit(frame)
    module = m._get_module()
    u, i = [0, 1, 2], [5, 6, 7]
    batch = {"u": torch.tensor(u), "i": torch.tensor(i), "r": torch.ones(3)}
    got = float(m._loss(module, batch, torch.Generator().manual_seed(5)).detach())
    # replay the generator: negatives (3, 2), their redraws, one redraw where a draw hit a training item
    g = torch.Generator().manual_seed(5)
    j = torch.randint(0, m.n_items_, (3, 2), generator=g).numpy()
    again = torch.randint(0, m.n_items_, (3, 2), generator=g).numpy()
    seen = set(zip(*m.train_.nonzero()))
    j = np.where([[(uu, int(x)) in seen for x in row] for uu, row in zip(u, j)], again, j)
    s = m.state_dict_
    total = 0.0
    for uu, ii, jj in zip(u, i, j):
        xp = _by_hand(m, uu, ii, None)
        xn = np.array([_by_hand(m, uu, x, None) for x in jj])
        if loss == "bce":
            data = -_sigmoid_log(xp) - _sigmoid_log(-xn).sum()
        else:
            data = -_sigmoid_log(xp - xn).mean()
        pen = s["user_gmf.weight"][uu] @ s["user_gmf.weight"][uu] + s["user_mlp.weight"][uu] @ s["user_mlp.weight"][uu]
        for x in [ii, *jj]:
            pen += s["item_gmf.weight"][x] @ s["item_gmf.weight"][x] + s["item_mlp.weight"][x] @ s["item_mlp.weight"][x]
        total += data + 0.1 * pen
    assert got == pytest.approx(total / 3, rel=1e-5)


@pytest.mark.parametrize("layers", [(8, 4, 2), (6, 3), (4,), ()])
def test_all_items_path_equals_the_pairwise_score(frame, layers):
    m = NeuMF(n_factors=3, mlp_layers=layers, n_epochs=2, seed=1).fit(frame)
    module = m._get_module()
    u = torch.arange(m.n_users_)
    with torch.no_grad():
        fast = module.all_items(u, block=7).numpy()
        slow = module.pair(u[:, None].expand(-1, m.n_items_), torch.arange(m.n_items_)[None, :].expand(m.n_users_, -1))
    np.testing.assert_allclose(fast, slow.numpy(), rtol=1e-5, atol=1e-6)
    if layers and len(layers) > 1:  # and the by-hand formula for one pair
        assert fast[3, 10] == pytest.approx(_by_hand(m, 3, 10, None), rel=1e-5, abs=1e-6)


def test_gmf_alone_has_no_mlp_parameters(frame):
    m = NeuMF(n_factors=4, mlp_layers=(), n_epochs=1).fit(frame)
    assert set(m.state_dict_) == {"user_gmf.weight", "item_gmf.weight", "head.weight", "head.bias"}
    assert m.state_dict_["head.weight"].shape == (1, 4)


def test_training_lowers_the_loss_and_learns_the_clusters(clusters):
    m = NeuMF(n_factors=8, mlp_layers=(16, 8), n_epochs=30, batch_size=64, lr=0.01, seed=0).fit(clusters)
    assert len(m.history_) == 30 and m.history_["loss"].iloc[-1] < 0.5 * m.history_["loss"].iloc[0]
    rec = m.recommend(list(range(60)), k=5)
    same = np.where(rec["user"] < 30, rec["item"] < 20, rec["item"] >= 20)
    assert same.mean() > 0.95, "a user's recommendations come from their own world"
    assert not m._predicts_ratings()


def test_same_seed_same_parameters_and_the_global_generator_is_untouched(frame):
    torch.manual_seed(7)
    before = torch.rand(1)
    torch.manual_seed(7)
    a = NeuMF(n_factors=4, mlp_layers=(8, 4), n_epochs=2, seed=3).fit(frame)
    assert torch.equal(before, torch.rand(1)), "fitting must not consume the caller's torch random state"
    b = NeuMF(n_factors=4, mlp_layers=(8, 4), n_epochs=2, seed=3).fit(frame)
    c = NeuMF(n_factors=4, mlp_layers=(8, 4), n_epochs=2, seed=4).fit(frame)
    for k in a.state_dict_:
        np.testing.assert_array_equal(a.state_dict_[k], b.state_dict_[k])
    assert not np.array_equal(a.state_dict_["user_gmf.weight"], c.state_dict_["user_gmf.weight"])


def test_unknown_user_gets_the_mean_of_the_users_scores(frame):
    m = NeuMF(n_factors=4, mlp_layers=(8, 4), n_epochs=1).fit(frame)
    s = m.score_items([-12345])[0]
    np.testing.assert_allclose(s, m.score_items(m.user_ids_).mean(axis=0), rtol=1e-6)


def test_the_contract_holds():
    check_recommender(NeuMF(n_factors=4, mlp_layers=(8, 4), n_epochs=2, batch_size=256))


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"mlp_layers": (7, 4)}, ValueError, "must be even"),
        ({"mlp_layers": (8, 0)}, ValueError, "positive sizes"),
        ({"mlp_layers": (8, 2.5)}, TypeError, "integers"),
        ({"mlp_layers": (8, True)}, TypeError, "integers"),
        ({"mlp_layers": "64,32"}, TypeError, "mlp_layers"),
        ({"loss": "mse"}, ValueError, "loss"),
        ({"n_neg": 0}, ValueError, "n_neg"),
        ({"reg": -1.0}, ValueError, "reg"),
        ({"n_factors": 2.0}, TypeError, "n_factors"),
    ],
)
def test_bad_hyper_parameters_are_refused_when_fit_starts(frame, params, error, match):
    m = NeuMF(n_epochs=1, **params)  # the constructor only stores
    assert all(getattr(m, k) == v for k, v in params.items())
    with pytest.raises(error, match=match):
        m.fit(frame)


def test_checkpoint_round_trip(frame, tmp_path):
    m = NeuMF(n_factors=4, mlp_layers=(8, 4), n_epochs=2).fit(frame)
    path = m.save(tmp_path / "neumf.pt")  # a tuple hyper-parameter (mlp_layers) is stored and comes back
    back = NeuMF.load(path)
    assert tuple(back.mlp_layers) == (8, 4)
    users, items = frame["user"].to_numpy()[:20], frame["item"].to_numpy()[:20]
    np.testing.assert_allclose(back.predict(users, items), m.predict(users, items), rtol=1e-6)
