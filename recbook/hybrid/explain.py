"""Explanations for hybrid recommendations: each component's share of an item's score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from recbook.base import Recommender, check_k
from recbook.hybrid.adaptive import AdaptiveHybrid
from recbook.hybrid.switching import SwitchingHybrid
from recbook.hybrid.weighted import WeightedHybrid

__all__ = ["explain_hybrid"]


def explain_hybrid(hybrid: Recommender, user: Any, k: int = 10, names: Sequence[str] | None = None) -> pd.DataFrame:
    r"""Why each item of a user's list is there: every component's share of its score.

    For the hybrids that mix per-user normalised component scores
    (:class:`WeightedHybrid`, :class:`SwitchingHybrid`,
    :class:`AdaptiveHybrid`), the score of item :math:`i` for user :math:`u` is

    .. math::

        s_{ui} = \sum_m w_m(u, i)\, \tilde s^{(m)}_{ui},

    with :math:`w_m` the fixed weight, the switch (1 for the model that serves
    the pair, 0 for the other) or the gate's weight, and :math:`\tilde
    s^{(m)}_{ui}` component :math:`m`'s score standardised over the user's
    row (:func:`~recbook.hybrid.normalize_scores`). Each term :math:`w_m \tilde s^{(m)}_{ui}`
    is that component's *contribution*; they add up to the score exactly.
    The component with the largest contribution is the one that put the item
    in the list (the ``source``); its own rank of the item (among the user's
    unseen items) says whether it would have recommended the item alone. The
    evidence behind a component's score comes from the component itself,
    e.g. :meth:`recbook.content.ContentKNN.explain` (the user's rated items
    most similar in content).

    Parameters
    ----------
    hybrid : WeightedHybrid, SwitchingHybrid or AdaptiveHybrid
        A fitted hybrid.
    user : hashable
        A raw user id.
    k : int
        Length of the list to explain (``hybrid.recommend([user], k)``).
    names : sequence of str, optional
        One name per component (default: their class names).

    Returns
    -------
    pandas.DataFrame
        One row per recommended item, best first: ``rank, item, score,
        source``, then for each component ``<name> weight``, ``<name> score``
        (normalised), ``<name> contribution`` and ``<name> rank`` (1 = the
        component's own first choice).

    Raises
    ------
    TypeError
        ``hybrid`` is not one of the three score-mixing hybrids.
    ValueError
        ``names`` does not hold one distinct name per component.

    References
    ----------
    N. Tintarev and J. Masthoff, "A survey of explanations in recommender
    systems", ICDE Workshops 2007.
    """
    if not isinstance(hybrid, (WeightedHybrid, SwitchingHybrid, AdaptiveHybrid)):
        raise TypeError(
            "explain_hybrid explains WeightedHybrid, SwitchingHybrid and AdaptiveHybrid (hybrids that add "
            f"weighted component scores), got {type(hybrid).__name__}"
        )
    hybrid._check_fitted()
    comps = hybrid._fitted_components()
    if names is None:
        names = [type(m).__name__ for m in comps]
        if len(set(names)) < len(names):
            names = [f"{n} {j}" for j, n in enumerate(names)]
    else:
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise TypeError(f"names must be a sequence of str, got {type(names).__name__}")
        names = [str(n) for n in names]
        if len(names) != len(comps) or len(set(names)) != len(names):
            raise ValueError(f"names must hold {len(comps)} distinct names, one per component, got {names!r}")
    recs = hybrid.recommend([user], k=check_k(k))
    u = hybrid.user_index([user])
    cols = hybrid.item_index(recs["item"].to_numpy())
    W, Z = hybrid._score_parts(u)
    W, Z = W[0], Z[0]
    contrib = np.where(W == 0, 0.0, W * np.where(np.isfinite(Z), Z, 0.0))
    out = pd.DataFrame({"rank": recs["rank"].to_numpy(), "item": recs["item"].to_numpy(),
                        "score": recs["score"].to_numpy()})  # fmt: skip
    out["source"] = np.asarray(names)[np.argmax(contrib[cols], axis=1)] if len(cols) else []
    for m, name in enumerate(names):
        own = hybrid._seen_mask(u, hybrid._comp_scores(m, u))[0]
        own = np.where(np.isnan(own), -np.inf, own)
        idx = np.arange(len(own))
        ranks = [int(np.sum(own > own[c]) + np.sum((own == own[c]) & (idx < c)) + 1) for c in cols]
        out[f"{name} weight"] = W[cols, m]
        out[f"{name} score"] = Z[cols, m]
        out[f"{name} contribution"] = contrib[cols, m]
        out[f"{name} rank"] = ranks
    return out
