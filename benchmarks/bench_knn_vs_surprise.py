"""recbook's KNN against Surprise on MovieLens 100K ``u1``: speed and exact agreement.

Part 1 (speed): fit on ``u1.base`` and predict the 20,000 pairs of
``u1.test`` with Surprise's ``KNNBasic`` and with ``recbook.cf.KNN``
(``rule="basic"``, default msd similarity, k=40), user-based and item-based,
in the same process; prints the best of ``--repeats`` wall-clock times
(fit + predict) and the speed-up.

Part 2 (agreement): all 32 combinations of the four rules (KNNBasic,
KNNWithMeans, KNNWithZScore, KNNBaseline) with the four Surprise similarities
(msd, cosine, pearson, pearson_baseline), user- and item-based, default
hyper-parameters: the maximum absolute difference between the two
libraries' predictions on the full ``u1.test`` (and both RMSEs).

Usage::

    RECBOOK_DATA=../shared/data python benchmarks/bench_knn_vs_surprise.py [--repeats 3] [--skip-agreement]

Surprise (``scikit-surprise``) must be installed. Exits with status 1 if any
combination differs by more than ``--tol`` (default 1e-9).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
import pandas as pd

from recbook.cf import KNN
from recbook.datasets import ml100k_folds

RULES = {
    "basic": "KNNBasic",
    "with_means": "KNNWithMeans",
    "with_zscore": "KNNWithZScore",
    "baseline": "KNNBaseline",
}
SIMS = ("msd", "cosine", "pearson", "pearson_baseline")


def surprise_run(train: pd.DataFrame, test: pd.DataFrame, rule: str, sim: str, user_based: bool) -> np.ndarray:
    """Build the trainset, fit and predict with Surprise (everything timed by the caller)."""
    import surprise

    data = surprise.Dataset.load_from_df(train[["user", "item", "rating"]], surprise.Reader(rating_scale=(1, 5)))
    algo = getattr(surprise, RULES[rule])(sim_options={"name": sim, "user_based": user_based}, verbose=False)
    algo.fit(data.build_full_trainset())
    return np.array([algo.predict(u, i).est for u, i in zip(test["user"].tolist(), test["item"].tolist())])


def recbook_run(train: pd.DataFrame, test: pd.DataFrame, rule: str, sim: str, user_based: bool) -> np.ndarray:
    model = KNN(sim=sim, user_based=user_based, rule=rule).fit(train)
    return model.predict(test["user"].to_numpy(), test["item"].to_numpy())


def timed(fn, *args) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - truth) ** 2)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (best is reported)")
    parser.add_argument("--tol", type=float, default=1e-9, help="largest accepted |difference|")
    parser.add_argument("--skip-agreement", action="store_true", help="only the speed comparison")
    args = parser.parse_args(argv)

    import surprise

    train, test = ml100k_folds()[0]
    truth = test["rating"].to_numpy()
    print(f"ml-100k u1: {len(train):,} training ratings, {len(test):,} test pairs")
    print(f"python {platform.python_version()}, numpy {np.__version__}, scikit-surprise {surprise.__version__}")
    print()

    # ------------------------------------------------------------ speed
    print(f"Speed: fit + predict, best of {args.repeats} (seconds)")
    rows = []
    for user_based in (True, False):
        t_s = min(timed(surprise_run, train, test, "basic", "msd", user_based)[0] for _ in range(args.repeats))
        t_r = min(timed(recbook_run, train, test, "basic", "msd", user_based)[0] for _ in range(args.repeats))
        rows.append(
            {
                "algorithm": f"KNNBasic msd {'user' if user_based else 'item'}-based",
                "surprise_s": round(t_s, 3),
                "recbook_s": round(t_r, 3),
                "speed-up": round(t_s / t_r, 1),
            }
        )
    print(pd.DataFrame(rows).to_string(index=False))
    print()
    if args.skip_agreement:
        return 0

    # -------------------------------------------------------- agreement
    print("Agreement on the full u1 test set (20,000 pairs), default hyper-parameters")
    rows = []
    for rule in RULES:
        for sim in SIMS:
            for user_based in (True, False):
                t_s, p_s = timed(surprise_run, train, test, rule, sim, user_based)
                t_r, p_r = timed(recbook_run, train, test, rule, sim, user_based)
                rows.append(
                    {
                        "surprise class": RULES[rule],
                        "sim": sim,
                        "based": "user" if user_based else "item",
                        "max_abs_diff": float(np.max(np.abs(p_s - p_r))),
                        "rmse_surprise": round(rmse(p_s, truth), 4),
                        "rmse_recbook": round(rmse(p_r, truth), 4),
                        "surprise_s": round(t_s, 2),
                        "recbook_s": round(t_r, 2),
                    }
                )
                print(
                    f"  {RULES[rule]:14s} {sim:17s} {rows[-1]['based']:4s}  max|diff| = {rows[-1]['max_abs_diff']:.2e}",
                    flush=True,
                )
    table = pd.DataFrame(rows)
    print()
    with pd.option_context("display.width", 200, "display.float_format", "{:.3g}".format):
        print(table.to_string(index=False))
    worst = table["max_abs_diff"].max()
    total_s, total_r = table["surprise_s"].sum(), table["recbook_s"].sum()
    print(f"\nlargest difference over the 32 combinations: {worst:.2e} (tolerance {args.tol:g})")
    print(f"total time, 32 combinations: Surprise {total_s:.1f} s, recbook {total_r:.1f} s "
          f"({total_s / total_r:.1f}x)")  # fmt: skip
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
