"""recbook's rating baselines against Surprise, with Surprise's 5-fold protocol.

Usage (from the project root)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_baselines_5fold.py
    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_baselines_5fold.py --dataset ml-latest-small

Protocol: ``recbook.split.kfold(ratings, n_splits=5, seed=0)``, which is
Surprise's ``KFold(n_splits=5, random_state=0)`` over the ratings in file order
(the script checks that both libraries produce the same test folds). Every
model uses its default hyper-parameters. The table prints RMSE and MAE (mean
and population std over the folds, as Surprise prints them) for recbook's
``GlobalMean``, ``UserMean``, ``ItemMean``, ``NormalPredictor`` and
``BaselineOnly`` (ALS and SGD), Surprise's ``NormalPredictor`` and
``BaselineOnly`` on the same folds, the largest absolute difference between
the two libraries' ``BaselineOnly`` predictions, the published numbers where
there are some (Surprise's README for ml-100k; anchors.md for
ml-latest-small), and the wall time of fit + predict over the five folds.

Needs ``scikit-surprise`` (the ``test`` extra of the project).
Chapter 2.3 of the book (``notebooks/02-architecture/03-rating-baselines.ipynb``)
explains the numbers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from recbook import baselines, datasets, metrics, split

#: Published 5-fold KFold(random_state=0) numbers (RMSE, MAE), 3 decimals.
PUBLISHED = {
    "ml-100k": {"NormalPredictor": (1.518, 1.219), "BaselineOnly (ALS)": (0.944, 0.748)},
    "ml-latest-small": {"NormalPredictor": (1.428, np.nan), "BaselineOnly (ALS)": (0.873, np.nan)},
}

RECBOOK_MODELS = {
    "GlobalMean": baselines.GlobalMean,
    "UserMean": baselines.UserMean,
    "ItemMean": baselines.ItemMean,
    "NormalPredictor": lambda: baselines.NormalPredictor(seed=0),
    "BaselineOnly (ALS)": lambda: baselines.BaselineOnly(method="als"),
    "BaselineOnly (SGD)": lambda: baselines.BaselineOnly(method="sgd"),
}


def surprise_models() -> dict:
    from surprise import BaselineOnly, NormalPredictor

    return {
        "NormalPredictor": NormalPredictor,
        "BaselineOnly (ALS)": lambda: BaselineOnly(bsl_options={"method": "als"}, verbose=False),
        "BaselineOnly (SGD)": lambda: BaselineOnly(bsl_options={"method": "sgd"}, verbose=False),
    }


def run(name: str, n_splits: int = 5, seed: int = 0) -> pd.DataFrame:
    """Return the comparison table for data set ``name``."""
    from surprise import Dataset, Reader
    from surprise.model_selection import KFold

    data = datasets.load(name)
    ratings = data.ratings
    folds = split.kfold(ratings, n_splits=n_splits, seed=seed)
    scale = data.rating_scale or (float(ratings["rating"].min()), float(ratings["rating"].max()))
    s_data = Dataset.load_from_df(ratings[["user", "item", "rating"]], Reader(rating_scale=scale))
    s_folds = list(KFold(n_splits=n_splits, random_state=seed).split(s_data))
    for f, ((_, test), (_, testset)) in enumerate(zip(folds, s_folds), start=1):
        s_test = np.array([(u, i, r) for (u, i, r) in testset], dtype=np.float64)
        if not np.array_equal(s_test, test[["user", "item", "rating"]].to_numpy(dtype=np.float64)):
            raise SystemExit(f"fold {f}: recbook.split.kfold and Surprise's KFold disagree")

    rows: dict[str, dict[str, float]] = {}
    ours_pred: dict[str, list[np.ndarray]] = {}
    for model_name, make in RECBOOK_MODELS.items():
        scores, preds, seconds = [], [], 0.0
        for train, test in folds:
            t0 = time.perf_counter()
            pred = make().fit(train).predict(test["user"], test["item"])
            seconds += time.perf_counter() - t0
            preds.append(pred)
            scores.append((metrics.rmse(test["rating"], pred), metrics.mae(test["rating"], pred)))
        s = np.array(scores)
        ours_pred[model_name] = preds
        rows[model_name] = {
            "RMSE": s[:, 0].mean(), "RMSE std": s[:, 0].std(), "MAE": s[:, 1].mean(),
            "MAE std": s[:, 1].std(), "recbook s": seconds,
        }  # fmt: skip

    np.random.seed(seed)  # Surprise's NormalPredictor draws from NumPy's global generator
    for model_name, make in surprise_models().items():
        scores, seconds, max_diff = [], 0.0, 0.0
        for f, (trainset, testset) in enumerate(s_folds):
            t0 = time.perf_counter()
            est = np.array([p.est for p in make().fit(trainset).test(testset)])
            seconds += time.perf_counter() - t0
            truth = np.array([r for (_, _, r) in testset])
            scores.append((metrics.rmse(truth, est), metrics.mae(truth, est)))
            max_diff = max(max_diff, float(np.abs(est - ours_pred[model_name][f]).max()))
        s = np.array(scores)
        rows[model_name].update(
            {"Surprise RMSE": s[:, 0].mean(), "Surprise MAE": s[:, 1].mean(), "Surprise s": seconds}
        )
        if model_name.startswith("BaselineOnly"):
            rows[model_name]["max |diff|"] = max_diff
    for model_name, (r, m) in PUBLISHED.get(name, {}).items():
        rows[model_name].update({"published RMSE": r, "published MAE": m})

    columns = [
        "RMSE", "RMSE std", "MAE", "MAE std", "Surprise RMSE", "Surprise MAE",
        "published RMSE", "published MAE", "max |diff|", "recbook s", "Surprise s",
    ]  # fmt: skip
    table = pd.DataFrame(rows).T.reindex(columns=columns)
    table.index.name = f"{name}, {n_splits}-fold KFold(seed {seed})"
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="ml-100k", choices=["ml-100k", "ml-latest-small"])
    args = parser.parse_args()
    table = run(args.dataset)
    shown = table.copy()
    for col in shown.columns:
        if col == "max |diff|":
            shown[col] = shown[col].map(lambda x: "-" if pd.isna(x) else f"{x:.1e}")
        elif col.startswith("published"):  # published to 3 decimals: do not pad them
            shown[col] = shown[col].map(lambda x: "-" if pd.isna(x) else f"{x:.3f}")
        elif col.endswith(" s"):
            shown[col] = shown[col].map(lambda x: "-" if pd.isna(x) else f"{x:.2f}")
        else:
            shown[col] = shown[col].map(lambda x: "-" if pd.isna(x) else f"{x:.4f}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(shown)
    print(
        "\nrecbook s / Surprise s: wall time of fit + predict summed over the folds on this machine.\n"
        "max |diff|: largest absolute difference between recbook's and Surprise's predictions, any fold.\n"
        "NormalPredictor draws random numbers from different generators in the two libraries,\n"
        "so its scores agree only to about 0.01."
    )


if __name__ == "__main__":
    main()
