"""Mixed-precision training and dynamic int8 linear layers, measured (chapter 8.1).

Usage (from the project root; about 15 minutes on a 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/mixed_precision.py [--quick]

Protocol ``topk`` (ml-100k, seeds 0, 1, 2, also the models' seeds).

Part 1, training: :class:`~recbook.models.bpr.TorchBPR` (64 factors) and
:class:`~recbook.models.neumf.NeuMF` (defaults) are fitted in float32 and
inside :func:`recbook.train.mixed_precision` (bfloat16 compute, float32 master
weights), one after the other in the same run (the order alternates with the
seed so that neither always runs on a warmer machine). Per fit: seconds,
NDCG@10, Recall@10, and the saved bytes of the trained model (the same for
both: mixed precision does not make a model smaller).

Part 2, serving: each seed's float32 NeuMF is served as it is, with its
linear layers dynamically quantized to int8
(``Compressed(method="linear-int8")``, ``torch.ao.quantization``), and with
its embedding tables in row-wise int8 (``method="int8"``): NDCG@10, saved
bytes and scoring latency (same users, same run).

Writes ``benchmarks/results/mixed_precision.csv`` and
``benchmarks/results/mixed_precision_serving.csv``. The speed of bfloat16 on
a CPU depends on whether it has bfloat16 instructions (AVX512-BF16, AMX);
``machine.json`` beside the results records which CPU ran them.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from _results import save
from recbook.compress import Compressed, state_nbytes
from recbook.evaluate import get_protocol
from recbook.models.bpr import TorchBPR
from recbook.models.neumf import NeuMF
from recbook.train import mixed_precision
from recbook.utils import scoring_speed


def make(name: str, seed: int, epochs: dict):
    return TorchBPR(n_factors=64, seed=seed, **epochs) if name == "TorchBPR d=64" else NeuMF(seed=seed, **epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 3 epochs (nothing written)")
    args = parser.parse_args()
    p = get_protocol("topk")
    ratings = p.load()
    seeds = p.seeds[:1] if args.quick else p.seeds
    epochs = {"n_epochs": 3} if args.quick else {}
    rows, serving = [], []
    for seed in seeds:
        train, test = p.split(ratings, seed=seed)
        users = train["user"].unique()[:512]
        for name in ("TorchBPR d=64", "NeuMF"):
            order = ("float32", "bfloat16") if seed % 2 == 0 else ("bfloat16", "float32")
            fitted = {}
            for precision in order:
                model = make(name, seed, epochs)
                t0 = time.perf_counter()
                if precision == "bfloat16":
                    with mixed_precision(torch.bfloat16):
                        model.fit(train)
                else:
                    model.fit(train)
                seconds = time.perf_counter() - t0
                res = p.evaluate(model, train, test)
                fitted[precision] = model
                rows.append({"model": name, "precision": precision, "seed": seed, "fit_seconds": seconds,
                             "ndcg": res["ndcg"], "recall": res["recall"], "saved_bytes": state_nbytes(model)})
                print(f"seed {seed} {name} {precision}: fit {seconds:.1f} s, NDCG@10 {res['ndcg']:.4f}", flush=True)
            if name == "NeuMF":
                base = fitted["float32"]
                variants = [("float32", base, state_nbytes(base))]
                for method in ("linear-int8", "int8"):
                    c = Compressed(base, method=method).fit(train)
                    variants.append((method, c, c.nbytes_))
                for method, est, nbytes in variants:
                    res = p.evaluate(est, train, test)
                    speed = scoring_speed(est, users, repeats=3 if args.quick else 7)
                    serving.append({"model": name, "method": method, "seed": seed, "ndcg": res["ndcg"],
                                    "recall": res["recall"], "saved_bytes": nbytes, "latency_ms": speed["latency_ms"]})
                    print(f"seed {seed} NeuMF served {method}: NDCG@10 {res['ndcg']:.4f}, {nbytes:,} B, "
                          f"{speed['latency_ms']:.2f} ms", flush=True)
    table, serve = pd.DataFrame(rows), pd.DataFrame(serving)
    print(table.groupby(["model", "precision"], sort=False)[["fit_seconds", "ndcg"]].agg(["mean", "std"]).round(4).to_string())
    print(serve.groupby("method", sort=False)[["ndcg", "saved_bytes", "latency_ms"]].agg(["mean", "std"]).round(4).to_string())
    if not args.quick:
        save("mixed_precision", table)
        save("mixed_precision_serving", serve)


if __name__ == "__main__":
    main()
