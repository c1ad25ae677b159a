r"""Serving a trained torch recommender compressed, through the ordinary estimator interface (chapter 8).

:class:`Compressed` takes a torch model of :mod:`recbook.models` (fitted, or
fitted here), applies one compression to its module and scores with the
compressed module through the model's own ``_scores``. So a compressed model
is evaluated by the same protocol code as every other model, and its size is
:func:`~recbook.compress.size.state_nbytes` of what is actually kept.

Methods:

``"int8"``, ``"int4"``
    every embedding table row-wise quantized
    (:func:`~recbook.compress.quantize.quantize_embeddings`); tables that
    quantization would not shrink (a bias column) stay float32.
``"linear-int8"``
    every ``nn.Linear`` dynamically quantized to int8 by PyTorch
    (:func:`~recbook.compress.quantize.quantize_linear`); embedding tables stay float32.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from recbook.base import Recommender
from recbook.compress.quantize import quantize_embeddings, quantize_linear
from recbook.compress.size import state_nbytes
from recbook.utils import InstanceOf, Options

__all__ = ["Compressed", "METHODS", "predict_from_score_rows"]


def predict_from_score_rows(est: Recommender, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Scores of ``(u, i)`` index pairs read from ``est._score_users`` rows, one row per distinct user.

    For estimators that score whole rows (a compressed module, an index); an
    unknown item (``i < 0``) gets 0.
    """
    u = np.asarray(u, dtype=np.int64)
    i = np.asarray(i, dtype=np.int64)
    out = np.zeros(len(u))
    if len(u):
        users, row = np.unique(u, return_inverse=True)
        scores = est._score_users(users)
        known = i >= 0
        out[known] = scores[row[known], i[known]]
    return out

#: The compressions :class:`Compressed` applies.
METHODS = ("int8", "int4", "linear-int8")


class Compressed(Recommender):
    """A torch recommender scored through a compressed copy of its module (see the module docstring).

    Parameters
    ----------
    model : TorchRecommender
        A fitted model is compressed as it is (it must know the training
        users and items); an unfitted one is cloned and fitted first.
    method : {"int8", "int4", "linear-int8"}, default "int8"

    Attributes
    ----------
    model_ : TorchRecommender
        The uncompressed model.
    module_ : torch.nn.Module
        The compressed module that scores.
    nbytes_, base_nbytes_ : int
        Saved bytes of the compressed and of the original module's state.
    table_nbytes_, base_table_nbytes_ : int
        Bytes of the compressed embedding tables (codes, scales and offsets)
        and of the same tables in float32 (both 0 for ``"linear-int8"``,
        which quantizes no table).
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "model": [InstanceOf(Recommender, what="a recbook torch model")],
        "method": [Options(*METHODS)],
    }

    def __init__(self, model: Recommender, method: str = "int8") -> None:
        self.model = model
        self.method = method

    @classmethod
    def _example(cls, data: Any) -> "Compressed":
        from recbook.models.bpr import TorchBPR

        return cls(TorchBPR(n_factors=8, n_epochs=2, batch_size=256), method="int8")

    def _check_params(self) -> None:
        from recbook.models.base import TorchRecommender

        if not isinstance(self.model, TorchRecommender):
            raise TypeError(f"Compressed needs a torch model of recbook.models, got {type(self.model).__name__}")

    def _predicts_ratings(self) -> bool:
        return bool(self.model._predicts_ratings())

    def _fit_frame(self, frame: pd.DataFrame, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        from sklearn.base import clone

        model = self.model
        if hasattr(model, "state_dict_"):
            if not (np.array_equal(model.user_ids_, self.user_ids_) and np.array_equal(model.item_ids_, self.item_ids_)):
                raise ValueError("the fitted model was trained on other users or items: fit it on the same data, or pass it unfitted")
        else:
            model = clone(model).fit(frame)
        module = model._get_module()
        if self.method == "linear-int8":
            small = quantize_linear(module).eval()
        else:
            small = quantize_embeddings(module, bits={"int8": 8, "int4": 4}[self.method]).eval()
        self.model_ = model
        self.module_ = small
        self.nbytes_ = state_nbytes(small)
        self.base_nbytes_ = state_nbytes(module)
        from recbook.compress.quantize import QuantizedEmbedding

        quantized = [m for m in small.modules() if isinstance(m, QuantizedEmbedding)]
        self.table_nbytes_ = int(sum(m.table().nbytes for m in quantized))
        self.base_table_nbytes_ = int(sum(4 * m.num_embeddings * m.embedding_dim for m in quantized))

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.int64)
        out = np.empty((len(u), self.n_items_))
        known = u >= 0
        if known.any():
            with torch.no_grad():
                s = self.model_._scores(self.module_, torch.as_tensor(u[known], dtype=torch.long))
            out[known] = s.cpu().numpy().astype(np.float64)
        out[~known] = getattr(self.model_, "fallback_scores_", np.zeros(self.n_items_))
        return out

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return predict_from_score_rows(self, u, i)
