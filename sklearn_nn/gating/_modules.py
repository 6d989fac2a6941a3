"""Hard (one-hot / 0-1) gates with surrogate gradients (pure torch, no scikit-learn).

``argmax`` and a threshold step have a zero gradient almost everywhere, so a
network that ends in one of them cannot be trained by backpropagation. The
pieces here keep the *forward* value exactly discrete and replace the
*backward* pass by the gradient of a smooth relaxation:

* :func:`straight_through_argmax` -- forward ``one_hot(argmax(logits))``,
  backward through ``softmax(logits / temperature)`` (the straight-through
  estimator of Bengio, Leonard and Courville, 2013);
* :func:`gumbel_softmax_hard` -- forward a one-hot *sample* from
  ``softmax(logits)`` drawn with the Gumbel-max trick, backward through the
  Gumbel-softmax relaxation at ``temperature`` (Jang, Gu and Poole, 2017;
  Maddison, Mnih and Teh, 2017);
* :func:`straight_through_step` -- forward ``(x > threshold)`` as 0/1,
  backward through ``sigmoid((x - threshold) / temperature)``.

All three are written ``hard + (soft - soft.detach())``: ``soft - soft.detach()``
is exactly zero in floating point, so the forward value is *exactly* the
discrete one (``torch.nn.functional.gumbel_softmax`` writes
``hard - soft.detach() + soft``, which can be off by one ulp), while the
gradient is that of ``soft``.

:class:`HardGateNetwork` uses them to select one of several base models per
sample, and :class:`HardGateLoss` trains it. Example, in a plain torch loop::

    net = HardGateNetwork(n_features=4, n_estimators=3, n_outputs=1,
                          task="regression")
    criterion = HardGateLoss("regression")
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

__all__ = [
    "GumbelSoftmaxGate",
    "HardGateLoss",
    "HardGateNetwork",
    "StraightThroughArgmax",
    "StraightThroughStep",
    "gumbel_softmax_hard",
    "straight_through_argmax",
    "straight_through_step",
]

GATES = ("straight_through", "gumbel")


def _one_hot_argmax(scores: torch.Tensor, dim: int) -> torch.Tensor:
    index = scores.argmax(dim=dim, keepdim=True)
    return torch.zeros_like(scores).scatter_(dim, index, 1.0)


def _straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    # forward: exactly `hard` (soft - soft.detach() is exactly 0);
    # backward: the gradient of `soft`
    return hard + (soft - soft.detach())


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
    """
    soft = F.softmax(logits / temperature, dim=dim)
    return _straight_through(_one_hot_argmax(logits, dim), soft)


def gumbel_softmax_hard(
    logits: torch.Tensor,
    temperature: float = 1.0,
    dim: int = -1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A one-hot sample from ``softmax(logits)`` with a Gumbel-softmax gradient.

    ``k = argmax(logits + G)`` with ``G`` i.i.d. standard Gumbel noise is a
    sample from ``softmax(logits)`` (the Gumbel-max trick); the backward pass
    uses the relaxation ``softmax((logits + G) / temperature)``, which tends to
    the one-hot sample as the temperature goes to 0 (with growing gradient
    variance).

    Parameters
    ----------
    logits : Tensor
        Unnormalised log-probabilities.
    temperature : float, default=1.0
        Temperature of the relaxation.
    dim : int, default=-1
        Dimension over which one entry is sampled.
    generator : torch.Generator, optional
        Source of the noise; torch's global generator when None.

    Returns
    -------
    Tensor
        Same shape as ``logits``; exactly one 1 along ``dim``, zeros elsewhere.
    """
    tiny = torch.finfo(logits.dtype).tiny
    exp_noise = torch.empty_like(logits).exponential_(generator=generator)
    gumbels = -exp_noise.clamp_min(tiny).log()
    perturbed = logits + gumbels
    soft = F.softmax(perturbed / temperature, dim=dim)
    return _straight_through(_one_hot_argmax(perturbed, dim), soft)


def straight_through_step(
    x: torch.Tensor, threshold: float = 0.0, temperature: float = 1.0
) -> torch.Tensor:
    """Binary step ``(x > threshold)`` with the gradient of a sigmoid.

    Parameters
    ----------
    x : Tensor
        Pre-activations.
    threshold : float, default=0.0
        Values strictly above it map to 1, the others to 0.
    temperature : float, default=1.0
        The backward pass uses ``sigmoid((x - threshold) / temperature)``.

    Returns
    -------
    Tensor
        Same shape and dtype as ``x`` with values in {0, 1}.
    """
    soft = torch.sigmoid((x - threshold) / temperature)
    return _straight_through((x > threshold).to(x.dtype), soft)


class StraightThroughArgmax(nn.Module):
    """Module form of :func:`straight_through_argmax` (over the last dim).

    Parameters
    ----------
    temperature : float, default=1.0
        Temperature of the backward-pass softmax.
    """

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        self.temperature = temperature

    def forward(self, logits):
        return straight_through_argmax(logits, self.temperature)


class GumbelSoftmaxGate(nn.Module):
    """Hard Gumbel-softmax in training mode, deterministic argmax in eval mode.

    Parameters
    ----------
    temperature : float, default=1.0
        Temperature of the relaxation; a plain attribute, so a training loop
        can anneal it (``gate.temperature = ...``) between epochs.
    generator : torch.Generator, optional
        Source of the Gumbel noise; torch's global generator when None.
    """

    def __init__(self, temperature: float = 1.0, generator=None):
        super().__init__()
        self.temperature = temperature
        self.generator = generator

    def forward(self, logits):
        if self.training:
            return gumbel_softmax_hard(
                logits, self.temperature, generator=self.generator
            )
        return straight_through_argmax(logits, self.temperature)


class StraightThroughStep(nn.Module):
    """Module form of :func:`straight_through_step`: an exact 0/1 activation.

    Parameters
    ----------
    threshold : float, default=0.0
    temperature : float, default=1.0
    """

    def __init__(self, threshold: float = 0.0, temperature: float = 1.0):
        super().__init__()
        self.threshold = threshold
        self.temperature = temperature

    def forward(self, x):
        return straight_through_step(x, self.threshold, self.temperature)


# the lowest regression consensus (see HardGateNetwork.consensus)
_MIN_REGRESSION_CONSENSUS = -1000.0


class HardGateNetwork(nn.Module):
    """A gating MLP that picks exactly one base model per sample.

    Parameters
    ----------
    n_features : int
        Width of the feature input ``x``.
    n_estimators : int
        Number of base models to choose from.
    n_outputs : int
        Classification: number of classes (the base predictions are class
        probabilities). Regression: number of targets.
    task : {'classification', 'regression'}, default='regression'
    hidden_layer_sizes : sequence of int, default=(20,)
        Hidden layers of the gate MLP; ``()`` gives a linear gate.
    activation : str, default='relu'
        Hidden activation of the gate.
    gate : {'straight_through', 'gumbel'}, default='straight_through'
        'straight_through': forward argmax, backward softmax.
        'gumbel': hard Gumbel-softmax samples in training mode, argmax in eval
        mode.
    temperature : float, default=1.0
        Temperature of the softmax / Gumbel relaxation (an attribute that can
        be changed between epochs).
    gate_uses_predictions : bool, default=False
        Feed the flattened base predictions to the gate next to ``x``.
    consensus_weight : float, default=0.0
        Add ``consensus_weight * consensus_e`` to the gate logit of each
        model ``e`` (see :meth:`consensus`): the pool's weighted vote
        (weights ``vote_weights``, a buffer set by :meth:`set_vote_weights`,
        uniform until then). Classification: ``consensus_e`` is the log of
        the probability the weighted pool gives to the class model ``e``
        predicts. Regression: minus half the squared distance of model
        ``e``'s prediction from the pool's weighted mean, relative to the
        pool's weighted spread around that mean at the sample. A large weight
        makes the gate follow the pool -- it picks a model that agrees with
        the vote, or the one closest to the weighted mean -- and the learned
        logits override that only where they differ by more than the
        consensus gap times the weight. 0 (the default) leaves the logits as
        the MLP computes them. The weight is a buffer (``consensus_weight``,
        saved with the ``state_dict``), so it can be changed after training.
    consensus_in_training : bool, default=True
        Whether the consensus is added in training mode too. False trains the
        MLP on its own and adds the consensus in eval mode only.
    output_activation : str or None, default=None
        Regression only. None: the prediction is the chosen model's
        prediction. Otherwise a learnable affine layer (``nn.Linear(n_outputs,
        n_outputs)``, initialised to the identity) followed by this activation
        is applied to each base prediction, e.g. 'tanh' for the
        ``Dense(1, tanh)`` output layer of a Keras model.
    proba_floor : float, default=1e-7
        Classification only: base probabilities are clipped to
        ``[proba_floor, 1]`` before the log, so that a base model that gives a
        class probability 0 still has a finite log-loss.

    Notes
    -----
    ``forward(x, base_predictions)`` with ``base_predictions`` of shape
    (n, n_estimators, n_outputs) returns ``(prediction, gate, gate_proba,
    per_model)``: ``per_model`` (n, E, n_outputs) is each model's log-
    probabilities (classification) or output (regression, after the output
    layer), ``gate`` (n, E) is one-hot, ``prediction = sum_e gate_e *
    per_model_e`` is exactly the chosen model's row (or the fallback set by
    :meth:`set_fallback`), and ``gate_proba`` (n, E)
    is the soft distribution behind the hard choice: ``softmax(logits /
    temperature)`` for 'straight_through' (the softmax of its backward pass),
    ``softmax(logits)`` for 'gumbel' (the distribution its samples follow).
    """

    def __init__(
        self,
        n_features: int,
        n_estimators: int,
        n_outputs: int,
        task: str = "regression",
        hidden_layer_sizes: Sequence[int] = (20,),
        activation: str = "relu",
        gate: str = "straight_through",
        temperature: float = 1.0,
        gate_uses_predictions: bool = False,
        consensus_weight: float = 0.0,
        consensus_in_training: bool = True,
        output_activation: str | None = None,
        proba_floor: float = 1e-7,
    ):
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(
                f"task must be 'classification' or 'regression', got {task!r}"
            )
        if gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, got {gate!r}")
        if output_activation is not None and output_activation not in ACTIVATIONS:
            raise ValueError(
                f"output_activation must be None or one of {sorted(ACTIVATIONS)}, "
                f"got {output_activation!r}"
            )
        if output_activation is not None and task == "classification":
            raise ValueError("output_activation is only used for regression")
        if not consensus_weight >= 0:
            raise ValueError(f"consensus_weight must be >= 0, got {consensus_weight!r}")
        self.task = task
        self.gate_kind = gate
        self.temperature = temperature
        self.gate_uses_predictions = gate_uses_predictions
        self.proba_floor = proba_floor
        self.consensus_in_training = consensus_in_training
        self.register_buffer(
            "vote_weights", torch.full((n_estimators,), 1.0 / n_estimators)
        )
        self.register_buffer("consensus_weight", torch.tensor(float(consensus_weight)))
        # set_fallback: 1 replaces every prediction by ``fallback``
        self.register_buffer("fallback_weight", torch.tensor(0.0))
        self.register_buffer("fallback", torch.zeros(n_outputs))
        n_gate_inputs = n_features + (
            n_estimators * n_outputs if gate_uses_predictions else 0
        )
        self.gate = make_mlp(
            n_gate_inputs, hidden_layer_sizes, n_estimators, activation
        )
        if output_activation is None:
            self.output_layer = None
        else:
            linear = nn.Linear(n_outputs, n_outputs)
            with torch.no_grad():
                linear.weight.copy_(torch.eye(n_outputs))
                linear.bias.zero_()
            self.output_layer = nn.Sequential(linear, ACTIVATIONS[output_activation]())

    def prefer_estimator(self, index: int, margin: float) -> None:
        """Make the gate choose base model ``index`` for every input.

        The output layer's weights are set to zero and its bias to
        ``margin`` for ``index`` and 0 for the other models, so the logits
        are the same for every input and ``index`` wins by ``margin``. The
        gate's hidden layers keep their (random) weights and training moves
        the choice away from ``index`` only where the loss says another model
        does better. ``margin=0`` gives equal logits (argmax ties go to the
        first model).

        Parameters
        ----------
        index : int
            The base model to prefer, in ``range(n_estimators)``.
        margin : float
            How much larger its logit is than the others'.
        """
        last = self.gate[-1]
        if not 0 <= index < last.out_features:
            raise ValueError(
                f"index must be in range({last.out_features}), got {index!r}"
            )
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
            last.bias[index] = margin

    def set_fallback(self, prediction) -> None:
        """Predict ``prediction`` for every sample, whatever the gate picks.

        ``prediction`` (n_outputs,) is in the output's space: the class
        log-probabilities for classification (the class prior's, say), the
        values for regression. None predicts the chosen models' outputs again.
        The gate, the soft gate and the per-model outputs are unchanged.
        Stored as buffers (``fallback``, ``fallback_weight``), saved with the
        ``state_dict``.
        """
        with torch.no_grad():
            if prediction is None:
                self.fallback.zero_()
                self.fallback_weight.fill_(0.0)
                return
            value = torch.as_tensor(prediction, dtype=self.fallback.dtype)
            if value.shape != self.fallback.shape:
                raise ValueError(
                    f"prediction must have shape {tuple(self.fallback.shape)}, "
                    f"got {tuple(value.shape)}"
                )
            if not torch.isfinite(value).all():
                raise ValueError("prediction must be finite")
            self.fallback.copy_(value)
            self.fallback_weight.fill_(1.0)

    def set_vote_weights(self, weights) -> None:
        """Set the weights of the pool's vote read by :meth:`consensus`.

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

    def consensus(self, base_predictions):
        """How much the pool's weighted vote agrees with each model.

        Classification: ``support = sum_e' vote_weights_e' * p_e'`` is the
        pool's weighted class distribution; entry ``(i, e)`` of the result is
        ``log(support_i[argmax_c p_e(c | x_i)])``, so models that predict the
        same class get the same value. Regression: with ``m_i = sum_e'
        vote_weights_e' * p_e'(x_i)`` the pool's weighted mean and ``s_i =
        sum_e' vote_weights_e' * ||p_e'(x_i) - m_i||^2`` its weighted spread
        around it, entry ``(i, e)`` is ``-||p_e(x_i) - m_i||^2 / (2 s_i)``
        (0 where the pool agrees exactly, at least -1000): the model closest
        to the weighted mean scores highest, whatever the scale of the
        target.

        Parameters
        ----------
        base_predictions : Tensor of shape (n, n_estimators, n_outputs)
            The base models' class probabilities (classification) or
            predictions (regression).

        Returns
        -------
        Tensor of shape (n, n_estimators)
        """
        weights = self.vote_weights.to(base_predictions.dtype)
        if self.task == "regression":
            mean = torch.einsum("e,nek->nk", weights, base_predictions)
            deviation = base_predictions - mean.unsqueeze(1)
            # the ratio below does not depend on the scale: dividing by each
            # sample's largest deviation first keeps the squares from
            # overflowing (or underflowing) for targets of any size
            tiny = torch.finfo(base_predictions.dtype).tiny
            largest = deviation.abs().amax(dim=(1, 2), keepdim=True)
            deviation = deviation / largest.clamp(min=tiny)
            distance = deviation.square().sum(dim=2)
            spread = torch.einsum("e,ne->n", weights, distance).unsqueeze(1)
            # bounded like the classifier's log-support (a model whose squared
            # distance is 2000 spreads is out either way), so a weight of 0
            # still adds exactly 0
            return (-0.5 * distance / spread.clamp(min=tiny)).clamp(
                min=_MIN_REGRESSION_CONSENSUS
            )
        support = torch.einsum("e,nec->nc", weights, base_predictions)
        chosen = base_predictions.argmax(dim=2)
        return torch.log(support.gather(1, chosen).clamp(min=self.proba_floor))

    def select(self, logits):
        """The one-hot gate for ``logits`` (Gumbel noise only in training)."""
        if self.gate_kind == "gumbel" and self.training:
            return gumbel_softmax_hard(logits, self.temperature)
        return straight_through_argmax(logits, self.temperature)

    def forward(self, x, base_predictions):
        gate, gate_proba, per_model = self._gate_and_models(x, base_predictions)
        # with a one-hot gate this is exactly the chosen model's row
        prediction = torch.einsum("ne,nek->nk", gate, per_model)
        # a fallback weight of 0 (or 1) keeps exactly that row (or the
        # fallback): both terms are finite
        f = self.fallback_weight.to(prediction.dtype)
        prediction = (1 - f) * prediction + f * self.fallback.to(prediction.dtype)
        return prediction, gate, gate_proba, per_model

    def forward_train(self, x, base_predictions):
        """:meth:`forward` without the prediction (``None`` in its place).

        Training calls this instead of :meth:`forward` (see
        ``sklearn_nn._net``): :class:`HardGateLoss` reads only the gate, the
        soft gate and the per-model outputs.
        """
        return (None, *self._gate_and_models(x, base_predictions))

    def _gate_and_models(self, x, base_predictions):
        if self.gate_uses_predictions:
            gate_input = torch.cat([x, base_predictions.flatten(1)], dim=1)
        else:
            gate_input = x
        logits = self.gate(gate_input)
        if self.consensus_in_training or not self.training:
            # a weight of 0 adds exactly 0 (the consensus is finite)
            weight = self.consensus_weight.to(logits.dtype)
            logits = logits + weight * self.consensus(base_predictions)
        gate = self.select(logits)
        if self.gate_kind == "gumbel":
            gate_proba = F.softmax(logits, dim=1)
        else:
            gate_proba = F.softmax(logits / self.temperature, dim=1)
        if self.task == "classification":
            per_model = torch.log(base_predictions.clamp(min=self.proba_floor, max=1))
        elif self.output_layer is not None:
            per_model = self.output_layer(base_predictions)
        else:
            per_model = base_predictions
        return gate, gate_proba, per_model


class HardGateLoss(nn.Module):
    """Loss of the model chosen by a one-hot gate.

    Each base model's per-sample loss ``L_e`` is computed (classification:
    ``-log p_e(y)``; regression: mean squared error over the outputs) and the
    loss of the chosen model is ``sum_e gate_e * L_e``. Its straight-through
    gradient with respect to the gate logits is the gradient of
    ``sum_e softmax_e * L_e``, the expected loss under the soft gate: it moves
    probability towards the models whose loss is below the
    (softmax-weighted) average.

    In training mode the *value* returned is that expected loss under
    ``gate_proba`` (with the gradient of the hard loss): the hard loss is
    piecewise constant in the gate's weights, so it stalls while the gate is
    still moving towards a better choice, and a convergence test on it
    would stop training too early. In eval mode (validation) the value is
    the hard loss of the chosen models.

    Parameters
    ----------
    task : {'classification', 'regression'}
    misclassification_cost : float, default=0.0
        Classification only: added to a model's loss on a sample when its most
        probable class is wrong, ``L_e = -log p_e(y) + cost * [argmax p_e !=
        y]``. With a cost well above the typical log-loss the gate learns
        where each model is *right* and the log-loss only decides between
        models that are both right or both wrong; with 0 it prefers the most
        confident correct model, which can cost accuracy when the models'
        confidences are not comparable (a k-NN's probability 1 against an
        SVM's Platt-scaled 0.9). The indicator has no gradient of its own:
        it changes which models the soft gate's gradient favours.

    ``forward(y_pred, target, weight=None)`` takes the output tuple of
    :class:`HardGateNetwork` and returns the weighted mean loss.
    """

    def __init__(self, task: str, misclassification_cost: float = 0.0):
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(
                f"task must be 'classification' or 'regression', got {task!r}"
            )
        if misclassification_cost < 0:
            raise ValueError(
                f"misclassification_cost must be >= 0, got {misclassification_cost!r}"
            )
        if misclassification_cost and task != "classification":
            raise ValueError("misclassification_cost is only used for classification")
        self.task = task
        self.misclassification_cost = misclassification_cost

    def per_model(self, per_model, target):
        """Each model's loss on each sample, shape (n, E)."""
        if self.task == "classification":
            index = target.view(-1, 1, 1).expand(-1, per_model.shape[1], 1)
            losses = -per_model.gather(2, index).squeeze(2)
            if self.misclassification_cost:
                wrong = per_model.argmax(dim=2) != target.view(-1, 1)
                losses = losses + self.misclassification_cost * wrong.to(losses.dtype)
            return losses
        return (per_model - target.unsqueeze(1)).square().mean(dim=2)

    def per_sample(self, y_pred, target):
        """The chosen model's loss on each sample, shape (n,)."""
        _, gate, _, per_model = y_pred
        return (gate * self.per_model(per_model, target)).sum(dim=1)

    def forward(self, y_pred, target, weight=None):
        _, gate, gate_proba, per_model = y_pred
        losses = self.per_model(per_model, target)
        hard = weighted_mean((gate * losses).sum(dim=1), weight)
        if not self.training:
            return hard
        expected = weighted_mean((gate_proba * losses).sum(dim=1), weight)
        # value: the expected loss; gradient: the hard (straight-through) one
        return expected.detach() + (hard - hard.detach())
