r"""The :class:`Distiller`: train a small student recommender from a large teacher.

Knowledge distillation (Hinton et al. 2015) trains a *student* on what a
trained *teacher* predicts, not only on the data. For a recommender the
teacher's knowledge is its score for every (user, item) pair, including the
pairs nobody observed, which is exactly where the data are silent.

The :class:`Distiller` is an estimator like any other (``fit``, ``predict``,
``recommend``): it fits (or reuses) the teacher, then trains the student, and
delegates scoring to the trained student. It has two routes.

**Loss mixing** (a torch student, :class:`~recbook.models.base.TorchRecommender`).
Each mini-batch of the student's own training adds a distillation term on the
batch's users :math:`\mathcal{B}`:

.. math::

    \mathcal{L} = (1 - \alpha)\, \mathcal{L}_{student}
        + \alpha\, \mathcal{L}_{KD}\big(s_{\mathcal{B}},\, t_{\mathcal{B}}\big),

where :math:`s_{\mathcal{B}}` and :math:`t_{\mathcal{B}}` are the student's
and the teacher's score rows over the catalogue and :math:`\mathcal{L}_{KD}`
is one of the losses of :mod:`recbook.distill.losses`, chosen by ``loss``:

``"soft"``
    :func:`~recbook.distill.losses.soft_target_loss` at temperature
    :math:`T` (Hinton et al. 2015);
``"score"``
    :func:`~recbook.distill.losses.score_distillation_loss` (mean squared
    error between scores);
``"hard"``
    :func:`~recbook.distill.losses.hard_label_loss`: the teacher's
    top-:math:`K` items as labels;
``"ranking"``
    :func:`~recbook.distill.losses.ranking_distillation_loss` (Tang & Wang
    2018): the teacher's top-:math:`K` as position-weighted positives;
``"listwise"``
    :func:`~recbook.distill.losses.listwise_distillation_loss`: the
    teacher's order of its top-:math:`K`.

With ``exclude_seen`` (the default) the distillation term only looks at the
items the user has *not* interacted with in training, the candidates that
are ranked at recommendation time: the teacher's top-:math:`K` is taken
among them, and the soft targets and the squared error are computed over
them (a user's training items are already positives of the student's own
loss). ``alpha = 0`` trains the plain student through the same code.

**Teacher labels** (``loss="labels"``, any student, e.g. a rating model).
The student is fitted on a new training frame: every observed rating is
replaced by the mix :math:`\alpha\, \hat r^{T}_{ui} + (1-\alpha)\, r_{ui}`,
and ``unobserved_ratio`` :math:`\times` as many *unobserved* pairs are added,
labelled with the teacher's prediction :math:`\hat r^{T}_{ui}` (users drawn
in proportion to their activity, items by ``sampling``). For a squared-error
student this is the same mix of losses: :math:`\alpha (\hat r - \hat r^T)^2 +
(1-\alpha)(\hat r - r)^2` equals :math:`(\hat r - [\alpha \hat r^T +
(1-\alpha) r])^2` plus a constant.

References
----------
G. Hinton, O. Vinyals and J. Dean, "Distilling the knowledge in a neural
network", NIPS Deep Learning Workshop 2015.
J. Tang and K. Wang, "Ranking distillation: learning compact ranking models
with high performance for recommender system", KDD 2018.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from recbook.base import Recommender
from recbook.distill import losses as _losses
from recbook.train import seeded
from recbook.utils import Boolean, InstanceOf, Integer, Options, Real

__all__ = ["Distiller", "LOSSES"]

#: The distillation losses of the loss-mixing route, by name.
LOSSES: dict[str, str] = {
    "soft": "soft_target_loss",
    "score": "score_distillation_loss",
    "hard": "hard_label_loss",
    "ranking": "ranking_distillation_loss",
    "listwise": "listwise_distillation_loss",
}

#: A large negative logit that removes an item from a softmax without NaNs.
_MASKED = -1e9


def _is_fitted(model: Recommender) -> bool:
    return hasattr(model, "user_ids_")


class Distiller(Recommender):
    r"""Train ``student`` from ``teacher`` (see the module docstring for the formulas).

    Parameters
    ----------
    teacher : Recommender
        A fitted model is used as it is (it must know the training users and
        items); an unfitted one is cloned and fitted on the training data
        first, with the Distiller's ``seed`` when it has a ``seed``
        parameter. (Cloning a Distiller, as the protocols do, clones the
        teacher too, so each split gets its own teacher.)
    student : Recommender
        Unfitted; cloned at ``fit`` and given the Distiller's ``seed``. A
        :class:`~recbook.models.base.TorchRecommender` unless ``loss="labels"``.
    loss : {"soft", "score", "hard", "ranking", "listwise", "labels"}, default "soft"
    alpha : float in [0, 1], default 0.5
        The weight of the distillation term (``0``: the plain student).
    temperature : float > 0, default 1.0
        :math:`T` of ``"soft"`` and ``"listwise"``.
    top_k : int >= 1, default 10
        :math:`K` of ``"hard"``, ``"ranking"`` and ``"listwise"``.
    exclude_seen : bool, default True
        Distil only over each user's unseen items (loss-mixing route).
    unobserved_ratio : float >= 0, default 1.0
        ``"labels"``: teacher-labelled unobserved pairs per observed rating.
    sampling : {"popularity", "uniform"}, default "popularity"
        ``"labels"``: how the unobserved pairs' items are drawn (in proportion
        to their training interactions, as test pairs tend to be, or
        uniformly).
    warm_start : Recommender or None, default None
        A *fitted* student of the same class (or a fitted Distiller, whose
        student is used) whose weights start the new student's training
        instead of a random initialisation: users and items are matched by
        raw id, new ones start fresh (torch students that declare their id
        tables, e.g. :class:`~recbook.models.bpr.TorchBPR`). This refreshes
        a deployed student from an updated teacher in a few epochs (chapter
        7.5). Not cloned: the same fitted model is read by every ``fit``.
    seed : int, default 0

    Attributes
    ----------
    teacher_ : Recommender
        The teacher used (the given one when it was fitted).
    student_ : Recommender
        The trained student; ``predict`` and ``recommend`` use it.
    history_ : pandas.DataFrame or None
        The student's training history (torch students).
    n_distilled_pairs_ : int
        ``"labels"``: the number of unobserved pairs added.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "teacher": [InstanceOf(Recommender, what="a recbook Recommender")],
        "student": [InstanceOf(Recommender, what="a recbook Recommender")],
        "loss": [Options(*LOSSES, "labels")],
        "alpha": [Real(min=0, max=1)],
        "temperature": [Real(min=0, min_open=True)],
        "top_k": [Integer(min=1)],
        "exclude_seen": [Boolean()],
        "unobserved_ratio": [Real(min=0)],
        "sampling": [Options("popularity", "uniform")],
        "warm_start": [None, InstanceOf(Recommender, what="a fitted recbook Recommender")],
        "seed": [Integer(min=0)],
    }

    def __init__(
        self,
        teacher: Recommender,
        student: Recommender,
        loss: str = "soft",
        alpha: float = 0.5,
        temperature: float = 1.0,
        top_k: int = 10,
        exclude_seen: bool = True,
        unobserved_ratio: float = 1.0,
        sampling: str = "popularity",
        warm_start: Recommender | None = None,
        seed: int = 0,
    ) -> None:
        self.teacher = teacher
        self.student = student
        self.loss = loss
        self.alpha = alpha
        self.temperature = temperature
        self.top_k = top_k
        self.exclude_seen = exclude_seen
        self.unobserved_ratio = unobserved_ratio
        self.sampling = sampling
        self.warm_start = warm_start
        self.seed = seed

    @classmethod
    def _example(cls, data: Any) -> "Distiller":
        from recbook.baselines import Popularity
        from recbook.models.bpr import TorchBPR

        return cls(Popularity(), TorchBPR(n_factors=4, n_epochs=2, batch_size=256), loss="soft", alpha=0.5)

    def _check_params(self) -> None:
        from recbook.models.base import TorchRecommender

        if self.loss != "labels" and not isinstance(self.student, TorchRecommender):
            raise TypeError(
                f"loss={self.loss!r} mixes a distillation term into the student's training, which needs a torch "
                f"student (a recbook.models TorchRecommender), got {type(self.student).__name__}; "
                "use loss='labels' to distil into any other model"
            )
        if self.warm_start is not None:
            if self.loss == "labels":
                raise ValueError("warm_start needs the loss-mixing route (a torch student), not loss='labels'")
            init = self._warm_model()
            if type(init) is not type(self.student):
                raise TypeError(f"warm_start must be a fitted {type(self.student).__name__}, got {type(init).__name__}")
            if not _is_fitted(init):
                raise ValueError(f"warm_start must be fitted (a clone of a Distiller holds an unfitted copy)")

    def _warm_model(self) -> Recommender:
        init = self.warm_start
        return getattr(init, "student_", init) if isinstance(init, Distiller) else init

    def _predicts_ratings(self) -> bool:
        student = getattr(self, "student_", self.student)
        return bool(student._predicts_ratings())

    # ------------------------------------------------------------------ fit
    def _seeded_clone(self, model: Recommender) -> Recommender:
        from sklearn.base import clone

        out = clone(model)
        if "seed" in out.get_params(deep=False):
            out.set_params(seed=int(self.seed))
        return out

    def _fit_frame(self, frame: pd.DataFrame, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        if _is_fitted(self.teacher):
            teacher = self.teacher
            unknown = ~np.isin(self.user_ids_, teacher.user_ids_)
            if unknown.any():
                raise ValueError(
                    f"the fitted teacher does not know {int(unknown.sum())} of the training users "
                    f"(e.g. {self.user_ids_[unknown][0]!r}): fit it on the same training data, or pass it unfitted"
                )
        else:
            teacher = self._seeded_clone(self.teacher).fit(frame)
        self.teacher_ = teacher
        student = self._seeded_clone(self.student)
        if self.loss == "labels":
            student.fit(self._labelled_frame(frame, teacher))
        else:
            student._loss_wrapper = self._wrapper(teacher)
            if self.warm_start is not None:
                student._init_from = self._warm_model()
            try:
                student.fit(frame)
            finally:
                student.__dict__.pop("_loss_wrapper", None)
                student.__dict__.pop("_init_from", None)
        if not (np.array_equal(student.user_ids_, self.user_ids_) and np.array_equal(student.item_ids_, self.item_ids_)):
            raise RuntimeError("the student's id maps differ from the training frame's")  # pragma: no cover
        self.student_ = student
        self.history_ = getattr(student, "history_", None)

    # ------------------------------------------------ route 1: loss mixing
    def teacher_scores(self, student: Recommender, teacher: Recommender) -> torch.Tensor:
        """The teacher's score matrix in the student's index space, ``(n_users, n_items)`` float32.

        Items the teacher does not know get the row's lowest score; with
        ``exclude_seen`` the student's training items get ``-inf``.
        """
        tu = teacher.user_index(student.user_ids_)
        ti = teacher.item_index(student.item_ids_)
        out = np.empty((student.n_users_, student.n_items_), dtype=np.float32)
        for start in range(0, student.n_users_, 512):
            rows = teacher._score_users(tu[start : start + 512])
            block = np.where(ti >= 0, rows[:, np.maximum(ti, 0)], np.nan)
            low = np.nanmin(np.where(np.isfinite(block), block, np.nan), axis=1, keepdims=True)
            out[start : start + 512] = np.where(np.isfinite(block), block, np.nan_to_num(low, nan=0.0))
        if self.exclude_seen:
            seen = student.train_.tocoo()
            out[seen.row, seen.col] = -np.inf
        return torch.from_numpy(out)

    def _wrapper(self, teacher: Recommender) -> Callable[[Any, Callable], Callable]:
        """``wrap(student, loss) -> loss_fn`` for :class:`~recbook.models.base.TorchRecommender`."""
        alpha = float(self.alpha)
        kind, t, k = self.loss, float(self.temperature), int(self.top_k)
        fn = getattr(_losses, LOSSES[kind])

        def wrap(student: Any, base_loss: Callable) -> Callable:
            table = self.teacher_scores(student, teacher)
            seen = torch.isinf(table)

            def loss_fn(module: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
                plain = base_loss(module, batch, generator) if alpha < 1.0 else None
                if alpha == 0.0:
                    return plain
                users = torch.unique(batch["u"])
                # dropout in the student's forward pass draws from torch's global generator:
                # seed it from the loop's generator, so a seed fixes the run
                with seeded(generator, users.device):
                    s = student._scores(module, users)
                tt = table[users.cpu()].to(s.device)
                mask = seen[users.cpu()].to(s.device)
                if kind == "score":
                    kd = fn(s[~mask], tt[~mask])
                elif kind == "soft":
                    kd = fn(s.masked_fill(mask, _MASKED), tt.masked_fill(mask, _MASKED), t)
                elif kind == "listwise":
                    kd = fn(s, tt, k=k, temperature=t)
                else:
                    kd = fn(s, tt, k=k)
                return kd if plain is None else (1.0 - alpha) * plain + alpha * kd

            return loss_fn

        return wrap

    # ---------------------------------------------- route 2: teacher labels
    def _labelled_frame(self, frame: pd.DataFrame, teacher: Recommender) -> pd.DataFrame:
        """The student's training frame: mixed labels on observed pairs, teacher labels on sampled unobserved ones."""
        alpha = float(self.alpha)
        users = frame["user"].to_numpy()
        items = frame["item"].to_numpy()
        r = frame["rating"].to_numpy(dtype=np.float64)
        observed = pd.DataFrame({"user": users, "item": items, "rating": alpha * teacher.predict(users, items) + (1 - alpha) * r})
        n_extra = int(round(float(self.unobserved_ratio) * len(frame)))
        self.n_distilled_pairs_ = 0
        if n_extra == 0:
            return observed
        rng = np.random.default_rng(int(self.seed))
        catalogue, counts = np.unique(items, return_counts=True)
        p = counts / counts.sum() if self.sampling == "popularity" else None
        seen = set(zip(users.tolist(), items.tolist()))
        cand_u = users[rng.integers(0, len(users), size=2 * n_extra)]  # users in proportion to activity
        cand_i = rng.choice(catalogue, size=2 * n_extra, p=p)
        extra = pd.DataFrame({"user": cand_u, "item": cand_i})
        keep = np.fromiter(((a, b) not in seen for a, b in zip(cand_u.tolist(), cand_i.tolist())), bool, len(extra))
        extra = extra[keep].drop_duplicates().head(n_extra)
        extra["rating"] = teacher.predict(extra["user"].to_numpy(), extra["item"].to_numpy())
        self.n_distilled_pairs_ = len(extra)
        return pd.concat([observed, extra], ignore_index=True)

    # -------------------------------------------------------------- scoring
    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self.student_._predict_idx(u, i)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        return self.student_._score_users(u)
