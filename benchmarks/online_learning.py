"""Online SGD versus periodic retraining on a time-ordered rating stream (chapter 9.2).

Usage (from the project root; about 1-2 minutes on a 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/online_learning.py

MovieLens 100K sorted by timestamp (stable sort). The first half of the
events warm-starts every learner (a :class:`recbook.cf.BiasedMF` fit); the
second half is the stream, evaluated prequentially
(:func:`recbook.online.prequential`: each event is predicted before it is
learned). Learners: ``static`` (never updated), ``retrain-10000`` and
``retrain-2500`` (refit from scratch on everything seen every 10,000 / 2,500
events), ``online`` (:class:`recbook.online.OnlineMF`, one SGD step per
event). The online step size is chosen on a validation stream inside the
warm-start half (fit on the first 40 % of all events, stream the next 10 %),
with seed 0, never on the test stream. Model seeds 0, 1, 2.

Writes ``benchmarks/results/online_learning.csv`` (one row per learner and
seed: final prequential RMSE, RMSE of the last 10,000 events, events, updates
or retrains, seconds per update, seconds per retrain, total seconds) and
``benchmarks/results/online_learning_curves.csv`` (one row per learner, seed
and chunk of 2,500 events).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from _results import save
from recbook.cf import BiasedMF
from recbook.datasets import load
from recbook.online.mf import OnlineMF, PeriodicRetrain, prequential

MF = dict(n_factors=20, n_epochs=20, lr=0.01, reg=0.05)
LR_GRID = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
CHUNK = 2500
SEEDS = (0, 1, 2)


def stream_split(ratings: pd.DataFrame, fraction: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sort by time (stable) and cut: the first ``fraction`` warm-starts, the rest streams."""
    r = ratings.sort_values("timestamp", kind="stable").reset_index(drop=True)
    n0 = int(len(r) * fraction)
    return r.iloc[:n0], r.iloc[n0:].reset_index(drop=True)


def choose_online_lr(warm: pd.DataFrame, n_total: int) -> tuple[float, pd.DataFrame]:
    """The online step size with the lowest prequential RMSE on the validation stream."""
    n_fit = int(0.4 * n_total)
    fit, val = warm.iloc[:n_fit], warm.iloc[n_fit:]
    rows = []
    for lr in LR_GRID:
        res = prequential(OnlineMF(**MF, seed=0, online_lr=lr).fit(fit), val, chunk=CHUNK)
        rows.append({"online_lr": lr, "val_rmse": res["running_rmse"].iloc[-1]})
    table = pd.DataFrame(rows)
    return float(table.loc[table["val_rmse"].idxmin(), "online_lr"]), table


def learners(seed: int, online_lr: float) -> dict:
    return {
        "static": PeriodicRetrain(BiasedMF(**MF, seed=seed)),
        "retrain-10000": PeriodicRetrain(BiasedMF(**MF, seed=seed), every=10_000),
        "retrain-2500": PeriodicRetrain(BiasedMF(**MF, seed=seed), every=2_500),
        "online": OnlineMF(**MF, seed=seed, online_lr=online_lr),
    }


def main() -> None:
    ratings = load("ml-100k").ratings
    warm, stream = stream_split(ratings)
    online_lr, table = choose_online_lr(warm, len(ratings))
    print(table.round(4).to_string(index=False), "\nchosen online_lr:", online_lr)
    # compile the numba kernels once, outside any timing
    OnlineMF(**MF).fit(warm.iloc[:1000]).partial_fit(stream.iloc[:10])
    summary, curves = [], []
    for seed in SEEDS:
        for name, learner in learners(seed, online_lr).items():
            learner.fit(warm)
            res = prequential(learner, stream, chunk=CHUNK)
            res.insert(0, "seed", seed)
            res.insert(0, "learner", name)
            curves.append(res)
            tail = res[res["events"] > len(stream) - 10_000]
            tail_rmse = float(np.sqrt((tail["rmse"] ** 2 * np.diff(np.r_[len(stream) - 10_000, tail["events"]])).sum() / 10_000))
            retrains = getattr(learner, "retrain_seconds_", [])
            summary.append(
                {
                    "learner": name,
                    "seed": seed,
                    "online_lr": online_lr if name == "online" else np.nan,
                    "events": len(stream),
                    "rmse": res["running_rmse"].iloc[-1],
                    "rmse_last10k": tail_rmse,
                    "updates": len(stream) if name == "online" else len(retrains),
                    "seconds_per_update": res["cum_seconds"].iloc[-1] / len(stream) if name == "online" else np.nan,
                    "seconds_per_retrain": float(np.mean(retrains)) if retrains else np.nan,
                    "total_seconds": res["cum_seconds"].iloc[-1],
                }
            )
            print(summary[-1])
    save("online_learning", pd.DataFrame(summary))
    save("online_learning_curves", pd.concat(curves, ignore_index=True))


if __name__ == "__main__":
    main()
