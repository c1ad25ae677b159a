r"""Chapter 5: hybrid recommenders, built from any recbook models.

A hybrid combines two or more *component* recommenders (collaborative,
content-based, popularity, ...) so that one covers the other's blind spots:
collaborative filtering is accurate where there are many ratings, content
models still work for an item nobody has rated yet. Every class here is itself
a :class:`recbook.base.Recommender` (``fit``, ``predict``, ``recommend``) and
takes its components as *unfitted* estimators: ``fit`` clones them with
:func:`sklearn.base.clone` (the caller's objects are never touched) and fits
the clones on the training frame.

The strategies, by Burke's (2002) families:

* :class:`WeightedHybrid` (weighted): :math:`\sum_m w_m\,\hat r^{(m)}_{ui}` with fixed
  or learned (non-negative least squares) weights;
* :class:`SwitchingHybrid` (switching): the fallback model for cold pairs, the
  primary model otherwise;
* :class:`MixedHybrid` (mixed): the components' lists interleaved
  (:func:`interleave`: round robin or team draft);
* :class:`FeatureCombination` (feature combination; feature augmentation with
  ``models``): one learner on collaborative statistics and content features;
* :class:`CascadeHybrid` (cascade): the first model picks candidates, the
  second re-ranks them;
* :class:`StackingHybrid` (a learned weighted hybrid): out-of-fold component
  predictions feed a meta-learner;
* :class:`AdaptiveHybrid` (weighted, per pair): a softmax gate on user and item
  activity sets each pair's weights;
* :class:`MetaLevelHybrid` (meta-level): user-KNN whose similarities come from
  content profiles (the content *model* is the collaborative step's input).

Beyond accuracy (section 5.3):

* :func:`mmr_rerank` and :class:`MMRReranker`: maximal marginal relevance
  (Carbonell & Goldstein, 1998) re-ranks a model's candidates for relevance
  and variety over item features;
* :func:`explain_hybrid`: each component's contribution to every item of a
  user's list, for the hybrids that add weighted component scores.

The learned combiners (:class:`WeightedHybrid` with ``learn_weights``,
:class:`AdaptiveHybrid`) learn on the validation split of a named protocol
(:meth:`recbook.evaluate.Protocol.validation_split` of the training data,
``validation=``), so that the validation data look like the task the hybrid
is evaluated on.

**Shared conventions.**

* *Catalogue.* A hybrid knows the union of its components' users and items
  (training ids first, in order of first appearance). A content component that
  can score items without ratings therefore lets the hybrid recommend them.
* *Unknown ids.* A component asked about a user or item it does not know gives
  its own documented fallback estimate; the hybrid combines those.
* *Rating vs ranking.* ``predict`` combines the components' predictions
  (clipped to each component's rating scale, exactly as their own ``predict``
  returns them) and is clipped to the training rating scale when every
  component is a rating model. Top-K lists (``recommend``, ``score_items``)
  combine *scores*, which can live on different scales (a rating, a count, a
  cosine): the weighted, switching and adaptive hybrids therefore standardise
  each component's scores per user before mixing (:func:`normalize_scores`).

The package has one module per family: :mod:`~recbook.hybrid.weighted`,
:mod:`~recbook.hybrid.switching`, :mod:`~recbook.hybrid.mixed`,
:mod:`~recbook.hybrid.features`, :mod:`~recbook.hybrid.cascade`,
:mod:`~recbook.hybrid.stacking`, :mod:`~recbook.hybrid.adaptive`,
:mod:`~recbook.hybrid.meta`, :mod:`~recbook.hybrid.diversity` and
:mod:`~recbook.hybrid.explain`; :mod:`~recbook.hybrid.scores` holds the score
helpers. Chapter 9 adds :mod:`~recbook.hybrid.fusion`: :class:`LearnedFusion`,
model fusion for top-K lists (a weighted average tuned on a validation split,
or a stacked classifier over the models' scores and ranks on candidate
items), where :class:`StackingHybrid` stacks rating predictions.
Submodules load on first use.

References
----------
R. Burke, "Hybrid recommender systems: survey and experiments", User Modeling
and User-Adapted Interaction 12(4), 2002.
"""

from __future__ import annotations

from recbook._lazy import lazy_exports

_WHERE = {
    "normalize_scores": "recbook.hybrid.scores",
    "interleave": "recbook.hybrid.scores",
    "WeightedHybrid": "recbook.hybrid.weighted",
    "SwitchingHybrid": "recbook.hybrid.switching",
    "MixedHybrid": "recbook.hybrid.mixed",
    "FeatureCombination": "recbook.hybrid.features",
    "CascadeHybrid": "recbook.hybrid.cascade",
    "StackingHybrid": "recbook.hybrid.stacking",
    "AdaptiveHybrid": "recbook.hybrid.adaptive",
    "MetaLevelHybrid": "recbook.hybrid.meta",
    "mmr_rerank": "recbook.hybrid.diversity",
    "MMRReranker": "recbook.hybrid.diversity",
    "explain_hybrid": "recbook.hybrid.explain",
    "LearnedFusion": "recbook.hybrid.fusion",
    "simplex_grid": "recbook.hybrid.fusion",
    "rank_normalize": "recbook.hybrid.fusion",
}
_MODULES = ("scores", "weighted", "switching", "mixed", "features", "cascade", "stacking", "adaptive", "meta",
            "diversity", "explain", "fusion")

__all__, __getattr__, __dir__ = lazy_exports("recbook.hybrid", _WHERE, _MODULES)
