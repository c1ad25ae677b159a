"""Chapter 6's models against Part I's best on the ``topk`` protocol, with what makes them "large".

Usage (from the project root; about 10 minutes on an idle 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_large.py [--seeds 0,1,2] [--models EASE,NeuMF]

For every seed of the ``topk`` protocol (0, 1, 2) each model is fitted on the
training split and evaluated on the test split exactly as
:meth:`recbook.evaluate.Protocol.run` does (a :class:`~recbook.evaluate.Tuned`
model has its hyper-parameters chosen on the seed's validation split with
:meth:`Protocol.tune`, then refitted on the whole training split; a model with
a ``seed`` gets the protocol seed). The loop is written out here only to keep
the fitted model, which is then measured with :mod:`recbook.utils`:

* ``n_params`` and ``param_bytes``: :func:`recbook.utils.model_size` (the
  fitted arrays, id maps and training matrix excluded);
* ``saved_bytes``: :func:`recbook.utils.saved_size` (the pickled model, what a
  deployment would store: parameters, id maps and the training matrix used to
  exclude seen items);
* ``fit_seconds``: the training wall time (tuning excluded, as in ``Protocol.run``);
* ``latency_ms`` and ``throughput_users_per_s``: :func:`recbook.utils.scoring_speed`
  on the first 256 test users of the split (top-10 for one user at a time, and
  256 users in one batch; medians of 3 runs).

Times are wall-clock on the machine in ``benchmarks/results/machine.json`` and
vary from run to run (and with other work on the machine); the metrics do not.

Models: ``Popularity`` (the smallest reference), ``EASE`` and ``ImplicitALS``
with the grids of ``bench_leaderboard.TOPK_TUNED`` (chapter 3.4, the best Part I
models), ``TorchBPR`` (matrix factorisation in torch, defaults), ``NeuMF`` and
``MultVAE`` with their defaults, which were chosen on the validation split of
seed 0 (grids in the classes' docstrings and in notebook 6.1's tuning note).

Writes ``benchmarks/results/leaderboard_large.csv`` (one row per model and seed).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from sklearn.base import clone

from _results import save
from bench_leaderboard import TOPK_TUNED
from recbook.baselines import Popularity
from recbook.evaluate import Tuned, get_protocol
from recbook.evaluate.protocols import _changed_params
from recbook.models.bpr import TorchBPR
from recbook.models.neumf import NeuMF
from recbook.models.vae import MultVAE
from recbook.utils import model_size, saved_size, scoring_speed


def large_models() -> dict:
    """The models of the chapter-6 table (name -> estimator or Tuned)."""
    return {
        "Popularity": Popularity(),
        "EASE": TOPK_TUNED["EASE"],
        "ImplicitALS": TOPK_TUNED["ImplicitALS"],
        "TorchBPR": TorchBPR(),
        "NeuMF": NeuMF(),
        "MultVAE": MultVAE(),
    }


def measure(name: str, model, seed: int, train: pd.DataFrame, test: pd.DataFrame, n_speed_users: int = 256) -> dict:
    """Fit one model on one split (as Protocol.run does) and return its metrics and size columns."""
    topk = get_protocol("topk")
    best: dict = {}
    if isinstance(model, Tuned):
        best, _ = topk.tune(model, train, seed)
        est = clone(model.estimator).set_params(**best)
    else:
        est = clone(model)
    if "seed" in est.get_params(deep=False):
        est.set_params(seed=seed)
    t0 = time.perf_counter()
    est.fit(train)
    fit_seconds = time.perf_counter() - t0
    row = {"protocol": "topk", "model": name, "seed": seed, **topk.evaluate(est, train, test)}
    row["params"] = _changed_params(est, always=tuple(best))
    row["fit_seconds"] = fit_seconds
    size = model_size(est)
    row["n_params"], row["param_bytes"] = size["params"], size["bytes"]
    row["saved_bytes"] = saved_size(est)
    users = pd.unique(test["user"])[:n_speed_users]
    speed = scoring_speed(est, users, k=10, batch_size=n_speed_users, repeats=3)
    row["latency_ms"] = speed["latency_ms"]
    row["throughput_users_per_s"] = speed["throughput_users_per_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--models", default="", help="comma-separated subset of the models (default: all)")
    parser.add_argument("--out", default="leaderboard_large")
    args = parser.parse_args()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    models = large_models()
    if args.models:
        models = {k: models[k] for k in args.models.split(",")}
    topk = get_protocol("topk")
    rows = []
    for seed, train, test in topk.splits():
        if seed not in seeds:
            continue
        for name, model in models.items():
            row = measure(name, model, seed, train, test)
            rows.append(row)
            print(f"seed {seed} {name:12s} ndcg {row['ndcg']:.4f} recall {row['recall']:.4f} "
                  f"params {row['n_params']:>9d} saved {row['saved_bytes'] / 1e6:6.2f} MB "
                  f"fit {row['fit_seconds']:6.1f} s latency {row['latency_ms']:6.2f} ms "
                  f"throughput {row['throughput_users_per_s']:8.0f} users/s", flush=True)
    res = pd.DataFrame(rows)
    save(args.out, res)
    summary = res.groupby("model", sort=False)[["ndcg", "recall"]].agg(["mean", "std"])
    print(summary.round(4).to_string())


if __name__ == "__main__":
    main()
