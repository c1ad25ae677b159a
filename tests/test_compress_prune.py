"""recbook.compress.prune on fitted models (chapter 8.2): prune_model, fine_tune_pruned (masks kept through
the one training loop), sparse_state, and the structured prune_dimensions / prune_neurons / prune_linear_pair."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recbook.compress import state_nbytes
from recbook.compress.prune import (
    dimension_importance,
    fine_tune_pruned,
    prune_dimensions,
    prune_linear_pair,
    prune_magnitude,
    prune_model,
    prune_neurons,
    sparse_state,
    sparsity,
)
from recbook.models.bpr import TorchBPR
from recbook.models.neumf import NeuMF


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    return pd.DataFrame({"user": rng.integers(0, 40, n), "item": rng.integers(0, 60, n), "rating": 1.0}).drop_duplicates(
        ["user", "item"]
    )


@pytest.fixture(scope="module")
def bpr(frame) -> TorchBPR:
    return TorchBPR(n_factors=8, n_epochs=3, batch_size=128, seed=0).fit(frame)


@pytest.fixture(scope="module")
def neumf(frame) -> NeuMF:
    return NeuMF(n_factors=4, mlp_layers=(16, 8, 4), n_epochs=2, batch_size=128, seed=0).fit(frame)


def _masks(module):
    return {name: m.weight_mask.clone() for name, m in module.named_modules() if hasattr(m, "weight_mask")}


# ------------------------------------------------------------------ prune_model / fine_tune_pruned
def test_prune_model_is_a_pruned_copy(bpr):
    before = {k: v.copy() for k, v in bpr.state_dict_.items()}
    pruned = prune_model(bpr, 0.7, scope="global")
    for k, v in bpr.state_dict_.items():  # the original is untouched
        np.testing.assert_array_equal(v, before[k])
    assert set(pruned.state_dict_) == set(bpr.state_dict_)  # ordinary names, masks folded in
    assert sparsity(pruned._get_module()) == pytest.approx(0.7, abs=1e-3)
    zeros = sum(int((v == 0).sum()) for v in pruned.state_dict_.values())
    total = sum(v.size for v in pruned.state_dict_.values())
    assert zeros == round(0.7 * total)
    assert pruned.pruned_amount_ == 0.7 and pruned.pruned_scope_ == "global"
    # it scores with the pruned weights
    users = bpr.user_ids_[:5]
    s = pruned.predict(np.repeat(users, 3), np.tile(bpr.item_ids_[:3], 5))
    assert np.isfinite(s).all()


def test_fine_tuning_keeps_pruned_entries_exactly_zero(bpr):
    pruned = prune_model(bpr, 0.8, scope="layer")
    masks = _masks(pruned._get_module())
    assert masks
    before = {k: v.copy() for k, v in pruned.state_dict_.items()}
    out = fine_tune_pruned(pruned, n_epochs=2, lr=0.01)
    assert out is pruned
    assert list(out.fine_tune_history_["epoch"]) == [1, 2]
    module = out._get_module()
    for name, m in module.named_modules():
        if name in masks:
            assert bool((m.weight[masks[name] == 0] == 0).all())  # exactly zero
            assert torch.equal(m.weight_mask, masks[name])
    changed = any(not np.array_equal(before[k], v) for k, v in out.state_dict_.items())
    assert changed  # the surviving weights did move
    for k, v in out.state_dict_.items():
        assert bool((v[before[k] == 0] == 0).all())
    assert sparsity(module) == pytest.approx(0.8, abs=1e-3)


def test_fine_tuning_is_deterministic_and_works_on_a_neumf(bpr, neumf):
    a = fine_tune_pruned(prune_model(bpr, 0.5), n_epochs=1, seed=3)
    b = fine_tune_pruned(prune_model(bpr, 0.5), n_epochs=1, seed=3)
    for k in a.state_dict_:
        np.testing.assert_array_equal(a.state_dict_[k], b.state_dict_[k])
    n = fine_tune_pruned(prune_model(neumf, 0.5), n_epochs=1)
    assert np.isfinite(n.fine_tune_history_["loss"]).all()


def test_fine_tune_and_prune_model_bad_input(bpr, frame):
    with pytest.raises(TypeError, match="torch model"):
        prune_model(object(), 0.5)
    with pytest.raises(TypeError, match="torch model"):
        fine_tune_pruned("model")
    with pytest.raises(ValueError, match="not fitted"):
        prune_model(TorchBPR(), 0.5)
    with pytest.raises(ValueError, match="not fitted"):
        fine_tune_pruned(TorchBPR())
    with pytest.raises(ValueError, match="amount"):
        prune_model(bpr, 1.0)
    with pytest.raises(ValueError, match="scope"):
        prune_model(bpr, 0.5, scope="rows")
    pruned = prune_model(bpr, 0.5)
    with pytest.raises(ValueError, match="n_epochs"):
        fine_tune_pruned(pruned, n_epochs=0)
    with pytest.raises(TypeError, match="n_epochs"):
        fine_tune_pruned(pruned, n_epochs=1.5)
    with pytest.raises(ValueError, match="lr"):
        fine_tune_pruned(pruned, lr=-1.0)
    with pytest.raises(ValueError, match="seed"):
        fine_tune_pruned(pruned, seed=-1)


# ------------------------------------------------------------------ sparse_state
def test_sparse_state_round_trips_and_shrinks_only_when_sparse():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Embedding(400, 32), torch.nn.Linear(32, 8))
    dense = state_nbytes(net)
    assert state_nbytes(sparse_state(net)) > dense  # 0 % sparse: indices make it larger
    prune_magnitude(net, 0.9)
    state = sparse_state(net)
    assert "0.weight_mask" not in state and "0.weight" in state
    assert state["0.weight"].layout == torch.sparse_csr
    assert state["0.weight"].col_indices().dtype == torch.int32
    assert torch.equal(state["0.weight"].to_dense(), net[0].weight.detach())
    assert torch.equal(state["1.bias"], net[1].bias.detach())
    assert state_nbytes(state) < dense / 3  # 10 % of the weights at 8 bytes each
    wide = state_nbytes(sparse_state(net, index_dtype=torch.int64))
    assert wide > state_nbytes(state)
    with pytest.raises(ValueError, match="index_dtype"):
        sparse_state(net, index_dtype=torch.float32)
    with pytest.raises(TypeError):
        sparse_state({"w": torch.ones(2, 2)})


# ------------------------------------------------------------------ structured: dimensions
def test_dimension_importance_is_the_norm_of_each_rank_one_term():
    g = torch.Generator().manual_seed(0)
    p, q = torch.randn(7, 4, generator=g), torch.randn(9, 4, generator=g)
    imp = dimension_importance(p, q)
    for k in range(4):
        assert imp[k] == pytest.approx(float(torch.outer(p[:, k], q[:, k]).norm()), rel=1e-5)
    with pytest.raises(ValueError, match="columns"):
        dimension_importance(p, q[:, :3])


def test_prune_dimensions_shapes_scores_and_bytes(bpr):
    same = prune_dimensions(bpr, 8)
    u = np.repeat(bpr.user_ids_[:6], 4)
    i = np.tile(bpr.item_ids_[:4], 6)
    np.testing.assert_allclose(same.predict(u, i), bpr.predict(u, i), rtol=1e-6)
    small = prune_dimensions(bpr, 3)
    assert small.n_factors == 3
    assert small.state_dict_["user.weight"].shape == (bpr.n_users_, 3)
    assert small.state_dict_["item.weight"].shape == (bpr.n_items_, 3)
    assert state_nbytes(small) < state_nbytes(bpr)
    imp = dimension_importance(torch.as_tensor(bpr.state_dict_["user.weight"]), torch.as_tensor(bpr.state_dict_["item.weight"]))
    assert set(small.kept_dimensions_) == set(torch.topk(imp, 3).indices.tolist())
    np.testing.assert_array_equal(small.state_dict_["item.weight"], bpr.state_dict_["item.weight"][:, small.kept_dimensions_])
    assert bpr.n_factors == 8 and bpr.state_dict_["user.weight"].shape[1] == 8  # untouched
    assert np.isfinite(small.predict(u, i)).all()
    fine_tune_pruned(small, n_epochs=1)  # a smaller model trains on
    assert small.state_dict_["user.weight"].shape[1] == 3


def test_prune_dimensions_bad_input(bpr, neumf):
    for bad in (0, 9):
        with pytest.raises(ValueError, match="keep"):
            prune_dimensions(bpr, bad)
    for bad in (2.5, True):
        with pytest.raises(TypeError, match="keep"):
            prune_dimensions(bpr, bad)
    with pytest.raises(TypeError, match="TorchBPR"):
        prune_dimensions(neumf, 2)
    with pytest.raises(ValueError, match="not fitted"):
        prune_dimensions(TorchBPR(), 2)


# ------------------------------------------------------------------ structured: neurons
def test_prune_linear_pair_matches_the_masked_network():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(5, 6), torch.nn.Linear(2 + 6, 3)
    x = torch.randn(10, 5)
    a2, b2, kept = prune_linear_pair(a, b, 4, offset=2)
    assert a2.weight.shape == (4, 5) and b2.weight.shape == (3, 6)
    extra = torch.randn(10, 2)
    with torch.no_grad():
        h = torch.relu(a(x))
        mask = torch.zeros(6)
        mask[kept] = 1
        expected = b(torch.cat([extra, h * mask], dim=1))
        got = b2(torch.cat([extra, torch.relu(a2(x))], dim=1))
    torch.testing.assert_close(got, expected)
    score = torch.cat([a.weight, a.bias[:, None]], 1).norm(dim=1)
    assert set(kept.tolist()) == set(torch.topk(score, 4).indices.tolist())
    with pytest.raises(ValueError, match="keep"):
        prune_linear_pair(a, b, 7)
    with pytest.raises(ValueError, match="offset"):
        prune_linear_pair(a, b, 2, offset=3)
    with pytest.raises(TypeError, match="Linear"):
        prune_linear_pair(a, torch.nn.ReLU(), 2)


def test_prune_neurons_shapes_scores_and_bytes(neumf):
    u = np.repeat(neumf.user_ids_[:5], 4)
    i = np.tile(neumf.item_ids_[:4], 5)
    same = prune_neurons(neumf, 1.0)
    np.testing.assert_allclose(same.predict(u, i), neumf.predict(u, i), rtol=1e-5, atol=1e-6)
    half = prune_neurons(neumf, 0.5)
    assert tuple(half.mlp_layers) == (16, 4, 2)
    state = half.state_dict_
    assert state["mlp.0.weight"].shape == (4, 16)
    assert state["mlp.1.weight"].shape == (2, 4)
    assert state["head.weight"].shape == (1, 4 + 2)
    assert state_nbytes(half) < state_nbytes(neumf)
    assert tuple(neumf.mlp_layers) == (16, 8, 4)  # untouched
    # the model rebuilt from its saved state scores the same as the live one
    rebuilt = half.predict(u, i)
    half.__dict__.pop("_module")
    np.testing.assert_allclose(half.predict(u, i), rebuilt, rtol=1e-6)


def test_prune_neurons_bad_input(neumf, bpr, frame):
    for bad in (0.0, 1.5, -0.2):
        with pytest.raises(ValueError, match="keep"):
            prune_neurons(neumf, bad)
    with pytest.raises(TypeError, match="keep"):
        prune_neurons(neumf, "half")
    with pytest.raises(TypeError, match="NeuMF"):
        prune_neurons(bpr, 0.5)
    flat = NeuMF(n_factors=4, mlp_layers=(8,), n_epochs=1, batch_size=128).fit(frame)
    with pytest.raises(ValueError, match="hidden layer"):
        prune_neurons(flat, 0.5)
