"""Tests of section 6.5's additions to recbook.models.sequential.

augment_sequences (CL4SRec's crop / mask / reorder as extra pseudo-users),
fine_tune (pre-training then fine-tuning, item rows matched by id),
sparse_users_split (disjoint source and sparse target users) and
SASRec.attention_maps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from tests.test_sequential import cycle_data, small  # noqa: E402  (the sequential tests' shared fixtures)

from recbook.models.sequential import (  # noqa: E402
    AUGMENT_OPS,
    GRU4Rec,
    SASRec,
    augment_sequences,
    fine_tune,
    sparse_users_split,
    user_sequences,
)

MODELS = [GRU4Rec, SASRec]




def ordered(frame: pd.DataFrame, user) -> list:
    part = frame[frame["user"] == user]
    return part.sort_values("timestamp", kind="stable")["item"].tolist()


# ------------------------------------------------------------ augment_sequences
@pytest.mark.parametrize("op", AUGMENT_OPS)
def test_each_operator_by_its_definition(op):
    data = cycle_data(n_users=10, length=10)
    views = augment_sequences(data, n_views=3, ops=[op], crop=0.6, mask=0.3, reorder=0.5, seed=1)
    assert set(views.columns) == {"user", "item", "rating", "timestamp", "source_user"}
    assert views["user"].nunique() == 30
    assert not set(views["user"]) & set(data["user"]), "views are new users"
    for view_user, part in views.groupby("user"):
        src = part["source_user"].iloc[0]
        original = ordered(data, src)
        got = ordered(views, view_user)
        if op == "crop":  # a contiguous window of floor(0.6 * 10) = 6 items
            assert len(got) == 6
            assert any(original[s : s + 6] == got for s in range(5))
        elif op == "mask":  # 3 items removed, the order of the rest kept
            assert len(got) == 7
            it = iter(original)
            assert all(x in it for x in got)  # a subsequence
        else:  # a window of 5 shuffled, the rest in place
            assert sorted(got) == sorted(original)
            diff = [k for k in range(10) if got[k] != original[k]]
            assert not diff or max(diff) - min(diff) < 5


def test_augment_is_seeded_and_fits_with_sasrec():
    data = cycle_data(n_users=12)
    a = augment_sequences(data, n_views=2, seed=3)
    b = augment_sequences(data, n_views=2, seed=3)
    c = augment_sequences(data, n_views=2, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    model = small(SASRec, n_epochs=1).fit(pd.concat([data, a.drop(columns="source_user")], ignore_index=True))
    assert model.n_users_ == 12 + a["user"].nunique()


def test_augment_reads_time_order_and_string_users():
    frame = pd.DataFrame({"user": ["a"] * 4, "item": [3, 1, 2, 0], "timestamp": [4, 2, 3, 1]})
    views = augment_sequences(frame, ops=["crop"], crop=1.0, seed=0)
    assert views["user"].tolist() == ["a~aug0"] * 4
    assert ordered(views, "a~aug0") == [0, 1, 2, 3]
    # the pseudo-user's window is what user_sequences gives it
    seq = user_sequences(views, np.zeros(4, dtype=int), views["item"].to_numpy(), 1, 4)
    assert seq.tolist() == [[1, 2, 3, 4]]


def test_augment_min_length_drops_short_views():
    data = cycle_data(n_users=5, length=3)
    assert len(augment_sequences(data, ops=["crop"], crop=0.3, min_length=2)) == 0
    assert augment_sequences(data, ops=["crop"], crop=0.3, min_length=1)["user"].nunique() == 5


@pytest.mark.parametrize(
    "kw, exc",
    [
        ({"ops": ["shuffle"]}, ValueError),
        ({"ops": "crop"}, TypeError),
        ({"ops": []}, TypeError),
        ({"crop": 0.0}, ValueError),
        ({"mask": 1.5}, ValueError),
        ({"reorder": "half"}, TypeError),
        ({"n_views": 0}, ValueError),
        ({"seed": -1}, ValueError),
    ],
)
def test_augment_bad_input(kw, exc):
    with pytest.raises(exc):
        augment_sequences(cycle_data(n_users=3), **kw)


def test_augment_bad_frame():
    with pytest.raises(TypeError):
        augment_sequences([1, 2, 3])
    with pytest.raises(ValueError, match="item"):
        augment_sequences(pd.DataFrame({"user": [1]}))


# ------------------------------------------------------------------- fine_tune
@pytest.mark.parametrize("cls", MODELS)
def test_fine_tune_starts_from_the_pretrained_weights(cls):
    source = cycle_data(n_users=40, seed=0)
    target = cycle_data(n_users=10, seed=1, length=4).assign(user=lambda f: f["user"] + 100)
    pre = small(cls, n_epochs=20).fit(source)
    tuned = fine_tune(pre, target, n_epochs=1, lr=1e-9)  # a negligible step: the weights stay the pre-trained ones
    assert not hasattr(tuned, "_init_from") and not hasattr(tuned, "_init_extend")
    assert tuned.n_epochs == 1 and tuned.n_factors == pre.n_factors
    index = pd.Index(pre.item_ids_).get_indexer(tuned.item_ids_)
    assert (index >= 0).all()
    for name, value in tuned.state_dict_.items():
        old = pre.state_dict_[name]
        if name == "item.weight":
            assert np.allclose(value[1:], old[1:][index], atol=1e-5)
        elif name == "bias":
            assert np.allclose(value, old[index], atol=1e-5)
        else:
            assert np.allclose(value, old, atol=1e-5), name
    # the pre-trained rule (next item on the cycle) carries over to the new users
    last = target.sort_values(["user", "timestamp"], kind="stable").groupby("user").tail(1)
    rec = tuned.recommend(last["user"], k=1, exclude_seen=False)
    expected = {u: f"i{(int(it[1:]) + 1) % 8}" for u, it in zip(last["user"], last["item"])}
    assert np.mean([expected[u] == it for u, it in zip(rec["user"], rec["item"])]) > 0.9


def test_fine_tune_catalogue_is_the_union_and_new_items_start_random():
    source = cycle_data(n_users=20, seed=0)
    target = cycle_data(n_users=6, seed=1, n_items=10, prefix="j").assign(user=lambda f: f["user"] + 100)
    pre = small(SASRec, n_epochs=2).fit(source)
    tuned = fine_tune(pre, target, n_epochs=1)
    assert set(tuned.item_ids_) == set(source["item"]) | set(target["item"])
    assert tuned.n_train_items_ == 10
    fresh = small(SASRec, n_epochs=1).fit(target)
    assert fresh.n_items_ == 10


def test_fine_tune_bad_input():
    data = cycle_data(n_users=10)
    pre = small(SASRec, n_epochs=1).fit(data)
    with pytest.raises(TypeError, match="not fitted"):
        fine_tune(small(SASRec), data)
    with pytest.raises(TypeError):
        fine_tune("model", data)
    with pytest.raises(ValueError, match="n_factors"):
        fine_tune(pre, data, n_factors=32)
    with pytest.raises(ValueError, match="unknown"):
        fine_tune(pre, data, width=3)


def test_plain_fit_is_unchanged_by_the_hooks():
    data = cycle_data(n_users=20)
    a = small(SASRec, n_epochs=2).fit(data)
    assert a._extra_items(data).size == 0
    a._init_from = a  # a Distiller's warm start keeps the catalogue of the data (no _init_extend)
    assert a._extra_items(data).size == 0


# ------------------------------------------------------------ sparse_users_split
def test_sparse_users_split_disjoint_and_latest_items():
    from recbook.split import leave_last_out

    data = cycle_data(n_users=20, length=12)
    train, test = leave_last_out(data, n=1)
    source, sparse, target_test = sparse_users_split(train, test, n_keep=3, source_fraction=0.5, seed=0)
    assert source["user"].nunique() == 10 and sparse["user"].nunique() == 10
    assert not set(source["user"]) & set(sparse["user"])
    assert set(target_test["user"]) == set(sparse["user"])
    assert (sparse.groupby("user").size() == 3).all()
    for u in sparse["user"].unique():
        assert ordered(sparse, u) == ordered(train, u)[-3:]
    assert len(source) == train["user"].isin(source["user"].unique()).sum()
    again = sparse_users_split(train, test, n_keep=3, seed=0)
    assert again[1].equals(sparse)


@pytest.mark.parametrize(
    "kw, exc", [({"n_keep": 0}, ValueError), ({"source_fraction": 1.0}, ValueError), ({"source_fraction": "x"}, TypeError)]
)
def test_sparse_users_split_bad_input(kw, exc):
    data = cycle_data(n_users=6)
    with pytest.raises(exc):
        sparse_users_split(data, data, **kw)
    with pytest.raises(ValueError, match="timestamp"):
        sparse_users_split(data.drop(columns="timestamp"), data)


# ------------------------------------------------------------------ attention
def test_attention_maps_are_the_forward_pass_weights():
    data = cycle_data(n_users=12, length=5)
    model = small(SASRec, n_epochs=2, n_layers=2, n_heads=2, dropout=0.3).fit(data)
    maps = model.attention_maps([0, 3])
    assert maps.shape == (2, 2, 2, 8, 8)
    assert np.allclose(maps.sum(-1), 1.0)
    assert np.allclose(np.triu(maps, k=1), 0.0), "causal: no weight on later positions"
    # user 0 has 5 items: the 3 padded positions get no weight from real ones
    assert np.allclose(maps[0, :, :, 3:, :3], 0.0)
    # recompute block 0 by hand: same weights
    module = model._get_module()
    row = model._user_index.get_loc(0)
    seq = torch.as_tensor(model.sequences_[[row]][:, 1:])
    with torch.no_grad():
        x = module.item(seq) * np.sqrt(16) + module.position(torch.arange(8))
        block = module.blocks[0]
        q, k, _ = block.qkv(block.norm1(x)).view(1, 8, 3, 2, 8).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-1, -2)) / np.sqrt(8)
        pad = seq == 0
        mask = (torch.ones(8, 8, dtype=torch.bool).triu(1)[None] | pad[:, None, :]) & ~torch.eye(8, dtype=torch.bool)[None]
        att = att.masked_fill(mask[:, None], float("-inf")).softmax(-1)
    assert np.allclose(maps[0, 0], att[0].numpy(), atol=1e-6)


def test_attention_maps_bad_input():
    data = cycle_data(n_users=5)
    model = small(SASRec, n_epochs=1).fit(data)
    with pytest.raises(ValueError, match="unknown"):
        model.attention_maps(["nobody"])
    with pytest.raises(Exception):
        small(SASRec).attention_maps([0])
