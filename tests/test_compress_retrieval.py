"""recbook.compress.retrieval: ItemIndex (faiss), Retrieved, mips_vectors and recall_at_k, against exact search, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("faiss")

from recbook.compress import ItemIndex, Retrieved, mips_vectors, recall_at_k  # noqa: E402
from recbook.compress.retrieval import exact_top_k  # noqa: E402


def _clustered(n=3000, d=24, seed=0):
    """Items in 30 tight clusters: product quantization should find almost all true neighbours."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(30, d)) * 3
    items = centres[rng.integers(0, 30, n)] + rng.normal(size=(n, d)) * 0.3
    queries = rng.normal(size=(50, d))
    return items.astype(np.float32), queries.astype(np.float32)


def _frame():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"user": rng.integers(0, 60, 1500), "item": rng.integers(0, 300, 1500), "rating": 1.0})
    return frame.drop_duplicates(["user", "item"])


def test_flat_index_is_exact_search():
    items, queries = _clustered()
    index = ItemIndex("flat").fit(items)
    scores, ids = index.search(queries, 10)
    exact = exact_top_k(queries, items, 10)
    assert recall_at_k(exact, ids) == 1.0
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ items.T, exact, axis=1), rtol=1e-5, atol=1e-4)
    assert index.nbytes_ >= items.nbytes  # float32 vectors plus a header


@pytest.mark.parametrize("method, kwargs, floor", [
    ("sq8", {}, 0.95),
    ("pq", {"m": 8, "nbits": 8}, 0.5),  # chance is 10 / 3000
    ("ivfpq", {"m": 8, "nbits": 8, "nprobe": 20}, 0.5),
])
def test_compressed_indexes_are_smaller_and_mostly_right(method, kwargs, floor):
    items, queries = _clustered()
    exact = exact_top_k(queries, items, 10)
    index = ItemIndex(method, **kwargs).fit(items)
    _, ids = index.search(queries, 10)
    assert ids.shape == (50, 10) and ids.dtype == np.int64
    assert floor <= recall_at_k(exact, ids) <= 1.0
    assert index.nbytes_ < ItemIndex("flat").fit(items).nbytes_ / 3
    # the same seed gives the same index
    again = ItemIndex(method, **kwargs).fit(items).search(queries, 10)[1]
    np.testing.assert_array_equal(ids, again)


def test_pq_pads_dimensions_without_changing_inner_products():
    items, queries = _clustered(d=13)  # 13 is not a multiple of m=4
    index = ItemIndex("pq", m=4, nbits=6).fit(items)
    assert index._padded == 16 and index.dim_ == 13
    _, ids = index.search(queries, 5)
    pad = lambda x: np.hstack([x, np.zeros((len(x), 3), np.float32)])  # noqa: E731
    by_hand = ItemIndex("pq", m=4, nbits=6).fit(pad(items))
    assert by_hand._padded == 16
    np.testing.assert_array_equal(ids, by_hand.search(pad(queries), 5)[1])


def test_recall_at_k():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    assert recall_at_k(exact, exact[:, ::-1]) == 1.0
    assert recall_at_k(exact, np.array([[1, 9, 9], [-1, -1, -1]])) == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="one shape"):
        recall_at_k(exact, exact[:, :2])
    with pytest.raises(ValueError, match="K must be"):
        recall_at_k(np.zeros((2, 0)), np.zeros((2, 0)))


def test_mips_vectors_reproduce_the_model_scores():
    from recbook.models import TorchBPR

    frame = _frame()
    model = TorchBPR(n_factors=8, n_epochs=2).fit(frame)
    queries, items = mips_vectors(model)
    assert queries.shape[1] == items.shape[1] == 9
    np.testing.assert_allclose(queries[:5] @ items.T, model.score_items(model.user_ids_[:5]), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="factor model"):
        mips_vectors(object())


def test_retrieved_exact_index_recommends_like_the_model():
    from recbook.models import TorchBPR

    frame = _frame()
    model = TorchBPR(n_factors=8, n_epochs=2).fit(frame)
    served = Retrieved(model, ItemIndex("flat"), k=5).fit(frame)
    assert served.model_ is model
    a = model.recommend(k=5)
    b = served.recommend(k=5)
    np.testing.assert_array_equal(a["item"].to_numpy(), b["item"].to_numpy())
    # PQ candidates, re-ranked exactly: every score is the model's exact score
    pq = Retrieved(model, ItemIndex("pq", m=3, nbits=4), k=5, rerank=True).fit(frame)
    rec = pq.recommend(k=5)
    assert (rec.groupby("user").size() == 5).all()
    exact = model.predict(rec["user"].to_numpy(), rec["item"].to_numpy())
    np.testing.assert_allclose(rec["score"].to_numpy(), exact, rtol=1e-4, atol=1e-4)
    assert pq.nbytes_ < served.nbytes_


def test_bad_input():
    items, queries = _clustered(n=300)
    with pytest.raises(ValueError, match="method"):
        ItemIndex("hnsw")
    for kwargs in ({"m": 0}, {"nbits": 17}, {"nprobe": 0}, {"nlist": 0}, {"m": True}):
        with pytest.raises(ValueError):
            ItemIndex("pq", **kwargs)
    with pytest.raises(ValueError, match="not fitted"):
        ItemIndex().search(queries, 3)
    with pytest.raises(ValueError, match="2-D"):
        ItemIndex("flat").fit(items[0])
    with pytest.raises(ValueError, match="NaN"):
        ItemIndex("flat").fit(np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match="at least 256 items"):
        ItemIndex("pq", m=4, nbits=8).fit(items[:100])
    index = ItemIndex("flat").fit(items)
    with pytest.raises(ValueError, match="dimensions"):
        index.search(queries[:, :5], 3)
    with pytest.raises(ValueError, match="k must be"):
        index.search(queries, 0)
    from recbook.models import TorchBPR

    frame = _frame()
    other = TorchBPR(n_factors=4, n_epochs=1).fit(frame[frame["user"] < 30])
    with pytest.raises(ValueError, match="other users"):
        Retrieved(other, ItemIndex("flat")).fit(frame)
    with pytest.raises(TypeError):
        Retrieved(TorchBPR(), index="pq").fit(frame)
