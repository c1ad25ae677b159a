"""Time :func:`recbook.evaluate.evaluate_topk` on every ml-100k user.

Usage (from the project root)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/bench_evaluate.py

The protocol ranks all 1,682 items for each of the 943 users (minus the items
they rated in training), so the work is one 943 x 1682 score matrix, a
top-10 selection per row and a sparse lookup of the test items. The target is
well under 2 s on a laptop-class CPU.
"""

from __future__ import annotations

import time

import numpy as np

from recbook.datasets import load
from recbook.evaluate import evaluate_topk
from recbook.split import per_user_split

try:
    from recbook.baselines import Popularity
except ImportError:  # pragma: no cover - only before baselines exists
    from recbook.base import Recommender

    class Popularity(Recommender):  # type: ignore[no-redef]
        """Score = number of training interactions of the item."""

        _rating_model = False

        def _fit(self, u, i, r):
            self.item_count_ = np.bincount(i, minlength=self.n_items_).astype(float)

        def _predict_idx(self, u, i):
            return np.where(i >= 0, self.item_count_[np.maximum(i, 0)], 0.0)

        def _score_users(self, u):
            return np.tile(self.item_count_, (len(u), 1))


def main(repeats: int = 5) -> None:
    data = load("ml-100k")
    train, test = per_user_split(data.ratings, test_size=0.2, seed=0)
    model = Popularity().fit(train)
    genres = data.items["genres"].explode()
    features = (
        genres.dropna().reset_index().assign(one=1.0)
        .pivot_table(index="item", columns="genres", values="one", fill_value=0.0)
        .reindex(model.item_ids_, fill_value=0.0)
    )
    for label, kwargs in (("without diversity", {}), ("with genre diversity", {"item_features": features})):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = evaluate_topk(model, train, test, k=10, **kwargs)
            times.append(time.perf_counter() - t0)
        print(
            f"evaluate_topk, Popularity, ml-100k, {result['n_users']} users x {model.n_items_} items, "
            f"{label}: best {min(times):.3f} s, median {float(np.median(times)):.3f} s over {repeats} runs"
        )
    print({key: value if key == "n_users" else round(float(value), 4) for key, value in result.items()})


if __name__ == "__main__":
    main()
