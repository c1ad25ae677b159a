"""The named protocols and the statistics of spread (recbook.evaluate.protocols/stats)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recbook.baselines import BaselineOnly, Popularity, RandomRecommender
from recbook.datasets import synthetic
from recbook.evaluate import (
    PROTOCOLS,
    evaluate_topk,
    format_mean_std,
    get_protocol,
    paired_bootstrap,
    summarize,
)
from recbook.split import cold_item_split, kfold, per_user_split
from tests.conftest import requires_ml100k


@pytest.fixture(scope="module")
def ratings():
    return synthetic(n_users=120, n_items=150, n_ratings=4000, seed=3).ratings


def test_protocol_table_is_the_documented_one():
    assert list(PROTOCOLS) == ["rating", "topk", "cold-items", "cold-users", "sequential", "temporal"]
    assert PROTOCOLS["rating"].seeds == (1, 2, 3, 4, 5) and not PROTOCOLS["rating"].vary_model_seed
    for name in ("topk", "cold-items", "cold-users", "sequential", "temporal"):
        p = PROTOCOLS[name]
        assert len(p.seeds) >= 3 and p.k == 10 and p.dataset == "ml-100k"
    assert PROTOCOLS["cold-items"].relevance_threshold == 4.0
    assert "topk" in str(PROTOCOLS["topk"]) and "seeds 0, 1, 2" in PROTOCOLS["topk"].describe()
    with pytest.raises(ValueError, match="the book's protocols are"):
        get_protocol("sampled")


def test_protocol_splits_are_the_split_functions(ratings):
    topk = get_protocol("topk")
    for seed, train, test in topk.splits(ratings):
        ref_train, ref_test = per_user_split(ratings, test_size=0.2, seed=seed)
        assert train.index.equals(ref_train.index) and test.index.equals(ref_test.index)
    folds = kfold(ratings, n_splits=5, seed=0)
    got = list(get_protocol("rating").splits(ratings))
    assert [f for f, _, _ in got] == [1, 2, 3, 4, 5]
    assert all(t.index.equals(folds[f - 1][1].index) for f, _, t in got)
    cold = get_protocol("cold-items").split(ratings, seed=2)[1]
    assert cold.index.equals(cold_item_split(ratings, 0.15, seed=2)[1].index)
    with pytest.raises(ValueError, match="folds 1..5"):
        get_protocol("rating").split(ratings, seed=0)


def test_temporal_protocol_holds_out_each_users_future(ratings):
    p = get_protocol("temporal")
    train, test = p.split(ratings, seed=1)
    ref_train, ref_test = per_user_split(ratings, test_size=0.2, order="time")
    assert train.index.equals(ref_train.index) and test.index.equals(ref_test.index)
    assert p.split(ratings, seed=2)[1].index.equals(test.index)  # the seeds are the models' seeds
    assert "model seeds 0, 1, 2" in p.describe()
    fit, valid = p.validation_split(train, seed=0)  # the latest part of training: validation is the recent past
    last_fit = fit.groupby("user").timestamp.max()
    assert (last_fit.reindex(valid.groupby("user").timestamp.min().index) <= valid.groupby("user").timestamp.min()).all()
    res = p.run({"random": RandomRecommender(seed=0)}, ratings=ratings, seeds=(0,))
    assert 0.0 <= float(res["ndcg"].iloc[0]) <= 1.0


def test_validation_split_is_inside_train_and_differs_from_test_split(ratings):
    p = get_protocol("topk")
    train, test = p.split(ratings, seed=0)
    fit, valid = p.validation_split(train, seed=0)
    assert set(fit.index) | set(valid.index) == set(train.index)
    assert set(valid.index).isdisjoint(test.index)
    # not the same draw as the test split of the training frame with the same seed
    assert not valid.index.equals(per_user_split(train, 0.2, seed=0)[1].index)


def test_run_gives_one_row_per_model_and_seed_and_matches_direct_evaluation(ratings):
    p = get_protocol("topk")
    res = p.run({"pop": Popularity(), "bsl": BaselineOnly()}, ratings=ratings)
    assert list(res.columns[:2]) == ["model", "seed"] and len(res) == 6
    assert {"ndcg", "recall", "coverage", "fit_seconds"} <= set(res.columns)
    train, test = per_user_split(ratings, test_size=0.2, seed=1)
    direct = evaluate_topk(Popularity().fit(train), train, test, k=10)
    row = res[(res.model == "pop") & (res.seed == 1)].iloc[0]
    assert row["ndcg"] == pytest.approx(direct["ndcg"], abs=1e-12)
    # the same call gives the same numbers (fit_seconds aside)
    again = p.run({"pop": Popularity(), "bsl": BaselineOnly()}, ratings=ratings)
    pd.testing.assert_frame_equal(res.drop(columns="fit_seconds"), again.drop(columns="fit_seconds"))


def test_run_rating_protocol_skips_ranking_metrics_and_ranking_models_skip_rmse(ratings):
    res = get_protocol("rating").run({"bsl": BaselineOnly()}, ratings=ratings, seeds=(1, 2))
    assert set(res.columns) == {"model", "seed", "rmse", "mae", "params", "fit_seconds"}
    cold = get_protocol("cold-items").run({"pop": Popularity(), "bsl": BaselineOnly()}, ratings=ratings, seeds=(0,))
    assert np.isnan(cold.set_index("model").loc["pop", "rmse"])  # a ranking model has no rating error
    assert cold.set_index("model").loc["bsl", "rmse"] > 0
    with pytest.raises(ValueError, match="not among"):
        get_protocol("topk").run({"pop": Popularity()}, ratings=ratings, seeds=(7,))
    with pytest.raises(TypeError):
        get_protocol("topk").run({"x": 3}, ratings=ratings)


def test_vary_model_seed_sets_the_seed_parameter(ratings):
    from recbook.baselines import RandomRecommender

    res = get_protocol("sequential").run({"random": RandomRecommender(seed=0)}, ratings=ratings)
    # the split is the same for every seed, so only the model's seed can move the numbers
    assert res["ndcg"].nunique() == 3


def test_summarize_and_format():
    res = pd.DataFrame({"model": ["a", "a", "a", "b"], "seed": [0, 1, 2, 0], "ndcg": [0.1, 0.2, 0.3, 0.5]})
    s = summarize(res)
    assert s.loc["a", ("ndcg", "mean")] == pytest.approx(0.2)
    assert s.loc["a", ("ndcg", "std")] == pytest.approx(0.1)  # sample std (ddof=1)
    assert np.isnan(s.loc["b", ("ndcg", "std")]) and s.loc["b", ("n_seeds", "")] == 1
    f = format_mean_std(s, decimals=3)
    assert f.loc["a", "ndcg"] == "0.200 ± 0.100" and f.loc["b", "ndcg"] == "0.500"
    with pytest.raises(ValueError, match="no column"):
        summarize(res, metrics=["recall"])


def test_paired_bootstrap_by_hand_and_properties():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    out = paired_bootstrap(a, a, n_boot=200)
    assert out["difference"] == 0.0 and out["low"] == 0.0 and out["high"] == 0.0
    shifted = paired_bootstrap(a + 0.5, a, n_boot=200)  # a constant shift: every resample differs by 0.5
    assert shifted["low"] == pytest.approx(0.5) and shifted["high"] == pytest.approx(0.5)
    assert shifted["p_above"] == 1.0
    sq = np.array([1.0, 4.0, 0.0, 1.0])
    r = paired_bootstrap(sq, np.zeros(4), statistic="rmse", n_boot=50)
    assert r["difference"] == pytest.approx(np.sqrt(1.5))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=500), rng.normal(size=500)
    r1, r2 = paired_bootstrap(x, y, seed=1), paired_bootstrap(x, y, seed=1)
    assert r1 == r2 and r1["low"] < r1["difference"] < r1["high"]
    with pytest.raises(ValueError, match="aligned"):
        paired_bootstrap(a, a[:3])
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap([np.nan], [1.0])
    with pytest.raises(ValueError, match="statistic"):
        paired_bootstrap(a, a, statistic="median")


def test_evaluate_topk_per_user_frame(ratings):
    train, test = per_user_split(ratings, test_size=0.2, seed=0)
    model = Popularity().fit(train)
    summary, per_user = evaluate_topk(model, train, test, k=10, return_per_user=True)
    assert len(per_user) == summary["n_users"]
    assert per_user["ndcg"].mean() == pytest.approx(summary["ndcg"])
    assert set(per_user["user"]) == set(test["user"])


@requires_ml100k
def test_topk_protocol_on_ml100k_popularity_is_stable():
    res = get_protocol("topk").run({"Popularity": Popularity()})
    assert len(res) == 3
    assert 0.15 < res["ndcg"].mean() < 0.35 and res["ndcg"].std() < 0.02


def test_tuned_chooses_on_validation_only(ratings, monkeypatch):
    from recbook.cf import EASE
    from recbook.evaluate import Tuned

    p = get_protocol("topk")
    train, test = p.split(ratings, seed=0)
    best, table = p.tune(Tuned(EASE(), {"reg": [1.0, 100.0, 1e6]}), train, seed=0)
    assert list(table.columns) == ["reg", "valid_ndcg"] and len(table) == 3
    assert best["reg"] == table.loc[table["valid_ndcg"].idxmax(), "reg"]
    # run() makes the same choice from the same training frame, and records it
    res = p.run({"EASE": Tuned(EASE(), {"reg": [1.0, 100.0, 1e6]})}, ratings=ratings, seeds=(0,))
    assert res.loc[0, "params"] == f"reg={best['reg']}"
    with pytest.raises(ValueError, match="no hyper-parameter"):
        Tuned(EASE(), {"nope": [1]}).candidates()
    with pytest.raises(ValueError, match="non-empty"):
        Tuned(EASE(), {"reg": []}).candidates()


def test_tune_rating_protocol_minimises_rmse(ratings):
    from recbook.evaluate import Tuned

    p = get_protocol("rating")
    train, _ = p.split(ratings, seed=1)
    best, table = p.tune(Tuned(BaselineOnly(), {"reg_i": [0.0, 10.0, 1e6]}), train, seed=1)
    assert best["reg_i"] == table.loc[table["valid_rmse"].idxmin(), "reg_i"]
    assert best["reg_i"] != 1e6  # an absurd penalty can't win
