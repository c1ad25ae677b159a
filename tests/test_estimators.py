"""The estimator contract, checked on every public model of the package.

Models are discovered automatically: every public subclass of
``recbook.base.Recommender`` defined in a ``recbook`` module is covered, so a
new model is tested without editing this file. A model whose constructor needs
arguments (side data, component models) provides ``_example(cls, data)``.
The checks live in :mod:`recbook.testing` (students can run them on their own
models); the last tests show that they fail on deliberately broken models.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import recbook
from recbook import testing as T
from recbook.base import Recommender
from recbook.utils import InstanceOf, Integer, Real


def _discover() -> list[type]:
    found = {}
    for info in pkgutil.walk_packages(recbook.__path__, "recbook."):
        try:
            module = importlib.import_module(info.name)
        except ImportError as err:  # torch-only modules without torch
            if "torch" in str(err):
                continue
            raise
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, Recommender)
                and obj is not Recommender
                and not name.startswith("_")
                and not vars(obj).get("_abstract", False)
                and obj.__module__.startswith("recbook.")
                and obj.__module__ != "recbook.testing"
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


ESTIMATORS = _discover()
DATA = T.example_data()


def test_discovery_finds_the_books_models():
    names = {cls.__name__ for cls in ESTIMATORS}
    assert {"BaselineOnly", "Popularity", "KNN", "BiasedMF", "EASE", "ContentKNN", "WeightedHybrid"} <= names
    assert len(ESTIMATORS) >= 25


@pytest.mark.parametrize("check", T.CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_contract(cls, check):
    check(T.example_instance(cls, DATA), DATA)


# ------------------------------------------------ the checks can fail
class Good(Recommender):
    """A correct minimal model: the item mean (ranking by it)."""

    _parameter_constraints = {"shrink": [Real(min=0)], "seed": [Integer(min=0)]}

    def __init__(self, shrink: float = 1.0, seed: int = 0) -> None:
        self.shrink = shrink
        self.seed = seed

    def _fit(self, u, i, r):
        n = np.bincount(i, minlength=self.n_items_)
        self.item_mean_ = (np.bincount(i, r, self.n_items_) + self.shrink * self.global_mean_) / (n + self.shrink)

    def _predict_idx(self, u, i):
        return np.where(i >= 0, self.item_mean_[np.maximum(i, 0)], self.global_mean_)


class ValidatesInInit(Good):
    def __init__(self, shrink: float = 1.0, seed: int = 0) -> None:
        if shrink < 0:
            raise ValueError("shrink")
        self.shrink = shrink
        self.seed = seed
        self.extra = 1


class FitReturnsNone(Good):
    def fit(self, train):
        super().fit(train)


class UndeclaredParameter(Good):
    _parameter_constraints = {"shrink": [Real(min=0)]}


class BadFittedName(Good):
    def _fit(self, u, i, r):
        super()._fit(u, i, r)
        self.means = self.item_mean_


class Unseeded(Good):
    def _fit(self, u, i, r):
        super()._fit(u, i, r)
        self.item_mean_ = self.item_mean_ + np.random.default_rng().random(self.n_items_) * 1e-3


class NaNForUnknown(Good):
    def _predict_idx(self, u, i):
        return np.where(i >= 0, self.item_mean_[np.maximum(i, 0)], np.nan)


class MutatesSideData(Good):
    _parameter_constraints = {**Good._parameter_constraints, "side": [None, InstanceOf(list)]}

    def __init__(self, shrink: float = 1.0, seed: int = 0, side: list | None = None) -> None:
        self.shrink = shrink
        self.seed = seed
        self.side = side

    def _fit(self, u, i, r):
        super()._fit(u, i, r)
        if self.side is not None:
            self.side.append("fitted")


def test_a_correct_model_passes_every_check():
    T.check_recommender(Good(), DATA)


@pytest.mark.parametrize(
    "broken,check",
    [
        (ValidatesInInit, T.check_init_stores_params_only),
        (FitReturnsNone, T.check_fit_returns_self_and_fitted_attributes),
        (UndeclaredParameter, T.check_params_validated_at_fit),
        (BadFittedName, T.check_fit_returns_self_and_fitted_attributes),
        (Unseeded, T.check_same_seed_same_predictions),
        (NaNForUnknown, T.check_unknown_ids_get_the_fallback),
        (MutatesSideData, T.check_fit_returns_self_and_fitted_attributes),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_the_checks_catch_broken_models(broken, check):
    est = broken(side=["given"]) if broken is MutatesSideData else broken()
    with pytest.raises(AssertionError):
        check(est, DATA)
