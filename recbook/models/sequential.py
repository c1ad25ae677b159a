r"""Sequential recommendation: GRU4Rec and SASRec, next-item models over each user's history in time order.

A user is no longer a *set* of items but a *sequence*
:math:`s_u = (s_1, s_2, \dots, s_n)` ordered by time (ties in time broken by
file order, as :func:`recbook.split.leave_last_out` breaks them). A sequential
model reads a prefix :math:`s_{1:t}` into a hidden state :math:`h_t \in
\mathbb{R}^d` and scores every item as the next one with the (tied) item
embedding table :math:`E \in \mathbb{R}^{I \times d}`:

.. math::

    \hat y_{t} = E\, h_t + b \in \mathbb{R}^{I}, \qquad
    p(s_{t+1} = i \mid s_{1:t}) = \mathrm{softmax}(\hat y_t)_i .

The two models differ in how :math:`h_t` is computed from the embedded items
:math:`e_1, \dots, e_t`:

* **GRU4Rec** (Hidasi et al. 2016): a gated recurrent unit,
  :math:`h_t = \mathrm{GRU}(e_t, h_{t-1})`, with update gate
  :math:`z_t = \sigma(W_z e_t + U_z h_{t-1})`, reset gate
  :math:`r_t = \sigma(W_r e_t + U_r h_{t-1})`, candidate
  :math:`\tilde h_t = \tanh(W e_t + U (r_t \odot h_{t-1}))` and
  :math:`h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t`.
* **SASRec** (Kang & McAuley 2018): causal self-attention. With
  :math:`X = [e_1 + p_1; \dots; e_L + p_L]` (learned positional embeddings
  :math:`p_\ell`) each block computes
  :math:`\mathrm{softmax}\big(Q K^\top / \sqrt{d_h} + M\big) V` per head
  (:math:`Q = XW^Q`, :math:`K = XW^K`, :math:`V = XW^V`, :math:`d_h = d /
  \text{n\_heads}`), where the mask :math:`M_{ts} = -\infty` for
  :math:`s > t` (no peeking at the future) and for padded positions, followed
  by a position-wise feed-forward network; residual connections, layer
  normalisation and dropout around both (the pre-norm block of the authors'
  code).

**Training.** Each user contributes one row: the last ``max_len + 1`` items of
their training sequence, left-padded with a padding index. The model reads
positions :math:`1..L` and, at *every* position :math:`t`, predicts the item
at :math:`t + 1` with the full softmax cross-entropy over all :math:`I` items,

.. math::

    \mathcal{L}_u = -\sum_{t:\ s_{t+1} \ne \text{pad}} \log \mathrm{softmax}(\hat y_t)_{s_{t+1}},

averaged over the non-padded targets of a mini-batch of users and minimised
with Adam. On ml-100k (1682 items) the full softmax is cheap. The original
SASRec was trained with the binary cross-entropy of the positive next item
against **one** uniformly sampled negative per position, and GRU4Rec with
pairwise ranking losses (TOP1, BPR) over the other items of the mini-batch;
the full cross-entropy is the stronger choice when the catalogue is small
(Klenitskiy & Vasilev 2023).

**Scoring.** ``_scores(module, u)`` runs the model on the user's last
``max_len`` training items and returns the logits :math:`\hat y` at the last
position: the scores of the *next* item after the whole training sequence.
It is differentiable (no ``no_grad``), so a distillation loss can use it.
The positional embeddings index the padded window (the last item is always
at position :math:`L`), so positions mean "how recent".

**Unknown users** get the scores after an empty history (a window of padding
only). The model learns these from the first target of every training window,
so they rank popular first items high (a popularity-like list). An unknown
item gets the mean of the user's scores (the base class's rule).

**Randomness.** Dropout normally draws from torch's global generator, which
:class:`~recbook.models.base.TorchRecommender` does not seed during training.
So ``_loss`` draws a seed from its ``generator`` for every mini-batch and runs
the forward pass inside ``torch.random.fork_rng`` seeded with it
(:meth:`SequentialRecommender.seeded`): the same ``seed`` gives the same
parameters, and the caller's random state is left alone.

**Size.** Every parameter grows with :math:`d` (``n_factors``): the item
table (:math:`(I + 1) d`), the positional table (:math:`L d`), the GRU
(:math:`\approx 6 d^2` per layer) or the attention blocks
(:math:`\approx 6 d^2` per block: the :math:`Q, K, V` and output
projections and a feed-forward network of width :math:`d`), so a student with 1/4 .. 1/32 of a
teacher's parameters is the same class with a smaller ``n_factors``.

**Sparse data** (section 6.5 of the book). :func:`augment_sequences` adds
CL4SRec-style views of the training sequences (crop, mask, reorder; Xie et al.
2022) as extra pseudo-users, and :func:`fine_tune` starts a model from a
pre-trained one (parameters copied by name, item rows matched by id) and
trains it on new data. :meth:`SASRec.attention_maps` returns the attention
weights of every block and head.

References
----------
B. Hidasi, A. Karatzoglou, L. Baltrunas and D. Tikk, "Session-based
recommendations with recurrent neural networks", ICLR 2016.
W.-C. Kang and J. McAuley, "Self-attentive sequential recommendation", ICDM 2018.
A. Klenitskiy and A. Vasilev, "Turning dross into gold loss: is BERT4Rec
really better than SASRec?", RecSys 2023.
X. Xie, F. Sun, Z. Liu, S. Wu, J. Gao, J. Zhang, B. Ding and B. Cui,
"Contrastive learning for sequential recommendation", ICDE 2022.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from recbook.models.base import TorchRecommender
from recbook.train import seeded as _seeded
from recbook.utils import Integer, Real

__all__ = [
    "SequentialRecommender",
    "GRU4Rec",
    "SASRec",
    "user_sequences",
    "augment_sequences",
    "fine_tune",
    "sparse_users_split",
    "AUGMENT_OPS",
]



def _time_order(frame: pd.DataFrame, u: np.ndarray) -> np.ndarray:
    """Row order by user, then timestamp (when ``frame`` has one), then file order."""
    pos = np.arange(len(u))
    if "timestamp" not in frame.columns:
        return np.lexsort((pos, u))
    ts = frame["timestamp"].to_numpy()
    if ts.dtype.kind not in "iufM":
        raise TypeError(f"train['timestamp'] must be numeric or datetime, got dtype {ts.dtype}")
    if ts.dtype.kind == "M":
        ts = ts.astype("datetime64[ns]").astype(np.int64)
    return np.lexsort((pos, ts, u))

def user_sequences(frame: pd.DataFrame, u: np.ndarray, i: np.ndarray, n_users: int, length: int) -> np.ndarray:
    """Each user's items in time order, the last ``length`` of them, left-padded: an ``(n_users, length)`` array.

    Entries are item index + 1 (0 is the padding index). Rows are ordered by
    ``frame["timestamp"]`` within a user, ties (and a frame without a
    ``timestamp`` column) by file order, exactly as
    :func:`recbook.split.leave_last_out` orders them.

    Parameters
    ----------
    frame : pandas.DataFrame
        The training frame (its ``timestamp`` column is used when present).
    u, i : numpy.ndarray
        Internal user and item indices of the frame's rows.
    n_users : int
        Number of rows of the result.
    length : int
        Columns: the window kept of each sequence (the most recent items).
    """
    u = np.asarray(u, dtype=np.int64)
    i = np.asarray(i, dtype=np.int64)
    if len(u) != len(frame) or len(i) != len(frame):
        raise ValueError(f"u and i must have one entry per row of frame ({len(frame)}), got {len(u)} and {len(i)}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be an int >= 1, got {length!r}")
    order = _time_order(frame, u)
    su, si = u[order], i[order]
    counts = np.bincount(u, minlength=n_users)
    ends = np.cumsum(counts)
    from_end = ends[su] - np.arange(len(su))  # 1 for a user's latest row
    keep = from_end <= length
    out = np.zeros((n_users, length), dtype=np.int64)
    out[su[keep], length - from_end[keep]] = si[keep] + 1
    return out


#: The operators of :func:`augment_sequences` (Xie et al. 2022, CL4SRec).
AUGMENT_OPS: tuple[str, ...] = ("crop", "mask", "reorder")


def _check_ratio(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in (0, 1], got {type(value).__name__}")
    value = float(value)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value}")
    return value


def _augment_one(seq: np.ndarray, op: str, rng: np.random.Generator, crop: float, mask: float, reorder: float) -> np.ndarray:
    """One augmented view of one sequence: positions into ``seq`` (see :func:`augment_sequences`)."""
    n = len(seq)
    idx = np.arange(n)
    if op == "crop":
        length = max(1, int(math.floor(crop * n)))
        start = int(rng.integers(0, n - length + 1))
        return idx[start : start + length]
    if op == "mask":
        n_drop = int(math.floor(mask * n))
        drop = rng.choice(n, size=n_drop, replace=False) if n_drop else np.empty(0, dtype=np.int64)
        return np.delete(idx, drop)
    length = int(math.floor(reorder * n))  # reorder
    if length < 2:
        return idx
    start = int(rng.integers(0, n - length + 1))
    idx[start : start + length] = rng.permutation(idx[start : start + length])
    return idx


def augment_sequences(
    train: pd.DataFrame,
    n_views: int = 1,
    ops: Sequence[str] = AUGMENT_OPS,
    crop: float = 0.6,
    mask: float = 0.3,
    reorder: float = 0.3,
    min_length: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    r"""Augmented copies of every user's training sequence, as new pseudo-users (CL4SRec's operators).

    For each user with items :math:`s = (s_1, \dots, s_n)` in time order
    (ties by file order, as :func:`user_sequences` orders them) and each of
    ``n_views`` views, one operator is drawn uniformly from ``ops``
    (Xie et al. 2022):

    * **crop**: a random contiguous sub-sequence
      :math:`(s_c, \dots, s_{c + \lfloor \eta n \rfloor - 1})`, :math:`\eta` = ``crop``;
    * **mask**: :math:`\lfloor \gamma n \rfloor` items chosen uniformly are
      hidden, :math:`\gamma` = ``mask``. recbook's models have no mask token,
      so a hidden item is *removed* from the view: the model neither reads
      nor predicts it;
    * **reorder**: a random contiguous sub-sequence of length
      :math:`\lfloor \beta n \rfloor` is shuffled, :math:`\beta` = ``reorder``.

    CL4SRec uses the views for a contrastive loss; here they are simply
    extra training sequences for the next-item loss, a cheap way to give a
    model more (noisier) sequences when each user has few items. The views are
    drawn once, so the same ``seed`` gives the same frame.

    Parameters
    ----------
    train : pandas.DataFrame
        Interactions ``user, item[, rating][, timestamp]``.
    n_views : int, default 1
        Views per user.
    ops : sequence of str, default ``("crop", "mask", "reorder")``
        The operators to draw from (a subset of :data:`AUGMENT_OPS`).
    crop, mask, reorder : float in (0, 1]
        :math:`\eta`, :math:`\gamma`, :math:`\beta` above.
    min_length : int, default 2
        Views shorter than this are dropped (one item teaches only the
        first-item prediction).
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        The views' interactions with the columns of ``train`` plus
        ``source_user`` (the user a view was made from). A view is a new user:
        its id is ``max(user) + 1 + ...`` when user ids are integers and
        ``f"{user}~aug{v}"`` otherwise. Its ``timestamp`` column (kept or
        created) lists the view's items in their new order, so the models read
        them in that order. Concatenate it with ``train`` to fit on both.

    Raises
    ------
    TypeError, ValueError
        A bad frame, an unknown operator or a ratio outside (0, 1].

    References
    ----------
    X. Xie et al., "Contrastive learning for sequential recommendation", ICDE 2022.
    """
    from recbook.utils import check_int, check_seed

    if not isinstance(train, pd.DataFrame):
        raise TypeError(f"train must be a pandas DataFrame, got {type(train).__name__}")
    missing = [c for c in ("user", "item") if c not in train.columns]
    if missing:
        raise ValueError(f"train is missing column(s) {missing}")
    n_views = check_int("n_views", n_views)
    min_length = check_int("min_length", min_length)
    seed = check_seed(seed)
    if isinstance(ops, str) or not isinstance(ops, Sequence) or len(ops) == 0:
        raise TypeError(f"ops must be a non-empty sequence of names from {AUGMENT_OPS}, got {ops!r}")
    unknown = [o for o in ops if o not in AUGMENT_OPS]
    if unknown:
        raise ValueError(f"unknown augmentation operator(s) {unknown}; choose from {AUGMENT_OPS}")
    crop, mask, reorder = _check_ratio("crop", crop), _check_ratio("mask", mask), _check_ratio("reorder", reorder)
    ops = list(ops)
    columns = [c for c in ("user", "item", "rating", "timestamp") if c in train.columns]
    frame = train[columns].reset_index(drop=True)
    u_codes, users = pd.factorize(frame["user"], sort=False)
    order = _time_order(frame, u_codes)
    sorted_u = u_codes[order]
    starts = np.searchsorted(sorted_u, np.arange(len(users)), side="left")
    ends = np.searchsorted(sorted_u, np.arange(len(users)), side="right")
    integer_ids = pd.api.types.is_integer_dtype(frame["user"].dtype)
    offset = int(frame["user"].max()) + 1 if integer_ids and len(frame) else 0
    rng = np.random.default_rng(seed)
    pieces, sources, new_ids = [], [], []
    for v in range(n_views):
        for code in range(len(users)):
            rows = order[starts[code] : ends[code]]
            op = ops[int(rng.integers(len(ops)))]
            keep = _augment_one(rows, op, rng, crop, mask, reorder)
            if len(keep) < min_length:
                continue
            pieces.append(rows[keep])
            sources.append(np.full(len(keep), code))
            new_ids.append(offset + v * len(users) + code if integer_ids else f"{users[code]}~aug{v}")
    if not pieces:
        return pd.DataFrame({**{c: frame[c].iloc[:0] for c in columns}, "source_user": frame["user"].iloc[:0]})
    rows = np.concatenate(pieces)
    out = frame.iloc[rows].reset_index(drop=True)
    lengths = [len(p) for p in pieces]
    out["user"] = np.repeat(np.asarray(new_ids, dtype=object if not integer_ids else np.int64), lengths)
    out["timestamp"] = np.concatenate([np.arange(n) for n in lengths]).astype(np.int64)
    out["source_user"] = users[np.concatenate(sources)]
    return out


def fine_tune(pretrained: "SequentialRecommender", train: pd.DataFrame, **params: Any) -> "SequentialRecommender":
    """Train a copy of ``pretrained`` further on ``train``: pre-training then fine-tuning.

    A new model of ``pretrained``'s class and hyper-parameters (``params``
    override some, e.g. ``n_epochs`` or ``lr``) starts from ``pretrained``'s
    fitted weights instead of a random initialisation and is trained on
    ``train`` with the usual next-item loss:

    * every parameter is copied by name (positional embeddings, attention or
      GRU weights, layer norms);
    * the item table :math:`E` and the output bias :math:`b` are matched by
      item **id**. The model's catalogue is the union of ``train``'s items and
      the pre-trained ones, so an item seen only in pre-training keeps its
      embedding and can still be recommended; an item new to ``train`` starts
      from the random initialisation.

    The users of ``train`` need not be the pre-training users (a user's
    history is read from ``train`` only), which is what makes the design of
    section 6.5 honest: pre-train on some users, fine-tune and test on others.

    Parameters
    ----------
    pretrained : GRU4Rec or SASRec
        A fitted model.
    train : pandas.DataFrame
        The fine-tuning interactions.
    **params
        Hyper-parameters to change; those that set the shapes (``n_factors``,
        ``max_len``, ``n_layers``, ``n_heads``) must stay as they are.

    Returns
    -------
    SequentialRecommender
        The fine-tuned model (fitted).

    Raises
    ------
    TypeError
        ``pretrained`` is not a fitted sequential model.
    ValueError
        A shape-setting hyper-parameter was changed, or an unknown one given.
    """
    if not isinstance(pretrained, SequentialRecommender):
        raise TypeError(f"pretrained must be a fitted GRU4Rec or SASRec, got {type(pretrained).__name__}")
    if not hasattr(pretrained, "state_dict_"):
        raise TypeError(f"pretrained {type(pretrained).__name__} is not fitted: call fit first")
    current = pretrained.get_params(deep=False)
    unknown = sorted(set(params) - set(current))
    if unknown:
        raise ValueError(f"unknown hyper-parameter(s) {unknown} for {type(pretrained).__name__}")
    fixed = [k for k in ("n_factors", "max_len", "n_layers", "n_heads") if k in params and params[k] != current.get(k)]
    if fixed:
        raise ValueError(f"fine_tune cannot change {fixed}: they set the shapes of the pre-trained weights")
    model = type(pretrained)(**{**current, **params})
    model._init_from = pretrained  # read by TorchRecommender._fit: the warm start
    model._init_extend = True  # read by _extra_items: the pre-trained items join the catalogue
    try:
        model.fit(train)
    finally:
        del model._init_from, model._init_extend
    return model


def sparse_users_split(
    train: pd.DataFrame, test: pd.DataFrame, n_keep: int = 5, source_fraction: float = 0.5, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Make a sparse next-item task out of a ``sequential`` split, with disjoint users for pre-training.

    The users of ``train`` are shuffled with ``seed`` and cut in two groups:

    * **source** users (a share ``source_fraction``): their whole training
      history, the data one may pre-train on;
    * **target** users (the others): only their latest ``n_keep`` training
      interactions (time order, ties by file order), the sparse data, and
      their rows of ``test``.

    No target user's data reaches the source part, so pre-training on it
    cannot leak the target users' test items.

    Parameters
    ----------
    train, test : pandas.DataFrame
        A split of the ``sequential`` protocol (with a ``timestamp`` column).
    n_keep : int, default 5
        Training interactions kept per target user.
    source_fraction : float in (0, 1), default 0.5
    seed : int, default 0
        The shuffle of the users.

    Returns
    -------
    (source, target_train, target_test) : tuple of pandas.DataFrame
    """
    from recbook.utils import check_int, check_seed

    for name, frame in (("train", train), ("test", test)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
        missing = [c for c in ("user", "item", "timestamp") if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} is missing column(s) {missing}")
    n_keep = check_int("n_keep", n_keep)
    seed = check_seed(seed)
    if isinstance(source_fraction, bool) or not isinstance(source_fraction, (int, float, np.integer, np.floating)):
        raise TypeError(f"source_fraction must be a number in (0, 1), got {type(source_fraction).__name__}")
    if not 0.0 < float(source_fraction) < 1.0:
        raise ValueError(f"source_fraction must be in (0, 1), got {source_fraction}")
    users = pd.unique(train["user"])
    users = users[np.argsort(users, kind="stable")]
    shuffled = np.random.default_rng(seed).permutation(users)
    n_source = int(round(float(source_fraction) * len(users)))
    if not 0 < n_source < len(users):
        raise ValueError(f"source_fraction {source_fraction} leaves one group of {len(users)} users empty")
    source_users = shuffled[:n_source]
    is_source = train["user"].isin(source_users).to_numpy()
    source = train[is_source]
    target = train[~is_source]
    pos = np.arange(len(target))
    codes = pd.factorize(target["user"], sort=False)[0]
    order = np.lexsort((pos, target["timestamp"].to_numpy(), codes))
    rank_from_end = pd.Series(codes[order]).groupby(codes[order]).cumcount(ascending=False).to_numpy()
    keep = np.zeros(len(target), dtype=bool)
    keep[order[rank_from_end < n_keep]] = True
    target_train = target[keep]
    target_test = test[test["user"].isin(pd.unique(target_train["user"]))]
    return source, target_train, target_test


# ---------------------------------------------------------------- modules
class _GRUNet(torch.nn.Module):
    """Item embedding -> GRU -> hidden state per position."""

    def __init__(self, n_items: int, d: int, n_layers: int, dropout: float) -> None:
        super().__init__()
        self.item = torch.nn.Embedding(n_items + 1, d, padding_idx=0)
        self.bias = torch.nn.Parameter(torch.zeros(n_items))
        self.gru = torch.nn.GRU(d, d, num_layers=n_layers, batch_first=True, dropout=dropout if n_layers > 1 else 0.0)
        self.drop = torch.nn.Dropout(dropout)
        torch.nn.init.normal_(self.item.weight, std=1.0 / math.sqrt(d))
        with torch.no_grad():
            self.item.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.drop(self.item(seq)))
        return self.drop(out)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.item.weight[1:].T + self.bias


class _Block(torch.nn.Module):
    """One SASRec block: causal multi-head self-attention and a feed-forward network (pre-norm)."""

    def __init__(self, d: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.norm1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.norm2 = torch.nn.LayerNorm(d)
        self.ff1 = torch.nn.Linear(d, d)
        self.ff2 = torch.nn.Linear(d, d)
        self.drop = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        h = self.n_heads
        q, k, v = self.qkv(self.norm1(x)).view(b, length, 3, h, d // h).permute(2, 0, 3, 1, 4)  # each (b, h, L, d_h)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // h)  # (b, h, L, L)
        att = att.masked_fill(mask[:, None], float("-inf")).softmax(dim=-1)
        out = (self.drop(att) @ v).transpose(1, 2).reshape(b, length, d)
        x = x + self.drop(self.proj(out))
        return x + self.drop(self.ff2(self.drop(F.relu(self.ff1(self.norm2(x))))))


class _SASRecNet(torch.nn.Module):
    """Item + positional embeddings -> n_layers causal self-attention blocks -> layer norm."""

    def __init__(self, n_items: int, d: int, max_len: int, n_layers: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.item = torch.nn.Embedding(n_items + 1, d, padding_idx=0)
        self.bias = torch.nn.Parameter(torch.zeros(n_items))
        self.position = torch.nn.Embedding(max_len, d)
        self.blocks = torch.nn.ModuleList(_Block(d, n_heads, dropout) for _ in range(n_layers))
        self.norm = torch.nn.LayerNorm(d)
        self.drop = torch.nn.Dropout(dropout)
        torch.nn.init.normal_(self.item.weight, std=1.0 / math.sqrt(d))
        torch.nn.init.normal_(self.position.weight, std=1.0 / math.sqrt(d))
        with torch.no_grad():
            self.item.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        b, length = seq.shape
        d = self.item.embedding_dim
        positions = torch.arange(length, device=seq.device)
        x = self.drop(self.item(seq) * math.sqrt(d) + self.position(positions))
        pad = seq == 0
        future = torch.ones(length, length, dtype=torch.bool, device=seq.device).triu(1)  # s > t
        eye = torch.eye(length, dtype=torch.bool, device=seq.device)
        # position t may look at s <= t unless s is padding; every position sees itself (no empty rows)
        mask = (future[None] | pad[:, None, :]) & ~eye[None]
        for block in self.blocks:
            x = block(x, mask) * (~pad)[..., None]
        return self.norm(x)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.item.weight[1:].T + self.bias


# ------------------------------------------------------------- estimators
class SequentialRecommender(TorchRecommender):
    """The shared part of :class:`GRU4Rec` and :class:`SASRec` (see the module docstring).

    Subclasses set ``_build``; this class orders each user's training items by
    time (``_fit_frame``), trains one row per user with the next-item
    cross-entropy at every position (``_loss``), scores the next item after
    the whole sequence (``_scores``) and saves the sequences with the
    checkpoint.

    Attributes
    ----------
    sequences_ : numpy.ndarray
        ``(n_users_, max_len + 1)`` int64: each user's most recent training
        items (item index + 1), left-padded with 0.
    """

    _abstract: ClassVar[bool] = True

    # ------------------------------------------------------------ data
    def _fit_frame(self, frame: pd.DataFrame, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        self.sequences_ = user_sequences(frame, u, i, self.n_users_, int(self.max_len) + 1)
        self._fit(u, i, r)

    def _training_data(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> dict[str, torch.Tensor]:
        return {"u": torch.arange(self.n_users_, dtype=torch.long)}

    def _windows(self, u: torch.Tensor) -> torch.Tensor:
        """The users' ``(len(u), max_len + 1)`` windows on ``u``'s device."""
        seq = torch.as_tensor(self.sequences_, dtype=torch.long)
        return seq[u.cpu()].to(u.device)

    # ------------------------------------------------------ pre-training
    #: Row ``j + 1`` of the item table is item ``j`` (row 0 pads); the output bias has no padding.
    _id_tables: ClassVar[dict[str, str | tuple[str, int]]] = {"item.weight": ("item", 1), "bias": "item"}

    def _extra_items(self, frame: pd.DataFrame) -> np.ndarray:
        """While :func:`fine_tune` fits, the pre-trained items join the catalogue."""
        init = getattr(self, "_init_from", None)
        if init is None or not getattr(self, "_init_extend", False):
            return np.empty(0, dtype=object)
        return np.asarray(init.item_ids_)

    # ------------------------------------------------------ randomness
    #: :func:`recbook.train.seeded`: dropout draws from the loop's generator.
    seeded = staticmethod(_seeded)

    # ---------------------------------------------------------- the hooks
    def _loss(self, module: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        seq = self._windows(batch["u"])
        inputs, targets = seq[:, :-1], seq[:, 1:]
        with self.seeded(generator, seq.device):
            h = module(inputs)  # (B, L, d)
        valid = targets > 0
        logits = module.logits(h[valid])  # (number of targets, I)
        return F.cross_entropy(logits, targets[valid] - 1)

    def _scores(self, module: torch.nn.Module, u: torch.Tensor) -> torch.Tensor:
        seq = self._windows(u)[:, 1:]
        return module.logits(module(seq)[:, -1])

    def _fallback_scores(self) -> np.ndarray:
        module = self._get_module()
        device = next(module.parameters()).device
        empty = torch.zeros(1, int(self.max_len), dtype=torch.long, device=device)
        with torch.no_grad():
            out = module.logits(module(empty)[:, -1])
        return out[0].cpu().numpy().astype(np.float64)

    # ------------------------------------------------------- checkpoints
    def save(self, path: str | Path) -> Path:
        """Save as :meth:`TorchRecommender.save` does, plus the users' training sequences."""
        path = super().save(path)
        payload = torch.load(path, weights_only=True, map_location="cpu")
        payload["sequences"] = torch.as_tensor(self.sequences_)
        torch.save(payload, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SequentialRecommender":
        """Load a model written by :meth:`save` (``torch.load(..., weights_only=True)``)."""
        model = super().load(path)
        payload = torch.load(Path(path), weights_only=True, map_location="cpu")
        if "sequences" not in payload:
            raise ValueError(f"{path} holds no training sequences: it was not saved by {cls.__name__}.save")
        model.sequences_ = payload["sequences"].numpy().copy()
        return model


class GRU4Rec(SequentialRecommender):
    r"""GRU4Rec (Hidasi et al. 2016): a GRU over the user's items in time order, next-item softmax.

    :math:`h_t = \mathrm{GRU}(e_{s_t}, h_{t-1})` over the embedded items and
    :math:`\hat y_t = E h_t + b` (the item table is shared by input and
    output). Trained with the full softmax cross-entropy at every position
    (see the module docstring); the original used session-parallel
    mini-batches with the TOP1 or BPR loss over in-batch negatives.

    Parameters
    ----------
    n_factors : int, default 64
        :math:`d`, the item embedding and hidden size.
    max_len : int, default 50
        The most recent training items a user's window keeps (:math:`L`).
    n_layers : int, default 1
        Stacked GRU layers.
    dropout : float, default 0.2
        On the embeddings, on the GRU's output (and between GRU layers).
    n_epochs : int, default 20
    batch_size : int, default 128
        *Users* per mini-batch.
    lr : float, default 0.005
        Adam's learning rate :math:`\gamma`.
    device, seed, show_progress
        As in :class:`~recbook.models.base.TorchRecommender`.

    Notes
    -----
    The defaults were chosen on the ``sequential`` protocol's validation split
    (leave-last-out inside the training part, model seed 0): with ``d = 64``,
    ``max_len = 50``, 128 users per batch and ``lr = 0.005``, the validation
    NDCG@10 was read every 5 epochs up to 40 and peaked at 20 epochs
    (GRU4Rec 0.1102, SASRec 0.1078; at 40 epochs 0.1023 and 0.1012). The grid
    was kept this small because the book's machine has two CPU cores.
    An unknown user gets the scores after an empty history.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "n_factors": [Integer(min=1)],
        "max_len": [Integer(min=1)],
        "n_layers": [Integer(min=1)],
        "dropout": [Real(min=0, max=1, max_open=True)],
        **TorchRecommender.BASE_CONSTRAINTS,
    }

    def __init__(
        self,
        n_factors: int = 64,
        max_len: int = 50,
        n_layers: int = 1,
        dropout: float = 0.2,
        n_epochs: int = 20,
        batch_size: int = 128,
        lr: float = 0.005,
        device: str = "cpu",
        seed: int = 0,
        show_progress: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.max_len = max_len
        self.n_layers = n_layers
        self.dropout = dropout
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.seed = seed
        self.show_progress = show_progress

    @classmethod
    def _example(cls, data: Any) -> "GRU4Rec":
        return cls(n_factors=8, max_len=10, n_epochs=2, batch_size=16)

    def _build(self) -> torch.nn.Module:
        return _GRUNet(self.n_items_, int(self.n_factors), int(self.n_layers), float(self.dropout))


class SASRec(SequentialRecommender):
    r"""SASRec (Kang & McAuley 2018): causal self-attention over the user's items in time order.

    The embedded window :math:`X = [\sqrt{d}\, e_{s_\ell} + p_\ell]_{\ell=1}^{L}`
    passes ``n_layers`` blocks of causal multi-head self-attention and a
    position-wise feed-forward network, and :math:`\hat y_t = E h_t + b` with
    the shared item table. Trained with the full softmax cross-entropy at every
    position; the original paper used the binary cross-entropy with **one**
    sampled negative per position (see the module docstring).

    Parameters
    ----------
    n_factors : int, default 64
        :math:`d`, the embedding and hidden size (a multiple of ``n_heads``).
    max_len : int, default 50
        The most recent training items a user's window keeps (:math:`L`).
    n_layers : int, default 2
        Self-attention blocks.
    n_heads : int, default 1
        Attention heads per block.
    dropout : float, default 0.2
        On the embeddings, the attention weights and inside each block.
    n_epochs : int, default 20
    batch_size : int, default 128
        *Users* per mini-batch.
    lr : float, default 0.005
        Adam's learning rate :math:`\gamma`.
    device, seed, show_progress
        As in :class:`~recbook.models.base.TorchRecommender`.

    Notes
    -----
    The defaults were chosen on the ``sequential`` protocol's validation split
    (leave-last-out inside the training part, model seed 0): with ``d = 64``,
    ``max_len = 50``, 128 users per batch and ``lr = 0.005``, the validation
    NDCG@10 was read every 5 epochs up to 40 and peaked at 20 epochs
    (GRU4Rec 0.1102, SASRec 0.1078; at 40 epochs 0.1023 and 0.1012). The grid
    was kept this small because the book's machine has two CPU cores.
    An unknown user gets the scores after an empty history.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "n_factors": [Integer(min=1)],
        "max_len": [Integer(min=1)],
        "n_layers": [Integer(min=1)],
        "n_heads": [Integer(min=1)],
        "dropout": [Real(min=0, max=1, max_open=True)],
        **TorchRecommender.BASE_CONSTRAINTS,
    }

    def __init__(
        self,
        n_factors: int = 64,
        max_len: int = 50,
        n_layers: int = 2,
        n_heads: int = 1,
        dropout: float = 0.2,
        n_epochs: int = 20,
        batch_size: int = 128,
        lr: float = 0.005,
        device: str = "cpu",
        seed: int = 0,
        show_progress: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.max_len = max_len
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dropout = dropout
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.seed = seed
        self.show_progress = show_progress

    @classmethod
    def _example(cls, data: Any) -> "SASRec":
        return cls(n_factors=8, max_len=10, n_heads=2, n_epochs=2, batch_size=16)

    def _check_params(self) -> None:
        if int(self.n_factors) % int(self.n_heads) != 0:
            raise ValueError(
                f"SASRec: n_factors ({self.n_factors}) must be a multiple of n_heads ({self.n_heads})"
            )

    def _build(self) -> torch.nn.Module:
        return _SASRecNet(
            self.n_items_, int(self.n_factors), int(self.max_len), int(self.n_layers), int(self.n_heads), float(self.dropout)
        )

    def attention_maps(self, users: Any) -> np.ndarray:
        r"""The attention weights of every block and head for some users' scoring windows.

        For each user, the window the model scores (the last ``max_len``
        training items, left-padded) goes through the fitted network in
        evaluation mode (no dropout), and each block's weights
        :math:`A = \mathrm{softmax}\big(QK^\top / \sqrt{d_h} + M\big)` are
        returned: ``A[t, s]`` is how much position :math:`t` reads position
        :math:`s` (rows sum to 1; masked entries are 0). The recommendation is
        read from the last row, ``A[-1]``. The weights are recomputed from the
        block's own ``qkv`` projection and mask by forward hooks, so they are
        exactly the ones the forward pass used.

        Attention weights show where a block *looks*, not why the score comes
        out as it does (Jain & Wallace 2019); section 6.5 sets them beside
        integrated-gradients attributions.

        Parameters
        ----------
        users : array-like
            User ids of the training data.

        Returns
        -------
        numpy.ndarray
            ``(len(users), n_layers, n_heads, max_len, max_len)`` float64;
            position ``max_len - 1`` holds the most recent item.

        Raises
        ------
        ValueError
            An unknown user (it has no window to explain).
        """
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users))
        u = self._user_index.get_indexer(users)
        if (u < 0).any():
            raise ValueError(f"unknown user(s) {users[u < 0][:5].tolist()}: attention_maps needs training users")
        module = self._get_module()
        device = next(module.parameters()).device
        maps: list[torch.Tensor] = []
        masks: list[torch.Tensor] = []
        handles = []
        for block in module.blocks:
            handles.append(block.register_forward_pre_hook(lambda _m, args: masks.append(args[1])))

            def grab(m: torch.nn.Module, _inp: Any, out: torch.Tensor, block: torch.nn.Module = block) -> None:
                b, length, three_d = out.shape
                h = block.n_heads
                dh = three_d // 3 // h
                q, k, _v = out.view(b, length, 3, h, dh).permute(2, 0, 3, 1, 4)
                att = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
                maps.append(att.masked_fill(masks[-1][:, None], float("-inf")).softmax(dim=-1))

            handles.append(block.qkv.register_forward_hook(grab))
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                self._scores(module, torch.as_tensor(u, dtype=torch.long, device=device))
        finally:
            for handle in handles:
                handle.remove()
            module.train(was_training)
        return torch.stack(maps, dim=1).cpu().numpy().astype(np.float64)
