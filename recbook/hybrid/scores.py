"""Score helpers of the hybrids: put component scores on one scale, interleave ranked lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recbook.base import check_k
from recbook.utils import check_int, check_seed

__all__ = ["normalize_scores", "interleave"]

_NORMALIZERS = ("zscore", "minmax", "none")


def _check_normalize(value: Any) -> str:
    if value not in _NORMALIZERS:
        raise ValueError(f"normalize must be one of {_NORMALIZERS}, got {value!r}")
    return value


def normalize_scores(scores: Any, method: str = "zscore") -> np.ndarray:
    r"""Put each row of a score matrix on a common scale.

    Mixing the scores of different models in one ranking needs a common scale:
    a rating model scores in :math:`[1, 5]`, popularity in counts, a content
    model in cosines. For one user's row :math:`s_1, \dots, s_n` (finite
    entries only; :math:`\pm\infty` entries, e.g. masked items, are kept):

    .. math::

        \text{zscore: } \tilde s_j = \frac{s_j - \bar s}{\sigma_s}, \qquad
        \text{minmax: } \tilde s_j = \frac{s_j - \min_l s_l}{\max_l s_l - \min_l s_l}.

    A constant row (no preference at all, e.g. a model's fallback for an
    unknown user) becomes all zeros, so it adds nothing to a mixture instead
    of producing NaN. recbook's hybrids default to the **z-score**: one
    extreme score (a blockbuster's count) squashes every other min-max score
    towards 0, whereas the z-score measures each item in "standard deviations
    above this user's average item", which is comparable across models and
    robust to the scale and shift of each model's output.

    Parameters
    ----------
    scores : array-like, shape (n_users, n_items)
    method : {"zscore", "minmax", "none"}

    Returns
    -------
    numpy.ndarray
        A new float array of the same shape.

    Examples
    --------
    >>> normalize_scores([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]).round(4).tolist()
    [[-1.2247, 0.0, 1.2247], [0.0, 0.0, 0.0]]
    """
    method = _check_normalize(method)
    s = np.array(scores, dtype=np.float64, copy=True)
    if s.ndim == 1:
        s = s[None, :]
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D (n_users, n_items) array, got shape {s.shape}")
    if method == "none" or s.size == 0:
        return s
    finite = np.isfinite(s)
    n = np.maximum(finite.sum(axis=1), 1)
    vals = np.where(finite, s, 0.0)
    if method == "zscore":
        mean = vals.sum(axis=1) / n
        dev = np.where(finite, s - mean[:, None], 0.0)
        std = np.sqrt((dev**2).sum(axis=1) / n)
        scale = np.maximum(np.abs(mean), 1.0) * 1e-12
        ok = std > scale
        out = np.where(ok[:, None], dev / np.where(ok, std, 1.0)[:, None], 0.0)
    else:
        lo = np.where(finite, s, np.inf).min(axis=1)
        hi = np.where(finite, s, -np.inf).max(axis=1)
        rng = hi - lo
        ok = np.isfinite(rng) & (rng > 0)
        out = np.where(ok[:, None], (vals - np.where(ok, lo, 0.0)[:, None]) / np.where(ok, rng, 1.0)[:, None], 0.0)
    out[~finite] = s[~finite]
    return out


def interleave(
    lists: Sequence[Sequence[Any]],
    k: int | None = None,
    method: str = "round_robin",
    quotas: Sequence[int] | None = None,
    seed: int | np.random.Generator = 0,
    return_sources: bool = False,
) -> list | tuple[list, list]:
    r"""Merge ranked lists into one, without duplicates.

    ``"round_robin"``
        The lists take turns; with ``quotas`` :math:`(q_1, \dots, q_C)` list
        :math:`c` fills :math:`q_c` of every :math:`Q = \sum_c q_c` slots,
        spread evenly (at slot :math:`t` the list with the largest deficit
        :math:`q_c (t+1)/Q - \text{taken}_c` picks, ties to the lower index).
        Equal quotas give plain alternation A, B, A, B, ...
    ``"team_draft"``
        Team-draft interleaving (Radlinski, Kurup & Joachims, 2008): in each
        round the team with fewer picks goes first (ties by a coin flip from
        ``seed``) and every team adds its best item not yet in the list. It
        is the fair interleaving used to compare two rankers online: a click
        credits the team that contributed the item.

    A list whose next item is already taken skips to its next new item; an
    exhausted list drops out.

    Parameters
    ----------
    lists : sequence of sequences
        Ranked lists, best first.
    k : int, optional
        Length of the merged list; default: until every list is exhausted.
    method : {"round_robin", "team_draft"}
    quotas : sequence of int, optional
        Positive slot shares for ``"round_robin"``; default one each.
    seed : int or numpy Generator
        Coin flips of ``"team_draft"``.
    return_sources : bool
        Also return, for each merged item, the index of the list it came from.

    Returns
    -------
    list, or (list, list of int)

    Examples
    --------
    >>> interleave([["a", "b", "c"], ["b", "d", "e"]], k=4)
    ['a', 'b', 'c', 'd']
    >>> interleave([[1, 2, 3, 4, 5], [6, 7, 8]], k=5, quotas=[3, 2])
    [1, 6, 2, 7, 3]
    """
    if method not in ("round_robin", "team_draft"):
        raise ValueError(f"method must be 'round_robin' or 'team_draft', got {method!r}")
    if isinstance(lists, (str, bytes)) or not isinstance(lists, Sequence) or len(lists) == 0:
        raise ValueError("lists must be a non-empty sequence of ranked lists")
    lists = [list(lst.tolist() if isinstance(lst, np.ndarray) else lst) for lst in lists]
    n_lists = len(lists)
    total = len(set().union(*[set(lst) for lst in lists]))
    k = total if k is None else min(check_k(k), total)
    if quotas is None:
        q = np.ones(n_lists)
    else:
        if method != "round_robin":
            raise ValueError("quotas apply to method='round_robin' only; team-draft gives every team one pick a round")
        if len(quotas) != n_lists:
            raise ValueError(f"quotas must have one entry per list ({n_lists}), got {len(quotas)}")
        for j, v in enumerate(quotas):
            check_int(f"quotas[{j}]", v, minimum=1)
        q = np.asarray(quotas, dtype=np.float64)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_seed(seed))
    pos = [0] * n_lists
    taken: set = set()
    out: list = []
    src: list[int] = []

    def next_new(c: int) -> Any:
        lst = lists[c]
        while pos[c] < len(lst) and lst[pos[c]] in taken:
            pos[c] += 1
        return lst[pos[c]] if pos[c] < len(lst) else _EXHAUSTED

    counts = np.zeros(n_lists)
    if method == "round_robin":
        alive = np.ones(n_lists, dtype=bool)
        while len(out) < k and alive.any():
            deficit = np.where(alive, q * (len(out) + 1) / q.sum() - counts, -np.inf)
            c = int(np.argmax(deficit))
            item = next_new(c)
            if item is _EXHAUSTED:
                alive[c] = False
                continue
            taken.add(item)
            out.append(item)
            src.append(c)
            counts[c] += 1
    else:
        while len(out) < k:
            order = np.lexsort((rng.random(n_lists), counts))  # fewer picks first, coin flip on ties
            picked = False
            for c in order:
                if len(out) >= k:
                    break
                item = next_new(int(c))
                if item is _EXHAUSTED:
                    continue
                taken.add(item)
                out.append(item)
                src.append(int(c))
                counts[c] += 1
                picked = True
            if not picked:
                break
    return (out, src) if return_sources else out


class _Exhausted:
    pass


_EXHAUSTED = _Exhausted()
