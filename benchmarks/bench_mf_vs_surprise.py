"""recbook's BiasedMF / SVDpp against Surprise's SVD / SVDpp: speed and accuracy.

Usage (from the project root)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_mf_vs_surprise.py
    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_mf_vs_surprise.py --skip-svdpp-5fold

Part 1, MovieLens 100K official split ``u1`` (``recbook.datasets.ml100k_folds``):
fit and predict the 20,000 test ratings with recbook's ``BiasedMF`` and
Surprise's ``SVD``, then recbook's ``SVDpp`` and Surprise's ``SVDpp`` (all
with default hyper-parameters and seed / ``random_state`` 0), in the same
run, on the same machine. Each timing is the median of ``--repeat`` runs;
numba's one-off compilation is done (and reported) before timing. Printed:
fit and predict seconds, the speed ratio (Surprise / recbook), both RMSEs
and the largest absolute difference between the two libraries' predictions.

Part 2, Surprise's 5-fold protocol (``recbook.split.kfold(ratings, 5,
seed=0)`` = ``KFold(n_splits=5, random_state=0)``): per-fold RMSE of
``BiasedMF(seed=0)`` and Surprise ``SVD(random_state=0)``, and of both
SVD++ implementations, against Surprise's published means (SVD 0.934, SVD++
0.919; those were run with ``random_state=None``, i.e. a random
initialisation).

Needs ``scikit-surprise`` (the ``test`` extra). Takes about 2-3 minutes on a
2-core machine (Surprise's SVD++ is most of it).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from recbook import datasets, split
from recbook.cf import BiasedMF, SVDpp

PUBLISHED = {"SVD": 0.934, "SVD++": 0.919}


def _surprise_trainset(train: pd.DataFrame):
    from surprise import Dataset, Reader

    data = Dataset.load_from_df(train[["user", "item", "rating"]], Reader(rating_scale=(1, 5)))
    return data.build_full_trainset()


def _rmse(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((truth - pred) ** 2)))


def run_recbook(make, train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, float, float]:
    t0 = time.perf_counter()
    model = make().fit(train)
    t1 = time.perf_counter()
    pred = model.predict(test["user"].to_numpy(), test["item"].to_numpy())
    t2 = time.perf_counter()
    return pred, t1 - t0, t2 - t1


def run_surprise(make, train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, float, float]:
    trainset = _surprise_trainset(train)  # conversion not timed (recbook's fit includes its own)
    testset = list(zip(test["user"], test["item"], test["rating"]))
    t0 = time.perf_counter()
    algo = make().fit(trainset)
    t1 = time.perf_counter()
    pred = np.array([p.est for p in algo.test(testset)])
    t2 = time.perf_counter()
    return pred, t1 - t0, t2 - t1


def timed(runner, make, train, test, repeat: int) -> tuple[np.ndarray, float, float]:
    fits, preds, out = [], [], None
    for _ in range(repeat):
        out, fit_s, pred_s = runner(make, train, test)
        fits.append(fit_s)
        preds.append(pred_s)
    return out, statistics.median(fits), statistics.median(preds)


def part1(repeat: int) -> pd.DataFrame:
    from surprise import SVD
    from surprise import SVDpp as SurpriseSVDpp

    train, test = datasets.ml100k_folds()[0]
    truth = test["rating"].to_numpy()
    t0 = time.perf_counter()
    BiasedMF(n_epochs=1).fit(train.iloc[:100])
    SVDpp(n_epochs=1).fit(train.iloc[:100])
    print(f"numba compilation / cache load (once per environment): {time.perf_counter() - t0:.2f} s")

    pairs = [
        ("SVD", lambda: BiasedMF(seed=0), lambda: SVD(random_state=0)),
        ("SVD++", lambda: SVDpp(seed=0), lambda: SurpriseSVDpp(random_state=0, cache_ratings=True)),
    ]
    rows = []
    for name, ours, theirs in pairs:
        n_rep = repeat if name == "SVD" else 1
        p_ours, fit_o, pred_o = timed(run_recbook, ours, train, test, repeat)
        p_theirs, fit_t, pred_t = timed(run_surprise, theirs, train, test, n_rep)
        rows.append(
            {
                "model": name,
                "recbook fit s": fit_o,
                "recbook predict s": pred_o,
                "surprise fit s": fit_t,
                "surprise predict s": pred_t,
                "speed-up fit+predict": (fit_t + pred_t) / (fit_o + pred_o),
                "recbook RMSE": _rmse(truth, p_ours),
                "surprise RMSE": _rmse(truth, p_theirs),
                "max |diff|": float(np.abs(p_ours - p_theirs).max()),
            }
        )
    return pd.DataFrame(rows).set_index("model")


def part2(skip_svdpp: bool) -> pd.DataFrame:
    from surprise import SVD
    from surprise import SVDpp as SurpriseSVDpp

    ratings = datasets.load("ml-100k").ratings
    folds = split.kfold(ratings, n_splits=5, seed=0)
    configs = [
        ("BiasedMF (recbook)", run_recbook, lambda: BiasedMF(seed=0)),
        ("SVD (Surprise)", run_surprise, lambda: SVD(random_state=0)),
        ("SVDpp (recbook)", run_recbook, lambda: SVDpp(seed=0)),
    ]
    if not skip_svdpp:
        configs.append(("SVDpp (Surprise)", run_surprise, lambda: SurpriseSVDpp(random_state=0, cache_ratings=True)))
    table = {}
    for name, runner, make in configs:
        per_fold, seconds = [], 0.0
        for train, test in folds:
            pred, fit_s, pred_s = runner(make, train, test)
            per_fold.append(_rmse(test["rating"].to_numpy(), pred))
            seconds += fit_s + pred_s
        table[name] = per_fold + [float(np.mean(per_fold)), float(np.std(per_fold)), seconds]
        print(f"  {name}: mean RMSE {np.mean(per_fold):.4f} ({seconds:.1f} s)", flush=True)
    index = [f"fold {f}" for f in range(1, 6)] + ["mean", "std", "fit+predict s (5 folds)"]
    out = pd.DataFrame(table, index=index)
    out.loc["published mean (random init)"] = [
        PUBLISHED["SVD++" if "pp" in name else "SVD"] for name in out.columns
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timing repetitions (median); default 3")
    parser.add_argument("--skip-svdpp-5fold", action="store_true", help="skip Surprise's SVD++ on 5 folds (~1 min)")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    print("== Part 1: ml-100k u1.base -> u1.test, default hyper-parameters, seed 0 ==")
    print(part1(args.repeat).round(4).to_string())
    print()
    print("== Part 2: Surprise's 5-fold protocol (kfold(ratings, 5, seed=0)), RMSE ==")
    out = part2(args.skip_svdpp_5fold)
    print(out.round(4).to_string())
    print(f"published (Surprise README, random init): SVD {PUBLISHED['SVD']}, SVD++ {PUBLISHED['SVD++']}")


if __name__ == "__main__":
    main()
