"""Distilling EASE into small BPR students on the top-K protocol (chapter 7.6, "Ablations").

Usage (from the project root; on a 2-core machine shared with other jobs the
choice took 9 minutes, the test part about 4 minutes per size and seed, the
ablations 3 minutes per soft and about 7 per ranking run)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/distill_topk.py [--quick] [--skip-ablation]
    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/distill_topk.py --only-ablation
    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/distill_topk.py --fractions 8 32 --skip-ablation

Protocol ``topk`` (ml-100k, 20 % of each user's interactions held out, full
ranking over every unseen item, K = 10; split seeds 0, 1, 2, which are also
the models' seeds). The teacher is :class:`recbook.cf.EASE` with ``reg=500``
(the value the top-K leaderboard's validation grid chooses on every seed); its
parameters are the ``n_items x n_items`` matrix :math:`B`. A student is a
:class:`recbook.models.bpr.TorchBPR` (defaults: 60 epochs, Adam, lr 0.002)
with the largest width ``d`` whose ``(n_users + n_items) d + n_items``
parameters are at most 1/8, 1/16, 1/32, 1/64 or 1/128 of the teacher's
(:data:`FRACTIONS`).
Every student is trained twice with the same seed through the same code,
:class:`recbook.distill.Distiller`: alone (``alpha=0``) and distilled.

1. **Choice of the distillation setting, on validation only** (part
   ``choice``). On the protocol's validation split of seed 0's training data
   (``Protocol.validation_split``: the same 80/20 per-user split, cut from the
   training part), fit the teacher, then a 1/32 student alone and with every
   candidate of :data:`GRID`; keep the best validation NDCG@10. The grid holds
   the soft-target loss only: on this machine one distilled fit with the
   ``"ranking"`` loss took about three times as long as one with ``"soft"``
   (about 385 s against 127 s, top-K selection in every batch), so the
   ranking loss enters as an ablation (step 3), not as a candidate.
2. **Test** (``distill_topk.csv``). For each seed: fit the teacher on the
   training data, then every student alone and distilled with the chosen
   setting; evaluate each once on the test part.
3. **Ablations** (``distill_topk_ablation.csv``), on the *validation* split of
   seed 0 (time did not allow three seeds on test): around the chosen setting,
   at 1/32, vary one knob at a time -- the temperature :data:`TEMPERATURES`,
   the weight :data:`ALPHAS`, and the loss (``"ranking"`` with
   :data:`TOP_KS`). The choice's runs are reused where they coincide. Nothing
   is chosen from these rows. Each row is written as soon as it is done; the
   stored CSV holds the rows that finished in the time the run was given
   (``--only-ablation`` runs this step alone, around the stored choice,
   reusing the rows already in ``distill_topk_ablation.csv``).

Writes ``benchmarks/results/distill_topk.csv`` (one row per model and seed:
role, fraction, n_factors, params, ndcg, recall, hit_rate, mrr, fit_seconds,
setting), ``distill_topk_choice.csv`` (the validation grid) and
``distill_topk_ablation.csv`` (knob, value, loss, alpha, temperature, top_k,
ndcg, recall, fit_seconds). ``--quick`` is a smoke run (one seed, two sizes,
five epochs, nothing written).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from _results import save
from recbook import datasets
from recbook.cf import EASE
from recbook.distill import Distiller
from recbook.evaluate import get_protocol
from recbook.models.bpr import TorchBPR

#: The teacher's L2 weight (chosen by the top-K leaderboard's validation grid on every seed).
TEACHER_REG = 500.0
FRACTIONS = (8, 16, 32, 64, 128)
#: The student size of the choice and of the ablations.
CHOICE_FRACTION = 32
#: Distillation settings tried on validation (loss, alpha, temperature, top_k).
GRID = [
    ("soft", 0.5, 1.0, 10),
    ("soft", 0.5, 2.0, 10),
    ("soft", 0.9, 1.0, 10),
]
TEMPERATURES = (0.5, 1.0, 2.0, 4.0)
ALPHAS = (0.0, 0.25, 0.5, 0.75, 0.9)
TOP_KS = (5, 10, 50)
#: Student hyper-parameters other than the width (TorchBPR's defaults; --quick shortens them).
STUDENT_KW: dict = {}


def teacher_params(n_items: int) -> int:
    """EASE's parameters: the ``n_items x n_items`` weight matrix."""
    return int(n_items) ** 2


def student_params(n_users: int, n_items: int, d: int) -> int:
    """TorchBPR's parameters: user and item factors of width ``d`` and one bias per item."""
    return (int(n_users) + int(n_items)) * int(d) + int(n_items)


def student_width(n_users: int, n_items: int, budget: float) -> int:
    """The largest width whose parameter count is at most ``budget`` (at least 1)."""
    return max(1, int((budget - n_items) // (n_users + n_items)))


def metrics(protocol, model, train, test) -> dict:
    res = protocol.evaluate(model, train, test)
    return {m: res[m] for m in ("ndcg", "recall", "hit_rate", "mrr")}


def student(d: int, teacher, seed: int, loss: str = "soft", alpha: float = 0.0, temperature: float = 1.0,
            top_k: int = 10) -> Distiller:
    """A TorchBPR of width ``d`` trained through the Distiller (``alpha=0``: alone)."""
    return Distiller(teacher, TorchBPR(n_factors=d, **STUDENT_KW), loss=loss, alpha=alpha, temperature=temperature,
                     top_k=top_k, seed=seed)


def timed_fit(model, frame):
    t0 = time.perf_counter()
    model.fit(frame)
    return model, time.perf_counter() - t0


def choose(protocol, train, d, quick):
    fit, valid = protocol.validation_split(train, 0)
    teacher, _ = timed_fit(EASE(reg=TEACHER_REG), fit)
    rows = [{"model": "teacher", **metrics(protocol, teacher, fit, valid)}]
    alone, sec = timed_fit(student(d, teacher, 0), fit)
    rows.append({"model": f"student 1/{CHOICE_FRACTION} alone", "loss": "soft", "alpha": 0.0, "temperature": 1.0,
                 "top_k": 10, **metrics(protocol, alone, fit, valid), "fit_seconds": sec})
    for loss, alpha, t, k in GRID[:1] if quick else GRID:
        m, sec = timed_fit(student(d, teacher, 0, loss, alpha, t, k), fit)
        rows.append({"model": f"student 1/{CHOICE_FRACTION} distilled", "loss": loss, "alpha": alpha, "temperature": t,
                     "top_k": k, **metrics(protocol, m, fit, valid), "fit_seconds": sec})
        print(f"  valid {loss} alpha={alpha} T={t} K={k}: NDCG@10 {rows[-1]['ndcg']:.4f} ({sec:.0f} s)", flush=True)
    table = pd.DataFrame(rows)
    print(table.round(4).to_string(), flush=True)
    cand = table[table["model"].str.endswith("distilled")]
    r = table.loc[cand["ndcg"].idxmax()]
    return (str(r["loss"]), float(r["alpha"]), float(r["temperature"]), int(r["top_k"])), table, (fit, valid, teacher)


def ablate(protocol, choice_table, chosen, d, split, quick, write, previous=None):
    """One knob at a time around ``chosen``; runs already in ``choice_table`` or ``previous`` are reused."""
    fit, valid, teacher = split
    loss, alpha, t, k = chosen
    done = {}
    if previous is not None:
        for _, r in previous.iterrows():
            done[(r["loss"], float(r["alpha"]), float(r["temperature"]), int(r["top_k"]))] = r
    for _, r in choice_table[choice_table["model"] != "teacher"].iterrows():
        done[(r["loss"], float(r["alpha"]), float(r["temperature"]), int(r["top_k"]))] = r
    plan = [("temperature", v, (loss, alpha, v, k)) for v in TEMPERATURES]
    plan += [("ranking top_k", v, ("ranking", alpha, t, v)) for v in TOP_KS]
    plan += [("alpha", v, (loss, v, t, k)) for v in ALPHAS]
    if quick:
        plan = plan[:2]
    rows = []
    for knob, value, (lo, a, te, kk) in plan:
        key = (lo, float(a), float(te), int(kk))
        if a == 0.0:  # alpha = 0 ignores loss, T and K: the plain student
            key = ("soft", 0.0, 1.0, 10)
        if key in done:
            r = done[key]
            res, sec = {m: r[m] for m in ("ndcg", "recall", "hit_rate", "mrr")}, r["fit_seconds"]
        else:
            m, sec = timed_fit(student(d, teacher, 0, lo, a, te, kk), fit)
            res = metrics(protocol, m, fit, valid)
            done[key] = pd.Series({**res, "fit_seconds": sec})
        rows.append({"knob": knob, "value": value, "loss": lo, "alpha": a, "temperature": te, "top_k": kk,
                     **res, "fit_seconds": sec})
        print(f"  ablation {knob}={value}: NDCG@10 {res['ndcg']:.4f} ({sec:.0f} s)", flush=True)
        if write:
            save("distill_topk_ablation", pd.DataFrame(rows))
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: one seed, two sizes, 5 epochs, nothing written")
    parser.add_argument("--skip-ablation", action="store_true", help="stop after the test part")
    parser.add_argument("--fractions", type=int, nargs="*", default=list(FRACTIONS),
                        help="student sizes, as fractions of the teacher's parameters (default %(default)s)")
    parser.add_argument("--only-ablation", action="store_true",
                        help="run the ablations only, around the setting stored in distill_topk_choice.csv")
    args = parser.parse_args()
    if args.quick:
        STUDENT_KW.update(n_epochs=5)
    write = not args.quick
    seeds = [0] if args.quick else [0, 1, 2]
    fractions = (32, 128) if args.quick else tuple(sorted(set(args.fractions) | {CHOICE_FRACTION}))
    protocol = get_protocol("topk")
    ratings = datasets.load(protocol.dataset).ratings
    splits = {s: protocol.split(ratings, s) for s in seeds}
    train0 = splits[seeds[0]][0]
    n_users, n_items = train0["user"].nunique(), train0["item"].nunique()
    widths = {f: student_width(n_users, n_items, teacher_params(n_items) / f) for f in fractions}
    print(f"teacher EASE: {teacher_params(n_items)} parameters; students: "
          + ", ".join(f"1/{f}: d={w} ({student_params(n_users, n_items, w)})" for f, w in widths.items()), flush=True)
    t_all = time.perf_counter()
    if args.only_ablation:
        from _results import RESULTS

        grid = pd.read_csv(RESULTS / "distill_topk_choice.csv")
        best = grid.loc[grid[grid["model"].str.endswith("distilled")]["ndcg"].idxmax()]
        chosen = (str(best["loss"]), float(best["alpha"]), float(best["temperature"]), int(best["top_k"]))
        fit, valid = protocol.validation_split(train0, 0)
        split = (fit, valid, EASE(reg=TEACHER_REG).fit(fit))
        print(f"ablations around {chosen}", flush=True)
        path = RESULTS / "distill_topk_ablation.csv"
        previous = pd.read_csv(path) if path.exists() else None
        ab = ablate(protocol, grid, chosen, widths[CHOICE_FRACTION], split, False, True, previous)
        print(ab[["knob", "value", "ndcg", "recall"]].round(4).to_string(), flush=True)
        print(f"total {time.perf_counter() - t_all:.0f} s")
        return
    chosen, grid, split = choose(protocol, train0, widths.get(CHOICE_FRACTION, widths[fractions[0]]), args.quick)
    loss, alpha, t, k = chosen
    setting = f"loss={loss}, alpha={alpha}, T={t}, K={k}"
    print(f"chosen on validation: {setting}", flush=True)
    if write:
        save("distill_topk_choice", grid)
    rows: list[dict] = []

    def record(role, fraction, d, params, model, seconds, seed, train, test):
        rows.append({"role": role, "fraction": fraction, "n_factors": d, "params": params, "seed": seed,
                     **metrics(protocol, model, train, test), "fit_seconds": seconds, "setting": setting})
        print(f"  seed {seed} {role:>9} 1/{fraction:<3} d={d:<3} params={params:<7} NDCG@10 {rows[-1]['ndcg']:.4f} "
              f"Recall@10 {rows[-1]['recall']:.4f} ({seconds:.0f} s)", flush=True)

    teachers = {}
    for seed in seeds:
        train, test = splits[seed]
        teacher, sec = timed_fit(EASE(reg=TEACHER_REG), train)
        teachers[seed] = teacher
        record("teacher", 1, 0, teacher_params(train["item"].nunique()), teacher, sec, seed, train, test)
    # sizes outer, seeds inner: an interrupted run still holds complete three-seed sizes, the choice's size first
    for f in sorted(fractions, key=lambda f: (f != CHOICE_FRACTION, f != 8, f != 128, f)):
        d = widths[f]
        for seed in seeds:
            train, test = splits[seed]
            nu, ni = train["user"].nunique(), train["item"].nunique()
            alone, sec = timed_fit(student(d, teachers[seed], seed), train)
            record("alone", f, d, student_params(nu, ni, d), alone, sec, seed, train, test)
            taught, sec = timed_fit(student(d, teachers[seed], seed, loss, alpha, t, k), train)
            record("distilled", f, d, student_params(nu, ni, d), taught, sec, seed, train, test)
        if write:
            save("distill_topk", pd.DataFrame(rows))
    table = pd.DataFrame(rows)
    summary = table.groupby(["role", "fraction"])[["params", "ndcg", "recall", "fit_seconds"]].agg(["mean", "std"])
    print(summary.round(4).to_string(), flush=True)
    if not args.skip_ablation:
        ab = ablate(protocol, grid, chosen, widths.get(CHOICE_FRACTION, widths[fractions[0]]), split, args.quick, write)
        print(ab[["knob", "value", "ndcg", "recall"]].round(4).to_string(), flush=True)
    print(f"total {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
