"""The meta-level hybrid: user-based collaborative filtering on content profiles."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recbook.cf.knn import _KNN_CONSTRAINTS, KNN
from recbook.content.knn import FEATURES

__all__ = ["MetaLevelHybrid"]


class MetaLevelHybrid(KNN):
    r"""Meta-level hybrid: collaborative filtering on top of content *models*.

    In Burke's meta-level hybrid the **model** learned by one technique (not
    its predictions) is the input of another. Here, as in Pazzani's
    "collaboration via content" (1999), the content technique learns each
    user's profile :math:`\mathbf p_u` (:func:`recbook.content.user_profiles`:
    the centred, rating-weighted mean of the unit feature vectors of the items
    the user rated), and user-based KNN (:class:`recbook.cf.KNN`, the same
    neighbour selection and aggregation, ``rule`` as there) uses the cosine of
    the profiles as its user-user similarity:

    .. math::

        \mathrm{sim}(u, v) = \cos(\boldsymbol\pi_u, \boldsymbol\pi_v), \qquad
        \hat r_{ui} = \bar r_u + \frac{\sum_{v \in N_i^k(u),\ \mathrm{sim}>0}
        \mathrm{sim}(u, v)\,(r_{vi} - \bar r_v)}{\sum_{v \in N_i^k(u),\ \mathrm{sim}>0} \mathrm{sim}(u, v)}
        \quad (\texttt{rule="with\\_means"}).

    Two users can be neighbours without a single co-rated item, as long as
    they like the same kinds of items: the similarity no longer needs overlap,
    which helps users with few ratings. Items still need ratings (a neighbour
    must have rated :math:`i`), so this does not solve the new-item problem.

    Parameters
    ----------
    item_features : FeatureMatrix, DataFrame or (ids, matrix)
        A vector for every training item (as for :class:`recbook.content.ContentKNN`).
    k, min_k : int
        Neighbours kept and minimum positive neighbours (see :class:`recbook.cf.KNN`).
    rule : {"basic", "with_means", "with_zscore", "baseline"}

    Attributes
    ----------
    sim_ : numpy.ndarray, shape ``(n_users_, n_users_)``
        Cosine similarity of the users' content profiles.
    profiles_ : recbook.content.FeatureMatrix
        The users' content profiles, in internal user order.

    References
    ----------
    Burke (2002); M. J. Pazzani, "A framework for collaborative, content-based
    and demographic filtering", Artificial Intelligence Review 13, 1999.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "item_features": [FEATURES],
        "k": _KNN_CONSTRAINTS["k"],
        "min_k": _KNN_CONSTRAINTS["min_k"],
        "rule": _KNN_CONSTRAINTS["rule"],
    }
    # fixed by the method, not parameters: user-based, cosine of profiles
    user_based: ClassVar[bool] = True
    sim: ClassVar[str] = "cosine"
    min_support: ClassVar[int] = 1
    shrinkage: ClassVar[float] = 100.0

    def __init__(self, item_features: Any, k: int = 40, min_k: int = 1, rule: str = "with_means") -> None:
        self.item_features = item_features
        self.k = k
        self.min_k = min_k
        self.rule = rule

    @classmethod
    def _example(cls, data: Any) -> "MetaLevelHybrid":
        from recbook.content.features import genre_features

        return cls(genre_features(data.items), k=10)

    def _neighbour_similarity(self, mat: sp.csr_matrix, baseline: Any, u: np.ndarray, i: np.ndarray, r: np.ndarray) -> np.ndarray:
        """The user-user similarity: the cosine of the users' content profiles (instead of co-ratings)."""
        from recbook.content import cosine_similarity, user_profiles

        frame = pd.DataFrame({"user": self.user_ids_[u], "item": self.item_ids_[i], "rating": r})
        profiles = user_profiles(frame, self.item_features).rows(self.user_ids_)
        self.profiles_ = profiles
        sim = np.asarray(cosine_similarity(profiles.matrix), dtype=np.float64)
        np.fill_diagonal(sim, 1.0)
        return sim
