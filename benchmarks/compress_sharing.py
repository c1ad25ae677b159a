"""Low-rank factorisation and parameter sharing: quality against bytes over three seeds (chapter 8.3).

Usage (from the project root; about 8 minutes on a free 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/compress_sharing.py [--quick]

Protocol ``topk`` (ml-100k, seeds 0, 1, 2, which are also the models' seeds).
Two parts, one CSV (``part`` tells them apart):

* ``lowrank``: chapter 7's teacher :class:`recbook.cf.EASE` (``reg=500``),
  its item-item matrix :math:`B` replaced by the rank-:math:`r` truncated SVD
  :math:`AB'` (:func:`recbook.compress.low_rank_factorize`; the factors of
  every rank are the leading columns of one SVD), and a trained width-64
  :class:`~recbook.models.bpr.TorchBPR` whose user and item tables are each
  replaced by their rank-:math:`r` truncation. ``bytes`` is the saved size of
  the factors (and, for the MF, the film biases), against the uncompressed
  matrices (``rank`` = 0 marks the uncompressed row).
* ``sharing``: TorchBPR trained with shared tables at the same parameter
  budget (``BUDGET`` of the width-64 tables): a full table of width
  ``64 * BUDGET``, the hashing trick, the quotient-remainder trick and mixed
  dimensions by popularity (``TorchBPR(embedding=..., embedding_budget=...)``),
  and the full width-64 model. ``bytes`` is
  :func:`recbook.compress.state_nbytes` of the trained module.

Writes ``benchmarks/results/compress_sharing.csv``.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import pandas as pd
import torch

from _results import save
from recbook.cf import EASE
from recbook.compress import low_rank_factorize, state_nbytes
from recbook.evaluate import get_protocol
from recbook.models.bpr import TorchBPR

EASE_RANKS = (16, 32, 64, 128, 256, 512)
MF_RANKS = (4, 8, 16, 32)
D = 64
BUDGET = 0.125


def ease_low_rank(ease: EASE, ranks=EASE_RANKS):
    """(rank, model with B replaced by its rank-r truncation, bytes of the factors) for each rank."""
    a, b = low_rank_factorize(torch.as_tensor(ease.B_, dtype=torch.float32), max(ranks))
    out = []
    for r in ranks:
        ar, br = a[:, :r].contiguous(), b[:r].contiguous()
        m = copy.deepcopy(ease)
        m.B_ = (ar.double() @ br.double()).numpy()
        out.append((r, m, state_nbytes({"A": ar, "B": br})))
    return out


def mf_low_rank(model: TorchBPR, ranks=MF_RANKS):
    """(rank, model with both tables replaced by their rank-r truncations, bytes of factors and biases)."""
    out = []
    for r in ranks:
        m = copy.deepcopy(model)
        state = {"bias.weight": torch.as_tensor(model.state_dict_["bias.weight"])}
        for name in ("user.weight", "item.weight"):
            a, b = low_rank_factorize(torch.as_tensor(model.state_dict_[name]), r)
            state[name + ".A"], state[name + ".B"] = a.contiguous(), b.contiguous()
            m.state_dict_[name] = (a @ b).numpy()
        m._module = None
        out.append((r, m, state_nbytes(state)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 3 epochs: a smoke run (nothing written)")
    args = parser.parse_args()
    p = get_protocol("topk")
    ratings = p.load()
    seeds = p.seeds[:1] if args.quick else p.seeds
    epochs = {"n_epochs": 3} if args.quick else {}
    rows = []

    def record(part, model, method, param, seed, est, nbytes, train, test, seconds=np.nan):
        res = p.evaluate(est, train, test)
        rows.append({"part": part, "model": model, "method": method, "param": param, "seed": seed,
                     "ndcg": res["ndcg"], "recall": res["recall"], "bytes": nbytes, "fit_s": seconds})
        print(rows[-1], flush=True)

    for seed in seeds:
        train, test = p.split(ratings, seed=seed)
        ease = EASE(reg=500).fit(train)
        record("lowrank", "EASE", "full", 0, seed, ease, state_nbytes({"B": torch.as_tensor(ease.B_, dtype=torch.float32)}), train, test)
        for r, m, nbytes in ease_low_rank(ease):
            record("lowrank", "EASE", "svd", r, seed, m, nbytes, train, test)
        t = time.perf_counter()
        bpr = TorchBPR(n_factors=D, seed=seed, **epochs).fit(train)
        record("sharing", "TorchBPR", f"full d={D}", 1.0, seed, bpr, state_nbytes(bpr), train, test, time.perf_counter() - t)
        record("lowrank", "TorchBPR", "full", 0, seed, bpr, state_nbytes(bpr), train, test)
        for r, m, nbytes in mf_low_rank(bpr):
            record("lowrank", "TorchBPR", "svd", r, seed, m, nbytes, train, test)
        variants = {
            f"full d={int(D * BUDGET)}": {"n_factors": int(D * BUDGET)},
            "hash": {"n_factors": D, "embedding": "hash", "embedding_budget": BUDGET},
            "qr": {"n_factors": D, "embedding": "qr", "embedding_budget": BUDGET},
            "mixed": {"n_factors": D, "embedding": "mixed", "embedding_budget": BUDGET},
        }
        for name, params in variants.items():
            t = time.perf_counter()
            m = TorchBPR(seed=seed, **params, **epochs).fit(train)
            record("sharing", "TorchBPR", name, BUDGET, seed, m, state_nbytes(m), train, test, time.perf_counter() - t)
    frame = pd.DataFrame(rows)
    if args.quick:
        print(frame.to_string())
    else:
        save("compress_sharing", frame)


if __name__ == "__main__":
    main()
