"""Private helpers shared by the small torch models of chapter 4 (imported lazily, inside ``fit``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any


@contextmanager
def single_thread() -> Iterator[Any]:
    """Import torch and run the block on one CPU thread (small matrices: threads only add contention).

    Yields the ``torch`` module; the previous thread count is restored on exit.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield torch
    finally:
        torch.set_num_threads(threads)


def minimise(torch: Any, loss_fn: Callable[[], Any], params: Sequence[Any], epochs: int, lr: float) -> list[float]:
    """Full-batch Adam on ``loss_fn()`` for ``epochs`` steps.

    Returns the loss before each step and, last, after the final step
    (``epochs + 1`` values).
    """
    opt = torch.optim.Adam(list(params), lr=float(lr))
    curve = []
    for _ in range(int(epochs)):
        opt.zero_grad()
        loss = loss_fn()
        curve.append(float(loss.detach()))
        loss.backward()
        opt.step()
    with torch.no_grad():
        curve.append(float(loss_fn()))
    return curve
