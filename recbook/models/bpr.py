r"""Matrix factorisation with the BPR loss, in torch: the worked example of a torch model.

The model is the BPR-MF of chapter 3.4 (:class:`recbook.cf.BPR` trains the same
model with a compiled SGD loop): a user factor :math:`p_u`, an item factor
:math:`q_i` and an item bias :math:`b_i`, the score
:math:`\hat x_{ui} = p_u^\top q_i + b_i`, and for a training pair
:math:`(u, i)` with a sampled item :math:`j` the user has not interacted with,

.. math::

    \mathcal L = -\ln \sigma(\hat x_{ui} - \hat x_{uj})
                 + \lambda \left(\lVert p_u\rVert^2 + \lVert q_i\rVert^2 + \lVert q_j\rVert^2\right),

averaged over a mini-batch and minimised with Adam. It shows everything a
torch model in recbook needs and nothing more: declared hyper-parameters, the
three torch hooks of :class:`~recbook.models.base.TorchRecommender`, and
``_example`` for the contract tests (CONTRIBUTING.md, "How to add a model").

The user and item tables can be *shared* (chapter 8.3): ``embedding`` chooses
a table of :mod:`recbook.models.embeddings` (the hashing trick, the
quotient-remainder trick, or mixed dimensions by popularity) and
``embedding_budget`` the fraction :math:`\rho` of a full table's
:math:`n d` parameters each of the two tables may use:

* ``"hash"``: :math:`m = \lfloor \rho n \rfloor` shared rows;
* ``"qr"``: the largest :math:`m` with :math:`\lceil n/m \rceil + m \le \rho n`;
* ``"mixed"``: four popularity blocks (popularity: training interactions),
  :math:`\alpha = 0.5`, widths scaled to fit :math:`\rho n d` parameters.

The item biases stay a full :math:`n \times 1` table.

References
----------
S. Rendle, C. Freudenthaler, Z. Gantner and L. Schmidt-Thieme, "BPR: Bayesian
personalized ranking from implicit feedback", UAI 2009.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from recbook.models.base import TorchRecommender
from recbook.utils import Integer, Options, Real

__all__ = ["TorchBPR"]


def _table(kind: str, n: int, d: int, budget: float, counts: np.ndarray, seed: int) -> torch.nn.Module:
    """An ``(n, d)`` embedding table of the given kind using at most ``budget * n * d`` parameters."""
    from recbook.models.embeddings import HashEmbedding, MixedDimEmbedding, QREmbedding

    rows = int(np.floor(budget * n + 1e-9))  # the budget in rows of width d
    if kind == "hash":
        if rows < 1:
            raise ValueError(f"embedding_budget={budget} leaves no row of a hashed table of {n} ids")
        return HashEmbedding(n, d, num_buckets=min(rows, n), seed=seed)
    if kind == "qr":
        fits = [m for m in range(1, n + 1) if -(-n // m) + m <= rows]
        if not fits:
            need = min(-(-n // m) + m for m in range(1, n + 1))
            raise ValueError(f"embedding_budget={budget} is below the smallest QR table of {n} ids ({need} rows, ratio {need / n:.4f})")
        return QREmbedding(n, d, num_buckets=max(fits))
    return MixedDimEmbedding.from_counts(counts, d, n_blocks=min(4, n), alpha=0.5, budget=int(np.floor(budget * n * d + 1e-9)))


class _MF(torch.nn.Module):
    def __init__(
        self,
        n_users: int,
        n_items: int,
        d: int,
        embedding: str = "full",
        budget: float = 1.0,
        user_counts: np.ndarray | None = None,
        item_counts: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        if embedding == "full":  # the original layout, kept byte for byte (same draws, same state keys)
            if budget != 1:
                raise ValueError(f"embedding='full' takes embedding_budget=1, got {budget} (use a smaller n_factors instead)")
            self.user = torch.nn.Embedding(n_users, d)
            self.item = torch.nn.Embedding(n_items, d)
            self.bias = torch.nn.Embedding(n_items, 1)
            torch.nn.init.normal_(self.user.weight, std=0.01)
            torch.nn.init.normal_(self.item.weight, std=0.01)
        else:
            self.user = _table(embedding, n_users, d, budget, user_counts, seed=0)
            self.item = _table(embedding, n_items, d, budget, item_counts, seed=1)
            self.bias = torch.nn.Embedding(n_items, 1)
        torch.nn.init.zeros_(self.bias.weight)

    def pair(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        return (self.user(u) * self.item(i)).sum(-1) + self.bias(i).squeeze(-1)

    def all_items(self, u: torch.Tensor) -> torch.Tensor:
        return self.user(u) @ self.item.weight.T + self.bias.weight.T


class TorchBPR(TorchRecommender):
    """BPR matrix factorisation trained in torch (see the module docstring).

    Parameters
    ----------
    n_factors : int, default 64
        The number of factors :math:`d`.
    reg : float, default 0.01
        :math:`\\lambda`, the L2 penalty on the factors of each sampled triple.
    n_epochs : int, default 60
    batch_size : int, default 1024
    lr : float, default 0.002
        Adam's learning rate.
    device : {"cpu", "cuda", "auto"}, default "cpu"
    seed : int, default 0
    show_progress : bool, default False
    embedding : {"full", "hash", "qr", "mixed"}, default "full"
        The kind of user and item table (see the module docstring).
    embedding_budget : float, default 1.0
        :math:`\\rho \\in (0, 1]`, the fraction of a full table's parameters a
        shared table may use (must be 1 with ``"full"``).

    Attributes
    ----------
    state_dict_ : dict
        ``user.weight`` (:math:`P`), ``item.weight`` (:math:`Q`), ``bias.weight``
        (with a shared table, the tensors of its modules instead).
    user_factors_, item_factors_, item_bias_ : numpy.ndarray
        Views of the same arrays in the package's vocabulary (with a shared
        table, the full ``(n, d)`` tables it builds).
    history_ : pandas.DataFrame
        Mean loss per epoch.

    The defaults were chosen on the ``topk`` protocol's validation split of
    seed 0 (NDCG@10 0.2508 against 0.2482 for :class:`recbook.cf.BPR` with its
    chosen ``lr=0.01, reg=0.01, n_epochs=200`` on the same split).

    Negatives are drawn uniformly from the items, and a draw that hits one of
    the user's training items is drawn again once (a few remain positives, a
    negligible bias at ml-100k's density). An unknown user is scored with the
    item biases :math:`b_i`.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "n_factors": [Integer(min=1)],
        "reg": [Real(min=0)],
        "embedding": [Options("full", "hash", "qr", "mixed")],
        "embedding_budget": [Real(min=0, min_open=True, max=1)],
        **TorchRecommender.BASE_CONSTRAINTS,
    }
    _id_tables: ClassVar[dict[str, str]] = {"user.weight": "user", "item.weight": "item", "bias.weight": "item"}

    def __init__(
        self,
        n_factors: int = 64,
        reg: float = 0.01,
        n_epochs: int = 60,
        batch_size: int = 1024,
        lr: float = 0.002,
        device: str = "cpu",
        seed: int = 0,
        show_progress: bool = False,
        embedding: str = "full",
        embedding_budget: float = 1.0,
    ) -> None:
        self.n_factors = n_factors
        self.reg = reg
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.seed = seed
        self.show_progress = show_progress
        self.embedding = embedding
        self.embedding_budget = embedding_budget

    @classmethod
    def _example(cls, data: Any) -> "TorchBPR":
        return cls(n_factors=8, n_epochs=3, batch_size=256)

    # ---------------------------------------------------------- the hooks
    def _build(self) -> torch.nn.Module:
        train = self.train_.tocsr()
        rows = np.repeat(np.arange(self.n_users_), np.diff(train.indptr))
        self._seen_keys = torch.as_tensor(np.sort(rows * self.n_items_ + train.indices), dtype=torch.long)
        if self.embedding == "full":
            return _MF(self.n_users_, self.n_items_, int(self.n_factors), budget=float(self.embedding_budget))
        user_counts = np.diff(train.indptr).astype(np.float64)
        item_counts = np.bincount(train.indices, minlength=self.n_items_).astype(np.float64)
        return _MF(self.n_users_, self.n_items_, int(self.n_factors), str(self.embedding), float(self.embedding_budget),
                   user_counts, item_counts)

    def _is_seen(self, u: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        keys = self._seen_keys.to(u.device)
        q = u * self.n_items_ + j
        pos = torch.searchsorted(keys, q).clamp(max=len(keys) - 1)
        return keys[pos] == q

    def _loss(self, module: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        u, i = batch["u"], batch["i"]
        j = torch.randint(0, self.n_items_, (len(u),), generator=generator).to(u.device)
        again = torch.randint(0, self.n_items_, (len(u),), generator=generator).to(u.device)
        j = torch.where(self._is_seen(u, j), again, j)  # one redraw of the negatives that hit a positive
        x = module.pair(u, i) - module.pair(u, j)
        penalty = module.user(u).pow(2).sum(-1) + module.item(i).pow(2).sum(-1) + module.item(j).pow(2).sum(-1)
        return (-torch.nn.functional.logsigmoid(x) + float(self.reg) * penalty).mean()

    def _scores(self, module: torch.nn.Module, u: torch.Tensor) -> torch.Tensor:
        return module.all_items(u)

    def _fallback_scores(self) -> np.ndarray:
        return self.state_dict_["bias.weight"].ravel().astype(np.float64)

    # ---------------------------------------------- the package's vocabulary
    def _table_array(self, name: str) -> np.ndarray:
        key = f"{name}.weight"
        if key in self.state_dict_:
            return self.state_dict_[key]
        with torch.no_grad():  # a shared table: build its full (n, d) table
            return getattr(self._get_module(), name).weight.detach().cpu().numpy()

    @property
    def user_factors_(self) -> np.ndarray:
        """User factors :math:`P`, one row per internal user id."""
        return self._table_array("user")

    @property
    def item_factors_(self) -> np.ndarray:
        """Item factors :math:`Q`, one row per internal item id (the full table, also for a shared embedding)."""
        return self._table_array("item")

    @property
    def item_bias_(self) -> np.ndarray:
        """Item biases :math:`b_i`, one per internal item id."""
        return self.state_dict_["bias.weight"].ravel()
