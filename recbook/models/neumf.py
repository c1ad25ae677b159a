r"""Neural matrix factorisation (NeuMF, He et al. 2017): a GMF tower and an MLP tower on ids.

Neural collaborative filtering replaces the dot product of matrix
factorisation by a learned function of a user's and an item's embeddings.
NeuMF fuses two towers, each with its own embedding tables:

* **GMF** (generalised matrix factorisation), the element-wise product of a
  user and an item embedding of size :math:`d` (``n_factors``):
  :math:`\phi^{\mathrm{GMF}}_{ui} = p_u \odot q_i`;
* **MLP**, a multi-layer perceptron with ReLU layers of sizes
  ``mlp_layers`` :math:`(h_1, \dots, h_L)` on the concatenation of two other
  embeddings, each of size :math:`h_1 / 2`:
  :math:`\phi^{\mathrm{MLP}}_{ui} = a_L(W_L \cdots a_2(W_2 [p'_u ; q'_i] + b_2) \cdots + b_L)`
  with :math:`a_l = \mathrm{ReLU}` (so :math:`[p'_u ; q'_i]` is the layer of size :math:`h_1`);

and a final linear layer reads both:

.. math::

    \hat x_{ui} = w^\top \big[\phi^{\mathrm{GMF}}_{ui} ; \phi^{\mathrm{MLP}}_{ui}\big] + b,
    \qquad \hat y_{ui} = \sigma(\hat x_{ui}).

With ``mlp_layers=()`` the model is GMF alone, a matrix factorisation whose
dot product has learned weights :math:`w`.

Training (``loss``):

* ``"bce"`` (the paper's pointwise loss): every training interaction
  :math:`(u, i)` is a positive and ``n_neg`` items :math:`j` drawn uniformly
  are negatives,
  :math:`\mathcal L_{ui} = -\ln \sigma(\hat x_{ui}) - \sum_{j} \ln\big(1 - \sigma(\hat x_{uj})\big)`;
* ``"bpr"`` (pairwise, as :class:`~recbook.models.bpr.TorchBPR`):
  :math:`\mathcal L_{ui} = -\frac{1}{n_{neg}}\sum_j \ln \sigma(\hat x_{ui} - \hat x_{uj})`;

plus :math:`\lambda` (``reg``) times the squared norms of the embedding rows
the triple touched, averaged over a mini-batch and minimised with Adam.
Negatives are sampled as :class:`~recbook.models.bpr.TorchBPR` samples them
(uniform over the items, one redraw of a draw that hits a training item of
the user), from the loop's seeded generator.

Scoring all items for a user evaluates the MLP on every (user, item) pair:
the first layer is split as :math:`W_2 [p'_u; q'_i] = W_2^{u} p'_u + W_2^{i} q'_i`
so the item half is computed once per call, but the later layers still cost
:math:`O(I \sum_l h_{l-1} h_l)` per user, where matrix factorisation costs
:math:`O(I d)`. That difference is what ``recbook.utils.scoring_speed`` shows in
chapter 6.1.

References
----------
X. He, L. Liao, H. Zhang, L. Nie, X. Hu and T.-S. Chua, "Neural collaborative
filtering", WWW 2017.
S. Rendle, W. Krichene, L. Zhang and J. Anderson, "Neural collaborative
filtering vs. matrix factorization revisited", RecSys 2020.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from recbook.models.base import TorchRecommender
from recbook.utils import InstanceOf, Integer, Options, Real

__all__ = ["NeuMF"]


class _NeuMF(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, d: int, layers: tuple[int, ...]) -> None:
        super().__init__()
        self.user_gmf = torch.nn.Embedding(n_users, d)
        self.item_gmf = torch.nn.Embedding(n_items, d)
        torch.nn.init.normal_(self.user_gmf.weight, std=0.01)
        torch.nn.init.normal_(self.item_gmf.weight, std=0.01)
        self.layers = tuple(int(h) for h in layers)
        out = d
        if self.layers:
            e = self.layers[0] // 2
            self.user_mlp = torch.nn.Embedding(n_users, e)
            self.item_mlp = torch.nn.Embedding(n_items, e)
            torch.nn.init.normal_(self.user_mlp.weight, std=0.01)
            torch.nn.init.normal_(self.item_mlp.weight, std=0.01)
            sizes = (2 * e,) + self.layers[1:]
            self.mlp = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            out += sizes[-1]
        self.head = torch.nn.Linear(out, 1)

    def _tower(self, h: torch.Tensor) -> torch.Tensor:
        """The MLP after its input: ReLU layers (the first layer's input is already ``h``)."""
        for layer in self.mlp:
            h = F.relu(layer(h))
        return h

    def pair(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """:math:`\\hat x_{ui}` for pairs of equal-shape index tensors."""
        parts = [self.user_gmf(u) * self.item_gmf(i)]
        if self.layers:
            parts.append(self._tower(torch.cat([self.user_mlp(u), self.item_mlp(i)], dim=-1)))
        return self.head(torch.cat(parts, dim=-1)).squeeze(-1)

    @staticmethod
    def _dense(layer: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """A linear layer's weight and bias as float tensors (a dynamically quantized layer's are dequantized)."""
        w, b = layer.weight, layer.bias
        if callable(w):  # torch.ao's DynamicQuantizedLinear stores them packed
            w, b = w().dequantize(), b()
        return w, b

    def all_items(self, u: torch.Tensor, block: int = 64) -> torch.Tensor:
        """:math:`\\hat x_{ui}` for every item, ``(len(u), I)``, computed ``block`` users at a time."""
        d = self.user_gmf.embedding_dim
        head_w, head_b = self._dense(self.head)
        w_gmf, w_mlp = head_w[0, :d], head_w[0, d:]
        gmf_items = (self.item_gmf.weight * w_gmf).T  # (d, I): w folded into the items
        out = []
        for start in range(0, len(u), block):
            ub = u[start : start + block]
            x = self.user_gmf(ub) @ gmf_items + head_b
            if self.layers:
                e = self.user_mlp.embedding_dim
                first = self.mlp[0] if len(self.mlp) else None
                if first is None:  # mlp_layers=(h,): the concatenated embeddings are the tower's output
                    h = torch.cat(
                        [self.user_mlp(ub)[:, None, :].expand(-1, self.item_mlp.num_embeddings, -1),
                         self.item_mlp.weight[None, :, :].expand(len(ub), -1, -1)], dim=-1)
                else:
                    first_w, first_b = self._dense(first)
                    w_u, w_i = first_w[:, :e], first_w[:, e:]
                    h = F.relu(
                        (self.user_mlp(ub) @ w_u.T)[:, None, :] + (self.item_mlp.weight @ w_i.T + first_b)[None, :, :]
                    )
                    for layer in self.mlp[1:]:
                        h = F.relu(layer(h))
                x = x + h @ w_mlp
            out.append(x)
        return torch.cat(out, dim=0)


class NeuMF(TorchRecommender):
    r"""NeuMF: GMF and MLP towers on user and item ids, fused by a linear layer (see the module docstring).

    Parameters
    ----------
    n_factors : int, default 32
        :math:`d`, the size of the GMF embeddings.
    mlp_layers : tuple of int, default (64, 32, 16)
        Sizes :math:`(h_1, \dots, h_L)` of the MLP tower: the user and item
        MLP embeddings have :math:`h_1/2` values each (so :math:`h_1` must be
        even), followed by ReLU layers :math:`h_1 \to h_2 \to \dots \to h_L`.
        ``()`` leaves the MLP out (GMF alone).
    loss : {"bce", "bpr"}, default "bce"
        Pointwise binary cross-entropy with ``n_neg`` sampled negatives per
        positive (He et al.), or the pairwise BPR loss.
    n_neg : int, default 4
        Negatives sampled per training interaction.
    reg : float, default 0.0
        :math:`\lambda`, the L2 penalty on the embedding rows of each batch.
    n_epochs : int, default 10
    batch_size : int, default 1024
        Training interactions (positives) per mini-batch.
    lr : float, default 0.002
        Adam's learning rate.
    device : {"cpu", "cuda", "auto"}, default "cpu"
    seed : int, default 0
    show_progress : bool, default False

    Attributes
    ----------
    state_dict_ : dict
        ``user_gmf.weight``, ``item_gmf.weight``, ``user_mlp.weight``,
        ``item_mlp.weight``, ``mlp.<l>.weight``/``bias``, ``head.weight``/``bias``.
    history_ : pandas.DataFrame
        Mean loss per epoch.

    Notes
    -----
    An unknown user gets the mean of every known user's scores (the base
    class's fallback); an unknown item the mean of the user's scores.

    The defaults were chosen on the ``topk`` protocol's validation split of
    seed 0 (``get_protocol("topk").validation_split(train, seed=0)``), with
    ``n_factors=32, mlp_layers=(64, 32, 16), n_neg=4, lr=0.002``: validation
    NDCG@10 0.2207 with ``loss="bce"`` and 10 epochs, 0.2185 with 20 epochs,
    0.2156 with ``loss="bpr"`` and 20 epochs (TorchBPR: 0.2508, EASE: 0.2546
    on the same split). Notebook 6.1 shows the grid.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "n_factors": [Integer(min=1)],
        "mlp_layers": [InstanceOf(tuple, list, what="a tuple of positive layer sizes, the first one even")],
        "loss": [Options("bce", "bpr")],
        "n_neg": [Integer(min=1)],
        "reg": [Real(min=0)],
        **TorchRecommender.BASE_CONSTRAINTS,
    }

    def __init__(
        self,
        n_factors: int = 32,
        mlp_layers: tuple[int, ...] = (64, 32, 16),
        loss: str = "bce",
        n_neg: int = 4,
        reg: float = 0.0,
        n_epochs: int = 10,
        batch_size: int = 1024,
        lr: float = 0.002,
        device: str = "cpu",
        seed: int = 0,
        show_progress: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.mlp_layers = mlp_layers
        self.loss = loss
        self.n_neg = n_neg
        self.reg = reg
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.seed = seed
        self.show_progress = show_progress

    @classmethod
    def _example(cls, data: Any) -> "NeuMF":
        return cls(n_factors=4, mlp_layers=(8, 4), n_epochs=2, batch_size=256)

    def _check_params(self) -> None:
        layers = self.mlp_layers
        for h in layers:
            if isinstance(h, (bool, np.bool_)) or not isinstance(h, (int, np.integer)):
                raise TypeError(f"NeuMF: mlp_layers must hold integers, got {h!r} ({type(h).__name__}) in {layers!r}")
            if h < 1:
                raise ValueError(f"NeuMF: mlp_layers must hold positive sizes, got {layers!r}")
        if layers and layers[0] % 2:
            raise ValueError(
                f"NeuMF: the first MLP size is the concatenation of two equal embeddings, so it must be even; "
                f"got mlp_layers={layers!r}"
            )

    # ---------------------------------------------------------- the hooks
    def _build(self) -> torch.nn.Module:
        train = self.train_.tocsr()
        rows = np.repeat(np.arange(self.n_users_), np.diff(train.indptr))
        self._seen_keys = torch.as_tensor(np.sort(rows * self.n_items_ + train.indices), dtype=torch.long)
        return _NeuMF(self.n_users_, self.n_items_, int(self.n_factors), tuple(self.mlp_layers))

    def _is_seen(self, u: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        keys = self._seen_keys.to(u.device)
        q = u * self.n_items_ + j
        pos = torch.searchsorted(keys, q).clamp(max=len(keys) - 1)
        return keys[pos] == q

    def _negatives(self, u: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(len(u), n_neg)`` uniform negatives, a draw that hits a training item redrawn once."""
        shape = (len(u), int(self.n_neg))
        j = torch.randint(0, self.n_items_, shape, generator=generator).to(u.device)
        again = torch.randint(0, self.n_items_, shape, generator=generator).to(u.device)
        return torch.where(self._is_seen(u[:, None].expand(shape), j), again, j)

    def _penalty(self, module: _NeuMF, u: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Squared norms of the embedding rows of ``u`` and of ``items`` (``(B, m)``), per row of the batch."""
        total = module.user_gmf(u).pow(2).sum(-1) + module.item_gmf(items).pow(2).sum((-2, -1))
        if module.layers:
            total = total + module.user_mlp(u).pow(2).sum(-1) + module.item_mlp(items).pow(2).sum((-2, -1))
        return total

    def _loss(self, module: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        u, i = batch["u"], batch["i"]
        j = self._negatives(u, generator)
        x_pos = module.pair(u, i)  # (B,)
        x_neg = module.pair(u[:, None].expand_as(j), j)  # (B, n_neg)
        if self.loss == "bce":
            data = -F.logsigmoid(x_pos) - F.logsigmoid(-x_neg).sum(-1)
        else:
            data = -F.logsigmoid(x_pos[:, None] - x_neg).mean(-1)
        if float(self.reg) > 0:
            data = data + float(self.reg) * self._penalty(module, u, torch.cat([i[:, None], j], dim=1))
        return data.mean()

    def _scores(self, module: torch.nn.Module, u: torch.Tensor) -> torch.Tensor:
        return module.all_items(u)
