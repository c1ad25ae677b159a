"""benchmarks/distill_topk.py (chapter 7.6): student sizing and the Leaderboard hook."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


@pytest.fixture(scope="module")
def bench():
    pytest.importorskip("torch")
    return _load("distill_topk")


def test_parameter_counts_match_the_models(bench):
    import numpy as np

    from recbook.cf import EASE
    from recbook.models.bpr import TorchBPR

    frame = pd.DataFrame({"user": np.repeat(np.arange(6), 4), "item": np.tile(np.arange(8), 3), "rating": 1.0})
    ease = EASE(reg=1.0).fit(frame)
    assert ease.B_.size == bench.teacher_params(8)
    bpr = TorchBPR(n_factors=3, n_epochs=1).fit(frame)
    assert sum(v.size for v in bpr.state_dict_.values()) == bench.student_params(6, 8, 3)


@pytest.mark.parametrize("fraction", [8, 16, 32, 64, 128])
def test_student_width_is_the_largest_that_fits(bench, fraction):
    n_users, n_items = 943, 1656
    budget = bench.teacher_params(n_items) / fraction
    d = bench.student_width(n_users, n_items, budget)
    assert bench.student_params(n_users, n_items, d) <= budget < bench.student_params(n_users, n_items, d + 1)


def test_width_is_at_least_one(bench):
    assert bench.student_width(100, 50, 10.0) == 1


def test_leaderboard_renders_the_distill_topk_table():
    lb = _load("leaderboard")
    rows = [{"role": "teacher", "fraction": 1, "n_factors": 0, "params": 100, "seed": s, "ndcg": 0.4 + s / 100,
             "recall": 0.2, "setting": "loss=soft"} for s in range(3)]
    rows += [{"role": r, "fraction": 8, "n_factors": 2, "params": 12, "seed": s, "ndcg": 0.3, "recall": 0.1,
              "setting": "loss=soft"} for r in ("alone", "distilled") for s in range(3)]
    text = lb.distill_topk_table(pd.DataFrame(rows))
    assert "| EASE teacher | 1 | – | 100 | 0.4100 ± 0.0100 |" in text
    assert "| TorchBPR student | 1/8 | 2 | 12 | 0.3000 ± 0.0000 | 0.3000 ± 0.0000 |" in text
