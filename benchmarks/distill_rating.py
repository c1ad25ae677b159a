"""Distil the chapter-3 blend into one BiasedMF, on the ``rating`` protocol (chapter 7.2).

Usage (from the project root; about 10 minutes on a 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/distill_rating.py [--folds 1 2]

Teacher: :class:`recbook.hybrid.WeightedHybrid` with learned non-negative
weights over the six tuned models of chapter 3 (BaselineOnly, item- and
user-based KNNBaseline, BiasedMF, SVD++, ALS; the configurations
``benchmarks/tune_rating_models.py`` chose on the validation split of most
folds). Student: one BiasedMF with the tuned configuration, trained through
:class:`recbook.distill.Distiller` with ``loss="labels"``: its observed
ratings replaced by ``alpha * teacher + (1 - alpha) * rating``, plus
``unobserved_ratio`` times as many unobserved pairs labelled by the teacher.

For each fold of Surprise's 5-fold split:

1. on the rating protocol's validation split of the *training* part
   (``fit``/``valid``), fit a teacher on ``fit`` and choose ``alpha`` and
   ``unobserved_ratio`` from a small grid by the student's validation RMSE;
2. refit the teacher on the whole training part, distil the student with
   the chosen values, and score teacher, distilled student and the same
   BiasedMF trained alone on the test fold (once).

Writes ``benchmarks/results/distill_rating.csv`` (model, fold, rmse, mae,
params, fit_seconds).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from _results import save
from recbook import datasets
from recbook.baselines import BaselineOnly
from recbook.cf import ALS, KNN, BiasedMF, SVDpp
from recbook.distill import Distiller
from recbook.evaluate import evaluate_ratings, get_protocol
from recbook.hybrid import WeightedHybrid


def components() -> list:
    """The six tuned models of chapter 3 (tune_rating_models.py's usual choices)."""
    return [
        BaselineOnly(),
        KNN(k=40, sim="pearson_baseline", user_based=False, rule="baseline"),
        KNN(k=40, sim="pearson_baseline", user_based=True, rule="baseline"),
        BiasedMF(n_factors=200, n_epochs=100, reg=0.1),
        SVDpp(n_factors=100, n_epochs=60, lr=0.005, reg=0.1),
        ALS(n_factors=5, n_epochs=15, reg=10.0),
    ]


def teacher(seed: int) -> WeightedHybrid:
    return WeightedHybrid(components(), learn_weights=True, seed=seed)


def student() -> BiasedMF:
    return BiasedMF(n_factors=200, n_epochs=100, reg=0.1)


#: (alpha, unobserved_ratio) candidates. On fold 1's validation split the student got worse with more
#: teacher-labelled pairs (ratio 3 > 1 > 0.25) and with alpha = 1, so the grid stays near the plain student.
GRID = [(0.0, 0.25), (0.5, 0.0), (0.5, 1.0)]


def run_fold(train: pd.DataFrame, test: pd.DataFrame, fold: int) -> list[dict]:
    protocol = get_protocol("rating")
    fit, valid = protocol.validation_split(train, fold)
    t_valid = teacher(fold).fit(fit)
    scores = []
    for alpha, ratio in GRID:
        d = Distiller(t_valid, student(), loss="labels", alpha=alpha, unobserved_ratio=ratio, seed=fold).fit(fit)
        scores.append(((alpha, ratio), evaluate_ratings(d, valid)["rmse"]))
        print(f"  fold {fold} valid: alpha={alpha} ratio={ratio}: RMSE {scores[-1][1]:.4f}", flush=True)
    (alpha, ratio), _ = min(scores, key=lambda s: s[1])
    rows = []
    t0 = time.perf_counter()
    t_full = teacher(fold).fit(train)
    rows.append({"model": "teacher: blend of six tuned models", "seconds": time.perf_counter() - t0, "params": repr(list(np.round(t_full.weights_, 3)))})
    res = [evaluate_ratings(t_full, test)]
    t0 = time.perf_counter()
    alone = student().fit(train)
    rows.append({"model": "BiasedMF alone", "seconds": time.perf_counter() - t0, "params": repr(alone)})
    res.append(evaluate_ratings(alone, test))
    t0 = time.perf_counter()
    d = Distiller(t_full, student(), loss="labels", alpha=alpha, unobserved_ratio=ratio, seed=fold).fit(train)
    rows.append({"model": "BiasedMF distilled", "seconds": time.perf_counter() - t0, "params": f"alpha={alpha}, unobserved_ratio={ratio}"})
    res.append(evaluate_ratings(d, test))
    out = []
    for row, r in zip(rows, res):
        out.append({"model": row["model"], "fold": fold, "rmse": r["rmse"], "mae": r["mae"], "params": row["params"], "fit_seconds": row["seconds"]})
        print(f"  fold {fold} TEST {row['model']}: RMSE {r['rmse']:.4f} ({row['params']})", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, nargs="*", default=[1, 2, 3, 4, 5])
    args = parser.parse_args()
    protocol = get_protocol("rating")
    ratings = datasets.load(protocol.dataset).ratings
    rows = []
    t_all = time.perf_counter()
    for fold, train, test in protocol.splits(ratings):
        if fold in args.folds:
            rows.extend(run_fold(train, test, fold))
    table = pd.DataFrame(rows)
    summary = table.groupby("model", sort=False)["rmse"].agg(["mean", "std"])
    summary["std"] = table.groupby("model", sort=False)["rmse"].std(ddof=0)
    print(summary.round(4).to_string())
    print(f"total {time.perf_counter() - t_all:.0f} s")
    if sorted(args.folds) == [1, 2, 3, 4, 5]:
        save("distill_rating", table)


if __name__ == "__main__":
    main()
