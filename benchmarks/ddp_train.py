"""Train a chapter-6 model with DistributedDataParallel and compare with one process.

    torchrun --standalone --nproc_per_node=2 benchmarks/ddp_train.py            # ml-100k, topk protocol
    torchrun --standalone --nproc_per_node=2 benchmarks/ddp_train.py --small    # a toy run (the CI test)

Every rank fits the same estimator (``TorchBPR``) on the same training
split; ``recbook.train.train_module`` sees the process group and trains with
DDP (gloo on CPU): each global mini-batch of ``batch_size`` interactions is
cut into one shard per rank and the gradients are averaged. The script
prints

* the largest absolute difference between any parameter on any rank and the
  same parameter on rank 0 (DDP keeps the replicas identical: expect 0);
* NDCG@10 of the distributed model on the ``topk`` protocol's seed-0 split;
* after the process group is closed, rank 0 trains the same model in one
  process with the same global batch, for the protocol's seeds, and prints
  their NDCG@10 (mean and std), so the DDP result can be compared with the
  seed spread;
* wall times, and a CSV row in ``benchmarks/results/ddp_train.csv``
  (not with ``--small``).

On a 2-core machine two processes do not train faster than one (each process
gets one core and they exchange gradients every step); the point here is that
the loop is correct under DDP, not that two cores beat one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist

from recbook.models import TorchBPR
from recbook.train import init_distributed, rank, world_size

RESULTS = Path(__file__).resolve().parent / "results"


def toy_data(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """200 users x 120 items with a planted low-rank preference; 80/20 random split."""
    rng = np.random.default_rng(seed)
    p, q = rng.normal(size=(200, 4)), rng.normal(size=(120, 4))
    scores = p @ q.T + rng.gumbel(size=(200, 120))
    users, items = np.nonzero(scores > np.quantile(scores, 0.9, axis=1, keepdims=True))
    frame = pd.DataFrame({"user": users, "item": items, "rating": 1.0})
    test_mask = rng.random(len(frame)) < 0.2
    return frame[~test_mask].reset_index(drop=True), frame[test_mask].reset_index(drop=True)


def max_rank_difference(model: TorchBPR) -> float:
    """max |theta_rank - theta_0| over every parameter and rank (all ranks take part)."""
    flat = torch.cat([torch.as_tensor(v).ravel().double() for _, v in sorted(model.state_dict_.items())])
    gathered = [torch.empty_like(flat) for _ in range(world_size())]
    dist.all_gather(gathered, flat)
    return max(float((g - gathered[0]).abs().max()) for g in gathered)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a toy data set and a few epochs (the CI test)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="the global batch (default 1024; 256 with --small)")
    args = parser.parse_args(argv)

    if not init_distributed():
        print("run me under torchrun, e.g. torchrun --standalone --nproc_per_node=2 benchmarks/ddp_train.py")
        return 2
    torch.set_num_threads(1)  # one core per process
    n_epochs = args.epochs or (30 if args.small else 60)
    batch_size = args.batch_size or (256 if args.small else 1024)
    params = dict(n_factors=16 if args.small else 64, n_epochs=n_epochs, batch_size=batch_size, seed=0)
    if args.small:
        train, test = toy_data()
        seeds: tuple[int, ...] = (0, 1, 2)
    else:
        from recbook.evaluate import get_protocol

        protocol = get_protocol("topk")
        train, test = protocol.split(seed=protocol.seeds[0])
        seeds = protocol.seeds
    from recbook.evaluate import evaluate_topk

    start = time.perf_counter()
    model = TorchBPR(**params).fit(train)
    ddp_seconds = time.perf_counter() - start
    difference = max_rank_difference(model)
    ranks, this_rank = world_size(), rank()
    dist.destroy_process_group()
    if this_rank != 0:
        return 0
    ddp_ndcg = evaluate_topk(model, train, test, k=10)["ndcg"]

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    single, single_seconds = [], []
    for seed in seeds:
        start = time.perf_counter()
        one = TorchBPR(**{**params, "seed": seed}).fit(train)
        single_seconds.append(time.perf_counter() - start)
        single.append(evaluate_topk(one, train, test, k=10)["ndcg"])
    result = {
        "data": "toy" if args.small else "ml-100k topk seed 0",
        "processes": ranks,
        "global_batch": batch_size,
        "epochs": n_epochs,
        "max_parameter_difference_between_ranks": difference,
        "ddp_ndcg10": round(ddp_ndcg, 4),
        "single_ndcg10_seed0": round(single[0], 4),
        "single_ndcg10_mean": round(float(np.mean(single)), 4),
        "single_ndcg10_std": round(float(np.std(single, ddof=1)), 4),
        "ddp_seconds": round(ddp_seconds, 1),
        "single_seconds_seed0": round(single_seconds[0], 1),
    }
    print(f"{ranks} processes (DDP, gloo), global batch {batch_size}, {n_epochs} epochs:")
    print(f"  max parameter difference between ranks: {difference:.3g}")
    print(f"  NDCG@10, DDP:            {ddp_ndcg:.4f}  ({ddp_seconds:.1f} s)")
    print(f"  NDCG@10, one process:    {single[0]:.4f}  (seed 0, {single_seconds[0]:.1f} s)")
    print(f"  one process, seeds {', '.join(map(str, seeds))}: {np.mean(single):.4f} +- {np.std(single, ddof=1):.4f}")
    print("RESULT " + json.dumps(result))
    if not args.small:
        RESULTS.mkdir(exist_ok=True)
        with open(RESULTS / "ddp_train.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(result))
            writer.writeheader()
            writer.writerow(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
