"""Content-based models on new (cold-start) items, with every modality a data set has.

Usage (from the project root)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_content.py
    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_content.py --dataset ml-100k

Protocol (chapter 4.2/4.3 of the book): ``recbook.content.cold_item_split``
holds out ``--item-fraction`` of the items (seed ``--seed``) with all their
ratings; the models are fitted on the other items' ratings and evaluated on
the held-out ones: RMSE and MAE of the predictions, and NDCG@10 / Recall@10
of ``recbook.content.evaluate_new_items`` (rank the held-out items for every
user with one of them rated >= ``--relevant``). Fusion weights and the learned
gate are chosen on ``cold_item_split(train, item_fraction, seed + 1)``, never
on the test items.

Modalities: MiniLM embeddings of the titles (all-MiniLM-L6-v2, cached on
disk under ``~/.cache/recbook/embeddings``), genre multi-hot, release year
(radial-basis encoding) and, for ml-latest-small, TF-IDF of the tags users
applied. Tags are user behaviour: a new item has none. By default only the
tags of the items the models may learn from in *every* step (the training
items minus the validation items) are kept, so that the fusion is tuned and
tested under the same conditions (held-out items have an empty tag block).
``--tags-for-all`` keeps every item's tags, the lenient and leaky view in
which a new item's tags are known in advance.

ml-latest-small embeds 9,742 titles the first time (about half a minute to a
minute on a laptop CPU); its catalogue is larger than the dense-similarity
limit, so similarities are computed block by block.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from recbook.baselines import BaselineOnly
from recbook.content import (
    ContentKNN,
    LearnedFusionKNN,
    cold_item_split,
    concat_features,
    embed_items,
    evaluate_new_items,
    genre_features,
    numeric_features,
    tag_documents,
    tfidf,
    tune_fusion_weights,
)
from recbook.datasets import load
from recbook.evaluate import evaluate_ratings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="ml-latest-small", choices=["ml-latest-small", "ml-100k"])
    parser.add_argument("--item-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=40)
    parser.add_argument("--relevant", type=float, default=4.0)
    parser.add_argument("--tags-for-all", action="store_true")
    args = parser.parse_args()

    ds = load(args.dataset)
    items, ratings = ds.items, ds.ratings
    train, test = cold_item_split(ratings, args.item_fraction, args.seed)
    tr, va = cold_item_split(train, args.item_fraction, args.seed + 1)
    print(f"{args.dataset}: train {len(train):,} ratings; test {test['item'].nunique():,} new items, "
          f"{len(test):,} ratings; validation {va['item'].nunique():,} items")

    t0 = time.perf_counter()
    blocks = {
        "text": embed_items(items["title"], show_progress=True),
        "genres": genre_features(items),
        "year": numeric_features(items[["year"]], scaling="rbf", n_centres=10),
    }
    if "tags" in ds.tables:
        tags = ds.tables["tags"]
        if not args.tags_for_all:
            tags = tags[tags["item"].isin(tr["item"].unique())]
        blocks["tags"] = tfidf(tag_documents(tags, index=items.index))
    print(f"features built in {time.perf_counter() - t0:.1f} s: "
          + ", ".join(f"{n} {f.shape[1]}" for n, f in blocks.items()))

    def run(name: str, model) -> dict:
        t = time.perf_counter()
        model.fit(train)
        fit = time.perf_counter() - t
        err = evaluate_ratings(model, test)
        rank = evaluate_new_items(model, test, k=10, relevance_threshold=args.relevant)
        row = {"RMSE": err["rmse"], "MAE": err["mae"], "NDCG@10": rank["ndcg"], "Recall@10": rank["recall"],
               "fit s": fit, "eval s": time.perf_counter() - t - fit}
        print(f"  {name:<34} " + "  ".join(f"{k} {v:.4f}" for k, v in row.items()), flush=True)
        return row

    rows = {"BaselineOnly (CF fallback)": run("BaselineOnly", BaselineOnly())}
    for name, f in blocks.items():
        rows[f"{name} only"] = run(f"{name} only", ContentKNN(f, k=args.k))
    rows["average fusion"] = run("average fusion", ContentKNN(concat_features(blocks), k=args.k))
    t = time.perf_counter()
    best, _ = tune_fusion_weights(blocks, tr, va, step=0.25 if len(blocks) <= 3 else 0.5, k=args.k)
    print(f"  weights chosen on validation in {time.perf_counter() - t:.1f} s: {best}")
    rows["weighted fusion"] = run("weighted fusion", ContentKNN(concat_features(blocks, best), k=args.k))
    rows["learned fusion"] = run(
        "learned fusion", LearnedFusionKNN(blocks, k=args.k, holdout_items=args.item_fraction, seed=args.seed + 1,
                                           holdout_seed=args.seed + 1)
    )
    rows["learned gate on the average"] = run(
        "learned gate on the average",
        LearnedFusionKNN({"average": concat_features(blocks)}, k=args.k, holdout_items=args.item_fraction,
                         seed=args.seed + 1, holdout_seed=args.seed + 1),
    )
    print()
    print(pd.DataFrame(rows).T.round(4).to_string())


if __name__ == "__main__":
    main()
