"""Make the static figures of the prose pages and print the numbers they quote.

Run from the repository root::

    RECBOOK_DATA=../shared/data python book/figures/make_figures.py          # figures + numbers
    RECBOOK_DATA=../shared/data python book/figures/make_figures.py --stats  # numbers only

It writes two small PNG files next to itself:

* ``longtail.png`` (chapter 1): the popularity curve of MovieLens 100K and
  Last.fm -- the share of all interactions that the most popular items collect;
* ``pipeline.png`` (chapter 2): the recommendation pipeline, online
  (candidate generation -> ranking -> re-ranking) and offline
  (data -> split -> fit -> evaluate).

The numbers quoted in chapter 1 come from ``print_stats``. The data are read
with ``recbook.datasets.load``, the loader of the whole book, which looks in
``$RECBOOK_DATA`` first; chapter 2's notebooks recompute the same kind of
statistics.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def load_frames() -> dict[str, pd.DataFrame]:
    """The interactions of the five data sets, through ``recbook.datasets``."""
    from recbook.datasets import load

    names = {
        "ml-100k": "ml-100k",
        "ml-latest-small": "ml-latest-small",
        "lastfm-2k": "lastfm-2k",
        "filmtrust": "filmtrust",
        "amazon-mi": "amazon-instruments",
    }
    data = {key: load(name) for key, name in names.items()}
    frames = {key: ds.ratings for key, ds in data.items()}
    frames["filmtrust-trust"] = data["filmtrust"].tables["trust"]
    frames["amazon-mi-reviews"] = data["amazon-mi"].tables["reviews"]
    return frames


def density(df: pd.DataFrame) -> float:
    return len(df) / (df.user.nunique() * df["item"].nunique())


def top_share(weights: pd.Series, fraction: float) -> float:
    """Share of the total weight held by the top ``fraction`` of items (rounded up)."""
    w = weights.sort_values(ascending=False).to_numpy(dtype=float)
    n_top = int(np.ceil(fraction * len(w)))
    return w[:n_top].sum() / w.sum()


def print_stats(frames: dict[str, pd.DataFrame]) -> None:
    """Print every number that chapter 1 quotes."""
    for name in ["ml-100k", "ml-latest-small", "lastfm-2k", "filmtrust", "amazon-mi"]:
        df = frames[name]
        print(
            f"{name:16s} users={df.user.nunique():5d} items={df['item'].nunique():6d} "
            f"interactions={len(df):7d} density={density(df):.4%}"
        )
    ml, mls, lfm, ft, amz = (frames[k] for k in ["ml-100k", "ml-latest-small", "lastfm-2k", "filmtrust", "amazon-mi"])
    counts = ml["item"].value_counts()
    print(f"ml-100k: top 20% of items hold {top_share(counts, 0.2):.1%} of ratings")
    print(f"ml-100k: items with fewer than 5 ratings: {(counts < 5).sum()} ({(counts < 5).mean():.1%}); "
          f"with exactly 1: {(counts == 1).sum()}")
    print(f"ml-100k: most rated item has {counts.iloc[0]} ratings ({counts.iloc[0] / ml.user.nunique():.1%} of users); "
          f"median item {counts.median():.0f} ratings")
    per_user = ml.user.value_counts()
    print(f"ml-100k: ratings per user min={per_user.min()} median={per_user.median():.0f} max={per_user.max()}")
    mls_counts = mls["item"].value_counts()
    print(f"ml-latest-small: movies rated once: {(mls_counts == 1).sum()} ({(mls_counts == 1).mean():.1%})")
    plays = lfm.groupby("item").rating.sum()  # Last.fm: rating holds the play count
    listeners = lfm["item"].value_counts()
    print(f"lastfm-2k: top 1% of artists hold {top_share(plays, 0.01):.1%} of plays, "
          f"top 20% hold {top_share(plays, 0.2):.1%}; "
          f"artists with one listener: {(listeners == 1).sum()} ({(listeners == 1).mean():.1%}); "
          f"max artists per user {lfm.user.value_counts().max()}")
    trust = frames["filmtrust-trust"]
    raters = set(ft.user)
    in_network = raters & (set(trust.source) | set(trust.target))
    print(f"filmtrust: {len(trust)} trust edges; raters in the trust network: {len(in_network)} "
          f"({len(in_network) / len(raters):.1%}); raters with <5 ratings: {(ft.user.value_counts() < 5).mean():.1%}")
    words = frames["amazon-mi-reviews"].reviewText.fillna("").str.split().str.len()
    print(f"amazon-mi: review length in words median={words.median():.0f} mean={words.mean():.1f}; "
          f"5-star share {(amz.rating == 5).mean():.1%}")
    for name, users, items in [("ml-100k", 943, 1682), ("Netflix Prize", 480_189, 17_770)]:
        params = (users + items) * 100
        print(f"{name}: factor model with d=100 has {params:,} parameters = {params * 4 / 2**20:.1f} MiB in float32")


def plot_longtail(frames: dict[str, pd.DataFrame], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    curves = [
        ("MovieLens 100K (ratings)", frames["ml-100k"]["item"].value_counts()),
        ("Last.fm 2K (play counts)", frames["lastfm-2k"].groupby("item").rating.sum()),
    ]
    for label, w in curves:
        w = w.sort_values(ascending=False).to_numpy(dtype=float)
        x = np.arange(1, len(w) + 1) / len(w) * 100
        ax.plot(x, np.cumsum(w) / w.sum() * 100, label=label, lw=2)
    ax.plot([0, 100], [0, 100], ls="--", color="grey", lw=1, label="every item equally popular")
    ax.axvline(20, color="black", lw=0.6, ls=":")
    ax.set_xlabel("most popular items, % of catalogue")
    ax.set_ylabel("% of all interactions")
    ax.set_title("The long tail: a few items collect most interactions")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 101)
    ax.legend(loc="lower right", frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_pipeline(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(8.0, 3.9), dpi=125)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 50)
    ax.axis("off")

    def box(x, y, w, h, title, sub, color):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.6", fc=color, ec="#333333", lw=1))
        ax.text(x + w / 2, y + h * 0.68, title, ha="center", va="center", fontsize=9, weight="bold")
        ax.text(x + w / 2, y + h * 0.3, sub, ha="center", va="center", fontsize=8)

    def arrow(x0, y0, x1, y1):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, lw=1.2, color="#333333"))

    ax.text(1, 47.5, "Online: serving one request", fontsize=10.5, weight="bold")
    online = [
        ("user + context", "who, when, where", "#eeeeee"),
        ("candidate generation", "all items \u2192 hundreds\n(recall: cheap, broad)", "#cfe2f3"),
        ("ranking", "hundreds \u2192 a scored list\n(precision: rich model)", "#d9ead3"),
        ("re-ranking", "diversity, freshness,\nbusiness rules \u2192 top K", "#fff2cc"),
    ]
    xs = [1, 26, 51, 76]
    for x, (t, s, c) in zip(xs, online):
        box(x, 31, 21, 11, t, s, c)
    for x in xs[:-1]:
        arrow(x + 22.2, 36.5, x + 24.8, 36.5)

    ax.text(1, 23.5, "Offline: building and judging a model", fontsize=10.5, weight="bold")
    offline = [
        ("interaction data", "user, item, rating,\ntimestamp", "#eeeeee"),
        ("split", "k-fold / holdout\n(recbook.split)", "#cfe2f3"),
        ("fit", "estimator.fit(train)", "#d9ead3"),
        ("evaluate", "RMSE, MAE; NDCG@K,\nrecall@K (full ranking)", "#fff2cc"),
    ]
    for x, (t, s, c) in zip(xs, offline):
        box(x, 7, 21, 11, t, s, c)
    for x in xs[:-1]:
        arrow(x + 22.2, 12.5, x + 24.8, 12.5)
    ax.text(50, 1.5, "offline evaluation decides which models the candidate-generation and ranking stages serve",
            ha="center", fontsize=8.5, style="italic")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats", action="store_true", help="print the numbers only, make no figure")
    args = parser.parse_args()
    frames = load_frames()
    print_stats(frames)
    if not args.stats:
        plot_longtail(frames, HERE / "longtail.png")
        plot_pipeline(HERE / "pipeline.png")
        print("wrote", HERE / "longtail.png", "and", HERE / "pipeline.png")


if __name__ == "__main__":
    main()
