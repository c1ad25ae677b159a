"""Model fusion on the top-K protocol: each base alone, weighted averages, a gradient-boosted ranker (chapter 9.2).

Usage (from the project root; about 3 minutes on a free 2-core machine, 6 on a busy one)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/model_fusion.py [--quick]

Protocol ``topk`` (ml-100k, 20 % of each user's interactions held out, full
ranking over every unseen item, K = 10; split seeds 0, 1, 2, also the seeds of
BPR and of the fusion). The bases are chapter 7's teacher
:class:`recbook.cf.EASE` (``reg=500``), a plain :class:`recbook.cf.BPR`
(defaults; chapter 7's distilled TorchBPR student took about 170 s per fit on
this machine, too slow for this budget) and :class:`recbook.cf.TopNItemKNN`
(Jaccard, the top-K leaderboard's validation choice).

For each seed, one :class:`recbook.hybrid.fusion.LearnedFusion` is fitted on
the training part: the bases are fitted on the ``topk`` validation split of the
training data (``Protocol.validation_split``), the weighted average's weights
are chosen there (grid step 0.1, z-scored scores) and the gradient-boosted
ranker is trained there; then the bases are refitted on all training data.
Rows:

* each base alone (the fusion's refitted bases, so exactly the models it fuses);
* ``equal weights (z-score)``: chapter 5's :class:`~recbook.hybrid.WeightedHybrid`
  with weights 1/3 each, nothing tuned;
* ``weighted, tuned (z-score)`` and ``weighted, tuned (rank)``: weights chosen
  on validation with each normalisation;
* ``gradient-boosted fusion``: the booster;
* ``stacked, logistic regression``: the same stacking with a logistic
  regression as second-level learner (the variant that won the comparison on an
  inner validation split of seed 0's training data in the chapter's exercise
  9.1.3; chosen there, not here).

The test part is used once per row. Writes
``benchmarks/results/model_fusion.csv`` (model, seed, ndcg, recall, hit_rate,
weights, valid_ndcg of the chosen weights, fit_seconds of the fusion).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from sklearn.linear_model import LogisticRegression

from _results import save
from recbook.cf import BPR, EASE, TopNItemKNN
from recbook.evaluate import get_protocol
from recbook.hybrid import WeightedHybrid
from recbook.hybrid.fusion import LearnedFusion

TEACHER_REG = 500.0
BASE_NAMES = ("EASE (reg=500)", "BPR", "ItemKNN (top-N, Jaccard)")


def bases(seed: int) -> list:
    """The three base models (unfitted)."""
    return [EASE(reg=TEACHER_REG), BPR(seed=seed), TopNItemKNN()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, nothing written")
    args = parser.parse_args()
    p = get_protocol("topk")
    ratings = p.load()
    seeds = p.seeds[:1] if args.quick else p.seeds
    rows = []

    def add(name: str, model, seed: int, train, test, weights: str = "", valid: float = float("nan"),
            fit_seconds: float = float("nan")) -> None:
        res = p.evaluate(model, train, test)
        rows.append({"model": name, "seed": seed, "ndcg": res["ndcg"], "recall": res["recall"],
                     "hit_rate": res["hit_rate"], "weights": weights, "valid_ndcg": valid, "fit_seconds": fit_seconds})
        print(f"seed {seed} {name:32s} NDCG@10 {res['ndcg']:.4f} Recall@10 {res['recall']:.4f} {weights}", flush=True)

    for seed in seeds:
        train, test = p.split(ratings, seed=seed)
        t0 = time.perf_counter()
        fusion = LearnedFusion(bases(seed), combiner="boosting", normalize="zscore", seed=seed).fit(train)
        fit_s = time.perf_counter() - t0
        for name, model in zip(BASE_NAMES, fusion.models_):
            add(name, model, seed, train, test)
        equal = WeightedHybrid(bases(seed), normalize="zscore").fit(train)
        add("equal weights (z-score)", equal, seed, train, test, weights="0.33/0.33/0.33")
        best = fusion.weight_table_["ndcg"].max()
        add("weighted, tuned (z-score)", fusion.with_combiner("weighted"), seed, train, test,
            weights="/".join(f"{w:.1f}" for w in fusion.weights_), valid=best, fit_seconds=fit_s)
        ranked = LearnedFusion(bases(seed), combiner="weighted", normalize="rank", seed=seed).fit(train)
        add("weighted, tuned (rank)", ranked, seed, train, test,
            weights="/".join(f"{w:.1f}" for w in ranked.weights_), valid=ranked.weight_table_["ndcg"].max())
        add("gradient-boosted fusion", fusion, seed, train, test, fit_seconds=fit_s)
        logit = LearnedFusion(bases(seed), booster=LogisticRegression(max_iter=1000), seed=seed).fit(train)
        add("stacked, logistic regression", logit, seed, train, test)
    table = pd.DataFrame(rows)
    print(table.groupby("model", sort=False)[["ndcg", "recall"]].agg(["mean", "std"]).round(4).to_string())
    if not args.quick:
        save("model_fusion", table)


if __name__ == "__main__":
    main()
