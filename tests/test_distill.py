"""recbook.distill.losses: each loss against a hand computation in NumPy.

The hand computations are written from the formulas in the docstrings, term
by term (no torch), so a loss that swaps teacher and student, forgets the
temperature or its T^2 factor, or averages over the wrong axis fails here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
# float(loss) on a loss that requires grad is what the tests mean.
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")

from recbook.distill import (  # noqa: E402
    HintLoss,
    hard_label_loss,
    listwise_distillation_loss,
    ranking_distillation_loss,
    score_distillation_loss,
    soft_target_loss,
)

S = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, -0.5, 3.0, 1.0]])
T = np.array([[2.0, 0.0, 1.0, 1.0], [1.0, 2.5, -1.0, 0.5]])


def softmax(x: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = np.exp(x / t - (x / t).max())
    return z / z.sum()


def tensors(requires_grad: bool = True):
    s = torch.tensor(S, dtype=torch.float64, requires_grad=requires_grad)
    t = torch.tensor(T, dtype=torch.float64, requires_grad=True)
    return s, t


def top_k(row: np.ndarray, k: int) -> list[int]:
    """Best first; ties to the lower index."""
    return sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_soft_target_loss_matches_hand_computation(temperature):
    expected = 0.0
    for s, t in zip(S, T):
        p, q = softmax(t, temperature), softmax(s, temperature)
        expected += sum(p[j] * math.log(p[j] / q[j]) for j in range(len(p)))
    expected = temperature**2 * expected / len(S)
    s, t = tensors()
    loss = soft_target_loss(s, t, temperature=temperature)
    assert loss.dim() == 0
    assert float(loss) == pytest.approx(expected, rel=1e-12)


def test_soft_target_loss_direction_is_teacher_to_student():
    # KL is not symmetric: the teacher's distribution is the target.
    s, t = tensors()
    swapped = 0.0
    for srow, trow in zip(S, T):
        p, q = softmax(srow), softmax(trow)
        swapped += sum(p[j] * math.log(p[j] / q[j]) for j in range(len(p)))
    assert float(soft_target_loss(s, t)) != pytest.approx(swapped / len(S), rel=1e-3)


def test_soft_target_loss_is_zero_for_equal_logits_and_gradient_stays_with_student():
    s, t = tensors()
    assert float(soft_target_loss(t.detach().clone(), t)) == pytest.approx(0.0, abs=1e-12)
    soft_target_loss(s, t, temperature=3.0).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_soft_target_gradient_scale_is_independent_of_temperature_for_large_t():
    # With the T^2 factor, the gradient tends to (s - t)/C - mean terms as T grows,
    # instead of vanishing like 1/T^2 (Hinton et al. 2015, section 2.1).
    norms = []
    for temperature in (20.0, 40.0):
        s, t = tensors()
        soft_target_loss(s, t, temperature=temperature).backward()
        norms.append(float(s.grad.norm()))
    assert norms[0] == pytest.approx(norms[1], rel=0.01)


def test_score_distillation_loss_is_mse_over_all_entries():
    s, t = tensors()
    assert float(score_distillation_loss(s, t)) == pytest.approx(float(((S - T) ** 2).mean()), rel=1e-12)
    vector = score_distillation_loss(torch.tensor([3.0, 4.0]), torch.tensor([3.5, 2.0]))
    assert float(vector) == pytest.approx((0.25 + 4.0) / 2)
    s, t = tensors()
    score_distillation_loss(s, t).backward()
    assert t.grad is None


@pytest.mark.parametrize("k", [1, 2, 4])
def test_hard_label_loss_uses_the_teachers_top_k_as_labels(k):
    expected = 0.0
    for s, t in zip(S, T):
        log_p = np.log(softmax(s))
        expected += -np.mean([log_p[j] for j in top_k(t, k)])
    s, t = tensors()
    assert float(hard_label_loss(s, t, k=k)) == pytest.approx(expected / len(S), rel=1e-12)


def test_hard_label_ties_go_to_the_lower_index():
    # Teacher row 0 ties items 2 and 3 at 1.0: with k=2 the labels are items 0 and 2.
    s, t = tensors()
    log_p = np.log(softmax(S[0]))
    row0 = -(log_p[0] + log_p[2]) / 2
    row1 = -(np.log(softmax(S[1]))[[1, 0]]).mean()
    assert float(hard_label_loss(s, t, k=2)) == pytest.approx((row0 + row1) / 2, rel=1e-12)


@pytest.mark.parametrize("lam", [0.5, 1.0, 5.0])
def test_ranking_distillation_loss_matches_hand_computation(lam):
    k = 3
    w = np.exp(-np.arange(1, k + 1) / lam)
    w /= w.sum()
    expected = 0.0
    for s, t in zip(S, T):
        expected += -sum(w[r] * math.log(1 / (1 + math.exp(-s[j]))) for r, j in enumerate(top_k(t, k)))
    s, t = tensors()
    loss = ranking_distillation_loss(s, t, k=k, lam=lam)
    assert float(loss) == pytest.approx(expected / len(S), rel=1e-12)
    loss.backward()
    assert t.grad is None
    # only the teacher's top-k items receive a gradient
    for b, row in enumerate(T):
        outside = sorted(set(range(4)) - set(top_k(row, k)))
        assert np.all(s.grad.numpy()[b, outside] == 0)


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_listwise_distillation_loss_matches_hand_computation(temperature):
    k = 3
    expected = 0.0
    for s, t in zip(S, T):
        idx = top_k(t, k)
        p, q = softmax(t[idx], temperature), softmax(s[idx], temperature)
        expected += sum(p[j] * math.log(p[j] / q[j]) for j in range(k))
    s, t = tensors()
    assert float(listwise_distillation_loss(s, t, k=k, temperature=temperature)) == pytest.approx(
        expected / len(S), rel=1e-12
    )


def test_listwise_with_k_equal_to_all_items_is_the_soft_target_loss_without_t_squared():
    s, t = tensors()
    full = listwise_distillation_loss(s, t, k=4, temperature=2.0)
    assert float(full) == pytest.approx(float(soft_target_loss(s, t, temperature=2.0)) / 4.0, rel=1e-12)


def test_hint_loss_is_mse_after_the_projection_and_trains_it():
    torch.manual_seed(0)
    hint = HintLoss(3, 5).double()
    student = torch.randn(7, 3, dtype=torch.float64)
    teacher = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    w = hint.projection.weight.detach().numpy()
    c = hint.projection.bias.detach().numpy()
    expected = ((student.numpy() @ w.T + c - teacher.detach().numpy()) ** 2).mean()
    loss = hint(student, teacher)
    assert float(loss) == pytest.approx(expected, rel=1e-12)
    loss.backward()
    assert hint.projection.weight.grad is not None and teacher.grad is None


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s, t: soft_target_loss(s, t[:, :3]), r"same shape.*\(2, 4\) and \(2, 3\)"),
        (lambda s, t: soft_target_loss(s, t, temperature=0.0), "temperature must be > 0"),
        (lambda s, t: soft_target_loss(s, t, temperature=-1.0), "temperature must be > 0"),
        (lambda s, t: soft_target_loss(s[0], t[0]), "2 dimensions"),
        (lambda s, t: score_distillation_loss(s, t.T), "same shape"),
        (lambda s, t: hard_label_loss(s, t, k=0), "k must be between 1 and the number of items \\(4\\)"),
        (lambda s, t: hard_label_loss(s, t, k=5), "k must be between"),
        (lambda s, t: ranking_distillation_loss(s, t, k=2, lam=0), "lam must be > 0"),
        (lambda s, t: listwise_distillation_loss(s, t, k=2, temperature=-2), "temperature must be > 0"),
        (lambda s, t: HintLoss(3, 5)(s, t), r"expected \(N, 3\) student and \(N, 5\) teacher"),
        (lambda s, t: HintLoss(0, 5), "student_dim must be >= 1"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    s, t = tensors()
    with pytest.raises(ValueError, match=message):
        call(s, t)


def test_bad_types_raise_type_error():
    s, t = tensors()
    with pytest.raises(TypeError, match="teacher must be a torch.Tensor"):
        soft_target_loss(s, T)
    with pytest.raises(TypeError, match="temperature must be a number"):
        soft_target_loss(s, t, temperature="2")
    with pytest.raises(TypeError, match="k must be an int"):
        hard_label_loss(s, t, k=2.0)
