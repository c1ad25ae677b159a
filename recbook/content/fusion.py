r"""Multimodal fusion for content-based nearest neighbours.

With :math:`M` modalities (text embeddings, genres, numeric metadata...),
modality :math:`m` gives a similarity :math:`s_m(i, j)` between items. Four
ways to fuse them, from fixed to learned:

* **average fusion** -- :math:`s(i, j) = \frac{1}{M}\sum_m s_m(i, j)`, which
  for cosine is ``ContentKNN(concat_features(blocks))`` (concatenated unit
  blocks, see :func:`recbook.content.concat_features`);
* **weighted fusion** -- :math:`s(i, j) = \sum_m w_m s_m(i, j)` with
  :math:`w` on the simplex chosen on a validation split
  (:func:`tune_fusion_weights`);
* **learned fusion** -- a small neural gate
  :math:`g_\theta(s_1, \dots, s_M) \ge 0` trained on a validation split
  (:class:`LearnedFusionKNN`);
* **attention fusion** -- item-dependent modality weights
  :math:`\omega_m(i)` (attention over modalities) and a softmax over the
  user's rated items (attention over neighbours), trained the same way
  (:class:`AttentionFusionKNN`).

torch is imported only inside ``fit`` of the learned models; prediction uses
NumPy.

References
----------
T. Baltrusaitis, C. Ahuja and L.-P. Morency, "Multimodal machine learning: a
survey and taxonomy", IEEE TPAMI 41(2), 2019; J. Chen et al., "Attentive
collaborative filtering", SIGIR 2017; X. He et al., "NAIS: neural attentive
item similarity model for recommendation", IEEE TKDE 2018.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recbook.base import top_k
from recbook.content.features import as_feature_matrix, concat_features
from recbook.content.knn import ContentKNN, _catalogue_rows, _items_without_ratings, cold_item_split
from recbook.content._torch import minimise, single_thread
from recbook.content.similarity import _between, _prepare
from recbook.utils import InstanceOf, Integer, Real, check_int, history_frame

__all__ = ["weight_grid", "tune_fusion_weights", "LearnedFusionKNN", "AttentionFusionKNN"]


def weight_grid(n_blocks: int, step: float = 0.25) -> list[tuple[float, ...]]:
    """Every weight vector on the simplex whose entries are multiples of ``step``.

    ``weight_grid(2, 0.5)`` is ``[(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]``: the
    single modalities (corners) and their mixtures, in a fixed order.
    """
    n_blocks = check_int("n_blocks", n_blocks)
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= 1:
        raise ValueError(f"step must be a number in (0, 1], got {step!r}")
    m = int(round(1.0 / step))
    if not np.isclose(m * step, 1.0):
        raise ValueError(f"step must divide 1 exactly (e.g. 0.5, 0.25, 0.1), got {step!r}")
    grid = [c for c in itertools.product(range(m, -1, -1), repeat=n_blocks) if sum(c) == m]
    return [tuple(x / m for x in c) for c in grid]


def tune_fusion_weights(
    blocks: Mapping[str, Any],
    train: pd.DataFrame,
    valid: pd.DataFrame,
    step: float = 0.25,
    metric: str = "rmse",
    **knn_kwargs: Any,
) -> tuple[dict[str, float], pd.DataFrame]:
    r"""Choose fusion weights :math:`w` on a validation split by grid search.

    For every :math:`w` in :func:`weight_grid` (``step``), fits
    ``ContentKNN(concat_features(blocks, w), **knn_kwargs)`` on ``train`` and
    measures ``metric`` (``"rmse"`` or ``"mae"``) on ``valid``. The test set is
    never touched: make ``valid`` from the training data (e.g. with
    :func:`recbook.content.cold_item_split`), then refit the chosen weights on
    all training data.

    Returns
    -------
    best : dict
        Block name -> weight of the lowest validation error (the first in grid
        order on ties).
    table : pandas.DataFrame
        One row per weight vector: the weights and the validation error,
        sorted from best to worst (stable).
    """
    from recbook.evaluate import evaluate_ratings

    if not isinstance(blocks, Mapping) or len(blocks) == 0:
        raise TypeError("blocks must be a non-empty mapping name -> features")
    if metric not in ("rmse", "mae"):
        raise ValueError(f"metric must be 'rmse' or 'mae', got {metric!r}")
    names = [str(n) for n in blocks]
    feats = {n: as_feature_matrix(v, f"blocks[{n!r}]") for n, v in zip(names, blocks.values())}
    rows = []
    for w in weight_grid(len(names), step):
        model = ContentKNN(concat_features(feats, w), **knn_kwargs).fit(train)
        err = evaluate_ratings(model, valid, (metric,))[metric]
        rows.append({**dict(zip(names, w)), metric: err})
    table = pd.DataFrame(rows).sort_values(metric, kind="stable").reset_index(drop=True)
    best = {n: float(table.loc[0, n]) for n in names}
    return best, table


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


class _HeldOutFusionKNN(ContentKNN):
    """Shared machinery of the learned fusions: modality blocks, held-out training pairs, neighbours.

    A subclass sets its hyper-parameters in ``__init__`` (at least
    ``modalities, k, n_epochs, lr, holdout_items, max_pairs, seed,
    holdout_seed, min_k``), trains its weighting on :meth:`_holdout_pairs`
    in ``_fit`` and turns modality similarities into neighbour weights in
    ``_chunk_offsets``.
    """

    sim = "cosine"
    mode = "knn"

    #: The hyper-parameters every learned fusion has.
    _COMMON: ClassVar[dict[str, list]] = {
        "modalities": [InstanceOf(Mapping, what="a mapping name -> features (one block per modality)")],
        "k": [Integer(min=1)],
        "n_epochs": [Integer(min=0)],
        "lr": [Real(min=0, min_open=True)],
        "holdout_items": [Real(0, 1, min_open=True, max_open=True)],
        "max_pairs": [Integer(min=1)],
        "seed": [Integer(min=0)],
        "holdout_seed": [None, Integer(min=0)],
        "min_k": [Integer(min=1)],
    }

    @classmethod
    def _example(cls, data: Any) -> "_HeldOutFusionKNN":
        from recbook.content.features import genre_features, numeric_features

        blocks = {"genres": genre_features(data.items), "year": numeric_features(data.items[["year"]], scaling="rbf")}
        return cls(blocks, k=10, n_epochs=5)

    def _check_params(self) -> None:
        if len(self.modalities) == 0:
            raise ValueError("modalities must hold at least one block (name -> features)")

    @property
    def _holdout_seed(self) -> int:
        return int(self.seed) + 100 if self.holdout_seed is None else int(self.holdout_seed)

    def _extra_items(self, frame: pd.DataFrame) -> pd.Index:
        names = [str(n) for n in self.modalities]
        self._block_features = {
            n: as_feature_matrix(v, f"modalities[{n!r}]") for n, v in zip(names, self.modalities.values())
        }
        self._features = concat_features(self._block_features)
        return _items_without_ratings(self._features, frame)

    def _setup_blocks(self) -> None:
        """Catalogue, fused neighbour space and per-modality unit blocks."""
        self.modalities_ = list(self._block_features)
        fused = self._features
        rows = _catalogue_rows(self, fused)
        self._x, self._counts = _prepare(fused.matrix[rows], "cosine")
        self._full = None  # neighbours come from the modality blocks, see _gather
        self._blocks = [_prepare(b.reindex(self.item_ids_).matrix, "cosine")[0] for b in self._block_features.values()]
        self._block_full = [self._full_similarity(x, None, "cosine") for x in self._blocks]

    def _holdout_pairs(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> dict[str, np.ndarray]:
        """Training data of the weighting: held-out items' ratings, neighbours from the other items.

        Returns ``s (n, k', M)`` modality similarities of the chosen
        neighbours, ``d (n, k')`` their deviations, ``mask (n, k')``, ``mu``
        the users' means, ``y`` the held-out ratings and ``target`` the
        held-out items (internal indices), one row per held-out rating.
        """
        frame = pd.DataFrame({"user": u, "item": i, "rating": r})
        inner, held = cold_item_split(frame, self.holdout_items, self._holdout_seed)
        self.gate_items_ = self.item_ids_[np.sort(held["item"].unique())]
        self._setup_users(inner["user"].to_numpy(), inner["item"].to_numpy(), inner["rating"].to_numpy())
        s_list, d_list, m_list, mu_list, y_list, t_list = [], [], [], [], [], []
        held = held.drop_duplicates(["user", "item"], keep="last")
        if len(held) > int(self.max_pairs):
            keep = np.random.default_rng(int(self.seed)).choice(len(held), size=int(self.max_pairs), replace=False)
            held = held.iloc[np.sort(keep)]
        held = held.sort_values("user", kind="stable")
        for uu, grp in held.groupby("user", sort=False):
            nbrs, dev = self._neighbours(int(uu))
            if len(nbrs) == 0:
                continue
            targets = grp["item"].to_numpy()
            s, d, mask = self._gather(targets, nbrs, dev)
            s_list.append(s)
            d_list.append(d)
            m_list.append(mask)
            mu_list.append(np.full(len(grp), self.user_mean_[int(uu)]))
            y_list.append(grp["rating"].to_numpy(dtype=np.float64))
            t_list.append(targets)
        if not s_list:
            raise ValueError("no held-out rating has a neighbour: too little data to train the fusion weights")
        width = max(x.shape[1] for x in s_list)

        def pad(a: np.ndarray, value: Any) -> np.ndarray:  # users with fewer than k neighbours
            return np.pad(a, [(0, 0), (0, width - a.shape[1])] + [(0, 0)] * (a.ndim - 2), constant_values=value)

        return {
            "s": np.concatenate([pad(x, 0.0) for x in s_list]),
            "d": np.concatenate([pad(x, 0.0) for x in d_list]),
            "mask": np.concatenate([pad(x, False) for x in m_list]),
            "mu": np.concatenate(mu_list),
            "y": np.concatenate(y_list),
            "target": np.concatenate(t_list),
        }

    def _gather(self, targets: np.ndarray, nbrs: np.ndarray, dev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Modality similarities ``(t, k', M)``, deviations ``(t, k')`` and mask of the chosen neighbours."""
        sims = [
            full[np.ix_(targets, nbrs)] if full is not None else _between(x[targets], None, x[nbrs], None, "cosine")
            for x, full in zip(self._blocks, self._block_full)
        ]
        mean = np.mean(sims, axis=0)
        if mean.shape[1] > int(self.k):
            idx = top_k(mean, int(self.k))  # ties to the earlier rated item
        else:
            idx = np.broadcast_to(np.arange(mean.shape[1]), mean.shape)
        s = np.stack([np.take_along_axis(x, idx, axis=1) for x in sims], axis=2)
        mask = np.take_along_axis(mean, idx, axis=1) > 0
        return s, dev[idx], mask

    def explain(self, user: Any, item: Any) -> pd.DataFrame:  # pragma: no cover - not defined here
        """Not available for the learned fusions: raises ``NotImplementedError`` (see :meth:`ContentKNN.explain`)."""
        raise NotImplementedError("explain() is defined for ContentKNN only")


class LearnedFusionKNN(_HeldOutFusionKNN):
    r"""Content KNN whose neighbour weights come from a learned gate over modalities.

    For target item :math:`i` and a neighbour :math:`j` the user rated, the
    :math:`M` modality cosines form a vector
    :math:`\mathbf s_{ij} = (s_1(i,j), \dots, s_M(i,j))`. A two-layer network
    turns it into a non-negative weight,

    .. math::

        g_\theta(\mathbf s) = \mathrm{softplus}\big(\mathbf w_2^\top
        \tanh(W_1 \mathbf s + \mathbf b_1) + b_2\big),

    and the estimate is the content-KNN formula with :math:`g_\theta` in
    place of the similarity:

    .. math::

        \hat r_{ui} = \bar r_u + \frac{\sum_{j \in N_u^k(i)} g_\theta(\mathbf s_{ij})\,(r_{uj} - \bar r_u)}
                                  {\sum_{j \in N_u^k(i)} g_\theta(\mathbf s_{ij})}.

    The neighbourhood :math:`N_u^k(i)` is the ``k`` rated items with the
    largest positive *average* similarity :math:`\frac1M \sum_m s_m(i, j)`, so
    the gate only re-weights the neighbours average fusion would use; it can
    learn that one modality matters more, and non-linear effects (a near
    duplicate title counting far more than a merely similar one).

    **Training** (in :meth:`fit`, on the training data only). The training
    items are split by :func:`recbook.content.cold_item_split` with
    ``holdout_items`` and ``holdout_seed``: the held-out items play new items, their
    ratings are the targets, and their neighbours and :math:`\bar r_u` come
    from the other items' ratings. :math:`\theta` minimises the mean squared
    error of :math:`\hat r_{ui}` on those targets with full-batch Adam
    (``n_epochs`` steps, learning rate ``lr``, float32 on one CPU thread, the
    initial weights drawn from a torch generator seeded with ``seed``).
    Then all training ratings serve as neighbours for prediction.

    Parameters
    ----------
    modalities : mapping name -> features
        One block per modality (FeatureMatrix, DataFrame or ``(ids, matrix)``);
        an item missing from a block has similarity 0 there. Every training
        item must be in at least one block.
    k : int
        Neighbours.
    hidden : int
        Width of the gate's hidden layer.
    n_epochs : int
        Adam steps (full batch).
    lr : float
        Adam learning rate.
    holdout_items : float
        Fraction of training items held out to train the gate.
    max_pairs : int
        At most this many held-out ratings (a seeded random sample) train the
        gate: a gate with a few dozen parameters needs no more, and it keeps
        training to seconds on a laptop CPU.
    seed : int
        Seed of torch's initial weights and of the ``max_pairs`` sample.
    holdout_seed : int, optional
        Seed of the hold-out split; default ``seed + 100``, the convention of
        :meth:`recbook.evaluate.Protocol.validation_split`. A protocol sets
        ``seed`` to its split seed :math:`s`, so the gate is trained on exactly
        the films of ``get_protocol("cold-items").validation_split(train, s)``,
        the validation films every other choice of the chapter is made on.
    min_k : int
        Least number of positive neighbours for a neighbour estimate.

    Attributes
    ----------
    gate_params_ : dict of numpy.ndarray
        ``W1 (M, hidden), b1, w2 (hidden,), b2`` -- the trained gate.
    history_ : pandas.DataFrame
        ``epoch`` and ``loss``: the training mean squared error before each
        step and after the last (epoch 1 is the untrained gate's).
    n_gate_pairs_ : int
        Number of held-out ratings the gate was trained on (at most ``max_pairs``).
    modalities_ : list of str
        Block names, in the order of the gate's inputs.
    gate_items_ : numpy.ndarray
        Raw ids of the training items held out to train the gate: the same
        items as ``cold_item_split(train, holdout_items, holdout_seed)`` holds
        out, so a weighted fusion tuned on that split sees the same
        validation data.

    Fallbacks are those of :class:`ContentKNN` (rating mode).
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {**_HeldOutFusionKNN._COMMON, "hidden": [Integer(min=1)]}

    def __init__(
        self,
        modalities: Mapping[str, Any],
        k: int = 40,
        hidden: int = 8,
        n_epochs: int = 300,
        lr: float = 0.02,
        holdout_items: float = 0.15,
        max_pairs: int = 5000,
        seed: int = 0,
        holdout_seed: int | None = None,
        min_k: int = 1,
    ) -> None:
        self.modalities = modalities
        self.k = k
        self.hidden = hidden
        self.n_epochs = n_epochs
        self.lr = lr
        self.holdout_items = holdout_items
        self.max_pairs = max_pairs
        self.seed = seed
        self.holdout_seed = holdout_seed
        self.min_k = min_k

    # ------------------------------------------------------------------ fit
    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        hidden = int(self.hidden)
        self._setup_blocks()
        # 1) the gate's training data: held-out items' ratings, neighbours from the rest
        data = self._holdout_pairs(u, i, r)
        self.n_gate_pairs_ = len(data["y"])
        self._train_gate(data["s"], data["d"], data["mask"], data["mu"], data["y"], hidden)
        # 2) every training rating serves as a neighbour from now on
        self._setup_users(u, i, r)

    def _train_gate(self, s, d, mask, mu, y, hidden: int) -> None:
        with single_thread() as torch:
            self._train_gate_torch(torch, s, d, mask, mu, y, hidden)

    def _train_gate_torch(self, torch: Any, s, d, mask, mu, y, hidden: int) -> None:
        f32 = torch.float32
        g = torch.Generator().manual_seed(int(self.seed))
        n_mod = s.shape[2]
        lin1 = torch.nn.Linear(n_mod, hidden, dtype=f32)
        lin2 = torch.nn.Linear(hidden, 1, dtype=f32)
        with torch.no_grad():  # seeded initialisation, independent of the global torch state
            for lin in (lin1, lin2):
                bound = 1.0 / np.sqrt(lin.in_features)
                lin.weight.copy_(torch.rand(lin.weight.shape, generator=g, dtype=f32) * 2 * bound - bound)
                lin.bias.copy_(torch.rand(lin.bias.shape, generator=g, dtype=f32) * 2 * bound - bound)
        S = torch.from_numpy(s.astype(np.float32))
        D = torch.from_numpy(d.astype(np.float32))
        Mk = torch.from_numpy(mask.astype(np.float32))
        MU = torch.from_numpy(mu.astype(np.float32))
        Y = torch.from_numpy(y.astype(np.float32))
        enough = torch.from_numpy((mask.sum(axis=1) >= int(self.min_k)).astype(np.float32))
        params = list(lin1.parameters()) + list(lin2.parameters())

        def loss_fn() -> Any:
            w = torch.nn.functional.softplus(lin2(torch.tanh(lin1(S))).squeeze(-1)) * Mk
            den = w.sum(dim=1)
            off = (w * D).sum(dim=1) / torch.clamp(den, min=1e-12) * enough
            return torch.mean((MU + off - Y) ** 2)

        self.history_ = history_frame(minimise(torch, loss_fn, params, int(self.n_epochs), float(self.lr)), "loss")
        self.gate_params_ = {
            "W1": lin1.weight.detach().numpy().T.astype(np.float64),
            "b1": lin1.bias.detach().numpy().astype(np.float64),
            "w2": lin2.weight.detach().numpy().ravel().astype(np.float64),
            "b2": lin2.bias.detach().numpy().astype(np.float64),
        }

    # ------------------------------------------------------------ scoring
    def gate(self, s: Any) -> np.ndarray:
        r"""The trained gate :math:`g_\theta` applied to similarity vectors ``s`` (``(..., M)``)."""
        self._check_fitted()
        p = self.gate_params_
        s = np.asarray(s, dtype=np.float64)
        return _softplus(np.tanh(s @ p["W1"] + p["b1"]) @ p["w2"] + p["b2"][0])

    def _chunk_offsets(self, targets: np.ndarray, nbrs: np.ndarray, dev: np.ndarray) -> np.ndarray:
        s, d, mask = self._gather(targets, nbrs, dev)
        w = self.gate(s) * mask
        den = w.sum(axis=1)
        ok = (mask.sum(axis=1) >= int(self.min_k)) & (den > 0)
        return np.where(ok, (w * d).sum(axis=1) / np.where(ok, den, 1.0), 0.0)


def _masked_softmax(e: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``e`` over the entries where ``mask`` is true (rows without any: zeros)."""
    e = np.where(mask, e, -np.inf)
    top = np.max(e, axis=1, keepdims=True)
    w = np.exp(e - np.where(np.isfinite(top), top, 0.0)) * mask
    den = w.sum(axis=1, keepdims=True)
    return np.divide(w, den, out=np.zeros_like(w), where=den > 0)


class AttentionFusionKNN(_HeldOutFusionKNN):
    r"""Content KNN with attention over the modalities and over the user's rated items.

    Two attention steps replace the fixed similarity of :class:`ContentKNN`.

    **Over modalities** (which modality to trust for *this* item). Item
    :math:`i`'s unit vector in modality :math:`m`, :math:`\hat{\mathbf x}^{(m)}_i`,
    gives a score, and a softmax over the :math:`M` modalities turns the
    scores into weights:

    .. math::

        \omega_m(i) = \frac{\exp(\mathbf a_m^\top \hat{\mathbf x}^{(m)}_i + c_m)}
                           {\sum_{l=1}^{M} \exp(\mathbf a_l^\top \hat{\mathbf x}^{(l)}_i + c_l)},
        \qquad
        \tilde s(i, j) = \sum_{m=1}^{M} \omega_m(i)\, s_m(i, j).

    **Over the user's rated items** (which neighbours to trust). The target
    item is the query, the user's rated items the keys, their rating
    deviations the values, and the fused similarity divided by a learned
    temperature :math:`\tau` the attention score:

    .. math::

        w_{ij} = \frac{\exp(\tilde s(i, j) / \tau)}{\sum_{l \in N_u^k(i)} \exp(\tilde s(i, l) / \tau)},
        \qquad
        \hat r_{ui} = \bar r_u + \sum_{j \in N_u^k(i)} w_{ij}\,(r_{uj} - \bar r_u).

    The first step is the *component-level* attention of Chen et al. (2017),
    here over modalities; the second is the attention over a user's rated
    items of NAIS (He et al., 2018), with content similarities as scores.
    :math:`N_u^k(i)` is, as for :class:`LearnedFusionKNN`, the ``k`` rated
    items with the largest positive average similarity. A small
    :math:`\tau` concentrates the weight on the nearest neighbours, a large
    one spreads it evenly.

    **Training** (in :meth:`fit`, on the training data only), exactly as for
    :class:`LearnedFusionKNN`: the items of
    ``cold_item_split(train, holdout_items, holdout_seed)`` play new items,
    at most ``max_pairs`` of their ratings are the targets, and the
    parameters :math:`\mathbf a_m, c_m, \log\tau` (started at
    :math:`\mathbf a = 0, c = 0`: equal modality weights, and
    :math:`\tau` = ``temperature``) minimise the mean squared error with
    full-batch Adam (``n_epochs`` steps, learning rate ``lr``) plus
    ``reg`` :math:`\sum_m \lVert\mathbf a_m\rVert^2`. torch is imported
    inside :meth:`fit`; prediction is NumPy.

    Parameters
    ----------
    modalities : mapping name -> features
        One block per modality (FeatureMatrix, DataFrame or ``(ids, matrix)``).
    k : int
        Neighbours.
    n_epochs : int
        Adam steps (full batch).
    lr : float
        Adam learning rate.
    temperature : float
        Initial temperature :math:`\tau > 0` (then learned).
    reg : float
        L2 penalty on the modality-attention vectors :math:`\mathbf a_m` (>= 0).
        Without it the 384 weights of a text block fit the held-out films
        themselves rather than films in general.
    holdout_items, max_pairs, holdout_seed, min_k
        As for :class:`LearnedFusionKNN`.
    seed : int
        Seed of the ``max_pairs`` sample, and ``holdout_seed``'s default
        (``seed + 100``); the initial weights are fixed (no randomness).

    Attributes
    ----------
    attention_params_ : dict
        ``a`` (list of :math:`M` vectors), ``c`` (:math:`M`,) and ``tau``.
    history_ : pandas.DataFrame
        ``epoch`` and ``loss``: the training mean squared error (plus penalty).
    n_gate_pairs_, modalities_, gate_items_
        As for :class:`LearnedFusionKNN`.

    References
    ----------
    J. Chen, H. Zhang, X. He, L. Nie, W. Liu and T.-S. Chua, "Attentive
    collaborative filtering: multimedia recommendation with item- and
    component-level attention", SIGIR 2017; X. He, Z. He, J. Song, Z. Liu,
    Y.-G. Jiang and T.-S. Chua, "NAIS: neural attentive item similarity model
    for recommendation", IEEE TKDE 30(12), 2018.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_HeldOutFusionKNN._COMMON,
        "temperature": [Real(min=0, min_open=True)],
        "reg": [Real(min=0)],
    }

    def __init__(
        self,
        modalities: Mapping[str, Any],
        k: int = 40,
        n_epochs: int = 300,
        lr: float = 0.02,
        temperature: float = 0.1,
        reg: float = 0.01,
        holdout_items: float = 0.15,
        max_pairs: int = 5000,
        seed: int = 0,
        holdout_seed: int | None = None,
        min_k: int = 1,
    ) -> None:
        self.modalities = modalities
        self.k = k
        self.n_epochs = n_epochs
        self.lr = lr
        self.temperature = temperature
        self.reg = reg
        self.holdout_items = holdout_items
        self.max_pairs = max_pairs
        self.seed = seed
        self.holdout_seed = holdout_seed
        self.min_k = min_k

    # ------------------------------------------------------------------ fit
    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        tau0, reg = float(self.temperature), float(self.reg)
        self._setup_blocks()
        data = self._holdout_pairs(u, i, r)
        self.n_gate_pairs_ = len(data["y"])
        with single_thread() as torch:
            self._train_attention(torch, data, tau0, reg)
        self._setup_users(u, i, r)

    def _train_attention(self, torch: Any, data: dict[str, np.ndarray], tau0: float, reg: float) -> None:
        f32 = torch.float32
        xs = [torch.from_numpy(np.asarray(_dense_rows(x, data["target"]), dtype=np.float32)) for x in self._blocks]
        a = [torch.zeros(x.shape[1], dtype=f32, requires_grad=True) for x in xs]
        c = torch.zeros(len(xs), dtype=f32, requires_grad=True)
        log_tau = torch.tensor(float(np.log(tau0)), dtype=f32, requires_grad=True)
        S = torch.from_numpy(data["s"].astype(np.float32))
        D = torch.from_numpy(data["d"].astype(np.float32))
        Mk = torch.from_numpy(data["mask"])
        MU = torch.from_numpy(data["mu"].astype(np.float32))
        Y = torch.from_numpy(data["y"].astype(np.float32))
        enough = torch.from_numpy((data["mask"].sum(axis=1) >= int(self.min_k)).astype(np.float32))

        def loss_fn() -> Any:
            omega = torch.softmax(torch.stack([x @ am for x, am in zip(xs, a)], dim=1) + c, dim=1)  # (n, M)
            fused = (S * omega[:, None, :]).sum(dim=2)  # (n, k')
            e = (fused / torch.exp(log_tau)).masked_fill(~Mk, float("-inf"))
            w = torch.nan_to_num(torch.softmax(e, dim=1))  # rows without a neighbour: zeros
            off = (w * D).sum(dim=1) * enough
            penalty = sum((am * am).sum() for am in a)
            return torch.mean((MU + off - Y) ** 2) + reg * penalty

        self.history_ = history_frame(minimise(torch, loss_fn, [*a, c, log_tau], int(self.n_epochs), float(self.lr)), "loss")
        self.attention_params_ = {
            "a": [am.detach().numpy().astype(np.float64) for am in a],
            "c": c.detach().numpy().astype(np.float64),
            "tau": float(np.exp(float(log_tau.detach()))),
        }

    # ------------------------------------------------------------ scoring
    def _modality_attention(self, targets: np.ndarray) -> np.ndarray:
        """Modality weights :math:`\\omega(i)`, shape ``(len(targets), M)``, for internal item indices."""
        p = self.attention_params_
        scores = np.column_stack(
            [np.asarray(x[targets] @ am).ravel() for x, am in zip(self._blocks, p["a"])]
        ) + p["c"]
        scores = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

    def modality_weights(self, items: Any) -> pd.DataFrame:
        r"""The modality attention :math:`\omega_m(i)` of ``items`` (one row per item, one column per modality).

        Items unknown to the model raise ``ValueError``.
        """
        self._check_fitted()
        idx = self.item_index(items)
        if np.any(idx < 0):
            raise ValueError(f"items not in the model's catalogue: {np.asarray(_as_list(items))[idx < 0][:10].tolist()}")
        return pd.DataFrame(self._modality_attention(idx), index=pd.Index(self.item_ids_[idx], name="item"),
                            columns=self.modalities_)

    def _chunk_offsets(self, targets: np.ndarray, nbrs: np.ndarray, dev: np.ndarray) -> np.ndarray:
        s, d, mask = self._gather(targets, nbrs, dev)
        fused = (s * self._modality_attention(targets)[:, None, :]).sum(axis=2)
        w = _masked_softmax(fused / self.attention_params_["tau"], mask)
        ok = mask.sum(axis=1) >= int(self.min_k)
        return np.where(ok, (w * d).sum(axis=1), 0.0)


def _dense_rows(x: Any, rows: np.ndarray) -> np.ndarray:
    sub = x[rows]
    return sub.toarray() if hasattr(sub, "toarray") else np.asarray(sub)


def _as_list(values: Any) -> list:
    return [values] if np.isscalar(values) else list(values)
