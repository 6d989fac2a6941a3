"""The mixture regressor's scales: the target standardisation folded into the
experts' last layers, and the EM update of the experts' scales."""

from __future__ import annotations

import math

import numpy as np
import torch
from skorch.callbacks import Callback

from ._modules import gaussian_expert_log_likelihood


def _target_statistics(target, weight):
    """``(shift, scale)`` that standardise the training target: the
    (weighted) mean of each column, and one scale for all columns, the root
    mean of the columns' (weighted) variances (1 for a constant target)."""
    target = np.asarray(target, dtype=np.float64)
    shift = np.average(target, axis=0, weights=weight)
    variance = np.average((target - shift) ** 2, axis=0, weights=weight)
    scale = float(np.sqrt(np.mean(variance)))
    if not (np.isfinite(scale) and scale > 0):
        scale = 1.0
    return shift, scale


class _ExpertScaleEM(Callback):
    """Re-estimate the experts' scales after every training epoch (EM M-step).

    During an epoch's training batches it accumulates, for each expert ``i``,
    the responsibility mass ``R_i = sum_n w_n r_ni`` and the
    responsibility-weighted squared residuals ``Q_i = sum_n w_n r_ni ||y_n -
    o_i(x_n)||^2 / D``, where ``r_ni = g_i N(y_n; o_i, s_i^2) / sum_j g_j
    N(y_n; o_j, s_j^2)`` is the posterior probability that expert ``i``
    generated sample ``n`` (computed from the batch's own forward pass, no
    extra one). After the training pass it sets

        ``s_i^2 = (Q_i + nu) / (R_i + nu)``

    the maximum a posteriori variance under an inverse-gamma prior worth
    ``nu`` samples of squared residual 1, the variance of the standardised
    target. It is the M-step of the EM algorithm for mixtures of experts
    (Jordan and Jacobs, 1994) for the scales, with the means and the gate
    trained by the optimizer as usual. The update is applied before the
    validation pass, so that the validation loss, early stopping and the
    restored best weights see the scales of their epoch.
    """

    def __init__(self, prior_samples):
        self.prior_samples = prior_samples

    def on_epoch_begin(self, net, **kwargs):
        self._mass = self._squares = None

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if not training:
            return
        log_gate, outputs, log_scale = y_pred[1:4]
        target, weight = batch[1]
        n_members = net.module_.n_members
        with torch.no_grad():
            log_lik = gaussian_expert_log_likelihood(target, outputs, log_scale)
            # responsibilities within each ensemble member (its own mixture)
            joint = (log_gate + log_lik).reshape(len(target), n_members, -1)
            resp = torch.softmax(joint, dim=2).reshape(len(target), -1)
            if weight is not None:
                if weight.dim() == 2:  # one column per member
                    weight = weight.repeat_interleave(net.module_.n_experts, dim=1)
                    resp = resp * weight
                else:
                    resp = resp * weight.unsqueeze(1)
            squares = (target.unsqueeze(1) - outputs).square().mean(dim=2)
            mass, squares = resp.sum(dim=0), (resp * squares).sum(dim=0)
        if self._mass is None:
            self._mass, self._squares = mass, squares
        else:
            self._mass, self._squares = self._mass + mass, self._squares + squares

    def _update(self, net):
        if self._mass is None:
            return
        nu = self.prior_samples
        variance = (self._squares.double() + nu) / (self._mass.double() + nu)
        log_scale = net.module_.expert_log_scale
        with torch.no_grad():
            log_scale.copy_((0.5 * torch.log(variance)).to(log_scale))
        self._mass = self._squares = None

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:  # the first validation batch: the training pass is over
            self._update(net)

    def on_epoch_end(self, net, **kwargs):
        self._update(net)


def _rescale_experts(module, shift, scale, inverse=False):
    """Fold the target standardisation into the experts' output layers.

    The network is trained on ``(y - shift) / scale``. Folding maps each
    expert's last layer ``u = W h + b`` to ``o = shift + scale * u``
    (``W <- scale W``, ``b <- scale b + shift``) and adds ``log scale`` to the
    experts' log-scales, so that the fitted module predicts in the units of
    ``y``; ``inverse=True`` undoes it (before a warm-start fit).
    """
    with torch.no_grad():
        # the last layer of every expert, stacked: (E, hidden, D), (E, 1, D)
        weight, bias = module.experts.weights[-1], module.experts.biases[-1]
        shift = torch.as_tensor(shift).to(bias)
        log_scale = module.expert_log_scale
        if inverse:
            bias.sub_(shift).div_(scale)
            weight.div_(scale)
            log_scale.sub_(math.log(scale))
        else:
            weight.mul_(scale)
            bias.mul_(scale).add_(shift)
            log_scale.add_(math.log(scale))
