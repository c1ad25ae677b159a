"""Two of the outline's uses of distillation (its section 7.3), measured (chapter 7.5).

Usage (from the project root; about 10 minutes on a 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/distill_uses.py [--quick]

The student everywhere is an id-only :class:`recbook.models.bpr.TorchBPR` of
width :data:`STUDENT_D` (about 44 thousand parameters on ml-100k) trained
through :class:`recbook.distill.Distiller` with its default setting (soft
targets, ``alpha = 0.5``, ``T = 1``; not tuned), or alone (``alpha = 0``,
the same code).

**Multimodal teacher** (protocol ``topk``, seeds 0, 1, 2). The teacher
fuses two modalities: :class:`recbook.hybrid.WeightedHybrid` of EASE (the
interactions) and :class:`recbook.models.twotower.TwoTower` over
all-MiniLM-L6-v2 vectors of each film's title and genres (the text, with an
id residual), mixed with per-user z-scores. The text model's weight ``w`` is
chosen on the protocol's validation split of seed 0 (grid :data:`WEIGHTS`).
For each seed: EASE alone, the fused teacher, and three students: alone,
distilled from EASE, distilled from the fused teacher. Does a student that
never sees text gain from a teacher that does?

**A student refreshed when the data change** (protocol ``temporal``: each
user's latest 20 % of interactions are the test; model seeds 0, 1, 2). The
training part is cut again in time: each user's latest quarter of it is the
*update* that arrives after the first deployment. Teacher v1 (EASE) is fitted
on the data before the update, teacher v2 on all of it. Students:

* ``stale``: distilled from v1 on the old data, never updated;
* ``retrained alone`` / ``re-distilled``: trained from scratch on all the
  data (60 epochs), alone or from v2;
* ``refreshed``: the stale student's weights as a warm start
  (``Distiller(warm_start=...)``), then :data:`REFRESH_EPOCHS` epochs of
  distillation from v2 on all the data; ``fine-tuned alone``: the same warm
  start and epochs without the teacher.

Writes ``benchmarks/results/distill_uses_multimodal.csv``,
``distill_uses_multimodal_choice.csv`` and ``distill_uses_refresh.csv`` (one
row per model and seed: NDCG@10, Recall@10, coverage, fit seconds).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from _results import save
from recbook.cf import EASE
from recbook.content import embed_items
from recbook.datasets import load
from recbook.distill import Distiller
from recbook.distill.text import movie_texts
from recbook.evaluate import get_protocol
from recbook.hybrid import WeightedHybrid
from recbook.models.bpr import TorchBPR
from recbook.models.twotower import TwoTower
from recbook.split import per_user_split

STUDENT_D = 16
#: Weights of the text model in the fused teacher, tried on validation.
WEIGHTS = (0.1, 0.2, 0.3, 0.5, 0.7)
#: Epochs of a warm-started refresh (a from-scratch student trains for TorchBPR's default 60).
REFRESH_EPOCHS = 10
#: The share of each user's training interactions that arrives as the update.
UPDATE_SIZE = 0.25
METRICS = ("ndcg", "recall", "coverage")


def student(seed: int, **kw) -> TorchBPR:
    return TorchBPR(n_factors=STUDENT_D, seed=seed, **kw)


def fused_teacher(text_vectors, w: float, seed: int) -> WeightedHybrid:
    return WeightedHybrid([EASE(), TwoTower(text_vectors, item_tower="text+id", seed=seed)], weights=(1 - w, w), seed=seed)


def timed_fit(model, frame):
    start = time.perf_counter()
    model.fit(frame)
    return model, time.perf_counter() - start


def measure(protocol, model, train, test) -> dict[str, float]:
    res = protocol.evaluate(model, train, test)
    return {m: res[m] for m in METRICS}


def multimodal(seeds: tuple[int, ...], weights: tuple[float, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    p = get_protocol("topk")
    ratings = p.load()
    text_vectors = embed_items(movie_texts(load("ml-100k").items))
    train0, _ = p.split(ratings, seed=seeds[0])
    fit, valid = p.validation_split(train0, seeds[0])
    choice = []
    for w in (0.0, *weights):
        model = fused_teacher(text_vectors, w, seeds[0]) if w else EASE()
        choice.append({"w": w, **{f"valid_{k}": v for k, v in measure(p, model.fit(fit), fit, valid).items()}})
        print(f"  validation, text weight {w}: NDCG@10 {choice[-1]['valid_ndcg']:.4f}", flush=True)
    choice = pd.DataFrame(choice)
    w_best = float(choice.loc[choice["valid_ndcg"].idxmax(), "w"])
    print(f"chosen text weight: {w_best}", flush=True)
    rows = []
    for seed in seeds:
        train, test = p.split(ratings, seed=seed)
        ease, t_ease = timed_fit(EASE(), train)
        fused, t_fused = timed_fit(fused_teacher(text_vectors, w_best, seed) if w_best else EASE(), train)
        models = {
            "EASE (ids)": (ease, t_ease),
            "fused teacher (EASE + text two-tower)": (fused, t_fused),
            "student alone": timed_fit(Distiller(ease, student(seed), alpha=0.0, seed=seed), train),
            "student <- EASE": timed_fit(Distiller(ease, student(seed), seed=seed), train),
            "student <- fused teacher": timed_fit(Distiller(fused, student(seed), seed=seed), train),
        }
        for name, (model, seconds) in models.items():
            rows.append({"model": name, "seed": seed, "text_weight": w_best, **measure(p, model, train, test), "fit_seconds": seconds})
            print(f"  seed {seed} {name}: NDCG@10 {rows[-1]['ndcg']:.4f}", flush=True)
    return pd.DataFrame(rows), choice


def refresh(seeds: tuple[int, ...], refresh_epochs: int) -> pd.DataFrame:
    p = get_protocol("temporal")
    ratings = p.load()
    train, test = p.split(ratings)
    old, update = per_user_split(train, test_size=UPDATE_SIZE, order="time")
    v1, t_v1 = timed_fit(EASE(), old)
    v2, t_v2 = timed_fit(EASE(), train)
    rows = [
        {"model": "teacher v1 (old data)", "seed": s, **measure(p, v1, train, test), "fit_seconds": t_v1} for s in seeds
    ] + [{"model": "teacher v2 (all data)", "seed": s, **measure(p, v2, train, test), "fit_seconds": t_v2} for s in seeds]
    for seed in seeds:
        stale, t_stale = timed_fit(Distiller(v1, student(seed), seed=seed), old)
        models = {
            "stale student (v1, old data)": (stale, t_stale),
            "retrained alone": timed_fit(Distiller(v2, student(seed), alpha=0.0, seed=seed), train),
            "re-distilled from v2": timed_fit(Distiller(v2, student(seed), seed=seed), train),
            "fine-tuned alone (warm)": timed_fit(
                Distiller(v2, student(seed, n_epochs=refresh_epochs), alpha=0.0, warm_start=stale, seed=seed), train
            ),
            "refreshed from v2 (warm)": timed_fit(
                Distiller(v2, student(seed, n_epochs=refresh_epochs), warm_start=stale, seed=seed), train
            ),
        }
        for name, (model, seconds) in models.items():
            rows.append({"model": name, "seed": seed, **measure(p, model, train, test), "fit_seconds": seconds})
            print(f"  seed {seed} {name}: NDCG@10 {rows[-1]['ndcg']:.4f} ({seconds:.1f} s)", flush=True)
    out = pd.DataFrame(rows)
    out["update_rows"] = len(update)
    out["refresh_epochs"] = refresh_epochs
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, one weight: a smoke run (results not saved)")
    parser.add_argument("--part", choices=("all", "multimodal", "refresh"), default="all")
    args = parser.parse_args()
    seeds = (0,) if args.quick else get_protocol("topk").seeds
    weights = WEIGHTS[:1] if args.quick else WEIGHTS
    if args.part in ("all", "multimodal"):
        print("== multimodal teacher -> id-only student (protocol topk)", flush=True)
        table, choice = multimodal(seeds, weights)
        print(table.groupby("model", sort=False)[["ndcg", "recall", "coverage", "fit_seconds"]].agg(["mean", "std"]).round(4))
        if not args.quick:
            save("distill_uses_multimodal", table)
            save("distill_uses_multimodal_choice", choice)
    if args.part in ("all", "refresh"):
        print("== refreshing a student when the data change (protocol temporal)", flush=True)
        table = refresh(seeds, 2 if args.quick else REFRESH_EPOCHS)
        print(table.groupby("model", sort=False)[["ndcg", "recall", "fit_seconds"]].agg(["mean", "std"]).round(4))
        if not args.quick:
            save("distill_uses_refresh", table)


if __name__ == "__main__":
    main()
