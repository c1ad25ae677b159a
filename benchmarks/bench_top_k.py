"""Speed of recbook.base.top_k against a full stable sort (and argpartition).

Usage (from the project root)::

    .venv/bin/python benchmarks/bench_top_k.py

``top_k`` must be deterministic on every CPU (ties to the lower column, like a
stable sort) and keep the O(n) cost of a partition. This prints the best of
5 timings of ``top_k``, of ``np.argsort(-s, kind="stable")[:, :k]`` (the
reference it must equal) and of the old ``np.argpartition`` selection (which
is *not* machine-independent under ties), on continuous and on heavily tied
scores, and checks that ``top_k`` equals the stable sort each time. Writes
``benchmarks/results/top_k_speed.csv``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from _results import save
from recbook.base import top_k


def stable_sort(s: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def argpartition(s: np.ndarray, k: int) -> np.ndarray:  # the former implementation
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    part.sort(axis=1)
    order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def best_of(fn, *args, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for (m, n), k in [((943, 1682), 10), ((943, 1682), 200), ((1000, 100_000), 10), ((1, 1_000_000), 100)]:
        for kind in ("continuous", "tied (2 decimals)"):
            s = rng.random((m, n))
            if kind.startswith("tied"):
                s = np.round(s, 2)
            assert np.array_equal(top_k(s, k), stable_sort(s, k)), "top_k must equal the stable sort"
            row = {"rows": m, "items": n, "k": k, "scores": kind}
            for name, fn in (("top_k", top_k), ("stable sort", stable_sort), ("argpartition (old)", argpartition)):
                row[f"{name} ms"] = 1e3 * best_of(fn, s, k)
            row["stable sort / top_k"] = row["stable sort ms"] / row["top_k ms"]
            rows.append(row)
            print(f"{m:>5} x {n:>9,}  k={k:<4} {kind:<18} top_k {row['top_k ms']:8.2f} ms   stable sort "
                  f"{row['stable sort ms']:9.2f} ms ({row['stable sort / top_k']:.1f}x)   argpartition {row['argpartition (old) ms']:8.2f} ms",
                  flush=True)
    save("top_k_speed", pd.DataFrame(rows))


if __name__ == "__main__":
    main()
