"""recbook.compress.sharing.MixedDimEmbedding and TorchBPR's shared tables (chapter 8.3): shapes, the
parameter-count formulas, distinct rows, the popularity order, budgets, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recbook.compress import HashEmbedding, QREmbedding, state_nbytes
from recbook.compress.sharing import MixedDimEmbedding
from recbook.models.bpr import TorchBPR


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------ MixedDimEmbedding
def test_mixed_shapes_and_parameter_formula():
    torch.manual_seed(0)
    emb = MixedDimEmbedding(50, 8, block_sizes=[5, 15, 30], block_dims=[8, 4, 2])
    out = emb(torch.tensor([[0, 4, 5], [19, 20, 49]]))
    assert out.shape == (2, 3, 8)
    assert emb.weight.shape == (50, 8)
    expected = 5 * 8 + 15 * 4 + 30 * 2 + 8 * 4 + 8 * 2  # the full-width block has no projection
    assert emb.n_parameters == expected == _n_params(emb)
    assert torch.allclose(emb.weight[[0, 4, 5, 19, 20, 49]], out.reshape(6, 8))


def test_mixed_rows_are_the_projected_block_rows_and_distinct():
    torch.manual_seed(0)
    emb = MixedDimEmbedding(30, 6, block_sizes=[10, 20], block_dims=[6, 3])
    w = emb.weight.detach()
    assert torch.equal(w[:10], emb.blocks[0].weight.detach())
    assert torch.allclose(w[10:], emb.blocks[1].weight.detach() @ emb.projections[1].weight.detach().T, atol=1e-6)
    assert len(torch.unique(w, dim=0)) == 30  # one row per id, none shared


def test_mixed_order_puts_the_listed_ids_in_the_first_block():
    torch.manual_seed(0)
    order = [7, 3, 0, 1, 2, 4, 5, 6]
    emb = MixedDimEmbedding(8, 4, block_sizes=[2, 6], block_dims=[4, 1], order=order)
    w = emb.weight.detach()
    assert torch.equal(w[7], emb.blocks[0].weight[0].detach()) and torch.equal(w[3], emb.blocks[0].weight[1].detach())
    rank_one = torch.linalg.matrix_rank(w[[0, 1, 2, 4, 5, 6]], rtol=1e-4)
    assert int(rank_one) == 1  # the second block has width 1: its projected rows lie on one line
    assert emb.state_dict()["position"].dtype == torch.int32  # the order is saved (serving needs it)


def test_mixed_from_counts_widths_follow_popularity_and_fit_the_budget():
    counts = np.arange(200, 0, -1, dtype=float) ** 2
    rng = np.random.default_rng(0)
    counts = counts[rng.permutation(200)]
    free = MixedDimEmbedding.from_counts(counts, 32, n_blocks=4, alpha=0.5)
    assert free.block_dims[0] == 32 and list(free.block_dims) == sorted(free.block_dims, reverse=True)
    assert free.block_sizes == (50, 50, 50, 50)
    top = np.argsort(-counts, kind="stable")[:50]
    assert set(torch.nonzero(free.position < 50).ravel().tolist()) == set(top.tolist())
    for budget in (400, 2000, 200 * 32 // 8, 200 * 32):
        emb = MixedDimEmbedding.from_counts(counts, 32, budget=budget)
        assert emb.n_parameters <= budget == budget
        assert _n_params(emb) == emb.n_parameters
    uniform = MixedDimEmbedding.from_counts(counts, 32, alpha=0.0)
    assert set(uniform.block_dims) == {32}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"block_sizes": [5, 5], "block_dims": [4, 2]},  # sizes sum to 10, not 12
        {"block_sizes": [6, 6], "block_dims": [4]},  # lengths differ
        {"block_sizes": [6, 6], "block_dims": [9, 2]},  # wider than d
        {"block_sizes": [6, 6], "block_dims": [4, 0]},
        {"block_sizes": [12], "block_dims": [4], "order": list(range(11)) + [0]},  # not a permutation
        {"block_sizes": [], "block_dims": []},
    ],
)
def test_mixed_rejects_bad_blocks(kwargs):
    with pytest.raises(ValueError):
        MixedDimEmbedding(12, 8, **kwargs)


def test_mixed_rejects_bad_counts_and_budgets_and_ids():
    with pytest.raises(ValueError):
        MixedDimEmbedding.from_counts([], 8)
    with pytest.raises(ValueError):
        MixedDimEmbedding.from_counts([1.0, -1.0], 8)
    with pytest.raises(ValueError):
        MixedDimEmbedding.from_counts([1.0, 2.0], 8, n_blocks=3)
    with pytest.raises(ValueError):
        MixedDimEmbedding.from_counts([1.0, 2.0], 8, alpha=-0.5)
    with pytest.raises(ValueError):
        MixedDimEmbedding.from_counts(np.ones(100), 8, n_blocks=4, budget=10)  # below 100 + 4 * 8
    with pytest.raises(ValueError):
        MixedDimEmbedding(0, 8, [1], [1])
    emb = MixedDimEmbedding(10, 4, [5, 5], [4, 2])
    with pytest.raises(IndexError):
        emb(torch.tensor([10]))


def test_qr_and_hash_parameter_counts():
    assert _n_params(QREmbedding(1682, 8, num_buckets=41)) == (math.ceil(1682 / 41) + 41) * 8
    h = HashEmbedding(1682, 8, num_buckets=200)
    assert _n_params(h) == 200 * 8 and h.n_collisions() > 0


# ------------------------------------------------------------------ TorchBPR with shared tables
@pytest.mark.parametrize("kind", ["hash", "qr", "mixed"])
def test_torchbpr_shared_tables_fit_the_budget_and_score(random_frame, kind):
    model = TorchBPR(n_factors=8, n_epochs=2, batch_size=128, embedding=kind, embedding_budget=0.5).fit(random_frame)
    module = model._get_module()
    for table, n in ((module.user, model.n_users_), (module.item, model.n_items_)):
        assert _n_params(table) <= 0.5 * n * 8
        assert table.weight.shape == (n, 8)
    assert model.item_factors_.shape == (model.n_items_, 8) and model.user_factors_.shape == (model.n_users_, 8)
    head = random_frame.head(20)
    scores = model.predict(head["user"], head["item"])
    assert np.isfinite(scores).all()
    recs = model.recommend(random_frame["user"].unique()[:3], k=5)
    assert len(recs) == 15
    full = TorchBPR(n_factors=8, n_epochs=2, batch_size=128).fit(random_frame)
    if kind != "mixed":  # mixed pays a few hundred bytes per tensor and 4 bytes per id: more than it saves at this size
        assert state_nbytes(model) < state_nbytes(full)


def test_torchbpr_shared_table_round_trips_through_a_checkpoint(random_frame, tmp_path):
    model = TorchBPR(n_factors=8, n_epochs=1, embedding="mixed", embedding_budget=0.5).fit(random_frame)
    back = TorchBPR.load(model.save(tmp_path / "m.pt"))
    frame = random_frame.head(30)
    np.testing.assert_allclose(back.predict(frame["user"], frame["item"]), model.predict(frame["user"], frame["item"]), rtol=1e-6)


def test_torchbpr_default_is_the_full_table():
    model = TorchBPR()
    assert model.embedding == "full" and model.embedding_budget == 1.0
    frame = TorchBPR(n_factors=4, n_epochs=1).fit(
        __import__("pandas").DataFrame({"user": [1, 1, 2, 3], "item": [1, 2, 2, 3], "rating": 1.0})
    )
    assert set(frame.state_dict_) == {"user.weight", "item.weight", "bias.weight"}


def test_torchbpr_rejects_bad_embedding_settings(random_frame):
    with pytest.raises(ValueError):
        TorchBPR(embedding="lowrank").fit(random_frame)
    with pytest.raises(ValueError):
        TorchBPR(embedding_budget=0.0).fit(random_frame)
    with pytest.raises(ValueError):
        TorchBPR(embedding_budget=1.5).fit(random_frame)
    with pytest.raises(ValueError, match="full"):
        TorchBPR(n_epochs=1, embedding_budget=0.5).fit(random_frame)
    with pytest.raises(ValueError, match="QR"):
        TorchBPR(n_epochs=1, embedding="qr", embedding_budget=0.05).fit(random_frame)  # 60 items need >= 16 rows
