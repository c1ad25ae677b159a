"""Ranking distillation for sequential recommendation: a SASRec teacher into 1/4 .. 1/32 students (chapter 7.3).

Usage (from the project root; about 20-30 minutes on a 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/distill_ranking.py [--seeds 0] [--quick]

Protocol ``sequential`` (ml-100k, each user's latest interaction held out,
full ranking over every unseen item, K = 10; seeds 0, 1, 2 are the models'
seeds). The teacher is :class:`recbook.models.SASRec` with ``n_factors``
:data:`TEACHER_D`; a student is the same class with the largest ``n_factors``
whose parameter count is at most 1/4, 1/8, 1/16 or 1/32 of the teacher's.
Every student is trained twice with the same seed: alone (``alpha = 0``) and
through :class:`recbook.distill.Distiller` from the teacher of the same seed.

1. **Choice of the distillation setting, on validation only.** On the
   protocol's validation split of the training data (each user's latest
   *training* item held out), seed 0: fit a teacher, then a 1/8 student for
   every candidate of :data:`GRID`; keep the best validation NDCG@10.
2. **Test.** For each seed: fit the teacher on the training data, then every
   student alone and distilled with the chosen setting; evaluate each once.

Writes ``benchmarks/results/distill_ranking.csv`` (one row per model and
seed: role, fraction, n_factors, params, ndcg, recall, hit_rate, mrr,
fit_seconds) and ``distill_ranking_choice.csv`` (the validation grid).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from _results import save
from recbook import datasets
from recbook.distill import Distiller
from recbook.evaluate import get_protocol
from recbook.models.sequential import SASRec, _SASRecNet

#: The teacher's width; the other hyper-parameters are SASRec's defaults.
TEACHER_D = 128
FRACTIONS = (4, 8, 16, 32)
#: Distillation settings tried on validation (loss, alpha, temperature, top_k).
GRID = [
    ("soft", 0.5, 1.0, 10),
    ("soft", 0.5, 2.0, 10),
    ("ranking", 0.5, 1.0, 10),
]


def set_teacher_width(d: int) -> None:
    global TEACHER_D
    TEACHER_D = int(d)


def n_params(n_items: int, d: int) -> int:
    """Parameters of a SASRec network of width ``d`` with the default depth, for ``n_items`` items."""
    m = SASRec()
    net = _SASRecNet(n_items, d, int(m.max_len), int(m.n_layers), int(m.n_heads), float(m.dropout))
    return int(sum(p.numel() for p in net.parameters()))


def student_width(n_items: int, budget: float) -> int:
    """The largest width whose parameter count is at most ``budget``."""
    d = 1
    while n_params(n_items, d + 1) <= budget:
        d += 1
    return d


def teacher_model(seed: int, **kw) -> SASRec:
    return SASRec(n_factors=TEACHER_D, seed=seed, **kw)


def metrics(protocol, model, train, test) -> dict:
    res = protocol.evaluate(model, train, test)
    return {m: res[m] for m in ("ndcg", "recall", "hit_rate", "mrr")}


def choose(protocol, train: pd.DataFrame, widths: dict[int, int], quick: bool) -> tuple[tuple, pd.DataFrame]:
    fit, valid = protocol.validation_split(train, 0)
    teacher = teacher_model(0).fit(fit)
    rows = [{"model": "teacher", **metrics(protocol, teacher, fit, valid)}]
    student = SASRec(n_factors=widths[8], seed=0)
    rows.append({"model": "student 1/8 alone", **metrics(protocol, student.fit(fit), fit, valid)})
    for loss, alpha, t, k in GRID[:2] if quick else GRID:
        d = Distiller(teacher, SASRec(n_factors=widths[8]), loss=loss, alpha=alpha, temperature=t, top_k=k, seed=0).fit(fit)
        rows.append({"model": "student 1/8 distilled", "loss": loss, "alpha": alpha, "temperature": t, "top_k": k,
                     **metrics(protocol, d, fit, valid)})
        print(f"  valid {loss} alpha={alpha} T={t} K={k}: NDCG@10 {rows[-1]['ndcg']:.4f}", flush=True)
    table = pd.DataFrame(rows)
    print(table.round(4).to_string())
    best = table[table["model"] == "student 1/8 distilled"]["ndcg"].idxmax()
    r = table.loc[best]
    return (r["loss"], float(r["alpha"]), float(r["temperature"]), int(r["top_k"])), table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="two validation candidates (a smoke run)")
    parser.add_argument("--teacher-d", type=int, default=TEACHER_D, help="the teacher's width (default %(default)s)")
    args = parser.parse_args()
    set_teacher_width(args.teacher_d)
    protocol = get_protocol("sequential")
    ratings = datasets.load(protocol.dataset).ratings
    train, test = protocol.split(ratings)
    n_items = train["item"].nunique()
    teacher_params = n_params(n_items, TEACHER_D)
    widths = {f: student_width(n_items, teacher_params / f) for f in FRACTIONS}
    print(f"teacher d={TEACHER_D}: {teacher_params} parameters; students: "
          + ", ".join(f"1/{f}: d={w} ({n_params(n_items, w)})" for f, w in widths.items()), flush=True)
    t_all = time.perf_counter()
    (loss, alpha, t, k), grid = choose(protocol, train, widths, args.quick)
    print(f"chosen on validation: loss={loss}, alpha={alpha}, T={t}, K={k}", flush=True)
    rows = []

    def record(role: str, fraction: int, d: int, model, seconds: float, seed: int) -> None:
        params = int(sum(v.size for v in model_state(model).values()))
        rows.append({"role": role, "fraction": fraction, "n_factors": d, "params": params, "seed": seed,
                     **metrics(protocol, model, train, test), "fit_seconds": seconds})
        print(f"  seed {seed} {role:>9} 1/{fraction:<2} d={d:<3} params={params:<7} NDCG@10 {rows[-1]['ndcg']:.4f} "
              f"HR@10 {rows[-1]['hit_rate']:.4f} ({seconds:.0f} s)", flush=True)

    for seed in args.seeds:
        t0 = time.perf_counter()
        teacher = teacher_model(seed).fit(train)
        record("teacher", 1, TEACHER_D, teacher, time.perf_counter() - t0, seed)
        for f in FRACTIONS:
            t0 = time.perf_counter()
            alone = SASRec(n_factors=widths[f], seed=seed).fit(train)
            record("alone", f, widths[f], alone, time.perf_counter() - t0, seed)
            t0 = time.perf_counter()
            taught = Distiller(teacher, SASRec(n_factors=widths[f]), loss=loss, alpha=alpha, temperature=t, top_k=k,
                               seed=seed).fit(train)
            record("distilled", f, widths[f], taught, time.perf_counter() - t0, seed)
    table = pd.DataFrame(rows)
    table["setting"] = f"loss={loss}, alpha={alpha}, T={t}, K={k}"
    summary = table.groupby(["role", "fraction"])[["ndcg", "hit_rate"]].agg(["mean", "std"])
    print(summary.round(4).to_string())
    print(f"total {time.perf_counter() - t_all:.0f} s")
    if sorted(args.seeds) == [0, 1, 2] and not args.quick:
        suffix = "" if TEACHER_D == 128 else f"_teacher{TEACHER_D}"
        save("distill_ranking" + suffix, table)
        save("distill_ranking_choice" + suffix, grid)


def model_state(model) -> dict:
    """The trained network's arrays (the student's, for a Distiller)."""
    return getattr(model, "student_", model).state_dict_


if __name__ == "__main__":
    main()
