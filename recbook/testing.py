"""Check that a recommender follows recbook's estimator contract.

In the spirit of scikit-learn's ``check_estimator``: every public model of the
package passes these checks (``tests/test_estimators.py`` runs them on every
:class:`~recbook.base.Recommender` subclass it finds), and a student's own
model can be checked the same way::

    from recbook.testing import check_recommender
    check_recommender(MyModel())          # raises AssertionError on the first broken rule

The contract is described in :mod:`recbook.base`. Each ``check_*`` function
takes an *unfitted* estimator and a small training frame and raises
``AssertionError`` with a message that names the broken rule.
"""

from __future__ import annotations

import copy
import inspect
import pickle
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from recbook.base import NotFittedError, Recommender, _is_side_data
from recbook.utils import Boolean, Integer, Options, Real

__all__ = ["CHECKS", "check_recommender", "example_data", "example_instance", "invalid_values"]


# ----------------------------------------------------------------- fixtures
def example_data(seed: int = 0):
    """A small synthetic :class:`~recbook.datasets.Dataset` (ratings, item genres and years)."""
    from recbook.datasets import synthetic

    return synthetic(n_users=60, n_items=80, n_ratings=1500, seed=seed)


def example_instance(cls: type, data: Any = None) -> Recommender:
    """An instance of ``cls`` for the checks: ``cls._example(data)`` if defined, else ``cls()``."""
    data = example_data() if data is None else data
    if "_example" in vars(cls) or any("_example" in vars(b) for b in cls.__mro__[1:] if b is not Recommender):
        return cls._example(data)
    required = [
        n for n, p in inspect.signature(cls.__init__).parameters.items()
        if n != "self" and p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        raise AssertionError(
            f"{cls.__name__} has required constructor arguments {required}: define a classmethod "
            "_example(cls, data) that builds an instance for recbook.testing's checks"
        )
    return cls()


def invalid_values(constraint: Any) -> list[tuple[Any, type]]:
    """Values that break one declared constraint, with the exception they must raise."""
    if isinstance(constraint, Integer):
        out = [("ten", TypeError), (1.5, TypeError)]
        if constraint.min is not None:
            out.append((constraint.min - 1, ValueError))
        if constraint.max is not None:
            out.append((constraint.max + 1, ValueError))
        return out
    if isinstance(constraint, Real):
        out = [("ten", TypeError), (float("nan"), ValueError)]
        if constraint.min is not None:
            out.append((constraint.min - 1.0 if not constraint.min_open else constraint.min, ValueError))
        if constraint.max is not None:
            out.append((constraint.max + 1.0 if not constraint.max_open else constraint.max, ValueError))
        return out
    if isinstance(constraint, Options):
        if all(isinstance(v, str) for v in constraint.values):
            return [("no-such-option", ValueError), (3.5, TypeError)]
        return []
    if isinstance(constraint, Boolean):
        return [("yes", TypeError)]
    return [(object(), TypeError)]


def _train(data: Any) -> pd.DataFrame:
    return data.ratings[["user", "item", "rating"]].copy()


def _fit(est: Recommender, data: Any) -> Recommender:
    return est.fit(_train(data))


def _params_snapshot(est: Recommender) -> dict[str, Any]:
    snap = {}
    for name, value in est.get_params(deep=False).items():
        if isinstance(value, Recommender) or _holds_estimators(value):
            snap[name] = repr(value)
        elif hasattr(value, "get_params") and hasattr(value, "fit"):
            snap[name] = value  # compared by repr
        elif isinstance(value, (pd.DataFrame, pd.Series)):
            snap[name] = value.copy(deep=True)
        else:
            try:
                snap[name] = copy.deepcopy(value)
            except Exception:  # pragma: no cover - uncopyable values are compared by identity
                snap[name] = value
    return snap


def _holds_estimators(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and any(isinstance(v, Recommender) for v in value)


def _same(a: Any, b: Any) -> bool:
    if hasattr(a, "get_params") and hasattr(a, "fit"):  # a (scikit-learn) estimator: compared by its parameters
        return type(a) is type(b) and repr(a) == repr(b)
    if isinstance(a, Mapping) and not isinstance(a, (pd.DataFrame, pd.Series)):
        return isinstance(b, Mapping) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (pd.DataFrame, pd.Series)):
        return isinstance(b, type(a)) and a.equals(b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if type(a).__name__ == "FeatureMatrix":
        if a is b:
            return True
        import scipy.sparse as sp

        ma = a.matrix.toarray() if sp.issparse(a.matrix) else np.asarray(a.matrix)
        mb = b.matrix.toarray() if sp.issparse(b.matrix) else np.asarray(b.matrix)
        return bool(a.ids.equals(b.ids) and np.array_equal(ma, mb))
    try:
        return bool(a == b)
    except Exception:
        return a is b


# ------------------------------------------------------------------ checks
def check_init_stores_params_only(est: Recommender, data: Any) -> None:
    """``__init__`` stores each argument under its own name and sets nothing else."""
    cls = type(est)
    names = cls._get_param_names()
    assert set(vars(est)) == set(names), (
        f"{cls.__name__}.__init__ must store exactly its arguments; it also set "
        f"{sorted(set(vars(est)) - set(names))} (move that work to fit)"
    )
    params = est.get_params(deep=False)
    assert set(params) == set(names)
    fresh = cls(**params)
    for n in names:
        assert getattr(fresh, n) is params[n], f"{cls.__name__}.__init__ must store {n} unchanged (no copy, no conversion)"


def check_get_set_params_and_clone(est: Recommender, data: Any) -> None:
    """``get_params``/``set_params``/``clone`` round-trip; clones share side data and clone estimators."""
    from sklearn.base import clone

    params = est.get_params(deep=False)
    assert est.set_params(**params) is est, "set_params must return self"
    c = clone(est)
    assert type(c) is type(est) and c is not est
    for name, value in params.items():
        got = c.get_params(deep=False)[name]
        if isinstance(value, Recommender):
            assert got is not value and type(got) is type(value), f"clone must clone the estimator in {name}"
        elif _holds_estimators(value):
            assert repr(got) == repr(value) and all(
                g is not v for g, v in zip(got, value) if isinstance(v, Recommender)
            ), f"clone must clone the estimators in {name}"
        elif _is_side_data(value):
            assert got is value, f"clone must share the side data in {name}, not copy it"
        else:
            assert _same(got, value), f"clone changed {name}: {value!r} -> {got!r}"
    text = repr(est)
    assert len(text) < 600 and "\n" not in text, f"repr must be one short line, got {len(text)} characters"


def check_params_validated_at_fit(est: Recommender, data: Any) -> None:
    """Every parameter has a declared constraint; bad values construct fine and raise when ``fit`` starts."""
    cls = type(est)
    constraints = cls._parameter_constraints
    names = cls._get_param_names()
    missing = [n for n in names if n not in constraints]
    assert not missing, f"{cls.__name__} declares no constraint for {missing} (_parameter_constraints)"
    params = est.get_params(deep=False)
    for name, allowed in constraints.items():
        for kind in allowed:
            if kind is None:
                continue
            for value, exc in invalid_values(kind):
                if any(k is not None and k.accepts_type(value) and k.accepts(value) for k in allowed):
                    continue  # allowed by another kind of the same parameter
                if value is None and None in allowed:
                    continue
                if exc is ValueError and not any(k is not None and k.accepts_type(value) for k in allowed):
                    exc = TypeError
                bad = cls(**{**params, name: value})  # constructing must not raise
                try:
                    bad.fit(_train(data))
                except exc as err:
                    assert name in str(err), f"{cls.__name__}: the error for a bad {name} must name it: {err}"
                except Exception as err:  # pragma: no cover - reported below
                    raise AssertionError(
                        f"{cls.__name__}(..., {name}={value!r}).fit raised {type(err).__name__}, expected {exc.__name__}"
                    ) from err
                else:
                    raise AssertionError(f"{cls.__name__}(..., {name}={value!r}).fit did not raise {exc.__name__}")


def check_fit_returns_self_and_fitted_attributes(est: Recommender, data: Any) -> None:
    """``fit`` returns self, adds only attributes ending in ``_`` (or private ones), and leaves the parameters unchanged."""
    before = _params_snapshot(est)
    names = set(vars(est))
    out = _fit(est, data)
    assert out is est, "fit must return self"
    added = set(vars(est)) - names
    public = [a for a in added if not a.startswith("_")]
    bad = [a for a in public if not a.endswith("_")]
    assert not bad, f"fitted attributes must end with '_': {bad}"
    assert "user_ids_" in added and "train_" in added
    for name, value in before.items():
        now = est.get_params(deep=False)[name]
        if isinstance(now, Recommender) or _holds_estimators(now):
            assert repr(now) == value, f"fit must not change the parameter {name}"
        elif hasattr(now, "get_params") and hasattr(now, "fit"):
            assert now is value or repr(now) == repr(value), f"fit must not change the parameter {name}"
        else:
            assert _same(now, value), f"fit must not change the parameter {name} (side data is read-only)"


def check_not_fitted(est: Recommender, data: Any) -> None:
    """A model used before ``fit`` raises :class:`~recbook.base.NotFittedError`."""
    users = data.ratings["user"].iloc[:2].to_numpy()
    items = data.ratings["item"].iloc[:2].to_numpy()
    name = type(est).__name__
    _raises(lambda: est.predict(users, items), NotFittedError, f"predict on an unfitted {name}")
    _raises(lambda: est.recommend(users, k=3), NotFittedError, f"recommend on an unfitted {name}")
    _raises(lambda: est.score_items(users), NotFittedError, f"score_items on an unfitted {name}")


def _unknown(ids: np.ndarray) -> Any:
    return -987654 if np.issubdtype(np.asarray(ids).dtype, np.number) else "no-such-id"


def check_predict_and_recommend_shapes(est: Recommender, data: Any) -> None:
    """``predict`` gives one float per pair (finite, within the scale for rating models); ``recommend`` a ranked frame."""
    train = _train(data)
    est.fit(train)
    users = train["user"].to_numpy()[:20]
    items = train["item"].to_numpy()[-20:]
    pred = est.predict(users, items)
    assert isinstance(pred, np.ndarray) and pred.dtype == np.float64 and pred.shape == (20,)
    assert np.all(np.isfinite(pred)), "predict must return finite values"
    if est._predicts_ratings():
        lo, hi = est.rating_scale_
        assert np.all((pred >= lo) & (pred <= hi)), "a rating model's predictions must lie in the rating scale"
    scores = est.score_items(users[:3])
    assert scores.shape == (3, est.n_items_) and scores.dtype == np.float64
    k = 5
    some = pd.unique(users)[:4]
    rec = est.recommend(some, k=k)
    assert list(rec.columns) == ["user", "item", "score", "rank"]
    assert rec["rank"].dtype == np.int64 and rec["score"].dtype == np.float64
    assert set(rec["user"]) <= set(some)
    for user, g in rec.groupby("user", sort=False):
        assert g["rank"].tolist() == list(range(1, len(g) + 1)) and len(g) <= k
        assert np.all(np.diff(g["score"].to_numpy()) <= 1e-12), "recommend must sort scores in decreasing order"
        seen = set(train.loc[train["user"] == user, "item"])
        assert not seen & set(g["item"]), "recommend must exclude the user's training items by default"
    assert len(est.recommend(some, k=k, exclude_seen=False)) == k * len(some)


def check_unknown_ids_get_the_fallback(est: Recommender, data: Any) -> None:
    """Unknown users and items get a finite fallback (no crash), the same on every call."""
    train = _train(data)
    est.fit(train)
    u_new, i_new = _unknown(train["user"]), _unknown(train["item"])
    user, item = train["user"].iloc[0], train["item"].iloc[0]
    pairs = ([u_new, user, u_new], [item, i_new, i_new])
    a, b = est.predict(*pairs), est.predict(*pairs)
    assert np.all(np.isfinite(a)), "unknown users or items must get a finite fallback estimate"
    if type(est).__name__ != "NormalPredictor":  # draws a fresh sample by design
        assert np.array_equal(a, b)
    rec = est.recommend([u_new], k=3)
    assert len(rec) == 3 and set(rec["user"]) == {u_new}, "an unknown user gets the fallback list"


def check_same_seed_same_predictions(est: Recommender, data: Any) -> None:
    """Two fits with the same parameters (same seed) predict exactly the same."""
    from sklearn.base import clone

    train = _train(data)
    users = train["user"].to_numpy()[:30]
    items = train["item"].to_numpy()[::-1][:30]
    a = clone(est).fit(train)
    b = clone(est).fit(train)
    if type(est).__name__ == "NormalPredictor":
        return  # predictions are draws; its own tests check the seeded sequence
    assert np.array_equal(a.predict(users, items), b.predict(users, items)), "same seed, same predictions"
    assert a.recommend(users[:5], k=5).equals(b.recommend(users[:5], k=5))


def check_pickle_round_trip(est: Recommender, data: Any) -> None:
    """A pickled and unpickled model predicts and recommends the same."""
    train = _train(data)
    est.fit(train)
    again = pickle.loads(pickle.dumps(est))
    users = train["user"].to_numpy()[:25]
    items = train["item"].to_numpy()[5:30]
    if type(est).__name__ != "NormalPredictor":
        assert np.array_equal(est.predict(users, items), again.predict(users, items))
    assert est.recommend(users[:4], k=4)[["user", "item", "rank"]].equals(again.recommend(users[:4], k=4)[["user", "item", "rank"]])


def _raises(call: Callable[[], Any], exc: type, what: str) -> None:
    try:
        call()
    except exc:
        return
    except Exception as err:
        raise AssertionError(f"{what} raised {type(err).__name__}: {err}; expected {exc.__name__}") from err
    raise AssertionError(f"{what} did not raise {exc.__name__}")


def check_bad_input(est: Recommender, data: Any) -> None:
    """Bad input to ``fit``, ``predict`` and ``recommend`` raises a clear error, not a crash deep in NumPy."""
    from sklearn.base import clone

    train = _train(data)
    _raises(lambda: clone(est).fit(train.iloc[:0]), ValueError, "fit on an empty frame")
    nan = train.copy()
    nan.loc[nan.index[3], "rating"] = np.nan
    _raises(lambda: clone(est).fit(nan), ValueError, "fit with a NaN rating")
    _raises(lambda: clone(est).fit(train[["user", "rating"]]), ValueError, "fit without an item column")
    _raises(lambda: clone(est).fit(train.to_numpy()), TypeError, "fit on an array")
    est.fit(train)
    users = train["user"].to_numpy()[:3]
    _raises(lambda: est.predict(users, train["item"].to_numpy()[:2]), ValueError, "predict with unequal lengths")
    _raises(lambda: est.recommend(users, k=0), ValueError, "recommend(k=0)")
    _raises(lambda: est.recommend(users, k=2.5), TypeError, "recommend(k=2.5)")
    _raises(lambda: est.recommend(users, k=3, batch_size=0), ValueError, "recommend(batch_size=0)")
    rec = est.recommend(users, k=3)
    assert len(rec) == 3 * len(users)


#: Every check, in the order :func:`check_recommender` runs them.
CHECKS: list[Callable[[Recommender, Any], None]] = [
    check_init_stores_params_only,
    check_get_set_params_and_clone,
    check_params_validated_at_fit,
    check_not_fitted,
    check_fit_returns_self_and_fitted_attributes,
    check_predict_and_recommend_shapes,
    check_unknown_ids_get_the_fallback,
    check_same_seed_same_predictions,
    check_pickle_round_trip,
    check_bad_input,
]


def check_recommender(est: Recommender, data: Any = None) -> None:
    """Run every contract check on (clones of) ``est``; raise ``AssertionError`` on the first failure.

    Parameters
    ----------
    est : Recommender
        An unfitted estimator.
    data : recbook.datasets.Dataset, optional
        The training data (default: :func:`example_data`).
    """
    from sklearn.base import clone

    if not isinstance(est, Recommender):
        raise TypeError(f"check_recommender needs a recbook Recommender, got {type(est).__name__}")
    data = example_data() if data is None else data
    for check in CHECKS:
        check(clone(est), data)
