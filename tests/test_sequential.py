"""Tests of recbook.models.sequential: GRU4Rec, SASRec and user_sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recbook.models.sequential import GRU4Rec, SASRec, user_sequences  # noqa: E402
from recbook.split import leave_last_out  # noqa: E402

MODELS = [GRU4Rec, SASRec]


def cycle_data(n_users: int = 48, n_items: int = 8, length: int = 10, seed: int = 0, prefix: str = "i") -> pd.DataFrame:
    """Users walk the cycle 0 -> 1 -> ... -> n_items-1 -> 0 from a random start; rows shuffled.

    The next item is determined by the previous one, but only in *time*
    order: the file order is random, so a model that ignores timestamps
    cannot learn the rule.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        for t in range(length):
            rows.append((u, f"{prefix}{(start + t) % n_items}", 1.0, 1000 * u + t))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def small(cls, **kw):
    base = dict(n_factors=16, max_len=8, n_epochs=40, batch_size=64, lr=0.01, dropout=0.0)
    base.update(kw)
    return cls(**base)


# ------------------------------------------------------------ user_sequences
def test_user_sequences_by_hand():
    frame = pd.DataFrame({"user": [0, 0, 1, 0, 1, 0], "item": [0, 1, 2, 3, 4, 5], "timestamp": [5, 1, 2, 5, 1, 3]})
    u = frame["user"].to_numpy()
    i = frame["item"].to_numpy()
    seq = user_sequences(frame, u, i, n_users=2, length=3)
    # user 0 by time: item1 (t1), item5 (t3), item0 (t5, earlier row), item3 (t5, later row) -> last 3
    # user 1: item4 (t1), item2 (t2), left-padded with 0; entries are item + 1
    assert seq.tolist() == [[6, 1, 4], [0, 5, 3]]


def test_user_sequences_without_timestamp_use_file_order():
    frame = pd.DataFrame({"user": [0, 0, 0], "item": [2, 0, 1]})
    seq = user_sequences(frame, frame["user"].to_numpy(), frame["item"].to_numpy(), 1, 4)
    assert seq.tolist() == [[0, 3, 1, 2]]


def test_user_sequences_last_item_is_leave_last_out_test_item():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "user": rng.integers(0, 20, 400),
        "item": rng.integers(0, 50, 400),
        "timestamp": rng.integers(0, 5, 400),  # many ties: broken by file order
    })
    _, test = leave_last_out(frame, n=1)
    codes, users = pd.factorize(frame["user"], sort=False)
    seq = user_sequences(frame, codes, frame["item"].to_numpy(), len(users), 2)
    last = dict(zip(users, seq[:, -1] - 1))
    for user, item in zip(test["user"], test["item"]):
        assert last[user] == item


def test_user_sequences_bad_input():
    frame = pd.DataFrame({"user": [0, 1], "item": [0, 1], "timestamp": ["a", "b"]})
    with pytest.raises(TypeError, match="timestamp"):
        user_sequences(frame, np.array([0, 1]), np.array([0, 1]), 2, 3)
    frame = frame.assign(timestamp=[1, 2])
    with pytest.raises(ValueError, match="length"):
        user_sequences(frame, np.array([0, 1]), np.array([0, 1]), 2, 0)
    with pytest.raises(ValueError, match="one entry per row"):
        user_sequences(frame, np.array([0]), np.array([0, 1]), 2, 3)


# ------------------------------------------------------------------- models
@pytest.mark.parametrize("cls", MODELS)
def test_time_order_is_used(cls):
    data = cycle_data()
    model = small(cls).fit(data)
    last = data.sort_values(["user", "timestamp"], kind="stable").groupby("user").tail(1)
    rec = model.recommend(last["user"], k=1, exclude_seen=False)
    expected = {u: f"i{(int(it[1:]) + 1) % 8}" for u, it in zip(last["user"], last["item"])}
    hits = np.mean([expected[u] == it for u, it in zip(rec["user"], rec["item"])])
    assert hits > 0.9
    # the same rows without timestamps are read in (shuffled) file order: the rule is lost
    blind = small(cls).fit(data.drop(columns="timestamp"))
    rec = blind.recommend(last["user"], k=1, exclude_seen=False)
    blind_hits = np.mean([expected[u] == it for u, it in zip(rec["user"], rec["item"])])
    assert blind_hits < 0.5


@pytest.mark.parametrize("cls", MODELS)
def test_same_seed_same_parameters_and_other_seed_differs(cls):
    data = cycle_data(n_users=30)
    a = small(cls, n_epochs=3, dropout=0.3, batch_size=8).fit(data)
    torch.manual_seed(123)  # the global generator must not matter
    torch.rand(5)
    b = small(cls, n_epochs=3, dropout=0.3, batch_size=8).fit(data)
    c = small(cls, n_epochs=3, dropout=0.3, batch_size=8, seed=1).fit(data)
    for key in a.state_dict_:
        assert np.array_equal(a.state_dict_[key], b.state_dict_[key]), key
    assert any(not np.array_equal(a.state_dict_[k], c.state_dict_[k]) for k in a.state_dict_)
    state = torch.random.get_rng_state()
    small(cls, n_epochs=1, dropout=0.3).fit(data)
    assert torch.equal(state, torch.random.get_rng_state()), "fit leaves the caller's random state alone"


@pytest.mark.parametrize("cls", MODELS)
def test_shapes_and_differentiable_scores(cls):
    data = cycle_data(n_users=20)
    model = small(cls, n_epochs=1).fit(data)
    assert model.sequences_.shape == (20, 9)
    module = model._get_module()
    u = torch.arange(5)
    scores = model._scores(module, u)
    assert scores.shape == (5, model.n_items_)
    assert scores.requires_grad, "_scores must stay differentiable (distillation uses it)"
    batch = {"u": u}
    loss = model._loss(module, batch, torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and np.isfinite(float(loss.detach()))
    assert model.score_items([0, 1]).shape == (2, model.n_items_)


@pytest.mark.parametrize("cls", MODELS)
def test_unknown_user_gets_empty_history_scores(cls):
    data = cycle_data(n_users=20)
    model = small(cls, n_epochs=2).fit(data)
    module = model._get_module()
    with torch.no_grad():
        empty = module.logits(module(torch.zeros(1, 8, dtype=torch.long))[:, -1])[0].numpy()
    assert np.allclose(model.fallback_scores_, empty)
    assert np.allclose(model.score_items(["nobody"])[0], empty)


def test_parameters_scale_with_n_factors():
    data = cycle_data(n_users=20)
    sizes = {}
    for d in (8, 16, 32):
        m = small(SASRec, n_factors=d, n_epochs=1).fit(data)
        sizes[d] = sum(p.numel() for p in m._get_module().parameters())
    assert sizes[8] < sizes[16] < sizes[32]
    assert sizes[32] / sizes[8] > 4  # more than linear: attention grows as d^2


@pytest.mark.parametrize("cls", MODELS)
def test_save_load_round_trip(cls, tmp_path):
    data = cycle_data(n_users=20)
    model = small(cls, n_epochs=2).fit(data)
    path = model.save(tmp_path / "m.pt")
    again = cls.load(path)
    assert np.array_equal(again.sequences_, model.sequences_)
    users = data["user"].unique()[:5]
    assert np.allclose(again.score_items(users), model.score_items(users))
    assert again.recommend(users, k=3, exclude_seen=False).equals(model.recommend(users, k=3, exclude_seen=False))


def test_load_rejects_a_plain_checkpoint(tmp_path):
    from recbook.models.bpr import TorchBPR

    data = cycle_data(n_users=20)
    path = TorchBPR(n_factors=4, n_epochs=1).fit(data).save(tmp_path / "bpr.pt")
    with pytest.raises(ValueError):
        SASRec.load(path)


@pytest.mark.parametrize(
    "cls, kw, exc",
    [
        (SASRec, {"n_factors": 10, "n_heads": 3}, ValueError),
        (SASRec, {"n_heads": 0}, ValueError),
        (SASRec, {"max_len": 0}, ValueError),
        (SASRec, {"dropout": 1.0}, ValueError),
        (GRU4Rec, {"n_layers": 0}, ValueError),
        (GRU4Rec, {"n_factors": 2.5}, TypeError),
        (GRU4Rec, {"max_len": "50"}, TypeError),
    ],
)
def test_bad_hyper_parameters(cls, kw, exc):
    with pytest.raises(exc):
        small(cls, **kw).fit(cycle_data(n_users=5))


def test_bad_timestamp_column():
    data = cycle_data(n_users=5).assign(timestamp="x")
    with pytest.raises(TypeError, match="timestamp"):
        small(GRU4Rec, n_epochs=1).fit(data)


def test_multi_layer_gru_with_dropout_is_deterministic():
    data = cycle_data(n_users=20)
    a = small(GRU4Rec, n_layers=2, dropout=0.3, n_epochs=2).fit(data)
    b = small(GRU4Rec, n_layers=2, dropout=0.3, n_epochs=2).fit(data)
    for key in a.state_dict_:
        assert np.array_equal(a.state_dict_[key], b.state_dict_[key]), key
