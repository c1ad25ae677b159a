"""Tests of recbook.online: OnlineMF, PeriodicRetrain, prequential, the bandit policies and simulator."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from recbook.cf import BiasedMF
from recbook.online.bandits import (
    EpsilonGreedy,
    LinearThompson,
    LinUCB,
    LogisticEnvironment,
    MostClicked,
    RandomPolicy,
    simulate_bandit,
)
from recbook.online.mf import OnlineMF, PeriodicRetrain, prequential


def _stream(n=600, n_users=30, n_items=25, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n_users, 3))
    q = rng.normal(size=(n_items, 3))
    u = rng.integers(n_users, size=n)
    i = rng.integers(n_items, size=n)
    r = np.clip(np.round(3 + (p[u] * q[i]).sum(1)), 1, 5)
    return pd.DataFrame({"user": u, "item": i, "rating": r, "timestamp": np.arange(n)})


KW = dict(n_factors=3, n_epochs=5, lr=0.02, reg=0.02)


# ------------------------------------------------------------------ OnlineMF
def test_warm_start_is_biasedmf():
    s = _stream()
    a = OnlineMF(**KW).fit(s)
    b = BiasedMF(**KW).fit(s)
    np.testing.assert_allclose(a.predict(s.user, s.item), b.predict(s.user, s.item))


def test_one_update_is_the_sgd_step_by_hand():
    s = _stream()
    m = OnlineMF(**KW, online_lr=0.05).fit(s.iloc[:400])
    u, i = m.user_index([s.user[0]])[0], m.item_index([s.item[0]])[0]
    bu, bi, pu, qi = m.user_bias_[u], m.item_bias_[i], m.user_factors_[u].copy(), m.item_factors_[i].copy()
    r = 5.0
    e = r - (m.global_mean_ + bu + bi + pu @ qi)
    pred = m.learn_one(s.user[0], s.item[0], r)
    assert pred == pytest.approx(np.clip(m.global_mean_ + bu + bi + pu @ qi, 1, 5))
    g, lam = 0.05, 0.02
    assert m.user_bias_[u] == pytest.approx(bu + g * (e - lam * bu))
    assert m.item_bias_[i] == pytest.approx(bi + g * (e - lam * bi))
    np.testing.assert_allclose(m.user_factors_[u], pu + g * (e * qi - lam * pu))
    np.testing.assert_allclose(m.item_factors_[i], qi + g * (e * pu - lam * qi))
    assert m.n_updates_ == 1


def test_new_user_and_item_use_fallback_then_learn():
    s = _stream()
    m = OnlineMF(**KW).fit(s)
    pred = m.learn_one("new-user", s.item[0], 5.0)
    idx = m.item_index([s.item[0]])[0]
    # first prediction for an unseen user: mu + b_i (clipped), no factor term
    # (b_i is read before the update: compare with a fresh copy)
    fresh = OnlineMF(**KW).fit(s)
    assert pred == pytest.approx(np.clip(fresh.global_mean_ + fresh.item_bias_[idx], 1, 5))
    assert "new-user" in set(m.user_ids_)
    assert m.user_factors_.shape[0] == m.n_users_ == len(m.user_ids_)
    assert m.predict(["new-user"], [s.item[0]])[0] > pred - 1e-9  # learned from a 5
    m.learn_one(s.user[0], "new-item", 1.0)
    assert m.item_factors_.shape[0] == m.n_items_
    rec = m.recommend(["new-user"], k=3)  # train_ grew with the new rows
    assert len(rec) == 3 and s.item[0] not in set(rec["item"])


def test_partial_fit_in_chunks_equals_one_pass():
    s = _stream()
    a = OnlineMF(**KW).fit(s.iloc[:300])
    b = copy.deepcopy(a)
    pa = a.predict_learn(s.iloc[300:])
    pb = np.concatenate([b.predict_learn(s.iloc[300:400]), b.predict_learn(s.iloc[400:])])
    np.testing.assert_allclose(pa, pb)
    b.partial_fit(s.iloc[:10])
    assert b.n_updates_ == 310


def test_online_mf_bad_input():
    s = _stream()
    with pytest.raises(ValueError):
        OnlineMF(online_lr=0.0).fit(s)
    with pytest.raises(TypeError):
        OnlineMF(online_lr="fast").fit(s)
    m = OnlineMF(**KW).fit(s)
    with pytest.raises(ValueError):
        m.predict_learn(s[["user", "item"]])  # no rating
    with pytest.raises(TypeError):
        m.predict_learn(s.to_numpy())
    with pytest.raises(ValueError):
        m.learn_one(1, 2, float("nan"))
    with pytest.raises(Exception):
        OnlineMF().predict_learn(s)  # not fitted


# ------------------------------------------------------------ PeriodicRetrain
def test_periodic_retrain_refits_on_everything_seen():
    s = _stream()
    p = PeriodicRetrain(BiasedMF(**KW), every=100).fit(s.iloc[:300])
    p.predict_learn(s.iloc[300:450])
    p.predict_learn(s.iloc[450:520])
    assert p.n_retrains_ == 2 and len(p.retrain_seconds_) == 2
    ref = BiasedMF(**KW).fit(s.iloc[:500])
    np.testing.assert_allclose(p.model_.predict(s.user, s.item), ref.predict(s.user, s.item))
    static = PeriodicRetrain(BiasedMF(**KW)).fit(s.iloc[:300])
    static.partial_fit(s.iloc[300:])
    assert static.n_retrains_ == 0


def test_periodic_retrain_bad_input():
    with pytest.raises(TypeError):
        PeriodicRetrain("BiasedMF", 10)
    with pytest.raises(ValueError):
        PeriodicRetrain(BiasedMF(), every=0)
    with pytest.raises(TypeError):
        PeriodicRetrain(BiasedMF(), every=2.5)
    with pytest.raises(RuntimeError):
        PeriodicRetrain(BiasedMF(), 5).predict_learn(_stream())


# ------------------------------------------------------------------ prequential
@pytest.mark.parametrize("make", [lambda: OnlineMF(**KW), lambda: PeriodicRetrain(BiasedMF(**KW), every=50)])
def test_prequential_never_uses_an_event_before_predicting_it(make):
    """Event t's prediction equals that of a model that has seen events < t only."""
    s = _stream()
    init, stream = s.iloc[:300], s.iloc[300:].reset_index(drop=True)
    learner = make().fit(init)
    res = prequential(learner, stream, chunk=64)
    # record the predictions event by event with fresh learners
    for t in (0, 1, 63, 64, 137, 299):
        ref = make().fit(init)
        if t:
            ref.predict_learn(stream.iloc[:t])
        p_t = ref.predict_learn(stream.iloc[t : t + 1])[0]
        probe = make().fit(init)
        preds = probe.predict_learn(stream)
        assert preds[t] == pytest.approx(p_t, abs=1e-12)
        # and a rating changed at t cannot change the prediction at t
        bad = stream.copy()
        bad.loc[t, "rating"] = 1.0 if bad.loc[t, "rating"] > 3 else 5.0
        assert make().fit(init).predict_learn(bad)[t] == pytest.approx(p_t, abs=1e-12)
    assert list(res.columns) == ["chunk", "events", "rmse", "running_rmse", "seconds", "cum_seconds", "timestamp"]
    assert res["events"].iloc[-1] == len(stream)
    # the running RMSE is the RMSE over all events so far
    preds = make().fit(init).predict_learn(stream)
    assert res["running_rmse"].iloc[-1] == pytest.approx(np.sqrt(np.mean((stream.rating - preds) ** 2)))


def test_online_beats_static_on_drift():
    """After the users' tastes flip, learning from the stream must help."""
    s = _stream(n=2000)
    drift = s.copy()
    drift.loc[1000:, "rating"] = 6 - drift.loc[1000:, "rating"]
    init, stream = drift.iloc[:1000], drift.iloc[1000:]
    static = prequential(PeriodicRetrain(BiasedMF(**KW)).fit(init), stream, 250)
    online = prequential(OnlineMF(**KW, online_lr=0.05).fit(init), stream, 250)
    assert online["running_rmse"].iloc[-1] < 0.9 * static["running_rmse"].iloc[-1]


def test_prequential_bad_input():
    s = _stream()
    m = OnlineMF(**KW).fit(s)
    with pytest.raises(TypeError):
        prequential(BiasedMF(), s)
    with pytest.raises(ValueError):
        prequential(m, s, chunk=0)
    with pytest.raises(ValueError):
        prequential(m, s.iloc[::-1])  # not in time order
    with pytest.raises(ValueError):
        prequential(m, s.iloc[:0])


# --------------------------------------------------------------------- bandits
def _env(seed=0, n_arms=5, dim=4):
    rng = np.random.default_rng(seed)
    x = np.hstack([rng.normal(size=(200, dim - 1)), np.ones((200, 1))])
    w = 2.0 * rng.normal(size=(n_arms, dim))
    return LogisticEnvironment(x, w)


def test_linucb_index_by_hand():
    pol = LinUCB(2, 2, alpha=0.5, reg=2.0)
    x1, x2 = np.array([1.0, 0.0]), np.array([1.0, 1.0])
    pol.update(0, x1, 1.0)
    pol.update(0, x2, 0.0)
    A = 2.0 * np.eye(2) + np.outer(x1, x1) + np.outer(x2, x2)
    theta = np.linalg.solve(A, x1)
    x = np.array([0.3, -0.7])
    expect0 = x @ theta + 0.5 * np.sqrt(x @ np.linalg.solve(A, x))
    expect1 = 0.5 * np.sqrt(x @ x / 2.0)
    np.testing.assert_allclose(pol.ucb(x), [expect0, expect1])
    np.testing.assert_allclose(pol.A_inv[0], np.linalg.inv(A))
    assert pol.select(x) == int(np.argmax([expect0, expect1]))


def test_thompson_sample_distribution():
    """With v = 0 Thompson is greedy; the sampled score has variance v^2 x'A^-1 x."""
    pol = LinearThompson(3, 2, v=0.0, seed=1)
    pol.update(2, np.array([1.0, 0.0]), 1.0)
    assert pol.select(np.array([1.0, 0.0])) == 2
    pol = LinearThompson(1 + 1, 2, v=2.0, reg=4.0, seed=0)
    x = np.array([1.0, 1.0])
    wins = np.mean([pol.select(x) == 0 for _ in range(4000)])
    assert 0.45 < wins < 0.55  # two identical posteriors: a fair coin


@pytest.mark.parametrize("cls,kw", [(LinUCB, {"alpha": 0.5}), (LinearThompson, {"v": 0.2})])
def test_linear_bandits_far_below_random_regret(cls, kw):
    env = _env()
    rand = simulate_bandit(RandomPolicy(env.n_arms, env.dim, seed=0), env, 3000, seed=0)
    lin = simulate_bandit(cls(env.n_arms, env.dim, **kw, seed=0), env, 3000, seed=0)
    assert lin["cum_regret"].iloc[-1] < 0.25 * rand["cum_regret"].iloc[-1]
    # and it learns: the second half has less regret than the first
    assert lin["regret"].iloc[1500:].sum() < lin["regret"].iloc[:1500].sum()


def test_simulate_bandit_frame_and_common_random_numbers():
    env = _env()
    a = simulate_bandit(MostClicked(env.n_arms, env.dim), env, 500, seed=3)
    b = simulate_bandit(EpsilonGreedy(env.n_arms, env.dim, epsilon=1.0, seed=9), env, 500, seed=3)
    assert (a["user"] == b["user"]).all()  # same users for every policy
    p = env.probabilities[a["user"]]
    np.testing.assert_allclose(a["regret"], p.max(1) - p[np.arange(500), a["arm"]])
    assert (a["regret"] >= 0).all() and np.all(np.diff(a["cum_regret"]) >= 0)
    assert list(a.columns) == ["t", "user", "arm", "best_arm", "click", "regret", "cum_regret", "cum_clicks"]
    c = simulate_bandit(MostClicked(env.n_arms, env.dim), env, 500, seed=3)
    pd.testing.assert_frame_equal(a, c)


def test_epsilon_greedy_and_random_policies():
    env = _env()
    greedy = EpsilonGreedy(env.n_arms, env.dim, epsilon=0.0)
    x = env.contexts[0]
    greedy.update(3, x, 1.0)
    assert greedy.select(x) == 3
    r = RandomPolicy(4, 2, seed=0)
    counts = np.bincount([r.select(np.zeros(2)) for _ in range(2000)], minlength=4)
    assert counts.min() > 400
    mc = MostClicked(3, 1)
    mc.update(1, [0.0], 1.0)
    assert mc.select([0.0]) == 1


def test_bandit_bad_input():
    env = _env()
    with pytest.raises(ValueError):
        LinUCB(0, 3)
    with pytest.raises(ValueError):
        LinUCB(3, 3, alpha=-1.0)
    with pytest.raises(ValueError):
        LinearThompson(3, 3, v=-0.1)
    with pytest.raises(ValueError):
        EpsilonGreedy(3, 3, epsilon=1.5)
    with pytest.raises(ValueError):
        LinUCB(3, 3, reg=0.0)
    pol = LinUCB(3, 2)
    with pytest.raises(ValueError):
        pol.select(np.ones(3))
    with pytest.raises(ValueError):
        pol.update(5, np.ones(2), 1.0)
    with pytest.raises(TypeError):
        pol.update(1.0, np.ones(2), 1.0)
    with pytest.raises(ValueError):
        pol.update(1, np.ones(2), float("inf"))
    with pytest.raises(ValueError):
        simulate_bandit(LinUCB(3, env.dim), env, 10)  # wrong number of arms
    with pytest.raises(TypeError):
        simulate_bandit(LinUCB(env.n_arms, env.dim), "env", 10)
    with pytest.raises(TypeError):
        simulate_bandit(object(), env, 10)
    with pytest.raises(ValueError):
        simulate_bandit(LinUCB(env.n_arms, env.dim), env, 0)
    with pytest.raises(ValueError):
        LogisticEnvironment(np.ones((3, 2)), np.ones((4, 3)))
    with pytest.raises(ValueError):
        LogisticEnvironment(np.ones((3, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError):
        LogisticEnvironment(np.full((3, 2), np.nan), np.ones((4, 2)))
