"""Chapter 6: large models, as recbook estimators wrapping ``torch.nn.Module``.

* :mod:`recbook.models.base` -- :class:`TorchRecommender`, the base every torch
  model follows: hyper-parameters only in ``__init__`` (``device`` and
  ``seed`` among them), a seeded local generator, the fitted state as NumPy
  arrays (``state_dict_``), checkpoints saved with ``torch.save`` and loaded
  with ``torch.load(..., weights_only=True)``.
* :mod:`recbook.models.bpr` -- :class:`TorchBPR`, matrix factorisation trained
  with the BPR loss in torch: the worked example of how to add a model
  (``CONTRIBUTING.md``, "How to add a model").
* :mod:`recbook.models.vae` -- :class:`MultVAE` (Liang et al. 2018), a
  variational autoencoder over each user's item set, which folds in a new
  user from a few interactions without retraining.
* :mod:`recbook.models.neumf` -- :class:`NeuMF` (He et al. 2017), GMF and MLP
  towers on user and item ids, fused by a linear layer.
* :mod:`recbook.models.sequential` -- :class:`GRU4Rec` (Hidasi et al. 2016) and
  :class:`SASRec` (Kang & McAuley 2018), next-item models over each user's
  time-ordered history.
* :mod:`recbook.models.twotower` -- :class:`TwoTower`, a two-tower model whose
  item tower projects a frozen language-model text vector (optionally plus an
  id residual), so it scores items that have no interactions.

Nothing here imports torch until a model is used, so ``import recbook`` stays
cheap; ``import recbook.models.base`` imports torch.
"""

from __future__ import annotations

from recbook._lazy import lazy_exports

_WHERE = {
    "base": "recbook.models.base",
    "bpr": "recbook.models.bpr",
    "TorchRecommender": "recbook.models.base",
    "TorchBPR": "recbook.models.bpr",
    "vae": "recbook.models.vae",
    "MultVAE": "recbook.models.vae",
    "neumf": "recbook.models.neumf",
    "NeuMF": "recbook.models.neumf",
    "sequential": "recbook.models.sequential",
    "GRU4Rec": "recbook.models.sequential",
    "SASRec": "recbook.models.sequential",
    "augment_sequences": "recbook.models.sequential",
    "fine_tune": "recbook.models.sequential",
    "sparse_users_split": "recbook.models.sequential",
    "twotower": "recbook.models.twotower",
    "TwoTower": "recbook.models.twotower",
}

__all__, __getattr__, __dir__ = lazy_exports("recbook.models", _WHERE)
