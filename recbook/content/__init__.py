"""Chapter 4: content-based recommendation.

Items are described by what they *are* rather than by who rated them:

* :mod:`recbook.content.features` -- item representations: bag of words and
  TF-IDF (:func:`bag_of_words`, :func:`tfidf`), genre multi-hot
  (:func:`genre_features`), tag documents (:func:`tag_documents`), numeric
  metadata (:func:`numeric_features`, :func:`item_popularity`), and the
  :class:`FeatureMatrix` container plus :func:`concat_features` (fusion by
  concatenating normalised blocks);
* :mod:`recbook.content.embeddings` -- sentence embeddings with the language
  model all-MiniLM-L6-v2 (:func:`embed_texts`, :func:`load_sentence_model`),
  cached on disk, and averaged static word embeddings from the same model's
  token-embedding table (:func:`average_word_embeddings`);
* :mod:`recbook.content.similarity` -- cosine, Pearson and Jaccard similarity
  between feature vectors and user profiles (:func:`user_profiles`);
* :mod:`recbook.content.knn` -- the :class:`ContentKNN` recommender, which
  scores items nobody has rated yet (the cold-start case), the cold-item
  split :func:`cold_item_split` and the new-item ranking protocol
  :func:`evaluate_new_items`;
* :mod:`recbook.content.keywords` -- keyword-based recommendation: item
  keywords (:func:`item_keywords`) and Jaccard overlap with a user's keyword
  profile (:class:`KeywordRecommender`);
* :mod:`recbook.content.fusion` -- multimodal fusion: validation-chosen
  weights (:func:`tune_fusion_weights`), a small learned gate in torch
  (:class:`LearnedFusionKNN`) and attention over modalities and rated items
  (:class:`AttentionFusionKNN`);
* :mod:`recbook.content.multitask` -- multi-task learning: a content-based
  matrix factorisation whose shared item representation also predicts an
  auxiliary label (:class:`MultiTaskContentMF`).

Submodules load on first use, and nothing here imports torch or
sentence-transformers until an embedding or a learned fusion is asked for.
"""

from __future__ import annotations

from recbook._lazy import lazy_exports

_WHERE = {
    "features": "recbook.content.features",
    "embeddings": "recbook.content.embeddings",
    "similarity": "recbook.content.similarity",
    "knn": "recbook.content.knn",
    "fusion": "recbook.content.fusion",
    "multitask": "recbook.content.multitask",
    "keywords": "recbook.content.keywords",
    # features
    "FeatureMatrix": "recbook.content.features",
    "as_feature_matrix": "recbook.content.features",
    "bag_of_words": "recbook.content.features",
    "tfidf": "recbook.content.features",
    "genre_features": "recbook.content.features",
    "tag_documents": "recbook.content.features",
    "numeric_features": "recbook.content.features",
    "item_popularity": "recbook.content.features",
    "concat_features": "recbook.content.features",
    # embeddings
    "MODEL_NAME": "recbook.content.embeddings",
    "HUB_MODEL_NAME": "recbook.content.embeddings",
    "MODEL_SHA256": "recbook.content.embeddings",
    "packaged_model_path": "recbook.content.embeddings",
    "load_sentence_model": "recbook.content.embeddings",
    "embed_texts": "recbook.content.embeddings",
    "embed_items": "recbook.content.embeddings",
    "embedding_cache_dir": "recbook.content.embeddings",
    # similarity and profiles
    "cosine_similarity": "recbook.content.similarity",
    "pearson_similarity": "recbook.content.similarity",
    "jaccard_similarity": "recbook.content.similarity",
    "pairwise_similarity": "recbook.content.similarity",
    "user_profiles": "recbook.content.similarity",
    "most_similar": "recbook.content.similarity",
    # recommenders and protocols
    "ContentKNN": "recbook.content.knn",
    "cold_item_split": "recbook.content.knn",
    "evaluate_new_items": "recbook.evaluate.core",
    "LearnedFusionKNN": "recbook.content.fusion",
    "tune_fusion_weights": "recbook.content.fusion",
    "weight_grid": "recbook.content.fusion",
    "AttentionFusionKNN": "recbook.content.fusion",
    "item_keywords": "recbook.content.keywords",
    "KeywordRecommender": "recbook.content.keywords",
    "average_word_embeddings": "recbook.content.embeddings",
    "MultiTaskContentMF": "recbook.content.multitask",
}

__all__, __getattr__, __dir__ = lazy_exports("recbook.content", _WHERE)
