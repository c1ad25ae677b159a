"""The Leaderboard page is the rendering of the committed benchmark results."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _renderer():
    spec = importlib.util.spec_from_file_location("leaderboard", ROOT / "benchmarks" / "leaderboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_page_is_rendered_from_the_results():
    lb = _renderer()
    assert (ROOT / "book" / "leaderboard.md").read_text() == lb.render(), (
        "book/leaderboard.md is stale: run `make bench` (or benchmarks/leaderboard.py) and commit both"
    )


def test_results_cover_the_part_one_protocols_over_all_seeds():
    from recbook.evaluate import get_protocol

    for name in ("rating", "topk", "cold-items", "cold-users"):
        frame = pd.read_csv(ROOT / "benchmarks" / "results" / f"leaderboard_{name}.csv")
        seeds = set(get_protocol(name).seeds)
        per_model = frame.groupby("model")["seed"].apply(set)
        assert (per_model == seeds).all(), f"{name}: every model must be run on every seed {sorted(seeds)}"
        assert frame.filter(["rmse", "ndcg"]).notna().any().any()
