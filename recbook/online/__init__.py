"""Chapter 9.2: online learning and adaptive adjustment.

Streaming matrix factorisation evaluated prequentially (:class:`OnlineMF`,
:class:`PeriodicRetrain`, :func:`prequential`) and contextual bandits that
adapt the recommendation strategy to feedback (:class:`LinUCB`,
:class:`LinearThompson`, :class:`EpsilonGreedy`, :class:`RandomPolicy`,
:class:`MostClicked`, :class:`LogisticEnvironment`, :func:`simulate_bandit`).
Everything is NumPy (and numba); submodules load on first use.
"""

from __future__ import annotations

from recbook._lazy import lazy_exports

_WHERE = {
    "OnlineMF": "recbook.online.mf",
    "PeriodicRetrain": "recbook.online.mf",
    "prequential": "recbook.online.mf",
    "LinUCB": "recbook.online.bandits",
    "LinearThompson": "recbook.online.bandits",
    "EpsilonGreedy": "recbook.online.bandits",
    "RandomPolicy": "recbook.online.bandits",
    "MostClicked": "recbook.online.bandits",
    "LogisticEnvironment": "recbook.online.bandits",
    "simulate_bandit": "recbook.online.bandits",
}

__all__, __getattr__, __dir__ = lazy_exports("recbook.online", _WHERE)
