"""Chapter 6.3: next-item models on the ``sequential`` protocol, full ranking and 100 sampled negatives.

Usage (from the project root; about 10 minutes on an idle 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_sequential.py

On the ``sequential`` protocol (ml-100k, each user's latest interaction held
out, model seeds 0, 1, 2) it fits Popularity, EASE (``reg`` chosen on the
validation split from the chapter 3.4 grid), TorchBPR, GRU4Rec and SASRec
(their defaults, chosen on the validation split) and evaluates every fitted
model twice:

* ``full``: the protocol's own metrics, the held-out item ranked among all
  items the user has not rated (:meth:`Protocol.evaluate`);
* ``sampled-100``: the held-out item ranked among 100 negatives drawn
  uniformly from the items the user never rated
  (:func:`recbook.evaluate.core.evaluate_topk_sampled`, sampler seed = the
  model seed), the protocol of SASRec's paper.

Writes ``benchmarks/results/leaderboard_sequential.csv`` (tidy: one row per
model, seed and variant; ``ndcg``, ``hit_rate`` (= HR@10), ``params``,
``fit_seconds``).
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd
from sklearn.base import clone

from _results import save, write_machine
from recbook import baselines
from recbook.cf import EASE
from recbook.evaluate import Tuned, get_protocol
from recbook.evaluate.core import evaluate_topk_sampled
from recbook.evaluate.protocols import _changed_params
from recbook.models.bpr import TorchBPR
from recbook.models.sequential import GRU4Rec, SASRec

#: The chapter 3.4 grid of EASE's penalty, chosen per seed on the validation split.
EASE_TUNED = Tuned(EASE(), {"reg": [250.0, 500.0, 1000.0]})


def models() -> dict:
    return {
        "Popularity": baselines.Popularity(),
        "EASE": EASE_TUNED,
        "TorchBPR": TorchBPR(),
        "GRU4Rec": GRU4Rec(),
        "SASRec": SASRec(),
    }


def run(seeds: tuple[int, ...], n_negatives: int = 100) -> pd.DataFrame:
    protocol = get_protocol("sequential")
    rows = []
    for seed, train, test in protocol.splits():
        if seed not in seeds:
            continue
        for name, m in models().items():
            best = {}
            if isinstance(m, Tuned):
                best, _ = protocol.tune(m, train, seed)
                est = clone(m.estimator).set_params(**best)
            else:
                est = clone(m)
            if "seed" in est.get_params():
                est.set_params(seed=seed)
            t0 = time.perf_counter()
            est.fit(train)
            fit_seconds = time.perf_counter() - t0
            params = _changed_params(est, always=tuple(best))
            full = protocol.evaluate(est, train, test)
            sampled = evaluate_topk_sampled(est, train, test, k=10, n_negatives=n_negatives, seed=seed)
            for variant, res in (("full", full), (f"sampled-{n_negatives}", sampled)):
                rows.append({"protocol": "sequential", "variant": variant, "model": name, "seed": seed,
                             "ndcg": res["ndcg"], "hit_rate": res["hit_rate"],
                             "params": params, "fit_seconds": fit_seconds})
            print(f"seed {seed} {name:10s} full NDCG@10 {full['ndcg']:.4f} HR@10 {full['hit_rate']:.4f} | "
                  f"sampled NDCG@10 {sampled['ndcg']:.4f} HR@10 {sampled['hit_rate']:.4f} | fit {fit_seconds:.0f} s",
                  flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--name", default="leaderboard_sequential", help="results/<name>.csv")
    parser.add_argument("--no-machine", action="store_true",
                        help="do not rewrite results/machine.json (a run with other thread settings)")
    args = parser.parse_args()
    if not args.no_machine:
        write_machine()
    t0 = time.perf_counter()
    res = run(tuple(int(s) for s in args.seeds.split(",")))
    res["threads"] = os.environ.get("OMP_NUM_THREADS", "not fixed")
    save(args.name, res)
    print(f"sequential: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
