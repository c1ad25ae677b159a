"""recbook.compress.features.compress_features (chapter 8.4): PCA against scikit-learn, the random
projection's distances, variance selection, fitting on a subset, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from recbook.compress.features import compress_features


def _data(n=120, p=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, p)) * np.linspace(3, 0.2, p) + rng.normal(size=p)


def test_pca_matches_scikit_learn_up_to_sign():
    X = _data()
    Z, W, mu = compress_features(X, 3, "pca")
    ref = PCA(n_components=3).fit_transform(X)
    np.testing.assert_allclose(np.abs(Z), np.abs(ref), atol=1e-8)
    np.testing.assert_allclose(W.T @ W, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(mu, X.mean(0))


def test_fit_rows_only_fit_the_map():
    X = _data()
    Z, W, mu = compress_features(X, 2, "pca", fit_rows=np.arange(60))
    Z2, W2, mu2 = compress_features(X[:60], 2, "pca")
    np.testing.assert_allclose(W, W2)
    np.testing.assert_allclose(Z[60:], (X[60:] - mu2) @ W2)


def test_variance_selects_the_widest_columns():
    X = _data()
    Z, W, _ = compress_features(X, 4, "variance")
    np.testing.assert_allclose(Z, X[:, :4] - X[:, :4].mean(0))  # the columns were built with decreasing scale
    assert set(np.flatnonzero(W.sum(1))) == {0, 1, 2, 3}


def test_random_projection_keeps_distances_roughly():
    X = np.random.default_rng(1).normal(size=(40, 400))
    Z, W, _ = compress_features(X, 200, "random", seed=3)
    d_x = np.linalg.norm(X[:, None] - X[None], axis=-1)[np.triu_indices(40, 1)]
    d_z = np.linalg.norm(Z[:, None] - Z[None], axis=-1)[np.triu_indices(40, 1)]
    ratio = d_z / d_x
    assert 0.7 < ratio.min() and ratio.max() < 1.3
    assert np.array_equal(compress_features(X, 200, "random", seed=3)[1], W)


@pytest.mark.parametrize(
    "args",
    [((np.ones((3, 2)), 0)), ((np.ones((3, 2)), 3)), ((np.ones(3), 1)), ((np.ones((3, 2)), 1, "svd")),
     ((np.array([[1.0, np.nan]]), 1)), ((np.ones((3, 2)), 1.5))],
)
def test_bad_input(args):
    with pytest.raises(ValueError):
        compress_features(*args)


def test_pca_k_limited_by_fitting_rows():
    with pytest.raises(ValueError):
        compress_features(_data(), 5, "pca", fit_rows=np.arange(3))
