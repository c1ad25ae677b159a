r"""Embedding tables that share parameters: the hashing trick, quotient-remainder and mixed-dimension embeddings (taught in chapter 8.3).

An embedding table has one row of :math:`d` numbers per id, and with millions
of users or items it is most of a recommender's size. Sharing stores fewer
rows and builds each id's vector from them.

**The hashing trick** (Weinberger et al. 2009) maps id :math:`i` to one of
:math:`m` rows, :math:`h(i) = ((a i + b) \bmod P) \bmod m` with a large prime
:math:`P`: :math:`m \times d` parameters, but ids that collide share a vector,
and the model cannot tell them apart.

**The quotient-remainder trick** (Shi et al. 2020) uses two tables, indexed by
the quotient and the remainder of :math:`i` divided by :math:`m`,

.. math::

    e_i = Q_{\lfloor i / m \rfloor} \odot R_{i \bmod m},

:math:`(\lceil n / m \rceil + m) \times d` parameters, smallest near
:math:`m = \sqrt n`. No two ids share both indices, so every id has a
distinct pair of rows and (for tables in general position) a distinct vector:
the compression costs expressiveness, not identity. ``operation="add"`` sums
the two rows instead of multiplying them element-wise.

**Mixed-dimension embeddings** (Ginart et al. 2021) keep one row per id but
give popular ids wider rows than rare ones. The ids, sorted by popularity,
are cut into :math:`K` blocks of sizes :math:`n_1, \dots, n_K`; block
:math:`k` stores a table :math:`E_k \in \mathbb{R}^{n_k \times d_k}` and a
projection :math:`P_k \in \mathbb{R}^{d \times d_k}` to the common width
:math:`d`, and id :math:`i`, row :math:`r` of block :math:`k`, gets

.. math::

    e_i = P_k\, E_k[r], \qquad
    \#\text{parameters} = \sum_k n_k d_k + \sum_{k:\, d_k < d} d\, d_k

(a block at full width needs no projection). The rule of the paper sets
:math:`d_k = \lambda\, \bar p_k^{\,\alpha}`, with :math:`\bar p_k` the mean
popularity of block :math:`k` (here relative to the first block's) and a
temperature :math:`0 \le \alpha \le 1`: :math:`\alpha = 0` is a uniform
width, larger :math:`\alpha` shifts the parameters towards popular ids;
:meth:`MixedDimEmbedding.from_counts` picks :math:`\lambda` to fit a
parameter budget.

References
----------
K. Weinberger, A. Dasgupta, J. Langford, A. Smola and J. Attenberg, "Feature
hashing for large scale multitask learning", ICML 2009.
H.-J. M. Shi, D. Mudigere, M. Naumov and J. Yang, "Compositional embeddings
using complementary partitions for memory-efficient recommendation systems",
KDD 2020.
A. Ginart, M. Naumov, D. Mudigere, J. Yang and J. Zou, "Mixed dimension
embeddings with application to memory-efficient recommendation systems",
ISIT 2021.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["QREmbedding", "HashEmbedding", "MixedDimEmbedding"]

#: A prime larger than any id this book meets (2^31 - 1).
_PRIME = 2_147_483_647


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_ids(index: torch.Tensor, n: int) -> None:
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= n):
        raise IndexError(f"ids must be in [0, {n}), got values in [{int(index.min())}, {int(index.max())}]")


class QREmbedding(torch.nn.Module):
    """Quotient-remainder embedding (see the module docstring): ``(ceil(n/m) + m) x d`` parameters, a distinct vector per id.

    Parameters
    ----------
    num_embeddings : int
        :math:`n`, the number of ids (``0 .. n-1``).
    embedding_dim : int
        :math:`d`.
    num_buckets : int
        :math:`m`, the rows of the remainder table (``1 <= m <= n``).
    operation : {"mult", "add"}, default "mult"
        How the two rows are combined.

    Examples
    --------
    >>> import torch
    >>> emb = QREmbedding(1000, 16, num_buckets=32)
    >>> sum(p.numel() for p in emb.parameters()) == (32 + 32) * 16   # ceil(1000/32) = 32
    True
    >>> emb(torch.tensor([[0, 999]])).shape
    torch.Size([1, 2, 16])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, num_buckets: int, operation: str = "mult") -> None:
        super().__init__()
        self.num_embeddings = _check_positive("num_embeddings", num_embeddings)
        self.embedding_dim = _check_positive("embedding_dim", embedding_dim)
        self.num_buckets = _check_positive("num_buckets", num_buckets)
        if num_buckets > num_embeddings:
            raise ValueError(f"num_buckets ({num_buckets}) must not exceed num_embeddings ({num_embeddings})")
        if operation not in ("mult", "add"):
            raise ValueError(f"operation must be 'mult' or 'add', got {operation!r}")
        self.operation = operation
        self.quotient = torch.nn.Embedding(math.ceil(num_embeddings / num_buckets), embedding_dim)
        self.remainder = torch.nn.Embedding(num_buckets, embedding_dim)
        if operation == "mult":  # products of N(0, 1) rows would have variance 1; start near 1 + noise instead
            torch.nn.init.normal_(self.quotient.weight, mean=1.0, std=0.1)
            torch.nn.init.normal_(self.remainder.weight, std=0.1)
        else:
            torch.nn.init.normal_(self.quotient.weight, std=0.1)
            torch.nn.init.normal_(self.remainder.weight, std=0.1)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        """The rows ``index``: the quotient row of ``index // num_buckets`` times (or plus) the remainder row of ``index % num_buckets``."""
        _check_ids(index, self.num_embeddings)
        q = self.quotient(torch.div(index, self.num_buckets, rounding_mode="floor"))
        r = self.remainder(torch.remainder(index, self.num_buckets))
        return q * r if self.operation == "mult" else q + r

    @property
    def weight(self) -> torch.Tensor:
        """The full ``(n, d)`` table, built on demand (for scoring every item at once)."""
        return self(torch.arange(self.num_embeddings, device=self.remainder.weight.device))

    def extra_repr(self) -> str:
        """The table size, bucket count and combining operation, shown by ``repr``."""
        return f"{self.num_embeddings}, {self.embedding_dim}, num_buckets={self.num_buckets}, operation={self.operation!r}"


class HashEmbedding(torch.nn.Module):
    """The hashing trick (see the module docstring): ``m x d`` parameters; colliding ids share a row.

    Parameters
    ----------
    num_embeddings : int
        The number of ids (``0 .. n-1``).
    embedding_dim : int
    num_buckets : int
        :math:`m`, the rows actually stored.
    seed : int, default 0
        Chooses the hash's :math:`a` and :math:`b`.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, num_buckets: int, seed: int = 0) -> None:
        super().__init__()
        self.num_embeddings = _check_positive("num_embeddings", num_embeddings)
        self.embedding_dim = _check_positive("embedding_dim", embedding_dim)
        self.num_buckets = _check_positive("num_buckets", num_buckets)
        g = torch.Generator().manual_seed(int(seed))
        a = int(torch.randint(1, _PRIME, (1,), generator=g))
        b = int(torch.randint(0, _PRIME, (1,), generator=g))
        ids = torch.arange(num_embeddings, dtype=torch.int64)
        self.register_buffer("bucket", ((a * ids + b) % _PRIME) % num_buckets, persistent=False)
        self.table = torch.nn.Embedding(num_buckets, embedding_dim)
        torch.nn.init.normal_(self.table.weight, std=0.1)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        """The rows ``index``: each id reads the row of its hash bucket."""
        _check_ids(index, self.num_embeddings)
        return self.table(self.bucket.to(index.device)[index])

    @property
    def weight(self) -> torch.Tensor:
        """The full ``(n, d)`` table, one (shared) bucket row per id, built on demand."""
        return self.table(self.bucket)

    def n_collisions(self) -> int:
        """Ids that share their row with at least one other id."""
        counts = torch.bincount(self.bucket, minlength=self.num_buckets)
        return int(counts[counts > 1].sum())

    def extra_repr(self) -> str:
        """The table size and bucket count, shown by ``repr``."""
        return f"{self.num_embeddings}, {self.embedding_dim}, num_buckets={self.num_buckets}"


class MixedDimEmbedding(torch.nn.Module):
    r"""Mixed-dimension embedding (see the module docstring): block :math:`k` of ids has width :math:`d_k`, projected to :math:`d`.

    Parameters
    ----------
    num_embeddings : int
        :math:`n`, the number of ids (``0 .. n-1``).
    embedding_dim : int
        :math:`d`, the width every id's vector is projected to.
    block_sizes : sequence of int
        :math:`n_1, \dots, n_K`, positive, summing to :math:`n`.
    block_dims : sequence of int
        :math:`d_1, \dots, d_K`, each in ``[1, d]``.
    order : sequence of int, optional
        A permutation of ``0 .. n-1``: ``order[r]`` is the id of popularity
        rank ``r`` (most popular first). The first ``n_1`` ids of ``order``
        form block 1, and so on. Default: the ids in their own order. It is
        stored (as an int32 buffer of :math:`n` entries, 4 bytes per id), since
        serving needs it.

    Examples
    --------
    >>> import torch
    >>> emb = MixedDimEmbedding(100, 16, block_sizes=[10, 90], block_dims=[16, 4])
    >>> emb.n_parameters == 10 * 16 + 90 * 4 + 16 * 4 == sum(p.numel() for p in emb.parameters())
    True
    >>> emb(torch.tensor([[0, 99]])).shape
    torch.Size([1, 2, 16])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        block_sizes: Sequence[int],
        block_dims: Sequence[int],
        order: Sequence[int] | np.ndarray | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.num_embeddings = _check_positive("num_embeddings", num_embeddings)
        self.embedding_dim = _check_positive("embedding_dim", embedding_dim)
        sizes = [_check_positive("block size", int(n) if isinstance(n, np.integer) else n) for n in block_sizes]
        dims = [_check_positive("block dimension", int(k) if isinstance(k, np.integer) else k) for k in block_dims]
        if not sizes or len(sizes) != len(dims):
            raise ValueError(f"block_sizes and block_dims must be non-empty and of equal length, got {len(sizes)} and {len(dims)}")
        if sum(sizes) != num_embeddings:
            raise ValueError(f"block_sizes must sum to num_embeddings = {num_embeddings}, got {sum(sizes)}")
        if max(dims) > embedding_dim:
            raise ValueError(f"block dimensions must not exceed embedding_dim = {embedding_dim}, got {max(dims)}")
        if order is None:
            position = torch.arange(num_embeddings, dtype=torch.int32)
        else:
            order_t = torch.as_tensor(np.asarray(order), dtype=torch.int64).ravel()
            if len(order_t) != num_embeddings or not torch.equal(torch.sort(order_t).values, torch.arange(num_embeddings)):
                raise ValueError(f"order must be a permutation of 0 .. {num_embeddings - 1}")
            position = torch.empty(num_embeddings, dtype=torch.int32)
            position[order_t] = torch.arange(num_embeddings, dtype=torch.int32)
        self.block_sizes = tuple(sizes)
        self.block_dims = tuple(dims)
        #: popularity rank of every id (stored: serving needs it)
        self.register_buffer("position", position)
        self.blocks = torch.nn.ModuleList(torch.nn.Embedding(n, k) for n, k in zip(sizes, dims))
        self.projections = torch.nn.ModuleList(
            torch.nn.Identity() if k == embedding_dim else torch.nn.Linear(k, embedding_dim, bias=False) for k in dims
        )
        for table, k in zip(self.blocks, dims):  # rows of width d_k projected to d: keep the output scale near a full table's
            torch.nn.init.normal_(table.weight, std=0.1)
        for proj, k in zip(self.projections, dims):
            if isinstance(proj, torch.nn.Linear):
                torch.nn.init.normal_(proj.weight, std=1.0 / math.sqrt(k))

    @property
    def n_parameters(self) -> int:
        """:math:`\\sum_k n_k d_k + \\sum_{k: d_k < d} d\\, d_k`."""
        d = self.embedding_dim
        return sum(n * k for n, k in zip(self.block_sizes, self.block_dims)) + sum(d * k for k in self.block_dims if k < d)

    @classmethod
    def from_counts(
        cls,
        counts: Sequence[float] | np.ndarray,
        embedding_dim: int,
        n_blocks: int = 4,
        alpha: float = 0.5,
        budget: int | None = None,
    ) -> "MixedDimEmbedding":
        r"""Blocks of (nearly) equal size by popularity, widths :math:`d_k = \min(d, \max(1, \operatorname{round}(\lambda \bar p_k^{\alpha})))`.

        ``counts[i]`` is id :math:`i`'s popularity (e.g. its training
        interactions); :math:`\bar p_k` is the mean count of block :math:`k`
        divided by that of the first (most popular) block, so :math:`d_1 = \lambda`.
        Without ``budget``, :math:`\lambda = d`; with one, :math:`\lambda` is the
        largest value (found by bisection) whose :attr:`n_parameters` fit in
        ``budget``.

        Raises
        ------
        ValueError
            Counts that are not a 1-D non-negative array, ``n_blocks`` outside
            ``[1, n]``, a negative ``alpha``, or a budget below the smallest
            model (every block at width 1).
        """
        c = np.asarray(counts, dtype=np.float64)
        if c.ndim != 1 or len(c) == 0 or not np.isfinite(c).all() or (c < 0).any():
            raise ValueError("counts must be a non-empty 1-D array of non-negative numbers")
        d = _check_positive("embedding_dim", embedding_dim)
        n = len(c)
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) or not 1 <= n_blocks <= n:
            raise ValueError(f"n_blocks must be an integer in [1, {n}], got {n_blocks!r}")
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        order = np.argsort(-c, kind="stable")
        parts = np.array_split(order, int(n_blocks))
        sizes = [len(p) for p in parts]
        mean = np.array([c[p].mean() for p in parts]) + 1e-12
        rel = (mean / mean[0]) ** float(alpha)

        def dims_for(lam: float) -> list[int]:
            return [int(min(d, max(1, round(lam * r)))) for r in rel]

        def params(dims: list[int]) -> int:
            return sum(s * k for s, k in zip(sizes, dims)) + sum(d * k for k in dims if k < d)

        if budget is None:
            dims = dims_for(float(d))
        else:
            if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
                raise ValueError(f"budget must be an integer number of parameters, got {budget!r}")
            smallest = params([1] * len(sizes))
            if budget < smallest:
                raise ValueError(f"budget {budget} is below the smallest mixed-dimension table ({smallest} parameters)")
            lo, hi = 0.0, float(d) / float(rel.min())  # dims_for(hi) is every block at width d
            for _ in range(60):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if params(dims_for(mid)) <= budget else (lo, mid)
            dims = dims_for(lo)
        return cls(n, d, sizes, dims, order=order)

    def _stacked(self) -> torch.Tensor:
        """Every block's rows projected to width :math:`d`, in popularity order: ``(n, d)``.

        Projecting whole blocks costs :math:`\\sum_k n_k d_k d` multiply-adds, less than
        gathering block by block for a mini-batch at this book's table sizes.
        """
        return torch.cat([proj(table.weight) for table, proj in zip(self.blocks, self.projections)], dim=0)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        """The rows ``index``: each id's row of its popularity block, projected to the common width ``embedding_dim``."""
        _check_ids(index, self.num_embeddings)
        return self._stacked()[self.position.to(index.device)[index].long()]

    @property
    def weight(self) -> torch.Tensor:
        """The full ``(n, d)`` table, built on demand."""
        return self._stacked()[self.position.long()]

    def extra_repr(self) -> str:
        """The table size and the blocks' sizes and widths, shown by ``repr``."""
        return f"{self.num_embeddings}, {self.embedding_dim}, block_sizes={list(self.block_sizes)}, block_dims={list(self.block_dims)}"
