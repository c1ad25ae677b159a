"""Tests for recbook.cf.similarity: formulas, Surprise agreement, edge cases, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recbook.cf import similarity as S

SURPRISE_NAMES = ("cosine", "msd", "pearson", "pearson_baseline")
ALL_NAMES = SURPRISE_NAMES + ("jaccard", "adjusted_cosine")


def random_ratings(n_rows=25, n_cols=30, density=0.35, seed=0, half=False):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_rows, n_cols)) < density
    values = rng.integers(1, 6, size=(n_rows, n_cols)).astype(float)
    if half:
        values -= 0.5 * rng.integers(0, 2, size=values.shape)
    rows, cols = np.nonzero(mask)
    return sp.csr_matrix((values[rows, cols], (rows, cols)), shape=(n_rows, n_cols))


def common(x, a, b):
    """Ratings of rows a and b on their common columns (brute force)."""
    da, db = x[a].toarray().ravel(), x[b].toarray().ravel()
    ma = np.zeros(x.shape[1], bool)
    mb = np.zeros(x.shape[1], bool)
    ma[x[a].indices] = True
    mb[x[b].indices] = True
    both = ma & mb
    return da[both], db[both]


def brute(name, x, min_support=1, shrinkage=100.0, baseline=None):
    """Pair-by-pair reference implementation written from the textbook formulas."""
    n = x.shape[0]
    out = np.eye(n)
    if name == "adjusted_cosine":
        col_mean = np.asarray(x.sum(axis=0)).ravel() / np.maximum(np.diff(x.tocsc().indptr), 1)
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            ra, rb = common(x, a, b)
            m = len(ra)
            need = max(2, min_support) if name == "pearson_baseline" else min_support
            if m == 0 or m < need:
                out[a, b] = 0.0
                continue
            if name == "cosine":
                out[a, b] = ra @ rb / np.sqrt((ra @ ra) * (rb @ rb))
            elif name == "msd":
                out[a, b] = 1.0 / (np.mean((ra - rb) ** 2) + 1.0)
            elif name == "pearson":
                ca, cb = ra - ra.mean(), rb - rb.mean()
                den = np.sqrt((ca @ ca) * (cb @ cb))
                out[a, b] = 0.0 if den == 0 else ca @ cb / den
            elif name == "pearson_baseline":
                mu, bx, by = baseline
                cols = np.intersect1d(x[a].indices, x[b].indices)
                ea = ra - (mu + bx[a] + by[cols])
                eb = rb - (mu + bx[b] + by[cols])
                out[a, b] = ea @ eb / np.sqrt((ea @ ea) * (eb @ eb)) * (m - 1) / (m - 1 + shrinkage)
            elif name == "jaccard":
                out[a, b] = m / len(np.union1d(x[a].indices, x[b].indices))
            elif name == "adjusted_cosine":
                cols = np.intersect1d(x[a].indices, x[b].indices)
                ea, eb = ra - col_mean[cols], rb - col_mean[cols]
                den = np.sqrt((ea @ ea) * (eb @ eb))
                out[a, b] = 0.0 if den == 0 else ea @ eb / den
    return out


def some_baseline(x, seed=3):
    rng = np.random.default_rng(seed)
    return 3.5, rng.normal(0, 0.3, x.shape[0]), rng.normal(0, 0.3, x.shape[1])


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("min_support", [1, 3])
def test_matches_brute_force(name, min_support):
    x = random_ratings(half=True)
    kw = {"baseline": some_baseline(x), "shrinkage": 7.0} if name == "pearson_baseline" else {}
    got = S.SIMILARITIES[name](x, min_support=min_support, **kw)
    ref = brute(name, x, min_support=min_support, shrinkage=7.0, baseline=kw.get("baseline"))
    assert got.shape == (x.shape[0], x.shape[0]) and got.dtype == np.float64
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_symmetric_unit_diagonal(name):
    x = random_ratings(seed=5)
    sim = S.SIMILARITIES[name](x, min_support=4)
    assert np.array_equal(sim, sim.T)  # exactly, not just approximately
    assert np.all(np.diag(sim) == 1.0)
    assert np.all(np.isfinite(sim))


@pytest.mark.parametrize("name", SURPRISE_NAMES)
@pytest.mark.parametrize("min_support", [1, 2, 5])
def test_matches_surprise_similarities(name, min_support):
    sims = pytest.importorskip("surprise.similarities")
    x = random_ratings(n_rows=30, n_cols=40, density=0.3, seed=11)
    coo = x.tocoo()
    # Surprise's yr: for each column, the (row, rating) list
    yr = {c: [] for c in range(x.shape[1])}
    for r, c, v in zip(coo.row, coo.col, coo.data):
        yr[int(c)].append((int(r), float(v)))
    args = [x.shape[0], yr, min_support]
    kw = {}
    if name == "pearson_baseline":
        mu, bx, by = some_baseline(x)
        args += [mu, bx, by, 10.0]
        kw = {"baseline": (mu, bx, by), "shrinkage": 10.0}
    ref = getattr(sims, name)(*args)
    got = S.SIMILARITIES[name](x, min_support=min_support, **kw)
    if name == "pearson_baseline":
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)
    else:  # integer ratings: every sum is exact, so the results are bitwise equal
        np.testing.assert_array_equal(got, ref)


def test_hand_computed_values():
    # users (rows) x items (cols)
    x = sp.csr_matrix(np.array([[5.0, 3.0, 0.0, 1.0], [4.0, 0.0, 0.0, 1.0], [1.0, 1.0, 5.0, 5.0]]))
    # users 0 and 1 share items 0 and 3: (5,4) and (1,1)
    assert S.msd(x)[0, 1] == pytest.approx(1 / ((1 + 0) / 2 + 1))
    assert S.cosine(x)[0, 1] == pytest.approx((20 + 1) / np.sqrt(26 * 17))
    assert S.pearson(x)[0, 1] == pytest.approx(1.0)  # (5,1) vs (4,1): perfectly correlated
    assert S.jaccard(x)[0, 1] == pytest.approx(2 / 3)
    assert S.jaccard(x)[0, 2] == pytest.approx(3 / 4)
    # min_support: users 0 and 1 have 2 common items
    assert S.msd(x, min_support=3)[0, 1] == 0.0
    assert S.msd(x, min_support=2)[0, 1] > 0.0


def test_explicit_zero_is_a_rating():
    x = sp.csr_matrix((np.array([0.0, 0.0, 2.0]), (np.array([0, 1, 1]), np.array([0, 0, 1]))), shape=(2, 2))
    assert x.nnz == 3
    assert S.jaccard(x)[0, 1] == pytest.approx(0.5)
    assert S.msd(x)[0, 1] == pytest.approx(1.0)  # they agree on their one common item
    assert S.cosine(x)[0, 1] == 0.0  # zero norm -> 0 instead of a division error


def test_no_common_columns_is_zero():
    x = sp.csr_matrix(np.array([[5.0, 0.0], [0.0, 5.0]]))
    for name in ALL_NAMES:
        kw = {"baseline": (5.0, np.zeros(2), np.zeros(2))} if name == "pearson_baseline" else {}
        sim = S.SIMILARITIES[name](x, min_support=0, **kw)
        assert sim[0, 1] == 0.0, name


def test_pearson_uses_common_means():
    # on the common items (0, 1) user 1 is a shifted copy of user 0 -> rho = 1,
    # although the overall means would differ a lot because of item 2
    x = sp.csr_matrix(np.array([[1.0, 2.0, 5.0], [3.0, 4.0, 0.0]]))
    assert S.pearson(x)[0, 1] == pytest.approx(1.0)
    # constant on the common items -> zero denominator -> 0
    y = sp.csr_matrix(np.array([[3.0, 3.0], [1.0, 5.0]]))
    assert S.pearson(y)[0, 1] == 0.0


def test_pearson_baseline_support_and_shrinkage():
    x = random_ratings(seed=2)
    base = some_baseline(x)
    no_shrink = S.pearson_baseline(x, shrinkage=0, baseline=base)
    shrunk = S.pearson_baseline(x, shrinkage=50, baseline=base)
    freq = (x != 0).astype(float) @ (x != 0).astype(float).T
    freq = freq.toarray()
    off = ~np.eye(x.shape[0], dtype=bool)
    assert np.all(no_shrink[off & (freq == 1)] == 0.0)  # effective min_support 2
    ok = off & (freq >= 2)
    np.testing.assert_allclose(shrunk[ok], no_shrink[ok] * (freq[ok] - 1) / (freq[ok] - 1 + 50), atol=1e-14)
    assert np.all(np.abs(shrunk[off]) <= np.abs(no_shrink[off]) + 1e-15)


def test_pearson_baseline_fits_biases_with_baselineonly():
    import pandas as pd

    from recbook.baselines import BaselineOnly

    x = random_ratings(seed=4)
    coo = x.tocoo()
    frame = pd.DataFrame({"user": coo.row, "item": coo.col, "rating": coo.data})
    bl = BaselineOnly().fit(frame)
    bu = np.zeros(x.shape[0])
    bi = np.zeros(x.shape[1])
    bu[bl.user_ids_] = bl.bu_
    bi[bl.item_ids_] = bl.bi_
    np.testing.assert_allclose(
        S.pearson_baseline(x), S.pearson_baseline(x, baseline=(bl.global_mean_, bu, bi)), atol=1e-14
    )
    # rows are items: the biases swap roles
    xt = x.T.tocsr()
    np.testing.assert_allclose(
        S.pearson_baseline(xt, user_based=False),
        S.pearson_baseline(xt, baseline=(bl.global_mean_, bi, bu)),
        atol=1e-14,
    )


def test_adjusted_cosine_removes_user_scale():
    # items x users: adding a constant to every rating of one user (a column)
    # leaves the adjusted cosine unchanged, but not the plain cosine
    x = random_ratings(n_rows=12, n_cols=20, density=0.6, seed=8)
    shifted = x.tocsc(copy=True)
    start, stop = shifted.indptr[3], shifted.indptr[4]
    shifted.data[start:stop] += 2.0
    shifted = shifted.tocsr()
    np.testing.assert_allclose(S.adjusted_cosine(shifted), S.adjusted_cosine(x), atol=1e-12)
    assert not np.allclose(S.cosine(shifted), S.cosine(x))


def test_accepts_other_sparse_formats_and_sums_duplicates():
    x = random_ratings(seed=9)
    np.testing.assert_array_equal(S.msd(x.tocoo()), S.msd(x))
    np.testing.assert_array_equal(S.msd(x.tocsc()), S.msd(x))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("name", ALL_NAMES)
def test_rejects_dense_input(name):
    with pytest.raises(TypeError, match="ratings must be a scipy.sparse"):
        S.SIMILARITIES[name](np.ones((3, 3)))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_rejects_nan_and_empty(name):
    x = sp.csr_matrix(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(ValueError, match="NaN"):
        S.SIMILARITIES[name](x)
    with pytest.raises(ValueError, match="no rows"):
        S.SIMILARITIES[name](sp.csr_matrix((0, 4)))


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True, None])
def test_rejects_bad_min_support(bad):
    with pytest.raises(ValueError, match="min_support"):
        S.msd(random_ratings(), min_support=bad)


@pytest.mark.parametrize("bad", [-1.0, np.inf, "a", None])
def test_rejects_bad_shrinkage(bad):
    with pytest.raises(ValueError, match="shrinkage"):
        S.pearson_baseline(random_ratings(), shrinkage=bad)


def test_rejects_bad_baseline():
    x = random_ratings()
    with pytest.raises(ValueError, match="baseline biases must have shapes"):
        S.pearson_baseline(x, baseline=(3.0, np.zeros(2), np.zeros(x.shape[1])))
    with pytest.raises(ValueError, match="baseline must be a tuple"):
        S.pearson_baseline(x, baseline=3.0)
