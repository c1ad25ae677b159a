r"""The book's named evaluation protocols: one per task, defined once.

A number in this book always comes with its protocol: the data set, the
split and its seeds, what counts as relevant, and the cut-off :math:`K`.
The same model on the same protocol prints the same number in every chapter,
and a model is compared with another only on the same protocol.

==============  =================================================================
name            definition
==============  =================================================================
``rating``      ml-100k, Surprise's 5-fold ``KFold(random_state=0)``
                (:func:`recbook.split.kfold`), RMSE and MAE on each test fold;
                the model's own seed is kept (Surprise's convention).
``topk``        ml-100k, :func:`recbook.split.per_user_split` (20 % of each
                user's ratings to test) with seeds 0, 1, 2; every test
                interaction is relevant, whatever its rating; full ranking over
                every item the model knows minus the user's training items;
                K = 10 (:func:`recbook.evaluate.evaluate_topk`).
``cold-items``  ml-100k, :func:`recbook.split.cold_item_split` (15 % of the
                films, with all their ratings, to test) with seeds 0, 1, 2;
                RMSE and MAE on the new films, and the new films ranked for
                each user (:func:`recbook.evaluate.evaluate_new_items`), a film
                being relevant when rated 4 or 5; K = 10.
``cold-users``  ml-100k, :func:`recbook.split.cold_user_split` (10 % of the
                users keep 3 random ratings in training, the rest to test) with
                seeds 0, 1, 2; RMSE and MAE on those users, and full-ranking
                top-K for them (every test interaction relevant); K = 10.
``sequential``  ml-100k, :func:`recbook.split.leave_last_out` (each user's
                latest rating to test; ties in time broken by file order);
                the split has no seed, so seeds 0, 1, 2 are the *models'*
                seeds; the one held-out item is relevant; full ranking; K = 10
                (hit rate = HR@10).
==============  =================================================================

Hyper-parameters are never chosen on a test set. :meth:`Protocol.validation_split`
cuts a validation part out of a *training* frame with the same kind of split
(seed + 100), for tuning; the chosen values are then refitted on the whole
training frame and the test set is used once.

Use::

    from recbook.evaluate import get_protocol, summarize
    topk = get_protocol("topk")
    results = topk.run({"EASE": EASE(reg=300), "Popularity": Popularity()})
    summarize(results)           # mean and std over the three seeds
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from recbook.base import Recommender
from recbook.evaluate.core import evaluate_new_items, evaluate_ratings, evaluate_topk
from recbook.utils import check_seed

__all__ = ["Protocol", "PROTOCOLS", "Tuned", "get_protocol", "is_rating_model"]


def is_rating_model(model: Recommender) -> bool:
    """Whether ``model.predict`` estimates ratings (clipped to the scale) rather than ranking scores."""
    return bool(model._predicts_ratings())


def _splitter(task: str) -> Callable[[pd.DataFrame, int], tuple[pd.DataFrame, pd.DataFrame]]:
    from recbook import split as _split

    if task == "rating":
        return lambda r, fold: _split.kfold(r, n_splits=5, seed=0)[fold - 1]
    if task == "topk":
        return lambda r, seed: _split.per_user_split(r, test_size=0.2, seed=seed)
    if task == "cold-items":
        return lambda r, seed: _split.cold_item_split(r, item_fraction=0.15, seed=seed)
    if task == "cold-users":
        return lambda r, seed: _split.cold_user_split(r, user_fraction=0.1, n_given=3, seed=seed)
    if task == "sequential":
        return lambda r, seed: _split.leave_last_out(r, n=1)
    if task == "temporal":
        return lambda r, seed: _split.per_user_split(r, test_size=0.2, order="time")
    raise ValueError(f"unknown task {task!r}")  # pragma: no cover - the table below is fixed


@dataclass(frozen=True)
class Tuned:
    """An estimator whose hyper-parameters :meth:`Protocol.run` chooses on validation.

    For every seed of a protocol, each combination of ``grid`` is fitted on
    the *fit* part of :meth:`Protocol.validation_split` of that seed's
    training frame and scored on its validation part (``metric``, by default
    NDCG@10, or RMSE for the ``rating`` protocol); the best combination is
    refitted on the whole training frame and evaluated once on the test set.
    The test set never influences the choice.

    Parameters
    ----------
    estimator : Recommender
        The template (cloned for every fit).
    grid : dict of str to list, or list of dict
        Hyper-parameter name -> candidate values (their product is searched),
        or an explicit list of combinations.
    metric : str, optional
        The validation metric (default: ``"rmse"`` for the ``rating`` task,
        else ``"ndcg"``); RMSE and MAE are minimised, the others maximised.
    """

    estimator: Recommender
    grid: Mapping[str, list] | list[dict[str, Any]]
    metric: str | None = None

    def candidates(self) -> list[dict[str, Any]]:
        """Every combination of the grid, in the grid's order."""
        import itertools

        params = self.estimator.get_params(deep=False)
        if isinstance(self.grid, list):
            if not self.grid or not all(isinstance(c, Mapping) for c in self.grid):
                raise ValueError("Tuned.grid as a list must be a non-empty list of dicts (one per combination)")
            for combo in self.grid:
                for name in combo:
                    if name not in params:
                        raise ValueError(f"{type(self.estimator).__name__} has no hyper-parameter {name!r}")
            return [dict(c) for c in self.grid]
        if not isinstance(self.grid, Mapping) or not self.grid:
            raise ValueError("Tuned.grid must be a non-empty mapping of name -> list of values")
        names = list(self.grid)
        for name in names:
            if name not in params:
                raise ValueError(f"{type(self.estimator).__name__} has no hyper-parameter {name!r}")
            if not isinstance(self.grid[name], (list, tuple)) or not self.grid[name]:
                raise ValueError(f"Tuned.grid[{name!r}] must be a non-empty list of values")
        return [dict(zip(names, values)) for values in itertools.product(*(self.grid[n] for n in names))]


@dataclass(frozen=True)
class Protocol:
    """One named evaluation protocol: data set, split, seeds, relevance, K.

    Attributes
    ----------
    name : str
        The key in :data:`PROTOCOLS` (``"topk"``, ...).
    title : str
        A short human-readable name for tables.
    task : str
        ``"rating"``, ``"topk"``, ``"cold-items"``, ``"cold-users"``,
        ``"sequential"`` or ``"temporal"`` (top-K on each user's future).
    dataset : str
        The :func:`recbook.datasets.load` name of the data.
    seeds : tuple of int
        The split seeds (for ``rating``, the fold numbers 1..5; for
        ``sequential`` and ``temporal``, whose split has no randomness, the
        models' seeds).
    split_rule, relevance_rule : str
        The split and the relevance rule, in words.
    k : int or None
        The list length of the ranking metrics (``None`` for ``rating``).
    relevance_threshold : float or None
        The smallest rating that counts as relevant (``None``: every test
        interaction).
    vary_model_seed : bool
        Whether :meth:`run` sets each model's ``seed`` parameter to the
        protocol seed (so that the spread includes the model's own
        randomness). ``rating`` keeps the model's seed, as Surprise does.
    """

    name: str
    title: str
    task: str
    dataset: str
    seeds: tuple[int, ...]
    split_rule: str
    relevance_rule: str
    k: int | None = 10
    relevance_threshold: float | None = None
    vary_model_seed: bool = True
    _split: Callable[[pd.DataFrame, int], tuple[pd.DataFrame, pd.DataFrame]] = field(
        default=None, repr=False, compare=False  # type: ignore[assignment]
    )

    def __post_init__(self) -> None:
        if self._split is None:
            object.__setattr__(self, "_split", _splitter(self.task))

    # ----------------------------------------------------------- describing
    def describe(self) -> str:
        """The protocol in one paragraph (for a notebook or a table caption)."""
        seeds = ", ".join(map(str, self.seeds))
        seed_word = "folds" if self.task == "rating" else ("model seeds" if self.task in ("sequential", "temporal") else "seeds")
        k = f"; K = {self.k}" if self.k is not None else ""
        return (
            f"protocol {self.name!r} ({self.title}): {self.dataset}, {self.split_rule}, "
            f"{seed_word} {seeds}; {self.relevance_rule}{k}."
        )

    def __str__(self) -> str:
        return self.describe()

    # -------------------------------------------------------------- splitting
    def load(self) -> pd.DataFrame:
        """The protocol's ratings (``recbook.datasets.load(dataset).ratings``)."""
        from recbook.datasets import load

        return load(self.dataset).ratings

    def _check_seed(self, seed: int) -> int:
        seed = check_seed(seed)
        if self.task == "rating" and not 1 <= seed <= 5:
            raise ValueError(f"protocol 'rating' has folds 1..5, got {seed}")
        return seed

    def split(self, ratings: pd.DataFrame | None = None, seed: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(train, test)`` for one seed (default: the first of :attr:`seeds`)."""
        ratings = self.load() if ratings is None else ratings
        seed = self.seeds[0] if seed is None else self._check_seed(seed)
        return self._split(ratings, seed)

    def splits(self, ratings: pd.DataFrame | None = None) -> Iterator[tuple[int, pd.DataFrame, pd.DataFrame]]:
        """``(seed, train, test)`` for every seed of the protocol."""
        ratings = self.load() if ratings is None else ratings
        if self.task == "rating":
            from recbook.split import kfold

            for fold, (train, test) in enumerate(kfold(ratings, n_splits=5, seed=0), start=1):
                yield fold, train, test
            return
        for seed in self.seeds:
            train, test = self._split(ratings, seed)
            yield seed, train, test

    def validation_split(self, train: pd.DataFrame, seed: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(fit, valid)``: a validation part cut out of ``train`` for tuning.

        The same kind of split as the protocol's (a 10 % random split for
        ``rating``, whose folds have no per-user structure), with seed
        ``seed + 100`` so that it never coincides with a test split.
        """
        from recbook import split as _split

        seed = (self.seeds[0] if seed is None else check_seed(seed)) + 100
        if self.task == "rating":
            return _split.random_split(train, test_size=0.1, seed=seed)
        if self.task == "sequential":
            return _split.leave_last_out(train, n=1)
        return self._split(train, seed)

    # ------------------------------------------------------------- evaluating
    def evaluate(self, model: Recommender, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
        """The protocol's metrics for one fitted model on one ``(train, test)`` split.

        Rating metrics (``rmse``, ``mae``) are computed only for rating models
        (:func:`is_rating_model`); ranking metrics for every model.
        """
        out: dict[str, float] = {}
        if self.task in ("rating", "cold-items", "cold-users") and is_rating_model(model):
            out.update(evaluate_ratings(model, test))
        if self.task in ("topk", "cold-users", "sequential", "temporal"):
            res = evaluate_topk(model, train, test, k=self.k, relevance_threshold=self.relevance_threshold)
            out.update({m: res[m] for m in ("precision", "recall", "f1", "ndcg", "map", "hit_rate", "mrr", "coverage", "novelty")})
        elif self.task == "cold-items":
            res = evaluate_new_items(model, test, k=self.k, relevance_threshold=self.relevance_threshold)
            out.update({m: res[m] for m in ("precision", "recall", "f1", "ndcg", "map", "hit_rate", "mrr")})
        return out

    def tune(
        self, tuned: Tuned, train: pd.DataFrame, seed: int
    ) -> tuple[dict[str, Any], pd.DataFrame]:
        """Choose ``tuned``'s hyper-parameters on the validation split of ``train``.

        Returns the best combination and a table of every combination's
        validation score (column ``valid_<metric>``).
        """
        from sklearn.base import clone

        metric = tuned.metric or ("rmse" if self.task == "rating" else "ndcg")
        fit, valid = self.validation_split(train, seed)
        rows = []
        for params in tuned.candidates():
            est = clone(tuned.estimator).set_params(**params)
            if self.vary_model_seed and "seed" in est.get_params(deep=False) and "seed" not in params:
                est.set_params(seed=seed)
            scores = self.evaluate(est.fit(fit), fit, valid)
            if metric not in scores:
                raise ValueError(f"metric {metric!r} is not computed by protocol {self.name!r} for this model")
            rows.append({**params, f"valid_{metric}": scores[metric]})
        table = pd.DataFrame(rows)
        col = table[f"valid_{metric}"]
        best = int(col.idxmin() if metric in ("rmse", "mae") else col.idxmax())  # first best on ties
        return dict(tuned.candidates()[best]), table

    def run(
        self,
        models: Mapping[str, Recommender | Tuned | Callable[[], Recommender]],
        ratings: pd.DataFrame | None = None,
        seeds: tuple[int, ...] | None = None,
        show_progress: bool = False,
    ) -> pd.DataFrame:
        """Fit and evaluate every model on every seed of the protocol.

        Parameters
        ----------
        models : mapping of str to Recommender, Tuned or zero-argument factory
            An estimator is cloned (:func:`sklearn.base.clone`) for every
            split; with :attr:`vary_model_seed`, a clone that has a ``seed``
            parameter gets the protocol seed. A :class:`Tuned` estimator has
            its hyper-parameters chosen on each seed's validation split first
            (:meth:`tune`); the choice is in the ``params`` column.
        ratings : pandas.DataFrame, optional
            The data (default: :meth:`load`).
        seeds : tuple of int, optional
            A subset of :attr:`seeds` (e.g. one seed while developing); a
            table that ranks models uses all of them.
        show_progress : bool
            A tqdm bar over (seed, model) fits.

        Returns
        -------
        pandas.DataFrame
            Tidy results: one row per (model, seed), columns ``model, seed``,
            the metrics, ``params`` (the hyper-parameters that differ from
            the class defaults, as ``name=value`` text) and ``fit_seconds``
            (wall time, not reproducible).
        """
        from sklearn.base import clone

        if not isinstance(models, Mapping) or not models:
            raise TypeError("models must be a non-empty mapping of name -> Recommender or factory")
        for name, m in models.items():
            if not (isinstance(m, (Recommender, Tuned)) or callable(m)):
                raise TypeError(f"models[{name!r}] must be a Recommender, Tuned or a factory, got {type(m).__name__}")
        use = self.seeds if seeds is None else tuple(self._check_seed(s) for s in seeds)
        unknown = [s for s in use if s not in self.seeds]
        if unknown:
            raise ValueError(f"seeds {unknown} are not among protocol {self.name!r}'s seeds {self.seeds}")
        ratings = self.load() if ratings is None else ratings
        rows = []
        bar = None
        if show_progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(use) * len(models), desc=self.name, unit="fit")
        try:
            for seed, train, test in self.splits(ratings):
                if seed not in use:
                    continue
                for name, m in models.items():
                    best: dict[str, Any] = {}
                    if isinstance(m, Tuned):
                        best, _ = self.tune(m, train, seed)
                        est = clone(m.estimator).set_params(**best)
                    else:
                        est = clone(m) if isinstance(m, Recommender) else m()
                    if not isinstance(est, Recommender):
                        raise TypeError(f"the factory of {name!r} must return a Recommender, got {type(est).__name__}")
                    if self.vary_model_seed and "seed" in est.get_params(deep=False):
                        est.set_params(seed=seed)
                    t0 = time.perf_counter()
                    est.fit(train)
                    fit_seconds = time.perf_counter() - t0
                    row: dict[str, Any] = {"model": name, "seed": seed}
                    row.update(self.evaluate(est, train, test))
                    row["params"] = _changed_params(est, always=tuple(best))
                    row["fit_seconds"] = fit_seconds
                    rows.append(row)
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return pd.DataFrame(rows)


def _changed_params(est: Recommender, always: tuple[str, ...] = ()) -> str:
    """``name=value`` text of the hyper-parameters that differ from the class defaults (seed aside).

    Names in ``always`` (the tuned ones) are shown even when the choice is the default.
    """
    import inspect

    defaults = {
        n: p.default for n, p in inspect.signature(type(est).__init__).parameters.items() if n != "self"
    }
    parts = []
    for n, v in est.get_params(deep=False).items():
        if n == "seed" or isinstance(v, Recommender) or hasattr(v, "shape"):
            continue
        if n in always or n not in defaults or defaults[n] is inspect.Parameter.empty or not _same(defaults[n], v):
            parts.append(f"{n}={v}")
    return ", ".join(parts)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # pragma: no cover - exotic parameter types
        return a is b


#: The book's protocols, by name. Every notebook names the one it uses.
PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            name="rating",
            title="rating prediction, Surprise's 5-fold",
            task="rating",
            dataset="ml-100k",
            seeds=(1, 2, 3, 4, 5),
            split_rule="5-fold KFold(random_state=0) over the ratings in file order",
            relevance_rule="RMSE and MAE of the predicted rating on each test fold",
            k=None,
            vary_model_seed=False,
        ),
        Protocol(
            name="topk",
            title="top-K, full ranking",
            task="topk",
            dataset="ml-100k",
            seeds=(0, 1, 2),
            split_rule="20% of each user's interactions held out (per_user_split)",
            relevance_rule="every test interaction is relevant; all unseen items ranked",
        ),
        Protocol(
            name="cold-items",
            title="new items",
            task="cold-items",
            dataset="ml-100k",
            seeds=(0, 1, 2),
            split_rule="15% of the items held out with all their ratings (cold_item_split)",
            relevance_rule="RMSE on the new items; for ranking, the new items are the candidates and a rating of 4 or 5 is relevant",
            relevance_threshold=4.0,
        ),
        Protocol(
            name="cold-users",
            title="new users (3 ratings given)",
            task="cold-users",
            dataset="ml-100k",
            seeds=(0, 1, 2),
            split_rule="10% of the users keep 3 random ratings in training, the rest held out (cold_user_split)",
            relevance_rule="RMSE on those users; every held-out interaction is relevant; all unseen items ranked",
        ),
        Protocol(
            name="sequential",
            title="next item, leave-last-out",
            task="sequential",
            dataset="ml-100k",
            seeds=(0, 1, 2),
            split_rule="each user's latest interaction held out (leave_last_out, ties by file order)",
            relevance_rule="the held-out item is the one relevant item; all unseen items ranked",
        ),
        Protocol(
            name="temporal",
            title="top-K on each user's future",
            task="temporal",
            dataset="ml-100k",
            seeds=(0, 1, 2),
            split_rule="each user's latest 20% of interactions held out (per_user_split, order='time')",
            relevance_rule="every test interaction is relevant; all unseen items ranked",
        ),
    )
}


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name`` (see :data:`PROTOCOLS`)."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; the book's protocols are {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
