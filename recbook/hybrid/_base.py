"""Shared machinery of the hybrids: argument checks, the :class:`_Hybrid` base, small helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from recbook.base import Recommender, lookup

#: Protocols whose ``validation_split`` a learned combiner can learn on (recbook.evaluate.PROTOCOLS).
_VALIDATION = ("rating", "topk", "cold-items", "cold-users")
_CHUNK = 262_144  # rows per call of a scikit-learn learner at scoring time


def _union(parts: Sequence[Any]) -> pd.Index:
    """The values of ``parts`` (index-like), each once, in order of first appearance."""
    out = pd.Index([])
    for part in parts:
        if part is not None and len(part):
            extra = pd.Index(pd.unique(pd.Index(part)))
            extra = extra[~extra.isin(out)]
            out = out.append(extra) if len(out) else extra
    return out


def _check_model(name: str, model: Any) -> Recommender:
    if not isinstance(model, Recommender):
        raise TypeError(
            f"{name} must be a recbook Recommender (an estimator with fit/predict/recommend), "
            f"got {type(model).__name__}"
        )
    return model


def _check_models(models: Any, name: str = "models", min_len: int = 1) -> list[Recommender]:
    if isinstance(models, Recommender):
        raise TypeError(f"{name} must be a list of recbook Recommenders, got a single {type(models).__name__}")
    if not isinstance(models, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple of recbook Recommenders, got {type(models).__name__}")
    if len(models) < min_len:
        raise ValueError(
            f"{name} must hold at least {min_len} model(s), got {len(models)}: a hybrid needs components"
        )
    return [_check_model(f"{name}[{j}]", m) for j, m in enumerate(models)]


def _check_validation(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"validation must be a protocol name (a str), got {type(value).__name__}")
    if value not in _VALIDATION:
        raise ValueError(
            f"validation must name one of the protocols {_VALIDATION} whose validation split "
            f"the combiner learns on, got {value!r}"
        )
    return value


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _predict_chunked(learner: Any, X: np.ndarray) -> np.ndarray:
    if len(X) <= _CHUNK:
        return np.asarray(learner.predict(X), dtype=np.float64)
    return np.concatenate(
        [np.asarray(learner.predict(X[s : s + _CHUNK]), dtype=np.float64) for s in range(0, len(X), _CHUNK)]
    )


def _rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))


def _pair_counts(frame: pd.DataFrame, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct-rating counts in ``frame`` of each user in ``users`` and item in ``items`` (0 if absent)."""
    pairs = frame[["user", "item"]].drop_duplicates()
    nu = pairs["user"].value_counts()
    ni = pairs["item"].value_counts()
    cu = nu.reindex(users).fillna(0).to_numpy(dtype=np.float64)
    ci = ni.reindex(items).fillna(0).to_numpy(dtype=np.float64)
    return cu, ci


class _Hybrid(Recommender):
    """Shared machinery of the hybrids.

    A hybrid declares its unfitted components (``_components``), fits clones
    of them on the training frame in ``_fit_hybrid`` (the ``_fit_frame`` hook
    of :class:`recbook.base.Recommender`: components need the frame, not
    indices) and lists the fitted clones in ``_fitted_components``. The base
    class builds the hybrid's catalogue before that: the training users and
    items, then every item (user) a component can score without ratings
    (their ``_extra_items``), so the union of the components' catalogues.
    ``_align`` then maps the hybrid's indices to each component's.
    """

    def _components(self) -> list[Recommender]:  # pragma: no cover - every subclass overrides
        """The unfitted component templates (parameters), in ``_comp_*`` order."""
        raise NotImplementedError

    def _fit_hybrid(self, frame: pd.DataFrame) -> None:  # pragma: no cover
        raise NotImplementedError

    def _fitted_components(self) -> list[Recommender]:  # pragma: no cover - every subclass overrides
        """The fitted component clones, in the order the ``_comp_*`` helpers index them."""
        raise NotImplementedError

    def _predicts_ratings(self) -> bool:
        """A hybrid predicts ratings (and is clipped) when every component does."""
        return all(m._predicts_ratings() for m in self._components())

    def _extra_items(self, frame: pd.DataFrame) -> pd.Index:
        return _union([m._extra_items(frame) for m in self._components()])

    def _extra_users(self, frame: pd.DataFrame) -> pd.Index:
        return _union([m._extra_users(frame) for m in self._components()])

    def _fit_frame(self, frame: pd.DataFrame, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        """Clone and fit the components on the training frame, then combine them."""
        self._fit_hybrid(frame)
        self._align()

    # ------------------------------------------------------------ catalogue
    def _align(self) -> None:
        comps = self._fitted_components()
        self.user_counts_ = np.diff(self.train_.indptr).astype(np.float64)
        self.item_counts_ = np.bincount(self.train_.indices, minlength=self.n_items_).astype(np.float64)
        self._umaps = [m.user_index(self.user_ids_) for m in comps]
        self._imaps = [m.item_index(self.item_ids_) for m in comps]

    def _counts(self, u: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return lookup(self.user_counts_, u), lookup(self.item_counts_, i)

    # ------------------------------------------------------ component calls
    def _comp_index(self, c: int, u: np.ndarray, i: np.ndarray | None = None):
        cu = lookup(self._umaps[c], u, -1)
        if i is None:
            return cu
        return cu, lookup(self._imaps[c], i, -1)

    def _comp_predict(self, c: int, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Component ``c``'s ``predict`` for hybrid index pairs (clipped like its own ``predict``)."""
        model = self._fitted_components()[c]
        cu, ci = self._comp_index(c, u, i)
        est = np.asarray(model._predict_idx(cu, ci), dtype=np.float64)
        if model._predicts_ratings():
            est = np.clip(est, *model.rating_scale_)
        return est

    def _comp_knows(self, c: int, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        cu, ci = self._comp_index(c, u, i)
        return (cu >= 0) & (ci >= 0)

    def _comp_scores(self, c: int, u: np.ndarray) -> np.ndarray:
        """Component ``c``'s ``score_items`` rows, re-indexed to the hybrid's catalogue.

        Items the component does not know get its fallback estimate for an
        unknown item (its ``predict`` for that pair).
        """
        model = self._fitted_components()[c]
        cu = self._comp_index(c, u)
        raw = np.asarray(model._score_users(cu), dtype=np.float64)
        imap = self._imaps[c]
        known = imap >= 0
        if known.all():
            return raw[:, imap]
        out = np.empty((len(u), self.n_items_))
        out[:, known] = raw[:, imap[known]]
        unknown = np.flatnonzero(~known)
        fb = np.asarray(
            model._predict_idx(np.repeat(cu, len(unknown)), np.full(len(cu) * len(unknown), -1, dtype=np.int64)),
            dtype=np.float64,
        )
        out[:, unknown] = fb.reshape(len(u), len(unknown))
        return out

    def _seen_mask(self, u: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``scores`` with each known user's training items set to ``-inf``."""
        known = np.flatnonzero(u >= 0)
        if len(known):
            seen = self.train_[u[known]].tocoo()
            scores[known[seen.row], seen.col] = -np.inf
        return scores

    def _validation_split(self, frame: pd.DataFrame, validation: str, seed: int):
        """``(fit part, validation part)`` of ``frame``: the named protocol's :meth:`validation_split`."""
        from recbook.evaluate import get_protocol

        return get_protocol(validation).validation_split(frame, seed=seed)
