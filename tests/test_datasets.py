"""Tests for recbook.datasets: real-data counts, synthetic data, and the
download -> verify -> extract path (served locally; no test uses the network)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import stat
import threading
import time
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recbook import datasets
from recbook.datasets import (
    ChecksumError,
    DatasetError,
    DatasetNotFoundError,
    DatasetSpec,
    UnsafeArchiveError,
    load,
    ml100k_folds,
    synthetic,
)

NAMES = ["ml-100k", "ml-latest-small", "lastfm-2k", "filmtrust", "amazon-instruments"]


# ----------------------------------------------------------------------------
# Real data (RECBOOK_DATA points at the verified copies)
# ----------------------------------------------------------------------------
@pytest.fixture
def real_data(monkeypatch, tmp_path):
    root = os.environ.get("RECBOOK_DATA")
    if not root:
        pytest.skip("RECBOOK_DATA is not set: real-data tests need the verified copies (CI sets ../shared/data)")
    # The cache must not be used: point it at an empty folder and forbid downloads.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "_download", _no_download)
    return Path(root)


def _no_download(url, dest):
    raise AssertionError(f"unexpected download of {url}")


def _assert_canonical(ratings: pd.DataFrame, id_dtype, timestamp: bool) -> None:
    expected = ["user", "item", "rating"] + (["timestamp"] if timestamp else [])
    assert list(ratings.columns) == expected
    assert ratings["rating"].dtype == np.float64
    if id_dtype is int:
        assert ratings["user"].dtype == np.int64 and ratings["item"].dtype == np.int64
    else:
        assert ratings["user"].map(type).eq(str).all() and ratings["item"].map(type).eq(str).all()
    if timestamp:
        assert ratings["timestamp"].dtype == np.int64
    assert isinstance(ratings.index, pd.RangeIndex)


def test_ml100k_counts_items_users(real_data):
    load("ml-100k")  # warm the OS cache, then time a load
    t0 = time.perf_counter()
    ds = load("ml-100k")
    assert time.perf_counter() - t0 < 1.0
    r = ds.ratings
    _assert_canonical(r, int, timestamp=True)
    assert len(r) == 100_000 and r["user"].nunique() == 943 and r["item"].nunique() == 1682
    # source file order (u.data is not sorted): first and last lines of the file
    assert r.iloc[0].tolist() == [196, 242, 3.0, 881250949]
    assert r.iloc[-1].tolist() == [12, 203, 3.0, 879959583]
    assert not r["user"].is_monotonic_increasing
    assert set(r["rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    items = ds.items
    assert len(items) == 1682 and items.index.name == "item"
    assert items.loc[1, "title"] == "Toy Story"
    assert items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    assert items.loc[1, "year"] == 1995.0
    assert items.loc[267, "genres"] == [] and np.isnan(items.loc[267, "year"])
    assert items["year"].isna().sum() == 1
    assert all(isinstance(g, list) for g in items["genres"])
    assert "Ã" not in "".join(items["title"])  # latin-1 decoded, e.g. "Café"
    assert len(ds.users) == 943 and list(ds.users.columns) == ["age", "gender", "occupation", "zip"]
    assert ds.users.loc[1].tolist() == [24, "M", "technician", "85711"]
    assert ds.feedback == "explicit" and ds.rating_scale == (1.0, 5.0)
    s = ds.stats()
    assert (s["users"], s["items"], s["interactions"]) == (943, 1682, 100_000)
    assert s["density"] == pytest.approx(100_000 / (943 * 1682))
    assert "943 users" in repr(ds) and "1,682 items" in repr(ds)


def test_ml100k_folds(real_data):
    folds = ml100k_folds()
    assert len(folds) == 5
    full = load("ml-100k").ratings
    tests = []
    for train, test in folds:
        _assert_canonical(train, int, timestamp=True)
        assert (len(train), len(test)) == (80_000, 20_000)
        key = lambda f: set(zip(f["user"], f["item"]))  # noqa: E731
        assert not key(train) & key(test)
        tests.append(test)
    union = pd.concat(tests)
    assert set(zip(union["user"], union["item"])) == set(zip(full["user"], full["item"]))


def test_ml_latest_small(real_data):
    ds = load("ml-latest-small")
    r = ds.ratings
    _assert_canonical(r, int, timestamp=True)
    assert len(r) == 100_836 and r["user"].nunique() == 610
    assert r.iloc[0].tolist() == [1, 1, 4.0, 964982703]
    assert set(r["rating"].unique()) == set(np.arange(0.5, 5.01, 0.5))
    items = ds.items
    assert len(items) == 9742
    assert items.loc[1, "title"] == "Toy Story" and items.loc[1, "year"] == 1995.0
    assert items.loc[1, "genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert items.loc[143410, "genres"] == []  # "(no genres listed)"
    assert np.isnan(items.loc[140956, "year"])  # "Ready Player One" has no year in the title
    assert not items["title"].str.contains(r"\(\d{4}\)$").any()
    assert len(ds.tables["tags"]) == 3683 and list(ds.tables["tags"].columns) == ["user", "item", "tag", "timestamp"]
    assert len(ds.tables["links"]) == 9742 and ds.tables["links"].loc[0, "imdbId"] == "0114709"
    assert ds.rating_scale == (0.5, 5.0)


def test_lastfm(real_data):
    ds = load("lastfm-2k")
    r = ds.ratings
    _assert_canonical(r, int, timestamp=False)
    assert len(r) == 92_834 and r["user"].nunique() == 1892
    assert r.iloc[0].tolist() == [2, 51, 13883.0]
    assert ds.feedback == "implicit" and ds.rating_scale is None
    assert len(ds.items) == 17_632 and {"name", "url"} <= set(ds.items.columns)
    assert ds.items.loc[1, "name"] == "MALICE MIZER"
    assert set(r["item"]) <= set(ds.items.index)
    friends = ds.tables["friends"]
    assert len(friends) == 25_434 and list(friends.columns) == ["user", "friend"]
    tags = ds.tables["tags"]
    assert len(tags) == 186_479 and tags["tag"].notna().all()
    assert tags.iloc[0][["user", "item", "tag"]].tolist() == [2, 52, "chillout"]


def test_filmtrust(real_data):
    ds = load("filmtrust")
    _assert_canonical(ds.ratings, int, timestamp=False)
    assert len(ds.ratings) == 35_497
    assert ds.ratings["user"].nunique() == 1508 and ds.ratings["item"].nunique() == 2071
    trust = ds.tables["trust"]
    assert len(trust) == 1853 and list(trust.columns) == ["source", "target", "weight"]
    assert trust.iloc[0].tolist() == [2, 966, 1.0]
    assert ds.ratings["rating"].between(0.5, 4.0).all()


def test_amazon_instruments(real_data):
    ds = load("amazon-instruments")
    r = ds.ratings
    _assert_canonical(r, str, timestamp=True)
    assert len(r) == 10_261 and r["user"].nunique() == 1429 and r["item"].nunique() == 900
    assert r.iloc[0].tolist() == ["A2IBPI20UZIR0U", "1384719342", 5.0, 1393545600]
    reviews = ds.tables["reviews"]
    assert len(reviews) == 10_261 and {"reviewText", "summary"} <= set(reviews.columns)
    assert reviews.loc[0, "summary"] == "good"
    assert len(ds.items) == 900 and ds.items["n_reviews"].sum() == 10_261
    assert "pop filter" in ds.items.loc["1384719342", "text"]


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        load("ml-1m")
    for name in NAMES:
        assert name in str(err.value)
    with pytest.raises(TypeError):
        load(100)


# ----------------------------------------------------------------------------
# Synthetic data
# ----------------------------------------------------------------------------
def test_synthetic_deterministic_and_seed_sensitive():
    a, b, c = synthetic(seed=3), synthetic(seed=3), synthetic(seed=4)
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    pd.testing.assert_frame_equal(a.items, b.items)
    assert not a.ratings.equals(c.ratings)


@pytest.mark.parametrize(
    ("n_users", "n_items", "n_ratings", "scale"),
    [(200, 300, 5000, (1, 5)), (50, 40, 2000, (0.5, 4.0)), (30, 20, 600, (1, 5)), (3000, 2000, 4000, (1, 10))],
)
def test_synthetic_shape(n_users, n_items, n_ratings, scale):
    ds = synthetic(n_users, n_items, n_ratings, rating_scale=scale, seed=1)
    r = ds.ratings
    _assert_canonical(r, int, timestamp=True)
    assert len(r) == n_ratings
    assert not r.duplicated(["user", "item"]).any()
    assert r["user"].between(1, n_users).all() and r["item"].between(1, n_items).all()
    assert r["rating"].between(*scale).all()
    step = 0.5 if scale[0] % 1 else 1.0
    assert np.allclose((r["rating"] - scale[0]) / step, np.round((r["rating"] - scale[0]) / step))
    assert r["timestamp"].is_monotonic_increasing
    if n_ratings >= n_users:
        assert r["user"].nunique() == n_users
    assert len(ds.items) == n_items and all(isinstance(g, list) and g for g in ds.items["genres"])
    assert ds.rating_scale == (float(scale[0]), float(scale[1]))


def test_synthetic_has_signal_and_long_tail():
    ds = synthetic(seed=0)
    counts = ds.ratings["item"].value_counts().to_numpy()
    top10 = counts[: len(counts) // 10].sum() / counts.sum()
    assert top10 > 0.3  # popularity skew: a uniform world would give about 0.1
    truth = ds.tables["truth"]
    # The noise-free score explains most of the variance of the observed rating.
    assert np.corrcoef(truth["true_rating"], ds.ratings["rating"])[0, 1] > 0.7


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"n_users": 0}, ValueError),
        ({"n_items": -3}, ValueError),
        ({"n_ratings": 0}, ValueError),
        ({"n_users": 10, "n_items": 10, "n_ratings": 101}, ValueError),
        ({"rating_scale": (5, 1)}, ValueError),
        ({"rating_scale": (1, 1)}, ValueError),
        ({"rating_scale": (1, float("inf"))}, ValueError),
        ({"rating_scale": "1-5"}, ValueError),
        ({"n_users": 2.5}, TypeError),
    ],
)
def test_synthetic_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        synthetic(**kwargs)


def test_synthetic_full_matrix():
    r = synthetic(n_users=7, n_items=5, n_ratings=35, seed=0).ratings
    assert len(r) == 35 and not r.duplicated(["user", "item"]).any()


# ----------------------------------------------------------------------------
# Download -> verify -> extract (fake archives, local server / patched downloader)
# ----------------------------------------------------------------------------
FAKE_FILES = {
    "ratings.txt": b"1 1 2\n1 2 4\n2 1 3.5\n",
    "trust.txt": b"1 2 1\n2 1 1\n",
    "readme.txt": b"fake FilmTrust for tests\n",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip_bytes(members: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.fixture
def fake_env(monkeypatch, tmp_path):
    """Empty cache, no RECBOOK_DATA, and a FilmTrust spec matching FAKE_FILES."""
    monkeypatch.delenv("RECBOOK_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    spec = DatasetSpec(
        folder="filmtrust",
        url="http://example.invalid/filmtrust.zip",
        archive="zip",
        prefix="",
        files={name: _sha(data) for name, data in FAKE_FILES.items()},
    )
    monkeypatch.setitem(datasets.SPECS, "filmtrust", spec)
    return tmp_path


def _serve(payload: bytes, calls: list[str]):
    """Downloader stub: writes ``payload`` and records the URL."""

    def download(url, dest):
        calls.append(url)
        Path(dest).write_bytes(payload)

    return download


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}


@pytest.fixture
def loopback_server():
    """An HTTP server on 127.0.0.1 serving ``routes`` (path -> bytes)."""
    routes: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_download_verify_extract_load_over_http(fake_env, monkeypatch, loopback_server):
    base, routes = loopback_server
    routes["/datasets/filmtrust.zip"] = _zip_bytes(FAKE_FILES)
    spec = datasets.SPECS["filmtrust"]
    monkeypatch.setitem(
        datasets.SPECS, "filmtrust", DatasetSpec(spec.folder, base + "/datasets/filmtrust.zip", "zip", "", spec.files)
    )
    ds = load("filmtrust")  # real urllib download from the loopback server
    assert ds.ratings.to_dict("list") == {"user": [1, 1, 2], "item": [1, 2, 1], "rating": [2.0, 4.0, 3.5]}
    assert len(ds.tables["trust"]) == 2
    cache = fake_env / "cache" / "recbook"
    assert sorted(p.name for p in cache.iterdir()) == ["filmtrust"]  # no temp files left
    assert sorted(p.name for p in (cache / "filmtrust").iterdir()) == sorted(FAKE_FILES)
    # The second load uses the cache: no download.
    monkeypatch.setattr(datasets, "_download", _no_download)
    assert len(load("filmtrust").ratings) == 3


def test_http_404_is_not_found(fake_env, monkeypatch, loopback_server):
    base, _ = loopback_server
    spec = datasets.SPECS["filmtrust"]
    url = base + "/missing/filmtrust.zip"
    monkeypatch.setitem(datasets.SPECS, "filmtrust", DatasetSpec(spec.folder, url, "zip", "", spec.files))
    with pytest.raises(DatasetNotFoundError, match="404"):
        load("filmtrust")
    assert not (fake_env / "cache" / "recbook" / "filmtrust").exists()


def test_zip_with_prefix_and_data_home(fake_env, monkeypatch):
    spec = datasets.SPECS["filmtrust"]
    monkeypatch.setitem(datasets.SPECS, "filmtrust", DatasetSpec(spec.folder, spec.url, "zip", "ft/", spec.files))
    calls: list[str] = []
    payload = _zip_bytes({"ft/" + k: v for k, v in FAKE_FILES.items()} | {"ft/extra.bin": b"x"})
    monkeypatch.setattr(datasets, "_download", _serve(payload, calls))
    home = fake_env / "home"
    ds = load("filmtrust", data_home=home)
    assert calls == [spec.url] and len(ds.ratings) == 3
    assert sorted(p.name for p in (home / "filmtrust").iterdir()) == sorted(FAKE_FILES)  # only spec files
    assert not (fake_env / "cache").exists()  # data_home given: the cache is not touched


def test_gzip_download(fake_env, monkeypatch):
    line = {
        "reviewerID": "U1", "asin": "0001", "reviewerName": "a", "helpful": [1, 2],
        "reviewText": "great strings", "overall": 4.0, "summary": "ok", "unixReviewTime": 1400000000,
        "reviewTime": "05 13, 2014",
    }  # fmt: skip
    raw = (json.dumps(line) + "\n" + json.dumps(line | {"reviewerID": "U2", "overall": 2.0}) + "\n").encode()
    fname = "reviews_Musical_Instruments_5.json"
    spec = datasets.SPECS["amazon-instruments"]
    monkeypatch.setitem(
        datasets.SPECS, "amazon-instruments", DatasetSpec(spec.folder, spec.url, "gzip", "", {fname: _sha(raw)})
    )
    calls: list[str] = []
    monkeypatch.setattr(datasets, "_download", _serve(gzip.compress(raw), calls))
    ds = load("amazon-instruments")
    assert calls == [spec.url]
    assert ds.ratings.to_dict("list") == {
        "user": ["U1", "U2"], "item": ["0001", "0001"], "rating": [4.0, 2.0], "timestamp": [1400000000] * 2,
    }  # fmt: skip
    assert (fake_env / "cache" / "recbook" / spec.folder / fname).read_bytes() == raw


def test_corrupt_local_file_raises_checksum_error(monkeypatch, tmp_path):
    # Real spec table: any file that is not the official one must be refused.
    folder = tmp_path / "filmtrust"
    folder.mkdir()
    (folder / "ratings.txt").write_bytes(b"1 1 2\n")
    (folder / "trust.txt").write_bytes(b"1 2 1\n")
    monkeypatch.setattr(datasets, "_download", _no_download)
    with pytest.raises(ChecksumError) as err:
        load("filmtrust", data_home=tmp_path)
    msg = str(err.value)
    assert "ratings.txt" in msg
    assert datasets.SPECS["filmtrust"].files["ratings.txt"] in msg and _sha(b"1 1 2\n") in msg
    assert err.value.actual == _sha(b"1 1 2\n")


def test_corrupt_copy_of_real_file(real_data, tmp_path):
    src = real_data / "filmtrust"
    folder = tmp_path / "filmtrust"
    folder.mkdir()
    for name in ("ratings.txt", "trust.txt"):
        (folder / name).write_bytes((src / name).read_bytes())
    assert len(load("filmtrust", data_home=tmp_path).ratings) == 35_497  # the intact copy loads
    data = bytearray((folder / "trust.txt").read_bytes())
    data[10] ^= 1
    (folder / "trust.txt").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="trust.txt"):
        load("filmtrust", data_home=tmp_path)


def test_corrupt_download_installs_nothing(fake_env, monkeypatch):
    bad = dict(FAKE_FILES, **{"trust.txt": b"1 2 1\n2 1 0\n"})
    monkeypatch.setattr(datasets, "_download", _serve(_zip_bytes(bad), []))
    with pytest.raises(ChecksumError, match="trust.txt"):
        load("filmtrust")
    cache = fake_env / "cache" / "recbook"
    assert list(cache.iterdir()) == []  # no folder, no temp files


@pytest.mark.parametrize(
    ("extra", "symlinks"),
    [
        ({"../evil.txt": b"pwned"}, ()),
        ({"sub/../../evil.txt": b"pwned"}, ()),
        ({"/tmp/recbook-test-evil.txt": b"pwned"}, ()),
        ({}, ("evil-link",)),
    ],
)
def test_unsafe_archive_rejected(fake_env, monkeypatch, extra, symlinks):
    payload = _zip_bytes(dict(FAKE_FILES, **extra), symlinks)
    monkeypatch.setattr(datasets, "_download", _serve(payload, []))
    before = _snapshot(fake_env)
    with pytest.raises(UnsafeArchiveError):
        load("filmtrust")
    assert isinstance(UnsafeArchiveError("x"), DatasetError)
    cache = fake_env / "cache" / "recbook"
    assert not list(fake_env.rglob("*evil*"))
    assert not Path("/tmp/recbook-test-evil.txt").exists()
    assert not (cache / "filmtrust").exists() and list(cache.iterdir()) == []
    assert set(_snapshot(fake_env)) - set(before) == {"cache", "cache/recbook"}


def test_offline_raises_not_found_with_url_and_folders(fake_env, monkeypatch):
    ro = fake_env / "readonly"
    (ro / "filmtrust").mkdir(parents=True)
    monkeypatch.setenv("RECBOOK_DATA", str(ro))

    def offline(url, dest):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(datasets, "_download", offline)
    with pytest.raises(DatasetNotFoundError) as err:
        load("filmtrust")
    msg = str(err.value)
    assert datasets.SPECS["filmtrust"].url in msg
    assert str(ro / "filmtrust") in msg
    assert str(fake_env / "cache" / "recbook" / "filmtrust") in msg
    assert "ratings.txt" in msg and "trust.txt" in msg and "no network" in msg
    assert not (fake_env / "cache" / "recbook" / "filmtrust").exists()


def test_offline_without_recbook_data_mentions_variable(fake_env, monkeypatch):
    def offline(url, dest):
        raise OSError("network unreachable")

    monkeypatch.setattr(datasets, "_download", offline)
    with pytest.raises(DatasetNotFoundError, match="RECBOOK_DATA"):
        load("filmtrust")


def test_nothing_written_into_readonly_recbook_data(fake_env, monkeypatch):
    ro = fake_env / "readonly"
    (ro / "filmtrust").mkdir(parents=True)
    (ro / "filmtrust" / "readme.txt").write_bytes(FAKE_FILES["readme.txt"])  # partial copy
    monkeypatch.setenv("RECBOOK_DATA", str(ro))
    calls: list[str] = []
    monkeypatch.setattr(datasets, "_download", _serve(_zip_bytes(FAKE_FILES), calls))
    before = _snapshot(ro)
    modes = [p.stat().st_mode for p in (ro, ro / "filmtrust")]
    for p in (ro / "filmtrust", ro):
        p.chmod(0o555)
    try:
        ds = load("filmtrust")
    finally:
        for p, mode in zip((ro, ro / "filmtrust"), modes):
            p.chmod(mode)
    assert len(ds.ratings) == 3 and len(calls) == 1
    assert _snapshot(ro) == before  # same files, same mtimes
    assert (fake_env / "cache" / "recbook" / "filmtrust" / "ratings.txt").is_file()


def test_complete_recbook_data_is_used_without_download(fake_env, monkeypatch):
    ro = fake_env / "readonly"
    (ro / "filmtrust").mkdir(parents=True)
    for name, data in FAKE_FILES.items():
        (ro / "filmtrust" / name).write_bytes(data)
    monkeypatch.setenv("RECBOOK_DATA", str(ro))
    monkeypatch.setattr(datasets, "_download", _no_download)
    assert len(load("filmtrust").ratings) == 3
    assert not (fake_env / "cache").exists()
    # A corrupt file in RECBOOK_DATA is refused, not silently replaced by a download.
    (ro / "filmtrust" / "ratings.txt").write_bytes(b"1 1 5\n")
    with pytest.raises(ChecksumError, match="ratings.txt"):
        load("filmtrust")


def test_partial_recbook_data_error_names_its_own_missing_files(fake_env, monkeypatch):
    # One file missing from RECBOOK_DATA/filmtrust/, offline: the message must list the
    # files missing *there* (not the cache's), with both folders' absolute paths.
    ro = fake_env / "readonly"
    (ro / "filmtrust").mkdir(parents=True)
    for name in ("ratings.txt", "readme.txt"):
        (ro / "filmtrust" / name).write_bytes(FAKE_FILES[name])
    monkeypatch.setenv("RECBOOK_DATA", str(ro))

    def offline(url, dest):
        raise OSError("network unreachable")

    monkeypatch.setattr(datasets, "_download", offline)
    with pytest.raises(DatasetNotFoundError) as err:
        load("filmtrust")
    lines = str(err.value).splitlines()
    ro_line = next(line for line in lines if line.strip().startswith("RECBOOK_DATA:"))
    cache_line = next(line for line in lines if line.strip().startswith("cache:"))
    assert str(ro / "filmtrust") in ro_line and "missing: trust.txt" in ro_line and "ratings.txt" not in ro_line
    assert "no such folder" in cache_line


def test_checksum_error_in_recbook_data_gives_recbook_data_advice(fake_env, monkeypatch):
    ro = fake_env / "readonly"
    (ro / "filmtrust").mkdir(parents=True)
    for name, data in FAKE_FILES.items():
        (ro / "filmtrust" / name).write_bytes(data)
    (ro / "filmtrust" / "trust.txt").write_bytes(b"corrupt\n")
    monkeypatch.setenv("RECBOOK_DATA", str(ro))
    monkeypatch.setattr(datasets, "_download", _no_download)
    with pytest.raises(ChecksumError) as err:
        load("filmtrust")
    msg = str(err.value)
    assert str(ro / "filmtrust" / "trust.txt") in msg
    assert "$RECBOOK_DATA/filmtrust/" in msg and "cache folder" not in msg


def test_checksum_error_in_cache_names_the_cache_folder(fake_env, monkeypatch):
    cache = fake_env / "cache" / "recbook" / "filmtrust"
    cache.mkdir(parents=True)
    for name, data in FAKE_FILES.items():
        (cache / name).write_bytes(data)
    (cache / "ratings.txt").write_bytes(b"1 1 5\n")
    monkeypatch.setattr(datasets, "_download", _no_download)
    with pytest.raises(ChecksumError, match="cache folder") as err:
        load("filmtrust")
    assert str(cache) in str(err.value) and "RECBOOK_DATA" not in str(err.value)


def test_relative_recbook_data_resolves_against_launch_directory(fake_env, monkeypatch):
    # `RECBOOK_DATA=../data make test` runs notebook kernels in each notebook's folder:
    # the relative path must be read against the directory the command ran in ($PWD).
    launch = fake_env / "repo"
    nested = launch / "notebooks" / "04-chapter"
    nested.mkdir(parents=True)
    data = fake_env / "data"
    (data / "filmtrust").mkdir(parents=True)
    for name, payload in FAKE_FILES.items():
        (data / "filmtrust" / name).write_bytes(payload)
    monkeypatch.setenv("RECBOOK_DATA", "../data")
    monkeypatch.setenv("PWD", str(launch))
    monkeypatch.chdir(nested)  # the kernel's working directory
    monkeypatch.setattr(datasets, "_download", _no_download)
    assert datasets.data_dir() == data
    assert len(load("filmtrust").ratings) == 3
    monkeypatch.delenv("PWD")  # no launch directory known: the working directory is used
    assert datasets.data_dir() == (nested / ".." / "data").resolve()


def test_fetch_returns_folder(fake_env, monkeypatch):
    monkeypatch.setattr(datasets, "_download", _serve(_zip_bytes(FAKE_FILES), []))
    folder = datasets.fetch("filmtrust")
    assert folder == fake_env / "cache" / "recbook" / "filmtrust"
    with pytest.raises(ValueError, match="ml-100k"):
        datasets.fetch("nope")


def test_spec_table_is_complete():
    assert sorted(datasets.SPECS) == sorted(NAMES)
    for spec in datasets.SPECS.values():
        assert spec.archive in {"zip", "gzip"}
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in spec.files.values())


def test_spec_hashes_match_shared_sha256sums():
    root = os.environ.get("RECBOOK_DATA")
    sums = Path(root or "/nonexistent") / "SHA256SUMS"
    if not sums.is_file():
        pytest.skip("RECBOOK_DATA/SHA256SUMS not available")
    official = dict(reversed(line.split()) for line in sums.read_text().splitlines() if line.strip())
    for spec in datasets.SPECS.values():
        for name, digest in spec.files.items():
            assert official[f"{spec.folder}/{name}"] == digest
