"""`make bench`: run every benchmark, then render the Leaderboard page.

Usage (from the project root)::

    make bench        # or: RECBOOK_DATA=... .venv/bin/python benchmarks/run_all.py [--quick]

Each script prints its numbers and writes its tables to benchmarks/results/;
the last step renders book/leaderboard.md from those tables. ``--quick``
skips the comparisons with Surprise and the reproducibility probe (the
leaderboard itself is always run). Expect about 20 minutes on a 2-core laptop for Part I's
benchmarks and about an hour more for Part II's.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEADERBOARD = ["bench_leaderboard.py", "tune_rating_models.py"]
OTHERS = [
    "bench_evaluate.py",
    "bench_top_k.py",
    "bench_baselines_5fold.py",
    "bench_knn_vs_surprise.py",
    "bench_mf_vs_surprise.py",
    "bench_content.py",
    "repro_switches.py",
    "ddp_train.py",
    # Part II (chapters 6-8): several hours together on a 2-core laptop (each docstring gives its time)
    "bench_large.py",
    "bench_sequential.py",
    "sequential_sparsity.py",
    "bench_text_distill.py",
    "distill_rating.py",
    "distill_ranking.py",
    "distill_topk.py",
    "distill_uses.py",
    # chapter 8
    "compress_embeddings.py",
    "compress_pipeline.py",  # after distill_topk.py, whose validation choice it reads
    "compress_pruning.py",
    "compress_sharing.py",
    "compress_retrieval.py",
    "mixed_precision.py",
    # chapter 9
    "model_fusion.py",
    "online_learning.py",
    "eval_protocols.py",
]
#: Scripts started under torchrun (two processes) instead of plain python.
TORCHRUN = {"ddp_train.py"}


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    scripts = LEADERBOARD + ([] if quick else OTHERS) + ["leaderboard.py"]
    failed = []
    for script in scripts:
        t0 = time.perf_counter()
        print(f"=== {script}", flush=True)
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
        command = (launcher if script in TORCHRUN else [sys.executable]) + [str(HERE / script)]
        rc = subprocess.call(command, cwd=HERE.parent)
        print(f"=== {script}: {time.perf_counter() - t0:.0f} s (exit {rc})", flush=True)
        if rc:
            failed.append(script)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
