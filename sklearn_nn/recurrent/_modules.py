"""Recurrent sequence classifier and the target-replication loss (pure torch).

Target replication (Lipton, Kale, Elkan and Wetzel, 2016) uses a sequence's
label as the target at every time step. With ``l`` the negative
log-likelihood, ``T`` the sequence's own length and ``alpha`` the replication
weight, the loss of one sequence is::

    alpha * (1/T) * sum_{t=1..T} l(y_hat_t, y) + (1 - alpha) * l(y_hat_T, y)

Padding never reaches a prediction or a loss: the recurrent network is
unidirectional and padding is trailing, so a real step never reads a padded
one; each batch is trimmed to its longest real length; the final prediction is
taken at step ``lengths - 1`` (a gather, not the last column) and the mean over
steps is masked by the lengths.

Example, in a plain torch loop::

    model = SequenceClassifierRNN(n_inputs=12, n_classes=9, hidden_size=32)
    criterion = TargetReplicationLoss(replication_weight=0.5)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for xb, lengths, yb in batches:  # xb zero-padded (n, T, 12)
        opt.zero_grad()
        criterion(model(xb, lengths), yb).backward()
        opt.step()
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._layers import (
    SequenceEncoder,
    final_step,
    running_mean,
    step_mask,
    weighted_mean,
)

__all__ = [
    "SequenceClassifierRNN",
    "TargetReplicationLoss",
    "final_step",
    "step_mask",
    "target_replication_loss",
]


class SequenceClassifierRNN(nn.Module):
    """Causal sequence classifier with one output layer shared over steps.

    A :class:`~sklearn_nn._layers.SequenceEncoder` -- ``[token embedding |]
    [causal convolutions ->] [LSTM/GRU]`` and/or causal random convolutions
    -- with a per-step linear output layer. Every step's prediction reads
    only that step and the ones before it (the convolutions are causal, the
    recurrent network is unidirectional, the random features are running
    proportions).

    The output layer is linear in the states, so on the random features it
    is computed without them: at each step the layer's weights are summed
    over the features that are positive there (``random.step_sums``), and
    their running mean is the layer applied to the running proportions. The
    features of every step are never held at once: one dilation group's
    indicators (``n * T * 84 * features_per_dilation``) at a time.

    Parameters
    ----------
    n_inputs : int
        Channels per step (ignored when ``vocab_size`` is set).
    n_classes : int
        Number of classes.
    hidden_size : int, default=32
        Width of the recurrent state.
    num_layers : int, default=1
        Stacked recurrent layers.
    cell : {'lstm', 'gru'} or None, default='lstm'
    dropout : float, default=0.0
        Dropout between stacked recurrent layers and on the trained states
        before the output layer.
    vocab_size : int or None, default=None
        When set, the input is token ids (n, T) in ``[0, vocab_size)`` that go
        through an embedding layer first; id 0 is padding.
    embedding_dim : int, default=16
        Width of the token embedding (``vocab_size`` set only).
    conv_filters : sequence of int, default=()
        Output channels of causal convolution layers before the recurrent
        layer; ``()`` for none.
    conv_kernel_size : int, default=5
        Kernel size of those convolutions.
    random_layout : tuple (dilations, features_per_dilation) or None, default=None
        Causal random convolutions (see
        :func:`~sklearn_nn._layers.random_convolution_layout`).
    random_seed : int, default=0
        Seed of their channel subsets.
    observed_inputs : tuple (n_inputs, time_channel) or None, default=None
        Missing values and observation times (see
        :class:`~sklearn_nn._layers.ObservedInputs`).
    n_scaled_steps : int, default=0
        Length of the buffer ``step_scale``: the logits at step ``t`` are
        multiplied by ``step_scale[min(t, n_scaled_steps - 1)]`` (a
        per-step temperature; 0 for none).
    """

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        hidden_size: int = 32,
        num_layers: int = 1,
        cell: str | None = "lstm",
        dropout: float = 0.0,
        vocab_size: int | None = None,
        embedding_dim: int = 16,
        conv_filters=(),
        conv_kernel_size: int = 5,
        random_layout=None,
        random_seed: int = 0,
        n_scaled_steps: int = 0,
        observed_inputs=None,
    ):
        super().__init__()
        self.register_buffer("step_scale", torch.ones(n_scaled_steps))
        self.encoder = SequenceEncoder(
            n_inputs,
            hidden_size=hidden_size,
            num_layers=num_layers,
            cell=cell,
            dropout=dropout,
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            conv_filters=conv_filters,
            conv_kernel_size=conv_kernel_size,
            random_layout=random_layout,
            random_seed=random_seed,
            observed_inputs=observed_inputs,
        )
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(self.encoder.n_outputs, n_classes)

    def states(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-step states (n, lengths.max(), encoder.n_outputs)."""
        return self.encoder(x, lengths)

    def step_logits(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-step logits (n, lengths.max(), n_classes)."""
        x = self.encoder.prepare(self.encoder.trim(x, lengths))
        weight, split = self.output.weight, self.encoder.n_trained_outputs
        logits = self.output.bias
        trained = self.encoder.trained_states(x)
        if trained is not None:
            logits = logits + F.linear(self.dropout(trained), weight[:, :split])
        if self.encoder.random is not None:
            sums = self.encoder.random.step_sums(x, weight[:, split:])
            logits = logits + running_mean(sums)
        if self.step_scale.numel():
            steps = torch.arange(logits.shape[1], device=logits.device)
            scale = self.step_scale[steps.clamp(max=self.step_scale.numel() - 1)]
            logits = logits * scale.to(logits.dtype).view(1, -1, 1)
        return logits

    def forward(self, x, lengths, return_steps: bool = True):
        """Class log-probabilities at each sequence's last step (and all steps).

        Parameters
        ----------
        x : Tensor of shape (n, T, n_inputs), or (n, T) token ids
            Zero-padded sequences (``T >= lengths.max()``).
        lengths : Tensor of shape (n,)
            Real lengths (``>= 1``); steps past them are never read.
        return_steps : bool, default=True
            When False only the final-step output is returned.

        Returns
        -------
        final_log_proba : Tensor of shape (n, n_classes)
            Log-probabilities at step ``lengths - 1`` of each sequence.
        step_log_proba : Tensor of shape (n, lengths.max(), n_classes)
            Log-probabilities at every step; entries past a sequence's length
            are meaningless (mask them with :func:`step_mask`). Only when
            ``return_steps``.
        lengths : Tensor of shape (n,)
            The lengths, passed through for the loss. Only when
            ``return_steps``.
        """
        step_log_proba = F.log_softmax(self.step_logits(x, lengths), dim=-1)
        final = final_step(step_log_proba, lengths)
        if not return_steps:
            return final
        return final, step_log_proba, lengths


def target_replication_loss(
    step_log_proba: torch.Tensor,
    lengths: torch.Tensor,
    target: torch.Tensor,
    replication_weight: float,
    final_log_proba: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-sequence target-replication loss.

    ``alpha * mean_{t < T_i} nll_t + (1 - alpha) * nll_{T_i - 1}``, with the
    mean over each sequence's own real steps.

    Parameters
    ----------
    step_log_proba : Tensor of shape (n, T, C)
        Per-step log-probabilities (values past a sequence's length are
        ignored, even when they are not finite).
    lengths : Tensor of shape (n,)
        Real lengths (``1 <= lengths <= T``).
    target : Tensor of shape (n,)
        Class codes.
    replication_weight : float
        ``alpha`` in [0, 1].
    final_log_proba : Tensor of shape (n, C), optional
        Log-probabilities at the last real step; taken from
        ``step_log_proba`` when omitted.

    Returns
    -------
    Tensor of shape (n,)
    """
    n_steps = step_log_proba.shape[1]
    if final_log_proba is None:
        final_log_proba = final_step(step_log_proba, lengths)
    final_nll = -final_log_proba.gather(1, target.view(-1, 1)).squeeze(1)
    if replication_weight == 0:
        return final_nll
    index = target.view(-1, 1, 1).expand(-1, n_steps, 1)
    step_nll = -step_log_proba.gather(2, index).squeeze(2)
    mask = step_mask(lengths, n_steps)
    step_nll = torch.where(mask, step_nll, torch.zeros_like(step_nll))
    mean_nll = step_nll.sum(dim=1) / lengths.to(step_nll.dtype)
    return replication_weight * mean_nll + (1 - replication_weight) * final_nll


class TargetReplicationLoss(nn.Module):
    """Criterion for :class:`SequenceClassifierRNN` outputs.

    In training mode it is the (weighted) mean over sequences of
    :func:`target_replication_loss`. In eval mode (``criterion.eval()``, the
    validation pass) it is the final-step negative log-likelihood only:
    target replication is a training device, and a model is judged on its
    prediction at the end of the sequence, as in Lipton et al. (2016).

    Parameters
    ----------
    replication_weight : float, default=0.5
        ``alpha`` in [0, 1]; 0 is ordinary final-step training.
    """

    def __init__(self, replication_weight: float = 0.5):
        super().__init__()
        if not 0 <= replication_weight <= 1:
            raise ValueError(
                f"replication_weight must be in [0, 1], got {replication_weight}"
            )
        self.replication_weight = float(replication_weight)

    def forward(self, y_pred, target, weight=None):
        final_log_proba, step_log_proba, lengths = y_pred
        alpha = self.replication_weight if self.training else 0.0
        per_sequence = target_replication_loss(
            step_log_proba, lengths, target, alpha, final_log_proba
        )
        return weighted_mean(per_sequence, weight)
