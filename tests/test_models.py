"""The torch base (recbook.models.base) and its worked example, TorchBPR."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recbook.models import TorchBPR  # noqa: E402
from recbook.models.base import TorchRecommender  # noqa: E402


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(40), 8)
    items = np.concatenate([rng.choice(60, 8, replace=False) for _ in range(40)])
    return pd.DataFrame({"user": users, "item": items})


def test_loss_is_the_bpr_formula_by_hand(frame):
    m = TorchBPR(n_factors=3, n_epochs=1, reg=0.1, seed=0).fit(frame)
    module = m._get_module()
    batch = {"u": torch.tensor([0, 1, 2]), "i": torch.tensor([5, 6, 7]), "r": torch.ones(3)}
    g = torch.Generator().manual_seed(123)
    loss = m._loss(module, batch, g)
    # replay the generator: negatives, the redraws, then keep a redraw where the first hit a positive
    g2 = torch.Generator().manual_seed(123)
    j = torch.randint(0, m.n_items_, (3,), generator=g2)
    again = torch.randint(0, m.n_items_, (3,), generator=g2)
    seen = set(zip(*m.train_.nonzero()))
    j = torch.tensor([int(a) if (u, int(jj)) in seen else int(jj) for u, jj, a in zip([0, 1, 2], j, again)])
    P, Q, b = (m.state_dict_[k] for k in ("user.weight", "item.weight", "bias.weight"))
    total = 0.0
    for u, i, jj in zip([0, 1, 2], [5, 6, 7], j.tolist()):
        x = P[u] @ Q[i] + b[i, 0] - P[u] @ Q[jj] - b[jj, 0]
        total += np.log1p(np.exp(-x)) + 0.1 * (P[u] @ P[u] + Q[i] @ Q[i] + Q[jj] @ Q[jj])
    assert float(loss.detach()) == pytest.approx(total / 3, rel=1e-5)


def test_training_lowers_the_loss_and_fills_the_vocabulary(frame):
    m = TorchBPR(n_factors=8, n_epochs=15, lr=0.01, seed=0).fit(frame)
    assert list(m.history_.columns) == ["epoch", "loss"] and len(m.history_) == 15
    assert m.history_["loss"].iloc[-1] < m.history_["loss"].iloc[0] < 0.7
    assert m.user_factors_.shape == (m.n_users_, 8) and m.item_bias_.shape == (m.n_items_,)
    assert not m._predicts_ratings()


def test_same_seed_same_parameters_and_the_global_generator_is_untouched(frame):
    torch.manual_seed(7)
    before = torch.rand(1)
    torch.manual_seed(7)
    a = TorchBPR(n_factors=4, n_epochs=3, seed=3).fit(frame)
    after = torch.rand(1)
    assert torch.equal(before, after), "fitting must not consume the caller's torch random state"
    b = TorchBPR(n_factors=4, n_epochs=3, seed=3).fit(frame)
    c = TorchBPR(n_factors=4, n_epochs=3, seed=4).fit(frame)
    for k in a.state_dict_:
        np.testing.assert_array_equal(a.state_dict_[k], b.state_dict_[k])
    assert not np.array_equal(a.state_dict_["user.weight"], c.state_dict_["user.weight"])


def test_checkpoint_round_trip_with_weights_only(frame, tmp_path):
    m = TorchBPR(n_factors=4, n_epochs=2).fit(frame)
    path = m.save(tmp_path / "bpr.pt")
    raw = torch.load(path, weights_only=True)  # nothing but tensors and plain values
    assert raw["format"] == "recbook-checkpoint-1" and raw["class"].endswith("TorchBPR")
    back = TorchBPR.load(path)
    users, items = frame["user"].to_numpy()[:20], frame["item"].to_numpy()[:20]
    np.testing.assert_array_equal(back.predict(users, items), m.predict(users, items))
    assert back.recommend([0, 1], k=5).equals(m.recommend([0, 1], k=5))
    assert back.get_params() == m.get_params()
    pd.testing.assert_frame_equal(back.history_, m.history_, check_dtype=False)


def test_load_refuses_other_files_and_classes(frame, tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a recbook checkpoint"):
        TorchBPR.load(tmp_path / "other.pt")

    class OtherModel(TorchBPR):
        pass

    path = TorchBPR(n_factors=2, n_epochs=1).fit(frame).save(tmp_path / "bpr.pt")
    with pytest.raises(ValueError, match="holds a"):
        OtherModel.load(path)


def test_unknown_user_gets_the_item_biases(frame):
    m = TorchBPR(n_factors=4, n_epochs=2).fit(frame)
    s = m.score_items([-12345])[0]
    np.testing.assert_allclose(s, m.item_bias_, rtol=1e-6)


def test_the_base_is_abstract():
    assert TorchRecommender.__dict__.get("_abstract") is True
    with pytest.raises(NotImplementedError):
        TorchRecommender()._build()
