"""Sparse sequences: SASRec trained plainly, with augmented sequences, and pre-trained then fine-tuned (section 6.5).

Usage (from the project root; about 10 minutes on a shared 2-core machine)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/sequential_sparsity.py [--keep 3 5 10] [--seeds 0 1 2]

Protocol ``sequential`` (ml-100k, each user's latest interaction held out,
full ranking over every unseen item, K = 10; seeds 0, 1, 2 are the models'
seeds). :func:`recbook.models.sequential.sparse_users_split` (seed 0) cuts the
users in two halves: the *source* half keeps its whole training history, the
*target* half only its latest ``n_keep`` training items. Every number is
measured on the target users' test items. Variants:

* ``Popularity`` on the target users' sparse data;
* ``plain``: a small SASRec (:data:`SASREC`) on the sparse data;
* ``augmented``: the same on the sparse data plus :data:`N_VIEWS` views per
  user from :func:`recbook.models.sequential.augment_sequences`;
* ``fine-tuned``: the same SASRec pre-trained on the source users (same seed),
  then :func:`recbook.models.sequential.fine_tune` on the sparse data;
* two controls that see the source users too: ``Popularity (all users)``,
  fitted on the source and the sparse data (is the gain only better
  popularity counts?), and ``joint``: one SASRec trained on the source and the
  sparse data together (is the gain the order, pre-train *then* fine-tune, or
  only the extra data?).

1. **Validation only.** On ``Protocol.validation_split`` of the sparse data
   (each target user's latest kept item held out), model seed 0, each variant's
   ``n_epochs`` is chosen from its grid (:data:`EPOCHS`, :data:`FT_EPOCHS`).
2. **Test.** For each seed, each variant is fitted with its chosen epochs on
   the sparse data and evaluated once.

Writes ``benchmarks/results/sequential_sparsity.csv`` (one row per n_keep,
variant and seed: ndcg, hit_rate, n_epochs, fit_seconds, where fine-tuned
counts pre-training and fine-tuning) and ``sequential_sparsity_choice.csv``
(the validation grid).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from _results import save
from recbook.baselines import Popularity
from recbook.evaluate import get_protocol
from recbook.models.sequential import SASRec, augment_sequences, fine_tune, sparse_users_split

#: The small SASRec of every variant (a fast model for a 2-core machine).
SASREC = dict(n_factors=32, max_len=20, n_layers=1, n_heads=1, dropout=0.2, batch_size=64, lr=0.005)
#: Pre-training epochs on the source users (SASRec's default).
PRE_EPOCHS = 20
#: Augmented views per target user.
N_VIEWS = 2
EPOCHS = (5, 10, 20, 40)
FT_EPOCHS = (1, 2, 5, 10, 20)
VARIANTS = ("plain", "augmented", "fine-tuned", "joint")


def fit_variant(variant: str, sparse: pd.DataFrame, source: pd.DataFrame, n_epochs: int, seed: int,
                pretrained: SASRec | None = None) -> SASRec:
    """One variant fitted on the sparse data (``pretrained`` reuses a pre-trained model of the same seed)."""
    if variant == "plain":
        return SASRec(**SASREC, n_epochs=n_epochs, seed=seed).fit(sparse)
    if variant == "augmented":
        views = augment_sequences(sparse, n_views=N_VIEWS, seed=seed).drop(columns="source_user")
        return SASRec(**SASREC, n_epochs=n_epochs, seed=seed).fit(pd.concat([sparse, views], ignore_index=True))
    if variant == "fine-tuned":
        if pretrained is None:
            pretrained = SASRec(**SASREC, n_epochs=PRE_EPOCHS, seed=seed).fit(source)
        return fine_tune(pretrained, sparse, n_epochs=n_epochs)
    if variant == "joint":
        return SASRec(**SASREC, n_epochs=n_epochs, seed=seed).fit(pd.concat([source, sparse], ignore_index=True))
    raise ValueError(f"unknown variant {variant!r}")


def choose_epochs(seq, source: pd.DataFrame, sparse: pd.DataFrame, n_keep: int) -> tuple[dict[str, int], list[dict]]:
    """Each variant's ``n_epochs`` by validation NDCG@10 (model seed 0)."""
    fit, valid = seq.validation_split(sparse)
    pretrained = SASRec(**SASREC, n_epochs=PRE_EPOCHS, seed=0).fit(source)
    rows = []
    for variant in VARIANTS:
        for n_epochs in FT_EPOCHS if variant == "fine-tuned" else EPOCHS:
            model = fit_variant(variant, fit, source, n_epochs, 0, pretrained)
            res = seq.evaluate(model, fit, valid)
            rows.append({"n_keep": n_keep, "variant": variant, "n_epochs": n_epochs, "valid_ndcg": res["ndcg"],
                         "valid_hit_rate": res["hit_rate"]})
            print(rows[-1], flush=True)
    grid = pd.DataFrame(rows)
    best = grid.loc[grid.groupby("variant", sort=False)["valid_ndcg"].idxmax()]
    return dict(zip(best["variant"], best["n_epochs"].astype(int))), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    seq = get_protocol("sequential")
    train, test = seq.split()
    rows, choices = [], []
    for n_keep in args.keep:
        source, sparse, target_test = sparse_users_split(train, test, n_keep=n_keep, seed=0)
        chosen, grid = choose_epochs(seq, source, sparse, n_keep)
        choices += grid
        for seed in args.seeds:
            t0 = time.perf_counter()
            pop = Popularity().fit(sparse)
            res = seq.evaluate(pop, sparse, target_test)
            rows.append({"n_keep": n_keep, "variant": "Popularity", "seed": seed, "ndcg": res["ndcg"],
                         "hit_rate": res["hit_rate"], "n_epochs": None, "fit_seconds": time.perf_counter() - t0})
            t0 = time.perf_counter()
            pop = Popularity().fit(pd.concat([source, sparse], ignore_index=True))
            res = seq.evaluate(pop, sparse, target_test)
            rows.append({"n_keep": n_keep, "variant": "Popularity (all users)", "seed": seed, "ndcg": res["ndcg"],
                         "hit_rate": res["hit_rate"], "n_epochs": None, "fit_seconds": time.perf_counter() - t0})
            for variant in VARIANTS:
                t0 = time.perf_counter()
                model = fit_variant(variant, sparse, source, chosen[variant], seed)
                seconds = time.perf_counter() - t0
                res = seq.evaluate(model, sparse, target_test)
                rows.append({"n_keep": n_keep, "variant": variant, "seed": seed, "ndcg": res["ndcg"],
                             "hit_rate": res["hit_rate"], "n_epochs": chosen[variant], "fit_seconds": seconds})
                print(rows[-1], flush=True)
    save("sequential_sparsity", pd.DataFrame(rows))
    save("sequential_sparsity_choice", pd.DataFrame(choices))


if __name__ == "__main__":
    main()
