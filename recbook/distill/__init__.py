"""Chapter 7: knowledge distillation.

* :mod:`recbook.distill.losses` -- the distillation losses, student first and
  teacher second, each returning a 0-dim tensor with no gradient reaching the
  teacher: :func:`soft_target_loss` (Hinton et al. 2015),
  :func:`score_distillation_loss`, :func:`hard_label_loss`,
  :func:`ranking_distillation_loss` (Tang & Wang 2018),
  :func:`listwise_distillation_loss` and :class:`HintLoss`.

Nothing here imports torch until a name is used, so ``import recbook`` stays
cheap.
"""

from __future__ import annotations

from recbook._lazy import lazy_exports

_WHERE = {
    "losses": "recbook.distill.losses",
    "soft_target_loss": "recbook.distill.losses",
    "score_distillation_loss": "recbook.distill.losses",
    "hard_label_loss": "recbook.distill.losses",
    "ranking_distillation_loss": "recbook.distill.losses",
    "listwise_distillation_loss": "recbook.distill.losses",
    "HintLoss": "recbook.distill.losses",
    "distiller": "recbook.distill.distiller",
    "Distiller": "recbook.distill.distiller",
    "LOSSES": "recbook.distill.distiller",
    "text": "recbook.distill.text",
    "DistilledTextEncoder": "recbook.distill.text",
    "TinyTextEncoder": "recbook.distill.text",
    "hash_ngrams": "recbook.distill.text",
    "movie_texts": "recbook.distill.text",
    "exclude_titles": "recbook.distill.text",
    "title_keys": "recbook.distill.text",
    "count_parameters": "recbook.distill.text",
    "median_seconds": "recbook.distill.text",
}

__all__, __getattr__, __dir__ = lazy_exports("recbook.distill", _WHERE)
