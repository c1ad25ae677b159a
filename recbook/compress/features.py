r"""Feature compression: fewer dimensions for a dense feature matrix (chapter 8.4).

A feature matrix :math:`X \in \mathbb{R}^{n \times p}` (one row per item, e.g.
a 384-dimensional sentence embedding) is mapped to :math:`Z = (X - \mu) W`
with :math:`W \in \mathbb{R}^{p \times k}`, :math:`k < p`, fitted on the rows
of the training items only (so a new item is compressed with the same
:math:`W`, never used to fit it):

* ``"pca"``: the :math:`k` leading right singular vectors of the centred
  training rows, the best rank-:math:`k` linear reconstruction
  (Eckart-Young; Pearson 1901);
* ``"random"``: a Gaussian random projection,
  :math:`W_{jl} \sim \mathcal N(0, 1/k)`, independent of the data; by the
  Johnson-Lindenstrauss lemma, :math:`k = O(\log n / \varepsilon^2)`
  dimensions keep all pairwise distances of :math:`n` points within a factor
  :math:`1 \pm \varepsilon` with high probability;
* ``"variance"``: feature *selection*, the :math:`k` coordinates of largest
  variance on the training rows (:math:`W` selects columns).

References
----------
K. Pearson, "On lines and planes of closest fit to systems of points in
space", Philosophical Magazine 2, 1901.
W. B. Johnson and J. Lindenstrauss, "Extensions of Lipschitz mappings into a
Hilbert space", Contemporary Mathematics 26, 1984.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["compress_features"]

METHODS = ("pca", "random", "variance")


def compress_features(
    X: Any, k: int, method: str = "pca", fit_rows: Any = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compress the rows of ``X`` to ``k`` dimensions: ``Z = (X - mu) @ W`` (see the module docstring).

    Parameters
    ----------
    X : array-like, ``(n, p)``
    k : int, ``1 <= k <= p`` (for ``"pca"`` also ``k <=`` the number of fitting rows)
    method : {"pca", "random", "variance"}
    fit_rows : array-like of int or bool, optional
        The rows that fit :math:`\\mu` and :math:`W` (default: all rows).
    seed : int
        The random projection's seed.

    Returns
    -------
    Z : numpy.ndarray ``(n, k)``, W : numpy.ndarray ``(p, k)``, mu : numpy.ndarray ``(p,)``

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 6))
    >>> Z, W, mu = compress_features(X, 2)
    >>> Z.shape, W.shape, bool(np.allclose(W.T @ W, np.eye(2)))
    ((50, 2), (6, 2), True)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X has non-finite entries")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    fit = X if fit_rows is None else X[np.asarray(fit_rows)]
    if fit.ndim != 2 or len(fit) == 0:
        raise ValueError("fit_rows selects no row")
    p = X.shape[1]
    limit = min(p, len(fit)) if method == "pca" else p
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= limit:
        raise ValueError(f"k must be an integer in [1, {limit}], got {k!r}")
    mu = fit.mean(axis=0)
    if method == "pca":
        _, _, vt = np.linalg.svd(fit - mu, full_matrices=False)
        W = vt[:k].T
        W = W * np.where(W[np.abs(W).argmax(axis=0), np.arange(k)] < 0, -1.0, 1.0)  # a fixed sign per direction
    elif method == "random":
        W = np.random.default_rng(seed).normal(scale=1.0 / np.sqrt(k), size=(p, k))
    else:
        keep = np.sort(np.argsort(-fit.var(axis=0), kind="stable")[:k])
        W = np.zeros((p, k))
        W[keep, np.arange(k)] = 1.0
    return (X - mu) @ W, W, mu
