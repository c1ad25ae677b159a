"""Shared fixtures: a small synthetic-like frame and the real data location."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = os.environ.get("RECBOOK_DATA")


def _has(folder: str) -> bool:
    return bool(DATA) and (Path(DATA) / folder).is_dir()


requires_ml100k = pytest.mark.skipif(
    not _has("ml-100k"), reason="set RECBOOK_DATA to the folder holding ml-100k/ (CI uses ../shared/data)"
)


@pytest.fixture
def tiny() -> pd.DataFrame:
    """A 4-user, 5-item explicit-feedback frame small enough to check by hand."""
    return pd.DataFrame(
        {
            "user": [1, 1, 1, 2, 2, 3, 3, 3, 4],
            "item": [10, 20, 30, 10, 40, 20, 30, 50, 10],
            "rating": [5.0, 3.0, 4.0, 4.0, 2.0, 1.0, 5.0, 3.0, 4.0],
            "timestamp": [1, 2, 3, 4, 5, 6, 7, 8, 9],
        }
    )


@pytest.fixture
def random_frame() -> pd.DataFrame:
    """600 random unique interactions of 40 users with 60 items."""
    rng = np.random.default_rng(1)
    pairs = rng.choice(40 * 60, size=600, replace=False)
    return pd.DataFrame(
        {
            "user": pairs // 60,
            "item": 1000 + pairs % 60,
            "rating": rng.integers(1, 6, size=600).astype(float),
            "timestamp": rng.permutation(600),
        }
    )
