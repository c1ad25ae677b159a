"""The book's leaderboard: every Part I model on the book's named protocols.

Usage (from the project root; about 10 minutes on a 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_leaderboard.py [--only topk,rating]

For each protocol of :data:`recbook.evaluate.PROTOCOLS` used by Part I
(``rating``, ``topk``, ``cold-items``, ``cold-users``) every model below is
fitted and evaluated on every seed, with :meth:`Protocol.run`; a
:class:`~recbook.evaluate.Tuned` model has its hyper-parameters chosen on
each seed's validation split (cut from training), never on the test set.
The grids are the ones the chapters use, so a notebook and this page print
the same number for the same model. A fifth table repeats the top-K models
on the Recommenders project's own split (stratified by item, seed 42) and on
the same kind of split stratified by user, to compare with its published
table (chapter 3.4). The top-K table also holds ``TorchBPR``, the worked
example of chapter 6's torch base, beside the numba ``BPR`` it re-implements.

Writes ``benchmarks/results/leaderboard_<protocol>.csv`` (one row per model
and seed) and ``leaderboard_recommenders_split.csv``; ``benchmarks/leaderboard.py``
renders them into the book's Leaderboard page.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from _results import save, write_machine
from recbook import baselines
from recbook.cf import ALS, BPR, EASE, KNN, BiasedMF, ImplicitALS, ItemKNN, SVDpp, TopNItemKNN
from recbook.evaluate import Tuned, evaluate_topk, get_protocol
from recbook.models import TorchBPR

#: Top-K grids (chapter 3.4): the same Tuned objects the notebook uses. They are small so that
#: chapter 3.4 tunes all four models on the three seeds within its time budget. Each keeps the
#: configuration that a larger grid chose on every seed and split (EASE reg 100 to 1000; implicit
#: ALS alpha 5, 10, 40 x reg 0.01 to 150; BPR with lr 0.05 too), so the numbers did not change.
TOPK_TUNED = {
    "EASE": Tuned(EASE(), {"reg": [250.0, 500.0, 1000.0]}),
    "ImplicitALS": Tuned(ImplicitALS(), [{"alpha": 5.0, "reg": 50.0}, {"alpha": 10.0, "reg": 150.0}]),
    "BPR": Tuned(BPR(), [
        {},
        {"lr": 0.01, "reg": 0.01, "n_epochs": 200},
        {"lr": 0.01, "reg": 0.03, "n_epochs": 200},
    ]),
    "TopNItemKNN": Tuned(TopNItemKNN(), {"sim": ["jaccard", "pearson_baseline"]}),
}

#: Rating grid (chapter 3.3.8): biased MF with 100 factors and 100 epochs, the penalty chosen per fold.
RATING_TUNED = {
    "BiasedMF (tuned)": Tuned(BiasedMF(n_factors=100, n_epochs=100, seed=0), {"reg": [0.05, 0.1, 0.2]}),
}


def rating_models() -> dict:
    return {
        "GlobalMean": baselines.GlobalMean(),
        "UserMean": baselines.UserMean(),
        "ItemMean": baselines.ItemMean(),
        "NormalPredictor": baselines.NormalPredictor(seed=0),
        "BaselineOnly": baselines.BaselineOnly(),
        "BaselineOnly (SGD)": baselines.BaselineOnly(method="sgd"),
        "UserKNN (KNNBasic, msd)": KNN(),
        "UserKNN (KNNWithMeans, msd)": KNN(rule="with_means"),
        "UserKNN (KNNBaseline, pearson_baseline)": KNN(sim="pearson_baseline", rule="baseline"),
        "ItemKNN (KNNBaseline, pearson_baseline)": KNN(sim="pearson_baseline", rule="baseline", user_based=False),
        "BiasedMF (Surprise's SVD)": BiasedMF(seed=0),
        "SVD++": SVDpp(seed=0),
        "ALS": ALS(seed=0),
        **RATING_TUNED,
    }


def topk_models() -> dict:
    return {
        "Random": baselines.RandomRecommender(),
        "Popularity": baselines.Popularity(),
        "ItemMean (rating model)": baselines.ItemMean(),
        "BaselineOnly (rating model)": baselines.BaselineOnly(),
        "ItemKNN rating model (KNNBaseline)": ItemKNN(sim="pearson_baseline", rule="baseline"),
        **TOPK_TUNED,
        # Chapter 6's torch base, checked against the numba BPR above: the same model and loss.
        "TorchBPR (torch, defaults)": TorchBPR(),
    }


def cold_models() -> dict:
    from recbook.content import ContentKNN, embed_items
    from recbook.datasets import load

    items = load("ml-100k").items
    text = embed_items(items["title"] + ". " + items["genres"].str.join(", "))
    return {
        "BaselineOnly": baselines.BaselineOnly(),
        "BiasedMF": BiasedMF(seed=0),
        "Popularity": baselines.Popularity(),
        "ContentKNN (MiniLM title + genres)": ContentKNN(text, k=40),
        "ContentKNN profile (MiniLM title + genres)": ContentKNN(text, k=40, mode="profile"),
    }


#: Chapter 2.2's demographic groups of ml-100k users: age bands, gender, occupation.
AGE_BANDS = [0, 17, 24, 34, 44, 54, 120]
AGE_LABELS = ["under 18", "18-24", "25-34", "35-44", "45-54", "55+"]


def cold_user_models() -> dict:
    from recbook.datasets import load

    users = load("ml-100k").users.assign(
        age_band=lambda u: pd.cut(u["age"], AGE_BANDS, labels=AGE_LABELS).astype(str)
    )
    groupings = ["gender", "age_band", "occupation", ("age_band", "gender")]
    return {
        **cold_models(),
        "DemographicPopularity (grouping tuned)": Tuned(baselines.DemographicPopularity(users), {"by": groupings}),
    }


def recommenders_split_table() -> pd.DataFrame:
    """Top-K models on Recommenders' split (by item, seed 42) and on the by-user split."""
    from recbook.datasets import load
    from recbook.split import stratified_split

    topk = get_protocol("topk")
    ratings = load("ml-100k").ratings
    rows = []
    for by in ("item", "user"):
        train, test = stratified_split(ratings, test_size=0.25, by=by, seed=42)
        for name, model in {"Popularity": baselines.Popularity(), **TOPK_TUNED}.items():
            if isinstance(model, Tuned):
                best, _ = topk.tune(model, train, seed=42)
                from sklearn.base import clone

                est = clone(model.estimator).set_params(**best)
                params = ", ".join(f"{k}={v}" for k, v in best.items())
            else:
                est, params = model, ""
            if "seed" in est.get_params():
                est.set_params(seed=0)
            res = evaluate_topk(est.fit(train), train, test, k=10)
            rows.append({"split": f"stratified by {by}, 75/25, seed 42", "model": name, "params": params,
                         **{m: res[m] for m in ("precision", "recall", "ndcg", "map")}})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="rating,topk,cold-items,cold-users,recommenders-split")
    args = parser.parse_args()
    wanted = args.only.split(",")
    write_machine()
    plans = {"rating": rating_models, "topk": topk_models, "cold-items": cold_models, "cold-users": cold_user_models}
    for name, make in plans.items():
        if name not in wanted:
            continue
        t0 = time.perf_counter()
        res = get_protocol(name).run(make(), show_progress=True)
        res.insert(0, "protocol", name)
        save(f"leaderboard_{name}", res)
        print(f"{name}: {time.perf_counter() - t0:.0f} s")
    if "recommenders-split" in wanted:
        save("leaderboard_recommenders_split", recommenders_split_table())


if __name__ == "__main__":
    main()
