r"""Parameter sharing for embedding tables: the quotient-remainder and the hashing tricks (chapter 8).

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

References
----------
K. Weinberger, A. Dasgupta, J. Langford, A. Smola and J. Attenberg, "Feature
hashing for large scale multitask learning", ICML 2009.
H.-J. M. Shi, D. Mudigere, M. Naumov and J. Yang, "Compositional embeddings
using complementary partitions for memory-efficient recommendation systems",
KDD 2020.
"""

from __future__ import annotations

import math

import torch

__all__ = ["QREmbedding", "HashEmbedding"]

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
        _check_ids(index, self.num_embeddings)
        q = self.quotient(torch.div(index, self.num_buckets, rounding_mode="floor"))
        r = self.remainder(torch.remainder(index, self.num_buckets))
        return q * r if self.operation == "mult" else q + r

    @property
    def weight(self) -> torch.Tensor:
        """The full ``(n, d)`` table, built on demand (for scoring every item at once)."""
        return self(torch.arange(self.num_embeddings, device=self.remainder.weight.device))

    def extra_repr(self) -> str:
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
        _check_ids(index, self.num_embeddings)
        return self.table(self.bucket.to(index.device)[index])

    @property
    def weight(self) -> torch.Tensor:
        return self.table(self.bucket)

    def n_collisions(self) -> int:
        """Ids that share their row with at least one other id."""
        counts = torch.bincount(self.bucket, minlength=self.num_buckets)
        return int(counts[counts > 1].sum())

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, num_buckets={self.num_buckets}"
