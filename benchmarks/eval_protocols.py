"""Offline protocols change the ranking of models (chapter 9.3).

Usage (from the project root; about 4 minutes on a 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/eval_protocols.py

**Protocols.** Five top-K models (Random, Popularity, TopNItemKNN with
Jaccard similarity, EASE with ``reg=500``, the numba BPR with its defaults;
none tuned here, the settings of the Leaderboard) are fitted and evaluated
with :meth:`Protocol.run` on the ``topk`` protocol (a random 20 % of each
user's ratings held out, split seeds 0, 1, 2) and on the ``temporal``
protocol (each user's latest 20 % held out; the split has no seed, so 0, 1, 2
are model seeds and deterministic models repeat the same number). Every
metric of the protocol is kept: precision, recall, F1, NDCG, MAP, hit rate,
MRR, coverage and novelty.

**Tuning on validation.** EASE's ``reg`` over :data:`REGS` on the ``topk``
protocol: for each seed, the validation score (fit on the protocol's
validation split cut from the training data, :meth:`Protocol.validation_split`)
and the test score (fit on the whole training data) of every value, so that
the notebook can compare the value chosen on validation with the one a
(forbidden) look at the test set would choose.

Writes ``benchmarks/results/eval_protocols.csv`` (one row per protocol,
model and seed) and ``eval_protocols_tuning.csv`` (one row per seed and
``reg``).
"""

from __future__ import annotations

import time

import pandas as pd

from _results import save
from recbook.baselines import Popularity, RandomRecommender
from recbook.cf import BPR, EASE, TopNItemKNN
from recbook.evaluate import get_protocol

#: The models compared (the Leaderboard's settings for EASE and TopNItemKNN, BPR's defaults).
MODELS = {
    "Random": RandomRecommender(),
    "Popularity": Popularity(),
    "TopNItemKNN": TopNItemKNN(sim="jaccard"),
    "EASE": EASE(reg=500.0),
    "BPR": BPR(),
}
#: EASE penalties searched on validation.
REGS = [50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0]


def run_protocols() -> pd.DataFrame:
    frames = []
    for name in ("topk", "temporal"):
        p = get_protocol(name)
        print(f"== {p.name}", flush=True)
        res = p.run(MODELS)
        res.insert(0, "protocol", name)
        frames.append(res)
    return pd.concat(frames, ignore_index=True)


def run_tuning() -> pd.DataFrame:
    p = get_protocol("topk")
    rows = []
    for seed, train, test in p.splits():
        fit, valid = p.validation_split(train, seed)
        for reg in REGS:
            v = p.evaluate(EASE(reg=reg).fit(fit), fit, valid)["ndcg"]
            t = p.evaluate(EASE(reg=reg).fit(train), train, test)["ndcg"]
            rows.append({"seed": seed, "reg": reg, "valid_ndcg": v, "test_ndcg": t})
        print(f"tuning seed {seed} done", flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    t0 = time.perf_counter()
    save("eval_protocols", run_protocols())
    save("eval_protocols_tuning", run_tuning())
    print(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
