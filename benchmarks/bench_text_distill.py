"""Chapters 6.4 and 7.4: a two-tower model on language-model text vectors, and a distilled text encoder.

Usage (from the project root; about 15 minutes on a 2-core machine, most of it
in the language model's timing and the two-tower fits)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_text_distill.py

On the ``cold-items`` protocol (seeds 0, 1, 2: 15 % of the ml-100k films held
out with all their ratings; the new films ranked for each user, relevant when
rated 4 or 5, K = 10) it compares

* ``TwoTower`` on the all-MiniLM-L6-v2 vectors of each film's text (title and
  genres), with a frozen-text projection (``item_tower="text"``) and with an
  id residual per training film (``"text+id"``);
* the same ``TwoTower`` on the vectors of a *distilled* encoder
  (:class:`recbook.distill.text.DistilledTextEncoder`), trained for each seed
  on the texts of that seed's *training* films plus the ml-latest-small
  films that match no ml-100k film (:func:`recbook.distill.text.exclude_titles`),
  so it never sees a held-out film's text;
* the content-KNN baselines of chapter 4 (profile cosine) on either set of vectors.

It also measures, in one run on the same texts, the parameter counts and the
encoding time (median of repeats, tokenising or hashing included) of the
language model and the distilled encoder, and the cosine between the two
encoders' vectors on the held-out films.

Writes ``benchmarks/results/text_distill.csv`` (one row per model and seed)
and ``benchmarks/results/text_distill_encoders.csv`` (one row per seed:
parameters, timings, fidelity).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from _results import save
from recbook.content import ContentKNN, embed_items, embed_texts, load_sentence_model
from recbook.datasets import load
from recbook.distill.text import DistilledTextEncoder, count_parameters, exclude_titles, median_seconds, movie_texts
from recbook.evaluate import get_protocol
from recbook.models.twotower import TwoTower

#: The two-tower configuration of chapter 6.4 (its loss chosen on the validation split of seed 0, see VALIDATION).
TWOTOWER = dict(n_factors=64, hidden=256, loss="bpr", n_epochs=10, batch_size=512, lr=0.002)
#: The candidates compared on the validation split of seed 0 (``text_distill_validation.csv``).
VALIDATION = {
    "BPR, text": dict(loss="bpr", item_tower="text"),
    "BPR, text+id": dict(loss="bpr", item_tower="text+id"),
    "BPR, text, linear projection": dict(loss="bpr", item_tower="text", hidden=0),
    "in-batch softmax, text": dict(loss="softmax", item_tower="text"),
    "in-batch softmax, text+id": dict(loss="softmax", item_tower="text+id"),
}
#: The distilled encoder of chapter 7.4.
ENCODER = dict(n_buckets=4096, dim=32, hidden=128, word_ngrams=2, loss="cosine", n_epochs=15, batch_size=128, lr=0.01)
#: Texts timed and repeats of the speed measurement.
N_TIMED, REPEATS = 400, 5


def corpus() -> tuple[pd.Series, pd.Series]:
    """ml-100k's film texts, and the ml-latest-small film texts that match no ml-100k film."""
    items = load("ml-100k").items
    extra = exclude_titles(load("ml-latest-small").items, items)
    return movie_texts(items), movie_texts(extra)


def fit_encoder(texts: pd.Series, teacher: np.ndarray, extra: pd.Series, extra_teacher: np.ndarray,
                train_items: np.ndarray, seed: int) -> DistilledTextEncoder:
    """The student of one seed: trained on the training films' texts plus the outside corpus."""
    keep = texts.index.isin(train_items)
    x = pd.concat([texts[keep], extra], ignore_index=True)
    y = np.vstack([teacher[keep], extra_teacher])
    return DistilledTextEncoder(**ENCODER, seed=seed).fit(x.tolist(), y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    seeds = tuple(int(s) for s in args.seeds.split(","))

    texts, extra = corpus()
    teacher = embed_texts(texts)                       # cached on disk after the first run
    extra_teacher = embed_texts(extra)
    minilm = embed_items(texts, name="MiniLM")
    lm = load_sentence_model()
    lm_params = count_parameters(lm)
    timed = texts.iloc[:N_TIMED].tolist()
    print(f"{len(texts)} ml-100k texts, {len(extra)} outside texts; MiniLM {lm_params:,} parameters", flush=True)

    cold = get_protocol("cold-items")
    if 0 in seeds:  # the choice of the loss, on seed 0's validation split (never on a test split)
        train0, _ = cold.split(seed=0)
        fit0, valid0 = cold.validation_split(train0, 0)
        val_rows = []
        for name, params in VALIDATION.items():
            model = TwoTower(minilm, **{**TWOTOWER, **params}, seed=0).fit(fit0)
            res = cold.evaluate(model, fit0, valid0)
            val_rows.append({"config": name, **params, "valid_ndcg": res["ndcg"], "valid_recall": res["recall"]})
            print(f"validation {name:32s} ndcg {res['ndcg']:.4f}", flush=True)
        save("text_distill_validation", pd.DataFrame(val_rows))
    rows, enc_rows = [], []
    for seed, train, test in cold.splits():
        if seed not in seeds:
            continue
        new_items = test["item"].unique()
        t0 = time.perf_counter()
        enc = fit_encoder(texts, teacher, extra, extra_teacher, train["item"].unique(), seed)
        fit_s = time.perf_counter() - t0
        tiny = enc.encode_items(texts, name="tiny encoder")
        new_rows = texts.index.get_indexer(new_items)
        old_rows = texts.index.get_indexer(train["item"].unique())
        cos = (tiny.matrix * minilm.matrix).sum(1)
        t_lm = median_seconds(lambda: lm.encode(timed, batch_size=64, normalize_embeddings=True), repeats=REPEATS)
        t_tiny = median_seconds(lambda: enc.encode(timed), repeats=REPEATS)
        enc_rows.append({
            "seed": seed, "lm_params": lm_params, "student_params": enc.n_parameters(),
            "param_ratio": enc.n_parameters() / lm_params, "n_texts_timed": len(timed),
            "lm_seconds": t_lm, "student_seconds": t_tiny, "speedup": t_lm / t_tiny,
            "cos_new_items": float(cos[new_rows].mean()), "cos_train_items": float(cos[old_rows].mean()),
            "n_train_texts": int(len(old_rows) + len(extra)), "student_fit_seconds": fit_s,
            "student_final_loss": float(enc.history_["loss"].iloc[-1]),
        })
        print(enc_rows[-1], flush=True)
        models = {
            "TwoTower (MiniLM, text)": TwoTower(minilm, item_tower="text", **TWOTOWER),
            "TwoTower (MiniLM, text+id)": TwoTower(minilm, item_tower="text+id", **TWOTOWER),
            "TwoTower (tiny encoder, text)": TwoTower(tiny, item_tower="text", **TWOTOWER),
            "ContentKNN profile (MiniLM)": ContentKNN(minilm, k=40, mode="profile"),
            "ContentKNN profile (tiny encoder)": ContentKNN(tiny, k=40, mode="profile"),
        }
        for name, model in models.items():
            if "seed" in model.get_params(deep=False):
                model.set_params(seed=seed)
            t0 = time.perf_counter()
            model.fit(train)
            fit_seconds = time.perf_counter() - t0
            res = cold.evaluate(model, train, test)
            rows.append({"model": name, "seed": seed, **res, "fit_seconds": fit_seconds})
            print(f"seed {seed} {name:36s} ndcg {res['ndcg']:.4f} recall {res['recall']:.4f} ({fit_seconds:.0f} s)", flush=True)
    results = pd.DataFrame(rows)
    encoders = pd.DataFrame(enc_rows)
    save("text_distill", results)
    save("text_distill_encoders", encoders)
    summary = results.groupby("model", sort=False)[["ndcg", "recall"]].agg(["mean", "std"])
    print(summary.round(4).to_string())
    print(encoders[["param_ratio", "speedup", "cos_new_items"]].agg(["mean", "std"]).round(4).to_string())


if __name__ == "__main__":
    main()
