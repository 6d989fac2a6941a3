"""Small torch building blocks shared by the estimator families.

Pure torch: nothing here imports scikit-learn, so the modules can be used on
their own in a hand-written training loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


def make_mlp(
    n_inputs: int,
    hidden_layer_sizes: Sequence[int],
    n_outputs: int,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Sequential:
    """Build a feed-forward network ``Linear -> act [-> Dropout] -> ... -> Linear``.

    Parameters
    ----------
    n_inputs : int
        Width of the input.
    hidden_layer_sizes : sequence of int
        Width of each hidden layer; an empty sequence gives a linear model.
    n_outputs : int
        Width of the output layer (no activation on it).
    activation : {'relu', 'tanh', 'logistic', 'gelu', 'identity'}, default='relu'
        Activation after each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.

    Returns
    -------
    torch.nn.Sequential
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}"
        )
    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden_layer_sizes:
        layers.append(nn.Linear(width, int(size)))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = int(size)
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of per-sample ``values``, weighted by ``weight`` when given.

    ``sum(w * v) / sum(w)``: with integer weights this equals the plain mean
    over the data set in which each sample is repeated ``w`` times. A batch
    whose weights are all zero contributes a loss of 0 (and no gradient).
    """
    if weight is None:
        return values.mean()
    total = weight.sum()
    return (values * weight).sum() / torch.clamp(
        total, min=torch.finfo(total.dtype).tiny
    )


def layer_sizes(value, name: str) -> tuple[int, ...]:
    """Validate a ``*hidden_layer_sizes`` parameter into a tuple of ints."""
    sizes = np.asarray(value).ravel()
    if sizes.size and (not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1)):
        raise ValueError(
            f"{name} must be a sequence of positive integers (or () for no "
            f"hidden layer), got {value!r}."
        )
    return tuple(int(s) for s in sizes)
