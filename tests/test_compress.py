"""recbook.compress: the fixed contracts of chapter 8 (quantize_rows, low_rank_factorize, prune_magnitude,
QREmbedding, state_nbytes), each against a direct computation, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recbook.compress import (
    HashEmbedding,
    QREmbedding,
    QuantizedEmbedding,
    low_rank_factorize,
    quantize_embeddings,
    prune_magnitude,
    quantize_rows,
    remove_pruning,
    sparsity,
    state_nbytes,
)


# ------------------------------------------------------------------ quantize_rows
@pytest.mark.parametrize("bits", [8, 4])
def test_quantize_rows_error_bound_and_shape(bits):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(300, 37, generator=g) * torch.rand(300, 1, generator=g) * 5 + torch.randn(300, 1, generator=g)
    q = quantize_rows(w, bits=bits)
    back = q.dequantize()
    assert back.dtype == torch.float32 and back.shape == w.shape
    err = (back.double() - w.double()).abs()
    bound = q.scale.double()[:, None] / 2 * (1 + 1e-6) + 1e-6 * w.double().abs()
    assert bool((err <= bound).all())
    levels = 2**bits - 1
    expected_scale = (w.max(1).values - w.min(1).values).double() / levels
    np.testing.assert_allclose(q.scale.double(), expected_scale, rtol=1e-5)
    np.testing.assert_allclose(q.offset.double(), w.min(1).values.double(), rtol=1e-6, atol=1e-7)
    codes_per_row = 37 if bits == 8 else 19  # 4-bit: two per byte, the odd one padded
    assert q.codes.dtype == torch.uint8 and q.codes.shape == (300, codes_per_row)
    assert q.nbytes == 300 * codes_per_row + 300 * 8
    assert torch.equal(q.rows([5, 0, 5]), back[[5, 0, 5]])


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 9)), elements=st.floats(-1e3, 1e3, width=32)),
       st.sampled_from([8, 4]))
def test_quantize_rows_bound_holds_for_any_table(w, bits):
    q = quantize_rows(w, bits=bits)
    err = np.abs(q.dequantize().double().numpy() - w.astype(np.float64))
    bound = q.scale.double().numpy()[:, None] / 2 + 1e-6 * np.abs(w) + 1e-30
    assert (err <= bound * (1 + 1e-6)).all()


def test_quantize_rows_constant_row_is_exact_and_ratio_is_the_bound():
    w = torch.randn(50, 64)
    w[3] = 0.7
    q = quantize_rows(w, bits=8)
    assert float(q.scale[3]) == 0.0 and torch.equal(q.dequantize()[3], w[3])
    assert 4 * w.numel() / q.nbytes == pytest.approx(4 * 64 / (64 + 8))  # 3.56x at d = 64
    assert 4 * w.numel() / quantize_rows(w, bits=4).nbytes == pytest.approx(4 * 64 / (32 + 8))


def test_quantize_rows_4bit_packing_round_trip():
    w = torch.tensor([[v for v in range(16) if v != 7]], dtype=torch.float32)  # 15 values on the 16-level grid
    q = quantize_rows(w, bits=4)
    assert torch.equal(q.dequantize(), w)
    assert int(q.codes[0, 0]) == 0 | (1 << 4)  # low nibble first


def test_quantize_rows_bad_input():
    with pytest.raises(ValueError, match="bits"):
        quantize_rows(torch.randn(3, 3), bits=2)
    with pytest.raises(ValueError, match="bits"):
        quantize_rows(torch.randn(3, 3), bits=True)
    with pytest.raises(ValueError, match="2-D"):
        quantize_rows(torch.randn(3))
    with pytest.raises(ValueError, match="floating"):
        quantize_rows(torch.ones(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        quantize_rows(torch.tensor([[1.0, float("nan")]]))


def test_quantized_embedding_stores_codes_not_floats():
    table = torch.nn.Embedding(2000, 64)
    q8, q4 = QuantizedEmbedding(table, bits=8), QuantizedEmbedding(table, bits=4)
    assert state_nbytes(table) / state_nbytes(q8) > 3.5
    assert state_nbytes(table) / state_nbytes(q4) > 6.0
    idx = torch.tensor([[3, 1999], [0, 3]])
    assert torch.equal(q8(idx), quantize_rows(table.weight).dequantize()[idx])
    assert all(not torch.is_floating_point(b) or b.ndim == 1 for b in q8.buffers())  # no float copy of the table


# ------------------------------------------------------------------ low_rank_factorize
def test_low_rank_is_the_truncated_svd():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(40, 25, generator=g, dtype=torch.float64)
    s = torch.linalg.svdvals(w)
    for r in (1, 5, 25):
        a, b = low_rank_factorize(w, r)
        assert a.shape == (40, r) and b.shape == (r, 25)
        err = torch.linalg.matrix_norm(w - a @ b) ** 2
        assert float(err) == pytest.approx(float((s[r:] ** 2).sum()), abs=1e-8)  # Eckart-Young
    # no other rank-2 matrix does better: a random rank-2 perturbation of the optimum is worse
    a, b = low_rank_factorize(w, 2)
    other = (a + 0.01 * torch.randn(40, 2, generator=g, dtype=torch.float64)) @ b
    assert torch.linalg.matrix_norm(w - other) > torch.linalg.matrix_norm(w - a @ b)


def test_low_rank_keeps_dtype_and_rejects_bad_rank():
    a, b = low_rank_factorize(np.ones((4, 3), dtype=np.float32), 1)
    assert a.dtype == torch.float32 and torch.allclose(a @ b, torch.ones(4, 3))
    for bad in (0, 4, -1):
        with pytest.raises(ValueError, match="rank"):
            low_rank_factorize(torch.ones(4, 3), bad)
    with pytest.raises(ValueError, match="rank"):
        low_rank_factorize(torch.ones(4, 3), 1.5)
    with pytest.raises(ValueError, match="2-D"):
        low_rank_factorize(torch.ones(4), 1)


# ------------------------------------------------------------------ prune_magnitude
def _net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


def _weights(net):
    return [m.weight for m in net.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Embedding))]


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.9])
def test_global_pruning_zeroes_exactly_the_smallest(amount):
    net = _net()
    before = torch.cat([w.detach().abs().ravel() for w in _weights(net)])
    prune_magnitude(net, amount, scope="global")
    after = torch.cat([w.detach().ravel() for w in _weights(net)])
    k = round(amount * before.numel())
    assert int((after == 0).sum()) == k
    if k:
        assert before[after == 0].max() <= before[after != 0].min()  # the zeros are the smallest magnitudes
    assert sparsity(net) == pytest.approx(k / before.numel())
    biases = [m.bias for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert all(bool((b != 0).all()) for b in biases)  # biases are not pruned


def test_layer_pruning_prunes_each_layer_by_the_same_fraction():
    net = prune_magnitude(_net(), 0.5, scope="layer")
    for w in _weights(net):
        assert int((w == 0).sum()) == round(0.5 * w.numel())


def test_pruned_weights_stay_zero_through_fine_tuning_and_remove_makes_it_permanent():
    net = prune_magnitude(_net(), 0.6)
    mask = [m.weight_mask.clone() for m in net.modules() if hasattr(m, "weight_mask")]
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        net(torch.tensor([1, 2, 3])).sum().backward()
        opt.step()
    for m, k in zip([m for m in net.modules() if hasattr(m, "weight_mask")], mask):
        assert bool((m.weight[k == 0] == 0).all())
    with_mask = state_nbytes(net)
    remove_pruning(net)
    assert not any(hasattr(m, "weight_mask") for m in net.modules())
    assert sparsity(net) == pytest.approx(0.6, abs=1e-3)
    assert state_nbytes(net) < with_mask  # the masks and weight_orig copies are gone


def test_prune_bad_input():
    for bad in (1.0, -0.1, 1.5, True):
        with pytest.raises(ValueError, match="amount"):
            prune_magnitude(_net(), bad)
    with pytest.raises(ValueError, match="scope"):
        prune_magnitude(_net(), 0.5, scope="row")
    with pytest.raises(ValueError, match="no nn.Linear"):
        prune_magnitude(torch.nn.ReLU(), 0.5)
    with pytest.raises(TypeError):
        prune_magnitude(np.ones(3), 0.5)


# ------------------------------------------------------------------ sharing
def test_qr_embedding_size_and_distinct_vectors():
    n, d, m = 1000, 8, 30
    emb = QREmbedding(n, d, m)
    assert sum(p.numel() for p in emb.parameters()) == (math.ceil(n / m) + m) * d
    table = emb.weight.detach()
    assert table.shape == (n, d)
    assert torch.unique(table, dim=0).shape[0] == n  # every id has its own vector
    i = torch.tensor([0, 29, 30, 999])
    expected = emb.quotient.weight[i // m] * emb.remainder.weight[i % m]
    assert torch.allclose(emb(i), expected)
    add = QREmbedding(n, d, m, operation="add")
    assert torch.allclose(add(i), add.quotient.weight[i // m] + add.remainder.weight[i % m])
    assert torch.unique(add.weight.detach(), dim=0).shape[0] == n


def test_qr_and_hash_bad_input():
    with pytest.raises(ValueError, match="num_buckets"):
        QREmbedding(10, 4, 11)
    with pytest.raises(ValueError, match="num_embeddings"):
        QREmbedding(0, 4, 1)
    with pytest.raises(ValueError, match="operation"):
        QREmbedding(10, 4, 3, operation="concat")
    with pytest.raises(IndexError):
        QREmbedding(10, 4, 3)(torch.tensor([10]))
    with pytest.raises(IndexError):
        HashEmbedding(10, 4, 3)(torch.tensor([-1]))


def test_hash_embedding_shares_rows_of_colliding_ids():
    emb = HashEmbedding(500, 4, 50, seed=3)
    assert sum(p.numel() for p in emb.parameters()) == 50 * 4
    assert emb.n_collisions() == 500  # 500 ids into 50 rows: every row is shared
    b = emb.bucket
    same = torch.nonzero(b == b[0]).ravel()
    assert torch.equal(emb(same[:1]).expand(len(same), -1), emb(same))
    assert not torch.equal(HashEmbedding(500, 4, 50, seed=4).bucket, b)


# ------------------------------------------------------------------ state_nbytes
def test_state_nbytes_is_the_saved_size(tmp_path):
    net = _net()
    path = tmp_path / "archive.pt"  # torch.save names the zip's folder after the file ("archive" for a buffer)
    torch.save(net.state_dict(), path)
    assert state_nbytes(net) == path.stat().st_size
    assert state_nbytes(net.state_dict()) == path.stat().st_size
    numpy_state = {k: v.numpy() for k, v in net.state_dict().items()}
    assert abs(state_nbytes(numpy_state) - path.stat().st_size) < 200  # a plain dict lacks the module metadata
    with pytest.raises(TypeError, match="state_nbytes"):
        state_nbytes(3)


def test_state_nbytes_of_a_fitted_recbook_model(tmp_path):
    import pandas as pd

    from recbook.models import TorchBPR

    frame = pd.DataFrame({"user": [1, 1, 2, 3], "item": [1, 2, 2, 3], "rating": 1.0})
    model = TorchBPR(n_factors=4, n_epochs=1).fit(frame)
    size = state_nbytes(model)
    assert size > 4 * sum(v.size for v in model.state_dict_.values())


def test_quantize_embeddings_scores_through_the_same_code():
    import pandas as pd

    from recbook.models import TorchBPR

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": rng.integers(0, 40, 600), "item": rng.integers(0, 80, 600), "rating": 1.0})
    frame = frame.drop_duplicates(["user", "item"])
    model = TorchBPR(n_factors=16, n_epochs=3).fit(frame)
    module = model._get_module()
    small = quantize_embeddings(module, bits=8)
    assert isinstance(small.user, QuantizedEmbedding) and isinstance(small.item, QuantizedEmbedding)
    assert isinstance(small.bias, torch.nn.Embedding)  # width 1: quantizing would make it larger
    assert isinstance(module.user, torch.nn.Embedding)  # the original is untouched
    u = torch.arange(10)
    with torch.no_grad():
        exact, approx = model._scores(module, u), model._scores(small, u)
    assert exact.shape == approx.shape
    assert 0 < float((exact - approx).abs().max()) < 0.05
    assert state_nbytes(small) < state_nbytes(module)  # (tiny tables: the per-tensor overhead hides most of the gain)
    with pytest.raises(ValueError, match="bits"):
        quantize_embeddings(module, bits=16)
    with pytest.raises(ValueError, match="nn.Embedding"):
        quantize_embeddings(torch.nn.Linear(2, 2))


# ------------------------------------------------------------------ Compressed
def _implicit_frame():
    import pandas as pd

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"user": rng.integers(0, 60, 1500), "item": rng.integers(0, 120, 1500), "rating": 1.0})
    return frame.drop_duplicates(["user", "item"])


@pytest.mark.parametrize("method, tolerance", [("int8", 0.01), ("int4", 0.2)])
def test_compressed_scores_close_to_the_model_and_smaller(method, tolerance):
    from recbook.compress import Compressed
    from recbook.models import TorchBPR

    frame = _implicit_frame()
    model = TorchBPR(n_factors=32, n_epochs=3).fit(frame)
    small = Compressed(model, method=method).fit(frame)
    assert small.model_ is model  # a fitted model is reused, not refitted
    users = model.user_ids_[:7]
    exact, approx = model.score_items(users), small.score_items(users)
    scale = np.abs(exact).max()
    assert 0 < np.abs(exact - approx).max() <= tolerance * scale
    bound = 4 * 32 / (32 + 8) if method == "int8" else 4 * 32 / (16 + 8)
    assert small.base_table_nbytes_ / small.table_nbytes_ == pytest.approx(bound)
    assert small.nbytes_ < small.base_nbytes_
    np.testing.assert_allclose(small.predict(users[:3], model.item_ids_[:3]), np.diag(approx[:3, :3]), rtol=1e-6)
    unfitted = Compressed(TorchBPR(n_factors=32, n_epochs=3), method=method).fit(frame)
    np.testing.assert_allclose(unfitted.score_items(users), approx, rtol=1e-6)  # same seed, same model


def test_compressed_bad_input():
    from recbook.baselines import Popularity
    from recbook.compress import Compressed
    from recbook.models import TorchBPR

    frame = _implicit_frame()
    with pytest.raises(TypeError, match="torch model"):
        Compressed(Popularity()).fit(frame)
    with pytest.raises(ValueError, match="method"):
        Compressed(TorchBPR(), method="int2").fit(frame)
    other = TorchBPR(n_factors=4, n_epochs=1).fit(frame[frame["user"] < 30])
    with pytest.raises(ValueError, match="other users"):
        Compressed(other).fit(frame)


def test_quantize_linear_int8_is_smaller_and_close():
    from recbook.compress import quantize_linear

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    small = quantize_linear(mlp)
    assert isinstance(mlp[0], torch.nn.Linear)  # the original is untouched
    assert state_nbytes(small) < state_nbytes(mlp) / 1.8
    x = torch.randn(50, 64)
    with torch.no_grad():
        exact, approx = mlp(x), small(x)
    assert 0 < float((exact - approx).abs().max()) < 0.05 * float(exact.abs().max())
    with pytest.raises(ValueError, match="no nn.Linear"):
        quantize_linear(torch.nn.Embedding(5, 3))


def test_compressed_linear_int8_on_neumf():
    from recbook.compress import Compressed
    from recbook.models import NeuMF

    frame = _implicit_frame()
    model = NeuMF(n_factors=8, mlp_layers=(32, 16), n_epochs=2).fit(frame)
    small = Compressed(model, method="linear-int8").fit(frame)
    users = model.user_ids_[:5]
    exact, approx = model.score_items(users), small.score_items(users)
    assert np.abs(exact - approx).max() <= 0.05 * np.abs(exact).max()
    assert small.nbytes_ < small.base_nbytes_ and small.table_nbytes_ == 0
