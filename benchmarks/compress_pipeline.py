"""Distillation then quantization: how small can chapter 7's teacher become (chapter 8)?

Usage (from the project root; about 15 minutes on a 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/compress_pipeline.py [--quick]

Protocol ``topk`` (ml-100k, seeds 0, 1, 2, also the models' seeds). The
teacher is chapter 7.6's EASE (``reg=500``); its size is the bytes of its
item-item matrix saved in float32 (:func:`recbook.compress.state_nbytes`;
recbook keeps the matrix in float64, which would double it). The students are
:class:`~recbook.models.bpr.TorchBPR` models of 1/32, 1/64 and 1/128 of the
teacher's parameters, distilled with the setting chapter 7.6 chose on
validation (read from ``distill_topk_choice.csv``), then served in float32,
int8 and int4 through :class:`recbook.compress.Compressed`; their size is
the bytes of the saved state of the module that scores.

With ``--part prune``: distillation, structured pruning and quantization
together (see :func:`main_prune`), written to
``benchmarks/results/compress_pipeline_pruned.csv``.

Writes ``benchmarks/results/compress_pipeline.csv`` (one row per variant and
seed: model, method, params, bytes, ratio to the teacher's bytes, NDCG@10,
Recall@10, share of the teacher's NDCG@10).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from _results import RESULTS, save
from distill_topk import TEACHER_REG, student_params, student_width, teacher_params
from recbook.cf import EASE
from recbook.compress import Compressed, state_nbytes
from recbook.compress.prune import fine_tune_pruned, prune_dimensions
from recbook.distill import Distiller
from recbook.evaluate import get_protocol
from recbook.models.bpr import TorchBPR

FRACTIONS = (32, 64, 128)


def chosen_setting() -> dict:
    """The distillation setting chapter 7.6 chose on validation (best distilled row of its grid)."""
    grid = pd.read_csv(RESULTS / "distill_topk_choice.csv")
    best = grid[grid["model"].str.contains("distilled")].sort_values("ndcg", ascending=False, kind="stable").iloc[0]
    return {"loss": str(best["loss"]), "alpha": float(best["alpha"]), "temperature": float(best["temperature"]),
            "top_k": int(best["top_k"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, one size, 5 epochs (nothing written)")
    parser.add_argument("--part", choices=("quantize", "prune"), default="quantize",
                        help="quantize: distilled students served in float32/int8/int4 (compress_pipeline.csv); "
                             "prune: a 1/16 student distilled, half its dimensions pruned, fine-tuned, then quantized "
                             "(compress_pipeline_pruned.csv)")
    args = parser.parse_args()
    if args.part == "prune":
        return main_prune(args)
    p = get_protocol("topk")
    ratings = p.load()
    setting = chosen_setting()
    print("distillation setting (chapter 7.6, chosen on validation):", setting)
    seeds = p.seeds[:1] if args.quick else p.seeds
    fractions = FRACTIONS[:1] if args.quick else FRACTIONS
    epochs = {"n_epochs": 5} if args.quick else {}
    rows = []
    for seed in seeds:
        train, test = p.split(ratings, seed=seed)
        n_users, n_items = train["user"].nunique(), train["item"].nunique()
        teacher = EASE(reg=TEACHER_REG).fit(train)
        t_bytes = state_nbytes({"B": np.asarray(teacher.B_, dtype=np.float32)})
        t_ndcg = p.evaluate(teacher, train, test)
        rows.append({"model": "EASE teacher", "method": "float32", "seed": seed, "params": teacher_params(n_items),
                     "bytes": t_bytes, "ndcg": t_ndcg["ndcg"], "recall": t_ndcg["recall"]})
        for f in fractions:
            d = student_width(n_users, n_items, teacher_params(n_items) / f)
            student = Distiller(teacher, TorchBPR(n_factors=d, **epochs), seed=seed, **setting).fit(train).student_
            served = {"float32": (student, state_nbytes(student._get_module()))}
            for method in ("int8", "int4"):
                c = Compressed(student, method=method).fit(train)
                served[method] = (c, c.nbytes_)
            for method, (model, nbytes) in served.items():
                res = p.evaluate(model, train, test)
                rows.append({"model": f"student 1/{f} (d={d}), distilled", "method": method, "seed": seed,
                             "params": student_params(n_users, n_items, d), "bytes": nbytes,
                             "ndcg": res["ndcg"], "recall": res["recall"]})
                print(f"seed {seed} 1/{f} d={d} {method}: {nbytes:,} B ({t_bytes / nbytes:.0f}x smaller), "
                      f"NDCG@10 {res['ndcg']:.4f} ({100 * res['ndcg'] / t_ndcg['ndcg']:.1f}% of the teacher)", flush=True)
    table = pd.DataFrame(rows)
    teacher_rows = table[table["model"] == "EASE teacher"].set_index("seed")
    table["smaller_than_teacher"] = teacher_rows.loc[table["seed"], "bytes"].to_numpy() / table["bytes"]
    table["share_of_teacher_ndcg"] = table["ndcg"] / teacher_rows.loc[table["seed"], "ndcg"].to_numpy()
    print(table.groupby(["model", "method"], sort=False)[["bytes", "smaller_than_teacher", "ndcg", "share_of_teacher_ndcg"]]
          .agg(["mean", "std"]).round(4).to_string())
    if not args.quick:
        save("compress_pipeline", table)


def main_prune(args) -> None:
    """Distillation, then structured pruning, then quantization: the chapter's combined pipeline.

    Per seed: a student of 1/16 of the teacher's parameters is distilled
    (setting of chapter 7.6), half of its latent dimensions are removed
    (:func:`recbook.compress.prune.prune_dimensions`, which keeps the
    dimensions with the largest ``||P[:, k]|| * ||Q[:, k]||``), and the pruned
    student, now about 1/32 of the teacher, is (a) served as it is,
    (b) fine-tuned for 5 epochs on its own BPR loss
    (:func:`~recbook.compress.prune.fine_tune_pruned`) or (c) re-distilled for
    10 epochs from the teacher, warm-started from its pruned weights
    (``Distiller(warm_start=...)``); each is then served in float32 and int8.
    """
    p = get_protocol("topk")
    ratings = p.load()
    setting = chosen_setting()
    seeds = p.seeds[:1] if args.quick else p.seeds
    epochs = {"n_epochs": 5} if args.quick else {}
    rows = []
    for seed in seeds:
        train, test = p.split(ratings, seed=seed)
        n_users, n_items = train["user"].nunique(), train["item"].nunique()
        teacher = EASE(reg=TEACHER_REG).fit(train)
        t_bytes = state_nbytes({"B": np.asarray(teacher.B_, dtype=np.float32)})
        t_ndcg = p.evaluate(teacher, train, test)["ndcg"]
        d = student_width(n_users, n_items, teacher_params(n_items) / 16)
        big = Distiller(teacher, TorchBPR(n_factors=d, **epochs), seed=seed, **setting).fit(train).student_
        pruned = prune_dimensions(big, d // 2)
        tuned = fine_tune_pruned(prune_dimensions(big, d // 2), n_epochs=5, seed=seed)
        redistilled = Distiller(teacher, TorchBPR(n_factors=d // 2, n_epochs=2 if args.quick else 10), seed=seed,
                                warm_start=pruned, **setting).fit(train).student_
        # the width d follows each split's user and item counts (64 or 65 on ml-100k)
        variants = {"1/16 distilled (d=64 or 65)": big, f"pruned to d={d // 2}": pruned,
                    f"pruned to d={d // 2}, fine-tuned": tuned, f"pruned to d={d // 2}, re-distilled": redistilled}
        for name, model in variants.items():
            served = {"float32": (model, state_nbytes(model._get_module()))}
            c = Compressed(model, method="int8").fit(train)
            served["int8"] = (c, c.nbytes_)
            for method, (est, nbytes) in served.items():
                res = p.evaluate(est, train, test)
                rows.append({"model": name, "method": method, "seed": seed, "bytes": nbytes,
                             "ndcg": res["ndcg"], "recall": res["recall"], "teacher_bytes": t_bytes, "teacher_ndcg": t_ndcg,
                             "smaller_than_teacher": t_bytes / nbytes, "share_of_teacher_ndcg": res["ndcg"] / t_ndcg})
                print(f"seed {seed} {name} {method}: {nbytes:,} B ({t_bytes / nbytes:.0f}x smaller), "
                      f"NDCG@10 {res['ndcg']:.4f} ({100 * res['ndcg'] / t_ndcg:.1f}% of the teacher)", flush=True)
    table = pd.DataFrame(rows)
    print(table.groupby(["model", "method"], sort=False)[["bytes", "smaller_than_teacher", "ndcg", "share_of_teacher_ndcg"]]
          .agg(["mean", "std"]).round(4).to_string())
    if not args.quick:
        save("compress_pipeline_pruned", table)


if __name__ == "__main__":
    main()
