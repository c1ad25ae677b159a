"""Parameter sharing for embedding tables (chapter 8.3): the hashing trick, quotient-remainder and mixed-dimension embeddings.

The three modules, :class:`HashEmbedding`, :class:`QREmbedding` and
:class:`MixedDimEmbedding`, are defined in :mod:`recbook.models.embeddings`,
with their formulas and references, because chapter 6's models build their
tables from them (``TorchBPR(embedding="qr")``) and a model must not import a
later chapter. This module is chapter 8's name for them.
"""

from __future__ import annotations

from recbook.models.embeddings import HashEmbedding, MixedDimEmbedding, QREmbedding

__all__ = ["QREmbedding", "HashEmbedding", "MixedDimEmbedding"]
