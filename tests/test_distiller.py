"""recbook.distill.Distiller: both routes, their formulas, and bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from recbook.baselines import BaselineOnly, Popularity
from recbook.cf import EASE, BiasedMF
from recbook.distill import Distiller
from recbook.distill.losses import soft_target_loss
from recbook.models import TorchBPR


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A small implicit data set with structure: two user groups, each liking one half of the items."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(60):
        half = np.arange(0, 20) if u % 2 == 0 else np.arange(20, 40)
        for i in rng.choice(half, size=8, replace=False):
            rows.append((f"u{u}", f"i{i}", float(rng.integers(1, 6))))
        rows.append((f"u{u}", f"i{int(rng.integers(0, 40))}", 3.0))
    return pd.DataFrame(rows, columns=["user", "item", "rating"]).drop_duplicates(["user", "item"])


def _student(**kw) -> TorchBPR:
    return TorchBPR(**{"n_factors": 4, "n_epochs": 5, "batch_size": 64, "lr": 0.05, **kw})


def test_alpha_zero_is_the_plain_student(frame):
    plain = _student().fit(frame)
    d = Distiller(EASE(reg=10.0), _student(), loss="soft", alpha=0.0).fit(frame)
    for name, value in plain.state_dict_.items():
        np.testing.assert_array_equal(d.student_.state_dict_[name], value)
    np.testing.assert_allclose(d.predict(["u0", "u1"], ["i0", "i30"]), plain.predict(["u0", "u1"], ["i0", "i30"]))


def test_loss_is_the_stated_mix(frame):
    """The wrapped loss equals (1 - alpha) * own loss + alpha * T^2 KL over the unseen items."""
    teacher = EASE(reg=10.0).fit(frame)
    d = Distiller(teacher, _student(), loss="soft", alpha=0.3, temperature=2.0)
    d.fit(frame)  # sets the id maps
    student = d.student_
    module = student._get_module().train()
    wrap = d._wrapper(teacher)(student, student._loss)
    batch = {"u": torch.tensor([0, 1, 2, 0]), "i": torch.tensor([0, 1, 2, 3]), "r": torch.ones(4)}
    got = wrap(module, batch, torch.Generator().manual_seed(5))
    own = student._loss(module, batch, torch.Generator().manual_seed(5))
    users = torch.tensor([0, 1, 2])
    s = student._scores(module, users)
    t = d.teacher_scores(student, teacher)[users]
    mask = torch.isinf(t)
    assert mask.any()  # the users' training items are excluded
    kd = soft_target_loss(s.masked_fill(mask, -1e9), t.masked_fill(mask, -1e9), 2.0)
    torch.testing.assert_close(got, 0.7 * own + 0.3 * kd)


def test_teacher_scores_follow_the_students_ids(frame):
    teacher = EASE(reg=10.0).fit(frame.sample(frac=1.0, random_state=1))  # other id order
    d = Distiller(teacher, _student(), alpha=0.5, exclude_seen=False).fit(frame)
    table = d.teacher_scores(d.student_, teacher).numpy()
    users, items = d.student_.user_ids_[[0, 5]], d.student_.item_ids_[[3, 7]]
    expected = teacher._score_users(teacher.user_index(users))[:, teacher.item_index(items)]
    np.testing.assert_allclose(table[np.ix_([0, 5], [3, 7])], expected, rtol=1e-6)


def test_score_distillation_makes_the_student_follow_the_teacher(frame):
    teacher = _student(n_factors=8, n_epochs=30, seed=3).fit(frame)

    def agreement(model):
        u = np.arange(model.n_users_)
        a = model._score_users(u)
        b = teacher._score_users(teacher.user_index(model.user_ids_))[:, teacher.item_index(model.item_ids_)]
        return float(np.mean([np.corrcoef(x, y)[0, 1] for x, y in zip(a, b)]))

    plain = Distiller(teacher, _student(n_epochs=30), loss="score", alpha=0.0).fit(frame)
    taught = Distiller(teacher, _student(n_epochs=30), loss="score", alpha=1.0, exclude_seen=False).fit(frame)
    assert agreement(taught.student_) > 0.9
    assert agreement(taught.student_) > agreement(plain.student_) + 0.1


@pytest.mark.parametrize("loss", ["hard", "ranking", "listwise"])
def test_top_k_losses_train(frame, loss):
    d = Distiller(EASE(reg=10.0), _student(), loss=loss, alpha=0.5, top_k=5).fit(frame)
    assert np.isfinite(d.history_["loss"]).all()
    assert d.recommend(["u0"], k=3).shape[0] == 3


def test_unfitted_teacher_is_cloned_and_fitted_with_the_seed(frame):
    teacher = _student(n_factors=3)
    d = Distiller(teacher, _student(), alpha=0.5, seed=7).fit(frame)
    assert not hasattr(teacher, "user_ids_")  # the given teacher is untouched
    assert d.teacher_.seed == 7 and d.student_.seed == 7


def test_labels_route(frame):
    teacher = BaselineOnly().fit(frame)
    d = Distiller(teacher, BiasedMF(n_factors=2, n_epochs=3), loss="labels", alpha=1.0, unobserved_ratio=0.5, seed=1)
    labelled = d._labelled_frame(frame, teacher)
    n = len(frame)
    np.testing.assert_allclose(labelled["rating"][:n], teacher.predict(frame["user"], frame["item"]))
    extra = labelled.iloc[n:]
    assert 0 < len(extra) <= round(0.5 * n)
    assert not extra.merge(frame, on=["user", "item"]).shape[0]  # only unobserved pairs
    assert not extra.duplicated(["user", "item"]).any()
    np.testing.assert_allclose(extra["rating"], teacher.predict(extra["user"], extra["item"]))
    half = Distiller(teacher, BiasedMF(), loss="labels", alpha=0.25, unobserved_ratio=0.0)._labelled_frame(frame, teacher)
    np.testing.assert_allclose(half["rating"], 0.25 * teacher.predict(frame["user"], frame["item"]) + 0.75 * frame["rating"])
    d.fit(frame)
    assert d.n_distilled_pairs_ == len(extra)
    assert d._predicts_ratings()
    p = d.predict(frame["user"][:5], frame["item"][:5])
    assert ((p >= 1) & (p <= 5)).all()


def test_pickles_without_the_training_closure(frame):
    d = Distiller(Popularity(), _student(), alpha=0.5).fit(frame)
    assert "_loss_wrapper" not in d.student_.__dict__
    back = pickle.loads(pickle.dumps(d))
    np.testing.assert_allclose(back.predict(["u0"], ["i1"]), d.predict(["u0"], ["i1"]))


def test_bad_input(frame):
    with pytest.raises(TypeError, match="torch student"):
        Distiller(Popularity(), BiasedMF(), loss="soft").fit(frame)
    with pytest.raises(ValueError, match="alpha"):
        Distiller(Popularity(), _student(), alpha=1.5).fit(frame)
    with pytest.raises(ValueError, match="loss"):
        Distiller(Popularity(), _student(), loss="kl").fit(frame)
    with pytest.raises(ValueError, match="temperature"):
        Distiller(Popularity(), _student(), temperature=0).fit(frame)
    with pytest.raises(TypeError, match="teacher"):
        Distiller("EASE", _student()).fit(frame)
    other = Popularity().fit(frame[frame["user"] != "u0"])
    with pytest.raises(ValueError, match="does not know 1 of the training users"):
        Distiller(other, _student()).fit(frame)


def test_a_sequential_student_with_dropout_is_reproducible(frame):
    """Dropout in the distillation term's forward pass draws from the seeded generator."""
    from recbook.models.sequential import SASRec

    teacher = EASE(reg=10.0).fit(frame)

    def run(seed):
        student = SASRec(n_factors=8, max_len=10, n_epochs=2, batch_size=16, dropout=0.3)
        return Distiller(teacher, student, loss="soft", alpha=0.5, temperature=2.0, seed=seed).fit(frame).student_

    a, b, c = run(1), run(1), run(2)
    for name in a.state_dict_:
        np.testing.assert_array_equal(a.state_dict_[name], b.state_dict_[name])
    assert any(not np.array_equal(a.state_dict_[n], c.state_dict_[n]) for n in a.state_dict_)


# ------------------------------------------------------------------ warm start
def test_warm_start_starts_from_the_old_weights(frame):
    """One epoch at lr 0 leaves a warm-started student exactly at the old weights, matched by raw id."""
    old = _student().fit(frame)
    new_frame = frame[frame["user"] != "u3"]  # a smaller frame: the internal indices move
    d = Distiller(EASE(reg=10.0), _student(n_epochs=1, lr=1e-12), alpha=0.5, warm_start=old).fit(new_frame)
    new = d.student_
    assert new.n_warm_users_ == new.n_users_ and new.n_warm_items_ == new.n_items_
    for key in ("user.weight", "item.weight", "bias.weight"):
        rows = (old.user_index if key == "user.weight" else old.item_index)(
            new.user_ids_ if key == "user.weight" else new.item_ids_
        )
        np.testing.assert_allclose(new.state_dict_[key], old.state_dict_[key][rows], atol=1e-6)
    cold = Distiller(EASE(reg=10.0), _student(n_epochs=1, lr=1e-12), alpha=0.5).fit(new_frame)
    assert not np.allclose(cold.student_.state_dict_["user.weight"], new.state_dict_["user.weight"])


def test_warm_start_keeps_fresh_rows_for_new_ids(frame):
    old = _student().fit(frame[frame["user"] != "u5"])
    d = Distiller(EASE(reg=10.0), _student(n_epochs=1, lr=1e-12), alpha=0.0, warm_start=old).fit(frame)
    new = d.student_
    assert new.n_warm_users_ == new.n_users_ - 1
    u5 = new.user_index(["u5"])[0]
    fresh = _student(n_epochs=1, lr=1e-12).fit(frame)  # the same seed builds the same random rows
    np.testing.assert_allclose(new.state_dict_["user.weight"][u5], fresh.state_dict_["user.weight"][u5], atol=1e-6)
    assert Distiller(EASE(), _student(), warm_start=d).get_params()["warm_start"] is d  # a fitted Distiller works too
    Distiller(EASE(reg=10.0), _student(n_epochs=1), warm_start=d).fit(frame)


def test_warm_start_bad_input(frame):
    old = _student().fit(frame)
    with pytest.raises(TypeError, match="TorchBPR"):
        Distiller(EASE(), _student(), warm_start=EASE().fit(frame)).fit(frame)
    with pytest.raises(ValueError, match="fitted"):
        Distiller(EASE(), _student(), warm_start=_student()).fit(frame)
    with pytest.raises(ValueError, match="shape"):
        Distiller(EASE(reg=10.0), _student(n_factors=6), warm_start=old).fit(frame)
    with pytest.raises(ValueError, match="labels"):
        Distiller(BaselineOnly(), BaselineOnly(), loss="labels", warm_start=old).fit(frame)
