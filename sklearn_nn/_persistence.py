"""The fitted network as plain data, for pickle, joblib and skops.

A fitted estimator's state holds its network as numpy arrays, lists, dicts
and numbers (``__getstate__``), never torch or skorch objects, so that
:func:`skops.io.dump` can write it and :func:`skops.io.load` reads it back
trusting sklearn_nn's own types only. Loading (``__setstate__``) rebuilds the
torch module and the skorch net from the estimator's parameters and fitted
attributes, then loads the weights, the optimizer's state (so that a
``warm_start`` fit continues where the saved one stopped) and the history.
"""

from __future__ import annotations

import numpy as np
import torch
from skorch.history import History

from .exceptions import LoadedOnCPUWarning, _warn


def _to_plain(obj):
    """Tensors to numpy arrays (on the CPU), numpy scalars to Python numbers,
    containers rebuilt as plain dicts, lists and tuples."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy().copy()
    if isinstance(obj, dict):
        return {key: _to_plain(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_to_plain(value) for value in obj]
    if isinstance(obj, tuple):
        return tuple(_to_plain(value) for value in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _to_torch(obj):
    """The inverse of :func:`_to_plain` for state dicts: arrays to tensors."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj))
    if isinstance(obj, dict):
        return {key: _to_torch(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_to_torch(value) for value in obj]
    if isinstance(obj, tuple):
        return tuple(_to_torch(value) for value in obj)
    return obj


def net_state(net):
    """The trained net as plain data: weights, optimizer, history, device."""
    return {
        "device": str(net.device),
        "module": _to_plain(net.module_.state_dict()),
        "criterion": _to_plain(net.criterion_.state_dict()),
        "optimizer": _to_plain(net.optimizer_.state_dict()),
        "history": _to_plain(list(net.history)),
    }


_STATE_KEYS = ("device", "module", "criterion", "optimizer", "history")


def restore_net(estimator, state):
    """Rebuild ``estimator``'s net from :func:`net_state`'s output.

    A state that does not fit the network the estimator's parameters and
    fitted attributes define (a file written by another version of a class,
    or edited) is a ValueError; a GPU state loads on the CPU, with a
    :class:`~sklearn_nn.exceptions.LoadedOnCPUWarning`, where there is no GPU.
    """
    name = type(estimator).__name__
    if not isinstance(state, dict) or set(state) != set(_STATE_KEYS):
        raise ValueError(
            f"The saved state of this {name} has no valid network (expected "
            f"the entries {list(_STATE_KEYS)}): the file is damaged or was "
            "edited."
        )
    device = state["device"]
    if not isinstance(device, str):
        raise ValueError(f"The saved network device of this {name} is {device!r}.")
    if device.startswith("cuda") and not torch.cuda.is_available():
        _warn(
            f"{name} was fitted on {device!r}, and no GPU is available here: "
            "its network was loaded on the CPU.",
            LoadedOnCPUWarning,
        )
        device = "cpu"
    # building the module draws its initial weights: leave the caller's
    # random state as it was
    with torch.random.fork_rng(devices=[]):
        net = estimator._new_net(device, callbacks=[])
    try:
        net.module_.load_state_dict(_to_torch(state["module"]))
        net.criterion_.load_state_dict(_to_torch(state["criterion"]))
        net.optimizer_.load_state_dict(_to_torch(state["optimizer"]))
        history = History(state["history"])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise ValueError(
            f"The saved network of this {name} does not match the network its "
            "parameters and fitted attributes define (the file is damaged, "
            f"was edited, or comes from another version of sklearn_nn): {exc}"
        ) from None
    net.history = history
    return net
