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


# ------------------------------------------------------------------ sequences
RNN_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
POOLINGS = ("last", "mean", "max")


def step_mask(lengths: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Boolean mask (n, n_steps): True at each sequence's real steps."""
    steps = torch.arange(n_steps, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def final_step(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``values[i, lengths[i] - 1]`` for each sequence: (n, T, d) -> (n, d)."""
    index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, values.shape[2])
    return values.gather(1, index).squeeze(1)


def pool_steps(
    states: torch.Tensor, lengths: torch.Tensor, pooling: str = "last"
) -> torch.Tensor:
    """Summarise per-step states (n, T, d) into (n, d), ignoring padding.

    'last': the state at each sequence's last real step; 'mean': the mean
    over its real steps; 'max': the element-wise maximum over its real
    steps. Steps at or past ``lengths`` never count, whatever they hold.
    """
    if pooling == "last":
        return final_step(states, lengths)
    mask = step_mask(lengths, states.shape[1]).unsqueeze(2)
    if pooling == "mean":
        total = torch.where(mask, states, torch.zeros_like(states)).sum(dim=1)
        return total / lengths.to(states.dtype).unsqueeze(1)
    if pooling == "max":
        low = torch.finfo(states.dtype).min
        return torch.where(mask, states, torch.full_like(states, low)).amax(dim=1)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


class CausalConv1d(nn.Module):
    """Stacked dilated causal 1-D convolutions over time: (n, T, C) -> (n, T, F).

    Layer ``i`` is ``Conv1d(kernel_size, dilation=2**i)`` on its input
    left-padded with ``(kernel_size - 1) * 2**i`` zero steps, followed by
    ReLU (the temporal convolutional network of Bai, Kolter and Koltun,
    2018). The output at step ``t`` reads the input at steps ``t - r + 1 ..
    t`` only, with the receptive field ``r = 1 + (kernel_size - 1) * (2**L -
    1)`` for ``L`` layers (253 steps for 6 layers of kernel 5): it never reads
    the (trailing) padding of a sequence, and a per-step prediction made from
    it stays causal.

    Parameters
    ----------
    n_inputs : int
        Channels per input step.
    filters : sequence of int
        Output channels of each layer.
    kernel_size : int, default=5
        Taps of each layer's kernel.
    """

    def __init__(self, n_inputs: int, filters: Sequence[int], kernel_size: int = 5):
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.convs = nn.ModuleList()
        width = n_inputs
        for i, size in enumerate(filters):
            self.convs.append(
                nn.Conv1d(width, int(size), self.kernel_size, dilation=2**i)
            )
            width = int(size)
        self.n_outputs = width

    @property
    def receptive_field(self) -> int:
        """Number of input steps that one output step reads."""
        return 1 + (self.kernel_size - 1) * (2 ** len(self.convs) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)
        for conv in self.convs:
            left = (self.kernel_size - 1) * conv.dilation[0]
            h = torch.relu(conv(nn.functional.pad(h, (left, 0))))
        return h.transpose(1, 2)


def running_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean of the steps ``0..t`` at each step ``t``: (n, T, d) -> (n, T, d).

    A causal global average pooling: at a sequence's last real step it is the
    mean over the whole sequence, and it never reads a later step.
    """
    steps = torch.arange(1, values.shape[1] + 1, device=values.device)
    return values.cumsum(dim=1) / steps.to(values.dtype).view(1, -1, 1)


class SequenceEncoder(nn.Module):
    """Per-step states of a causal sequence encoder.

    ``[token embedding ->] [dilated causal convolutions ->] LSTM/GRU``: the one
    sequence encoder of every family that reads sequences (the recurrent
    classifier puts a per-step output layer on it, the pair models' sequence
    towers pool it). With convolutions, the state at step ``t`` is the
    recurrent state concatenated with the :func:`running_mean` of the
    convolution features up to ``t`` (a causal version of the global average
    pooling of fully convolutional time-series classifiers, Wang et al.
    2017), which gives the last step a short path to every earlier step.
    Every step's state reads only that step and the ones before it, so
    trailing padding never changes a real step's state.

    Parameters
    ----------
    n_inputs : int
        Channels per step (ignored when ``vocab_size`` is set).
    hidden_size : int, default=32
        Width of the recurrent state.
    num_layers : int, default=1
        Stacked recurrent layers.
    cell : {'lstm', 'gru'}, default='lstm'
    dropout : float, default=0.0
        Dropout between stacked recurrent layers.
    vocab_size : int or None, default=None
        When set, the input is token ids (n, T) in ``[0, vocab_size)`` that go
        through an embedding layer first; id 0 is padding.
    embedding_dim : int, default=16
        Width of the token embedding (``vocab_size`` set only).
    conv_filters : sequence of int, default=()
        Output channels of dilated causal convolution layers run before the
        recurrent layer (see :class:`CausalConv1d`); ``()`` for none.
    conv_kernel_size : int, default=5
        Kernel size of those convolutions.

    Attributes
    ----------
    n_outputs : int
        Width of the per-step states: ``hidden_size``, plus
        ``conv_filters[-1]`` with convolutions.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_size: int = 32,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        vocab_size: int | None = None,
        embedding_dim: int = 16,
        conv_filters: Sequence[int] = (),
        conv_kernel_size: int = 5,
    ):
        super().__init__()
        if cell not in RNN_CELLS:
            raise ValueError(f"cell must be one of {sorted(RNN_CELLS)}, got {cell!r}")
        if vocab_size is not None:
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
            n_inputs = embedding_dim
        else:
            self.embedding = None
        if len(conv_filters):
            self.conv = CausalConv1d(n_inputs, conv_filters, conv_kernel_size)
            n_inputs = self.conv.n_outputs
        else:
            self.conv = None
        self.rnn = RNN_CELLS[cell](
            n_inputs,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.hidden_size = hidden_size
        self.n_outputs = hidden_size + (self.conv.n_outputs if self.conv else 0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-step states (n, lengths.max(), n_outputs).

        Parameters
        ----------
        x : Tensor of shape (n, T, n_inputs), or (n, T) token ids
            Zero-padded sequences (``T >= lengths.max()``).
        lengths : Tensor of shape (n,)
            Real lengths (``>= 1``); states past them are meaningless.
        """
        if not torch.onnx.is_in_onnx_export():
            # trimming saves work; an exported graph runs over the whole
            # padded length instead (every step reads only earlier ones, so
            # the real steps' states are the same) and stays valid for any T
            x = x[:, : int(lengths.max())]
        if self.embedding is not None:
            x = self.embedding(x)
        if self.conv is None:
            return self.rnn(x)[0]
        features = self.conv(x)
        out, _ = self.rnn(features)
        return torch.cat([out, running_mean(features)], dim=2)
