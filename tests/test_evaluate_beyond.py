"""Tests of recbook.evaluate.beyond (top-K confusion, satisfaction) and recbook.evaluate.abtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recbook.evaluate.abtest import ab_sample_size, simulate_peeking, two_proportion_ztest
from recbook.evaluate.beyond import satisfied_share, topk_confusion
from recbook.metrics import f1_at_k, precision_at_k, recall_at_k

# ---------------------------------------------------------------- topk_confusion


def _toy():
    train = pd.DataFrame({"user": [1, 1, 2], "item": [0, 1, 0]})
    test = pd.DataFrame({"user": [1, 2, 2], "item": [2, 3, 4]})
    return train, test


def test_confusion_counts_by_hand():
    train, test = _toy()
    rec = pd.DataFrame({"user": [1, 1, 2, 2], "item": [2, 3, 3, 5]})
    d = topk_confusion(rec, test, train, n_items=6)
    # candidates: user 1: 6 - 2 = 4; user 2: 6 - 1 = 5
    assert d["candidates"] == 9
    assert (d["tp"], d["fp"], d["fn"], d["tn"]) == (2, 2, 1, 4)
    assert d["accuracy"] == pytest.approx(6 / 9)
    assert d["precision"] == pytest.approx(0.5)
    assert d["recall"] == pytest.approx(2 / 3)
    assert d["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_confusion_empty_list_wins_accuracy_on_sparse_data():
    rng = np.random.default_rng(0)
    n_items, n_users = 500, 50
    rows = [(u, i) for u in range(n_users) for i in rng.choice(n_items - 2, 12, replace=False)]
    frame = pd.DataFrame(rows, columns=["user", "item"])
    train, test = frame.iloc[::2], frame.iloc[1::2]
    empty = topk_confusion(pd.DataFrame(columns=["user", "item"]), test, train, n_items)
    assert empty["tp"] == 0 and empty["precision"] == 0 and empty["f1"] == 0
    # a list with fewer than half its slots right loses accuracy against the empty one
    rec = pd.concat([test.groupby("user").head(1),
                     pd.DataFrame({"user": list(range(n_users)) * 2, "item": [n_items - 1] * n_users + [n_items - 2] * n_users})])
    rec = rec[~rec.set_index(["user", "item"]).index.isin(train.set_index(["user", "item"]).index)]
    some = topk_confusion(rec, test, train, n_items)
    assert some["tp"] > 0
    # accuracy(list) - accuracy(empty) = (TP - FP) / candidates: fewer hits than misses lose
    gap = (some["accuracy"] - empty["accuracy"]) * some["candidates"]
    assert gap == pytest.approx(some["tp"] - some["fp"])
    assert some["tp"] < some["fp"] and empty["accuracy"] > some["accuracy"]


def test_confusion_micro_equals_macro_for_one_user():
    train = pd.DataFrame({"user": [0], "item": [9]})
    test = pd.DataFrame({"user": [0] * 3, "item": [1, 2, 3]})
    lst = [1, 5, 3, 7]
    d = topk_confusion(pd.DataFrame({"user": 0, "item": lst}), test, train, n_items=10)
    assert d["precision"] == pytest.approx(precision_at_k(lst, {1, 2, 3}, 4))
    assert d["recall"] == pytest.approx(recall_at_k(lst, {1, 2, 3}, 4))
    assert d["f1"] == pytest.approx(f1_at_k(lst, {1, 2, 3}, 4))


def test_confusion_bad_input():
    train, test = _toy()
    with pytest.raises(TypeError):
        topk_confusion([[1, 2]], test, train, n_items=6)
    with pytest.raises(ValueError, match="column"):
        topk_confusion(pd.DataFrame({"user": [1]}), test, train, n_items=6)
    with pytest.raises(ValueError):
        topk_confusion(pd.DataFrame({"user": [1], "item": [2]}), test, train, n_items=0)
    with pytest.raises(ValueError, match="training cells"):
        topk_confusion(pd.DataFrame({"user": [1], "item": [0]}), test, train, n_items=6)
    with pytest.raises(ValueError, match="smaller"):
        topk_confusion(pd.DataFrame({"user": [1], "item": [2]}), test, train, n_items=2)


# ---------------------------------------------------------------- satisfied_share


def test_satisfied_share_is_hit_rate_and_monotone():
    hits = np.array([0, 1, 2, 0, 5])
    assert satisfied_share(hits) == pytest.approx(0.6)
    shares = [satisfied_share(hits, m) for m in range(1, 7)]
    assert all(a >= b for a, b in zip(shares, shares[1:]))
    assert shares[-1] == 0.0


@pytest.mark.parametrize("bad", [[], [-1, 2], [0.5, 1], [np.nan]])
def test_satisfied_share_bad_hits(bad):
    with pytest.raises(ValueError):
        satisfied_share(bad)


def test_satisfied_share_bad_threshold():
    with pytest.raises(ValueError):
        satisfied_share([1, 2], min_hits=0)
    with pytest.raises(TypeError):
        satisfied_share([1, 2], min_hits=1.5)


# ---------------------------------------------------------------- sample size


def test_sample_size_textbook_value():
    # Chow, Shao & Wang (2008), section 4.2: 0.65 vs 0.85, alpha 0.05 two-sided, power 0.8 -> 70 per group
    assert ab_sample_size(0.65, 0.85, pooled=False) == 70


def test_sample_size_rule_of_thumb_and_scaling():
    p, lift = 0.1, 0.005
    n = ab_sample_size(p, p + lift)
    thumb = 16 * (p + lift / 2) * (1 - p - lift / 2) / lift**2
    assert abs(n / thumb - 1) < 0.03
    # halving the effect roughly quadruples n; more power, smaller alpha need more users
    assert 3.8 < ab_sample_size(p, p + lift / 2) / n < 4.2
    assert ab_sample_size(p, p + lift, power=0.9) > n
    assert ab_sample_size(p, p + lift, alpha=0.01) > n
    assert ab_sample_size(p, p + lift, two_sided=False) < n
    assert ab_sample_size(p + lift, p) == n  # symmetric in the sign of the effect


@pytest.mark.parametrize("args", [(0.1, 0.1), (0.0, 0.1), (0.1, 1.0), (0.1, 0.2, 0.0), (0.1, 0.2, 0.05, 1.0)])
def test_sample_size_bad_input(args):
    with pytest.raises(ValueError):
        ab_sample_size(*args)


def test_sample_size_type_error():
    with pytest.raises(TypeError):
        ab_sample_size("0.1", 0.2)


def test_sample_size_gives_its_power():
    n = ab_sample_size(0.10, 0.12)
    rng = np.random.default_rng(1)
    xa = rng.binomial(n, 0.10, 4000)
    xb = rng.binomial(n, 0.12, 4000)
    _, p = two_proportion_ztest(xa, n, xb, n)
    assert abs(np.mean(p < 0.05) - 0.8) < 0.03


# ---------------------------------------------------------------- z test


def test_ztest_matches_chi_square():
    stats = pytest.importorskip("scipy.stats")
    for xa, na, xb, nb in [(100, 1000, 130, 1000), (5, 40, 12, 55), (300, 5000, 280, 4800)]:
        z, p = two_proportion_ztest(xa, na, xb, nb)
        chi2, p_chi, _, _ = stats.chi2_contingency([[xa, na - xa], [xb, nb - xb]], correction=False)
        assert z**2 == pytest.approx(chi2, rel=1e-9)
        assert p == pytest.approx(p_chi, rel=1e-7)


def test_ztest_one_sided_and_vectorised():
    z, p2 = two_proportion_ztest(100, 1000, 130, 1000)
    _, p1 = two_proportion_ztest(100, 1000, 130, 1000, two_sided=False)
    assert z > 0 and p1 == pytest.approx(p2 / 2)
    zs, ps = two_proportion_ztest([100, 130], 1000, [130, 100], 1000)
    assert zs[0] == pytest.approx(-zs[1]) and ps[0] == pytest.approx(ps[1])
    assert two_proportion_ztest(0, 10, 0, 10) == (0.0, 1.0)


def test_ztest_false_positive_rate_is_alpha_under_null():
    rng = np.random.default_rng(0)
    n = 2000
    xa = rng.binomial(n, 0.07, 20000)
    xb = rng.binomial(n, 0.07, 20000)
    _, p = two_proportion_ztest(xa, n, xb, n)
    rate = np.mean(p < 0.05)
    assert abs(rate - 0.05) < 0.006  # about 4 Monte-Carlo standard errors


@pytest.mark.parametrize("args", [(-1, 10, 1, 10), (1, 0, 1, 10), (11, 10, 1, 10), (1, 10, np.nan, 10)])
def test_ztest_bad_input(args):
    with pytest.raises(ValueError):
        two_proportion_ztest(*args)


# ---------------------------------------------------------------- peeking


def test_peeking_inflates_and_fixes_restore():
    res = simulate_peeking(0.05, n_per_look=500, n_looks=10, n_experiments=4000, seed=3)
    assert list(res.columns) == ["looks", "peeking", "bonferroni", "fixed_horizon"]
    assert res["peeking"].is_monotonic_increasing
    assert res["peeking"].iloc[-1] > 0.15  # about four times alpha at 10 looks
    assert (res["bonferroni"] <= 0.05 + 0.01).all()
    assert (abs(res["fixed_horizon"] - 0.05) < 0.015).all()
    assert res.loc[0, "peeking"] == res.loc[0, "fixed_horizon"] == res.loc[0, "bonferroni"]


def test_peeking_is_seeded_and_has_power_under_effect():
    a = simulate_peeking(0.1, 0.12, n_per_look=500, n_looks=4, n_experiments=500, seed=1)
    b = simulate_peeking(0.1, 0.12, n_per_look=500, n_looks=4, n_experiments=500, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert a["fixed_horizon"].iloc[-1] > 0.5


@pytest.mark.parametrize("kw", [{"n_looks": 0}, {"n_per_look": 0}, {"n_experiments": 0}, {"alpha": 1.5}, {"p_treatment": 0.0}])
def test_peeking_bad_input(kw):
    with pytest.raises(ValueError):
        simulate_peeking(0.1, **kw)
