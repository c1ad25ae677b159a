r"""How large is a difference? Mean and spread over seeds, and the paired bootstrap.

Two numbers from one split are not enough to rank two models: on MovieLens
100K the split seed alone moves NDCG@10 by about as much as the gaps many
papers report. The book therefore reports every ranking of models either as
mean :math:`\pm` standard deviation over the seeds of a named protocol
(:func:`summarize`), or with a paired test on one split
(:func:`paired_bootstrap`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recbook.utils import check_fraction, check_int, check_seed

__all__ = ["paired_bootstrap", "summarize", "format_mean_std", "pareto_front"]

_STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": lambda x: x.mean(axis=-1),
    "rmse": lambda x: np.sqrt(x.mean(axis=-1)),
}


def paired_bootstrap(
    a: Any,
    b: Any,
    statistic: str | Callable[[np.ndarray], np.ndarray] = "mean",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    r"""Paired bootstrap confidence interval of :math:`S(a) - S(b)`.

    ``a`` and ``b`` hold one value per test unit for two models, *aligned*
    (the same users, or the same test ratings, in the same order): per-user
    NDCG@10 from :func:`recbook.evaluate.evaluate_topk` with
    ``return_per_user=True``, or squared errors per test rating. The units
    are resampled with replacement ``n_boot`` times, the *same* resample for
    both models, and the statistic :math:`S` is recomputed on each:

    .. math::

        \Delta^{*}_b = S(a_{I_b}) - S(b_{I_b}), \qquad
        I_b \sim \mathrm{Uniform}\{1..n\}^n, \quad b = 1..B .

    The interval is the :math:`(1-c)/2` and :math:`(1+c)/2` percentiles of
    :math:`\Delta^*`. Pairing removes the variation both models share (some
    users are simply hard), so the interval is much narrower than two
    separate intervals would be. It covers the sampling of *test units* for
    this split only; another split or another training seed moves both
    models too (use :func:`summarize` over a protocol's seeds for that).

    Parameters
    ----------
    a, b : array-like, shape (n,)
        Per-unit values of the two models, aligned.
    statistic : {"mean", "rmse"} or callable
        ``"mean"`` for per-user metrics, ``"rmse"`` for squared errors (the
        square root of their mean). A callable gets an ``(m, n)`` array and
        must reduce its last axis.
    n_boot : int, default 1000
        Bootstrap resamples :math:`B`.
    confidence : float, default 0.95
        Coverage :math:`c` of the interval, in (0, 1).
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    dict
        ``difference`` (:math:`S(a) - S(b)` on the full data), ``low`` and
        ``high`` (the interval), ``p_below`` and ``p_above`` (fractions of
        resamples with :math:`\Delta^* < 0` and :math:`> 0`) and ``n``.

    References
    ----------
    B. Efron and R. Tibshirani, *An Introduction to the Bootstrap*, 1993;
    T. Sakai, "Statistical significance, power, and sample sizes", SIGIR 2016.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if len(a) != len(b):
        raise ValueError(f"a and b must be aligned (same length), got {len(a)} and {len(b)}")
    if len(a) == 0:
        raise ValueError("a and b are empty: nothing to compare")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("a and b must be finite (drop NaN units from both first)")
    if isinstance(statistic, str):
        if statistic not in _STATISTICS:
            raise ValueError(f"statistic must be one of {sorted(_STATISTICS)} or a callable, got {statistic!r}")
        stat = _STATISTICS[statistic]
    elif callable(statistic):
        stat = statistic
    else:
        raise TypeError(f"statistic must be a name or a callable, got {type(statistic).__name__}")
    n_boot = check_int("n_boot", n_boot)
    confidence = check_fraction("confidence", confidence)
    rng = np.random.default_rng(check_seed(seed))
    n = len(a)
    diffs = np.empty(n_boot)
    chunk = max(1, 2_000_000 // n)  # bound the index block to about 16 MB
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        idx = rng.integers(0, n, size=(stop - start, n))
        diffs[start:stop] = np.asarray(stat(a[idx])) - np.asarray(stat(b[idx]))
    tail = (1.0 - confidence) / 2.0
    return {
        "difference": float(stat(a[None, :])[0] - stat(b[None, :])[0]),
        "low": float(np.quantile(diffs, tail)),
        "high": float(np.quantile(diffs, 1.0 - tail)),
        "p_below": float(np.mean(diffs < 0)),
        "p_above": float(np.mean(diffs > 0)),
        "n": n,
    }


def summarize(
    results: pd.DataFrame, metrics: Sequence[str] | None = None, by: str = "model"
) -> pd.DataFrame:
    """Mean and sample standard deviation of each metric over seeds, per model.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results, one row per (model, seed), as
        :meth:`recbook.evaluate.Protocol.run` returns them.
    metrics : sequence of str, optional
        Columns to summarise (default: every numeric column but ``seed``).
    by : str, default "model"
        The grouping column; groups keep their order of first appearance.

    Returns
    -------
    pandas.DataFrame
        Index: the groups; columns: a two-level index ``(metric, "mean" |
        "std")`` plus ``("n_seeds", "")``. The std is the sample standard
        deviation (``ddof=1``) over seeds; it is NaN for a single seed.
    """
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a DataFrame, got {type(results).__name__}")
    if by not in results.columns:
        raise ValueError(f"results has no column {by!r} (columns: {list(results.columns)})")
    if metrics is None:
        metrics = [c for c in results.columns if c not in (by, "seed") and pd.api.types.is_numeric_dtype(results[c])]
    missing = [m for m in metrics if m not in results.columns]
    if missing:
        raise ValueError(f"results has no column(s) {missing}")
    grouped = results.groupby(by, sort=False)[list(metrics)]
    mean, std = grouped.mean(), grouped.std(ddof=1)
    out = pd.concat({m: pd.DataFrame({"mean": mean[m], "std": std[m]}) for m in metrics}, axis=1)
    out[("n_seeds", "")] = results.groupby(by, sort=False).size()
    return out


def format_mean_std(summary: pd.DataFrame, decimals: int = 4) -> pd.DataFrame:
    """``"mean ± std"`` strings, one column per metric, from :func:`summarize`'s output."""
    decimals = check_int("decimals", decimals, minimum=0)
    metrics = [m for m in summary.columns.get_level_values(0).unique() if m != "n_seeds"]
    out = pd.DataFrame(index=summary.index)
    for m in metrics:
        mean, std = summary[(m, "mean")], summary[(m, "std")]
        out[m] = [
            f"{mu:.{decimals}f}" + ("" if np.isnan(sd) else f" ± {sd:.{decimals}f}") for mu, sd in zip(mean, std)
        ]
    return out


def pareto_front(cost: Any, quality: Any) -> np.ndarray:
    r"""Which variants are on the Pareto front of low cost and high quality.

    Variant :math:`i` is *dominated* when another variant :math:`j` is at
    least as good on both axes and strictly better on one,
    :math:`c_j \le c_i,\ q_j \ge q_i` and :math:`(c_j, q_j) \ne (c_i, q_i)`;
    the front is the set of variants no other dominates. In chapter 8 the cost
    is a model's saved bytes and the quality its NDCG@10: a compression method
    off the front is beaten, for its size, by another.

    Parameters
    ----------
    cost, quality : array-like of numbers, the same length
        Lower cost and higher quality are better.

    Returns
    -------
    numpy.ndarray of bool
        ``True`` for the variants on the front (ties: every copy of an
        undominated point is on it).

    Examples
    --------
    >>> pareto_front([1, 2, 3, 2], [0.1, 0.3, 0.2, 0.25]).tolist()
    [True, True, False, False]
    """
    c = np.asarray(cost, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if c.ndim != 1 or q.ndim != 1 or len(c) != len(q):
        raise ValueError(f"cost and quality must be 1-D and of one length, got shapes {c.shape} and {q.shape}")
    if len(c) == 0:
        raise ValueError("no variants")
    if not (np.isfinite(c).all() and np.isfinite(q).all()):
        raise ValueError("cost and quality must be finite")
    no_worse = (c[None, :] <= c[:, None]) & (q[None, :] >= q[:, None])  # [i, j]: j at least as good as i
    better = (c[None, :] < c[:, None]) | (q[None, :] > q[:, None])
    return ~(no_worse & better).any(axis=1)
