r"""Similarity measures for neighbourhood collaborative filtering.

Every function takes a sparse rating matrix ``ratings`` whose **rows are the
entities to compare** (users for user-based filtering, items for item-based
filtering) and whose stored entries are the observed ratings (an explicitly
stored ``0`` counts as a rating), and returns the dense, symmetric
``(n, n)`` float64 similarity matrix. Everything is computed with a handful
of sparse/dense matrix products, never with a Python loop over pairs.

Notation: for two rows :math:`x` and :math:`x'`, :math:`Y_{xx'}` is the set of
columns both have rated (common items for users, common users for items) and
:math:`n_{xx'} = |Y_{xx'}|` its size, the *support*.

The four measures of Surprise (:func:`cosine`, :func:`msd`, :func:`pearson`,
:func:`pearson_baseline`) follow ``surprise/similarities.pyx`` exactly:

* sums run over the common columns :math:`Y_{xx'}` only (for *every* term,
  including the norms and the means);
* a pair with support below ``min_support`` gets similarity 0;
* the diagonal is 1 (Surprise sets it unconditionally, "completely
  arbitrary and useless anyway"), whatever the support.

The products are arranged so that, with ratings that are multiples of a
power of two (MovieLens' whole and half stars), every sum is exact in
floating point and the result is bitwise identical to Surprise's loops.

:func:`jaccard` and :func:`adjusted_cosine` are recbook extras that Surprise
does not have.

Where Surprise would raise ``ZeroDivisionError`` (a zero norm in
:func:`cosine` or :func:`pearson_baseline`, which needs a row of zeros or of
exact baseline fits), recbook returns similarity 0 instead.

References
----------
.. [1] N. Hug, "Surprise: a Python library for recommender systems", JOSS
   5(52), 2020 (``similarities.pyx``).
.. [2] B. Sarwar, G. Karypis, J. Konstan, J. Riedl, "Item-based
   collaborative filtering recommendation algorithms", WWW 2001.
.. [3] Y. Koren, "Factor in the neighbors: scalable and accurate
   collaborative filtering", ACM TKDD 4(1), 2010.
.. [4] Y. Koren, R. Bell, "Advances in collaborative filtering", in
   *Recommender Systems Handbook*, 2011/2022, section 5.4.1 (shrinkage).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "cosine",
    "msd",
    "pearson",
    "pearson_baseline",
    "jaccard",
    "adjusted_cosine",
    "SIMILARITIES",
]

# ---------------------------------------------------------------- helpers
def _check_ratings(ratings: Any) -> sp.csr_matrix:
    """Validate the rating matrix and return a canonical CSR copy."""
    if not sp.issparse(ratings):
        raise TypeError(
            "ratings must be a scipy.sparse matrix (rows = entities to compare, stored "
            f"entries = observed ratings), got {type(ratings).__name__}; build one with "
            "scipy.sparse.csr_matrix((r, (rows, cols)))"
        )
    if ratings.ndim != 2:
        raise ValueError(f"ratings must be two-dimensional, got shape {ratings.shape}")
    if ratings.shape[0] == 0:
        raise ValueError(f"ratings has no rows (shape {ratings.shape}): nothing to compare")
    x = sp.csr_matrix(ratings, dtype=np.float64, copy=True)
    x.sum_duplicates()
    if not np.all(np.isfinite(x.data)):
        bad = int((~np.isfinite(x.data)).sum())
        raise ValueError(f"ratings has {bad} NaN or infinite stored value(s); drop or impute them first")
    return x


def _check_min_support(min_support: Any) -> int:
    if isinstance(min_support, bool) or not isinstance(min_support, (int, np.integer)) or min_support < 0:
        raise ValueError(f"min_support must be a non-negative integer, got {min_support!r}")
    return int(min_support)


def _indicator(x: sp.csr_matrix) -> sp.csr_matrix:
    b = x.copy()
    b.data = np.ones_like(b.data)
    return b


def _with_data(x: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    out = x.copy()
    out.data = np.asarray(data, dtype=np.float64)
    return out


def _gram(a: sp.csr_matrix, b: sp.csr_matrix | np.ndarray) -> np.ndarray:
    r"""Dense :math:`A B^\top` of two ``(n, m)`` matrices, ``A`` sparse.

    ``b`` may be given already as the dense ``(m, n)`` array :math:`B^\top`.
    Sparse times dense costs ``nnz(A) * n`` multiply-adds, far less than a
    dense product at recommender densities; sums of integer-valued terms are
    exact whatever the order.
    """
    bt = b if isinstance(b, np.ndarray) else b.T.toarray()
    return np.asarray(a @ bt)


def _supported(freq: np.ndarray, min_support: int) -> np.ndarray:
    """Mask of the pairs with enough common columns (and at least one)."""
    return freq >= max(min_support, 1)


def _finish(sim: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Zero ``sim`` outside ``ok`` (in place) and set the diagonal to 1.

    The products are exactly symmetric (each entry sums the same terms in
    the same column order), so no mirroring is needed.
    """
    np.logical_not(ok, out=ok)
    np.copyto(sim, 0.0, where=ok)
    np.fill_diagonal(sim, 1.0)
    return sim


def _cosine_of(e: sp.csr_matrix, min_support: int, shrinkage: float | None = None) -> np.ndarray:
    r"""Cosine of the stored values over the common columns, optionally shrunk."""
    b = _indicator(e)
    bt = b.T.toarray()
    e2 = _with_data(e, e.data**2)
    prods = _gram(e, e)
    sqi = _gram(e2, bt)
    freq = _gram(b, bt)
    den = sqi * sqi.T
    np.sqrt(den, out=den)
    ok = _supported(freq, min_support)
    ok &= den != 0
    np.divide(prods, den, out=prods, where=ok)
    if shrinkage is not None:
        freq -= 1.0
        den = freq + shrinkage
        np.divide(freq, den, out=freq, where=ok)
        prods *= freq
    return _finish(prods, ok)


# ---------------------------------------------------- Surprise's measures
def cosine(ratings: sp.spmatrix, min_support: int = 1) -> np.ndarray:
    r"""Cosine similarity over the common columns (Surprise's ``cosine``).

    .. math::

        \mathrm{cos}(x, x') = \frac{\sum_{y \in Y_{xx'}} r_{xy}\, r_{x'y}}
        {\sqrt{\sum_{y \in Y_{xx'}} r_{xy}^2}\,\sqrt{\sum_{y \in Y_{xx'}} r_{x'y}^2}}

    Note that the norms are restricted to the common columns too, so two users
    who rated their only common movie 1 and 5 have cosine 1.

    With :math:`R` the rating matrix and :math:`B` its 0/1 indicator, the
    four sums are :math:`R R^\top`, :math:`R^{\circ 2} B^\top`,
    :math:`B (R^{\circ 2})^\top` and the support :math:`B B^\top`.

    Parameters
    ----------
    ratings : scipy.sparse matrix, shape (n, m)
        Rows are the entities to compare; stored entries are ratings.
    min_support : int, default 1
        Pairs with fewer common columns get similarity 0.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Symmetric, diagonal 1; 0 where a norm is 0 (Surprise would raise).
    """
    x = _check_ratings(ratings)
    min_support = _check_min_support(min_support)
    return _cosine_of(x, min_support)


def msd(ratings: sp.spmatrix, min_support: int = 1) -> np.ndarray:
    r"""Mean-squared-difference similarity (Surprise's ``msd``).

    .. math::

        \mathrm{msd}(x, x') = \frac{1}{n_{xx'}} \sum_{y \in Y_{xx'}} (r_{xy} - r_{x'y})^2,
        \qquad
        \mathrm{sim}(x, x') = \frac{1}{\mathrm{msd}(x, x') + 1}

    The sum of squared differences is expanded as
    :math:`\sum r_{xy}^2 + \sum r_{x'y}^2 - 2 \sum r_{xy} r_{x'y}`, i.e.
    :math:`R^{\circ 2} B^\top + B (R^{\circ 2})^\top - 2 R R^\top` (exact for
    integer or half-star ratings). The similarity lies in :math:`(0, 1]` and
    is 1 for two rows that agree on every common column.

    Parameters
    ----------
    ratings : scipy.sparse matrix, shape (n, m)
    min_support : int, default 1

    Returns
    -------
    numpy.ndarray, shape (n, n)
    """
    x = _check_ratings(ratings)
    min_support = _check_min_support(min_support)
    b = _indicator(x)
    x2 = _with_data(x, x.data**2)
    bt = b.T.toarray()
    prods = _gram(x, x)
    sqi = _gram(x2, bt)
    freq = _gram(b, bt)
    sq_diff = prods
    sq_diff *= -2.0
    sq_diff += sqi
    sq_diff += sqi.T
    ok = _supported(freq, min_support)
    np.divide(sq_diff, freq, out=sq_diff, where=ok)  # mean squared difference
    sq_diff += 1.0
    sim = np.divide(1.0, sq_diff, out=sq_diff, where=ok)
    return _finish(sim, ok)


def pearson(ratings: sp.spmatrix, min_support: int = 1) -> np.ndarray:
    r"""Pearson correlation with means over the **common** columns (Surprise's ``pearson``).

    .. math::

        \rho(x, x') = \frac{\sum_{y \in Y_{xx'}} (r_{xy} - \bar r_{x})(r_{x'y} - \bar r_{x'})}
        {\sqrt{\sum_{y \in Y_{xx'}} (r_{xy} - \bar r_{x})^2}
         \sqrt{\sum_{y \in Y_{xx'}} (r_{x'y} - \bar r_{x'})^2}},
        \qquad \bar r_x = \frac{1}{n_{xx'}} \sum_{y \in Y_{xx'}} r_{xy}

    where, unlike many textbooks, :math:`\bar r_x` is the mean of :math:`x`'s
    ratings *on the common columns only* (so it changes with the partner
    :math:`x'`). Expanding the sums gives Surprise's closed form

    .. math::

        \rho = \frac{n \sum r r' - \sum r \sum r'}
        {\sqrt{(n \sum r^2 - (\sum r)^2)(n \sum r'^2 - (\sum r')^2)}},

    with :math:`n = n_{xx'}`, computable from :math:`R R^\top`,
    :math:`R B^\top`, :math:`R^{\circ 2} B^\top` and :math:`B B^\top`. A zero
    denominator (a constant row on the common columns) gives 0.

    Parameters
    ----------
    ratings : scipy.sparse matrix, shape (n, m)
    min_support : int, default 1

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Values in :math:`[-1, 1]`, diagonal 1.
    """
    x = _check_ratings(ratings)
    min_support = _check_min_support(min_support)
    b = _indicator(x)
    x2 = _with_data(x, x.data**2)
    bt = b.T.toarray()
    prods = _gram(x, x)
    si = _gram(x, bt)  # sum of r_xy over the common columns
    sqi = _gram(x2, bt)
    freq = _gram(b, bt)
    sj = si.T
    num = freq * prods
    num -= si * sj
    var_i = freq * sqi
    var_i -= si**2
    den = var_i * var_i.T  # (n sum r^2 - (sum r)^2)(n sum r'^2 - (sum r')^2)
    np.maximum(den, 0.0, out=den)  # >= 0 up to rounding; guards sqrt(-tiny)
    np.sqrt(den, out=den)
    ok = _supported(freq, min_support)
    ok &= den != 0
    sim = np.divide(num, den, out=num, where=ok)
    return _finish(sim, ok)


def _fit_biases(x: sp.csr_matrix, user_based: bool) -> tuple[float, np.ndarray, np.ndarray]:
    """Global mean, row biases and column biases of ``x`` with :class:`BaselineOnly` (ALS)."""
    import pandas as pd

    from recbook.baselines import BaselineOnly

    coo = x.tocoo()
    rows, cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
    users, items = (rows, cols) if user_based else (cols, rows)
    frame = pd.DataFrame({"user": users, "item": items, "rating": coo.data})
    model = BaselineOnly().fit(frame)
    bu = np.zeros(x.shape[0] if user_based else x.shape[1])
    bi = np.zeros(x.shape[1] if user_based else x.shape[0])
    bu[model.user_ids_] = model.bu_
    bi[model.item_ids_] = model.bi_
    return (model.global_mean_, bu, bi) if user_based else (model.global_mean_, bi, bu)


def pearson_baseline(
    ratings: sp.spmatrix,
    min_support: int = 1,
    shrinkage: float = 100.0,
    baseline: tuple[float, np.ndarray, np.ndarray] | None = None,
    user_based: bool = True,
) -> np.ndarray:
    r"""Shrunk Pearson-baseline correlation (Surprise's ``pearson_baseline``).

    Ratings are centred on the baseline estimate
    :math:`b_{xy} = \mu + b_x + b_y` (:class:`recbook.baselines.BaselineOnly`)
    instead of on means; the correlation of the residuals over the common
    columns is then shrunk towards 0 when the support is small:

    .. math::

        \hat\rho_{xx'} = \frac{\sum_{y \in Y_{xx'}} (r_{xy} - b_{xy})(r_{x'y} - b_{x'y})}
        {\sqrt{\sum_{y \in Y_{xx'}} (r_{xy} - b_{xy})^2}\sqrt{\sum_{y \in Y_{xx'}} (r_{x'y} - b_{x'y})^2}},
        \qquad
        \mathrm{sim}(x, x') = \frac{n_{xx'} - 1}{n_{xx'} - 1 + \lambda}\, \hat\rho_{xx'}

    with shrinkage :math:`\lambda` (100 by default). As in Surprise the
    effective minimum support is :math:`\max(2, \text{min\_support})`.

    Parameters
    ----------
    ratings : scipy.sparse matrix, shape (n, m)
    min_support : int, default 1
    shrinkage : float, default 100
        :math:`\lambda \ge 0`; 0 means no shrinkage.
    baseline : (float, array, array), optional
        ``(mu, row_biases, column_biases)``. When omitted, they are fitted
        with :class:`~recbook.baselines.BaselineOnly` (ALS, Surprise's
        defaults), for which the code needs to know which side the users are.
    user_based : bool, default True
        Whether the rows of ``ratings`` are users (``True``) or items; used
        only to fit the baseline (``reg_u``/``reg_i`` differ).

    Returns
    -------
    numpy.ndarray, shape (n, n)

    References
    ----------
    Koren (2010), section 2.2; Koren & Bell, *Recommender Systems Handbook*,
    section 5.4.1.
    """
    x = _check_ratings(ratings)
    min_support = max(2, _check_min_support(min_support))
    if isinstance(shrinkage, bool) or not isinstance(shrinkage, (int, float, np.integer, np.floating)) or not (
        np.isfinite(shrinkage) and shrinkage >= 0
    ):
        raise ValueError(f"shrinkage must be a finite non-negative number, got {shrinkage!r}")
    if baseline is None:
        mu, bx, by = _fit_biases(x, bool(user_based))
    else:
        try:
            mu, bx, by = baseline
        except (TypeError, ValueError):
            raise ValueError(
                "baseline must be a tuple (global_mean, row_biases, column_biases), "
                f"got {type(baseline).__name__}"
            ) from None
        mu = float(mu)
        bx = np.asarray(bx, dtype=np.float64)
        by = np.asarray(by, dtype=np.float64)
        if bx.shape != (x.shape[0],) or by.shape != (x.shape[1],):
            raise ValueError(
                f"baseline biases must have shapes ({x.shape[0]},) and ({x.shape[1]},) to match "
                f"ratings {x.shape}, got {bx.shape} and {by.shape}"
            )
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    # the same association as Surprise: r - ((mu + b_y) + b_x)
    resid = x.data - ((mu + by[x.indices]) + bx[rows])
    return _cosine_of(_with_data(x, resid), min_support, float(shrinkage))


# ----------------------------------------------------------- recbook extras
def jaccard(ratings: sp.spmatrix, min_support: int = 1) -> np.ndarray:
    r"""Jaccard similarity of the rated sets (a recbook extra, not in Surprise).

    .. math::

        J(x, x') = \frac{|Y_x \cap Y_{x'}|}{|Y_x \cup Y_{x'}|}
        = \frac{n_{xx'}}{|Y_x| + |Y_{x'}| - n_{xx'}}

    Rating values are ignored (only *who* interacted with *what*), which
    makes it the natural choice for implicit feedback.

    Parameters
    ----------
    ratings : scipy.sparse matrix, shape (n, m)
    min_support : int, default 1

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Values in :math:`[0, 1]`, diagonal 1.
    """
    x = _check_ratings(ratings)
    min_support = _check_min_support(min_support)
    b = _indicator(x)
    freq = _gram(b, b)
    size = np.diff(x.indptr).astype(np.float64)
    union = size[:, None] + size[None, :]
    union -= freq
    ok = _supported(freq, min_support)
    sim = np.divide(freq, union, out=union, where=ok)
    return _finish(sim, ok)


def adjusted_cosine(ratings: sp.spmatrix, min_support: int = 1) -> np.ndarray:
    r"""Adjusted cosine (Sarwar et al. 2001; a recbook extra, not in Surprise).

    Designed for item-item similarity: each rating is first centred on the
    mean of the *column* entity (for items compared over users, the user's
    mean :math:`\bar r_u` over all the user's ratings), which removes each
    user's personal rating scale; then the cosine is taken over the common
    columns:

    .. math::

        \mathrm{sim}(i, j) = \frac{\sum_{u \in U_{ij}} (r_{ui} - \bar r_u)(r_{uj} - \bar r_u)}
        {\sqrt{\sum_{u \in U_{ij}} (r_{ui} - \bar r_u)^2}\sqrt{\sum_{u \in U_{ij}} (r_{uj} - \bar r_u)^2}}

    The difference from :func:`pearson` on items is the centring: Pearson
    subtracts the *item's* mean, which leaves the user's scale in place.
    Given a user-by-item matrix (rows = users) it centres on item means.

    Parameters
    ----------
    ratings : scipy.sparse matrix, shape (n, m)
        For item-item similarity, rows are items and columns users.
    min_support : int, default 1

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Values in :math:`[-1, 1]`, diagonal 1; 0 where a centred norm is 0.

    References
    ----------
    Sarwar, Karypis, Konstan & Riedl, "Item-based collaborative filtering
    recommendation algorithms", WWW 2001, section 3.1.3.
    """
    x = _check_ratings(ratings)
    min_support = _check_min_support(min_support)
    col_sum = np.bincount(x.indices, x.data, minlength=x.shape[1])
    col_n = np.bincount(x.indices, minlength=x.shape[1])
    col_mean = col_sum / np.maximum(col_n, 1)
    resid = x.data - col_mean[x.indices]
    return _cosine_of(_with_data(x, resid), min_support)


#: Name -> function, the names accepted by :class:`recbook.cf.KNN`.
SIMILARITIES = {
    "cosine": cosine,
    "msd": msd,
    "pearson": pearson,
    "pearson_baseline": pearson_baseline,
    "jaccard": jaccard,
    "adjusted_cosine": adjusted_cosine,
}
