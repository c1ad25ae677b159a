r"""Distilling a sentence encoder: a tiny hashed n-gram model that imitates all-MiniLM-L6-v2.

A language model gives every item text a vector :math:`\mathbf t(s) \in
\mathbb R^{384}` (:func:`recbook.content.embed_texts`), which a two-tower
model (:class:`recbook.models.twotower.TwoTower`) projects into its item
space, so a new item is scored from its text alone. The language model is
the expensive part: all-MiniLM-L6-v2 has 22.7 million parameters and runs six
Transformer layers per text. This module trains a *student* encoder that
reproduces the teacher's vectors (Hinton et al., 2015; for sentence
encoders, Reimers & Gurevych, 2020, and the FastText-style bag of n-grams of
Joulin et al., 2017, and Bojanowski et al., 2017):

1. **Hashed n-grams.** A text :math:`s` (lower-cased, padded with one space
   on each side) becomes the multiset :math:`G(s)` of its character n-grams
   (:math:`n = 3, 4, 5`, spaces included, so short words and word
   boundaries are n-grams too), its words and its word bigrams; each is
   mapped to one of :math:`B` buckets by a fixed hash :math:`h` (the same on
   every machine, unlike Python's salted ``hash``), with collisions simply
   shared.
2. **Bag of embeddings.** :math:`\bar{\mathbf e}(s) = \frac{1}{|G(s)|}
   \sum_{g \in G(s)} E_{h(g)}` with a trained table :math:`E \in \mathbb
   R^{B \times d_e}` (``torch.nn.EmbeddingBag``, mean mode).
3. **A small MLP** to the teacher's dimension, scaled to unit length:

   .. math::

       \mathbf z(s) = \frac{W_2\, \mathrm{GELU}(W_1 \bar{\mathbf e}(s) + \mathbf c_1) + \mathbf c_2}
                           {\lVert W_2\, \mathrm{GELU}(W_1 \bar{\mathbf e}(s) + \mathbf c_1) + \mathbf c_2 \rVert_2}.

The student minimises, over a corpus of texts :math:`S` with the teacher's
unit vectors :math:`\mathbf t(s)`, either the cosine distance or the mean
squared error

.. math::

    \mathcal L_{\cos} = \frac{1}{|S|} \sum_{s \in S} \bigl(1 - \mathbf z(s)^\top \mathbf t(s)\bigr),
    \qquad
    \mathcal L_{\mathrm{MSE}} = \frac{1}{|S|} \sum_{s \in S} \lVert \mathbf z(s) - \mathbf t(s) \rVert_2^2
    = 2 \mathcal L_{\cos},

(the two are proportional for unit vectors; ``loss="mse"`` skips the final
normalisation of :math:`\mathbf z`, so it also learns the teacher's length),
trained with :func:`recbook.train.train_module`. Only the teacher's *outputs*
are used: its weights, tokenizer and layers are never touched.

**No test text in the corpus.** The student must never see the text of an
item it will be evaluated on. :func:`movie_texts` builds the book's item
text (title and genres) for ml-100k and ml-latest-small alike, and
:func:`exclude_titles` removes from an outside corpus every film whose title
and year match a film of a reference catalogue (say ml-100k), so a corpus
made of ml-latest-small's *other* films plus the *training* films of a
split holds no cold film's text.

References
----------
G. Hinton, O. Vinyals and J. Dean, "Distilling the knowledge in a neural
network", arXiv:1503.02531, 2015; A. Joulin, E. Grave, P. Bojanowski and
T. Mikolov, "Bag of tricks for efficient text classification", EACL 2017;
P. Bojanowski, E. Grave, A. Joulin and T. Mikolov, "Enriching word vectors
with subword information", TACL 2017; N. Reimers and I. Gurevych, "Making
monolingual sentence embeddings multilingual using knowledge distillation",
EMNLP 2020; W. Wang et al., "MiniLM", NeurIPS 2020.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from recbook.train import train_module
from recbook.utils import check_int, check_number

__all__ = [
    "movie_texts",
    "title_keys",
    "exclude_titles",
    "hash_ngrams",
    "TinyTextEncoder",
    "DistilledTextEncoder",
    "count_parameters",
    "median_seconds",
]

#: ml-latest-small genre names that ml-100k spells differently (``None``: dropped).
_GENRE_ALIASES = {"Children": "Children's", "IMAX": None, "(no genres listed)": None}
_CHAR_NS = (3, 4, 5)
# odd 64-bit constants of the polynomial hash (any fixed odd values would do)
_BASE = np.uint64(0x100000001B3)
_SALT = np.uint64(0x9E3779B97F4A7C15)


# ---------------------------------------------------------------- texts
def movie_texts(items: pd.DataFrame) -> pd.Series:
    """The book's item text of a film: ``"<title>. <genre>, <genre>, ..."`` (chapter 4's ``docs``).

    Works for ml-100k and ml-latest-small (whose genre ``Children`` is
    renamed ``Children's`` and ``IMAX`` dropped, so both data sets use one
    vocabulary).

    Parameters
    ----------
    items : pandas.DataFrame
        Indexed by item id, with a ``title`` column (str) and a ``genres``
        column (a list of str per film).

    Returns
    -------
    pandas.Series
        One text per film, same index.
    """
    if not isinstance(items, pd.DataFrame):
        raise TypeError(f"items must be a pandas DataFrame, got {type(items).__name__}")
    missing = {"title", "genres"} - set(items.columns)
    if missing:
        raise ValueError(f"items needs the columns title and genres, missing {sorted(missing)}")
    genres = items["genres"].map(
        lambda gs: ", ".join(_GENRE_ALIASES.get(g, g) for g in gs if _GENRE_ALIASES.get(g, g) is not None)
    )
    return (items["title"].astype(str) + ". " + genres).rename("text")


_ARTICLES = r"(the|a|an|les|la|le|l'|il|das|der|die|el|los|las|lo|i)"


def _normal_title(title: str) -> str:
    t = title.lower().replace("&", " and ").replace("+", " and ").strip()
    t = re.sub(r"^a\.k\.a\.\s*", "", t)
    t = re.sub(r",\s*" + _ARTICLES + r"\s*$", "", t)  # "Postman, The" -> "Postman"
    t = re.sub(r"^" + _ARTICLES + r"\s+", "", t)
    return re.sub(r"[^0-9a-z]+", "", t)


def title_keys(items: pd.DataFrame) -> pd.Series:
    """The matching keys of each film: its title and every alternative title in brackets, normalised.

    A key is lower-cased, without a leading or trailing article and without
    punctuation or spaces: ``"Shawshank Redemption, The"`` and ``"The
    Shawshank Redemption"`` share the key ``"shawshankredemption"``, and
    ``"Postman, The (Postino, Il)"`` has the keys ``"postman"`` and
    ``"postino"``; the pieces of a title cut at ``":"`` and ``" - "`` are
    keys too (``"Star Wars: Episode IV - A New Hope"`` matches ``"Star
    Wars"``), and ``&`` and ``+`` read as "and". Years are ignored on purpose (ml-100k dates a film by its
    release, ml-latest-small by its title), so matching errs on the side of
    removing a film.

    Returns
    -------
    pandas.Series
        A frozenset of keys per film, same index.
    """
    if not isinstance(items, pd.DataFrame) or "title" not in items.columns:
        raise TypeError("items must be a pandas DataFrame with a title column")

    def keys(title: Any) -> frozenset:
        title = str(title)
        main = re.sub(r"\(.*?\)", " ", title)
        parts = [main, *re.split(r":| - ", main), *re.findall(r"\((.*?)\)", title)]
        return frozenset(k for k in (_normal_title(p) for p in parts) if k)

    return items["title"].map(keys)


def exclude_titles(items: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The films of ``items`` none of whose :func:`title_keys` is a key of a film of ``reference``.

    Used to build a distillation corpus from ml-latest-small that holds none
    of ml-100k's films (so none of a cold-item split's test films).
    """
    ref = set().union(*title_keys(reference)) if len(reference) else set()
    keep = np.array([not (k & ref) for k in title_keys(items)], dtype=bool)
    return items[keep]


# ------------------------------------------------------------- hashing
def _word_ids(words: list[str], n_buckets: int) -> list[int]:
    return [1 + zlib.crc32(w.encode("utf-8")) % n_buckets for w in words]


def hash_ngrams(texts: Sequence[str] | pd.Series, n_buckets: int = 8192, word_ngrams: int = 2) -> np.ndarray:
    r"""The hashed n-grams of each text, as a padded ``(len(texts), L)`` int64 array (0 = padding).

    Character n-grams (:math:`n = 3, 4, 5`) of ``" " + text.lower() + " "``
    are hashed with a polynomial hash over the UTF-8 bytes (computed for all
    texts at once with NumPy), words and word n-grams up to ``word_ngrams``
    with CRC-32; every id is :math:`1 + h(g) \bmod B`. Deterministic on every
    machine. ``L`` is the largest count of any text (at least 1).

    Parameters
    ----------
    texts : sequence of str or pandas.Series
    n_buckets : int
        :math:`B`, the number of hash buckets.
    word_ngrams : int
        1: words only; 2: words and word bigrams; 0: no word features.
    """
    if isinstance(texts, str) or not isinstance(texts, (Sequence, pd.Series, np.ndarray)):
        raise TypeError(f"texts must be a sequence of str, got {type(texts).__name__}")
    n_buckets = check_int("n_buckets", n_buckets)
    word_ngrams = check_int("word_ngrams", word_ngrams, minimum=0)
    docs = [" " + ("" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t)).lower() + " " for t in texts]
    per_text: list[list[np.ndarray]] = [[] for _ in docs]
    if docs:
        raw = [d.encode("utf-8") for d in docs]
        lengths = np.array([len(r) for r in raw], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
        buf = np.frombuffer(b"\x00".join(raw), dtype=np.uint8).astype(np.uint64)
        owner = np.repeat(np.arange(len(docs)), lengths + 1)[: len(buf)]
        char_parts = []
        for n in _CHAR_NS:
            if len(buf) < n:
                continue
            win = np.lib.stride_tricks.sliding_window_view(buf, n)
            ok = (win != 0).all(axis=1)  # a window never crosses two texts
            with np.errstate(over="ignore"):
                h = np.full(len(win), np.uint64(n) * _SALT, dtype=np.uint64)
                for j in range(n):
                    h = h * _BASE + win[:, j]
                h ^= h >> np.uint64(29)
            ids = (1 + (h % np.uint64(n_buckets))).astype(np.int64)
            char_parts.append((owner[: len(win)][ok], ids[ok]))
        if char_parts:
            own = np.concatenate([p[0] for p in char_parts])
            ids = np.concatenate([p[1] for p in char_parts])
            order = np.argsort(own, kind="stable")
            own, ids = own[order], ids[order]
            bounds = np.searchsorted(own, np.arange(len(docs) + 1))
            for t in range(len(docs)):
                per_text[t].append(ids[bounds[t] : bounds[t + 1]])
        if word_ngrams > 0:
            for t, d in enumerate(docs):
                words = re.findall(r"[0-9a-z']+", d)
                grams = [" ".join(words[k : k + n]) for n in range(1, word_ngrams + 1) for k in range(len(words) - n + 1)]
                per_text[t].append(np.asarray(_word_ids(["w:" + g for g in grams], n_buckets), dtype=np.int64))
    rows = [np.concatenate(p) if p else np.empty(0, dtype=np.int64) for p in per_text]
    width = max([len(r) for r in rows] + [1])
    out = np.zeros((len(rows), width), dtype=np.int64)
    for t, r in enumerate(rows):
        out[t, : len(r)] = r
    return out


# --------------------------------------------------------------- model
class TinyTextEncoder(torch.nn.Module):
    """Hashed n-gram bag -> ``EmbeddingBag`` (mean) -> Linear-GELU-Linear (see the module docstring)."""

    def __init__(self, n_buckets: int, dim: int, hidden: int, out_dim: int, normalize: bool = True) -> None:
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(n_buckets + 1, dim, mode="mean", padding_idx=0)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, out_dim))
        self.normalize = normalize
        torch.nn.init.normal_(self.bag.weight, std=0.1)
        with torch.no_grad():
            self.bag.weight[0].zero_()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Sentence vectors of a batch of hashed n-gram ids (:func:`hash_ngrams`; 0 is padding), L2-normalised if ``normalize``."""
        z = self.mlp(self.bag(tokens))
        return torch.nn.functional.normalize(z, dim=-1) if self.normalize else z


def count_parameters(module: Any) -> int:
    """The number of scalar parameters of a ``torch.nn.Module`` (a SentenceTransformer is one)."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return int(sum(p.numel() for p in module.parameters()))


class DistilledTextEncoder:
    r"""A tiny text encoder trained to reproduce a teacher's sentence embeddings (see the module docstring).

    Parameters
    ----------
    n_buckets : int, default 8192
        Hash buckets :math:`B`.
    dim : int, default 16
        Width :math:`d_e` of the n-gram embeddings.
    hidden : int, default 128
        Width of the MLP's hidden layer.
    word_ngrams : int, default 2
        Word n-grams used besides the character n-grams (0, 1 or 2...).
    loss : {"cosine", "mse"}, default "cosine"
        :math:`\mathcal L_{\cos}` (outputs scaled to unit length) or
        :math:`\mathcal L_{\mathrm{MSE}}` (raw outputs).
    n_epochs, batch_size, lr, seed :
        Training by :func:`recbook.train.train_module` with Adam.

    Attributes
    ----------
    module_ : TinyTextEncoder
        The trained student (eval mode).
    history_ : pandas.DataFrame
        Mean loss per epoch.
    out_dim_ : int
        The teacher's dimension (384 for all-MiniLM-L6-v2).

    Examples
    --------
    >>> import numpy as np
    >>> texts = ["toy story. animation", "heat. action, crime", "toy soldiers. action"]
    >>> targets = np.eye(3, 4, dtype=np.float32)
    >>> enc = DistilledTextEncoder(n_buckets=64, dim=4, hidden=8, n_epochs=2).fit(texts, targets)
    >>> enc.encode(["toy story. animation"]).shape
    (1, 4)
    """

    def __init__(
        self,
        n_buckets: int = 8192,
        dim: int = 16,
        hidden: int = 128,
        word_ngrams: int = 2,
        loss: str = "cosine",
        n_epochs: int = 60,
        batch_size: int = 128,
        lr: float = 0.01,
        seed: int = 0,
    ) -> None:
        self.n_buckets = n_buckets
        self.dim = dim
        self.hidden = hidden
        self.word_ngrams = word_ngrams
        self.loss = loss
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed

    def __repr__(self) -> str:
        return (
            f"DistilledTextEncoder(n_buckets={self.n_buckets}, dim={self.dim}, hidden={self.hidden}, "
            f"word_ngrams={self.word_ngrams}, loss={self.loss!r})"
        )

    def _check(self) -> None:
        for name in ("n_buckets", "dim", "hidden", "n_epochs", "batch_size"):
            check_int(name, getattr(self, name))
        check_int("word_ngrams", self.word_ngrams, minimum=0)
        check_int("seed", self.seed, minimum=0)
        check_number("lr", self.lr, positive=True)
        if self.loss not in ("cosine", "mse"):
            raise ValueError(f"loss must be 'cosine' or 'mse', got {self.loss!r}")

    def fit(self, texts: Sequence[str] | pd.Series, targets: np.ndarray) -> "DistilledTextEncoder":
        """Train on ``texts`` and the teacher's vectors ``targets`` (one row per text) and return ``self``."""
        self._check()
        targets = np.asarray(targets, dtype=np.float32)
        if targets.ndim != 2:
            raise ValueError(f"targets must be a 2-d array (one row per text), got shape {targets.shape}")
        if len(texts) != len(targets) or len(texts) == 0:
            raise ValueError(f"texts and targets must be non-empty and of one length, got {len(texts)} and {len(targets)}")
        if not np.all(np.isfinite(targets)):
            raise ValueError("targets must be finite")
        tokens = torch.as_tensor(hash_ngrams(texts, self.n_buckets, self.word_ngrams))
        self.out_dim_ = int(targets.shape[1])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            module = TinyTextEncoder(self.n_buckets, self.dim, self.hidden, self.out_dim_, normalize=self.loss == "cosine")

        def loss_fn(m: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
            z = m(batch["tokens"])
            if self.loss == "cosine":
                return (1.0 - (z * batch["target"]).sum(-1)).mean()
            return (z - batch["target"]).pow(2).sum(-1).mean()

        result = train_module(
            module,
            loss_fn,
            {"tokens": tokens, "target": torch.as_tensor(targets)},
            n_epochs=int(self.n_epochs),
            batch_size=int(self.batch_size),
            lr=float(self.lr),
            seed=int(self.seed),
            desc="DistilledTextEncoder",
        )
        self.history_ = result.history
        self.module_ = module.eval()
        return self

    def encode(self, texts: Sequence[str] | pd.Series, batch_size: int = 4096) -> np.ndarray:
        """The student's vectors of ``texts``: a ``(len(texts), out_dim_)`` float32 array (unit rows for ``loss="cosine"``)."""
        if not hasattr(self, "module_"):
            raise ValueError("DistilledTextEncoder is not fitted yet: call fit(texts, targets) first")
        batch_size = check_int("batch_size", batch_size)
        texts = list(texts) if isinstance(texts, pd.Series) else texts
        out = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                tokens = torch.as_tensor(hash_ngrams(texts[start : start + batch_size], self.n_buckets, self.word_ngrams))
                out.append(self.module_(tokens).numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.out_dim_), dtype=np.float32)

    def encode_items(self, texts: pd.Series, name: str = "tiny encoder") -> Any:
        """Encode one text per item (a Series indexed by item id) into a :class:`recbook.content.FeatureMatrix`."""
        from recbook.content.features import FeatureMatrix

        if not isinstance(texts, pd.Series):
            raise TypeError(f"texts must be a pandas Series indexed by item id, got {type(texts).__name__}")
        emb = self.encode(texts)
        return FeatureMatrix(texts.index, emb.astype(np.float64), [f"e{j}" for j in range(emb.shape[1])], name)

    def n_parameters(self) -> int:
        """Scalar parameters of the trained student."""
        if not hasattr(self, "module_"):
            raise ValueError("DistilledTextEncoder is not fitted yet: call fit(texts, targets) first")
        return count_parameters(self.module_)


def median_seconds(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """The median wall time of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = check_int("repeats", repeats)
    warmup = check_int("warmup", warmup, minimum=0)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))
