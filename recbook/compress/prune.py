r"""Unstructured magnitude pruning of a recommender's weights (chapter 8).

Magnitude pruning sets the weights of smallest absolute value to zero, on the
premise that they contribute least to the output (Han et al. 2015). With
:math:`N` prunable weights and a fraction :math:`p`, **global** pruning zeroes
the :math:`k = \operatorname{round}(pN)` weights of smallest :math:`|w|` over
all layers together, so layers with many small weights (often the embedding
tables) lose more; **per-layer** pruning zeroes the same fraction in each
layer. The prunable weights are the ``weight`` of every ``nn.Linear`` and
``nn.Embedding`` (biases and normalisation layers are small and sensitive,
and are left alone).

The pruning goes through ``torch.nn.utils.prune``: each pruned layer keeps
``weight_orig`` and a ``weight_mask`` buffer, and ``weight`` is recomputed as
their product before every forward pass, so fine-tuning afterwards keeps the
pruned weights at zero. :func:`remove_pruning` makes it permanent (the zeros
stay; the mask and the copy go). Unstructured zeros make a model neither
smaller on disk nor faster unless it is stored sparse or run on sparse
kernels: chapter 8 measures both (:func:`sparse_state` is the CSR form).

On fitted recbook torch models: :func:`prune_model` returns a pruned copy,
:func:`fine_tune_pruned` trains it further with the book's one training loop
(:func:`recbook.train.train_module`) while the masks hold the pruned weights
at zero, and the *structured* :func:`prune_dimensions` (latent dimensions of
:class:`~recbook.models.bpr.TorchBPR`) and :func:`prune_neurons` (hidden units
of :class:`~recbook.models.neumf.NeuMF`, through :func:`prune_linear_pair`)
return genuinely smaller models.

References
----------
S. Han, J. Pool, J. Tran and W. Dally, "Learning both weights and connections
for efficient neural networks", NeurIPS 2015.
M. Zhu and S. Gupta, "To prune, or not to prune: exploring the efficacy of
pruning for model compression", arXiv:1710.01878, 2017.
D. Blalock, J. J. Gonzalez Ortiz, J. Frankle and J. Guttag, "What is the state
of neural network pruning?", MLSys 2020.
"""

from __future__ import annotations

import warnings

import torch
from torch.nn.utils import prune as _prune

__all__ = [
    "prune_magnitude",
    "remove_pruning",
    "sparsity",
    "prune_model",
    "fine_tune_pruned",
    "sparse_state",
    "dimension_importance",
    "prune_dimensions",
    "prune_linear_pair",
    "prune_neurons",
]

_PRUNABLE = (torch.nn.Linear, torch.nn.Embedding)


def _layers(module: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in module.modules() if isinstance(m, _PRUNABLE)]


def prune_magnitude(module: torch.nn.Module, amount: float, scope: str = "global") -> torch.nn.Module:
    """Zero the smallest-magnitude weights of every ``nn.Linear`` and ``nn.Embedding`` of ``module``, in place.

    Parameters
    ----------
    module : torch.nn.Module
    amount : float in [0, 1)
        The fraction :math:`p` of the prunable weights to zero.
    scope : {"global", "layer"}
        ``"global"``: exactly ``round(amount * N)`` of all ``N`` prunable
        weights are zeroed, the smallest in magnitude over all layers
        together; ``"layer"``: ``round(amount * n_l)`` in each layer of
        ``n_l`` weights. (Weights that were already zero count among the
        smallest.)

    Returns
    -------
    torch.nn.Module
        ``module`` itself, pruned through ``torch.nn.utils.prune``
        (``weight_orig`` and ``weight_mask`` per layer; see :func:`remove_pruning`).

    Raises
    ------
    ValueError
        ``amount`` outside ``[0, 1)``, an unknown ``scope``, or a module with
        no ``nn.Linear`` or ``nn.Embedding``.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 2))
    >>> _ = prune_magnitude(net, 0.5)
    >>> sum(int((m.weight == 0).sum()) for m in (net[0], net[1]))   # round(0.5 * 48)
    24
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"prune_magnitude needs a torch.nn.Module, got {type(module).__name__}")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0.0 <= float(amount) < 1.0:
        raise ValueError(f"amount must be a fraction in [0, 1), got {amount!r}")
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    layers = _layers(module)
    if not layers:
        raise ValueError("the module has no nn.Linear or nn.Embedding weights to prune")
    if scope == "global":
        total = sum(m.weight.numel() for m in layers)
        _prune.global_unstructured(
            [(m, "weight") for m in layers], pruning_method=_prune.L1Unstructured, amount=int(round(float(amount) * total))
        )
    else:
        for m in layers:
            _prune.l1_unstructured(m, "weight", amount=int(round(float(amount) * m.weight.numel())))
    return module


def remove_pruning(module: torch.nn.Module) -> torch.nn.Module:
    """Make pruning permanent: fold each ``weight_mask`` into ``weight`` and drop the mask and ``weight_orig``."""
    for m in module.modules():
        if _prune.is_pruned(m) and hasattr(m, "weight_mask"):
            _prune.remove(m, "weight")
    return module


def sparsity(module: torch.nn.Module) -> float:
    """The fraction of zeros among the weights of ``module``'s ``nn.Linear`` and ``nn.Embedding`` layers."""
    layers = _layers(module)
    total = sum(m.weight.numel() for m in layers)
    if total == 0:
        raise ValueError("the module has no nn.Linear or nn.Embedding weights")
    return sum(int((m.weight == 0).sum()) for m in layers) / total


# ----------------------------------------------------------------- models
# Everything below works on a fitted recbook torch model (a TorchRecommender),
# not on a bare module: pruning a model, fine-tuning it with the one training
# loop of recbook.train, and removing whole latent dimensions or neurons.


def _check_fitted_torch(model: object, what: str) -> None:
    from recbook.models.base import TorchRecommender

    if not isinstance(model, TorchRecommender):
        raise TypeError(f"{what} needs a fitted recbook torch model (a TorchRecommender), got {type(model).__name__}")
    if not hasattr(model, "state_dict_"):
        raise ValueError(f"{what}: the {type(model).__name__} is not fitted")


def _dense_state(module: torch.nn.Module) -> dict:
    """The state of ``module`` as NumPy arrays, every pruning mask folded in (the names of the unpruned module).

    (A pruned module cannot be deep-copied, its ``weight`` being computed, so the fold is done on the state.)
    """
    state = module.state_dict()
    out = {}
    for key, value in state.items():
        if key.endswith("_orig") and key[:-5] + "_mask" in state:
            out[key[:-5]] = (value * state[key[:-5] + "_mask"]).detach().cpu().numpy().copy()
        elif key.endswith("_mask") and key[:-5] + "_orig" in state:
            continue
        else:
            out[key] = value.detach().cpu().numpy().copy()
    return out


def _fresh_module(model) -> torch.nn.Module:
    """A new, unpruned module of ``model`` holding its current weights (masks folded in)."""
    from recbook.models.base import resolve_device

    with torch.random.fork_rng(devices=[]):
        module = model._build()
    module.load_state_dict({k: torch.as_tensor(v) for k, v in _dense_state(model._get_module()).items()})
    return module.to(resolve_device(model.device)).eval()


def _copy_model(model):  # a deep copy of a fitted model without its live module
    import copy

    out = copy.deepcopy(model)  # TorchRecommender.__getstate__ drops the cached module
    out.__dict__.pop("_module", None)
    return out


def _refresh(model, module: torch.nn.Module) -> None:
    """Make ``model`` score with ``module``: its ``state_dict_`` and fallback scores follow the module."""
    import numpy as np

    model._module = module.eval()
    model.state_dict_ = _dense_state(module)
    model.fallback_scores_ = np.asarray(model._fallback_scores(), dtype=np.float64)


def prune_model(model, amount: float, scope: str = "global"):
    """A pruned copy of a fitted torch recommender: :func:`prune_magnitude` applied to its module.

    The copy scores with the pruned module, which keeps torch's
    reparametrisation (``weight_orig`` and ``weight_mask``) so that
    :func:`fine_tune_pruned` can train it with the pruned weights held at
    zero; its ``state_dict_`` holds the pruned weights under the original
    names (the zeros stored densely), so ``save``/``load`` and
    :func:`~recbook.compress.size.state_nbytes` see an ordinary model.

    Parameters
    ----------
    model : TorchRecommender
        Fitted; left untouched.
    amount, scope
        As in :func:`prune_magnitude`.

    Returns
    -------
    TorchRecommender
        The pruned copy, with ``pruned_amount_`` and ``pruned_scope_``.

    Raises
    ------
    TypeError
        ``model`` is not a recbook torch model.
    ValueError
        ``model`` is not fitted, or ``amount``/``scope`` are invalid.
    """
    _check_fitted_torch(model, "prune_model")
    out = _copy_model(model)
    module = _fresh_module(model)
    prune_magnitude(module, amount, scope=scope)
    _refresh(out, module)
    out.pruned_amount_, out.pruned_scope_ = float(amount), scope
    return out


def fine_tune_pruned(
    model,
    *,
    n_epochs: int = 5,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
):
    r"""Continue training a fitted (pruned) torch recommender on its own training data, in place.

    The model's module is trained by :func:`recbook.train.train_module`, the
    book's one training loop, with the model's own loss and optimiser, on the
    interactions the model was fitted on (``model.train_``). A layer pruned
    through ``torch.nn.utils.prune`` computes :math:`W = W_{\text{orig}} \odot M`
    before every forward pass, so :math:`\partial\mathcal L/\partial W_{\text{orig}}
    = M \odot \partial\mathcal L/\partial W` is zero on the pruned entries and
    they stay exactly zero; the surviving weights re-adapt to the missing ones
    (Han et al. 2015, the "retrain" step of prune-retrain). A model made smaller
    by :func:`prune_dimensions` or :func:`prune_neurons` has no masks and is
    simply trained further.

    Parameters
    ----------
    model : TorchRecommender
        Fitted, typically by :func:`prune_model`; trained in place.
    n_epochs : int, default 5
    lr : float, optional
        The learning rate of the fine-tuning (default: the model's ``lr``).
    batch_size : int, optional
        Default: the model's ``batch_size``.
    seed : int, optional
        Seeds the mini-batch order and sampling (default: the model's seed + 1,
        so fine-tuning does not replay the first epoch's batches).

    Returns
    -------
    TorchRecommender
        ``model``, with ``fine_tune_history_`` (the loop's per-epoch loss).

    Raises
    ------
    TypeError
        ``model`` is not a recbook torch model, or one that builds its
        training rows from the frame itself (a sequential model).
    ValueError
        ``model`` is not fitted, or a bad ``n_epochs``/``lr``/``batch_size``/``seed``.

    References
    ----------
    S. Han, J. Pool, J. Tran and W. Dally, NeurIPS 2015; M. Zhu and S. Gupta,
    "To prune, or not to prune", 2017.
    """
    _check_fitted_torch(model, "fine_tune_pruned")
    from recbook.base import Recommender
    from recbook.train import train_module
    from recbook.utils import check_int, check_number, check_seed

    if type(model)._fit_frame is not Recommender._fit_frame:
        raise TypeError(f"fine_tune_pruned: {type(model).__name__} builds its training rows from the frame; it is not supported")
    n_epochs = check_int("n_epochs", n_epochs)
    batch_size = int(model.batch_size) if batch_size is None else check_int("batch_size", batch_size)
    seed = int(model.seed) + 1 if seed is None else check_seed(seed)
    if lr is not None:
        lr = check_number("lr", lr, positive=True)
    module = model._get_module()
    with torch.random.fork_rng(devices=[]):
        model._build()  # restores what the loss needs besides the module (e.g. the seen-pairs index)
    coo = model.train_.tocoo()
    data = model._training_data(coo.row.astype("int64"), coo.col.astype("int64"), coo.data.astype("float64"))
    optimizer = model._make_optimizer(module)
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    result = train_module(module, model._loss, data, n_epochs=n_epochs, batch_size=batch_size,
                          optimizer=optimizer, seed=seed, desc="fine-tuning")
    _refresh(model, module)
    model.fine_tune_history_ = result.history
    return model


def sparse_state(module: torch.nn.Module, index_dtype: torch.dtype = torch.int32) -> dict:
    r"""The state of ``module`` with every 2-D weight stored in CSR form: what pruning *can* save on disk.

    A matrix of :math:`m` rows with :math:`z` nonzeros takes :math:`4z` bytes
    of values, :math:`4z` of column indices and :math:`4(m+1)` of row
    pointers with 32-bit indices, against :math:`4mn` dense: the sparse form
    is smaller only when the density :math:`z/(mn)` is below about one half
    (one fifth with torch's default 64-bit COO indices). Pruning masks are
    folded in first; other tensors are kept dense.

    Parameters
    ----------
    module : torch.nn.Module
    index_dtype : torch.int32 or torch.int64

    Returns
    -------
    dict of str to torch.Tensor
        Measure it with :func:`~recbook.compress.size.state_nbytes`.
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"sparse_state needs a torch.nn.Module, got {type(module).__name__}")
    if index_dtype not in (torch.int32, torch.int64):
        raise ValueError(f"index_dtype must be torch.int32 or torch.int64, got {index_dtype!r}")
    state = {k: torch.as_tensor(v) for k, v in _dense_state(module).items()}
    out = {}
    for key, value in state.items():
        if value.dim() == 2 and value.is_floating_point():
            with warnings.catch_warnings():  # torch calls its CSR support "beta"
                warnings.simplefilter("ignore", UserWarning)
                csr = value.detach().to_sparse_csr()
                out[key] = torch.sparse_csr_tensor(
                    csr.crow_indices().to(index_dtype), csr.col_indices().to(index_dtype), csr.values().clone(),
                    value.shape, check_invariants=False,
                )
        else:
            out[key] = value.detach()
    return out


def dimension_importance(user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
    r"""The importance of each latent dimension of a dot-product model: :math:`\lVert P_{:,k}\rVert\,\lVert Q_{:,k}\rVert`.

    The score is :math:`\hat x_{ui} = \sum_k p_{uk} q_{ik}`, so dimension
    :math:`k` contributes the rank-one matrix :math:`P_{:,k} Q_{:,k}^\top`,
    whose Frobenius norm is exactly :math:`\lVert P_{:,k}\rVert\,\lVert Q_{:,k}\rVert`.
    Dropping the dimensions of least importance removes the smallest such terms
    (when the columns are orthogonal, as after an SVD, this is the best
    rank-:math:`r` truncation; in general it is a cheap proxy).
    """
    if user.dim() != 2 or item.dim() != 2 or user.shape[1] != item.shape[1]:
        raise ValueError(f"need two tables with the same number of columns, got {tuple(user.shape)} and {tuple(item.shape)}")
    return user.norm(dim=0) * item.norm(dim=0)


def _check_keep(keep: object, total: int, what: str) -> int:
    if isinstance(keep, bool) or not isinstance(keep, int):
        raise TypeError(f"keep must be an int number of {what}, got {type(keep).__name__}")
    if not 1 <= keep <= total:
        raise ValueError(f"keep must be between 1 and {total} {what}, got {keep}")
    return keep


def prune_dimensions(model, keep: int):
    r"""Structured pruning of a dot-product factor model: keep the ``keep`` most important latent dimensions.

    For :class:`~recbook.models.bpr.TorchBPR` (score :math:`p_u^\top q_i + b_i`)
    the importance of dimension :math:`k` is
    :math:`\lVert P_{:,k}\rVert\,\lVert Q_{:,k}\rVert` (:func:`dimension_importance`);
    the columns of both tables outside the ``keep`` largest are removed, so the
    result is an ordinary ``TorchBPR`` with ``n_factors=keep`` whose saved state
    really is smaller (unlike unstructured zeros). The kept columns keep their
    order, so ``keep = n_factors`` returns a model with identical scores.

    Parameters
    ----------
    model : TorchBPR
        Fitted; left untouched.
    keep : int
        Dimensions to keep, ``1 <= keep <= n_factors``.

    Returns
    -------
    TorchBPR
        A new fitted model; ``kept_dimensions_`` are the indices kept.

    Raises
    ------
    TypeError
        Not a fitted ``TorchBPR``, or ``keep`` not an int.
    ValueError
        ``model`` not fitted, or ``keep`` out of range.

    References
    ----------
    S. Han et al., NeurIPS 2015 (magnitude criteria); D. Blalock et al.,
    "What is the state of neural network pruning?", MLSys 2020.
    """
    from recbook.models.bpr import TorchBPR

    if not isinstance(model, TorchBPR):
        raise TypeError(f"prune_dimensions supports TorchBPR, got {type(model).__name__}")
    _check_fitted_torch(model, "prune_dimensions")
    state = _dense_state(model._get_module())
    user, item = torch.as_tensor(state["user.weight"]), torch.as_tensor(state["item.weight"])
    keep = _check_keep(keep, user.shape[1], "dimensions")
    kept = torch.sort(torch.topk(dimension_importance(user, item), keep).indices).values
    out = _copy_model(model)
    out.n_factors = keep
    state["user.weight"] = user[:, kept].numpy().copy()
    state["item.weight"] = item[:, kept].numpy().copy()
    out.state_dict_ = state
    out.kept_dimensions_ = kept.numpy()
    return out


def prune_linear_pair(first: torch.nn.Linear, second: torch.nn.Linear, keep: int, offset: int = 0):
    r"""Remove hidden units between two linear layers: ``first``'s outputs and the matching inputs of ``second``.

    Unit :math:`h` of ``first`` computes :math:`\mathrm{relu}(w_h^\top x + c_h)`;
    its importance is the norm of its incoming weights and bias,
    :math:`\lVert (w_h, c_h)\rVert_2`. The ``keep`` most important units are
    kept (in their order): rows of ``first.weight`` and ``first.bias``, and
    columns ``offset + h`` of ``second.weight`` (``offset`` > 0 when ``second``
    reads ``first``'s output after other features, as NeuMF's head does).

    Returns
    -------
    (torch.nn.Linear, torch.nn.Linear, torch.Tensor)
        The two new, smaller layers and the indices of the kept units.

    Raises
    ------
    TypeError
        Not two ``nn.Linear`` layers, or ``keep`` not an int.
    ValueError
        ``keep`` out of range, or ``second`` cannot read ``first``'s outputs at ``offset``.
    """
    if not isinstance(first, torch.nn.Linear) or not isinstance(second, torch.nn.Linear):
        raise TypeError("prune_linear_pair needs two torch.nn.Linear layers")
    n = first.out_features
    keep = _check_keep(keep, n, "units")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0 or offset + n > second.in_features:
        raise ValueError(f"second reads {second.in_features} inputs; {n} units at offset {offset!r} do not fit")
    with torch.no_grad():
        w = first.weight
        score = torch.cat([w, first.bias[:, None]], dim=1).norm(dim=1) if first.bias is not None else w.norm(dim=1)
        kept = torch.sort(torch.topk(score, keep).indices).values
        new_first = torch.nn.Linear(first.in_features, keep, bias=first.bias is not None)
        new_first.weight.copy_(w[kept])
        if first.bias is not None:
            new_first.bias.copy_(first.bias[kept])
        columns = torch.cat([torch.arange(offset), offset + kept, torch.arange(offset + n, second.in_features)])
        new_second = torch.nn.Linear(len(columns), second.out_features, bias=second.bias is not None)
        new_second.weight.copy_(second.weight[:, columns])
        if second.bias is not None:
            new_second.bias.copy_(second.bias)
    return new_first, new_second, kept


def prune_neurons(model, keep: float):
    r"""Structured pruning of NeuMF's MLP tower: keep a fraction of each hidden layer's units.

    NeuMF's tower is ``Linear(2e, h_1) -> ReLU -> Linear(h_1, h_2) -> ... -> head``.
    For every hidden layer :math:`l` (the outputs of ``mlp[l]``), the
    :math:`\max(1, \operatorname{round}(\texttt{keep}\cdot h_l))` units with
    the largest incoming-weight norm are kept and the next layer's inputs are
    sliced to match (:func:`prune_linear_pair`); the last layer's units are read
    by the head after the GMF part. The result is an ordinary
    :class:`~recbook.models.neumf.NeuMF` with smaller ``mlp_layers`` (the
    embeddings are untouched), so its saved state is smaller;
    ``keep = 1.0`` returns identical scores.

    Parameters
    ----------
    model : NeuMF
        Fitted, with at least one hidden layer (``len(mlp_layers) >= 2``).
    keep : float in (0, 1]

    Returns
    -------
    NeuMF
        A new fitted model.

    Raises
    ------
    TypeError
        Not a fitted ``NeuMF``, or ``keep`` not a number.
    ValueError
        ``model`` not fitted or without hidden layers, ``keep`` outside (0, 1].
    """
    from recbook.models.neumf import NeuMF

    if not isinstance(model, NeuMF):
        raise TypeError(f"prune_neurons supports NeuMF, got {type(model).__name__}")
    _check_fitted_torch(model, "prune_neurons")
    if isinstance(keep, bool) or not isinstance(keep, (int, float)):
        raise TypeError(f"keep must be a fraction, got {type(keep).__name__}")
    if not 0.0 < float(keep) <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep!r}")
    module = _fresh_module(model)
    if len(module.layers) < 2:
        raise ValueError(f"NeuMF with mlp_layers={tuple(model.mlp_layers)!r} has no hidden layer to prune")
    layers = list(module.mlp)
    d = module.user_gmf.embedding_dim
    head = module.head
    for l in range(len(layers)):
        n = layers[l].out_features
        k = max(1, int(round(float(keep) * n)))
        if l + 1 < len(layers):
            layers[l], layers[l + 1], _ = prune_linear_pair(layers[l], layers[l + 1], k)
        else:
            layers[l], head, _ = prune_linear_pair(layers[l], head, k, offset=d)
    module.mlp = torch.nn.ModuleList(layers)
    module.head = head
    sizes = (int(model.mlp_layers[0]),) + tuple(layer.out_features for layer in layers)
    module.layers = sizes
    out = _copy_model(model)
    out.mlp_layers = sizes
    _refresh(out, module)
    return out
