r"""Item representations for content-based recommendation.

Every builder returns a :class:`FeatureMatrix`: a dense or sparse matrix whose
rows are indexed by item id. The representations of the chapter:

==========================  ===============================================
builder                     representation
==========================  ===============================================
:func:`bag_of_words`        term counts (scikit-learn ``CountVectorizer``)
:func:`tfidf`               TF-IDF, smooth idf, unit rows (``TfidfVectorizer``)
:func:`genre_features`      multi-hot genre indicators
:func:`tag_documents`       one text document per item from a tag table
:func:`numeric_features`    standardised, min-max or radial-basis numbers
:func:`item_popularity`     (log) number of ratings per item
:func:`concat_features`     fusion: weighted concatenation of unit blocks
==========================  ===============================================

Sentence embeddings are in :mod:`recbook.content.embeddings`.

References
----------
P. Lops, M. de Gemmis and G. Semeraro, "Content-based recommender systems:
state of the art and trends", in *Recommender Systems Handbook*, 2011.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "FeatureMatrix",
    "as_feature_matrix",
    "bag_of_words",
    "tfidf",
    "genre_features",
    "tag_documents",
    "numeric_features",
    "item_popularity",
    "concat_features",
]


# ----------------------------------------------------------------------------
# The container
# ----------------------------------------------------------------------------
@dataclass(eq=False, repr=False)
class FeatureMatrix:
    """A feature matrix whose rows are indexed by item id.

    Attributes
    ----------
    ids : pandas.Index
        Item ids, one per row, unique.
    matrix : numpy.ndarray or scipy.sparse.csr_matrix
        ``(len(ids), n_features)`` float64 values, all finite.
    columns : list of str
        Feature names (vocabulary terms, genre names, ...).
    name : str
        A label used in messages and tables.
    vectorizer : object, optional
        The fitted scikit-learn vectoriser or encoder, when there is one.
    """

    ids: pd.Index
    matrix: Any
    columns: list[str] = field(default_factory=list)
    name: str = "features"
    vectorizer: Any = None

    def __post_init__(self) -> None:
        self.ids = pd.Index(self.ids)
        if sp.issparse(self.matrix):
            self.matrix = sp.csr_matrix(self.matrix, dtype=np.float64)
            values = self.matrix.data
        else:
            self.matrix = np.asarray(self.matrix, dtype=np.float64)
            if self.matrix.ndim != 2:
                raise ValueError(f"{self.name}: matrix must be 2-D, got shape {self.matrix.shape}")
            values = self.matrix
        if self.matrix.shape[0] != len(self.ids):
            raise ValueError(
                f"{self.name}: matrix has {self.matrix.shape[0]} rows but ids has {len(self.ids)} entries"
            )
        if not self.ids.is_unique:
            dup = self.ids[self.ids.duplicated()].unique()[:5].tolist()
            raise ValueError(f"{self.name}: item ids must be unique, duplicated: {dup}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{self.name}: matrix holds NaN or infinite values; impute them first")
        if not self.columns:
            self.columns = [f"f{j}" for j in range(self.matrix.shape[1])]
        self.columns = [str(c) for c in self.columns]
        if len(self.columns) != self.matrix.shape[1]:
            raise ValueError(
                f"{self.name}: {len(self.columns)} column names for {self.matrix.shape[1]} columns"
            )

    # -- basic protocol
    @property
    def shape(self) -> tuple[int, int]:
        """``(n_items, n_features)`` of the matrix."""
        return self.matrix.shape

    @property
    def is_sparse(self) -> bool:
        """Whether the matrix is a SciPy sparse matrix."""
        return sp.issparse(self.matrix)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        kind = f"sparse, {self.matrix.nnz:,} non-zeros" if self.is_sparse else "dense"
        return f"FeatureMatrix({self.name!r}: {self.shape[0]:,} items x {self.shape[1]:,} features, {kind})"

    def toarray(self) -> np.ndarray:
        """The matrix as a dense array."""
        return self.matrix.toarray() if self.is_sparse else self.matrix

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame indexed by item id (sparse columns when the matrix is sparse)."""
        if self.is_sparse:
            frame = pd.DataFrame.sparse.from_spmatrix(self.matrix, index=self.ids, columns=self.columns)
        else:
            frame = pd.DataFrame(self.matrix, index=self.ids, columns=self.columns)
        return frame

    def positions(self, items: Any, name: str = "items") -> np.ndarray:
        """Row positions of ``items``; raise ``ValueError`` naming the ids without a row."""
        items = np.asarray(list(items) if not isinstance(items, np.ndarray) else items)
        pos = self.ids.get_indexer(items)
        if np.any(pos < 0):
            missing = items[pos < 0]
            raise ValueError(
                f"{self.name} has no row for {len(missing)} of the {name} "
                f"(e.g. {missing[:10].tolist()}); give a feature vector for every item"
            )
        return pos

    def rows(self, items: Any) -> "FeatureMatrix":
        """The sub-matrix of ``items``, in that order (every item must have a row)."""
        pos = self.positions(items)
        return FeatureMatrix(self.ids[pos], self.matrix[pos], list(self.columns), self.name, self.vectorizer)

    def reindex(self, items: Any) -> "FeatureMatrix":
        """Rows aligned with ``items``; items without a row get a zero row."""
        items = pd.Index(items)
        pos = self.ids.get_indexer(items)
        have = pos >= 0
        n, d = len(items), self.shape[1]
        if self.is_sparse:
            sel = sp.csr_matrix((np.ones(int(have.sum())), (np.flatnonzero(have), pos[have])),
                                shape=(n, len(self.ids)))  # fmt: skip
            mat = sel @ self.matrix
        else:
            mat = np.zeros((n, d))
            mat[have] = self.matrix[pos[have]]
        return FeatureMatrix(items, mat, list(self.columns), self.name, self.vectorizer)


def as_feature_matrix(obj: Any, name: str = "item_features") -> FeatureMatrix:
    """Turn a DataFrame, an ``(ids, matrix)`` pair or a FeatureMatrix into a FeatureMatrix.

    Parameters
    ----------
    obj : FeatureMatrix, pandas.DataFrame or tuple
        A DataFrame indexed by item id with numeric columns (dense or sparse
        dtype), or a pair ``(ids, matrix)`` where ``matrix`` is a NumPy array or
        a SciPy sparse matrix with one row per id.
    name : str
        Argument name for messages.
    """
    if isinstance(obj, FeatureMatrix):
        return obj
    if isinstance(obj, pd.DataFrame):
        if obj.shape[1] == 0:
            raise ValueError(f"{name} has no columns: give at least one feature")
        if all(isinstance(dt, pd.SparseDtype) for dt in obj.dtypes):
            mat = sp.csr_matrix(obj.sparse.to_coo())
        else:
            try:
                mat = obj.to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name} must hold numeric columns only: {exc}") from None
        return FeatureMatrix(obj.index, mat, [str(c) for c in obj.columns], name)
    if isinstance(obj, tuple) and len(obj) == 2:
        ids, mat = obj
        return FeatureMatrix(pd.Index(ids), mat, [], name)
    raise TypeError(
        f"{name} must be a FeatureMatrix, a DataFrame indexed by item id or a pair (ids, matrix), "
        f"got {type(obj).__name__}"
    )


# ----------------------------------------------------------------------------
# Text
# ----------------------------------------------------------------------------
def _texts(texts: Any, ids: Any, name: str = "texts") -> tuple[pd.Index, list[str]]:
    if isinstance(texts, pd.Series):
        index = texts.index if ids is None else pd.Index(ids)
        values = texts.tolist()
    elif isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        raise TypeError(f"{name} must be a pandas Series or a sequence of str, got {type(texts).__name__}")
    else:
        values = list(texts)
        index = pd.RangeIndex(len(values)) if ids is None else pd.Index(ids)
    if len(index) != len(values):
        raise ValueError(f"ids has {len(index)} entries but {name} has {len(values)}")
    if len(values) == 0:
        raise ValueError(f"{name} is empty: give at least one document")
    out = []
    for j, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append("")
        elif isinstance(v, str):
            out.append(v)
        else:
            raise TypeError(f"{name}[{j}] must be a str (or None), got {type(v).__name__}")
    return index, out


def bag_of_words(
    texts: pd.Series | Sequence[str],
    ids: Any = None,
    *,
    lowercase: bool = True,
    stop_words: str | list[str] | None = None,
    ngram_range: tuple[int, int] = (1, 1),
    min_df: int | float = 1,
    max_features: int | None = None,
    binary: bool = False,
    **vectorizer_kwargs: Any,
) -> FeatureMatrix:
    r"""Bag-of-words counts :math:`\mathrm{tf}(t, d)` of every term in every document.

    A thin wrapper around :class:`sklearn.feature_extraction.text.CountVectorizer`:
    row :math:`d` holds the number of times term :math:`t` occurs in document
    :math:`d` (or 1/0 with ``binary=True``). The default tokeniser keeps
    words of two or more letters or digits and lower-cases them.

    Parameters
    ----------
    texts : pandas.Series or sequence of str
        One document per item; a Series' index gives the item ids.
    ids : array-like, optional
        Item ids (default: the Series index, or ``0..n-1``).
    lowercase, stop_words, ngram_range, min_df, max_features, binary
        Passed to ``CountVectorizer``.
    **vectorizer_kwargs
        Any other ``CountVectorizer`` argument.

    Returns
    -------
    FeatureMatrix
        Sparse counts; ``columns`` is the vocabulary, ``vectorizer`` the fitted
        ``CountVectorizer``.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    index, docs = _texts(texts, ids)
    vec = CountVectorizer(
        lowercase=lowercase, stop_words=stop_words, ngram_range=ngram_range,
        min_df=min_df, max_features=max_features, binary=binary, **vectorizer_kwargs,
    )  # fmt: skip
    try:
        mat = vec.fit_transform(docs)
    except ValueError as exc:  # "empty vocabulary"
        raise ValueError(f"bag_of_words found no term in the texts: {exc}") from None
    return FeatureMatrix(index, mat.astype(np.float64), list(vec.get_feature_names_out()), "bag of words", vec)


def tfidf(
    texts: pd.Series | Sequence[str],
    ids: Any = None,
    *,
    lowercase: bool = True,
    stop_words: str | list[str] | None = None,
    ngram_range: tuple[int, int] = (1, 1),
    min_df: int | float = 1,
    max_df: int | float = 1.0,
    max_features: int | None = None,
    sublinear_tf: bool = False,
    **vectorizer_kwargs: Any,
) -> FeatureMatrix:
    r"""TF-IDF vectors, exactly as scikit-learn's ``TfidfVectorizer`` computes them.

    With :math:`n` documents, :math:`\mathrm{tf}(t, d)` the count of term
    :math:`t` in document :math:`d` and :math:`\mathrm{df}(t)` the number of
    documents that contain :math:`t`, scikit-learn's defaults (kept here:
    ``smooth_idf=True``, ``norm="l2"``) give

    .. math::

        \mathrm{idf}(t) = \ln\frac{1 + n}{1 + \mathrm{df}(t)} + 1, \qquad
        w(t, d) = \mathrm{tf}(t, d)\,\mathrm{idf}(t), \qquad
        \mathbf v_d = \frac{\mathbf w_d}{\lVert \mathbf w_d \rVert_2}.

    The "+1" inside the fraction acts as if one extra document contained every
    term (no division by zero); the "+1" after the logarithm keeps terms that
    occur in every document (their idf is 1, not 0). This differs from the
    textbook :math:`\log(n / \mathrm{df}(t))` of Salton's TF-IDF; with
    ``sublinear_tf=True`` the count is replaced by :math:`1 + \ln \mathrm{tf}`.
    Because rows have unit length, the cosine similarity of two documents is
    the dot product of their vectors.

    Parameters
    ----------
    texts : pandas.Series or sequence of str
        One document per item; a Series' index gives the item ids.
    ids : array-like, optional
        Item ids (default: the Series index, or ``0..n-1``).
    lowercase, stop_words, ngram_range, min_df, max_df, max_features, sublinear_tf
        Passed to ``TfidfVectorizer``.
    **vectorizer_kwargs
        Any other ``TfidfVectorizer`` argument (e.g. ``token_pattern``).

    Returns
    -------
    FeatureMatrix
        Sparse unit-length rows (an empty document gives a zero row);
        ``columns`` is the vocabulary, ``vectorizer`` the fitted
        ``TfidfVectorizer`` (its ``idf_`` holds :math:`\mathrm{idf}(t)`).

    References
    ----------
    P. Lops, M. de Gemmis and G. Semeraro, "Content-based recommender systems:
    state of the art and trends", Recommender Systems Handbook, 2011;
    scikit-learn user guide, "Tf-idf term weighting".

    Examples
    --------
    >>> f = tfidf(["red apple", "green apple"], ids=["a", "b"])
    >>> f.columns
    ['apple', 'green', 'red']
    >>> round(float(f.vectorizer.idf_[0]), 4), round(float(f.vectorizer.idf_[1]), 4)  # ln(3/3)+1, ln(3/2)+1
    (1.0, 1.4055)
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    index, docs = _texts(texts, ids)
    vec = TfidfVectorizer(
        lowercase=lowercase, stop_words=stop_words, ngram_range=ngram_range, min_df=min_df,
        max_df=max_df, max_features=max_features, sublinear_tf=sublinear_tf,
        smooth_idf=True, norm="l2", **vectorizer_kwargs,
    )  # fmt: skip
    try:
        mat = vec.fit_transform(docs)
    except ValueError as exc:
        raise ValueError(f"tfidf found no term in the texts: {exc}") from None
    return FeatureMatrix(index, mat.astype(np.float64), list(vec.get_feature_names_out()), "tf-idf", vec)


# ----------------------------------------------------------------------------
# Categorical, tags, numbers
# ----------------------------------------------------------------------------
def genre_features(items: pd.DataFrame | pd.Series, column: str = "genres") -> FeatureMatrix:
    r"""Multi-hot genre vectors: :math:`x_{ig} = 1` if item :math:`i` has genre :math:`g`.

    Parameters
    ----------
    items : pandas.DataFrame or pandas.Series
        Indexed by item id; ``items[column]`` (or the Series) holds a list of
        genre names per item (an empty list for none, as in
        ``recbook.datasets.load(...).items``).
    column : str
        Column holding the genre lists.

    Returns
    -------
    FeatureMatrix
        Dense 0/1 matrix, columns sorted by genre name.
    """
    if isinstance(items, pd.DataFrame):
        if column not in items.columns:
            raise ValueError(f"items has no column {column!r} (columns are {list(items.columns)})")
        series = items[column]
    elif isinstance(items, pd.Series):
        series = items
    else:
        raise TypeError(f"items must be a DataFrame or Series of genre lists, got {type(items).__name__}")
    lists = []
    for item, g in zip(series.index, series):
        if isinstance(g, str) or not isinstance(g, Iterable):
            raise ValueError(f"genres of item {item!r} must be a list of str, got {g!r}")
        lists.append([str(x) for x in g])
    names = sorted({g for row in lists for g in row})
    if not names:
        raise ValueError("no item has a genre: the genre matrix would have no column")
    pos = {g: j for j, g in enumerate(names)}
    mat = np.zeros((len(lists), len(names)))
    for r, row in enumerate(lists):
        for g in row:
            mat[r, pos[g]] = 1.0
    return FeatureMatrix(series.index, mat, names, "genres")


def tag_documents(
    tags: pd.DataFrame,
    index: Any = None,
    item_col: str = "item",
    tag_col: str = "tag",
    lowercase: bool = True,
) -> pd.Series:
    """One text document per item: every tag applied to it, joined by ``" ; "``.

    A tag applied by three users appears three times, so its term frequency
    counts how many people chose it. Feed the result to :func:`tfidf`.

    Parameters
    ----------
    tags : pandas.DataFrame
        A tag table with columns ``item_col`` and ``tag_col`` (e.g.
        ``load("ml-latest-small").tables["tags"]``).
    index : array-like, optional
        Item ids of the result (items without tags get ``""``); default the
        tagged items, sorted.
    item_col, tag_col : str
        Column names.
    lowercase : bool
        Lower-case the tags first (``"Pixar"`` and ``"pixar"`` merge).

    Returns
    -------
    pandas.Series
        Indexed by item id, one str per item.
    """
    if not isinstance(tags, pd.DataFrame):
        raise TypeError(f"tags must be a DataFrame, got {type(tags).__name__}")
    missing = [c for c in (item_col, tag_col) if c not in tags.columns]
    if missing:
        raise ValueError(f"tags is missing column(s) {missing} (columns are {list(tags.columns)})")
    t = tags[[item_col, tag_col]].dropna()
    text = t[tag_col].astype(str).str.strip()
    if lowercase:
        text = text.str.lower()
    docs = text.groupby(t[item_col]).agg(" ; ".join)
    if index is not None:
        docs = docs.reindex(pd.Index(index)).fillna("")
    docs.name = "tags"
    return docs


def numeric_features(
    values: pd.DataFrame | pd.Series,
    columns: Sequence[str] | None = None,
    scaling: str = "standard",
    n_centres: int = 10,
    fill: str | float = "median",
) -> FeatureMatrix:
    r"""Numeric metadata (year, popularity, price...) as item features.

    ``scaling`` chooses the encoding of each column :math:`x`:

    * ``"standard"``: :math:`(x - \bar x) / s_x` (z-score);
    * ``"minmax"``: :math:`(x - \min x) / (\max x - \min x)`;
    * ``"rbf"``: :math:`m` = ``n_centres`` radial-basis features
      :math:`\exp\!\big(-(x - c_k)^2 / (2h^2)\big)` with centres
      :math:`c_1..c_m` evenly spaced from :math:`\min x` to :math:`\max x` and
      width :math:`h = c_2 - c_1`.

    The radial-basis encoding exists for *cosine* similarity. A single
    standardised number is a 1-D vector, and the cosine of two 1-D vectors is
    only their sign agreement (:math:`\pm 1`), which throws the value away;
    with radial-basis features, two items' cosine decays smoothly with the
    distance between their values (1995 is close to 1996, far from 1950).

    Parameters
    ----------
    values : pandas.DataFrame or pandas.Series
        Indexed by item id.
    columns : sequence of str, optional
        Columns to use (default all numeric columns).
    scaling : {"standard", "minmax", "rbf"}
    n_centres : int
        Radial-basis centres per column (``scaling="rbf"``), at least 2.
    fill : "median", "mean" or float
        Replacement for missing values (NaN), per column.

    Returns
    -------
    FeatureMatrix
        Dense; a constant column gives zeros (``standard``/``minmax``) or ones
        at the only centre (``rbf``).
    """
    frame = values.to_frame() if isinstance(values, pd.Series) else values
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"values must be a DataFrame or Series, got {type(values).__name__}")
    if columns is None:
        columns = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    columns = list(columns)
    if not columns:
        raise ValueError("numeric_features needs at least one numeric column")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"values has no column(s) {missing} (columns are {list(frame.columns)})")
    if scaling not in ("standard", "minmax", "rbf"):
        raise ValueError(f"scaling must be 'standard', 'minmax' or 'rbf', got {scaling!r}")
    if scaling == "rbf" and (isinstance(n_centres, bool) or not isinstance(n_centres, (int, np.integer))
                             or n_centres < 2):  # fmt: skip
        raise ValueError(f"n_centres must be an integer >= 2, got {n_centres!r}")
    blocks, names = [], []
    for c in columns:
        try:
            x = frame[c].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"column {c!r} is not numeric") from None
        ok = np.isfinite(x)
        if not ok.any():
            raise ValueError(f"column {c!r} has no finite value")
        if fill == "median":
            fv = float(np.median(x[ok]))
        elif fill == "mean":
            fv = float(np.mean(x[ok]))
        elif isinstance(fill, (int, float, np.integer, np.floating)) and not isinstance(fill, bool):
            fv = float(fill)
        else:
            raise ValueError(f"fill must be 'median', 'mean' or a number, got {fill!r}")
        x = np.where(ok, x, fv)
        lo, hi = float(x.min()), float(x.max())
        if scaling == "standard":
            sd = float(x.std())
            blocks.append(((x - x.mean()) / sd if sd > 0 else np.zeros_like(x))[:, None])
            names.append(str(c))
        elif scaling == "minmax":
            blocks.append(((x - lo) / (hi - lo) if hi > lo else np.zeros_like(x))[:, None])
            names.append(str(c))
        else:
            if hi > lo:
                centres = np.linspace(lo, hi, int(n_centres))
                h = centres[1] - centres[0]
                blocks.append(np.exp(-((x[:, None] - centres[None, :]) ** 2) / (2 * h * h)))
                names.extend(f"{c}~{v:g}" for v in centres)
            else:
                blocks.append(np.ones((len(x), 1)))
                names.append(f"{c}~{lo:g}")
    return FeatureMatrix(frame.index, np.hstack(blocks), names, "numeric")


def item_popularity(ratings: pd.DataFrame, index: Any = None, log: bool = True) -> pd.Series:
    r"""Number of ratings of each item, :math:`\ln(1 + |U_i|)` when ``log``.

    Computed from the frame given (pass the *training* ratings: the test
    ratings must not leak into features). Items in ``index`` without a
    rating get 0 -- which is exactly what a brand-new item looks like.
    """
    if not isinstance(ratings, pd.DataFrame) or "item" not in ratings.columns:
        raise TypeError("ratings must be a DataFrame with an 'item' column")
    counts = ratings["item"].value_counts(sort=False).astype(np.float64)
    if index is not None:
        counts = counts.reindex(pd.Index(index)).fillna(0.0)
    else:
        counts = counts.sort_index()
    out = np.log1p(counts) if log else counts
    out.name = "log_popularity" if log else "popularity"
    return out


# ----------------------------------------------------------------------------
# Fusion by concatenation
# ----------------------------------------------------------------------------
def _unit_rows_any(mat: Any) -> Any:
    if sp.issparse(mat):
        norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1)).ravel())
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sp.csr_matrix(sp.diags(inv) @ mat)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return np.divide(mat, norms, out=np.zeros_like(mat), where=norms > 0)


def concat_features(
    blocks: Mapping[str, Any] | Sequence[Any],
    weights: Mapping[str, float] | Sequence[float] | None = None,
    ids: Any = None,
) -> FeatureMatrix:
    r"""Fuse several representations by concatenating weighted unit-length blocks.

    Each block :math:`m` (text, genres, ...) is first scaled so that every
    row has unit length, :math:`\hat{\mathbf x}^{(m)}_i`, then multiplied by
    :math:`\sqrt{w_m / \sum_l w_l}` and the blocks are placed side by side.
    When item :math:`i` and :math:`j` have a non-zero row in every block, the
    fused vectors have unit length and their cosine is the weighted mean of
    the blocks' cosines:

    .. math::

        \cos(\mathbf x_i, \mathbf x_j)
        = \frac{\sum_m w_m \cos\big(\mathbf x^{(m)}_i, \mathbf x^{(m)}_j\big)}{\sum_m w_m}.

    So "average the similarities" and "concatenate normalised features" are the
    same fusion (equal weights give the plain average). An item with an empty
    block (no tags, say) has a shorter fused vector; cosine renormalises it, so
    its remaining blocks count proportionally more.

    Parameters
    ----------
    blocks : mapping name -> features, or sequence of features
        Each a :class:`FeatureMatrix`, a DataFrame indexed by item id or a pair
        ``(ids, matrix)``.
    weights : mapping or sequence of float, optional
        Non-negative weights, not all zero (default equal weights).
    ids : array-like, optional
        Item ids of the result (default: the union of the blocks' ids, in order
        of first appearance); an item missing from a block gets a zero row
        there.

    Returns
    -------
    FeatureMatrix
        Sparse if any block is sparse, dense otherwise; column names are
        prefixed with the block name.
    """
    if isinstance(blocks, Mapping):
        names = [str(k) for k in blocks]
        mats = [as_feature_matrix(v, f"blocks[{k!r}]") for k, v in blocks.items()]
    else:
        mats = [as_feature_matrix(v, f"blocks[{j}]") for j, v in enumerate(blocks)]
        names = [m.name if m.name else f"b{j}" for j, m in enumerate(mats)]
    if not mats:
        raise ValueError("blocks is empty: give at least one feature block")
    if weights is None:
        w = np.ones(len(mats))
    elif isinstance(weights, Mapping):
        unknown = set(map(str, weights)) - set(names)
        if unknown:
            raise ValueError(f"weights names {sorted(unknown)} are not block names {names}")
        w = np.array([float(weights.get(n, 0.0)) for n in names])
    else:
        w = np.asarray(list(weights), dtype=np.float64)
        if w.shape != (len(mats),):
            raise ValueError(f"weights must have one value per block ({len(mats)}), got {len(w)}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {w.tolist()}")
    w = w / w.sum()
    if ids is None:
        seen: dict = {}
        for m in mats:
            for i in m.ids:
                seen.setdefault(i, None)
        index = pd.Index(list(seen))
    else:
        index = pd.Index(ids)
    parts, cols = [], []
    for name, m, wm in zip(names, mats, w):
        if wm == 0:
            continue
        aligned = m.reindex(index)
        parts.append(_unit_rows_any(aligned.matrix) * np.sqrt(wm))
        cols.extend(f"{name}:{c}" for c in aligned.columns)
    if any(sp.issparse(p) for p in parts):
        mat = sp.hstack([sp.csr_matrix(p) for p in parts], format="csr")
    else:
        mat = np.hstack(parts)
    return FeatureMatrix(index, mat, cols, "+".join(n for n, wm in zip(names, w) if wm > 0))
