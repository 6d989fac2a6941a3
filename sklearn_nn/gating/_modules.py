"""The hard gate's torch pieces (pure torch, no scikit-learn).

``argmax`` has a zero gradient almost everywhere, so a network with a hard
one-hot choice inside cannot be trained by backpropagation as it is.
:func:`straight_through_argmax` keeps the *forward* value exactly one-hot and
replaces the *backward* pass by the gradient of ``softmax(logits)`` (the
straight-through estimator of Bengio, Leonard and Courville, 2013), written
``hard + (soft - soft.detach())``: ``soft - soft.detach()`` is exactly zero in
floating point, so the forward value is exactly the discrete one.

:class:`HardGateNetwork` uses it to pick one *candidate* per sample -- one of
the base models, the prior, or the pool's vote -- and :class:`HardGateLoss`
trains it. Example, in a plain torch loop::

    net = HardGateNetwork(n_features=4, n_estimators=3, n_outputs=1,
                          task="regression")
    criterion = HardGateLoss("regression", "squared_error")
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for xb, base_pred_b, yb in batches:   # base_pred_b: (n, 3, 1)
        opt.zero_grad()
        criterion(net(xb, base_pred_b), yb).backward()
        opt.step()
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._layers import ACTIVATIONS, make_mlp, weighted_mean
from ._selection import CLASSIFICATION_LOSSES, PROBA_FLOOR, REGRESSION_LOSSES

__all__ = ["HardGateLoss", "HardGateNetwork", "straight_through_argmax"]

# the candidates after the base models, in this order
EXTRA_CANDIDATES = ("prior", "vote")


def straight_through_argmax(
    logits: torch.Tensor, temperature: float = 1.0, dim: int = -1
) -> torch.Tensor:
    """One-hot ``argmax`` with the gradient of ``softmax(logits / temperature)``.

    Parameters
    ----------
    logits : Tensor
        Unnormalised scores.
    temperature : float, default=1.0
        Temperature of the softmax used in the backward pass (the forward
        value does not depend on it).
    dim : int, default=-1
        Dimension over which one entry is chosen.

    Returns
    -------
    Tensor
        Same shape as ``logits``; exactly one 1 along ``dim``, zeros elsewhere.
        Ties go to the first maximum.

    Examples
    --------
    >>> import torch
    >>> from sklearn_nn.gating import straight_through_argmax
    >>> logits = torch.tensor([[0.1, 2.0, -1.0]], requires_grad=True)
    >>> straight_through_argmax(logits)
    tensor([[0., 1., 0.]], grad_fn=<AddBackward0>)
    """
    soft = F.softmax(logits / temperature, dim=dim)
    index = logits.argmax(dim=dim, keepdim=True)
    hard = torch.zeros_like(logits).scatter_(dim, index, 1.0)
    return hard + (soft - soft.detach())


class HardGateNetwork(nn.Module):
    """A gating MLP that picks exactly one candidate per sample.

    The candidates are the ``n_estimators`` base models whose outputs are
    given, then the **prior** (a fixed output, the buffer ``prior``) and the
    **vote** (the base outputs averaged with the buffer ``vote_weights``).

    Parameters
    ----------
    n_features : int
        Width of the feature input ``x`` (what the gate reads).
    n_estimators : int
        Number of base models.
    n_outputs : int
        Classification: number of classes (the base outputs are class
        probabilities). Regression: number of targets.
    task : {'classification', 'regression'}, default='regression'
    hidden_layer_sizes : sequence of int, default=(20,)
        Hidden layers of the gate MLP; ``()`` gives a linear gate.
    activation : str, default='relu'
        Hidden activation of the gate.
    output_activation : str or None, default=None
        Regression only. None: the prediction is the chosen candidate's
        output. Otherwise a learnable affine layer (``nn.Linear(n_outputs,
        n_outputs)``, initialised to the identity) followed by this
        activation is applied to each candidate's output, e.g. 'tanh' for the
        ``Dense(1, tanh)`` output layer of a Keras model.

    Notes
    -----
    ``forward(x, base_predictions)`` with ``base_predictions`` of shape
    (n, n_estimators, n_outputs) returns ``(prediction, gate, scores,
    per_model)``: ``per_model`` (n, n_estimators + 2, n_outputs) is each
    candidate's log-probabilities (classification; probabilities clipped at
    1e-7) or output (regression, after the output layer), ``scores`` (n,
    n_estimators + 2) the gate MLP's output, ``gate`` the one-hot argmax of
    ``scores + preference`` (straight-through: its gradient is that of
    ``softmax(scores + preference)``), and ``prediction = sum_c gate_c *
    per_model_c`` exactly the chosen candidate's row. With an output layer a
    fifth element holds the candidates' outputs before it.
    """

    def __init__(
        self,
        n_features: int,
        n_estimators: int,
        n_outputs: int,
        task: str = "regression",
        hidden_layer_sizes: Sequence[int] = (20,),
        activation: str = "relu",
        output_activation: str | None = None,
    ):
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(
                f"task must be 'classification' or 'regression', got {task!r}"
            )
        if output_activation is not None and output_activation not in ACTIVATIONS:
            raise ValueError(
                f"output_activation must be None or one of {sorted(ACTIVATIONS)}, "
                f"got {output_activation!r}"
            )
        if output_activation is not None and task == "classification":
            raise ValueError("output_activation is only used for regression")
        self.task = task
        self.n_estimators = n_estimators
        self.register_buffer(
            "vote_weights", torch.full((n_estimators,), 1.0 / n_estimators)
        )
        prior = torch.full((n_outputs,), 1.0 / n_outputs)
        self.register_buffer(
            "prior", prior if task == "classification" else torch.zeros(n_outputs)
        )
        n_candidates = n_estimators + len(EXTRA_CANDIDATES)
        self.gate = make_mlp(n_features, hidden_layer_sizes, n_candidates, activation)
        # the scores start at 0 for every candidate and input
        with torch.no_grad():
            self.gate[-1].weight.zero_()
            self.gate[-1].bias.zero_()
        # prefer_candidate: the margin added to one candidate's score
        self.register_buffer("preference", torch.zeros(n_candidates))
        if output_activation is None:
            self.output_layer = None
        else:
            linear = nn.Linear(n_outputs, n_outputs)
            with torch.no_grad():
                linear.weight.copy_(torch.eye(n_outputs))
                linear.bias.zero_()
            self.output_layer = nn.Sequential(linear, ACTIVATIONS[output_activation]())

    @property
    def n_candidates(self) -> int:
        return self.n_estimators + len(EXTRA_CANDIDATES)

    def prefer_candidate(self, index: int, margin: float) -> None:
        """Add ``margin`` to candidate ``index``'s score (the buffer
        ``preference``): another candidate is chosen only where its score is
        higher by more than ``margin``."""
        if not 0 <= index < self.n_candidates:
            raise ValueError(
                f"index must be in range({self.n_candidates}), got {index!r}"
            )
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0, got {margin!r}")
        with torch.no_grad():
            self.preference.zero_()
            self.preference[index] = margin

    def set_prior(self, prior) -> None:
        """Set the prior candidate's output, shape (n_outputs,): class
        probabilities (classification) or values (regression)."""
        value = torch.as_tensor(prior, dtype=self.prior.dtype)
        if value.shape != self.prior.shape or not torch.isfinite(value).all():
            raise ValueError(
                f"prior must be {self.prior.numel()} finite values, got "
                f"{torch.as_tensor(prior).tolist()!r}"
            )
        with torch.no_grad():
            self.prior.copy_(value)

    def set_vote_weights(self, weights) -> None:
        """Set the weights of the vote candidate.

        Parameters
        ----------
        weights : array-like of shape (n_estimators,)
            Non-negative, not all zero; they are normalised to sum to 1.
        """
        weights = torch.as_tensor(weights, dtype=self.vote_weights.dtype)
        if (
            weights.shape != self.vote_weights.shape
            or not torch.isfinite(weights).all()
            or (weights < 0).any()
            or weights.sum() <= 0
        ):
            raise ValueError(
                f"weights must be {self.vote_weights.numel()} finite non-negative "
                f"values, not all zero; got {weights.tolist()!r}"
            )
        with torch.no_grad():
            self.vote_weights.copy_(weights / weights.sum())

    def candidates(self, base_predictions):
        """The candidates' raw outputs, shape (n, n_estimators + 2, n_outputs):
        the base models', the prior's and the vote's."""
        dtype = base_predictions.dtype
        vote = torch.einsum("e,nek->nk", self.vote_weights.to(dtype), base_predictions)
        prior = self.prior.to(dtype).expand(base_predictions.shape[0], -1)
        return torch.cat(
            [base_predictions, prior.unsqueeze(1), vote.unsqueeze(1)], dim=1
        )

    def outputs(self, candidates):
        """What a candidate predicts, from its raw output: log-probabilities
        (classification) or the output layer's values (regression)."""
        if self.task == "classification":
            return torch.log(candidates.clamp(min=PROBA_FLOOR, max=1))
        if self.output_layer is not None:
            return self.output_layer(candidates)
        return candidates

    def scores(self, x):
        """The gate's scores, shape (n, n_candidates): the MLP's output plus
        ``preference``. The chosen candidate has the highest score."""
        return self.gate(x) + self.preference.to(x.dtype)

    def forward(self, x, base_predictions):
        gate, scores, per_model, *before = self._gate_and_models(x, base_predictions)
        # with a one-hot gate this is exactly the chosen candidate's row
        prediction = torch.einsum("ne,nek->nk", gate, per_model)
        return prediction, gate, scores, per_model, *before

    def forward_train(self, x, base_predictions):
        """:meth:`forward` without the prediction (``None`` in its place).

        Training calls this instead of :meth:`forward` (see
        ``sklearn_nn._net``): :class:`HardGateLoss` reads only the gate, the
        scores and the per-candidate outputs.
        """
        return (None, *self._gate_and_models(x, base_predictions))

    def _gate_and_models(self, x, base_predictions):
        raw = self.gate(x)
        gate = straight_through_argmax(raw + self.preference.to(raw.dtype))
        candidates = self.candidates(base_predictions)
        per_model = self.outputs(candidates)
        if self.output_layer is None:
            return gate, raw, per_model
        # the candidates' outputs before the output layer, from which the
        # gate's targets are computed (fixed while the output layer trains)
        return gate, raw, per_model, candidates


class HardGateLoss(nn.Module):
    """What trains a hard gate: each candidate's selection loss, predicted.

    Each candidate's per-sample loss ``L_c`` is computed from the network's
    per-candidate outputs (``selection_loss``). The gate's MLP is trained as
    a regression of each candidate's *advantage* over the preferred candidate
    ``b``, ``L_b - L_c``, on the sample's features (mean squared error over
    the candidates). Its population minimiser at an input ``x`` is ``E[L_b -
    L_c | x]``, so the one-hot gate, the argmax of these scores plus the
    preference margin (``HardGateNetwork.prefer_candidate``), picks the
    candidate of least expected loss at ``x`` -- except that it keeps ``b``
    unless another candidate's expected loss is lower by more than the
    margin. The differences to ``b`` cancel what every candidate shares (a
    sample on which all of them are wrong says nothing about the choice).

    In training mode the value returned is that mean squared error (weighted
    mean over the samples); a regression output layer (``output_activation``)
    gets the gradient of the chosen candidates' loss, and the advantages are
    then those of the candidates' outputs before it (the fifth element of
    the network's output), so that the gate's targets stay fixed while it
    trains. In eval mode
    (validation) the value is the loss of the chosen candidates.

    Parameters
    ----------
    task : {'classification', 'regression'}
    selection_loss : str
        Classification: 'zero_one' (1 where the candidate's most probable
        class is wrong) or 'log_loss'. Regression: 'squared_error' or
        'absolute_error' (means over the outputs).
    preferred : int, default=0
        The candidate ``b`` the advantages are measured from.
    scale : float, default=1.0
        Regression losses are divided by it (the target's variance or mean
        absolute deviation), so that the margin does not depend on units.

    ``forward(y_pred, target, weight=None)`` takes the output tuple of
    :class:`HardGateNetwork` and returns the weighted mean loss.
    """

    def __init__(
        self,
        task: str,
        selection_loss: str,
        preferred: int = 0,
        scale: float = 1.0,
    ):
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(
                f"task must be 'classification' or 'regression', got {task!r}"
            )
        losses = (
            CLASSIFICATION_LOSSES if task == "classification" else REGRESSION_LOSSES
        )
        if selection_loss not in losses:
            raise ValueError(
                f"selection_loss must be one of {losses} for {task}, got "
                f"{selection_loss!r}"
            )
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self.task = task
        self.selection_loss = selection_loss
        self.preferred = int(preferred)
        self.scale = float(scale)

    def per_model(self, per_model, target):
        """Each candidate's loss on each sample, shape (n, C)."""
        if self.selection_loss == "zero_one":
            wrong = per_model.argmax(dim=2) != target.view(-1, 1)
            return wrong.to(per_model.dtype)
        if self.selection_loss == "log_loss":
            index = target.view(-1, 1, 1).expand(-1, per_model.shape[1], 1)
            return -per_model.gather(2, index).squeeze(2)
        residual = per_model - target.unsqueeze(1)
        if self.selection_loss == "squared_error":
            return residual.square().mean(dim=2) / self.scale
        return residual.abs().mean(dim=2) / self.scale

    def per_sample(self, y_pred, target):
        """The chosen candidate's loss on each sample, shape (n,)."""
        _, gate, _, per_model = y_pred
        return (gate * self.per_model(per_model, target)).sum(dim=1)

    def forward(self, y_pred, target, weight=None):
        _, gate, scores, per_model, *before_output_layer = y_pred
        losses = self.per_model(per_model, target)
        if not self.training:
            return weighted_mean((gate * losses).sum(dim=1), weight)
        if before_output_layer:
            fixed = self.per_model(before_output_layer[0], target).detach()
        else:
            fixed = losses.detach()
        advantage = fixed[:, [self.preferred]] - fixed
        surrogate = weighted_mean((scores - advantage).square().mean(dim=1), weight)
        # the chosen candidates' loss trains what the losses depend on (a
        # regression output layer); it adds nothing to the value
        chosen = weighted_mean((gate.detach() * losses).sum(dim=1), weight)
        return surrogate + (chosen - chosen.detach())
