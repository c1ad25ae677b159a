r"""Low-rank factorisation of a weight or embedding matrix (chapter 8).

A matrix :math:`W \in \mathbb{R}^{m \times n}` is replaced by two factors
:math:`A \in \mathbb{R}^{m \times r}` and :math:`B \in \mathbb{R}^{r \times n}`,
:math:`r(m + n)` numbers instead of :math:`mn`. With the singular value
decomposition :math:`W = U \Sigma V^\top`, the truncation

.. math::

    A = U_{:, :r}\, \Sigma_{:r, :r}, \qquad B = V_{:, :r}^\top

gives the best rank-:math:`r` approximation in both the Frobenius and the
spectral norm (Eckart-Young), with error
:math:`\lVert W - AB \rVert_F^2 = \sum_{k > r} \sigma_k^2`. A linear layer
:math:`x \mapsto Wx` becomes two thinner layers :math:`x \mapsto A(Bx)`, and
it pays only when :math:`r < mn / (m + n)`.

References
----------
C. Eckart and G. Young, "The approximation of one matrix by another of lower
rank", Psychometrika 1, 1936.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["low_rank_factorize"]


def low_rank_factorize(weight: Any, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, B)`` with ``A @ B`` the best rank-``rank`` approximation of ``weight`` (truncated SVD).

    Parameters
    ----------
    weight : 2-D tensor or array, ``(m, n)``
    rank : int, ``1 <= rank <= min(m, n)``

    Returns
    -------
    A : torch.Tensor, ``(m, rank)``, equal to :math:`U_r \\Sigma_r`
    B : torch.Tensor, ``(rank, n)``, equal to :math:`V_r^\\top`
        Both in ``weight``'s floating dtype (float32 for an integer or NumPy float32 input).

    Raises
    ------
    ValueError
        A ``weight`` that is not 2-D, or ``rank`` outside ``[1, min(m, n)]``.

    Examples
    --------
    >>> import torch
    >>> w = torch.outer(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, -1.0]))   # rank 1
    >>> a, b = low_rank_factorize(w, 1)
    >>> a.shape, b.shape, bool(torch.allclose(a @ b, w, atol=1e-6))
    (torch.Size([3, 1]), torch.Size([1, 2]), True)
    """
    w = weight.detach() if isinstance(weight, torch.Tensor) else torch.as_tensor(np.asarray(weight))
    if w.ndim != 2:
        raise ValueError(f"low_rank_factorize needs a 2-D matrix, got shape {tuple(w.shape)}")
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)):
        raise ValueError(f"rank must be an integer, got {rank!r}")
    m, n = w.shape
    if not 1 <= rank <= min(m, n):
        raise ValueError(f"rank must be between 1 and min(m, n) = {min(m, n)}, got {rank}")
    dtype = w.dtype if torch.is_floating_point(w) else torch.float32
    u, s, vh = torch.linalg.svd(w.to(torch.float64), full_matrices=False)
    a = (u[:, :rank] * s[:rank]).to(dtype)
    b = vh[:rank].to(dtype)
    return a, b
