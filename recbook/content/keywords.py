r"""Keyword-based recommendation: items and users described by sets of keywords.

The oldest content-based recommenders (Pazzani & Billsus, 2007) describe an
item by a few *keywords* -- its most characteristic terms -- and a user by the
keywords of the items they liked; an item is recommended when its keywords
overlap the user's. :func:`item_keywords` picks each item's keywords from a
weighted term matrix (e.g. TF-IDF), and :class:`KeywordRecommender` ranks
items by the Jaccard overlap between the two keyword sets.

References
----------
M. J. Pazzani and D. Billsus, "Content-based recommendation systems", in
*The Adaptive Web*, LNCS 4321, 2007; P. Lops, M. de Gemmis and G. Semeraro,
"Content-based recommender systems: state of the art and trends", in
*Recommender Systems Handbook*, 2011.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recbook.base import Recommender, top_k
from recbook.content.features import as_feature_matrix
from recbook.utils import InstanceOf, Integer, check_int, check_number

__all__ = ["item_keywords", "KeywordRecommender"]


def item_keywords(features: Any, n: int = 5, min_weight: float = 0.0) -> pd.Series:
    r"""The ``n`` highest-weighted terms of every item: its keywords.

    For item :math:`i` with term weights :math:`w(t, i)` (a row of a TF-IDF
    matrix, say), the keywords are

    .. math::

        \mathcal W_i = \operatorname{top}_n \{\, t : w(t, i) > w_{\min} \,\},

    largest weight first; equal weights keep the column (vocabulary) order,
    the book's one tie rule (:func:`recbook.base.top_k`). An item with fewer
    than ``n`` terms above ``min_weight`` gets fewer keywords.

    Parameters
    ----------
    features : FeatureMatrix, DataFrame or (ids, matrix)
        Non-negative term weights, one row per item, columns named by term
        (e.g. :func:`recbook.content.tfidf`).
    n : int
        Keywords per item (a positive integer).
    min_weight : float
        Only terms with a weight above this (>= 0) count.

    Returns
    -------
    pandas.Series
        Indexed by item id; each value a tuple of keywords (str).

    Examples
    --------
    >>> from recbook.content import tfidf
    >>> item_keywords(tfidf(["red apple pie", "green apple"], ids=["a", "b"]), n=2).tolist()
    [('pie', 'red'), ('green', 'apple')]
    """
    f = as_feature_matrix(features, "features")
    n = check_int("n", n)
    min_weight = check_number("min_weight", min_weight)
    mat = f.toarray()
    if mat.min(initial=0.0) < 0:
        raise ValueError("features must be non-negative term weights (counts, TF-IDF, tags...)")
    terms = np.asarray(f.columns, dtype=object)
    out = []
    for start in range(0, len(mat), 2048):
        block = mat[start : start + 2048]
        top = top_k(block, min(n, block.shape[1]))
        for row, cols in zip(block, top):
            out.append(tuple(str(t) for t in terms[cols[row[cols] > min_weight]]))
    return pd.Series(out, index=f.ids, name="keywords", dtype=object)


def _keyword_matrix(keywords: Any) -> tuple[pd.Index, sp.csr_matrix, list[str]]:
    """Item ids, binary item x keyword matrix (vocabulary sorted) from a Series/mapping of keyword lists."""
    if isinstance(keywords, pd.Series):
        pairs = list(zip(keywords.index, keywords.tolist()))
    elif isinstance(keywords, Mapping):
        pairs = list(keywords.items())
    else:
        raise TypeError(
            f"keywords must be a pandas Series or a mapping item id -> keywords, got {type(keywords).__name__}"
        )
    if not pairs:
        raise ValueError("keywords is empty: give the keywords of at least one item")
    lists = []
    for item, kw in pairs:
        if kw is None or (isinstance(kw, float) and np.isnan(kw)):
            kw = ()
        if isinstance(kw, str) or not isinstance(kw, Iterable):
            raise TypeError(f"the keywords of item {item!r} must be a list of str, got {kw!r}")
        lists.append(sorted({str(t) for t in kw}))
    vocab = sorted({t for row in lists for t in row})
    pos = {t: j for j, t in enumerate(vocab)}
    rows = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
    cols = np.array([pos[t] for row in lists for t in row], dtype=np.int64)
    mat = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(lists), max(len(vocab), 1)))
    ids = pd.Index([item for item, _ in pairs])
    if not ids.is_unique:
        raise ValueError(f"keywords has duplicated item ids, e.g. {ids[ids.duplicated()][:5].tolist()}")
    return ids, mat, vocab


class KeywordRecommender(Recommender):
    r"""Rank items by the Jaccard overlap of their keywords with the user's keyword profile.

    Each item :math:`i` has a keyword set :math:`\mathcal W_i` (e.g. from
    :func:`item_keywords`). User :math:`u`'s *keyword profile* :math:`\mathcal W_u`
    is the ``n_keywords`` keywords that occur most often among the items
    :math:`u` liked, :math:`I_u^+ = \{j \in I_u : r_{uj} \ge \bar r_u\}` (all
    of :math:`I_u` if that set is empty):

    .. math::

        c_{ut} = \sum_{j \in I_u^+} \mathbb 1[t \in \mathcal W_j], \qquad
        \mathcal W_u = \operatorname{top}_{n} \{\, t : c_{ut} > 0 \,\},

    (ties by keyword, alphabetically), and the score of item :math:`i` is

    .. math::

        \operatorname{score}(u, i) = J(\mathcal W_u, \mathcal W_i) = \frac{|\mathcal W_u \cap \mathcal W_i|}{|\mathcal W_u \cup \mathcal W_i|}

    (0 when both sets are empty). It is a ranking model: the score is not a
    rating and is not clipped. As for :class:`recbook.content.ContentKNN`,
    the catalogue is the training items followed by every item of
    ``keywords`` without a rating (new items are ranked too); an unknown
    user, or an item without keywords, scores 0.

    Parameters
    ----------
    keywords : pandas.Series or mapping
        Item id -> iterable of keywords (str).
    n_keywords : int
        Size of the user's keyword profile (a positive integer).

    Attributes
    ----------
    vocabulary_ : list of str
        Every keyword, sorted.
    user_keywords_ : scipy.sparse.csr_matrix
        Binary ``(n_users_, len(vocabulary_))`` profile sets :math:`\mathcal W_u`.
    n_train_items_ : int
        Items with a training rating (the first ``n_train_items_`` of ``item_ids_``).

    References
    ----------
    M. J. Pazzani and D. Billsus, "Content-based recommendation systems",
    *The Adaptive Web*, 2007; P. Jaccard, "Étude comparative de la
    distribution florale dans une portion des Alpes et des Jura", 1901.

    Examples
    --------
    >>> kw = pd.Series({1: ["space", "war"], 2: ["space", "robot"], 3: ["love", "paris"]})
    >>> train = pd.DataFrame({"user": ["a", "a"], "item": [1, 3], "rating": [5.0, 2.0]})
    >>> m = KeywordRecommender(kw, n_keywords=3).fit(train)
    >>> [round(float(x), 4) for x in m.predict(["a", "a"], [2, 3])]  # {space, war} vs {robot, space}
    [0.3333, 0.0]
    """

    _rating_model = False
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "keywords": [InstanceOf(pd.Series, Mapping, what="a Series or mapping item id -> keywords")],
        "n_keywords": [Integer(min=1)],
    }

    def __init__(self, keywords: Any, n_keywords: int = 20) -> None:
        self.keywords = keywords
        self.n_keywords = n_keywords

    @classmethod
    def _example(cls, data: Any) -> "KeywordRecommender":
        return cls(data.items["genres"].map(lambda g: [x.lower() for x in g]), n_keywords=3)

    def _extra_items(self, frame: pd.DataFrame) -> pd.Index:
        self._keyword_table = _keyword_matrix(self.keywords)
        ids = self._keyword_table[0]
        return ids[~ids.isin(pd.unique(frame["item"]))]

    def _fit(self, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> None:
        n_kw = int(self.n_keywords)
        ids, mat, vocab = self._keyword_table
        pos = ids.get_indexer(self.item_ids_)  # -1: a rated item without keywords (an empty set)
        mat = sp.vstack([mat, sp.csr_matrix((1, mat.shape[1]))], format="csr")  # the empty row
        rows = np.where(pos >= 0, pos, mat.shape[0] - 1)
        self.vocabulary_ = vocab
        self._items = sp.csr_matrix(mat[rows])
        self._item_sizes = np.asarray(self._items.sum(axis=1)).ravel()
        # liked items: rated at or above the user's mean (all rated items when none)
        last = pd.DataFrame({"u": u, "i": i, "r": r}).drop_duplicates(["u", "i"], keep="last")
        uu, ii, rr = (last[c].to_numpy() for c in ("u", "i", "r"))
        counts = np.bincount(uu, minlength=self.n_users_)
        mean = np.bincount(uu, rr, minlength=self.n_users_) / np.maximum(counts, 1)
        liked = rr >= mean[uu] - 1e-12
        liked |= np.bincount(uu, liked, minlength=self.n_users_)[uu] == 0
        likes = sp.csr_matrix((np.ones(int(liked.sum())), (uu[liked], ii[liked])), shape=(self.n_users_, self.n_items_))
        c = np.asarray((likes @ self._items).todense())
        top = top_k(c, min(n_kw, c.shape[1]))
        keep = np.take_along_axis(c, top, axis=1) > 0
        rows_u = np.repeat(np.arange(self.n_users_), top.shape[1]).reshape(top.shape)
        self.user_keywords_ = sp.csr_matrix(
            (np.ones(int(keep.sum())), (rows_u[keep], top[keep])), shape=(self.n_users_, c.shape[1])
        )
        self._profile_counts = sp.csr_matrix(
            (np.take_along_axis(c, top, axis=1)[keep], (rows_u[keep], top[keep])), shape=(self.n_users_, c.shape[1])
        )
        self._user_sizes = np.asarray(self.user_keywords_.sum(axis=1)).ravel()

    def _jaccard(self, inter: np.ndarray, su: np.ndarray, si: np.ndarray) -> np.ndarray:
        union = su + si - inter
        return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        est = np.zeros(len(u))
        ok = np.flatnonzero((u >= 0) & (i >= 0))
        if len(ok):
            inter = np.asarray(self.user_keywords_[u[ok]].multiply(self._items[i[ok]]).sum(axis=1)).ravel()
            est[ok] = self._jaccard(inter, self._user_sizes[u[ok]], self._item_sizes[i[ok]])
        return est

    def _score_users(self, u: np.ndarray) -> np.ndarray:
        out = np.zeros((len(u), self.n_items_))
        known = np.flatnonzero(u >= 0)
        if len(known):
            inter = np.asarray((self.user_keywords_[u[known]] @ self._items.T).todense())
            out[known] = self._jaccard(inter, self._user_sizes[u[known]][:, None], self._item_sizes[None, :])
        return out

    def profile(self, user: Any) -> pd.Series:
        r"""The keyword profile :math:`\mathcal W_u` of a training user with the counts :math:`c_{ut}`, most frequent first."""
        self._check_fitted()
        uu = int(self.user_index([user])[0])
        if uu < 0:
            raise ValueError(f"user {user!r} is not a training user")
        row = self._profile_counts[uu]
        order = np.lexsort((row.indices, -row.data))  # count descending, then alphabetical
        return pd.Series(row.data[order].astype(np.int64), index=[self.vocabulary_[j] for j in row.indices[order]],
                         name="liked items with the keyword")
