r"""Contextual bandits: adapting the recommendation strategy to feedback (chapter 9.2).

At each round :math:`t` a user arrives with a context vector
:math:`x_t \in \mathbb R^{m}`, a policy shows one of :math:`A` candidate items
(the *arms*), and observes a click :math:`y_t \in \{0, 1\}`. The goal is to
click often while learning, i.e. to keep the **cumulative (pseudo-)regret**

.. math::

    \mathrm{Regret}(T) = \sum_{t=1}^{T} \bigl( \max_a \pi_a(x_t) - \pi_{a_t}(x_t) \bigr)

small, where :math:`\pi_a(x)` is the true click probability of arm
:math:`a` in context :math:`x` (known to the simulator only).

The linear policies keep, per arm, a ridge regression of clicks on
contexts (the *disjoint* model of Li et al. 2010):

.. math::

    A_a = \lambda I + \sum_{t: a_t = a} x_t x_t^\top, \qquad
    b_a = \sum_{t: a_t = a} y_t x_t, \qquad
    \hat\theta_a = A_a^{-1} b_a ,

and differ only in how they turn it into a choice: greedy with
:math:`\varepsilon` random rounds (:class:`EpsilonGreedy`), an upper
confidence bound (:class:`LinUCB`), or a posterior sample
(:class:`LinearThompson`). :math:`A_a^{-1}` is kept up to date by the
Sherman-Morrison formula,
:math:`(A + x x^\top)^{-1} = A^{-1} - \frac{A^{-1} x x^\top A^{-1}}{1 + x^\top A^{-1} x}`.

Ties between arms go to the lower arm index (``np.argmax``), the book's tie rule.

References
----------
L. Li, W. Chu, J. Langford and R. E. Schapire, "A contextual-bandit approach
to personalized news article recommendation", WWW 2010.
S. Agrawal and N. Goyal, "Thompson sampling for contextual bandits with
linear payoffs", ICML 2013.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recbook.utils import check_int, check_number, check_seed

__all__ = [
    "LinUCB",
    "LinearThompson",
    "EpsilonGreedy",
    "RandomPolicy",
    "MostClicked",
    "LogisticEnvironment",
    "simulate_bandit",
]


def _check_context(x: Any, dim: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (dim,):
        raise ValueError(f"context must be a vector of length {dim}, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("context has NaN or infinite entries")
    return x


class _Policy:
    """Common checks: ``select(x) -> arm`` and ``update(arm, x, reward)``."""

    n_arms: int
    dim: int

    def _check_update(self, arm: Any, x: Any, reward: Any) -> tuple[int, np.ndarray, float]:
        if isinstance(arm, (bool, np.bool_)) or not isinstance(arm, (int, np.integer)):
            raise TypeError(f"arm must be an integer, got {arm!r}")
        if not 0 <= int(arm) < self.n_arms:
            raise ValueError(f"arm must be in [0, {self.n_arms}), got {arm}")
        reward = float(reward)
        if not np.isfinite(reward):
            raise ValueError(f"reward must be finite, got {reward}")
        return int(arm), _check_context(x, self.dim), reward


class RandomPolicy(_Policy):
    """Shows a uniformly random arm: the regret of not adapting at all.

    Parameters
    ----------
    n_arms : int
    dim : int
        Context length (checked, not used).
    seed : int
    """

    def __init__(self, n_arms: int, dim: int, seed: int = 0) -> None:
        self.n_arms = check_int("n_arms", n_arms)
        self.dim = check_int("dim", dim)
        self.rng = np.random.default_rng(check_seed(seed))

    def select(self, x: Any) -> int:
        """A uniformly random arm (the context ``x`` is checked, not used)."""
        _check_context(x, self.dim)
        return int(self.rng.integers(self.n_arms))

    def update(self, arm: int, x: Any, reward: float) -> None:
        """Check the arguments; nothing is learned."""
        self._check_update(arm, x, reward)


class MostClicked(_Policy):
    r"""Context-free greedy popularity: the arm with the best smoothed click rate so far.

    .. math::

        a_t = \arg\max_a \frac{c_a + 1}{n_a + 2},

    with :math:`c_a` clicks in :math:`n_a` displays (a Beta(1, 1) prior mean).
    It adapts to feedback but shows every user the same item.
    """

    def __init__(self, n_arms: int, dim: int, seed: int = 0) -> None:
        self.n_arms = check_int("n_arms", n_arms)
        self.dim = check_int("dim", dim)
        check_seed(seed)
        self.clicks = np.zeros(self.n_arms)
        self.shows = np.zeros(self.n_arms)

    def select(self, x: Any) -> int:
        """The arm with the best smoothed click rate (the context ``x`` is checked, not used)."""
        _check_context(x, self.dim)
        return int(np.argmax((self.clicks + 1.0) / (self.shows + 2.0)))

    def update(self, arm: int, x: Any, reward: float) -> None:
        """Count one display of ``arm`` and add ``reward`` to its clicks."""
        arm, _, reward = self._check_update(arm, x, reward)
        self.clicks[arm] += reward
        self.shows[arm] += 1.0


class _LinearPolicy(_Policy):
    """Per-arm ridge regression with Sherman-Morrison updates of :math:`A_a^{-1}`."""

    def __init__(self, n_arms: int, dim: int, reg: float = 1.0, seed: int = 0) -> None:
        self.n_arms = check_int("n_arms", n_arms)
        self.dim = check_int("dim", dim)
        self.reg = check_number("reg", reg, positive=True)
        self.rng = np.random.default_rng(check_seed(seed))
        self.A_inv = np.tile(np.eye(self.dim) / self.reg, (self.n_arms, 1, 1))
        self.b = np.zeros((self.n_arms, self.dim))
        self.theta = np.zeros((self.n_arms, self.dim))

    def update(self, arm: int, x: Any, reward: float) -> None:
        """Add ``(x, reward)`` to arm ``arm``'s ridge regression (Sherman-Morrison)."""
        arm, x, reward = self._check_update(arm, x, reward)
        Ax = self.A_inv[arm] @ x
        self.A_inv[arm] -= np.outer(Ax, Ax) / (1.0 + x @ Ax)
        self.b[arm] += reward * x
        self.theta[arm] = self.A_inv[arm] @ self.b[arm]
        self._updated(arm)

    def _updated(self, arm: int) -> None:
        """Hook after an arm's statistics changed."""


class EpsilonGreedy(_LinearPolicy):
    r"""Greedy on the per-arm ridge estimate, a random arm with probability :math:`\varepsilon`.

    .. math::

        a_t = \begin{cases} \text{uniform on the arms} & \text{with probability } \varepsilon \\
        \arg\max_a x_t^\top \hat\theta_a & \text{otherwise.} \end{cases}

    Parameters
    ----------
    n_arms, dim : int
    epsilon : float in [0, 1]
    reg : float > 0
        Ridge :math:`\lambda`.
    seed : int
    """

    def __init__(self, n_arms: int, dim: int, epsilon: float = 0.1, reg: float = 1.0, seed: int = 0) -> None:
        super().__init__(n_arms, dim, reg, seed)
        epsilon = check_number("epsilon", epsilon)
        if epsilon > 1:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        self.epsilon = epsilon

    def select(self, x: Any) -> int:
        """With probability ``epsilon`` a random arm, otherwise the arm with the largest estimate :math:`x^\\top\\hat\\theta_a`."""
        x = _check_context(x, self.dim)
        explore = self.rng.random() < self.epsilon
        arm = self.rng.integers(self.n_arms)
        return int(arm) if explore else int(np.argmax(self.theta @ x))


class LinUCB(_LinearPolicy):
    r"""LinUCB with disjoint linear models (Li et al. 2010, Algorithm 1).

    .. math::

        a_t = \arg\max_a \; x_t^\top \hat\theta_a + \alpha \sqrt{x_t^\top A_a^{-1} x_t}

    The bonus is the width of the confidence interval of the ridge estimate
    in direction :math:`x_t`; it shrinks as arm :math:`a` is shown in
    contexts like :math:`x_t`, so the policy explores where it is unsure and
    exploits where it is not. :math:`\alpha` trades the two (Li et al. use
    :math:`\alpha = 1 + \sqrt{\ln(2/\delta)/2}` for a :math:`1-\delta` bound;
    smaller values usually work better in practice).

    Parameters
    ----------
    n_arms, dim : int
    alpha : float >= 0
        Width of the bonus.
    reg : float > 0
        Ridge :math:`\lambda` (:math:`A_a` starts at :math:`\lambda I`).
    seed : int
        Unused (LinUCB is deterministic); kept for a uniform signature.
    """

    def __init__(self, n_arms: int, dim: int, alpha: float = 1.0, reg: float = 1.0, seed: int = 0) -> None:
        super().__init__(n_arms, dim, reg, seed)
        self.alpha = check_number("alpha", alpha)

    def ucb(self, x: Any) -> np.ndarray:
        """The index :math:`x^\\top\\hat\\theta_a + \\alpha\\sqrt{x^\\top A_a^{-1}x}` of every arm."""
        x = _check_context(x, self.dim)
        width = np.sqrt(np.maximum(np.einsum("i,aij,j->a", x, self.A_inv, x), 0.0))
        return self.theta @ x + self.alpha * width

    def select(self, x: Any) -> int:
        """The arm with the largest upper confidence bound :meth:`ucb`."""
        return int(np.argmax(self.ucb(x)))


class LinearThompson(_LinearPolicy):
    r"""Linear Thompson sampling (Agrawal & Goyal 2013), one Gaussian posterior per arm.

    .. math::

        \tilde\theta_a \sim \mathcal N\bigl(\hat\theta_a,\; v^2 A_a^{-1}\bigr), \qquad
        a_t = \arg\max_a x_t^\top \tilde\theta_a .

    With :math:`v` the scale of the posterior (Agrawal & Goyal set
    :math:`v = R\sqrt{24\, m\ln(1/\delta)/\epsilon}` for their bound; a much
    smaller constant is used in practice). Only :math:`x_t^\top\tilde\theta_a`
    is needed, which is Gaussian with mean :math:`x_t^\top\hat\theta_a` and
    variance :math:`v^2 x_t^\top A_a^{-1}x_t`, so one normal draw per arm
    suffices (the same distribution as sampling :math:`\tilde\theta_a`).
    Agrawal & Goyal share one :math:`\theta` across arms with arm-specific
    features; the disjoint model here is that with block features.

    Parameters
    ----------
    n_arms, dim : int
    v : float >= 0
        Posterior scale.
    reg : float > 0
    seed : int
    """

    def __init__(self, n_arms: int, dim: int, v: float = 0.5, reg: float = 1.0, seed: int = 0) -> None:
        super().__init__(n_arms, dim, reg, seed)
        self.v = check_number("v", v)

    def select(self, x: Any) -> int:
        """The arm with the largest score sampled from its posterior (above)."""
        x = _check_context(x, self.dim)
        sd = np.sqrt(np.maximum(np.einsum("i,aij,j->a", x, self.A_inv, x), 0.0))
        sample = self.theta @ x + self.v * sd * self.rng.standard_normal(self.n_arms)
        return int(np.argmax(sample))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class LogisticEnvironment:
    r"""A simulated user population whose clicks follow a logistic model.

    .. math::

        \pi_a(x_u) = \sigma\bigl(x_u^\top w_a\bigr), \qquad
        \sigma(z) = \frac{1}{1 + e^{-z}},

    for user contexts :math:`x_u` (rows of ``contexts``) and arm weights
    :math:`w_a` (rows of ``weights``). Built from a trained factor model,
    :math:`x_u = (p_u, 1)` and :math:`w_a = s\,(q_a, b_a) + (0, c)` make
    the log-odds of a click an affine function of the model's score (see the
    notebook of section 9.2). Each round draws a user uniformly.

    Parameters
    ----------
    contexts : array (n_users, m)
    weights : array (n_arms, m)
    """

    def __init__(self, contexts: Any, weights: Any) -> None:
        contexts = np.asarray(contexts, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        if contexts.ndim != 2 or weights.ndim != 2:
            raise ValueError("contexts and weights must be 2-d arrays")
        if contexts.shape[1] != weights.shape[1]:
            raise ValueError(
                f"contexts have {contexts.shape[1]} columns but weights {weights.shape[1]}; they must agree"
            )
        if len(contexts) == 0 or len(weights) < 2:
            raise ValueError("need at least one user and two arms")
        if not (np.all(np.isfinite(contexts)) and np.all(np.isfinite(weights))):
            raise ValueError("contexts and weights must be finite")
        self.contexts = contexts
        self.weights = weights
        self.probabilities = _sigmoid(contexts @ weights.T)

    @property
    def n_arms(self) -> int:
        """The number of arms (rows of ``weights``)."""
        return self.weights.shape[0]

    @property
    def dim(self) -> int:
        """The context length (columns of ``contexts``)."""
        return self.contexts.shape[1]


def simulate_bandit(policy: Any, env: LogisticEnvironment, horizon: int, seed: int = 0) -> pd.DataFrame:
    r"""Run ``policy`` for ``horizon`` rounds in ``env``; return one row per round.

    Round :math:`t`: a user :math:`u_t` is drawn uniformly, the policy picks
    :math:`a_t` from :math:`x_{u_t}`, the click is :math:`y_t = [U_t <
    \pi_{a_t}(x_{u_t})]` with :math:`U_t` uniform on [0, 1), and the policy
    learns :math:`(a_t, x_{u_t}, y_t)`. Users and :math:`U_t` come from a
    generator seeded with ``seed`` alone, so every policy run with the same
    seed meets the same users and the same coins (common random numbers:
    differences between policies are not luck of the draw).

    Returns
    -------
    pandas.DataFrame
        ``t, user, arm, best_arm, click, regret, cum_regret, cum_clicks``,
        where ``regret`` is the expected regret
        :math:`\max_a \pi_a(x_{u_t}) - \pi_{a_t}(x_{u_t})`.
    """
    if not isinstance(env, LogisticEnvironment):
        raise TypeError(f"env must be a LogisticEnvironment, got {type(env).__name__}")
    for name in ("select", "update"):
        if not callable(getattr(policy, name, None)):
            raise TypeError(f"policy must have select(x) and update(arm, x, reward), got {type(policy).__name__}")
    if getattr(policy, "n_arms", env.n_arms) != env.n_arms or getattr(policy, "dim", env.dim) != env.dim:
        raise ValueError(
            f"policy is for {policy.n_arms} arms of dimension {policy.dim}, "
            f"the environment has {env.n_arms} arms of dimension {env.dim}"
        )
    horizon = check_int("horizon", horizon)
    rng = np.random.default_rng(check_seed(seed))
    users = rng.integers(len(env.contexts), size=horizon)
    coins = rng.random(horizon)
    probs = env.probabilities
    arms = np.empty(horizon, dtype=np.int64)
    clicks = np.empty(horizon)
    for t in range(horizon):
        x = env.contexts[users[t]]
        a = policy.select(x)
        y = float(coins[t] < probs[users[t], a])
        policy.update(a, x, y)
        arms[t] = a
        clicks[t] = y
    p_user = probs[users]
    regret = p_user.max(axis=1) - p_user[np.arange(horizon), arms]
    return pd.DataFrame(
        {
            "t": np.arange(1, horizon + 1),
            "user": users,
            "arm": arms,
            "best_arm": p_user.argmax(axis=1),
            "click": clicks,
            "regret": regret,
            "cum_regret": np.cumsum(regret),
            "cum_clicks": np.cumsum(clicks),
        }
    )
