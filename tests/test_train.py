"""recbook.train: the one training loop (seeding, early stopping, checkpoints, DDP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recbook.train import TrainResult, load_checkpoint, save_checkpoint, train_module  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def regression_problem(n: int = 256, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n)
    return {"x": torch.tensor(x, dtype=torch.float32), "y": torch.tensor(y, dtype=torch.float32)}


def mse(module, batch, generator):
    return ((module(batch["x"]).squeeze(-1) - batch["y"]) ** 2).mean()


def linear(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 1)


def test_loss_falls_and_history_has_one_row_per_epoch():
    module = linear()
    result = train_module(module, mse, regression_problem(), n_epochs=20, batch_size=32, lr=0.05)
    assert isinstance(result, TrainResult)
    assert list(result.history.columns) == ["epoch", "loss"]
    assert result.history["epoch"].tolist() == list(range(1, 21))
    assert result.history["loss"].iloc[-1] < 0.1 * result.history["loss"].iloc[0]
    assert result.best_epoch == 20 and result.best_score is None and not result.stopped_early
    np.testing.assert_allclose(module.weight.detach().numpy().ravel(), [1.0, -2.0, 0.5], atol=0.05)


def test_same_seed_same_parameters_other_seed_other_order():
    def run(seed):
        module = linear()
        train_module(module, mse, regression_problem(), n_epochs=3, batch_size=16, lr=0.01, seed=seed)
        return module.weight.detach().numpy().copy()

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))


def test_sampling_uses_the_generator_passed_to_the_loss():
    draws = []

    def sampling_loss(module, batch, generator):
        draws.append(torch.randint(0, 1000, (1,), generator=generator).item())
        return mse(module, batch, generator)

    train_module(linear(), sampling_loss, regression_problem(), n_epochs=2, batch_size=64, seed=3)
    first = list(draws)
    draws.clear()
    torch.manual_seed(12345)  # the global generator must not matter
    train_module(linear(), sampling_loss, regression_problem(), n_epochs=2, batch_size=64, seed=3)
    assert draws == first


def test_early_stopping_keeps_and_restores_the_best_state(tmp_path):
    scores = iter([0.1, 0.5, 0.4, 0.3, 0.2, 0.9])
    weights = {}

    def validate(module):
        score = next(scores)
        weights[score] = module.weight.detach().clone()
        return score

    module = linear()
    result = train_module(
        module, mse, regression_problem(), n_epochs=6, batch_size=32, lr=0.05,
        validate=validate, patience=3, checkpoint=tmp_path / "best.pt",
    )
    assert result.best_epoch == 2 and result.best_score == 0.5 and result.stopped_early
    assert result.history["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert result.history["validation"].tolist() == [0.1, 0.5, 0.4, 0.3, 0.2]
    torch.testing.assert_close(module.weight.detach(), weights[0.5])
    saved = load_checkpoint(tmp_path / "best.pt")
    assert saved["epoch"] == 2 and saved["score"] == 0.5
    torch.testing.assert_close(saved["state_dict"]["weight"], weights[0.5])


def test_minimising_and_evaluating_every_other_epoch():
    scores = iter([3.0, 1.0, 2.0])
    result = train_module(
        linear(), mse, regression_problem(), n_epochs=6, batch_size=64, validate=lambda m: next(scores),
        eval_every=2, maximize=False,
    )
    assert result.best_epoch == 4 and result.best_score == 1.0
    assert result.history["validation"].isna().tolist() == [True, False, True, False, True, False]


def test_checkpoint_round_trip_and_refuses_other_files(tmp_path):
    module = linear()
    path = save_checkpoint(tmp_path / "sub" / "m.pt", module, epoch=7, score=0.25)
    other = linear(seed=1)
    payload = load_checkpoint(path, other)
    assert payload["epoch"] == 7
    torch.testing.assert_close(other.weight, module.weight)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a recbook training checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"data": {}}, ValueError, "non-empty dict"),
        ({"data": {"x": torch.zeros(3, 3), "y": torch.zeros(2)}}, ValueError, "equal lengths"),
        ({"data": {"x": np.zeros((3, 3))}}, TypeError, r"data\['x'\] must be a torch.Tensor"),
        ({"n_epochs": 0}, ValueError, "n_epochs must be >= 1"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
        ({"patience": 2}, ValueError, "patience needs a validate function"),
        ({"patience": 0, "validate": lambda m: 0.0}, ValueError, "patience must be None or an int >= 1"),
        ({"validate": lambda m: float("nan")}, ValueError, "validate returned nan at epoch 1"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, message):
    args = {"data": regression_problem(), "n_epochs": 2, "batch_size": 32, **kwargs}
    data = args.pop("data")
    with pytest.raises(error, match=message):
        train_module(linear(), mse, data, **args)


def test_torch_models_train_through_this_loop():
    from recbook.models import TorchBPR

    frame = __import__("pandas").DataFrame({"user": [1, 1, 2, 2, 3], "item": [10, 11, 10, 12, 11]})
    model = TorchBPR(n_factors=4, n_epochs=3, batch_size=2).fit(frame)
    assert model.history_["epoch"].tolist() == [1, 2, 3]
    assert model.history_["loss"].notna().all()


def test_two_process_ddp_keeps_ranks_identical_and_learns():
    """benchmarks/ddp_train.py --small under torchrun (gloo): the CI version of the DDP benchmark."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(ROOT / "benchmarks" / "ddp_train.py"), "--small"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["processes"] == 2
    # Without gradient averaging the ranks drift apart (0.5 on this toy run); DDP keeps them equal.
    assert result["max_parameter_difference_between_ranks"] == 0.0
    # DDP with the same global batch lands within the spread of one-process runs over seeds.
    spread = 3 * result["single_ndcg10_std"] + 0.02
    assert abs(result["ddp_ndcg10"] - result["single_ndcg10_mean"]) <= spread, result


def test_mixed_precision_computes_in_bfloat16_and_keeps_float32_master_weights():
    from recbook.train import mixed_precision

    seen = []

    def spy(module, batch, generator):
        out = module(batch["x"])
        seen.append(out.dtype)
        return ((out.squeeze(-1) - batch["y"]) ** 2).mean()

    full, mixed = linear(), linear()
    train_module(full, mse, regression_problem(), n_epochs=10, batch_size=32, lr=0.05)
    with mixed_precision(torch.bfloat16):
        result = train_module(mixed, spy, regression_problem(), n_epochs=10, batch_size=32, lr=0.05)
    assert set(seen) == {torch.bfloat16}  # the forward pass ran in bfloat16
    assert mixed.weight.dtype == torch.float32  # the master weights did not
    assert result.history["loss"].dtype == np.float64
    w_full, w_mixed = full.weight.detach().numpy(), mixed.weight.detach().numpy()
    assert not np.array_equal(w_full, w_mixed)  # 16-bit compute changed the path ...
    np.testing.assert_allclose(w_mixed, w_full, atol=0.05)  # ... not the answer
    seen.clear()
    train_module(linear(), spy, regression_problem(), n_epochs=1, batch_size=256)
    assert seen == [torch.float32]  # outside the block, float32 again


def test_mixed_precision_bad_dtype():
    from recbook.train import mixed_precision

    with pytest.raises(ValueError, match="bfloat16 or torch.float16"):
        with mixed_precision(torch.int8):
            pass
