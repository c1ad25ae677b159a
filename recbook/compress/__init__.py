"""Chapter 8: model compression.

* :mod:`recbook.compress.quantize` -- :func:`quantize_rows`, row-wise
  asymmetric min-max quantization of an embedding table to 8 or 4 bits, and
  :class:`QuantizedEmbedding`, the scoring path that reads it.
* :mod:`recbook.compress.lowrank` -- :func:`low_rank_factorize`, the best
  rank-:math:`r` approximation by truncated SVD.
* :mod:`recbook.compress.prune` -- :func:`prune_magnitude`, unstructured
  magnitude pruning of every ``nn.Linear`` and ``nn.Embedding`` weight through
  ``torch.nn.utils.prune``, and :func:`remove_pruning`; :func:`prune_model` and
  :func:`fine_tune_pruned` (prune a fitted model, then train it on with its
  masks kept); structured pruning that really shrinks the model:
  :func:`prune_dimensions` (latent dimensions of a factor model) and
  :func:`prune_neurons` (hidden units of NeuMF's tower).
* :mod:`recbook.compress.sharing` -- parameter sharing: :class:`QREmbedding`
  (the quotient-remainder trick), :class:`HashEmbedding` (the hashing trick)
  and :class:`MixedDimEmbedding` (widths by popularity); defined in
  :mod:`recbook.models.embeddings`, since chapter 6's ``TorchBPR`` builds them.
* :mod:`recbook.compress.features` -- :func:`compress_features`, fewer input
  features by PCA, random projection or variance selection.
* :mod:`recbook.compress.serve` -- :class:`Compressed`, a torch
  recommender scored through a compressed copy of its module, with the
  estimator interface (so the protocols evaluate it like any model).
* :mod:`recbook.compress.retrieval` -- :class:`ItemIndex` (exact, scalar-
  and product-quantized inner-product search through faiss),
  :class:`Retrieved` (a factor model that recommends through such an index)
  and :func:`recall_at_k` against exact search.
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
    "quantize_linear": "recbook.compress.quantize",
    "lowrank": "recbook.compress.lowrank",
    "low_rank_factorize": "recbook.compress.lowrank",
    "prune": "recbook.compress.prune",
    "prune_magnitude": "recbook.compress.prune",
    "remove_pruning": "recbook.compress.prune",
    "sparsity": "recbook.compress.prune",
    "prune_model": "recbook.compress.prune",
    "fine_tune_pruned": "recbook.compress.prune",
    "sparse_state": "recbook.compress.prune",
    "dimension_importance": "recbook.compress.prune",
    "prune_dimensions": "recbook.compress.prune",
    "prune_linear_pair": "recbook.compress.prune",
    "prune_neurons": "recbook.compress.prune",
    "sharing": "recbook.compress.sharing",
    "QREmbedding": "recbook.compress.sharing",
    "HashEmbedding": "recbook.compress.sharing",
    "MixedDimEmbedding": "recbook.compress.sharing",
    "features": "recbook.compress.features",
    "compress_features": "recbook.compress.features",
    "serve": "recbook.compress.serve",
    "Compressed": "recbook.compress.serve",
    "retrieval": "recbook.compress.retrieval",
    "ItemIndex": "recbook.compress.retrieval",
    "Retrieved": "recbook.compress.retrieval",
    "mips_vectors": "recbook.compress.retrieval",
    "recall_at_k": "recbook.compress.retrieval",
    "size": "recbook.compress.size",
    "state_nbytes": "recbook.compress.size",
}

__all__, __getattr__, __dir__ = lazy_exports("recbook.compress", _WHERE)
