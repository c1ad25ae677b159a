"""Row-wise int8 and int4 embedding tables: size, quality and speed against float32 (chapter 8).

Usage (from the project root; about 10 minutes on a 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/compress_embeddings.py [--quick]

Protocol ``topk`` (ml-100k, seeds 0, 1, 2, which are also the models'
seeds). Two embedding models, each trained once per seed and then served
three ways through :class:`recbook.compress.Compressed` (float32, int8, int4;
:func:`recbook.compress.quantize_rows`):

* ``TorchBPR d=64``: the BPR matrix factorisation of chapter 3 in torch, at
  its default width (the width at which the row-wise int8 bound is
  4d / (d + 8) = 3.56);
* ``student d=STUDENT_D <- EASE``: chapter 7's distilled student, a
  :class:`~recbook.models.bpr.TorchBPR` trained by
  :class:`recbook.distill.Distiller` from EASE (soft targets, the
  Distiller's defaults).

For every variant: NDCG@10 and Recall@10; the bytes of the embedding tables
(codes, scales and offsets against float32) and of the whole saved state
(:func:`recbook.compress.state_nbytes`); scoring latency per user and
throughput (:func:`recbook.utils.scoring_speed`, medians of repeats, the same
users for every variant, measured in the same run one after the other).

Writes ``benchmarks/results/compress_embeddings.csv``.
"""

from __future__ import annotations

import argparse

import pandas as pd

from _results import save
from recbook.cf import EASE
from recbook.compress import Compressed
from recbook.distill import Distiller
from recbook.evaluate import get_protocol
from recbook.models.bpr import TorchBPR
from recbook.utils import scoring_speed

STUDENT_D = 16


def variants(model, frame):
    """(name, fitted estimator, table bytes, base table bytes, state bytes) for float32, int8 and int4."""
    out = []
    for method in ("int8", "int4"):
        c = Compressed(model, method=method).fit(frame)
        out.append((method, c, c.table_nbytes_, c.base_table_nbytes_, c.nbytes_))
    c8 = out[0][1]
    out.insert(0, ("float32", model, c8.base_table_nbytes_, c8.base_table_nbytes_, c8.base_nbytes_))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 5 epochs: a smoke run (nothing written)")
    args = parser.parse_args()
    p = get_protocol("topk")
    ratings = p.load()
    seeds = p.seeds[:1] if args.quick else p.seeds
    epochs = {"n_epochs": 5} if args.quick else {}
    rows = []
    for seed in seeds:
        train, test = p.split(ratings, seed=seed)
        models = {
            "TorchBPR d=64": TorchBPR(n_factors=64, seed=seed, **epochs).fit(train),
            f"student d={STUDENT_D} <- EASE": Distiller(EASE(), TorchBPR(n_factors=STUDENT_D, **epochs), seed=seed)
            .fit(train)
            .student_,
        }
        users = train["user"].unique()[:512]
        for name, model in models.items():
            for method, est, table, base_table, state in variants(model, train):
                res = p.evaluate(est, train, test)
                speed = scoring_speed(est, users, repeats=3 if args.quick else 7)
                rows.append({
                    "model": name, "method": method, "seed": seed, "ndcg": res["ndcg"], "recall": res["recall"],
                    "table_bytes": table, "table_bytes_fp32": base_table, "state_bytes": state,
                    "latency_ms": speed["latency_ms"], "throughput_users_per_s": speed["throughput_users_per_s"],
                })
                print(f"seed {seed} {name} {method}: NDCG@10 {res['ndcg']:.4f}, tables {table:,} B "
                      f"({base_table / table:.2f}x), latency {speed['latency_ms']:.2f} ms", flush=True)
    table = pd.DataFrame(rows)
    base = table[table["method"] == "float32"].set_index(["model", "seed"])["ndcg"]
    table["relative_ndcg_loss"] = 1 - table["ndcg"] / base.loc[list(zip(table["model"], table["seed"]))].to_numpy()
    print(table.groupby(["model", "method"], sort=False)[["ndcg", "relative_ndcg_loss", "table_bytes", "latency_ms"]]
          .agg(["mean", "std"]).round(5).to_string())
    if not args.quick:
        save("compress_embeddings", table)


if __name__ == "__main__":
    main()
