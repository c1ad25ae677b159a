"""Shared plumbing: seeding, device choice, timing, model size and scoring speed.

Nothing here imports torch at module level; the helpers that need it import it
when called, so that ``import recbook`` stays cheap.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Integer",
    "Real",
    "Options",
    "Boolean",
    "InstanceOf",
    "validate_params",
    "check_int",
    "check_number",
    "check_seed",
    "check_fraction",
    "seed_everything",
    "get_device",
    "Timer",
    "model_size",
    "saved_size",
    "scoring_speed",
    "check_random_state",
    "show_source",
    "history_frame",
    "glue_number",
    "format_glued",
]


# ---------------------------------------------------------------- argument checks
# One place for the hyper-parameter checks every module needs, so that every
# estimator words its errors the same way: the argument, the value, what was
# expected.


def _is_number(value: Any) -> bool:
    return not isinstance(value, (bool, np.bool_)) and isinstance(
        value, (int, float, np.integer, np.floating)
    )


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``.

    Raises ``TypeError`` for a non-integer (a bool or a float included) and
    ``ValueError`` for an integer below ``minimum``: the package's one policy.
    """
    validate_params({name: value}, {name: [Integer(min=minimum)]}, "")
    return int(value)


def check_number(name: str, value: Any, positive: bool = False) -> float:
    """Return ``value`` as a ``float`` if it is finite and ``> 0`` (``positive``) or ``>= 0``.

    Raises ``TypeError`` for a non-number and ``ValueError`` otherwise.
    """
    validate_params({name: value}, {name: [Real(min=0, min_open=positive)]}, "")
    return float(value)


def check_seed(value: Any, name: str = "seed") -> int:
    """Return ``value`` if it is a non-negative integer seed (``TypeError``/``ValueError`` otherwise)."""
    return check_int(name, value, minimum=0)


def check_fraction(name: str, value: Any) -> float:
    """Return ``value`` if it is a number strictly between 0 and 1.

    Raises ``TypeError`` for a non-number and ``ValueError`` outside (0, 1).
    """
    if not _is_number(value):
        raise TypeError(f"{name} must be a float in (0, 1), got {value!r}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return float(value)


# ------------------------------------------------------- declared constraints
# Estimators declare what each hyper-parameter may be (``_parameter_constraints``)
# and recbook.base.Recommender checks them once, at the start of fit. One policy:
# a value of the wrong *type* raises TypeError, a value of the right type outside
# the allowed range or set raises ValueError; both name the parameter, the value
# and what was expected.


class _Constraint:
    """One allowed kind of value for a hyper-parameter."""

    def accepts_type(self, value: Any) -> bool:  # pragma: no cover - abstract
        """Whether ``value`` has an allowed type (else ``validate_params`` raises ``TypeError``)."""
        raise NotImplementedError

    def accepts(self, value: Any) -> bool:  # pragma: no cover - abstract
        """Whether a value of an allowed type is in range (else ``validate_params`` raises ``ValueError``)."""
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        """What is allowed, in words, for error messages (``"a positive integer"``)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.describe()


@dataclass(frozen=True, repr=False)
class Integer(_Constraint):
    """An integer (not a bool) in ``[min, max]`` (either bound may be ``None``)."""

    min: int | None = None
    max: int | None = None

    def accepts_type(self, value: Any) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))

    def accepts(self, value: Any) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"an integer in [{self.min}, {self.max}]"
        if self.min is not None:
            return {1: "a positive integer", 0: "a non-negative integer"}.get(self.min, f"an integer >= {self.min}")
        if self.max is not None:
            return f"an integer <= {self.max}"
        return "an integer"


@dataclass(frozen=True, repr=False)
class Real(_Constraint):
    """A finite real number (int or float, not bool) between ``min`` and ``max``.

    ``min_open``/``max_open`` make a bound strict (``Real(0, min_open=True)``
    is "> 0").
    """

    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False

    def accepts_type(self, value: Any) -> bool:
        return _is_number(value)

    def accepts(self, value: Any) -> bool:
        if not np.isfinite(value):
            return False
        if self.min is not None and (value < self.min or (self.min_open and value == self.min)):
            return False
        if self.max is not None and (value > self.max or (self.max_open and value == self.max)):
            return False
        return True

    def describe(self) -> str:
        if self.min is None and self.max is None:
            return "a finite number"
        lo = "" if self.min is None else ("(" if self.min_open else "[") + f"{self.min:g}"
        hi = "" if self.max is None else f"{self.max:g}" + (")" if self.max_open else "]")
        if self.max is None:
            return f"a finite number {'>' if self.min_open else '>='} {self.min:g}"
        if self.min is None:
            return f"a finite number {'<' if self.max_open else '<='} {self.max:g}"
        return f"a number in {lo}, {hi}"


@dataclass(frozen=True, repr=False)
class Options(_Constraint):
    """One of a fixed set of values (typically strings)."""

    values: tuple

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", tuple(values))

    def accepts_type(self, value: Any) -> bool:
        return any(isinstance(value, type(v)) and not isinstance(value, bool) or value is v for v in self.values)

    def accepts(self, value: Any) -> bool:
        return any(value == v for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True, repr=False)
class Boolean(_Constraint):
    """``True`` or ``False``."""

    def accepts_type(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def accepts(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return "True or False"


@dataclass(frozen=True, repr=False)
class InstanceOf(_Constraint):
    """An instance of one of ``types`` (e.g. a :class:`recbook.base.Recommender`)."""

    types: tuple
    what: str = ""

    def __init__(self, *types: type, what: str = "") -> None:
        object.__setattr__(self, "types", tuple(types))
        object.__setattr__(self, "what", what)

    def accepts_type(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def accepts(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return self.what or "an instance of " + " or ".join(t.__name__ for t in self.types)


def validate_params(params: dict[str, Any], constraints: dict[str, list], owner: str) -> None:
    """Check every hyper-parameter against its declared constraints.

    Parameters
    ----------
    params : dict
        Name -> value (``estimator.get_params(deep=False)``).
    constraints : dict
        Name -> list of allowed kinds: :class:`Integer`, :class:`Real`,
        :class:`Options`, :class:`Boolean`, :class:`InstanceOf`, or ``None``
        (the value ``None`` is allowed). A parameter without an entry is not
        checked.
    owner : str
        The estimator's class name, for the messages ("" for none).

    Raises
    ------
    TypeError
        The value is of no allowed type.
    ValueError
        The value has an allowed type but is outside the allowed range or set.
    """
    prefix = f"{owner}: " if owner else ""
    for name, allowed in constraints.items():
        if name not in params:
            raise ValueError(f"{owner} declares a constraint for {name!r}, which is not one of its parameters")
        value = params[name]
        if value is None and None in allowed:
            continue
        kinds = [c for c in allowed if c is not None]
        expected = " or ".join([c.describe() for c in kinds] + (["None"] if None in allowed else []))
        typed = [c for c in kinds if c.accepts_type(value)]
        if not typed:
            raise TypeError(f"{prefix}{name} must be {expected}, got {value!r} ({type(value).__name__})")
        if not any(c.accepts(value) for c in typed):
            raise ValueError(f"{prefix}{name} must be {expected}, got {value!r}")


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy's legacy global generator and torch.

    torch is seeded only if it has already been imported (so this function
    never pays torch's import cost for notebooks that do not use it).

    It does not set ``PYTHONHASHSEED``: hash randomisation of ``str`` keys is
    fixed when the interpreter starts, so setting it inside a running program
    has no effect. recbook never lets results depend on the iteration order of
    a set or a dict of strings; set the variable before starting Python if your
    own code does.

    Parameters
    ----------
    seed : int
        A non-negative integer.
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def check_random_state(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``seed``.

    ``None`` gives a generator seeded with 0 (recbook is deterministic by
    default); an existing generator is returned unchanged.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        seed = 0
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def get_device(prefer: str | None = None) -> Any:
    """Return a ``torch.device``: ``prefer`` if given, else CUDA when available, else CPU."""
    import torch

    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Timer:
    """Wall-clock timer usable as a context manager.

    Examples
    --------
    >>> with Timer() as t:
    ...     _ = sum(range(1000))
    >>> t.seconds >= 0
    True
    """

    seconds: float = 0.0
    _start: float = field(default=0.0, repr=False)

    def __enter__(self) -> "Timer":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def model_size(obj: Any) -> dict[str, int]:
    """Number of parameters and bytes held by a model.

    Works for a ``torch.nn.Module`` (parameters and buffers), a NumPy array,
    a ``scipy.sparse`` matrix, or a recbook estimator: every fitted NumPy array
    attribute whose name ends with ``_`` (and the arrays of a dict attribute
    such as a torch model's ``state_dict_``), except the id maps and the
    training history, which are not parameters.

    Returns
    -------
    dict
        ``{"params": n_values, "bytes": n_bytes}``.
    """
    if "torch" in sys.modules:
        import torch

        if isinstance(obj, torch.nn.Module):
            tensors = list(obj.parameters()) + list(obj.buffers())
            return {
                "params": int(sum(t.numel() for t in tensors)),
                "bytes": int(sum(t.numel() * t.element_size() for t in tensors)),
            }
        if isinstance(obj, torch.Tensor):
            return {"params": int(obj.numel()), "bytes": int(obj.numel() * obj.element_size())}
    if isinstance(obj, np.ndarray):
        return {"params": int(obj.size), "bytes": int(obj.nbytes)}
    if hasattr(obj, "data") and hasattr(obj, "indices") and hasattr(obj, "nnz"):  # scipy.sparse
        nbytes = obj.data.nbytes + obj.indices.nbytes + getattr(obj, "indptr", np.empty(0)).nbytes
        return {"params": int(obj.nnz), "bytes": int(nbytes)}
    if hasattr(obj, "__dict__"):
        params = nbytes = 0
        for name, value in vars(obj).items():
            if not name.endswith("_") or name.startswith("_") or name in ("user_ids_", "item_ids_", "history_"):
                continue
            arrays = list(value.values()) if isinstance(value, dict) else [value]  # a state_dict_ counts too
            for arr in arrays:
                if isinstance(arr, np.ndarray) and arr.dtype.kind in "fiu":
                    params += arr.size
                    nbytes += arr.nbytes
        return {"params": int(params), "bytes": int(nbytes)}
    raise TypeError(f"model_size does not know how to measure an object of type {type(obj).__name__}")


def saved_size(model: Any) -> int:
    """Bytes of ``model`` as it would be stored: the length of its pickle (protocol 5).

    For a fitted recbook estimator this is the deployable artefact: the
    parameters plus the id maps and the training matrix used to exclude seen
    items (a torch model pickles its ``state_dict_`` as NumPy arrays, not its
    module). :func:`model_size` counts the parameters alone.
    """
    import pickle

    return len(pickle.dumps(model, protocol=5))


def scoring_speed(
    model: Any, users: Any, k: int = 10, batch_size: int = 256, repeats: int = 5, warmup: int = 1
) -> dict[str, float]:
    """Latency per user and throughput of ``model.recommend``, medians of ``repeats`` runs.

    * **latency**: the time to recommend ``k`` items to *one* user (a request
      of batch size 1), the median over ``repeats`` passes over the first 20
      of ``users``;
    * **throughput**: users per second when the same ``users`` are scored
      ``batch_size`` at a time (an offline batch job), the median over
      ``repeats`` passes.

    Every run uses the same users, so two models are compared on the same
    work; ``warmup`` untimed runs come first (caches, lazy module builds,
    numba compilation).

    Returns
    -------
    dict
        ``{"latency_ms": ..., "throughput_users_per_s": ..., "n_users": ...}``.
    """
    users = np.asarray(users)
    if users.ndim != 1 or len(users) == 0:
        raise ValueError(f"users must be a non-empty 1-D array of user ids, got shape {users.shape}")
    repeats = check_int("repeats", repeats)
    warmup = check_int("warmup", warmup, minimum=0)
    single = users[:20]
    for _ in range(warmup):
        model.recommend(single[:1], k=k)
        model.recommend(users, k=k, batch_size=batch_size)
    latencies, rates = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for user in single:
            model.recommend([user], k=k)
        latencies.append((time.perf_counter() - start) / len(single))
        start = time.perf_counter()
        model.recommend(users, k=k, batch_size=batch_size)
        rates.append(len(users) / (time.perf_counter() - start))
    return {
        "latency_ms": float(np.median(latencies) * 1e3),
        "throughput_users_per_s": float(np.median(rates)),
        "n_users": int(len(users)),
    }


def show_source(obj: Any, docstring: bool = False) -> None:
    """Print the source code of a recbook function, class or method.

    Notebooks call this instead of pasting an algorithm: the book shows the
    one implementation the package runs. By default the docstring is left out
    (the text around the cell explains the idea); ``docstring=True`` keeps it.

    Parameters
    ----------
    obj : function, class or method
        Anything :func:`inspect.getsource` accepts.
    docstring : bool, default False
        Keep the docstring.

    Raises
    ------
    TypeError
        ``obj`` has no retrievable source (a built-in, a lambda typed at the prompt...).
    """
    import ast
    import inspect
    import textwrap

    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError) as exc:
        raise TypeError(f"show_source cannot find the source of {obj!r}: {exc}") from None
    if not docstring:
        tree = ast.parse(source)
        node = tree.body[0] if tree.body else None
        body = getattr(node, "body", None)
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            lines = source.splitlines()
            source = "\n".join(lines[: body[0].lineno - 1] + lines[body[0].end_lineno :])
    print(source.rstrip("\n"))


def history_frame(values: Any, name: str = "loss") -> "Any":
    """The ``history_`` of an iterative model: a DataFrame with ``epoch`` (1, 2, ...) and one column of values.

    Every model that trains in epochs stores its learning curve this way, so
    that ``model.history_.plot(x="epoch")`` works for all of them.
    """
    import pandas as pd

    values = np.asarray(values, dtype=np.float64).ravel()
    return pd.DataFrame({"epoch": np.arange(1, len(values) + 1), name: values})


def glue_number(key: str, value: Any, decimals: int = 4) -> None:
    """Glue a computed number into a notebook's text, rounded as the tables print it.

    The notebook writes ``glue_number("s34_ease_ndcg", ndcg)`` and its prose
    ``{glue:text}`s34_ease_ndcg```: the website shows the value the code
    computed, so the text cannot drift from the outputs. The value is glued as
    text with ``decimals`` decimals (``"0.4450"``, trailing zeros kept; a role
    may still reformat it, ``{glue:text}`key:.2f```), never as a raw float
    whose last digits could differ between machines. It returns nothing, so a
    cell that ends with it shows no stray output. Outside a notebook (without
    myst-nb) nothing is glued.
    """
    text = format_glued(value, decimals, key)
    try:
        from myst_nb import glue
    except ImportError:  # pragma: no cover - myst-nb comes with the book extra
        return
    glue(key, text, display=False)


def format_glued(value: Any, decimals: int = 4, key: str = "value") -> str:
    """The text :func:`glue_number` glues: ``value`` with ``decimals`` decimals, never ``-0.0``."""
    decimals = check_int("decimals", decimals, minimum=0)
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"glue_number: {key} is {number!r}; only finite numbers can be glued")
    text = f"{number:.{decimals}f}"
    if float(text) == 0.0:
        text = f"{0.0:.{decimals}f}"  # never "-0.0000"
    return text
