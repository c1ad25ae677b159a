"""Real and synthetic user-behaviour data sets, in one canonical shape.

Every loader returns a :class:`Dataset` whose ``ratings`` frame has the
columns ``user``, ``item``, ``rating`` (float) and, where the source records
it, ``timestamp`` (int, Unix seconds).  Rows keep the order of the source
file: protocols such as Surprise's ``KFold`` shuffle row *positions*, so the
file order is part of the experiment and is never changed here.

Data sets (``load(name)``)
--------------------------
========================  =====================================  ==========================
name                      content                                source
========================  =====================================  ==========================
``ml-100k``               100,000 ratings 1-5, 943 users,        GroupLens
                          1,682 movies, user demographics        Harper & Konstan 2015
``ml-latest-small``       100,836 ratings 0.5-5, 610 users,      GroupLens
                          9,742 movies, 3,683 tags, links
``lastfm-2k``             92,834 user-artist play counts,        HetRec 2011
                          17,632 artists, 25,434 friend rows,    Cantador et al. 2011
                          186,479 tag assignments
``filmtrust``             35,497 ratings 0.5-4, 1,853 directed   Guo et al. 2013
                          trust edges                            (IJCAI)
``amazon-instruments``    10,261 reviews (stars + text),         Amazon 2014, 5-core
                          1,429 users, 900 products              McAuley et al. 2015
========================  =====================================  ==========================

Where the files are looked for
------------------------------
1. ``data_home/<folder>/`` when the ``data_home`` argument is given (and
   nowhere else; a missing file is downloaded into it);
2. otherwise ``$RECBOOK_DATA/<folder>/`` (read-only: nothing is ever written
   there), then the user cache ``$XDG_CACHE_HOME/recbook/<folder>/``
   (``~/.cache/recbook/<folder>/`` when ``XDG_CACHE_HOME`` is unset).

``<folder>`` is the official folder name (see :data:`SPECS`).  When neither
place holds every file a loader needs, the official archive is downloaded
into the cache (``data_home`` if given) with a progress bar, every file is
checked against the SHA-256 in :data:`SPECS`, the archive is extracted safely
(absolute paths, ``..`` members and symbolic links are refused) and the files
are moved into place only once verified.  Files are verified on every load
(hashing the ~10 MB a loader reads takes some tens of milliseconds).

Errors all derive from :class:`DatasetError`: :class:`DatasetNotFoundError`
(offline, the download failed; the message names the missing files, the
official URL and the folders to put them in), :class:`ChecksumError` (a file
differs from the official release) and :class:`UnsafeArchiveError`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

__all__ = [
    "ChecksumError",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "SPECS",
    "UnsafeArchiveError",
    "cache_dir",
    "data_dir",
    "fetch",
    "load",
    "ml100k_folds",
    "synthetic",
]


# ----------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------
class DatasetError(Exception):
    """Base class of every error raised by :mod:`recbook.datasets`."""


class DatasetNotFoundError(DatasetError):
    """The files are not on disk and could not be downloaded."""


class ChecksumError(DatasetError):
    """A file's SHA-256 differs from the official release's.

    Attributes
    ----------
    path : pathlib.Path
        The offending file (or, for a fresh download, the archive member).
    expected, actual : str
        Hex digests.
    """

    def __init__(self, message: str, path: Path, expected: str, actual: str) -> None:
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.actual = actual


class UnsafeArchiveError(DatasetError):
    """An archive member would escape the target folder (absolute path,
    ``..`` component or symbolic link); nothing was extracted."""


# ----------------------------------------------------------------------------
# The spec table: one entry per data set, one generic code path for all
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    """Where a data set comes from and what its files must hash to.

    Attributes
    ----------
    folder : str
        Official folder name, under ``$RECBOOK_DATA`` or the cache.
    url : str
        Official download address.
    archive : {"zip", "gzip"}
        ``zip``: a zip archive whose members ``prefix + file`` are extracted;
        ``gzip``: one gzip-compressed file, decompressed to ``files``' only key.
    prefix : str
        Leading folder of the zip members (stripped on extraction).
    files : dict[str, str]
        File name -> SHA-256 of the *extracted* file.
    """

    folder: str
    url: str
    archive: str
    prefix: str
    files: dict[str, str]


#: Data set name -> :class:`DatasetSpec`: where each data set that :func:`load`
#: and :func:`fetch` know comes from, and the SHA-256 of its files.
SPECS: dict[str, DatasetSpec] = {
    "ml-100k": DatasetSpec(
        folder="ml-100k",
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        archive="zip",
        prefix="ml-100k/",
        files={
            "README": "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52",
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
            "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
            "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
            "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
            "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
            "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
            "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
            "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
            "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
            "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
            "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
        },
    ),
    "ml-latest-small": DatasetSpec(
        folder="ml-latest-small",
        url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
        archive="zip",
        prefix="ml-latest-small/",
        files={
            "README.txt": "63d22ac138e80fae37021797ed8e1b9424b5239dc576a137422adf783ae3f404",
            "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
            "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
            "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
        },
    ),
    "lastfm-2k": DatasetSpec(
        folder="hetrec2011-lastfm-2k",
        url="https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
        archive="zip",
        prefix="",
        files={
            "readme.txt": "6fe5d1e6f67b025fc50cd70883dd1a1ff16c5ff37b5b7abfb33644b83468b209",
            "artists.dat": "c173881362c6b28551368fecb3c0be5a6a30a6cd859e1f5775413dfe46d48648",
            "tags.dat": "e95175f259be4c0c47644ae23d66131cd6d5767142a1405000e79f5584691d70",
            "user_artists.dat": "001400dc3c7d2667fca6e4ea6dc6acc31a9dd28ad5cd0f74cea988c019934d3b",
            "user_friends.dat": "9a3a8f7fa5f5ec832335e5b58ed69a4cf27c6f6f6afcde62134810eea46445a7",
            "user_taggedartists.dat": "d31fe938fcfeed6f0059f37a36b156f63674d073fc2553e5cc9dc1595e365bc7",
        },
    ),
    "filmtrust": DatasetSpec(
        folder="filmtrust",
        url="https://guoguibing.github.io/librec/datasets/filmtrust.zip",
        archive="zip",
        prefix="",
        files={
            "readme.txt": "963c35074a9f9f0d9ea3a8c78fa2c70f8be0113419907eddddcca0f0860e1556",
            "ratings.txt": "241167424e24d588e8871d68641e94ead98d5b3a4f0db01ef3181a74ad35e7a1",
            "trust.txt": "64573a033add72b988a0fb140fdbc0ad3464cb9821f940007aff6fda44b09603",
        },
    ),
    "amazon-instruments": DatasetSpec(
        folder="amazon-2014-musical-instruments-5core",
        url="http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/"
        "reviews_Musical_Instruments_5.json.gz",
        archive="gzip",
        prefix="",
        files={
            "reviews_Musical_Instruments_5.json": (
                "8e1aaab451ba61484dfe393f53d11886246bc426c7046b180b62352580f68c1d"
            ),
        },
    ),
}

_CHUNK = 1 << 20


# ----------------------------------------------------------------------------
# Locating, downloading, verifying, extracting
# ----------------------------------------------------------------------------
def cache_dir() -> Path:
    """The user cache root: ``$XDG_CACHE_HOME/recbook`` or ``~/.cache/recbook``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "recbook"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _verify(folder: Path, files: Iterable[str], spec: DatasetSpec, role: str = "cache") -> None:
    """Raise :class:`ChecksumError` unless every file hashes as in ``spec``.

    ``role`` says which folder ``folder`` is (``"RECBOOK_DATA"``, ``"data_home"``
    or ``"cache"``), so that the message gives advice that fits it.
    """
    advice = {
        "RECBOOK_DATA": (
            f"replace it in that folder ($RECBOOK_DATA/{spec.folder}/) with the file from {spec.url}; "
            "recbook never writes there (or unset RECBOOK_DATA to let recbook download into its cache)"
        ),
        "data_home": f"replace it in that folder (data_home) with the file from {spec.url}, or delete it to download it again",
        "cache": f"delete it from the cache folder {folder}/ to download it again, or replace it with the file from {spec.url}",
    }[role]
    for name in files:
        path = folder / name
        expected = spec.files[name]
        actual = _sha256(path)
        if actual != expected:
            raise ChecksumError(
                f"checksum mismatch for {path}: expected sha256 {expected}, "
                f"got {actual}. The file is corrupt or from another release; "
                f"it was not used. To fix it, {advice}.",
                path,
                expected,
                actual,
            )


def _download(url: str, dest: Path, timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest`` with a tqdm progress bar (stdlib urllib).

    Tests replace this function (``monkeypatch.setattr(datasets, "_download", ...)``).
    """
    from tqdm import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "recbook"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        total = response.headers.get("Content-Length")
        with tqdm(
            total=int(total) if total else None,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=url.rsplit("/", 1)[-1],
        ) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) or ".." in parts:
        raise UnsafeArchiveError(
            f"refusing to extract archive: member {name!r} would escape the target folder"
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UnsafeArchiveError(f"refusing to extract archive: member {name!r} is a symbolic link")


def _copy_verified(src, dest: Path, expected: str, label: str) -> None:
    """Stream ``src`` (a binary file object) to ``dest`` while hashing it."""
    h = hashlib.sha256()
    with open(dest, "wb") as out:
        while chunk := src.read(_CHUNK):
            h.update(chunk)
            out.write(chunk)
    actual = h.hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"checksum mismatch for {label}: expected sha256 {expected}, got {actual}. "
            "The download is corrupt or the source changed; nothing was installed.",
            Path(label),
            expected,
            actual,
        )


def _install(spec: DatasetSpec, archive: Path, staging: Path, target: Path) -> None:
    """Extract and verify every file of ``spec`` into ``staging``, then move them to ``target``."""
    if spec.archive == "zip":
        try:
            zf = zipfile.ZipFile(archive)
        except zipfile.BadZipFile as exc:
            raise DatasetError(f"the download from {spec.url} is not a valid zip archive") from exc
        with zf:
            infos = zf.infolist()
            for info in infos:  # check everything before writing anything
                _check_member(info)
            by_name = {i.filename.replace("\\", "/"): i for i in infos if not i.is_dir()}
            for name, expected in spec.files.items():
                info = by_name.get(spec.prefix + name) or by_name.get(name)
                if info is None:
                    raise DatasetError(f"{spec.url} has no member {spec.prefix + name!r}")
                with zf.open(info) as src:
                    _copy_verified(src, staging / name, expected, f"{spec.url}!{info.filename}")
    elif spec.archive == "gzip":
        ((name, expected),) = spec.files.items()
        try:
            with gzip.open(archive, "rb") as src:
                _copy_verified(src, staging / name, expected, f"{spec.url} (decompressed)")
        except gzip.BadGzipFile as exc:
            raise DatasetError(f"the download from {spec.url} is not a valid gzip file") from exc
    else:  # pragma: no cover - guarded by the spec table
        raise ValueError(f"unknown archive type {spec.archive!r}")
    target.mkdir(parents=True, exist_ok=True)
    for name in spec.files:
        os.replace(staging / name, target / name)


def data_dir() -> Path | None:
    """The folder named by ``$RECBOOK_DATA``, as an absolute path (``None`` if unset).

    A relative value is resolved once, against the directory where the
    command was run (the shell's ``$PWD``), not against the current working
    directory of the process: a notebook kernel runs in the notebook's folder,
    but ``RECBOOK_DATA=../shared/data make test`` means the folder next to
    the repository. Without ``$PWD`` the current directory is used.
    """
    env = os.environ.get("RECBOOK_DATA")
    if not env:
        return None
    path = Path(env).expanduser()
    if not path.is_absolute():
        pwd = os.environ.get("PWD")
        base = Path(pwd) if pwd and Path(pwd).is_absolute() and Path(pwd).is_dir() else Path.cwd()
        path = base / path
    return Path(os.path.normpath(path))


def _describe_folder(folder: Path, needed: list[str]) -> str:
    if not folder.is_dir():
        return f"{folder}/ (no such folder)"
    missing = [f for f in needed if not (folder / f).is_file()]
    return f"{folder}/ (missing: {', '.join(missing)})" if missing else f"{folder}/ (complete)"


def _not_found(name: str, spec: DatasetSpec, searched: list[tuple[str, Path]], needed: list[str], reason: str) -> DatasetNotFoundError:
    where = "\n".join(f"  {role}: {_describe_folder(folder, needed)}" for role, folder in searched)
    hint = ""
    if [role for role, _ in searched] == ["cache"]:
        hint = f", or put them in <some folder>/{spec.folder}/ and set the RECBOOK_DATA variable to <some folder>"
    return DatasetNotFoundError(
        f"data set {name!r} not found: its files {', '.join(needed)} are in none of the folders searched:\n"
        f"{where}\n"
        f"The download of the official archive {spec.url} failed ({reason}).\n"
        f"Download it by hand and put the files in one of the folders above{hint}."
    )


def _locate(name: str, needed: Iterable[str], data_home: str | Path | None) -> Path:
    """Folder holding the verified ``needed`` files of data set ``name``."""
    spec = SPECS[name]
    needed = list(needed)
    if data_home is not None:
        searched = [("data_home", Path(data_home).expanduser().resolve() / spec.folder)]
    else:
        readonly = data_dir()
        searched = ([("RECBOOK_DATA", readonly / spec.folder)] if readonly is not None else [])
        searched.append(("cache", cache_dir() / spec.folder))
    for role, folder in searched:
        if all((folder / f).is_file() for f in needed):
            _verify(folder, needed, spec, role)
            return folder

    # Not found anywhere: download into the writable folder (never RECBOOK_DATA).
    target = searched[-1][1]
    root = target.parent
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".recbook-", dir=root))
    except OSError as exc:
        raise _not_found(name, spec, searched, needed, f"cannot write to {root}: {exc}") from exc
    try:
        archive = tmp / ("download" + (".zip" if spec.archive == "zip" else ".gz"))
        try:
            _download(spec.url, archive)
        except Exception as exc:  # offline, HTTP error, timeout, ...
            raise _not_found(name, spec, searched, needed, f"{type(exc).__name__}: {exc}") from exc
        staging = tmp / "staging"
        staging.mkdir()
        _install(spec, archive, staging, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _verify(target, needed, spec, searched[-1][0])
    return target


def fetch(name: str, data_home: str | Path | None = None) -> Path:
    """Make sure every file of data set ``name`` is present and verified.

    Returns the folder that holds them (downloading into the cache if needed).
    """
    _check_name(name)
    return _locate(name, SPECS[name].files, data_home)


def _check_name(name: str) -> None:
    if name not in _LOADERS:
        raise ValueError(f"unknown data set name={name!r}; expected one of {', '.join(sorted(_LOADERS))}")


# ----------------------------------------------------------------------------
# The Dataset container
# ----------------------------------------------------------------------------
@dataclass(eq=False, repr=False)
class Dataset:
    """A data set in the book's canonical shape.

    Attributes
    ----------
    name : str
        Data set name.
    ratings : pandas.DataFrame
        Interactions ``user, item, rating[, timestamp]`` in source-file order.
        For implicit data (Last.fm) ``rating`` is the weight (play count).
    items : pandas.DataFrame or None
        Item side information indexed by item id (``title``, ``genres`` as
        lists of str, ``year`` float with NaN when unknown, text fields...).
    users : pandas.DataFrame or None
        User side information indexed by user id.
    tables : dict[str, pandas.DataFrame]
        Extra tables (``tags``, ``trust``, ``friends``, ``reviews``, ``links``...).
    feedback : {"explicit", "implicit"}
        Whether ``rating`` is a stated preference or a count of behaviour.
    rating_scale : tuple[float, float] or None
        ``(lowest, highest)`` rating for explicit data, ``None`` for implicit.
    """

    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    feedback: str = "explicit"
    rating_scale: tuple[float, float] | None = None

    def stats(self) -> dict[str, float | int | str]:
        r"""Size and sparsity of the interaction matrix.

        ``density`` is :math:`|R| / (|U|\,|I|)`, with :math:`U` and :math:`I`
        the users and items that occur in ``ratings``.

        Returns
        -------
        dict
            ``name, feedback, users, items, interactions, density,
            per_user`` (mean interactions per user) ``, per_item``, and
            ``catalogue`` (rows of ``items``, or the number of items seen).
        """
        n = len(self.ratings)
        n_users = int(self.ratings["user"].nunique())
        n_items = int(self.ratings["item"].nunique())
        return {
            "name": self.name,
            "feedback": self.feedback,
            "users": n_users,
            "items": n_items,
            "interactions": n,
            "density": n / (n_users * n_items) if n_users and n_items else 0.0,
            "per_user": n / n_users if n_users else 0.0,
            "per_item": n / n_items if n_items else 0.0,
            "catalogue": len(self.items) if self.items is not None else n_items,
        }

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"Dataset({self.name!r}: {s['users']:,} users, {s['items']:,} items, "
            f"{s['interactions']:,} {'ratings' if self.feedback == 'explicit' else 'interactions'}, "
            f"density {s['density']:.4%})"
        )

    def describe(self) -> str:
        """A few lines summarising the data set and its side tables."""
        lines = [repr(self)]
        cols = ", ".join(self.ratings.columns)
        lines.append(f"  ratings: {len(self.ratings):,} rows [{cols}]")
        if self.rating_scale is not None:
            lines.append(f"  rating scale: {self.rating_scale[0]:g} to {self.rating_scale[1]:g}")
        for label, frame in (("items", self.items), ("users", self.users)):
            if frame is not None:
                lines.append(f"  {label}: {len(frame):,} rows [{', '.join(map(str, frame.columns))}]")
        for key, frame in self.tables.items():
            lines.append(f"  tables[{key!r}]: {len(frame):,} rows [{', '.join(map(str, frame.columns))}]")
        return "\n".join(lines)


# ----------------------------------------------------------------------------
# Readers, one per data set
# ----------------------------------------------------------------------------
_YEAR_IN_TITLE = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-\u2013]\d{4})?\)\s*$")
_RATING_DTYPES = {"user": np.int64, "item": np.int64, "rating": np.float64, "timestamp": np.int64}


def _split_title_year(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``"Toy Story (1995)"`` -> (``"Toy Story"``, 1995.0); a range ``(2006\u20132007)``
    gives its first year; no year -> (title, NaN)."""
    parts = titles.str.strip().str.extract(_YEAR_IN_TITLE)
    title = parts["title"].fillna(titles.str.strip())
    year = pd.to_numeric(parts["year"], errors="coerce").astype(np.float64)
    return title, year


def _read_ml100k_ratings(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", header=None, names=list(_RATING_DTYPES), dtype=_RATING_DTYPES)


def _load_ml100k(data_home) -> Dataset:
    folder = _locate("ml-100k", ["u.data", "u.item", "u.user", "u.genre"], data_home)
    ratings = _read_ml100k_ratings(folder / "u.data")
    genre_names = pd.read_csv(folder / "u.genre", sep="|", header=None, names=["genre", "id"])
    genre_names = genre_names.dropna().sort_values("id")["genre"].tolist()
    cols = ["item", "title", "release_date", "video_release_date", "imdb_url", *genre_names]
    raw = pd.read_csv(
        folder / "u.item", sep="|", header=None, names=cols, encoding="latin-1",
        dtype={"item": np.int64, "title": str, "release_date": str, "imdb_url": str,
               **{g: np.int8 for g in genre_names}},
    )  # fmt: skip
    # The "unknown" flag (2 movies) means no genre: an empty list, as for
    # ml-latest-small's "(no genres listed)".
    flags = raw[genre_names].to_numpy(dtype=bool) & (np.array(genre_names) != "unknown")
    names = np.array(genre_names, dtype=object)
    release = pd.to_datetime(raw["release_date"], format="%d-%b-%Y", errors="coerce")
    title, title_year = _split_title_year(raw["title"])
    items = pd.DataFrame(
        {
            "title": title.to_numpy(),
            "genres": [list(names[row]) for row in flags],
            "year": release.dt.year.astype(np.float64).fillna(title_year).to_numpy(),
            "release_date": release.to_numpy(),
            "imdb_url": raw["imdb_url"].to_numpy(),
        },
        index=pd.Index(raw["item"].to_numpy(), name="item"),
    )
    users = pd.read_csv(
        folder / "u.user", sep="|", header=None, names=["user", "age", "gender", "occupation", "zip"],
        dtype={"user": np.int64, "age": np.int64, "gender": str, "occupation": str, "zip": str},
    ).set_index("user")  # fmt: skip
    return Dataset("ml-100k", ratings, items, users, {}, "explicit", (1.0, 5.0))


def ml100k_folds(data_home: str | Path | None = None) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """The official MovieLens 100K splits ``u1``..``u5`` as ``(train, test)`` frames.

    Each test set holds 20,000 ratings; the five test sets are disjoint and
    cover the data (GroupLens' ``mku.sh``).  This is *not* Surprise's
    ``KFold`` protocol; do not mix the two in one table.
    """
    names = [f"u{k}.{part}" for k in range(1, 6) for part in ("base", "test")]
    folder = _locate("ml-100k", names, data_home)
    return [
        (_read_ml100k_ratings(folder / f"u{k}.base"), _read_ml100k_ratings(folder / f"u{k}.test"))
        for k in range(1, 6)
    ]


def _load_ml_latest_small(data_home) -> Dataset:
    folder = _locate("ml-latest-small", ["ratings.csv", "movies.csv", "tags.csv", "links.csv"], data_home)
    ratings = pd.read_csv(
        folder / "ratings.csv",
        dtype={"userId": np.int64, "movieId": np.int64, "rating": np.float64, "timestamp": np.int64},
    ).rename(columns={"userId": "user", "movieId": "item"})
    movies = pd.read_csv(folder / "movies.csv", dtype={"movieId": np.int64, "title": str, "genres": str})
    title, year = _split_title_year(movies["title"])
    genres = [[] if g == "(no genres listed)" else g.split("|") for g in movies["genres"]]
    items = pd.DataFrame(
        {"title": title.to_numpy(), "genres": genres, "year": year.to_numpy()},
        index=pd.Index(movies["movieId"].to_numpy(), name="item"),
    )
    tags = pd.read_csv(
        folder / "tags.csv",
        dtype={"userId": np.int64, "movieId": np.int64, "tag": str, "timestamp": np.int64},
    ).rename(columns={"userId": "user", "movieId": "item"})
    links = pd.read_csv(
        folder / "links.csv", dtype={"movieId": np.int64, "imdbId": str, "tmdbId": "Int64"}
    ).rename(columns={"movieId": "item"})
    return Dataset("ml-latest-small", ratings, items, None, {"tags": tags, "links": links}, "explicit", (0.5, 5.0))


def _load_lastfm(data_home) -> Dataset:
    files = ["user_artists.dat", "artists.dat", "tags.dat", "user_taggedartists.dat", "user_friends.dat"]
    folder = _locate("lastfm-2k", files, data_home)
    ratings = pd.read_csv(
        folder / "user_artists.dat", sep="\t",
        dtype={"userID": np.int64, "artistID": np.int64, "weight": np.float64},
    ).rename(columns={"userID": "user", "artistID": "item", "weight": "rating"})  # fmt: skip
    artists = pd.read_csv(
        folder / "artists.dat", sep="\t", quoting=3,  # csv.QUOTE_NONE: names contain quotes
        dtype={"id": np.int64, "name": str, "url": str, "pictureURL": str},
    )  # fmt: skip
    tag_names = pd.read_csv(
        folder / "tags.dat", sep="\t", encoding="latin-1", quoting=3,
        dtype={"tagID": np.int64, "tagValue": str},
    )  # fmt: skip
    tagged = pd.read_csv(folder / "user_taggedartists.dat", sep="\t", dtype=np.int64)
    tags = tagged.rename(columns={"userID": "user", "artistID": "item", "tagID": "tag_id"})
    tags["tag"] = tags["tag_id"].map(pd.Series(tag_names["tagValue"].to_numpy(), index=tag_names["tagID"]))
    tags = tags[["user", "item", "tag_id", "tag", "day", "month", "year"]]
    # Each artist's tags, most used first (ties by tag name), as a content feature.
    counts = tags.groupby(["item", "tag"]).size().rename("n").reset_index()
    counts = counts.sort_values(["item", "n", "tag"], ascending=[True, False, True], kind="stable")
    artist_tags = counts.groupby("item")["tag"].agg(list)
    index = pd.Index(artists["id"].to_numpy(), name="item")
    items = pd.DataFrame(
        {"name": artists["name"].to_numpy(), "url": artists["url"].to_numpy()}, index=index
    )
    items["title"] = items["name"]
    items["tags"] = [artist_tags.get(i, []) for i in index]
    friends = pd.read_csv(folder / "user_friends.dat", sep="\t", dtype=np.int64)
    friends = friends.rename(columns={"userID": "user", "friendID": "friend"})
    return Dataset("lastfm-2k", ratings, items, None, {"tags": tags, "friends": friends}, "implicit", None)


def _load_filmtrust(data_home) -> Dataset:
    folder = _locate("filmtrust", ["ratings.txt", "trust.txt"], data_home)
    ratings = pd.read_csv(
        folder / "ratings.txt", sep=" ", header=None, names=["user", "item", "rating"],
        dtype={"user": np.int64, "item": np.int64, "rating": np.float64},
    )  # fmt: skip
    trust = pd.read_csv(
        folder / "trust.txt", sep=" ", header=None, names=["source", "target", "weight"],
        dtype={"source": np.int64, "target": np.int64, "weight": np.float64},
    )  # fmt: skip
    return Dataset("filmtrust", ratings, None, None, {"trust": trust}, "explicit", (0.5, 4.0))


def _load_amazon_instruments(data_home) -> Dataset:
    """Amazon 2014 Musical Instruments 5-core.

    The 5-core file has no product metadata, so ``items`` is built from the
    reviews: per product (in order of first appearance) ``n_reviews`` and
    ``text``, the summaries and review texts of all its reviews joined by
    newlines (a bag of words about the product, for content-based models).
    """
    fname = "reviews_Musical_Instruments_5.json"
    folder = _locate("amazon-instruments", [fname], data_home)
    with open(folder / fname, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    helpful = np.array([r.get("helpful", [0, 0]) for r in records], dtype=np.int64).reshape(-1, 2)
    reviews = pd.DataFrame(
        {
            "user": [r["reviewerID"] for r in records],
            "item": [r["asin"] for r in records],
            "rating": np.array([r["overall"] for r in records], dtype=np.float64),
            "timestamp": np.array([r["unixReviewTime"] for r in records], dtype=np.int64),
            "reviewerName": [r.get("reviewerName", "") for r in records],
            "summary": [r.get("summary", "") for r in records],
            "reviewText": [r.get("reviewText", "") for r in records],
            "helpful_yes": helpful[:, 0],
            "helpful_total": helpful[:, 1],
            "reviewTime": [r.get("reviewTime", "") for r in records],
        }
    )
    ratings = reviews[["user", "item", "rating", "timestamp"]].copy()
    joined = (reviews["summary"] + "\n" + reviews["reviewText"]).groupby(reviews["item"], sort=False)
    items = pd.DataFrame({"n_reviews": joined.size(), "text": joined.agg("\n".join)})
    items.index.name = "item"
    return Dataset("amazon-instruments", ratings, items, None, {"reviews": reviews}, "explicit", (1.0, 5.0))


_LOADERS = {
    "ml-100k": _load_ml100k,
    "ml-latest-small": _load_ml_latest_small,
    "lastfm-2k": _load_lastfm,
    "filmtrust": _load_filmtrust,
    "amazon-instruments": _load_amazon_instruments,
}


def load(name: str, data_home: str | Path | None = None) -> Dataset:
    """Load a real data set by name.

    Parameters
    ----------
    name : {"ml-100k", "ml-latest-small", "lastfm-2k", "filmtrust", "amazon-instruments"}
        Which data set (see the module docstring for contents and sources).
    data_home : str or Path, optional
        A root folder holding ``<folder>/`` sub-folders (the layout of
        ``$RECBOOK_DATA``); when given, it is the only place searched and
        the download target.  By default ``$RECBOOK_DATA`` then the user cache.

    Returns
    -------
    Dataset
        ``ratings`` in source-file order, plus ``items``, ``users`` and
        ``tables`` where the source has them.

    Raises
    ------
    ValueError
        Unknown ``name``.
    DatasetNotFoundError
        Files absent and the download failed.
    ChecksumError
        A file differs from the official release.

    References
    ----------
    Harper & Konstan (2015); Cantador et al. (2011); Guo et al. (2013);
    McAuley et al. (2015); He & McAuley (2016).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    _check_name(name)
    return _LOADERS[name](data_home)


# ----------------------------------------------------------------------------
# Synthetic data
# ----------------------------------------------------------------------------
_SYNTH_GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Documentary", "Animation")


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def synthetic(
    n_users: int = 200,
    n_items: int = 300,
    n_ratings: int = 5000,
    rating_scale: tuple[float, float] = (1, 5),
    seed: int = 0,
) -> Dataset:
    r"""A small latent-factor world with a popularity long tail.

    Who rates what: pair :math:`(u, i)` is drawn without replacement with
    probability proportional to :math:`a_u\,p_i`, where user activity
    :math:`a_u \sim \mathrm{LogNormal}(0, 1)` and item popularity follows a
    Zipf law :math:`p_i \propto \mathrm{rank}_i^{-0.9}` (ranks shuffled over
    ids).  Every user gets at least one rating when ``n_ratings >= n_users``.

    What they give: with scale :math:`[lo, hi]` and width :math:`w = hi - lo`,

    .. math::
        r_{ui} = \mu + b_u + b_i + \mathbf p_u^\top \mathbf q_i + \varepsilon,
        \quad \mu = lo + 0.65w,\ b_u \sim N(0, (0.1w)^2),\
        b_i \sim N(0, (0.12w)^2),\ \varepsilon \sim N(0, (0.1w)^2),

    with 8 latent factors of scale such that :math:`\mathbf p_u^\top\mathbf q_i`
    has standard deviation about :math:`0.15w`; popular items get a slightly
    higher bias.  The observed rating is rounded to the nearest integer (to
    the nearest half when a bound is a half-integer) and clipped to the scale.

    Returns
    -------
    Dataset
        ``ratings`` (``user, item, rating, timestamp``; 1-based int ids, rows
        in time order), ``items`` (``title``, ``genres``: the item's dominant
        latent factors named as genres, ``year``) and
        ``tables["truth"]`` (``user, item, true_rating``: the noise-free
        :math:`\mu + b_u + b_i + \mathbf p_u^\top \mathbf q_i`).

    Raises
    ------
    TypeError, ValueError
        Non-int or non-positive sizes, ``n_ratings > n_users * n_items``, or a
        scale that is not two finite numbers ``lo < hi``.
    """
    n_users = _positive_int("n_users", n_users)
    n_items = _positive_int("n_items", n_items)
    n_ratings = _positive_int("n_ratings", n_ratings)
    if n_ratings > n_users * n_items:
        raise ValueError(
            f"n_ratings={n_ratings} is larger than n_users * n_items = {n_users * n_items}: "
            "each (user, item) pair is rated at most once"
        )
    try:
        lo, hi = (float(v) for v in rating_scale)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rating_scale must be a pair (low, high) of numbers, got {rating_scale!r}") from exc
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"rating_scale must satisfy low < high (finite), got {rating_scale!r}")
    rng = np.random.default_rng(seed)
    width = hi - lo
    k = len(_SYNTH_GENRES)

    activity = rng.lognormal(0.0, 1.0, n_users)
    popularity = 1.0 / rng.permutation(np.arange(1, n_items + 1)) ** 0.9
    p_item = popularity / popularity.sum()

    # Unique pairs: one item per user first (if budget allows), then weighted
    # sampling without replacement over the remaining grid (Gumbel top-k), or
    # rejection sampling when the grid is too large to materialise.
    n_first = n_users if n_ratings >= n_users else 0
    first_items = rng.choice(n_items, size=n_first, p=p_item)
    first = np.arange(n_first, dtype=np.int64) * n_items + first_items
    rest = n_ratings - n_first
    if n_users * n_items <= 4_000_000:
        logw = (np.log(activity)[:, None] + np.log(p_item)[None, :]).ravel()
        logw[first] = -np.inf
        keys = logw + rng.gumbel(size=logw.size)
        from recbook.base import top_k  # deterministic ties on every CPU

        extra = top_k(keys, rest)[0] if rest else np.empty(0, np.int64)
        pairs = np.concatenate([first, extra])
    else:
        p_user = activity / activity.sum()
        chosen = dict.fromkeys(first.tolist())
        while len(chosen) < n_ratings:
            batch = 2 * (n_ratings - len(chosen)) + 16
            cand = rng.choice(n_users, size=batch, p=p_user) * n_items + rng.choice(n_items, size=batch, p=p_item)
            for c in cand.tolist():
                chosen.setdefault(c)
                if len(chosen) == n_ratings:
                    break
        pairs = np.fromiter(chosen, dtype=np.int64, count=n_ratings)
    u, i = np.divmod(pairs, n_items)

    P = rng.normal(0.0, 1.0, (n_users, k))
    Q = rng.normal(0.0, 1.0, (n_items, k))
    scale = 0.15 * width / np.sqrt(k)
    b_u = rng.normal(0.0, 0.1 * width, n_users)
    logpop = np.log(popularity)
    b_i = rng.normal(0.0, 0.12 * width, n_items) + 0.03 * width * (logpop - logpop.mean()) / logpop.std()
    mu = lo + 0.65 * width
    true = mu + b_u[u] + b_i[i] + scale * np.einsum("nk,nk->n", P[u], Q[i])
    noisy = true + rng.normal(0.0, 0.1 * width, n_ratings)
    step = 1.0 if float(lo).is_integer() and float(hi).is_integer() else 0.5
    observed = np.clip(lo + np.round((noisy - lo) / step) * step, lo, hi)

    start = 1_577_836_800  # 2020-01-01
    timestamp = start + np.sort(rng.integers(0, 365 * 86_400, n_ratings))
    order = rng.permutation(n_ratings)  # pairs get random times, rows in time order
    ratings = pd.DataFrame(
        {
            "user": u[order] + 1,
            "item": i[order] + 1,
            "rating": observed[order].astype(np.float64),
            "timestamp": timestamp.astype(np.int64),
        }
    )
    truth = pd.DataFrame({"user": ratings["user"], "item": ratings["item"], "true_rating": true[order]})

    names = np.array(_SYNTH_GENRES, dtype=object)
    top = np.argsort(-Q, axis=1, kind="stable")[:, :2]
    genres = [list(names[row[Q[n, row] > 0.5]]) or [names[row[0]]] for n, row in enumerate(top)]
    items = pd.DataFrame(
        {
            "title": [f"Item {j}" for j in range(1, n_items + 1)],
            "genres": genres,
            "year": rng.integers(1950, 2021, n_items).astype(np.float64),
        },
        index=pd.Index(np.arange(1, n_items + 1), name="item"),
    )
    return Dataset("synthetic", ratings, items, None, {"truth": truth}, "explicit", (lo, hi))
