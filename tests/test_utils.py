from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from recbook import utils
from recbook.baselines import BaselineOnly


def test_seed_everything_reproduces_draws():
    utils.seed_everything(3)
    a = (random.random(), np.random.rand())
    utils.seed_everything(3)
    assert (random.random(), np.random.rand()) == a
    utils.seed_everything(4)
    assert (random.random(), np.random.rand()) != a


def test_seed_everything_seeds_torch_when_imported():
    torch = pytest.importorskip("torch")
    utils.seed_everything(5)
    a = torch.rand(3)
    utils.seed_everything(5)
    assert torch.equal(a, torch.rand(3))


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError), (True, TypeError), (None, TypeError)])
def test_seed_everything_rejects_bad_seed(bad, error):
    with pytest.raises(error, match="seed"):
        utils.seed_everything(bad)


def test_check_helpers():
    assert utils.check_int("k", 3) == 3
    assert utils.check_int("n", 0, minimum=0) == 0
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        utils.check_int("k", 0)
    with pytest.raises(ValueError, match="n_folds must be an integer >= 2"):
        utils.check_int("n_folds", 1, minimum=2)
    with pytest.raises(TypeError, match="positive integer"):
        utils.check_int("k", True)
    with pytest.raises(TypeError, match="positive integer"):
        utils.check_int("k", 2.0)
    assert utils.check_number("reg", 0) == 0.0
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        utils.check_number("lr", 0.0, positive=True)
    with pytest.raises(ValueError, match=">= 0"):
        utils.check_number("reg", float("nan"))
    with pytest.raises(ValueError, match=">= 0"):
        utils.check_number("reg", -1)
    with pytest.raises(TypeError, match="reg"):
        utils.check_number("reg", "1")
    assert utils.check_fraction("test_size", 0.25) == 0.25
    with pytest.raises(TypeError):
        utils.check_fraction("test_size", "0.2")
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        utils.check_fraction("test_size", 1.0)
    assert isinstance(utils.check_random_state(0), np.random.Generator)


def test_timer_measures_time():
    with utils.Timer() as t:
        sum(range(10000))
    assert t.seconds > 0


def test_model_size(tiny):
    assert utils.model_size(np.zeros((3, 4))) == {"params": 12, "bytes": 96}
    m = sp.random(10, 10, density=0.2, format="csr", random_state=0)
    assert utils.model_size(m)["params"] == 20
    fitted = BaselineOnly().fit(tiny)
    size = utils.model_size(fitted)
    assert size["params"] == fitted.n_users_ + fitted.n_items_  # b_u and b_i only
    with pytest.raises(TypeError):
        utils.model_size(3)


def test_model_size_torch():
    torch = pytest.importorskip("torch")
    layer = torch.nn.Linear(4, 2)
    assert utils.model_size(layer) == {"params": 10, "bytes": 40}


def test_import_recbook_is_cheap():
    code = (
        "import sys, recbook, recbook.datasets, recbook.split, recbook.metrics, recbook.evaluate, "
        "recbook.baselines, recbook.cf, recbook.content, recbook.hybrid, recbook.compress, recbook.distill; "
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_show_source_drops_the_docstring_only(capsys):
    from recbook.utils import check_fraction, show_source

    show_source(check_fraction)
    out = capsys.readouterr().out
    assert out.startswith("def check_fraction(") and "Raises ``TypeError``" not in out
    assert "raise ValueError" in out
    show_source(check_fraction, docstring=True)
    assert "Raises ``TypeError``" in capsys.readouterr().out


def test_show_source_of_a_method_and_a_builtin(capsys):
    from recbook.baselines import BaselineOnly
    from recbook.utils import show_source

    show_source(BaselineOnly._fit)
    assert capsys.readouterr().out.startswith("def _fit(self")  # dedented
    with pytest.raises(TypeError, match="cannot find the source"):
        show_source(len)


def test_declared_constraints_type_and_value_errors():
    from recbook.utils import Boolean, InstanceOf, Integer, Options, Real, validate_params

    cons = {
        "k": [Integer(min=1)],
        "lr": [Real(min=0, min_open=True)],
        "frac": [Real(0, 1, min_open=True, max_open=True)],
        "sim": [Options("cosine", "msd")],
        "flag": [Boolean()],
        "cap": [None, Integer(min=0)],
        "ids": [InstanceOf(list, tuple, what="a list or tuple of ids")],
    }
    good = {"k": 3, "lr": 0.1, "frac": 0.5, "sim": "msd", "flag": False, "cap": None, "ids": [1]}
    validate_params(good, cons, "M")
    validate_params({**good, "cap": 0, "k": np.int64(2)}, cons, "M")
    bad_value = [("k", 0), ("lr", 0.0), ("lr", float("nan")), ("frac", 1.0), ("sim", "pearson"), ("cap", -1)]
    for name, value in bad_value:
        with pytest.raises(ValueError, match=rf"M: {name} must be .*got"):
            validate_params({**good, name: value}, cons, "M")
    bad_type = [("k", 1.5), ("k", True), ("k", "3"), ("lr", "0.1"), ("flag", 1), ("sim", 3), ("ids", "1,2")]
    for name, value in bad_type:
        with pytest.raises(TypeError, match=rf"M: {name} must be"):
            validate_params({**good, name: value}, cons, "M")
    with pytest.raises(ValueError, match="not one of its parameters"):
        validate_params(good, {"nope": [Integer()]}, "M")
    assert "a positive integer" in str(Integer(min=1)) and "(0, 1)" in str(Real(0, 1, min_open=True, max_open=True))


def test_star_import_and_every_listed_module_exists():
    import importlib

    import recbook

    for name in recbook.__all__:
        if name != "__version__":
            importlib.import_module(f"recbook.{name}")
    namespace: dict = {}
    exec("from recbook import *", namespace)
    assert "evaluate" in namespace and "cf" in namespace


def test_model_size_counts_parameters_not_history(tiny):
    from recbook.cf import BiasedMF

    m = BiasedMF(n_factors=3, n_epochs=2).fit(tiny)
    size = utils.model_size(m)
    expected = m.user_bias_.size + m.item_bias_.size + m.user_factors_.size + m.item_factors_.size
    assert size["params"] == expected  # history_ (a DataFrame) and the id maps are not parameters
    torch = pytest.importorskip("torch")
    from recbook.models import TorchBPR

    t = TorchBPR(n_factors=4, n_epochs=1).fit(tiny)
    n = sum(v.size for v in t.state_dict_.values()) + t.fallback_scores_.size
    assert utils.model_size(t)["params"] == n
    assert torch.is_tensor(torch.as_tensor(t.state_dict_["user.weight"]))


def test_glue_number_glues_text_formatted_like_the_tables(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: glued.update({key: (value, display)}))
    assert utils.glue_number("k1", 0.48174) is None  # nothing returned: no stray cell output
    utils.glue_number("k2", np.float64(0.45), 4)
    utils.glue_number("k3", -0.00001, 3)
    utils.glue_number("k4", 12.0, 0)
    assert glued == {"k1": ("0.4817", False), "k2": ("0.4500", False), "k3": ("0.000", False), "k4": ("12", False)}
    assert utils.format_glued(2.0 / 3, 2) == "0.67"
    with pytest.raises(ValueError, match="finite"):
        utils.glue_number("k5", float("nan"))
    assert "k5" not in glued


def test_saved_size_and_scoring_speed_measure_a_fitted_model():
    import pickle

    import pandas as pd

    from recbook.baselines import Popularity
    from recbook.utils import saved_size, scoring_speed

    frame = pd.DataFrame({"user": [1, 1, 2, 3, 3, 3], "item": [1, 2, 2, 1, 3, 4]})
    model = Popularity().fit(frame)
    assert saved_size(model) == len(pickle.dumps(model, protocol=5)) > 0
    speed = scoring_speed(model, [1, 2, 3], k=2, repeats=2)
    assert speed["n_users"] == 3
    assert speed["latency_ms"] > 0 and speed["throughput_users_per_s"] > 0
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        scoring_speed(model, [])
    with pytest.raises(ValueError, match="repeats"):
        scoring_speed(model, [1], repeats=0)
