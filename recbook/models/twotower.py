r"""A two-tower model whose item tower reads the item's text: transfer learning from a language model.

A *two-tower* (dual-encoder) recommender scores a user-item pair by the dot
product of two vectors computed by two separate networks, a user tower and an
item tower (Covington et al., 2016; Yi et al., 2019):

.. math::

    \hat x_{ui} = \mathbf p_u^\top \mathbf q_i .

Here the item tower starts from the item's text embedding
:math:`\mathbf t_i \in \mathbb R^{384}` computed once by the language model
all-MiniLM-L6-v2 (:func:`recbook.content.embed_items`) and projects it into
the :math:`d`-dimensional score space with a trained MLP,

.. math::

    \mathbf q_i = W_2\, \mathrm{GELU}(W_1 \mathbf t_i + \mathbf c_1) + \mathbf c_2
    \;\bigl[\, + \mathbf v_i \,\bigr],

where the bracketed *id residual* :math:`\mathbf v_i` (a free vector per
training item, initialised at zero) is used with ``item_tower="text+id"``.
**What is trained:** the projection :math:`W_1, \mathbf c_1, W_2, \mathbf c_2`,
the user tower and, with ``"text+id"``, the residuals. **What is not:** the
language model itself. Its 22.7 million weights stay frozen (the
:math:`\mathbf t_i` are fixed inputs, computed once and cached); fine-tuning
it is a GPU job, out of this CPU book's budget. ``item_tower="text"`` is the
*frozen-feature* form of transfer learning (a new head on fixed features);
``"text+id"`` lets every training item move away from what its text says, so
it can fit the interactions better, while a new item, which has no residual,
is still placed by its text alone.

The user tower is either a free embedding :math:`\mathbf p_u`
(``user_tower="id"``), or the mean of the item-tower vectors of the user's
training items, passed through a linear map (``user_tower="mean"``):
:math:`\mathbf p_u = U\, \frac{1}{|I_u|} \sum_{j \in I_u} \mathbf q_j`.

Training (on implicit feedback: every training interaction is a positive)
uses one of two losses, averaged over a mini-batch :math:`\mathcal B` of
pairs and minimised with Adam through :func:`recbook.train.train_module`:

* ``loss="bpr"``: :math:`-\ln\sigma(\hat x_{ui} - \hat x_{uj})` with one
  negative :math:`j` per pair drawn uniformly from the *training* items
  (Rendle et al., 2009);
* ``loss="softmax"``: the sampled softmax with in-batch negatives, where the
  other positives of the mini-batch are the negatives (Yi et al., 2019),

  .. math::

      -\ln \frac{\exp(\hat x_{ui}/\tau)}{\sum_{(u', j) \in \mathcal B} \exp(\hat x_{uj}/\tau)},

  with a repeated item masked out.

Both add :math:`\lambda (\lVert \mathbf p_u \rVert^2 + \lVert \mathbf v_i
\rVert^2)` for the free vectors of the batch.

**Cold items.** Because :math:`\mathbf q_i` needs only the text, the model
scores items nobody has interacted with: every item of ``item_features``
without a training interaction joins the catalogue (the ``_extra_items``
hook), so the ``cold-items`` protocol ranks the new films by their text.
Negatives are drawn from training items only, so a new item is never pushed
down during training.

**Fallbacks.** An unknown user gets the mean of every user's scores (the
torch base's default); an item without a text vector and without
interactions is not in the catalogue and gets the mean of the user's scores.

References
----------
P. Covington, J. Adams and E. Sargin, "Deep neural networks for YouTube
recommendations", RecSys 2016; X. Yi et al., "Sampling-bias-corrected neural
modeling for large corpus item recommendations", RecSys 2019; N. Reimers and
I. Gurevych, "Sentence-BERT", EMNLP 2019; S. Rendle et al., "BPR", UAI 2009.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from recbook.content.features import as_feature_matrix
from recbook.content.knn import FEATURES, _catalogue_rows, _items_without_ratings
from recbook.models.base import TorchRecommender
from recbook.utils import Integer, Options, Real

__all__ = ["TwoTower"]


class _TwoTowerNet(torch.nn.Module):
    def __init__(
        self,
        text: torch.Tensor,
        n_users: int,
        n_train_items: int,
        d: int,
        hidden: int,
        id_residual: bool,
        user_tower: str,
        history: torch.Tensor | None,
    ) -> None:
        super().__init__()
        n_items, p = text.shape
        # the language model's vectors: fixed inputs, not parameters (never trained, not saved)
        self.register_buffer("text", text, persistent=False)
        if hidden > 0:
            self.proj = torch.nn.Sequential(torch.nn.Linear(p, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, d))
        else:
            self.proj = torch.nn.Linear(p, d)
        self.id_residual = id_residual
        if id_residual:
            self.residual = torch.nn.Embedding(n_items, d)
            torch.nn.init.zeros_(self.residual.weight)
            mask = (torch.arange(n_items) < n_train_items).float().unsqueeze(1)
            self.register_buffer("trained", mask, persistent=False)  # new items have no residual
        self.user_tower = user_tower
        if user_tower == "id":
            self.user = torch.nn.Embedding(n_users, d)
            torch.nn.init.normal_(self.user.weight, std=0.1)
        else:
            self.user_map = torch.nn.Linear(d, d, bias=False)
            torch.nn.init.eye_(self.user_map.weight)
            self.register_buffer("history", history, persistent=False)

    def items(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Item-tower vectors of the items ``idx`` (all items when ``None``)."""
        if idx is None:
            q = self.proj(self.text)
            return q + self.residual.weight * self.trained if self.id_residual else q
        q = self.proj(self.text[idx])
        return q + self.residual(idx) * self.trained[idx] if self.id_residual else q

    def users(self, u: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        if self.user_tower == "id":
            return self.user(u)
        return self.user_map(torch.sparse.mm(self.history, q)[u])


class TwoTower(TorchRecommender):
    r"""Two-tower recommender with a text item tower (see the module docstring).

    Parameters
    ----------
    item_features : FeatureMatrix, DataFrame or (ids, matrix)
        One text vector per item, indexed by item id (e.g.
        ``embed_items(texts)`` for all-MiniLM-L6-v2, or a distilled
        encoder's vectors); it must cover every training item and may
        cover more (the new items). Side data: shared by clones, never
        modified.
    item_tower : {"text", "text+id"}, default "text"
        Frozen text vector and a trained projection, or the same plus a
        trained id residual per training item.
    user_tower : {"id", "mean"}, default "id"
        A free user vector, or a linear map of the mean of the user's item vectors.
    n_factors : int, default 64
        :math:`d`, the width of the score space.
    hidden : int, default 256
        Hidden width of the projection MLP; 0 gives a linear projection.
    loss : {"bpr", "softmax"}, default "bpr"
        BPR with one sampled negative, or the in-batch sampled softmax.
    temperature : float, default 0.2
        :math:`\tau` of the softmax (unused by BPR).
    reg : float, default 1e-4
        :math:`\lambda` on the free vectors of a batch.
    n_epochs : int, default 10
    batch_size : int, default 512
    lr : float, default 0.002
    device : {"cpu", "cuda", "auto"}, default "cpu"
    seed : int, default 0
    show_progress : bool, default False

    Attributes
    ----------
    state_dict_ : dict
        The trained projection (``proj.*``), user tower and residuals; the
        text vectors are inputs, not state.
    n_train_items_ : int
        Items with a training interaction (the first columns); the others
        are new items scored from their text.

    Examples
    --------
    >>> import pandas as pd
    >>> feats = pd.DataFrame([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], index=[10, 20, 30])
    >>> train = pd.DataFrame({"user": [1, 1, 2], "item": [10, 30, 30], "rating": [5.0, 3.0, 4.0]})
    >>> model = TwoTower(feats, n_factors=4, hidden=0, n_epochs=2).fit(train)
    >>> model.n_items_, model.n_train_items_   # item 20 has no interaction but a text vector
    (3, 2)
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "item_features": [FEATURES],
        "item_tower": [Options("text", "text+id")],
        "user_tower": [Options("id", "mean")],
        "n_factors": [Integer(min=1)],
        "hidden": [Integer(min=0)],
        "loss": [Options("bpr", "softmax")],
        "temperature": [Real(min=0, min_open=True)],
        "reg": [Real(min=0)],
        **TorchRecommender.BASE_CONSTRAINTS,
    }

    def __init__(
        self,
        item_features: Any,
        item_tower: str = "text",
        user_tower: str = "id",
        n_factors: int = 64,
        hidden: int = 256,
        loss: str = "bpr",
        temperature: float = 0.2,
        reg: float = 1e-4,
        n_epochs: int = 10,
        batch_size: int = 512,
        lr: float = 0.002,
        device: str = "cpu",
        seed: int = 0,
        show_progress: bool = False,
    ) -> None:
        self.item_features = item_features
        self.item_tower = item_tower
        self.user_tower = user_tower
        self.n_factors = n_factors
        self.hidden = hidden
        self.loss = loss
        self.temperature = temperature
        self.reg = reg
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.seed = seed
        self.show_progress = show_progress

    @classmethod
    def _example(cls, data: Any) -> "TwoTower":
        from recbook.content.features import genre_features

        return cls(genre_features(data.items), n_factors=8, hidden=16, n_epochs=3, batch_size=256)

    # ----------------------------------------------------------- catalogue
    def _extra_items(self, frame: Any) -> Any:
        return _items_without_ratings(as_feature_matrix(self.item_features, "item_features"), frame)

    def _text_matrix(self) -> np.ndarray:
        features = as_feature_matrix(self.item_features, "item_features")
        mat = features.matrix[_catalogue_rows(self, features)]
        mat = mat.toarray() if hasattr(mat, "toarray") else np.asarray(mat)
        return mat.astype(np.float32)

    # ---------------------------------------------------------- the hooks
    def _build(self) -> torch.nn.Module:
        train = self.train_.tocsr()
        rows = np.repeat(np.arange(self.n_users_), np.diff(train.indptr))
        self._seen_keys = torch.as_tensor(np.sort(rows * self.n_items_ + train.indices), dtype=torch.long)
        history = None
        if self.user_tower == "mean":
            counts = np.maximum(np.diff(train.indptr), 1)
            values = torch.as_tensor(1.0 / counts[rows], dtype=torch.float32)
            index = torch.as_tensor(np.vstack([rows, train.indices]), dtype=torch.long)
            history = torch.sparse_coo_tensor(
                index, values, (self.n_users_, self.n_items_), check_invariants=True
            ).coalesce()
        return _TwoTowerNet(
            torch.as_tensor(self._text_matrix()),
            self.n_users_,
            self.n_train_items_,
            int(self.n_factors),
            int(self.hidden),
            self.item_tower == "text+id",
            self.user_tower,
            history,
        )

    def _is_seen(self, u: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        keys = self._seen_keys.to(u.device)
        q = u * self.n_items_ + j
        pos = torch.searchsorted(keys, q).clamp(max=len(keys) - 1)
        return keys[pos] == q

    def _penalty(self, module: _TwoTowerNet, u: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(len(u), device=u.device)
        if module.user_tower == "id":
            out = out + module.user(u).pow(2).sum(-1)
        if module.id_residual:
            out = out + module.residual(items).pow(2).sum(-1).reshape(len(u), -1).sum(-1)
        return out

    def _loss(self, module: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        u, i = batch["u"], batch["i"]
        # the mean user tower needs every item's vector; otherwise only the batch's items are projected
        q_all = module.items() if module.user_tower == "mean" else None
        p = module.users(u, q_all)
        if self.loss == "bpr":
            n_train = self.n_train_items_
            j = torch.randint(0, n_train, (len(u),), generator=generator).to(u.device)
            again = torch.randint(0, n_train, (len(u),), generator=generator).to(u.device)
            j = torch.where(self._is_seen(u, j), again, j)  # one redraw of negatives that hit a positive
            q_ij = module.items(torch.cat([i, j])) if q_all is None else q_all[torch.cat([i, j])]
            x = (p * q_ij[: len(i)]).sum(-1) - (p * q_ij[len(i) :]).sum(-1)
            main = -torch.nn.functional.logsigmoid(x)
            penalty = self._penalty(module, u, torch.stack([i, j], 1))
        else:
            q_i = module.items(i) if q_all is None else q_all[i]
            logits = p @ q_i.T / float(self.temperature)
            same = (i.unsqueeze(0) == i.unsqueeze(1)) & ~torch.eye(len(i), dtype=torch.bool, device=u.device)
            logits = logits.masked_fill(same, float("-inf"))  # a repeated item is not a negative
            main = torch.nn.functional.cross_entropy(
                logits, torch.arange(len(i), device=u.device), reduction="none"
            )
            penalty = self._penalty(module, u, i.unsqueeze(1))
        return (main + float(self.reg) * penalty).mean()

    def _scores(self, module: torch.nn.Module, u: torch.Tensor) -> torch.Tensor:
        q = module.items()
        return module.users(u, q) @ q.T

    # ---------------------------------------------- the package's vocabulary
    @property
    def item_factors_(self) -> np.ndarray:
        """:math:`\\mathbf q_i` for every catalogue item (new items included), ``(n_items_, d)``."""
        self._check_fitted()
        with torch.no_grad():
            return self._get_module().items().cpu().numpy().astype(np.float64)
