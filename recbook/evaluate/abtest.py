r"""Online A/B tests of recommenders: sample size, the z test, and peeking.

An A/B test shows the current recommender (control, A) to a random half of
the users and the new one (treatment, B) to the other half, and compares a
rate such as the click-through rate (CTR). This module holds the three
calculations chapter 9.3 of the book needs:

* :func:`ab_sample_size` -- users per group to detect a given lift with a
  given power (the two-proportion formula);
* :func:`two_proportion_ztest` -- is the observed difference significant?
* :func:`simulate_peeking` -- what happens to the false-positive rate when
  the test is checked after every batch of users and stopped at the first
  :math:`p < \alpha`, and how a fixed horizon or a Bonferroni threshold
  restores it.

Normal quantiles come from :class:`statistics.NormalDist` (standard library).

References
----------
Kohavi, Tang & Xu, *Trustworthy Online Controlled Experiments*, Cambridge
University Press, 2020; Chow, Shao & Wang, *Sample Size Calculations in
Clinical Research*, 2nd ed., 2008, section 4.2; Armitage, McPherson & Rowe,
"Repeated significance tests on accumulating data", JRSS A 132(2), 1969;
Johari, Koomen, Pekelis & Walsh, "Peeking at A/B tests", KDD 2017.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from recbook.utils import check_int, check_seed

__all__ = ["ab_sample_size", "simulate_peeking", "two_proportion_ztest"]

_N = NormalDist()


def _check_prob(name: str, p: Any, open_interval: bool = True) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(p).__name__}")
    p = float(p)
    ok = 0.0 < p < 1.0 if open_interval else 0.0 <= p <= 1.0
    if not ok or not math.isfinite(p):
        raise ValueError(f"{name} must lie in {'(0, 1)' if open_interval else '[0, 1]'}, got {p!r}")
    return p


def ab_sample_size(
    p_control: float,
    p_treatment: float,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    pooled: bool = True,
) -> int:
    r"""Users per group needed to detect ``p_control`` -> ``p_treatment``.

    With :math:`\delta = p_B - p_A`, :math:`\bar p = (p_A + p_B)/2`,
    :math:`z_a = \Phi^{-1}(1 - \alpha/2)` (two-sided; :math:`1-\alpha`
    one-sided) and :math:`z_b = \Phi^{-1}(\text{power})`:

    .. math::

        n = \left\lceil \frac{\big(z_a \sqrt{2 \bar p (1 - \bar p)}
              + z_b \sqrt{p_A(1-p_A) + p_B(1-p_B)}\big)^2}{\delta^2} \right\rceil
        \quad\text{(pooled, the default)},

    .. math::

        n = \left\lceil \frac{(z_a + z_b)^2 \,\big(p_A(1-p_A) + p_B(1-p_B)\big)}{\delta^2} \right\rceil
        \quad\text{(unpooled, Chow, Shao \& Wang 2008, 4.2)}.

    The pooled form matches the null variance the z test
    (:func:`two_proportion_ztest`) uses. For small :math:`\delta` both are
    close to Kohavi's rule of thumb :math:`n \approx 16\,\bar p(1-\bar p)/\delta^2`
    (:math:`\alpha = 0.05`, power 0.8). Halving the effect quadruples
    :math:`n`.

    Parameters
    ----------
    p_control, p_treatment : float in (0, 1)
        The two rates (they must differ).
    alpha : float in (0, 1), default 0.05
        False-positive rate of the test.
    power : float in (0, 1), default 0.8
        Probability of detecting the effect when it is real.
    two_sided : bool, default True
    pooled : bool, default True

    Returns
    -------
    int
        Users (or impressions) per group.

    Raises
    ------
    ValueError
        A probability outside (0, 1), or equal rates.

    Examples
    --------
    >>> ab_sample_size(0.65, 0.85, pooled=False)  # Chow, Shao & Wang's example
    70
    """
    pa = _check_prob("p_control", p_control)
    pb = _check_prob("p_treatment", p_treatment)
    alpha = _check_prob("alpha", alpha)
    power = _check_prob("power", power)
    if pa == pb:
        raise ValueError("p_control and p_treatment are equal: no effect to detect")
    za = _N.inv_cdf(1 - alpha / 2) if two_sided else _N.inv_cdf(1 - alpha)
    zb = _N.inv_cdf(power)
    var_alt = pa * (1 - pa) + pb * (1 - pb)
    if pooled:
        pbar = (pa + pb) / 2
        num = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(var_alt)) ** 2
    else:
        num = (za + zb) ** 2 * var_alt
    return int(math.ceil(num / (pb - pa) ** 2 - 1e-9))


def two_proportion_ztest(
    successes_a: Any, n_a: Any, successes_b: Any, n_b: Any, two_sided: bool = True
) -> tuple[Any, Any]:
    r"""Pooled two-proportion z test of :math:`H_0: p_A = p_B`.

    .. math::

        \hat p_A = x_A / n_A,\quad \hat p_B = x_B / n_B,\quad
        \hat p = \frac{x_A + x_B}{n_A + n_B},\qquad
        z = \frac{\hat p_B - \hat p_A}{\sqrt{\hat p (1 - \hat p)\,(1/n_A + 1/n_B)}},

    and :math:`p = 2\,(1 - \Phi(|z|))` (two-sided) or :math:`1 - \Phi(z)`
    (one-sided, :math:`H_1: p_B > p_A`). It is the square root of Pearson's
    :math:`\chi^2` test on the 2x2 table without continuity correction. When
    no one (or everyone) clicked, :math:`z = 0` and :math:`p = 1`.

    Works element-wise on arrays (many experiments at once).

    Parameters
    ----------
    successes_a, n_a, successes_b, n_b : int or array-like of int
        Clicks and impressions of each group (``0 <= successes <= n``, ``n >= 1``).
    two_sided : bool, default True

    Returns
    -------
    (z, p_value)
        Floats for scalar input, arrays otherwise.

    Raises
    ------
    ValueError
        Negative counts, ``n < 1``, or more successes than trials.

    Examples
    --------
    >>> z, p = two_proportion_ztest(100, 1000, 130, 1000)
    >>> round(z, 3), round(p, 4)
    (2.103, 0.0355)
    """
    arrays = [np.asarray(v, dtype=np.float64) for v in (successes_a, n_a, successes_b, n_b)]
    xa, na, xb, nb = np.broadcast_arrays(*arrays)
    if not all(np.all(np.isfinite(v)) for v in (xa, na, xb, nb)):
        raise ValueError("counts must be finite")
    if np.any(na < 1) or np.any(nb < 1):
        raise ValueError("each group needs at least one trial (n >= 1)")
    if np.any(xa < 0) or np.any(xb < 0) or np.any(xa > na) or np.any(xb > nb):
        raise ValueError("successes must lie between 0 and n")
    p_pool = (xa + xb) / (na + nb)
    se = np.sqrt(p_pool * (1 - p_pool) * (1 / na + 1 / nb))
    diff = xb / nb - xa / na
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), 0.0)
    cdf = np.vectorize(_N.cdf, otypes=[float]) if z.ndim else _N.cdf
    if two_sided:
        p = 2 * (1 - cdf(np.abs(z)))
    else:
        p = 1 - cdf(z)
    if z.ndim == 0:
        return float(z), float(p)
    return z, np.asarray(p)


def simulate_peeking(
    p_control: float,
    p_treatment: float | None = None,
    n_per_look: int = 1000,
    n_looks: int = 10,
    n_experiments: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    r"""False-positive (or detection) rate of an A/B test checked repeatedly.

    Each of ``n_experiments`` simulated tests adds ``n_per_look`` users per
    group between looks; at look :math:`l` the z test
    (:func:`two_proportion_ztest`) is run on the :math:`l \cdot n` users so
    far, giving :math:`p_l`. For a plan of :math:`L` looks the function
    reports, over the experiments,

    .. math::

        \text{peeking}(L) &= \Pr\big[\exists\, l \le L : p_l < \alpha\big]
        \quad\text{(stop at the first significant look)},\\
        \text{bonferroni}(L) &= \Pr\big[\exists\, l \le L : p_l < \alpha / L\big],\\
        \text{fixed horizon}(L) &= \Pr\big[p_L < \alpha\big]
        \quad\text{(look once, at the planned end)}.

    Under the null (``p_treatment`` None or equal to ``p_control``) these are
    false-positive rates: peeking's grows with :math:`L` (towards 1 as
    :math:`L \to \infty`, Armitage et al. 1969), the other two stay at or
    below :math:`\alpha`. With a real effect they are the power of each rule.

    Parameters
    ----------
    p_control : float in (0, 1)
        Click rate of control.
    p_treatment : float in (0, 1), optional
        Click rate of treatment (default: ``p_control``, the null).
    n_per_look : int, default 1000
        Users added per group between looks.
    n_looks : int, default 10
        Largest number of looks :math:`L`; rows for :math:`L = 1..` ``n_looks``.
    n_experiments : int, default 2000
        Simulated experiments (the Monte-Carlo error of a rate near 0.05 is
        about :math:`\sqrt{0.05 \cdot 0.95 / n_{\mathrm{exp}}}`).
    alpha : float in (0, 1), default 0.05
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        Columns ``looks, peeking, bonferroni, fixed_horizon``.

    Raises
    ------
    ValueError
        A probability outside (0, 1); a count below 1.

    Examples
    --------
    >>> simulate_peeking(0.1, n_per_look=200, n_looks=3, n_experiments=500).columns.tolist()
    ['looks', 'peeking', 'bonferroni', 'fixed_horizon']
    """
    pa = _check_prob("p_control", p_control)
    pb = pa if p_treatment is None else _check_prob("p_treatment", p_treatment)
    alpha = _check_prob("alpha", alpha)
    n_per_look = check_int("n_per_look", n_per_look)
    n_looks = check_int("n_looks", n_looks)
    n_experiments = check_int("n_experiments", n_experiments)
    rng = np.random.default_rng(check_seed(seed))
    xa = np.cumsum(rng.binomial(n_per_look, pa, size=(n_experiments, n_looks)), axis=1)
    xb = np.cumsum(rng.binomial(n_per_look, pb, size=(n_experiments, n_looks)), axis=1)
    n = n_per_look * np.arange(1, n_looks + 1, dtype=np.float64)
    _, p = two_proportion_ztest(xa, n[None, :], xb, n[None, :])
    min_p = np.minimum.accumulate(p, axis=1)
    rows = []
    for L in range(1, n_looks + 1):
        rows.append({
            "looks": L,
            "peeking": float(np.mean(min_p[:, L - 1] < alpha)),
            "bonferroni": float(np.mean(min_p[:, L - 1] < alpha / L)),
            "fixed_horizon": float(np.mean(p[:, L - 1] < alpha)),
        })
    return pd.DataFrame(rows)
