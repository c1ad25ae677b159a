"""The distilled text encoder: hashing, corpus filtering, training, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recbook.distill.text import (  # noqa: E402
    DistilledTextEncoder,
    TinyTextEncoder,
    count_parameters,
    exclude_titles,
    hash_ngrams,
    median_seconds,
    movie_texts,
    title_keys,
)


def test_movie_texts_matches_chapter_4_and_maps_genres():
    items = pd.DataFrame({"title": ["Toy Story", "Jumanji"], "genres": [["Animation", "Children"], ["IMAX", "Adventure"]]},
                         index=[1, 2])
    assert movie_texts(items).tolist() == ["Toy Story. Animation, Children's", "Jumanji. Adventure"]
    with pytest.raises(ValueError):
        movie_texts(items[["title"]])
    with pytest.raises(TypeError):
        movie_texts(["Toy Story"])


def test_title_keys_and_exclusion():
    ref = pd.DataFrame({"title": ["Shawshank Redemption, The", "Postino, Il", "Star Wars", "Close Shave, A"]})
    other = pd.DataFrame({"title": ["The Shawshank Redemption", "Postman, The (Postino, Il)",
                                    "Star Wars: Episode IV - A New Hope", "Wallace & Gromit: A Close Shave", "Heat"]})
    assert "shawshankredemption" in title_keys(other).iloc[0]
    kept = exclude_titles(other, ref)
    assert kept["title"].tolist() == ["Heat"]


def test_hash_ngrams_by_hand():
    b = 1000
    out = hash_ngrams(["ab"], n_buckets=b, word_ngrams=1)
    # " ab " has 4 bytes: 2 trigrams, 1 four-gram, no five-gram; plus one word
    assert (out > 0).sum() == 2 + 1 + 1
    assert out.min() >= 1 and out.max() <= b
    again = hash_ngrams(["ab", "ab cd"], n_buckets=b, word_ngrams=2)
    assert np.array_equal(np.sort(again[0][again[0] > 0]), np.sort(out[0][out[0] > 0]))
    # "ab cd": trigrams 5, four-grams 4, five-grams 3, words 2, bigram 1
    assert (again[1] > 0).sum() == 5 + 4 + 3 + 2 + 1
    assert np.array_equal(hash_ngrams(["Ab"], b, 1), hash_ngrams(["ab"], b, 1))  # lower-cased
    with pytest.raises(TypeError):
        hash_ngrams("ab")
    with pytest.raises(ValueError):
        hash_ngrams(["ab"], n_buckets=0)


def test_encoder_learns_the_targets_and_counts_parameters():
    rng = np.random.default_rng(0)
    texts = [f"film {w} {v}" for w in ("red", "blue", "green", "dark", "light") for v in ("war", "love", "space", "crime")]
    targets = rng.normal(size=(len(texts), 6)).astype(np.float32)
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    enc = DistilledTextEncoder(n_buckets=512, dim=16, hidden=32, n_epochs=200, batch_size=8, lr=0.01).fit(texts, targets)
    z = enc.encode(texts)
    assert z.shape == targets.shape and np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)
    cos = (z * targets).sum(1)
    assert cos.mean() > 0.9 and enc.history_["loss"].iloc[-1] < enc.history_["loss"].iloc[0]
    assert enc.n_parameters() == (512 + 1) * 16 + 16 * 32 + 32 + 32 * 6 + 6
    assert count_parameters(TinyTextEncoder(10, 2, 3, 4)) == 11 * 2 + 2 * 3 + 3 + 3 * 4 + 4
    same = DistilledTextEncoder(n_buckets=512, dim=16, hidden=32, n_epochs=200, batch_size=8, lr=0.01).fit(texts, targets)
    assert np.array_equal(same.encode(texts), z)            # seeded
    fm = enc.encode_items(pd.Series(texts[:3], index=[7, 8, 9]))
    assert list(fm.ids) == [7, 8, 9] and fm.matrix.shape == (3, 6)


def test_mse_loss_learns_lengths():
    texts = ["aa bb", "cc dd", "ee ff"]
    targets = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    enc = DistilledTextEncoder(n_buckets=64, dim=8, hidden=16, loss="mse", n_epochs=300, batch_size=3, lr=0.02).fit(texts, targets)
    assert np.allclose(enc.encode(texts), targets, atol=0.1)


def test_bad_input():
    with pytest.raises(ValueError):
        DistilledTextEncoder(loss="kl").fit(["a"], np.ones((1, 2)))
    with pytest.raises(ValueError):
        DistilledTextEncoder().fit(["a", "b"], np.ones((1, 2)))
    with pytest.raises(ValueError):
        DistilledTextEncoder().fit(["a"], np.ones(2))
    with pytest.raises(TypeError):
        DistilledTextEncoder(dim=2.5).fit(["a"], np.ones((1, 2)))
    with pytest.raises(ValueError, match="not fitted"):
        DistilledTextEncoder().encode(["a"])
    with pytest.raises(TypeError):
        count_parameters("model")
    with pytest.raises(TypeError):
        median_seconds(3)
    assert median_seconds(lambda: None, repeats=3) >= 0
