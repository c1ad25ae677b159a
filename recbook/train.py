r"""One training loop for every torch model in the book (chapter 6).

:func:`train_module` runs mini-batch gradient descent on a ``torch.nn.Module``
with a loss supplied by the model, and adds what a real training run needs,
once, for every model:

* **seeded and deterministic** on the CPU: the mini-batch order and any
  sampling inside the loss come from a local ``torch.Generator``;
* a **tqdm bar** over epochs (``show_progress``);
* **early stopping** on a validation score: ``validate(module) -> float``
  is called every ``eval_every`` epochs, the best module state is kept and
  restored, and training stops after ``patience`` evaluations without
  improvement;
* **checkpoints**: the best state is written with ``torch.save`` (see
  :func:`save_checkpoint`; :func:`load_checkpoint` reads it back with
  ``torch.load(..., weights_only=True)``);
* the **history** as a DataFrame (``epoch``, ``loss``, and ``validation``
  where evaluated);
* **mixed precision** (chapter 8): inside :func:`mixed_precision`, every
  forward pass and loss run under ``torch.autocast`` in bfloat16 or float16,
  while the parameters, their gradients and the optimiser's state stay
  float32 (the *master weights*); the backward pass runs outside autocast, as
  PyTorch requires;
* **data parallelism** on PyTorch's distributed engine. Started under
  ``torchrun`` with a process group initialised (:func:`init_distributed`),
  the same call trains with ``DistributedDataParallel``: every rank draws the
  same permutation of the data, cuts each global mini-batch of
  ``batch_size`` rows into one contiguous shard per rank, and DDP averages
  the gradients, so an optimiser step sees the same global batch as a
  single-process run (gloo on CPU, nccl on GPU). Sampling inside the loss
  uses a per-rank generator, so ranks draw different negatives. Only rank 0
  shows the bar and writes checkpoints; every rank computes the validation
  score on identical parameters, so all ranks stop at the same epoch.

The loss hook is ``loss_fn(module, batch, generator) -> 0-dim tensor``:
``batch`` is a dict of tensors (the rows of ``data`` in this mini-batch, on
the module's device), ``generator`` the CPU generator for any sampling.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

__all__ = [
    "TrainResult",
    "train_module",
    "init_distributed",
    "is_distributed",
    "rank",
    "world_size",
    "save_checkpoint",
    "load_checkpoint",
    "seeded",
    "mixed_precision",
]

LossFn = Callable[[torch.nn.Module, dict[str, torch.Tensor], torch.Generator], torch.Tensor]
#: Format tag of the checkpoints written by :func:`save_checkpoint`.
CHECKPOINT_FORMAT = "recbook-train-checkpoint-1"


_AUTOCAST: list[torch.dtype] = []


@contextlib.contextmanager
def mixed_precision(dtype: torch.dtype = torch.bfloat16) -> Iterator[None]:
    r"""Train every model fitted inside this block in mixed precision (Micikevicius et al. 2018).

    :func:`train_module` runs each forward pass and loss under
    ``torch.autocast(device, dtype)``: matrix products and other
    autocast-eligible operations compute in ``dtype`` (16-bit floats), while
    the parameters stay float32 and receive float32 gradients and updates,

    .. math::

        \theta \leftarrow \theta - \eta\, g\big(\operatorname{fp16}(\theta)\big), \qquad \theta \in \text{float32},

    so an update smaller than 16-bit floats can resolve is not lost. bfloat16
    keeps float32's exponent range and needs no loss scaling; float16 would
    (on CPU, bfloat16 is the supported choice). Nothing here stores a weight
    as an integer: that is quantization (:mod:`recbook.compress.quantize`).

    Examples
    --------
    >>> import torch
    >>> from recbook.train import mixed_precision
    >>> with mixed_precision(torch.bfloat16):
    ...     pass  # model.fit(train) here trains with bfloat16 compute
    """
    if dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"mixed precision computes in torch.bfloat16 or torch.float16, got {dtype!r}")
    _AUTOCAST.append(dtype)
    try:
        yield
    finally:
        _AUTOCAST.pop()


@contextlib.contextmanager
def seeded(generator: torch.Generator, device: torch.device | str = "cpu") -> Iterator[None]:
    """Run a block with torch's global generator forked and seeded from ``generator``.

    Dropout (``torch.nn.Dropout``, a GRU's inter-layer dropout) draws from the
    global generator. Inside this block it draws from a seed taken from
    ``generator`` (the training loop's local generator), so a seeded training
    run is reproducible and the caller's random state is untouched. Models
    with dropout run their forward pass in it (:mod:`recbook.models.sequential`),
    and so does :class:`recbook.distill.Distiller` around a student's scores.
    """
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    device = torch.device(device)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


# ------------------------------------------------------------ distributed
def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """The number of processes (1 outside a process group)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def init_distributed(backend: str | None = None) -> bool:
    """Join the process group ``torchrun`` set up; a no-op outside ``torchrun``.

    ``torchrun`` starts one process per rank with ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR`` and ``MASTER_PORT`` in the environment. The backend is
    ``"nccl"`` when CUDA is available and ``"gloo"`` otherwise.

    Returns
    -------
    bool
        Whether a process group is initialised on return.
    """
    import torch.distributed as dist

    if dist.is_initialized():
        return True
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return False
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend not in ("gloo", "nccl", "mpi"):
        raise ValueError(f"backend must be 'gloo', 'nccl' or 'mpi', got {backend!r}")
    dist.init_process_group(backend=backend)
    return True


class _Step(torch.nn.Module):
    """The loss as a module's forward, so DistributedDataParallel can wrap it."""

    def __init__(self, module: torch.nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.module = module
        self.loss_fn = loss_fn

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        return self.loss_fn(self.module, batch, generator)


# ------------------------------------------------------------ checkpoints
def save_checkpoint(path: str | Path, module: torch.nn.Module, *, epoch: int, score: float | None = None) -> Path:
    """Write ``module``'s state with ``torch.save`` (tensors and plain values only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "epoch": int(epoch),
        "score": None if score is None else float(score),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    torch.save(payload, path)
    return path


def load_checkpoint(path: str | Path, module: torch.nn.Module | None = None) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    With ``module`` given, its state is loaded from the checkpoint.

    Raises
    ------
    ValueError
        The file is not such a checkpoint.
    """
    payload = torch.load(Path(path), weights_only=True, map_location="cpu")
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a recbook training checkpoint (format {CHECKPOINT_FORMAT})")
    if module is not None:
        module.load_state_dict(payload["state_dict"])
    return payload


# ------------------------------------------------------------------ loop
@dataclass
class TrainResult:
    """What :func:`train_module` returns.

    Attributes
    ----------
    history : pandas.DataFrame
        One row per epoch: ``epoch``, ``loss`` (the mean training loss of this
        rank's rows) and, with ``validate``, ``validation`` (NaN where not
        evaluated).
    best_epoch : int
        The epoch whose state the module holds on return (the last epoch
        without ``validate``).
    best_score : float or None
        Its validation score.
    stopped_early : bool
        Whether ``patience`` ended training before ``n_epochs``.
    """

    history: pd.DataFrame
    best_epoch: int
    best_score: float | None
    stopped_early: bool


def _check_data(data: Mapping[str, torch.Tensor]) -> int:
    if not isinstance(data, Mapping) or not data:
        raise ValueError("data must be a non-empty dict of tensors of equal length")
    lengths = {}
    for key, value in data.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"data[{key!r}] must be a torch.Tensor, got {type(value).__name__}")
        lengths[key] = len(value)
    if len(set(lengths.values())) != 1:
        raise ValueError(f"the tensors in data must have equal lengths, got {lengths}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError("data has no rows")
    return n


def train_module(
    module: torch.nn.Module,
    loss_fn: LossFn,
    data: Mapping[str, torch.Tensor],
    *,
    n_epochs: int,
    batch_size: int,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    seed: int = 0,
    validate: Callable[[torch.nn.Module], float] | None = None,
    eval_every: int = 1,
    patience: int | None = None,
    maximize: bool = True,
    checkpoint: str | Path | None = None,
    show_progress: bool = False,
    desc: str = "training",
) -> TrainResult:
    r"""Train ``module`` by mini-batch gradient descent on ``loss_fn`` (see the module docstring).

    Each epoch draws a permutation :math:`\pi` of the :math:`n` rows of
    ``data`` from a generator seeded with ``seed``, cuts it into mini-batches
    :math:`B_1, B_2, \dots` of ``batch_size`` rows and takes one optimiser step
    per mini-batch on :math:`\nabla_\theta \mathcal{L}(B_m)`.

    Parameters
    ----------
    module : torch.nn.Module
        Already on its device; trained in place.
    loss_fn : callable
        ``loss_fn(module, batch, generator) -> 0-dim tensor``.
    data : dict of str to torch.Tensor
        Equal-length tensors on the CPU (rows are moved to the module's device
        batch by batch).
    n_epochs, batch_size : int
        Passes over the data; rows per optimiser step (the *global* batch
        under DDP).
    optimizer : torch.optim.Optimizer, optional
        Default: Adam with learning rate ``lr``.
    seed : int
        Seeds the permutation and the sampling generator.
    validate : callable, optional
        ``validate(module) -> float``, higher is better unless ``maximize=False``.
    eval_every, patience : int
        Evaluate every ``eval_every`` epochs; stop after ``patience``
        evaluations without improvement (``None``: never stop early).
    checkpoint : path, optional
        Where rank 0 writes the best (or, without ``validate``, the last) state.
    show_progress : bool
        A tqdm bar over epochs (rank 0 only).

    Returns
    -------
    TrainResult
    """
    n = _check_data(data)
    for name, value, low in (("n_epochs", n_epochs, 1), ("batch_size", batch_size, 1), ("eval_every", eval_every, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be None or an int >= 1, got {patience!r}")
    if patience is not None and validate is None:
        raise ValueError("patience needs a validate function to decide when to stop")

    distributed = is_distributed()
    this_rank, ranks = rank(), world_size()
    if distributed and batch_size < ranks:
        raise ValueError(f"batch_size ({batch_size}) must be at least the number of processes ({ranks})")
    device = next(module.parameters()).device
    step: torch.nn.Module = _Step(module, loss_fn)
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        step = DistributedDataParallel(step, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = optimizer or torch.optim.Adam(module.parameters(), lr=float(lr))
    order_generator = torch.Generator(device="cpu").manual_seed(int(seed))
    # A single process samples from the same generator as the order (as recbook always has);
    # under DDP each rank samples from its own, so ranks draw different negatives.
    sample_generator = (
        torch.Generator(device="cpu").manual_seed(int(seed) * 1_000_003 + this_rank + 1) if distributed else order_generator
    )

    epochs: Any = range(1, n_epochs + 1)
    bar = None
    if show_progress and this_rank == 0:
        from tqdm.auto import tqdm

        bar = epochs = tqdm(epochs, desc=desc, unit="epoch")
    rows: list[dict[str, float]] = []
    best_score: float | None = None
    best_epoch, best_state, bad, stopped = 0, None, 0, False
    for epoch in epochs:
        module.train()
        order = torch.randperm(n, generator=order_generator)
        total, seen = 0.0, 0
        for idx in order.split(batch_size):
            if distributed:
                if len(idx) < ranks:
                    continue  # a last global batch too small to shard
                idx = torch.tensor_split(idx, ranks)[this_rank]
            batch = {k: v[idx].to(device) for k, v in data.items()}
            if _AUTOCAST:
                with torch.autocast(device.type, dtype=_AUTOCAST[-1]):
                    loss = step(batch, sample_generator)
                loss = loss.float()
            else:
                loss = step(batch, sample_generator)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        row: dict[str, float] = {"epoch": epoch, "loss": total / max(seen, 1)}
        if validate is not None and (epoch % eval_every == 0 or epoch == n_epochs):
            module.eval()
            with torch.no_grad():
                score = float(validate(module))
            if not math.isfinite(score):
                raise ValueError(f"validate returned {score} at epoch {epoch}")
            row["validation"] = score
            better = best_score is None or (score > best_score if maximize else score < best_score)
            if better:
                best_score, best_epoch, bad = score, epoch, 0
                best_state = copy.deepcopy(module.state_dict())
                if checkpoint is not None and this_rank == 0:
                    save_checkpoint(checkpoint, module, epoch=epoch, score=score)
            else:
                bad += 1
            if bar is not None:
                bar.set_postfix(loss=f"{row['loss']:.4f}", validation=f"{score:.4f}")
            if patience is not None and bad >= patience:
                rows.append(row)
                stopped = epoch < n_epochs
                break
        elif bar is not None:
            bar.set_postfix(loss=f"{row['loss']:.4f}")
        rows.append(row)
    if bar is not None:
        bar.close()
    module.eval()
    last_epoch = int(rows[-1]["epoch"])
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        best_epoch = last_epoch
        if checkpoint is not None and this_rank == 0:
            save_checkpoint(checkpoint, module, epoch=last_epoch)
    history = pd.DataFrame(rows)
    history["epoch"] = history["epoch"].astype(int)
    return TrainResult(history=history, best_epoch=int(best_epoch), best_score=best_score, stopped_early=stopped)
