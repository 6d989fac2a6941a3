"""Mixture-of-experts torch modules and losses (pure torch, no scikit-learn).

A mixture of experts (Jacobs, Jordan, Nowlan and Hinton, 1991) has a gating
network ``g(x)`` with one output per expert and ``E`` expert networks
``o_i(x)``. The gate is a softmax, so ``g_i(x) > 0`` and ``sum_i g_i(x) = 1``
hold by construction, whatever the weights.

Everything that multiplies probabilities is computed in log space:
``log sum_i g_i p_i = logsumexp_i(log g_i + log p_i)``. That form never takes
the log of a non-positive number and never underflows, even for residuals of
1e3 or gate weights of 1e-30 where the textbook formula returns ``inf``/NaN.

Example, in a plain torch loop::

    model = MixtureOfExperts(n_features=4, n_outputs=1, task="regression")
    criterion = MixtureOfExpertsLoss(task="regression", loss="mixture")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for xb, yb in batches:
        opt.zero_grad()
        criterion(model(xb), yb).backward()
        opt.step()
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._layers import make_mlp, weighted_mean

__all__ = [
    "MixtureOfExperts",
    "MixtureOfExpertsLoss",
    "gaussian_expert_log_likelihood",
    "load_balancing_penalty",
    "mixture_nll",
]


class MixtureOfExperts(nn.Module):
    """A softmax gate over expert MLPs.

    Parameters
    ----------
    n_features : int
        Input width.
    n_outputs : int
        Number of classes (classification) or of regression targets.
    n_experts : int, default=2
        Number of experts.
    expert_hidden_layer_sizes : sequence of int, default=(64, 64)
        Hidden layers of each expert; ``()`` gives linear experts.
    gate_hidden_layer_sizes : sequence of int, default=(32, 32)
        Hidden layers of the gate; ``()`` gives a linear (softmax-regression)
        gate.
    activation : str, default='relu'
        Hidden activation of experts and gate.
    task : {'classification', 'regression'}, default='classification'
    combine : {'mixture', 'blend'}, default='mixture'
        Classification only. 'mixture' predicts ``sum_i g_i softmax(z_i)``,
        the mixture of the experts' class distributions; 'blend' predicts
        ``softmax(sum_i g_i z_i)``, the gate-weighted blend of the experts'
        logits (the cooperative model). Regression always predicts
        ``sum_i g_i o_i``.
    learn_expert_scale : bool, default=False
        Regression only: learn one log standard deviation per expert (used by
        the mixture likelihood). When False every expert has unit variance.
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        n_experts: int = 2,
        expert_hidden_layer_sizes: Sequence[int] = (64, 64),
        gate_hidden_layer_sizes: Sequence[int] = (32, 32),
        activation: str = "relu",
        task: str = "classification",
        combine: str = "mixture",
        learn_expert_scale: bool = False,
    ):
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(
                f"task must be 'classification' or 'regression', got {task!r}"
            )
        if combine not in ("mixture", "blend"):
            raise ValueError(f"combine must be 'mixture' or 'blend', got {combine!r}")
        self.task = task
        self.combine = combine
        self.n_experts = n_experts
        self.experts = nn.ModuleList(
            make_mlp(n_features, expert_hidden_layer_sizes, n_outputs, activation)
            for _ in range(n_experts)
        )
        self.gate = make_mlp(n_features, gate_hidden_layer_sizes, n_experts, activation)
        if learn_expert_scale:
            self.expert_log_scale = nn.Parameter(torch.zeros(n_experts))
        else:
            self.register_buffer("expert_log_scale", torch.zeros(n_experts))

    def forward(self, x):
        """Gate and experts on a batch.

        Parameters
        ----------
        x : Tensor of shape (n, n_features)

        Returns
        -------
        tuple of Tensor
            Classification: ``(log_proba, log_gate, expert_log_proba)`` of
            shapes (n, C), (n, E), (n, E, C). Regression: ``(prediction,
            log_gate, expert_outputs, expert_log_scale)`` of shapes (n, D),
            (n, E), (n, E, D), (n, E).
        """
        log_gate = F.log_softmax(self.gate(x), dim=1)
        outputs = torch.stack([expert(x) for expert in self.experts], dim=1)
        if self.task == "regression":
            prediction = torch.einsum("ne,ned->nd", log_gate.exp(), outputs)
            log_scale = self.expert_log_scale.expand(x.shape[0], self.n_experts)
            return prediction, log_gate, outputs, log_scale
        if self.combine == "blend":
            logits = torch.einsum("ne,nec->nc", log_gate.exp(), outputs)
            return F.log_softmax(logits, dim=1), log_gate, F.log_softmax(outputs, dim=2)
        expert_log_proba = F.log_softmax(outputs, dim=2)
        log_proba = torch.logsumexp(log_gate.unsqueeze(2) + expert_log_proba, dim=1)
        return log_proba, log_gate, expert_log_proba


def mixture_nll(log_gate: torch.Tensor, expert_log_likelihood: torch.Tensor):
    """Per-sample negative log-likelihood of a mixture.

    ``-log sum_i g_i L_i = -logsumexp_i(log g_i + log L_i)``.

    Parameters
    ----------
    log_gate : Tensor of shape (n, E)
        Log gate weights (``log_softmax`` of the gate logits).
    expert_log_likelihood : Tensor of shape (n, E)
        ``log L_i``: each expert's log-likelihood of the sample's target.

    Returns
    -------
    Tensor of shape (n,)
    """
    return -torch.logsumexp(log_gate + expert_log_likelihood, dim=1)


def gaussian_expert_log_likelihood(
    target: torch.Tensor,
    expert_outputs: torch.Tensor,
    expert_log_scale: torch.Tensor | None = None,
):
    """Log-likelihood of ``target`` under each expert's Gaussian.

    ``-0.5 * sum_d ((y_d - o_id) / s_i)^2 - D * log s_i``, without the
    ``-0.5 * D * log(2 pi)`` constant, so that with unit scales the mixture
    NLL is exactly Jacobs et al.'s
    ``-log sum_i g_i exp(-0.5 * ||y - o_i||^2)``.

    Parameters
    ----------
    target : Tensor of shape (n, D)
    expert_outputs : Tensor of shape (n, E, D)
    expert_log_scale : Tensor of shape (n, E) or (E,), optional
        Log standard deviation of each expert; ``None`` means unit variance.

    Returns
    -------
    Tensor of shape (n, E)
    """
    residual = target.unsqueeze(1) - expert_outputs
    if expert_log_scale is None:
        return -0.5 * residual.square().sum(dim=2)
    scaled = residual * torch.exp(-expert_log_scale).unsqueeze(-1)
    n_dims = target.shape[1]
    return -0.5 * scaled.square().sum(dim=2) - n_dims * expert_log_scale


def load_balancing_penalty(log_gate: torch.Tensor, weight: torch.Tensor | None = None):
    """KL divergence between the batch's mean gate usage and the uniform one.

    ``sum_i u_i log(E u_i)`` with ``u_i`` the (weighted) mean of ``g_i(x)``
    over the batch. It is 0 when the experts are used equally on average and
    grows as the gate collapses onto fewer experts; it does not push any single
    sample's gate towards uniform.
    """
    gate = log_gate.exp()
    if weight is None:
        usage = gate.mean(dim=0)
    else:
        usage = (gate * weight.unsqueeze(1)).sum(dim=0) / weight.sum().clamp_min(
            torch.finfo(gate.dtype).tiny
        )
    n_experts = gate.shape[1]
    return torch.sum(
        usage * torch.log(usage.clamp_min(torch.finfo(gate.dtype).tiny) * n_experts)
    )


class MixtureOfExpertsLoss(nn.Module):
    """Training loss for :class:`MixtureOfExperts` outputs.

    Parameters
    ----------
    task : {'classification', 'regression'}
    loss : {'mixture', 'blend'}, default='mixture'
        Regression: 'mixture' is the mixture-of-Gaussians NLL
        (:func:`mixture_nll` of :func:`gaussian_expert_log_likelihood`),
        'blend' the mean squared error of the blended prediction.
        Classification: the cross-entropy of the module's prediction, which
        for ``combine='mixture'`` *is* the mixture NLL
        ``-log sum_i g_i p_i(y | x)``.
    load_balancing : float, default=0.0
        Weight of :func:`load_balancing_penalty` added to the loss.
    """

    def __init__(self, task: str, loss: str = "mixture", load_balancing: float = 0.0):
        super().__init__()
        self.task = task
        self.loss = loss
        self.load_balancing = load_balancing

    def per_sample(self, y_pred, target):
        """Loss of each sample, shape (n,)."""
        if self.task == "classification":
            return F.nll_loss(y_pred[0], target, reduction="none")
        prediction, log_gate, outputs, log_scale = y_pred
        if self.loss == "blend":
            return (prediction - target).square().mean(dim=1)
        return mixture_nll(
            log_gate, gaussian_expert_log_likelihood(target, outputs, log_scale)
        )

    def forward(self, y_pred, target, weight=None):
        """Weighted mean loss of a batch.

        Parameters
        ----------
        y_pred : tuple of Tensor
            The output of :class:`MixtureOfExperts`.
        target : Tensor
            Class indices of shape (n,) or targets of shape (n, D).
        weight : Tensor of shape (n,), optional
            Sample weights: the loss is ``sum(w * l) / sum(w)``.

        Returns
        -------
        Tensor
            The scalar loss, plus ``load_balancing`` times the penalty.
        """
        loss = weighted_mean(self.per_sample(y_pred, target), weight)
        if self.load_balancing:
            loss = loss + self.load_balancing * load_balancing_penalty(
                y_pred[1], weight
            )
        return loss
