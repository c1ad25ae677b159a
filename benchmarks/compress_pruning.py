"""Magnitude pruning with and without fine-tuning, global and per layer, and structured pruning (chapter 8.2).

Usage (from the project root; about 5 minutes on a free 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/compress_pruning.py [--quick]

Protocol ``topk`` (ml-100k, seeds 0, 1, 2, which are also the models'
seeds). For every seed, one :class:`~recbook.models.bpr.TorchBPR` at its
default width (``d=64``, the settings chosen on the validation split of
chapter 3/6) is fitted and then compressed three ways:

* ``unstructured``: :func:`recbook.compress.prune.prune_model` at sparsities
  50, 80, 90 and 95 %, ``scope`` ``"global"`` and ``"layer"``, evaluated as
  pruned (``fine_tune=0``) and after ``FINE_TUNE_EPOCHS`` epochs of
  :func:`~recbook.compress.prune.fine_tune_pruned` (masks kept). The number of
  fine-tuning epochs is fixed in advance, not chosen on the test split.
* ``structured``: :func:`~recbook.compress.prune.prune_dimensions` keeping 32,
  16 and 8 of the 64 latent dimensions, with and without the same fine-tuning.
* ``none``: the model itself.

Size: ``bytes`` is :func:`recbook.compress.state_nbytes` of the saved state
(the pruning zeros stored densely, so unchanged by unstructured pruning), and
``sparse_bytes`` the same state with every 2-D table in CSR with 32-bit
indices (:func:`~recbook.compress.prune.sparse_state`).

Writes ``benchmarks/results/compress_pruning.csv`` (one row per variant and
seed: kind, scope, sparsity, keep, fine_tune, bytes, sparse_bytes, NDCG@10,
Recall@10, relative NDCG@10 loss against the unpruned model of the seed).
"""

from __future__ import annotations

import argparse

import pandas as pd

from _results import save
from recbook.compress import state_nbytes
from recbook.compress.prune import fine_tune_pruned, prune_dimensions, prune_model, sparse_state, sparsity
from recbook.evaluate import get_protocol
from recbook.models.bpr import TorchBPR

SPARSITIES = (0.5, 0.8, 0.9, 0.95)
SCOPES = ("global", "layer")
KEEP = (32, 16, 8)
FINE_TUNE_EPOCHS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 3 epochs, one sparsity (nothing written)")
    args = parser.parse_args()
    p = get_protocol("topk")
    ratings = p.load()
    seeds = p.seeds[:1] if args.quick else p.seeds
    sparsities = SPARSITIES[-1:] if args.quick else SPARSITIES
    base_params = {"n_epochs": 3} if args.quick else {}
    rows = []
    for seed in seeds:
        train, test = p.split(ratings, seed=seed)
        model = TorchBPR(n_factors=64, seed=seed, **base_params).fit(train)

        def record(m, **info):
            res = p.evaluate(m, train, test)
            module = m._get_module()
            row = {"seed": seed, **info, "sparsity_measured": sparsity(module), "bytes": state_nbytes(m),
                   "sparse_bytes": state_nbytes(sparse_state(module)), "ndcg": res["ndcg"], "recall": res["recall"]}
            rows.append(row)
            print(f"seed {seed} {info}: NDCG@10 {res['ndcg']:.4f}, {row['bytes']:,} B dense, "
                  f"{row['sparse_bytes']:,} B sparse", flush=True)

        record(model, kind="none", scope="", sparsity=0.0, keep=64, fine_tune=0)
        for scope in SCOPES:
            for s in sparsities:
                pruned = prune_model(model, s, scope=scope)
                record(pruned, kind="unstructured", scope=scope, sparsity=s, keep=64, fine_tune=0)
                fine_tune_pruned(pruned, n_epochs=FINE_TUNE_EPOCHS)
                record(pruned, kind="unstructured", scope=scope, sparsity=s, keep=64, fine_tune=FINE_TUNE_EPOCHS)
        for keep in KEEP:
            small = prune_dimensions(model, keep)
            record(small, kind="structured", scope="dimensions", sparsity=1 - keep / 64, keep=keep, fine_tune=0)
            fine_tune_pruned(small, n_epochs=FINE_TUNE_EPOCHS)
            record(small, kind="structured", scope="dimensions", sparsity=1 - keep / 64, keep=keep,
                   fine_tune=FINE_TUNE_EPOCHS)
    table = pd.DataFrame(rows)
    base = table[table["kind"] == "none"].set_index("seed")["ndcg"]
    table["relative_ndcg_loss"] = 1 - table["ndcg"] / base.loc[table["seed"]].to_numpy()
    print(table.groupby(["kind", "scope", "sparsity", "fine_tune"], sort=False)[["bytes", "sparse_bytes", "ndcg"]]
          .agg(["mean", "std"]).round(4).to_string())
    if not args.quick:
        save("compress_pruning", table)


if __name__ == "__main__":
    main()
