r"""Row-wise quantization of embedding tables (chapter 8).

An embedding table :math:`W \in \mathbb{R}^{m \times d}` is stored row by row
as small integer codes. For row :math:`i` with minimum :math:`a_i` and
maximum :math:`b_i`, and :math:`L = 2^{\text{bits}} - 1` levels,

.. math::

    s_i = \frac{b_i - a_i}{L}, \qquad
    q_{ij} = \operatorname{round}\!\Big(\frac{w_{ij} - a_i}{s_i}\Big) \in \{0, \dots, L\}, \qquad
    \hat w_{ij} = a_i + s_i\, q_{ij},

so that :math:`|w_{ij} - \hat w_{ij}| \le s_i / 2` (asymmetric min-max
quantization: the offset :math:`a_i` lets a row that is not centred on zero
use every level). The scale and the offset are stored in float32 per row, so
a table of :math:`m \times d` float32 numbers (:math:`4md` bytes) becomes
:math:`md + 8m` bytes at 8 bits, a ratio of :math:`4d / (d + 8)` (3.56 at
:math:`d = 64`), and :math:`m \lceil d/2 \rceil + 8m` bytes at 4 bits (two
codes per byte). Row-wise scales matter for recommenders: popular items have
large embeddings and rare ones small, and one scale for the whole table
would waste most levels on the few large rows (Guan et al. 2019).

To keep the bound exact after rounding to float32, the stored offset is
rounded *down* and the stored scale *up*, so the grid always covers the row;
a constant row gets scale 0 and is reproduced exactly.

References
----------
H. Guan, A. Malevich, J. Yang, J. Park and H. Yuen, "Post-training 4-bit
quantization on embedding tables", NeurIPS Workshop on Systems for ML, 2019.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["quantize_rows", "QuantizedRows", "QuantizedEmbedding", "quantize_embeddings", "quantize_linear"]

_BITS = (8, 4)


def _as_matrix(weight: Any) -> torch.Tensor:
    if isinstance(weight, torch.nn.Embedding):
        weight = weight.weight
    w = torch.as_tensor(np.asarray(weight) if not isinstance(weight, torch.Tensor) else weight)
    if w.ndim != 2:
        raise ValueError(f"quantize_rows needs a 2-D table (rows x dimensions), got shape {tuple(w.shape)}")
    if not torch.is_floating_point(w):
        raise ValueError(f"quantize_rows needs a floating-point table, got {w.dtype}")
    w = w.detach().cpu().to(torch.float64)
    if not torch.isfinite(w).all():
        raise ValueError("the table has NaN or infinite entries")
    return w


def _pack4(codes: torch.Tensor) -> torch.Tensor:
    if codes.shape[1] % 2:
        codes = torch.nn.functional.pad(codes, (0, 1))
    return codes[:, 0::2] | (codes[:, 1::2] << 4)


def _unpack4(packed: torch.Tensor, d: int) -> torch.Tensor:
    out = torch.stack([packed & 0x0F, packed >> 4], dim=-1).reshape(packed.shape[0], -1)
    return out[:, :d]


@dataclass(frozen=True, eq=False)
class QuantizedRows:
    """A row-wise quantized table (see the module docstring); made by :func:`quantize_rows`.

    Attributes
    ----------
    codes : torch.Tensor
        ``uint8``; ``(m, d)`` at 8 bits, ``(m, ceil(d / 2))`` at 4 bits (two codes per byte, low nibble first).
    scale, offset : torch.Tensor
        ``float32``, one per row.
    bits : int
    shape : tuple of int
        ``(m, d)`` of the original table.
    """

    codes: torch.Tensor
    scale: torch.Tensor
    offset: torch.Tensor
    bits: int
    shape: tuple[int, int]

    @property
    def nbytes(self) -> int:
        """Bytes of the codes plus the float32 scales and offsets."""
        return int(self.codes.numel() * self.codes.element_size() + 4 * (self.scale.numel() + self.offset.numel()))

    def _codes(self, index: torch.Tensor | None = None) -> torch.Tensor:
        codes = self.codes if index is None else self.codes[index]
        return _unpack4(codes, self.shape[1]) if self.bits == 4 else codes

    def rows(self, index: Any) -> torch.Tensor:
        """The dequantized rows ``index`` (``float32``), without expanding the whole table."""
        index = torch.as_tensor(index, dtype=torch.long)
        return self.offset[index, None] + self.scale[index, None] * self._codes(index).to(torch.float32)

    def dequantize(self) -> torch.Tensor:
        """The whole table as ``float32``, of the original shape; every entry within ``scale / 2`` of the original."""
        return self.offset[:, None] + self.scale[:, None] * self._codes().to(torch.float32)


def quantize_rows(weight: Any, bits: int = 8) -> QuantizedRows:
    """Row-wise asymmetric min-max quantization of an embedding table (module docstring).

    Parameters
    ----------
    weight : 2-D tensor, array or ``torch.nn.Embedding``
        The table, one row per id.
    bits : {8, 4}
        Code width; 4-bit codes are packed two per byte.

    Returns
    -------
    QuantizedRows
        With ``.dequantize()`` (a float32 tensor of the table's shape) and
        ``.nbytes`` (codes plus scales and offsets).

    Raises
    ------
    ValueError
        ``bits`` not 8 or 4, a table that is not 2-D or not floating point,
        or one with NaN or infinite entries.

    Examples
    --------
    >>> import torch
    >>> w = torch.tensor([[0.0, 1.0, 0.5], [2.0, 2.0, 2.0]])
    >>> q = quantize_rows(w, bits=8)
    >>> bool((q.dequantize() - w).abs().max() <= q.scale.max() / 2), q.dequantize()[1].tolist()
    (True, [2.0, 2.0, 2.0])
    >>> q.nbytes   # 6 one-byte codes, 2 scales and 2 offsets of 4 bytes
    22
    """
    if isinstance(bits, bool) or bits not in _BITS:
        raise ValueError(f"bits must be 8 or 4, got {bits!r}")
    w = _as_matrix(weight)
    levels = 2**bits - 1
    lo, hi = w.min(dim=1).values, w.max(dim=1).values
    offset = lo.to(torch.float32)
    below = offset.to(torch.float64) > lo  # round the offset down, so the grid starts at or below the row's minimum
    offset = torch.where(below, torch.nextafter(offset, torch.tensor(-np.inf, dtype=torch.float32)), offset)
    scale = ((hi - offset.to(torch.float64)) / levels).to(torch.float32)
    short = offset.to(torch.float64) + levels * scale.to(torch.float64) < hi  # round the scale up, so it reaches the maximum
    scale = torch.where(short, torch.nextafter(scale, torch.tensor(np.inf, dtype=torch.float32)), scale)
    step = torch.where(scale > 0, scale, torch.ones_like(scale)).to(torch.float64)
    codes = torch.round((w - offset.to(torch.float64)[:, None]) / step[:, None]).clamp_(0, levels).to(torch.uint8)
    if bits == 4:
        codes = _pack4(codes)
    return QuantizedRows(codes=codes, scale=scale, offset=offset, bits=int(bits), shape=(int(w.shape[0]), int(w.shape[1])))


class QuantizedEmbedding(torch.nn.Module):
    """An embedding lookup that reads a :class:`QuantizedRows` table: the scoring path of a quantized model.

    The codes, scales and offsets are buffers, so ``state_dict()`` (and
    :func:`~recbook.compress.size.state_nbytes`) holds the compressed table,
    never a float copy. ``forward(index)`` dequantizes only the rows asked
    for; :meth:`dequantize` gives the whole table (e.g. for
    ``user_vectors @ items.T`` over the catalogue).

    Parameters
    ----------
    table : QuantizedRows, or a 2-D float table / ``torch.nn.Embedding`` to quantize with ``bits``
    bits : {8, 4}, default 8
    """

    def __init__(self, table: Any, bits: int = 8) -> None:
        super().__init__()
        q = table if isinstance(table, QuantizedRows) else quantize_rows(table, bits=bits)
        self.bits = q.bits
        self.embedding_dim = q.shape[1]
        self.num_embeddings = q.shape[0]
        self.register_buffer("codes", q.codes.clone())
        self.register_buffer("scale", q.scale.clone())
        self.register_buffer("offset", q.offset.clone())

    def table(self) -> QuantizedRows:
        """The buffers as a :class:`QuantizedRows`."""
        return QuantizedRows(self.codes, self.scale, self.offset, self.bits, (self.num_embeddings, self.embedding_dim))

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        """The rows ``index`` (a tensor of ids of any shape), dequantized: shape ``index.shape + (embedding_dim,)``."""
        flat = index.reshape(-1)
        return self.table().rows(flat).reshape(*index.shape, self.embedding_dim)

    def dequantize(self) -> torch.Tensor:
        """The whole table dequantized to float32, shape ``(num_embeddings, embedding_dim)``."""
        return self.table().dequantize()

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized table (float32), so code written for ``nn.Embedding.weight`` scores with it unchanged."""
        return self.dequantize()

    def extra_repr(self) -> str:
        """The table size and bit width, shown by ``repr``."""
        return f"{self.num_embeddings}, {self.embedding_dim}, bits={self.bits}"


def quantize_embeddings(module: torch.nn.Module, bits: int = 8, min_rows: int = 2) -> torch.nn.Module:
    """A deep copy of ``module`` with every ``nn.Embedding`` of at least ``min_rows`` rows replaced by a :class:`QuantizedEmbedding`.

    The copy scores through the same code (``emb(index)`` and
    ``emb.weight`` both work), and its ``state_dict`` holds the codes, so
    :func:`~recbook.compress.size.state_nbytes` measures the real saving.
    Tables with fewer rows (e.g. a one-row padding table), and tables that
    quantization would not shrink (a bias column of width 1 costs 4 bytes a
    row in float32 and 9 quantized), stay float32.

    Raises
    ------
    ValueError
        ``bits`` not 8 or 4, or a module without an ``nn.Embedding``.
    """
    import copy

    if isinstance(bits, bool) or bits not in _BITS:
        raise ValueError(f"bits must be 8 or 4, got {bits!r}")
    if not any(isinstance(m, torch.nn.Embedding) for m in module.modules()):
        raise ValueError("the module has no nn.Embedding to quantize")
    out = copy.deepcopy(module)
    for parent in list(out.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Embedding) and child.num_embeddings >= min_rows:
                q = quantize_rows(child.weight.detach(), bits=bits)
                if q.nbytes < child.weight.numel() * child.weight.element_size():
                    setattr(parent, name, QuantizedEmbedding(q))
    return out


def quantize_linear(module: torch.nn.Module) -> torch.nn.Module:
    r"""A copy of ``module`` with every ``nn.Linear`` replaced by PyTorch's dynamically quantized int8 linear layer.

    Post-training *dynamic* quantization (``torch.ao.quantization.quantize_dynamic``):
    each weight matrix is stored once in int8 with one float scale per tensor,
    :math:`W \approx s_W\,Q_W`; at run time every input batch gets its own
    scale :math:`s_x = \max|x| / 127`, the product :math:`Q_x Q_W^\top` runs in
    integer arithmetic and is rescaled, :math:`y \approx s_x s_W\, Q_x Q_W^\top + b`.
    Nothing needs calibration data, which is why it is the usual first step for
    the multilayer perceptrons of a ranking model; embedding tables are left
    alone (see :func:`quantize_embeddings`).

    PyTorch has marked ``torch.ao.quantization`` as deprecated in favour of
    the separate ``torchao`` package; its deprecation warnings are silenced
    here, and the function keeps working as long as PyTorch ships the module.

    Raises
    ------
    ValueError
        A module without an ``nn.Linear``.
    """
    import copy
    import warnings

    if not any(isinstance(m, torch.nn.Linear) for m in module.modules()):
        raise ValueError("the module has no nn.Linear to quantize")
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(copy.deepcopy(module).eval(), {torch.nn.Linear}, dtype=torch.qint8)
