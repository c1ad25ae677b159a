"""Chapter 8: model compression.

* :mod:`recbook.compress.quantize` -- :func:`quantize_rows`, row-wise
  asymmetric min-max quantization of an embedding table to 8 or 4 bits, and
  :class:`QuantizedEmbedding`, the scoring path that reads it.
* :mod:`recbook.compress.lowrank` -- :func:`low_rank_factorize`, the best
  rank-:math:`r` approximation by truncated SVD.
* :mod:`recbook.compress.prune` -- :func:`prune_magnitude`, unstructured
  magnitude pruning of every ``nn.Linear`` and ``nn.Embedding`` weight through
  ``torch.nn.utils.prune``, and :func:`remove_pruning`.
* :mod:`recbook.compress.sharing` -- parameter sharing: :class:`QREmbedding`
  (the quotient-remainder trick) and :class:`HashEmbedding` (the hashing trick).
* :mod:`recbook.compress.serve` -- :class:`Compressed`, a torch
  recommender scored through a compressed copy of its module, with the
  estimator interface (so the protocols evaluate it like any model).
* :mod:`recbook.compress.size` -- :func:`state_nbytes`, the bytes of the saved
  state, the book's one measure of a model's size.

Nothing here imports torch until a name is used, so ``import recbook`` stays
cheap.
"""

from __future__ import annotations

from recbook._lazy import lazy_exports

_WHERE = {
    "quantize": "recbook.compress.quantize",
    "quantize_rows": "recbook.compress.quantize",
    "QuantizedRows": "recbook.compress.quantize",
    "QuantizedEmbedding": "recbook.compress.quantize",
    "quantize_embeddings": "recbook.compress.quantize",
    "lowrank": "recbook.compress.lowrank",
    "low_rank_factorize": "recbook.compress.lowrank",
    "prune": "recbook.compress.prune",
    "prune_magnitude": "recbook.compress.prune",
    "remove_pruning": "recbook.compress.prune",
    "sparsity": "recbook.compress.prune",
    "sharing": "recbook.compress.sharing",
    "QREmbedding": "recbook.compress.sharing",
    "HashEmbedding": "recbook.compress.sharing",
    "serve": "recbook.compress.serve",
    "Compressed": "recbook.compress.serve",
    "size": "recbook.compress.size",
    "state_nbytes": "recbook.compress.size",
}

__all__, __getattr__, __dir__ = lazy_exports("recbook.compress", _WHERE)
