r"""Distillation losses: how a student learns from a teacher's outputs.

Every function takes the **student's** tensor first and the **teacher's**
second, returns a 0-dim tensor (the mean over the batch), and lets no gradient
reach the teacher (its tensor is detached). Shapes are checked up front and a
mismatch raises ``ValueError`` naming both shapes.

Notation (chapter 7): a batch of :math:`B` users, :math:`C` candidate items;
:math:`s_b, t_b \in \mathbb{R}^C` are the student's and the teacher's scores
(logits) for user :math:`b`; :math:`T > 0` is the temperature and
:math:`\sigma_T(x)_j = e^{x_j/T} / \sum_l e^{x_l/T}` the tempered softmax.

* :func:`soft_target_loss` -- Hinton et al. (2015): KL from the teacher's
  tempered distribution to the student's, scaled by :math:`T^2`.
* :func:`score_distillation_loss` -- mean squared error between scores
  (distilling a rating model's predictions).
* :func:`hard_label_loss` -- the teacher's top-K items as labels.
* :func:`ranking_distillation_loss` -- Tang & Wang (2018): the teacher's
  top-K items as position-weighted positives.
* :func:`listwise_distillation_loss` -- ListNet-style KL over the teacher's
  top-K list.
* :class:`HintLoss` -- hint (embedding) distillation through a learned
  projection from the student's width to the teacher's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "soft_target_loss",
    "score_distillation_loss",
    "hard_label_loss",
    "ranking_distillation_loss",
    "listwise_distillation_loss",
    "HintLoss",
]


def _check_pair(student: torch.Tensor, teacher: torch.Tensor, *, ndim: int | None = 2) -> None:
    for name, value in (("student", student), ("teacher", teacher)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if student.shape != teacher.shape:
        raise ValueError(
            f"student and teacher must have the same shape, got {tuple(student.shape)} and {tuple(teacher.shape)}"
        )
    if ndim is not None and student.dim() != ndim:
        raise ValueError(f"expected (batch, items) tensors of {ndim} dimensions, got shape {tuple(student.shape)}")
    if student.numel() == 0:
        raise ValueError(f"student and teacher are empty (shape {tuple(student.shape)})")


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


def _check_k(k: int, n_items: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if not 1 <= k <= n_items:
        raise ValueError(f"k must be between 1 and the number of items ({n_items}), got {k}")
    return k


def _teacher_top_k(teacher: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of each row's ``k`` highest teacher scores, best first, ties to the lower index."""
    # A stable descending sort makes the tie rule explicit (torch.topk's is unspecified).
    return torch.sort(teacher, dim=1, descending=True, stable=True).indices[:, :k]


def soft_target_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    r"""Hinton et al.'s soft-target loss.

    .. math::

        \mathcal{L}_{KD} = T^2 \cdot \frac{1}{B} \sum_{b=1}^{B}
            \mathrm{KL}\big(\sigma_T(t_b) \,\|\, \sigma_T(s_b)\big)
          = T^2 \cdot \frac{1}{B} \sum_b \sum_j \sigma_T(t_b)_j
            \log \frac{\sigma_T(t_b)_j}{\sigma_T(s_b)_j}

    The teacher's distribution is the target (the first argument of the KL),
    the student's the approximation. The factor :math:`T^2` keeps the
    gradient's size independent of :math:`T`, so the loss can be mixed with an
    ordinary loss at a fixed weight :math:`\alpha` while :math:`T` varies.

    Parameters
    ----------
    student_logits, teacher_logits : torch.Tensor of shape (B, C)
        Unnormalised scores; the teacher's is detached.
    temperature : float, > 0
        :math:`T`; larger values soften both distributions.

    Returns
    -------
    torch.Tensor
        A 0-dim tensor.
    """
    _check_pair(student_logits, teacher_logits)
    t = _check_positive("temperature", temperature)
    log_p_student = F.log_softmax(student_logits / t, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits.detach() / t, dim=1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    return kl * (t * t)


def score_distillation_loss(student_scores: torch.Tensor, teacher_scores: torch.Tensor) -> torch.Tensor:
    r"""Mean squared error between the student's and the teacher's scores.

    .. math::

        \mathcal{L}_{score} = \frac{1}{N} \sum_{n=1}^{N} (s_n - t_n)^2

    over all :math:`N` entries, whatever the shape (a vector of predicted
    ratings, or a (B, C) score matrix). Distilling a rating model is
    regression on the teacher's predictions.
    """
    _check_pair(student_scores, teacher_scores, ndim=None)
    return F.mse_loss(student_scores, teacher_scores.detach(), reduction="mean")


def hard_label_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, k: int = 10) -> torch.Tensor:
    r"""Hard-label distillation: the teacher's top-:math:`K` items become the labels.

    With :math:`\mathcal{K}_b` the teacher's :math:`K` best items for user
    :math:`b` (ties to the lower index), the student is trained with the
    multi-label softmax cross-entropy

    .. math::

        \mathcal{L}_{hard} = -\frac{1}{B} \sum_b \frac{1}{K}
            \sum_{j \in \mathcal{K}_b} \log \sigma_1(s_b)_j .

    Only the teacher's ranking is used, not its score values.
    """
    _check_pair(student_logits, teacher_logits)
    k = _check_k(k, student_logits.shape[1])
    top = _teacher_top_k(teacher_logits.detach(), k)
    log_p = F.log_softmax(student_logits, dim=1)
    return -log_p.gather(1, top).mean()


def ranking_distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, k: int = 10, lam: float = 1.0
) -> torch.Tensor:
    r"""Ranking distillation (Tang & Wang 2018), with its position weighting.

    The teacher's top-:math:`K` items :math:`\pi_b(1), \dots, \pi_b(K)` are
    treated as extra positives, weighted by their position:

    .. math::

        \mathcal{L}_{RD} = -\frac{1}{B} \sum_b \sum_{r=1}^{K} w_r
            \log \mathrm{sigmoid}\big(s_{b,\pi_b(r)}\big),
        \qquad w_r = \frac{e^{-r/\lambda}}{\sum_{r'=1}^{K} e^{-r'/\lambda}} .

    A smaller :math:`\lambda` concentrates the weight on the teacher's first
    places. (The paper also multiplies by a *dynamic* weight that grows when
    the student ranks an item too low; that needs the student's full ranking
    at each step and is left out here.)
    """
    _check_pair(student_logits, teacher_logits)
    k = _check_k(k, student_logits.shape[1])
    lam = _check_positive("lam", lam)
    top = _teacher_top_k(teacher_logits.detach(), k)
    positions = torch.arange(1, k + 1, dtype=student_logits.dtype, device=student_logits.device)
    weights = torch.softmax(-positions / lam, dim=0)
    picked = F.logsigmoid(student_logits.gather(1, top))
    return -(picked * weights).sum(dim=1).mean()


def listwise_distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, k: int = 10, temperature: float = 1.0
) -> torch.Tensor:
    r"""ListNet-style list-wise distillation over the teacher's top-:math:`K`.

    Restricted to the teacher's :math:`K` best items :math:`\mathcal{K}_b`,
    both score vectors become top-one distributions and the student matches
    the teacher's:

    .. math::

        \mathcal{L}_{list} = \frac{1}{B} \sum_b
            \mathrm{KL}\big(\sigma_T(t_{b,\mathcal{K}_b}) \,\|\,
                            \sigma_T(s_{b,\mathcal{K}_b})\big) .

    Unlike :func:`soft_target_loss` this ignores the long tail, where a
    recommender's teacher is least reliable, and teaches the *order* of the
    head of the list.
    """
    _check_pair(student_logits, teacher_logits)
    k = _check_k(k, student_logits.shape[1])
    t = _check_positive("temperature", temperature)
    teacher = teacher_logits.detach()
    top = _teacher_top_k(teacher, k)
    log_p_student = F.log_softmax(student_logits.gather(1, top) / t, dim=1)
    log_p_teacher = F.log_softmax(teacher.gather(1, top) / t, dim=1)
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)


class HintLoss(torch.nn.Module):
    r"""Hint (embedding) distillation through a learned projection.

    A student's embeddings (width :math:`d_s`) are mapped to the teacher's
    width :math:`d_t` by a linear projection :math:`W` that is trained with the
    student and thrown away afterwards:

    .. math::

        \mathcal{L}_{hint} = \frac{1}{N d_t} \sum_{n=1}^{N}
            \lVert W e^{S}_n + c - e^{T}_n \rVert_2^2 .

    Parameters
    ----------
    student_dim, teacher_dim : int
        :math:`d_s` and :math:`d_t`.
    """

    def __init__(self, student_dim: int, teacher_dim: int) -> None:
        super().__init__()
        for name, value in (("student_dim", student_dim), ("teacher_dim", teacher_dim)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.projection = torch.nn.Linear(student_dim, teacher_dim)

    def forward(self, student_embeddings: torch.Tensor, teacher_embeddings: torch.Tensor) -> torch.Tensor:
        """The hint loss (above) of ``(N, d_s)`` student and ``(N, d_t)`` teacher embeddings; no gradient reaches the teacher."""
        if student_embeddings.dim() != 2 or teacher_embeddings.dim() != 2:
            raise ValueError(
                "embeddings must be (N, dim) tensors, got shapes "
                f"{tuple(student_embeddings.shape)} and {tuple(teacher_embeddings.shape)}"
            )
        expected = (self.projection.in_features, self.projection.out_features)
        got = (student_embeddings.shape[1], teacher_embeddings.shape[1])
        if got != expected or student_embeddings.shape[0] != teacher_embeddings.shape[0]:
            raise ValueError(
                f"expected (N, {expected[0]}) student and (N, {expected[1]}) teacher embeddings, got "
                f"{tuple(student_embeddings.shape)} and {tuple(teacher_embeddings.shape)}"
            )
        return F.mse_loss(self.projection(student_embeddings), teacher_embeddings.detach(), reduction="mean")
