r"""The base of every torch model in recbook: :class:`TorchRecommender`.

A torch model is an ordinary :class:`~recbook.base.Recommender`: the
constructor stores hyper-parameters (including ``device`` and ``seed``),
``fit`` trains, ``predict`` and ``recommend`` come from the base class. What
this class adds is the torch plumbing, once:

* **Seeded and deterministic on the CPU.** The module is built with torch's
  global generator forked and seeded (``torch.random.fork_rng``), so building
  a model never disturbs the caller's random state; mini-batch order and
  negative samples come from a *local* ``torch.Generator`` seeded with
  ``seed``. With ``repro.env``'s fixed threads and code paths, the same seed
  gives the same parameters on any x86-64 machine.
* **Fitted state as NumPy arrays.** After training, ``state_dict_`` holds the
  module's parameters and buffers as NumPy arrays (so the model pickles,
  ``recbook.utils.model_size`` counts it, and nothing holds a device tensor);
  the module is rebuilt from it on first use for scoring.
* **Checkpoints** with ``torch.save`` (:meth:`TorchRecommender.save`), loaded
  with ``torch.load(path, weights_only=True)`` (:meth:`TorchRecommender.load`),
  which refuses to unpickle arbitrary objects.
* **One loop**: training runs through :func:`recbook.train.train_module`,
  which also trains with ``DistributedDataParallel`` when the process was
  started under ``torchrun`` (:func:`recbook.train.init_distributed`).
* ``history_``: one row per epoch (``epoch``, ``loss``).

A subclass implements three torch hooks (and declares its hyper-parameters):

``_build()``
    return the ``torch.nn.Module`` for ``n_users_`` users and ``n_items_`` items.
``_loss(module, batch, generator)``
    the mean loss of a mini-batch; ``batch`` is a dict of tensors (``u``,
    ``i``, ``r``, each of the batch's length) on the model's device.
``_scores(module, u)``
    a ``(len(u), n_items_)`` score tensor for the internal user indices ``u``
    (all known, ``>= 0``).

and, optionally, ``_training_data(u, i, r)`` (the rows of a mini-batch: one per
interaction unless overridden) and ``_fallback_scores()``: the scores of an unknown user (by
default the mean of every user's scores, computed once after training). An
unknown item gets the mean of the user's scores.

A :class:`recbook.distill.Distiller` trains a student through the same hooks:
it sets ``_loss_wrapper`` on the student for one ``fit``, a callable
``wrap(model, loss) -> loss_fn`` that adds a distillation term to ``_loss``
(the student's ``_scores`` must keep the graph: never wrap it in ``no_grad``).
It can also set ``_init_from``, a fitted model of the same class whose weights
start the training instead of the random initialisation (a *warm start*, see
:meth:`TorchRecommender._warm_start`): rows of the tables named in
``_id_tables`` are matched by raw user or item id.

See :class:`recbook.models.bpr.TorchBPR` for a complete example (CONTRIBUTING.md,
"How to add a model").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from recbook.base import Recommender
from recbook.train import train_module
from recbook.utils import Boolean, Integer, Options, Real

__all__ = ["TorchRecommender"]

#: Format tag written into every checkpoint.
CHECKPOINT_FORMAT = "recbook-checkpoint-1"


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class TorchRecommender(Recommender):
    """Base class of the torch models (see the module docstring).

    Parameters shared by every torch model (subclasses list them in their own
    ``__init__`` and ``_parameter_constraints``; :attr:`BASE_CONSTRAINTS`
    holds the common ones):

    n_epochs : int
        Passes over the training interactions.
    batch_size : int
        Interactions per mini-batch.
    lr : float
        Adam's learning rate :math:`\\gamma`.
    device : str
        ``"cpu"`` (the default: deterministic), ``"cuda"``, or ``"auto"``.
    seed : int
        Seed of the initialisation, the mini-batch order and the sampling.
    show_progress : bool
        A tqdm bar over epochs.

    Attributes
    ----------
    state_dict_ : dict of str to numpy.ndarray
        The trained module's parameters and buffers.
    history_ : pandas.DataFrame
        ``epoch`` and the mean training ``loss`` of each epoch.
    """

    _rating_model: ClassVar[bool] = False
    #: State-dict keys whose rows are indexed by users or items, for warm starts: ``"user"`` or
    #: ``"item"``, or ``("item", 1)`` when row ``j + 1`` holds item ``j`` (a padding row first).
    _id_tables: ClassVar[dict[str, str | tuple[str, int]]] = {}
    #: A base to subclass, not a model (the contract tests skip a class that sets this itself).
    _abstract: ClassVar[bool] = True
    #: Constraints of the hyper-parameters every torch model has; a subclass adds them to its own
    #: ``_parameter_constraints`` (``{**TorchRecommender.BASE_CONSTRAINTS, ...}``).
    BASE_CONSTRAINTS: ClassVar[dict[str, list]] = {
        "n_epochs": [Integer(min=1)],
        "batch_size": [Integer(min=1)],
        "lr": [Real(min=0, min_open=True)],
        "device": [Options("cpu", "cuda", "auto")],
        "seed": [Integer(min=0)],
        "show_progress": [Boolean()],
    }

    # ------------------------------------------------------------- hooks
    def _build(self) -> torch.nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def _loss(self, module: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _scores(self, module: torch.nn.Module, u: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _fallback_scores(self) -> np.ndarray:
        """Scores of an unknown user: the mean of all users' scores (one row)."""
        total = np.zeros(self.n_items_)
        for start in range(0, self.n_users_, 1024):
            total += self._score_known(np.arange(start, min(start + 1024, self.n_users_))).sum(axis=0)
        return total / max(self.n_users_, 1)

    # --------------------------------------------------------------- fit
    def _training_data(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> dict[str, torch.Tensor]:
        """The rows the loop iterates over: by default one per interaction (``u``, ``i``, ``r``).

        A model trained per user (Mult-VAE) returns ``{"u": all user indices}``.
        """
        return {
            "u": torch.tensor(np.asarray(u), dtype=torch.long),
            "i": torch.tensor(np.asarray(i), dtype=torch.long),
            "r": torch.tensor(np.asarray(r), dtype=torch.float32),
        }

    def _make_optimizer(self, module: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(module.parameters(), lr=float(self.lr))

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        device = resolve_device(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            module = self._build().to(device)
        init = getattr(self, "_init_from", None)
        if init is not None:  # set by recbook.distill.Distiller(warm_start=...) for one fit
            self._warm_start(module, init)
        data = self._training_data(u, i, r)
        loss_fn = self._loss
        wrap = getattr(self, "_loss_wrapper", None)
        if wrap is not None:  # set by recbook.distill.Distiller on its student for one fit
            loss_fn = wrap(self, self._loss)
        result = train_module(
            module,
            loss_fn,
            data,
            n_epochs=int(self.n_epochs),
            batch_size=int(self.batch_size),
            optimizer=self._make_optimizer(module),
            seed=int(self.seed),
            show_progress=bool(self.show_progress),
            desc=type(self).__name__,
        )
        self.history_ = result.history
        self.state_dict_ = {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}
        self._module = module
        self.fallback_scores_ = np.asarray(self._fallback_scores(), dtype=np.float64)

    def _warm_start(self, module: torch.nn.Module, previous: "TorchRecommender") -> None:
        """Start ``module`` from ``previous``'s fitted weights, matching users and items by raw id.

        A table named in ``_id_tables`` gets, for every current user (item)
        that ``previous`` knew, that user's (item's) old row; new users and
        items keep their fresh initialisation (and so do the rows before an
        offset, e.g. a padding row). Every other tensor is copied as it is
        and must have the same shape (same hyper-parameters). Sets
        ``n_warm_users_`` and ``n_warm_items_``, the rows carried over.
        """
        if type(previous) is not type(self):
            raise TypeError(f"a warm start needs a fitted {type(self).__name__}, got {type(previous).__name__}")
        if not hasattr(previous, "state_dict_"):
            raise ValueError(f"the warm-start {type(previous).__name__} is not fitted")
        positions = {
            "user": previous.user_index(self.user_ids_),
            "item": previous.item_index(self.item_ids_),
        }
        state = module.state_dict()
        for key, value in state.items():
            if key not in previous.state_dict_:
                raise ValueError(f"the warm-start model has no {key!r}")
            old = torch.as_tensor(previous.state_dict_[key], dtype=value.dtype)
            kind = self._id_tables.get(key)
            if kind is not None:
                kind, offset = (kind, 0) if isinstance(kind, str) else kind
                pos = torch.as_tensor(positions[kind])
                if old.shape[1:] != value.shape[1:]:
                    raise ValueError(f"{key!r} has rows of shape {tuple(value.shape[1:])}, the warm-start model's {tuple(old.shape[1:])}")
                hit = torch.nonzero(pos >= 0).ravel()
                value[hit + offset] = old[pos[hit] + offset].to(value.device)
            elif old.shape == value.shape:
                value.copy_(old)
            else:
                raise ValueError(
                    f"{key!r} has shape {tuple(value.shape)} here and {tuple(old.shape)} in the warm-start model "
                    "(different hyper-parameters, or a table missing from _id_tables)"
                )
        self.n_warm_users_ = int((positions["user"] >= 0).sum())
        self.n_warm_items_ = int((positions["item"] >= 0).sum())

    # ------------------------------------------------------------ scoring
    def _get_module(self) -> torch.nn.Module:
        module = getattr(self, "_module", None)
        if module is None:
            with torch.random.fork_rng(devices=[]):
                module = self._build()
            module.load_state_dict({k: torch.as_tensor(v) for k, v in self.state_dict_.items()})
            module = module.to(resolve_device(self.device)).eval()
            self._module = module
        return module

    def _score_known(self, u: np.ndarray) -> np.ndarray:
        module = self._get_module()
        device = next(module.parameters()).device
        with torch.no_grad():
            out = self._scores(module, torch.as_tensor(u, dtype=torch.long, device=device))
        return out.detach().cpu().numpy().astype(np.float64)

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.int64)
        out = np.empty((len(u), self.n_items_))
        known = u >= 0
        if known.any():
            out[known] = self._score_known(u[known])
        out[~known] = getattr(self, "fallback_scores_", np.zeros(self.n_items_))
        return out

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        out = np.zeros(len(u))
        users, inverse = np.unique(u, return_inverse=True)
        for start in range(0, len(users), 512):
            block = users[start : start + 512]
            scores = self._score_users(block)
            rows = np.flatnonzero((inverse >= start) & (inverse < start + len(block)))
            known_item = i[rows] >= 0
            out[rows[known_item]] = scores[inverse[rows[known_item]] - start, i[rows[known_item]]]
            out[rows[~known_item]] = float(np.mean(scores)) if scores.size else 0.0
        return out

    # -------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_module", None)  # rebuilt from state_dict_ on first use
        state.pop("_loss_wrapper", None)
        return state

    # ------------------------------------------------------ checkpoints
    def save(self, path: str | Path) -> Path:
        """Save the fitted model to ``path`` with ``torch.save`` (tensors and plain values only).

        The file holds the class name, the hyper-parameters, the module's
        state, the id maps and the training interactions (for excluding seen
        items), so :meth:`load` restores a model that predicts the same.
        """
        self._check_fitted()
        params = self.get_params(deep=False)
        for name, value in params.items():
            plain = (str, int, float, bool, type(None))
            if not isinstance(value, plain) and not (isinstance(value, (tuple, list)) and all(isinstance(v, plain) for v in value)):
                raise TypeError(
                    f"{type(self).__name__}.save can only store plain hyper-parameters (numbers, strings, "
                    f"tuples of them), {name}={value!r} is not"
                )
        train = self.train_.tocsr()
        payload = {
            "format": CHECKPOINT_FORMAT,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": params,
            "state_dict": {k: torch.as_tensor(v) for k, v in self.state_dict_.items()},
            "fallback_scores": torch.as_tensor(self.fallback_scores_),
            "user_ids": self.user_ids_.tolist(),
            "item_ids": self.item_ids_.tolist(),
            "n_train_items": int(self.n_train_items_),
            "global_mean": float(self.global_mean_),
            "rating_scale": [float(x) for x in self.rating_scale_],
            "train": {
                "indptr": torch.as_tensor(train.indptr.astype(np.int64)),
                "indices": torch.as_tensor(train.indices.astype(np.int64)),
                "data": torch.as_tensor(train.data.astype(np.float64)),
            },
            "history": {c: torch.tensor(self.history_[c].to_numpy().copy()) for c in self.history_.columns},
        }
        path = Path(path)
        torch.save(payload, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TorchRecommender":
        """Load a model saved by :meth:`save` (``torch.load(..., weights_only=True)``).

        Raises
        ------
        ValueError
            The file is not a recbook checkpoint, or holds another class.
        """
        payload = torch.load(Path(path), weights_only=True, map_location="cpu")
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a recbook checkpoint (format {CHECKPOINT_FORMAT})")
        expected = f"{cls.__module__}.{cls.__qualname__}"
        if payload["class"] != expected:
            raise ValueError(f"{path} holds a {payload['class']}, not a {expected}: load it with that class")
        model = cls(**payload["params"])
        model.user_ids_ = np.asarray(payload["user_ids"])
        model.item_ids_ = np.asarray(payload["item_ids"])
        model._user_index = pd.Index(model.user_ids_)
        model._item_index = pd.Index(model.item_ids_)
        model.n_users_, model.n_items_ = len(model.user_ids_), len(model.item_ids_)
        model.n_train_items_ = int(payload["n_train_items"])
        model.global_mean_ = float(payload["global_mean"])
        model.rating_scale_ = tuple(payload["rating_scale"])
        t = payload["train"]
        model.train_ = sp.csr_matrix(
            (t["data"].numpy(), t["indices"].numpy(), t["indptr"].numpy()), shape=(model.n_users_, model.n_items_)
        )
        model.state_dict_ = {k: v.numpy().copy() for k, v in payload["state_dict"].items()}
        model.fallback_scores_ = payload["fallback_scores"].numpy().astype(np.float64)
        model.history_ = pd.DataFrame({c: v.numpy() for c, v in payload["history"].items()})
        return model
