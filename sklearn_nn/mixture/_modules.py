"""Mixture-of-experts torch modules and losses (pure torch, no scikit-learn).

A mixture of experts (Jacobs, Jordan, Nowlan and Hinton, 1991) has a gating
network ``g(x)`` with one output per expert and ``E`` expert networks
``o_i(x)``. The gate is a softmax, so ``g_i(x) > 0`` and ``sum_i g_i(x) = 1``
hold by construction, whatever the weights.

The experts are evaluated together (:class:`ExpertMLPs`: stacked weights,
one batched matrix product per layer instead of one small product per expert
and layer). With ``top_k`` the gate is the noisy top-k gate of Shazeer et
al. (2017): each sample goes to its ``k`` best experts only, and only those
are computed, so the cost grows with ``k``, not with the number of experts.

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

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._layers import ACTIVATIONS, make_mlp, weighted_mean

__all__ = [
    "ExpertMLPs",
    "MixtureOfExperts",
    "MixtureOfExpertsLoss",
    "gaussian_expert_log_likelihood",
    "load_balancing_penalty",
    "mixture_nll",
    "top_k_balance_loss",
]


# the noise scale softplus(x W_noise + b) of the top-k gate at initialisation
# (with W_noise = 0); Shazeer et al.'s all-zero start gives softplus(0) = 0.69
_NOISE_STD_INIT = 0.1


class ExpertMLPs(nn.Module):
    """``n_experts`` MLPs of the same shape, evaluated as one batched network.

    Layer ``l`` of all experts is stored stacked: ``weights[l]`` of shape
    ``(n_experts, n_in, n_out)`` (expert ``i``'s ``nn.Linear`` weight is
    ``weights[l][i].T``) and ``biases[l]`` of shape ``(n_experts, 1, n_out)``.
    Each layer of all experts is one batched matrix product
    (``torch.baddbmm``; the shared input is a stride-0 batch, not a copy). A
    Python loop over an ``nn.ModuleList`` makes one small product per expert
    and layer instead, and pays the call overhead ``n_experts`` times.

    The per-expert structure stays visible: ``experts[i]`` (and iterating)
    gives expert ``i`` as an ``nn.Sequential`` holding a copy of its current
    weights; :meth:`from_mlps` stacks existing ``nn.Sequential`` MLPs.

    Parameters
    ----------
    n_inputs : int
        Input width.
    hidden_layer_sizes : sequence of int
        Hidden layers of each expert; ``()`` gives linear experts.
    n_outputs : int
        Output width of each expert.
    n_experts : int
        Number of experts.
    activation : str, default='relu'
        Hidden activation.

    Examples
    --------
    >>> import torch
    >>> experts = ExpertMLPs(4, (8,), 3, n_experts=5)
    >>> experts(torch.randn(10, 4)).shape  # (n, n_experts, n_outputs)
    torch.Size([10, 5, 3])
    >>> experts[2]
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int,
        n_experts: int,
        activation: str = "relu",
    ):
        super().__init__()
        # built as nn.Linear layers first: the same initial weights (and
        # random draws) as a ModuleList of make_mlp experts
        mlps = [
            make_mlp(n_inputs, hidden_layer_sizes, n_outputs, activation)
            for _ in range(n_experts)
        ]
        self._stack(mlps, activation)

    def _stack(self, mlps, activation):
        self.activation_name = activation
        self.activation = ACTIVATIONS[activation]()
        linears = [[m for m in mlp if isinstance(m, nn.Linear)] for mlp in mlps]
        self.n_experts = len(mlps)
        self.weights = nn.ParameterList(
            nn.Parameter(
                torch.stack([layers[j].weight.detach().T for layers in linears])
            )
            for j in range(len(linears[0]))
        )
        self.biases = nn.ParameterList(
            nn.Parameter(
                torch.stack([layers[j].bias.detach()[None, :] for layers in linears])
            )
            for j in range(len(linears[0]))
        )

    @classmethod
    def from_mlps(cls, mlps):
        """Stack ``nn.Sequential`` MLPs of the same shape (``Linear`` layers
        with one activation between them, as :func:`make_mlp` builds)."""
        mlps = list(mlps)
        activation = "identity"
        for module in mlps[0]:
            for name, kind in ACTIVATIONS.items():
                if type(module) is kind and name != "identity":
                    activation = name
        experts = cls.__new__(cls)
        nn.Module.__init__(experts)
        experts._stack(mlps, activation)
        return experts

    def __len__(self):
        return self.n_experts

    def __getitem__(self, index):
        if not -self.n_experts <= index < self.n_experts:
            raise IndexError(f"expert index {index} out of range")
        layers: list[nn.Module] = []
        for j, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            n_in, n_out = weight.shape[1:]
            linear = nn.Linear(n_in, n_out).to(weight)
            with torch.no_grad():
                linear.weight.copy_(weight[index].T)
                linear.bias.copy_(bias[index, 0])
            layers.append(linear)
            if j < len(self.weights) - 1:
                layers.append(ACTIVATIONS[self.activation_name]())
        return nn.Sequential(*layers)

    def __iter__(self):
        return (self[i] for i in range(self.n_experts))

    def forward(self, x):
        """All experts on ``x`` of shape (n, n_inputs): (n, n_experts, n_outputs)."""
        # the shared input as a stride-0 batch: every layer one batched product
        shared = x.expand(self.n_experts, *x.shape)
        # contiguous: the softmax over the last (class) dimension of a
        # transposed view takes a slow strided path
        return self.forward_grouped(shared).transpose(0, 1).contiguous()

    def forward_one(self, x, index=0):
        """Expert ``index`` alone on ``x`` of shape (n, n_inputs): (n, n_outputs)."""
        layers = zip(self.weights, self.biases)
        weight, bias = next(layers)
        h = torch.addmm(bias[index], x, weight[index])
        for weight, bias in layers:
            h = torch.addmm(bias[index], self.activation(h), weight[index])
        return h

    def copy_expert(self, index=0):
        """Make every expert a copy of expert ``index`` (in place)."""
        with torch.no_grad():
            for stacked in (*self.weights, *self.biases):
                stacked.copy_(stacked[index : index + 1].expand_as(stacked))

    def forward_grouped(self, x):
        """Expert ``i`` on the rows ``x[i]``: (n_experts, m, n_inputs) ->
        (n_experts, m, n_outputs), every layer one batched product."""
        layers = zip(self.weights, self.biases)  # (no ParameterList slicing)
        weight, bias = next(layers)
        h = torch.baddbmm(bias, x, weight)
        for weight, bias in layers:
            h = torch.baddbmm(bias, self.activation(h), weight)
        return h


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
    top_k : int or None, default=None
        None: the dense softmax gate, every expert on every sample. An int
        ``k``: the noisy top-k gate of Shazeer et al. (2017). The gate's
        logits ``h(x)`` get, in training mode only, Gaussian noise of
        standard deviation ``softplus(x W_noise)`` (``noise``, a linear layer
        starting at zero); the ``k`` largest noisy logits are kept and
        ``g(x) = softmax`` over them, every other expert's weight is exactly
        0. Only the chosen experts are computed (the samples are grouped by
        expert, one batched product per layer), so the cost grows with
        ``k``, not with ``n_experts``. The output then ends with the load
        estimate that :func:`top_k_balance_loss` reads. The noise scale
        starts at 0.1 (``W_noise = 0``, bias ``softplus^-1(0.1)``): enough
        to break ties between equal logits, small enough that samples with
        similar inputs go to the same experts from the first batch.
    n_members : int, default=1
        Number of independent mixtures (ensemble members, each with its own
        gate and ``n_experts`` experts) held in one module and evaluated
        together. The module predicts their uniform average, itself a
        mixture of ``n_members * n_experts`` experts with gate weights
        ``g_mi(x) / n_members``; ``log_gate`` and the expert outputs list the
        experts member by member. :class:`MixtureOfExpertsLoss` with the same
        ``n_members`` trains each member on its own likelihood (a deep
        ensemble, Lakshminarayanan et al. 2017), not the ensemble's. Not
        with ``top_k``.

    Attributes
    ----------
    experts : ExpertMLPs
        The experts; ``experts[i]`` is expert ``i`` as an ``nn.Sequential``
        (expert ``i`` of member ``m`` is ``experts[m * n_experts + i]``).
    gate : nn.Sequential or ExpertMLPs
        The gate MLP (its output: one logit per expert); with several members
        their gates, stacked as an :class:`ExpertMLPs` with one "expert" per
        member.
    noise : nn.Linear or None
        The noise-scale layer of the top-k gate.
    tied_experts : bool
        False after construction. While True (one member only), the experts
        are tied: :meth:`forward` computes expert 0 alone and returns it as
        every expert's output, with the uniform gate ``1 / n_experts``, so
        the mixture is that one network, trained on every sample. A warm-up
        for a sparse gate (sparse upcycling, Komatsuzaki et al. 2023): set it,
        train, call ``experts.copy_expert(0)`` and set it back to False, and
        every expert starts from the network trained on all the data instead
        of from a random one trained on its ``top_k / n_experts`` share.
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
        top_k: int | None = None,
        n_members: int = 1,
    ):
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(
                f"task must be 'classification' or 'regression', got {task!r}"
            )
        if combine not in ("mixture", "blend"):
            raise ValueError(f"combine must be 'mixture' or 'blend', got {combine!r}")
        if top_k is not None and not 1 <= top_k <= n_experts:
            raise ValueError(
                f"top_k must be None or in [1, n_experts={n_experts}], got {top_k!r}"
            )
        if n_members < 1 or (
            n_members > 1
            and (top_k is not None or (task == "classification" and combine == "blend"))
        ):
            raise ValueError(
                "n_members must be >= 1, and 1 with top_k or a blended "
                f"classifier; got {n_members!r}"
            )
        self.task = task
        self.combine = combine
        self.n_experts = n_experts
        self.n_members = n_members
        self.top_k = top_k
        total = n_members * n_experts
        self.experts = ExpertMLPs(
            n_features, expert_hidden_layer_sizes, n_outputs, total, activation
        )
        if n_members == 1:
            self.gate = make_mlp(
                n_features, gate_hidden_layer_sizes, n_experts, activation
            )
        else:
            self.gate = ExpertMLPs(
                n_features, gate_hidden_layer_sizes, n_experts, n_members, activation
            )
        if learn_expert_scale:
            self.expert_log_scale = nn.Parameter(torch.zeros(total))
        else:
            self.register_buffer("expert_log_scale", torch.zeros(total))
        self.noise = None
        if top_k is not None:
            self.noise = nn.Linear(n_features, n_experts)
            nn.init.zeros_(self.noise.weight)
            nn.init.constant_(self.noise.bias, math.log(math.expm1(_NOISE_STD_INIT)))
        self.tied_experts = False

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
            (n, E), (n, E, D), (n, E). With ``top_k``: ``log_gate`` is
            ``-inf`` for the experts a sample does not use, their outputs are
            0 (not computed), and a last element ``load`` of shape (n, E) is
            added: the probability that each expert is among a sample's
            top ``k`` under the gate's noise (training mode), or 1 for the
            chosen ones (eval mode).
        """
        if self.tied_experts:
            return self._tied_forward(x)
        if self.top_k is not None and not torch.onnx.is_in_onnx_export():
            return self._sparse_forward(x)
        # (an exported graph runs every expert: the grouping by expert has
        # data-dependent shapes; the -inf gate weights give the same output)
        log_gate = self.log_gate(x)
        outputs = self.experts(x)
        if self.task == "regression":
            prediction = torch.einsum("ne,ned->nd", log_gate.exp(), outputs)
            log_scale = self.expert_log_scale.expand(x.shape[0], len(self.experts))
            return prediction, log_gate, outputs, log_scale
        if self.combine == "blend":
            logits = torch.einsum("ne,nec->nc", log_gate.exp(), outputs)
            return F.log_softmax(logits, dim=1), log_gate, F.log_softmax(outputs, dim=2)
        expert_log_proba = F.log_softmax(outputs, dim=2)
        log_proba = torch.logsumexp(log_gate.unsqueeze(2) + expert_log_proba, dim=1)
        return log_proba, log_gate, expert_log_proba

    def _tied_forward(self, x):
        """:meth:`forward` with tied experts: expert 0 stands for all of
        them (the outputs are a stride-0 view), under the uniform gate; a
        top-k gate's load is uniform too, so its balancing loss is 0."""
        if self.n_members > 1:
            raise ValueError("tied_experts needs n_members=1")
        n, E = x.shape[0], self.n_experts
        out = self.experts.forward_one(x, 0)
        log_gate = x.new_full((n, E), -math.log(E))
        if self.task == "regression":
            outputs = out.unsqueeze(1).expand(n, E, out.shape[1])
            result = (out, log_gate, outputs, self.expert_log_scale.expand(n, E))
        else:
            log_proba = F.log_softmax(out, dim=1)
            expert_log_proba = log_proba.unsqueeze(1).expand(n, E, out.shape[1])
            result = (log_proba, log_gate, expert_log_proba)
        if self.top_k is not None:
            result += (x.new_full((n, E), self.top_k / E),)
        return result

    def _sparse_forward(self, x):
        """:meth:`forward` with the top-k gate: the prediction is computed
        from each sample's ``k`` chosen experts only; the per-expert outputs
        are returned in the dense layout (unchosen: 0 outputs)."""
        log_gate, chosen, log_gate_k, load = self._top_k_gate(x)
        out_k = self._chosen_experts(x, chosen)  # (n, k, D)
        index = chosen.unsqueeze(2).expand(-1, -1, out_k.shape[2])

        def dense(values, fill):
            full = values.new_full((x.shape[0], self.n_experts, values.shape[2]), fill)
            return full.scatter(1, index, values)

        if self.task == "regression":
            prediction = torch.einsum("nk,nkd->nd", log_gate_k.exp(), out_k)
            log_scale = self.expert_log_scale.expand(x.shape[0], self.n_experts)
            return prediction, log_gate, dense(out_k, 0.0), log_scale, load
        uniform = -math.log(out_k.shape[2])  # log_softmax of an all-0 output
        if self.combine == "blend":
            logits = torch.einsum("nk,nkc->nc", log_gate_k.exp(), out_k)
            log_proba = F.log_softmax(logits, dim=1)
            return log_proba, log_gate, dense(F.log_softmax(out_k, 2), uniform), load
        expert_log_proba = F.log_softmax(out_k, dim=2)
        log_proba = torch.logsumexp(log_gate_k.unsqueeze(2) + expert_log_proba, dim=1)
        return log_proba, log_gate, dense(expert_log_proba, uniform), load

    def log_gate(self, x):
        """The log gate weights alone (n, E), without running the experts
        (``-inf`` outside each sample's top ``k`` with ``top_k``)."""
        if self.top_k is not None:
            return self._top_k_gate(x)[0]
        if self.n_members == 1:
            return F.log_softmax(self.gate(x), dim=1)
        # each member's softmax gate, weighted 1 / n_members: (n, M * E)
        log_gate = F.log_softmax(self.gate(x), dim=2) - math.log(self.n_members)
        return log_gate.reshape(x.shape[0], -1)

    def member_tensors(self, member):
        """Views of every weight of ensemble member ``member`` (its experts,
        its gate and its experts' scales), to save or restore one member."""
        E = self.n_experts
        rows = slice(member * E, (member + 1) * E)
        views = [w[rows] for w in (*self.experts.weights, *self.experts.biases)]
        views.append(self.expert_log_scale[rows])
        if self.n_members == 1:
            return views + list(self.gate.parameters())
        one = slice(member, member + 1)
        return views + [w[one] for w in (*self.gate.weights, *self.gate.biases)]

    def _top_k_gate(self, x):
        """Noisy top-k gating (Shazeer et al. 2017, eqs. 3-5 and 8-10).

        Returns the log gate (n, E) (``-inf`` outside the top k), the chosen
        experts (n, k), their log gate weights (n, k) and the load estimate
        (n, E).
        """
        k = self.top_k
        clean = self.gate(x)
        if self.training:
            noise_std = F.softplus(self.noise(x))
            noisy = clean + torch.randn_like(clean) * noise_std
        else:
            noisy = clean
        values, indices = noisy.topk(min(k + 1, self.n_experts), dim=1)
        chosen = indices[:, :k]
        log_gate_k = F.log_softmax(values[:, :k], dim=1)
        log_gate = torch.full_like(clean, float("-inf")).scatter(1, chosen, log_gate_k)
        chosen_mask = torch.zeros_like(clean).scatter(
            1, chosen, torch.ones_like(log_gate_k)
        )
        if self.training and k < self.n_experts:
            # P(h_i + noise beats the k-th largest of the others' noisy logits)
            threshold = torch.where(
                chosen_mask > 0, values[:, k : k + 1], values[:, k - 1 : k]
            )
            load = 0.5 * (
                1 + torch.erf((clean - threshold) / (noise_std * math.sqrt(2.0)))
            )
        else:
            load = chosen_mask
        return log_gate, chosen, log_gate_k, load

    def _chosen_experts(self, x, chosen):
        """The outputs (n, k, D) of the experts each sample chose: the
        samples are grouped by expert, each group padded to the largest one,
        and every layer runs as one batched product."""
        n, k = chosen.shape
        flat = chosen.reshape(-1)
        counts = torch.bincount(flat, minlength=self.n_experts)
        order = torch.argsort(flat, stable=True)
        expert = flat[order]
        slot = (
            torch.arange(n * k, device=x.device) - (counts.cumsum(0) - counts)[expert]
        )
        grouped = x.new_zeros((self.n_experts, int(counts.max()), x.shape[1]))
        grouped = grouped.index_put((expert, slot), x[order // k])
        out = self.experts.forward_grouped(grouped)[expert, slot]
        # back to (sample, choice) order
        return out.new_empty(out.shape).index_copy(0, order, out).view(n, k, -1)


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
        # a batch of zero weights (rows its member holds out) has no usage
        # and no gradient: a denominator of 1, not ``tiny`` (whose inverse
        # times the log of a clamped 0 overflows to -inf, and 0 * inf is NaN)
        total = weight.sum()
        usage = (gate * weight.unsqueeze(1)).sum(dim=0) / torch.where(
            total > 0, total, torch.ones_like(total)
        )
    n_experts = gate.shape[1]
    return torch.sum(
        usage * torch.log(usage.clamp_min(torch.finfo(gate.dtype).tiny) * n_experts)
    )


def _squared_cv(values):
    """Squared coefficient of variation ``var(v) / mean(v)^2`` (0 for one value)."""
    mean = values.mean()
    if values.numel() < 2:
        return values.new_zeros(())
    return values.var(unbiased=False) / mean.square().clamp_min(
        torch.finfo(values.dtype).tiny
    )


def top_k_balance_loss(
    log_gate: torch.Tensor, load: torch.Tensor, weight: torch.Tensor | None = None
):
    """Importance and load losses of a noisy top-k gate (Shazeer et al. 2017).

    ``CV(importance)^2 + CV(load)^2`` over the experts, with
    ``importance_i = sum_n w_n g_i(x_n)`` (the gate weight each expert gets)
    and ``load_i = sum_n w_n P_i(x_n)``, where ``P_i(x)`` is the probability,
    under the gate's noise, that expert ``i`` is among the sample's top ``k``
    (``Phi((h_i(x) - t_i(x)) / s_i(x))``: ``t_i`` is the k-th largest noisy
    logit of the other experts, ``s_i`` the noise scale). The load term is
    smooth where the count of samples per expert is not, so it can balance
    the number of samples each expert receives, not only their gate weights.
    Both are 0 when every expert gets the same share.

    Parameters
    ----------
    log_gate : Tensor of shape (n, E)
        Log gate weights (``-inf`` outside each sample's top k).
    load : Tensor of shape (n, E)
        ``P_i(x_n)``, the last element of a top-k :class:`MixtureOfExperts`
        output.
    weight : Tensor of shape (n,), optional
        Sample weights.
    """
    gate = log_gate.exp()
    if weight is not None:
        gate = gate * weight.unsqueeze(1)
        load = load * weight.unsqueeze(1)
    return _squared_cv(gate.sum(dim=0)) + _squared_cv(load.sum(dim=0))


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
        Weight of the balancing term added to the loss:
        :func:`load_balancing_penalty` for a dense gate,
        :func:`top_k_balance_loss` for a top-k gate (recognised by the load
        estimate that ends its output).
    """

    def __init__(
        self,
        task: str,
        loss: str = "mixture",
        load_balancing: float = 0.0,
        n_members: int = 1,
    ):
        super().__init__()
        self.task = task
        self.loss = loss
        self.load_balancing = load_balancing
        self.n_members = n_members

    def per_sample(self, y_pred, target):
        """Loss of each sample, shape (n,); with several members, each
        member's loss of each sample, shape (n, n_members)."""
        if self.n_members > 1:
            return self._per_member(y_pred, target)
        if self.task == "classification":
            return F.nll_loss(y_pred[0], target, reduction="none")
        prediction, log_gate, outputs, log_scale = y_pred[:4]
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
        weight : Tensor of shape (n,) or (n, n_members), optional
            Sample weights: the loss is ``sum(w * l) / sum(w)``. With several
            members, each member's loss is weighted by its own column (a
            sample of weight 0 for a member is one it does not train on) and
            the loss is the mean of the members' losses.

        Returns
        -------
        Tensor
            The scalar loss, plus ``load_balancing`` times the penalty.
        """
        if self.n_members > 1:
            return self._members_forward(y_pred, target, weight)
        loss = weighted_mean(self.per_sample(y_pred, target), weight)
        if not self.load_balancing:
            return loss
        if len(y_pred) > (3 if self.task == "classification" else 4):
            # a top-k gate's output ends with its load estimate
            balance = top_k_balance_loss(y_pred[1], y_pred[-1], weight)
        else:
            balance = load_balancing_penalty(y_pred[1], weight)
        return loss + self.load_balancing * balance

    def _member_split(self, log_gate):
        """The members' own log gates, (n, n_members, n_experts): the
        module's ``log_gate`` lists them member by member, each times
        ``1 / n_members``."""
        n = log_gate.shape[0]
        return log_gate.reshape(n, self.n_members, -1) + math.log(self.n_members)

    def _per_member(self, y_pred, target):
        log_gate = self._member_split(y_pred[1])
        n, M, E = log_gate.shape
        if self.task == "classification":
            expert_log_proba = y_pred[2]
            index = target.view(n, 1, 1).expand(-1, M * E, 1)
            log_lik = expert_log_proba.gather(2, index)[:, :, 0]
        else:
            _, _, outputs, log_scale = y_pred[:4]
            if self.loss == "blend":
                per_member = outputs.reshape(n, M, E, -1)
                blended = (log_gate.exp().unsqueeze(3) * per_member).sum(dim=2)
                return (blended - target.unsqueeze(1)).square().mean(dim=2)
            log_lik = gaussian_expert_log_likelihood(target, outputs, log_scale)
        return -torch.logsumexp(log_gate + log_lik.reshape(n, M, E), dim=2)

    def _members_forward(self, y_pred, target, weight):
        losses = self.per_sample(y_pred, target)  # (n, M)
        if weight is not None and weight.dim() == 1:
            weight = weight.unsqueeze(1).expand_as(losses)
        columns = range(self.n_members)
        loss = torch.stack(
            [
                weighted_mean(losses[:, m], None if weight is None else weight[:, m])
                for m in columns
            ]
        ).mean()
        if not self.load_balancing:
            return loss
        log_gate = self._member_split(y_pred[1])
        penalty = torch.stack(
            [
                load_balancing_penalty(
                    log_gate[:, m], None if weight is None else weight[:, m]
                )
                for m in columns
            ]
        ).mean()
        return loss + self.load_balancing * penalty
