"""Compressed retrieval: product quantization on MovieLens and on synthetic catalogues of 10^4 to 10^6 items (chapter 8).

Usage (from the project root; about 10 minutes on a 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/compress_retrieval.py [--quick]

Part 1, quality (protocol ``topk``, ml-100k, seeds 0, 1, 2, also the models'
seeds): a :class:`~recbook.models.bpr.TorchBPR` with 64 factors (chapter 8.1's
model) recommends through every index of :class:`recbook.compress.ItemIndex`
(exact float32, 8-bit scalar quantization, product quantization with 8-bit and
4-bit codes, IVF-PQ), with the index's own approximate scores and with exact
re-ranking of its candidates (:class:`recbook.compress.Retrieved`). Per
variant: NDCG@10 on the test split, recall@10 against exact search, and the
bytes of the serialized index.

Part 2, scale: a synthetic catalogue of ``n`` items (10^4, 10^5, 10^6) drawn
from a Gaussian with the mean and covariance of seed 0's trained item vectors
(bias included), searched by 300 of its trained user vectors. Every method
searches the same queries in the same run, one after the other (median of 3
repeats), so the ratios between them hold even on a busy machine; the absolute
milliseconds do not travel. Methods: exact scoring of the full catalogue with
NumPy (``float32`` matrix product plus :func:`recbook.base.top_k`) and with faiss's exact
index (``IndexFlatIP``, a blocked product with a heap), the NumPy product with the
catalogue stored row-wise in int8 and dequantized per batch
(:func:`recbook.compress.quantize_rows`), and the faiss indexes. Per method:
bytes, milliseconds per query (300 queries in batches of 100), recall@10
against exact search, and the share of the exact top 10 found in the index's
top 100 (what an exact re-ranking of 100 candidates could recover).

Writes ``benchmarks/results/compress_retrieval.csv`` (part 1) and
``benchmarks/results/compress_retrieval_scale.csv`` (part 2).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from _results import save
from recbook.base import top_k
from recbook.compress import ItemIndex, Retrieved, quantize_rows, recall_at_k
from recbook.compress.retrieval import exact_top_k, mips_vectors
from recbook.evaluate import get_protocol
from recbook.models.bpr import TorchBPR

K = 10
D = 64


def quality_indexes() -> dict[str, ItemIndex]:
    """The indexes compared on MovieLens (65 dimensions: 64 factors and the item bias)."""
    return {
        "exact (float32)": ItemIndex("flat"),
        "SQ 8-bit": ItemIndex("sq8"),
        "PQ 13x8 bits": ItemIndex("pq", m=13, nbits=8),
        "PQ 13x4 bits": ItemIndex("pq", m=13, nbits=4),
        "IVF-PQ 13x8, nprobe 8": ItemIndex("ivfpq", m=13, nbits=8, nprobe=8),
    }


def scale_methods(n: int) -> dict[str, ItemIndex | str]:
    return {
        "exact (float32)": "numpy",
        "exact over int8 rows": "int8",
        "exact, faiss flat": ItemIndex("flat"),
        "SQ 8-bit": ItemIndex("sq8"),
        "PQ 13x8 bits": ItemIndex("pq", m=13, nbits=8),
        "IVF-PQ 13x8, nprobe 8": ItemIndex("ivfpq", m=13, nbits=8, nprobe=8),
        "IVF-PQ 13x8, nprobe 32": ItemIndex("ivfpq", m=13, nbits=8, nprobe=32),
    }


def search(method: ItemIndex | str, items: np.ndarray, table, queries: np.ndarray, batch: int = 100) -> np.ndarray:
    out = []
    for s in range(0, len(queries), batch):
        q = queries[s : s + batch]
        if method == "numpy":
            out.append(top_k(q @ items.T, K))
        elif method == "int8":
            out.append(top_k(q @ table.dequantize().numpy().T, K))
        else:
            out.append(method.search(q, K)[1])
    return np.vstack(out)


def part_quality(p, ratings, seeds, epochs) -> tuple[pd.DataFrame, TorchBPR]:
    rows, first = [], None
    for seed in seeds:
        train, test = p.split(ratings, seed=seed)
        model = TorchBPR(n_factors=D, seed=seed, **epochs).fit(train)
        first = first or model
        queries, items = mips_vectors(model)
        exact = exact_top_k(queries, items, K)
        for name, index in quality_indexes().items():
            for rerank in (False, True):
                est = Retrieved(model, index, k=K, rerank=rerank).fit(train)
                found = est.index_.search(queries, K)[1]
                res = p.evaluate(est, train, test)
                rows.append({"index": name, "rerank": rerank, "seed": seed, "bytes": est.nbytes_,
                             "recall_vs_exact": recall_at_k(exact, found), "ndcg": res["ndcg"], "recall": res["recall"]})
                print(f"seed {seed} {name:24s} rerank={rerank!s:5s} {est.nbytes_:>9,} B  "
                      f"recall@10 vs exact {rows[-1]['recall_vs_exact']:.3f}  NDCG@10 {res['ndcg']:.4f}", flush=True)
    return pd.DataFrame(rows), first


def part_scale(model: TorchBPR, sizes, n_queries: int, repeats: int) -> pd.DataFrame:
    queries, items = mips_vectors(model)
    rng = np.random.default_rng(0)
    mean, cov = items.mean(0), np.cov(items, rowvar=False)
    q = queries[rng.choice(len(queries), min(n_queries, len(queries)), replace=False)]
    if len(q) < n_queries:
        q = q[rng.integers(0, len(q), n_queries)]
    rows = []
    for n in sizes:
        cat = rng.multivariate_normal(mean, cov, size=n, method="cholesky").astype(np.float32)
        exact = search("numpy", cat, None, q)
        for name, method in scale_methods(n).items():
            t0 = time.perf_counter()
            if isinstance(method, ItemIndex):
                method.fit(cat)
                nbytes, table = method.nbytes_, None
            elif method == "int8":
                table = quantize_rows(torch.from_numpy(cat), bits=8)
                nbytes = table.nbytes
            else:
                table, nbytes = None, cat.nbytes
            build = time.perf_counter() - t0
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                found = search(method, cat, table, q)
                times.append(time.perf_counter() - t0)
            if isinstance(method, ItemIndex):  # what an exact re-ranker of the index's top 100 could recover
                deep = method.search(q, 100)[1]
                candidate_recall = float(np.mean([np.isin(e, d).mean() for e, d in zip(exact, deep)]))
            else:
                candidate_recall = recall_at_k(exact, found)
            rows.append({"n_items": n, "method": name, "bytes": int(nbytes), "build_s": build,
                         "ms_per_query": 1000 * float(np.median(times)) / len(q),
                         "recall_vs_exact": recall_at_k(exact, found), "recall_in_top100": candidate_recall})
            print(f"n={n:>9,} {name:24s} {nbytes:>12,} B  build {build:6.1f} s  "
                  f"{rows[-1]['ms_per_query']:.4f} ms/query  recall@10 {rows[-1]['recall_vs_exact']:.3f} "
                  f"(in top 100: {candidate_recall:.3f})", flush=True)
        del cat
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 5 epochs, catalogues of 10^4 (nothing written)")
    parser.add_argument("--part", choices=("all", "quality", "scale"), default="all",
                        help="run one part only (scale trains seed 0's model again)")
    args = parser.parse_args()
    p = get_protocol("topk")
    ratings = p.load()
    seeds = p.seeds[:1] if args.quick or args.part == "scale" else p.seeds
    epochs = {"n_epochs": 5} if args.quick else {}
    if args.part in ("all", "quality"):
        quality, model = part_quality(p, ratings, seeds, epochs)
        print(quality.groupby(["index", "rerank"], sort=False)[["bytes", "recall_vs_exact", "ndcg"]]
              .agg(["mean", "std"]).round(4).to_string())
        if not args.quick:
            save("compress_retrieval", quality)
    else:
        train, _ = p.split(ratings, seed=seeds[0])
        model = TorchBPR(n_factors=D, seed=seeds[0], **epochs).fit(train)
    if args.part in ("all", "scale"):
        sizes = (10_000,) if args.quick else (10_000, 100_000, 1_000_000)
        scale = part_scale(model, sizes, n_queries=300, repeats=1 if args.quick else 3)
        print(scale.round(4).to_string())
        if not args.quick:
            save("compress_retrieval_scale", scale)


if __name__ == "__main__":
    main()
