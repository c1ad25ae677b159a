r"""Unstructured magnitude pruning of a recommender's weights (chapter 8).

Magnitude pruning sets the weights of smallest absolute value to zero, on the
premise that they contribute least to the output (Han et al. 2015). With
:math:`N` prunable weights and a fraction :math:`p`, **global** pruning zeroes
the :math:`k = \operatorname{round}(pN)` weights of smallest :math:`|w|` over
all layers together, so layers with many small weights (often the embedding
tables) lose more; **per-layer** pruning zeroes the same fraction in each
layer. The prunable weights are the ``weight`` of every ``nn.Linear`` and
``nn.Embedding`` (biases and normalisation layers are small and sensitive,
and are left alone).

The pruning goes through ``torch.nn.utils.prune``: each pruned layer keeps
``weight_orig`` and a ``weight_mask`` buffer, and ``weight`` is recomputed as
their product before every forward pass, so fine-tuning afterwards keeps the
pruned weights at zero. :func:`remove_pruning` makes it permanent (the zeros
stay; the mask and the copy go). Unstructured zeros make a model neither
smaller on disk nor faster unless it is stored sparse or run on sparse
kernels: chapter 8 measures both.

References
----------
S. Han, J. Pool, J. Tran and W. Dally, "Learning both weights and connections
for efficient neural networks", NeurIPS 2015.
"""

from __future__ import annotations

import torch
from torch.nn.utils import prune as _prune

__all__ = ["prune_magnitude", "remove_pruning", "sparsity"]

_PRUNABLE = (torch.nn.Linear, torch.nn.Embedding)


def _layers(module: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in module.modules() if isinstance(m, _PRUNABLE)]


def prune_magnitude(module: torch.nn.Module, amount: float, scope: str = "global") -> torch.nn.Module:
    """Zero the smallest-magnitude weights of every ``nn.Linear`` and ``nn.Embedding`` of ``module``, in place.

    Parameters
    ----------
    module : torch.nn.Module
    amount : float in [0, 1)
        The fraction :math:`p` of the prunable weights to zero.
    scope : {"global", "layer"}
        ``"global"``: exactly ``round(amount * N)`` of all ``N`` prunable
        weights are zeroed, the smallest in magnitude over all layers
        together; ``"layer"``: ``round(amount * n_l)`` in each layer of
        ``n_l`` weights. (Weights that were already zero count among the
        smallest.)

    Returns
    -------
    torch.nn.Module
        ``module`` itself, pruned through ``torch.nn.utils.prune``
        (``weight_orig`` and ``weight_mask`` per layer; see :func:`remove_pruning`).

    Raises
    ------
    ValueError
        ``amount`` outside ``[0, 1)``, an unknown ``scope``, or a module with
        no ``nn.Linear`` or ``nn.Embedding``.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 2))
    >>> _ = prune_magnitude(net, 0.5)
    >>> sum(int((m.weight == 0).sum()) for m in (net[0], net[1]))   # round(0.5 * 48)
    24
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"prune_magnitude needs a torch.nn.Module, got {type(module).__name__}")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0.0 <= float(amount) < 1.0:
        raise ValueError(f"amount must be a fraction in [0, 1), got {amount!r}")
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    layers = _layers(module)
    if not layers:
        raise ValueError("the module has no nn.Linear or nn.Embedding weights to prune")
    if scope == "global":
        total = sum(m.weight.numel() for m in layers)
        _prune.global_unstructured(
            [(m, "weight") for m in layers], pruning_method=_prune.L1Unstructured, amount=int(round(float(amount) * total))
        )
    else:
        for m in layers:
            _prune.l1_unstructured(m, "weight", amount=int(round(float(amount) * m.weight.numel())))
    return module


def remove_pruning(module: torch.nn.Module) -> torch.nn.Module:
    """Make pruning permanent: fold each ``weight_mask`` into ``weight`` and drop the mask and ``weight_orig``."""
    for m in module.modules():
        if _prune.is_pruned(m) and hasattr(m, "weight_mask"):
            _prune.remove(m, "weight")
    return module


def sparsity(module: torch.nn.Module) -> float:
    """The fraction of zeros among the weights of ``module``'s ``nn.Linear`` and ``nn.Embedding`` layers."""
    layers = _layers(module)
    total = sum(m.weight.numel() for m in layers)
    if total == 0:
        raise ValueError("the module has no nn.Linear or nn.Embedding weights")
    return sum(int((m.weight == 0).sum()) for m in layers) / total
