r"""Evaluation: metrics on a split, the book's named protocols, and spread.

* :mod:`recbook.evaluate.core` -- one fitted model on one split:
  :func:`evaluate_ratings` (RMSE/MAE), :func:`evaluate_topk` (the full-ranking
  top-K protocol), :func:`evaluate_new_items` (ranking new items),
  :func:`evaluate_topk_sampled` (the sampled protocol, kept to teach why it
  misleads) and :func:`cross_validate`.
* :mod:`recbook.evaluate.protocols` -- the book's named protocols
  (:data:`PROTOCOLS`: ``rating``, ``topk``, ``cold-items``, ``cold-users``,
  ``sequential``), each with its data set, split, seeds, relevance rule and K.
* :mod:`recbook.evaluate.stats` -- :func:`summarize` (mean and std over
  seeds), :func:`paired_bootstrap` (is a difference on one split real?) and
  :func:`pareto_front` (which variants no other beats on both size and quality).
* :mod:`recbook.evaluate.beyond` -- :func:`topk_confusion` (top-K lists as yes/no predictions: accuracy, micro precision,
  recall, F1) and :func:`satisfied_share` (share of users with at least m hits).
* :mod:`recbook.evaluate.abtest` -- online tests: :func:`ab_sample_size`, :func:`two_proportion_ztest`,
  :func:`simulate_peeking`.

References
----------
Cremonesi, Koren & Turrin, "Performance of recommender algorithms on top-N
recommendation tasks", RecSys 2010; Krichene & Rendle, "On sampled metrics
for item recommendation", KDD 2020.
"""

from __future__ import annotations

from recbook.evaluate.core import (
    RATING_METRICS,
    cross_validate,
    evaluate_new_items,
    evaluate_ratings,
    evaluate_topk,
    evaluate_topk_sampled,
)
from recbook.evaluate.protocols import PROTOCOLS, Protocol, Tuned, get_protocol, is_rating_model
from recbook.evaluate.stats import format_mean_std, paired_bootstrap, pareto_front, summarize
from recbook.evaluate.abtest import ab_sample_size, simulate_peeking, two_proportion_ztest
from recbook.evaluate.beyond import satisfied_share, topk_confusion

__all__ = [
    "RATING_METRICS",
    "ab_sample_size",
    "pareto_front",
    "satisfied_share",
    "simulate_peeking",
    "topk_confusion",
    "two_proportion_ztest",
    "PROTOCOLS",
    "Protocol",
    "Tuned",
    "cross_validate",
    "evaluate_new_items",
    "evaluate_ratings",
    "evaluate_topk",
    "evaluate_topk_sampled",
    "format_mean_std",
    "get_protocol",
    "is_rating_model",
    "paired_bootstrap",
    "summarize",
]
