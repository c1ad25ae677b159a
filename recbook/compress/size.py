"""The size of a model, measured the way that cannot lie: the bytes of its saved state."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["state_nbytes"]


def state_nbytes(module: Any) -> int:
    """The number of bytes of ``torch.save(module.state_dict())``.

    This is what a compressed model costs on disk or over the network, and it
    counts what parameter arithmetic (parameters :math:`\\times` 4) misses: an
    int8 table is 1 byte per element plus its scales, a pruning mask is a
    whole extra tensor, a tensor that is a view of a larger one saves the
    larger storage, and every tensor has a few hundred bytes of overhead.

    Parameters
    ----------
    module : torch.nn.Module, a state dict, or a fitted recbook torch model
        A ``Mapping`` of names to tensors (or NumPy arrays) is saved as it
        is; a fitted :class:`~recbook.models.base.TorchRecommender` (anything
        with a ``state_dict_`` of arrays) is measured by its fitted state.

    Examples
    --------
    >>> import torch
    >>> small, large = torch.nn.Linear(4, 4), torch.nn.Linear(64, 64)
    >>> state_nbytes(large) - state_nbytes(small) >= 4 * (64 * 65 - 4 * 5)
    True
    """
    if isinstance(module, torch.nn.Module):
        state: Mapping[str, Any] = module.state_dict()
    elif isinstance(module, Mapping):
        state = module
    elif isinstance(getattr(module, "state_dict_", None), Mapping):
        state = module.state_dict_
    else:
        raise TypeError(
            "state_nbytes needs a torch.nn.Module, a state dict or a fitted recbook torch model, "
            f"got {type(module).__name__}"
        )
    if any(isinstance(v, np.ndarray) for v in state.values()):
        state = {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v for k, v in state.items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getbuffer().nbytes
