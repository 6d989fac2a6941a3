"""Mixture-of-experts estimators."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._base import (
    BaseNeuralEstimator,
    NeuralClassifierBase,
    NeuralRegressorBase,
    _to_numpy,
    fill_doc,
)
from .._layers import ACTIVATIONS, layer_sizes
from .._partial_fit import ClassifierPartialFitMixin, RegressorPartialFitMixin
from ..exceptions import UnusedExpertWarning, _warn
from ._members import _MemberStopping, member_folds, member_weights
from ._modules import MixtureOfExperts, MixtureOfExpertsLoss
from ._scale import _ExpertScaleEM, _rescale_experts, _target_statistics
from ._warm_up import _SharedExpertWarmUp

# an expert whose mean gate weight on the training data is below this
# fraction of the uniform share 1 / n_experts counts as unused
_UNUSED_EXPERT_FRACTION = 0.1

# MixtureOfExpertsRegressor(n_members='auto'): members of the cross-fitted
# ensemble with the dense gate
_AUTO_MEMBERS = 5

# MixtureOfExpertsRegressor(learn_expert_scale=True): the prior on each
# expert's variance is worth this many (weighted) training samples whose
# squared residual is the variance of the standardised target, 1
_SCALE_PRIOR_SAMPLES = 2.0

_MIXTURE_CONSTRAINTS = {
    "n_experts": [Interval(numbers.Integral, 1, None, closed="left")],
    "expert_hidden_layer_sizes": ["array-like"],
    "gate_hidden_layer_sizes": ["array-like"],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "loss": [StrOptions({"mixture", "blend"})],
    "load_balancing": [Interval(numbers.Real, 0, None, closed="left")],
    "top_k": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "warm_up_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
}

_TOP_K_DOC = """\
top_k : int or None, default=None
        None: every expert computes every sample, weighted by the softmax
        gate. An int ``k``: the noisy top-k gate of Shazeer et al. (2017):
        each sample goes to its ``k`` highest-scoring experts only (the other
        gate weights are exactly 0) and only those experts are computed, so
        training and prediction cost grow with ``k`` rather than with
        ``n_experts`` -- many experts for the price of a few. During training
        the gate logits get Gaussian noise of learned scale, which spreads
        the samples while the gate is still undecided; ``load_balancing``
        then weighs Shazeer's importance and load losses,
        ``CV(sum_n g(x_n))^2 + CV(sum_n P(x_n))^2`` (``CV``: coefficient of
        variation over the experts; ``P_i(x)``: the probability under the
        noise that expert ``i`` is in the top ``k``). Must not exceed
        ``n_experts``. See the User Guide for when it pays off.
    warm_up_epochs : int, default=4
        Only used with ``top_k``: the experts are tied for the first
        ``warm_up_epochs`` epochs -- one network, trained on every sample,
        stands for all of them -- and then each expert continues from a copy
        of it (sparse upcycling, Komatsuzaki et al. 2023) while the gate
        learns to route. Without it each expert starts from random weights
        and learns from its ``top_k / n_experts`` share of the data only: on
        20 000 x 64 with 32 experts and ``top_k=2`` the sparse mixture
        trailed the dense one at equal training time (0.881 against 0.890
        test accuracy when the dense fit ended its 10 epochs); with it, it
        was level or ahead at every point (0.901; see the User Guide). 0
        disables the warm-up; a warm start continues without one."""


def _mean_gate(log_gate, weight, chunk=65536):
    """The (weighted) mean over the rows of ``exp(log_gate)``, accumulated in
    float64 chunk by chunk (no float64 copy of a large training set's gate)."""
    total = np.zeros(log_gate.shape[1])
    w = None if weight is None else torch.as_tensor(weight, dtype=torch.float64)
    for start in range(0, log_gate.shape[0], chunk):
        gate = log_gate[start : start + chunk].double().exp()
        if w is not None:
            gate = gate * w[start : start + chunk, None]
        total += gate.sum(dim=0).numpy()
    return total / (log_gate.shape[0] if w is None else float(w.sum()))


class _MixtureMixin:
    """What the two mixture-of-experts estimators share."""

    # a memory map is read a block of rows at a time (see _rows.py)
    _reads_row_sources = True

    def _check_parameters(self):
        layer_sizes(self.expert_hidden_layer_sizes, "expert_hidden_layer_sizes")
        layer_sizes(self.gate_hidden_layer_sizes, "gate_hidden_layer_sizes")
        if self.top_k is not None and self.top_k > self.n_experts:
            raise ValueError(
                f"top_k={self.top_k} exceeds n_experts={self.n_experts}: each "
                "sample can use at most every expert. Lower top_k, or set it to "
                "None for the dense gate."
            )

    def _module_kwargs(self):
        return dict(
            n_experts=self.n_experts,
            expert_hidden_layer_sizes=layer_sizes(
                self.expert_hidden_layer_sizes, "expert_hidden_layer_sizes"
            ),
            gate_hidden_layer_sizes=layer_sizes(
                self.gate_hidden_layer_sizes, "gate_hidden_layer_sizes"
            ),
            activation=self.activation,
            top_k=self.top_k,
        )

    def _callbacks(self, has_validation):
        callbacks = super()._callbacks(has_validation)
        if self.top_k is not None:
            # first: its epoch-end copy of the tied expert precedes any
            # saving of the weights by early stopping
            warm_up = _SharedExpertWarmUp(self.warm_up_epochs)
            callbacks.insert(0, ("warm_up", warm_up))
        return callbacks

    def predict_gate(self, X):
        """Gate weights of each expert for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_experts)
            ``g_i(x)``: each row sums to 1; positive for every expert with
            the dense gate, for exactly ``top_k`` experts (0 elsewhere) with
            ``top_k``. ``argmax`` over a row is the expert responsible for
            the sample.
        """
        check_is_fitted(self)
        return np.exp(_to_numpy(self._forward(X, self.net_.module_.log_gate)))

    def _post_fit(self, X, target, weight, data):
        # mean gate weight of each expert on the training data (the gate
        # alone: a tenth of a forward pass through gate and experts)
        log_gate = self._module_output(X, self.net_.module_.log_gate)
        usage = _mean_gate(log_gate, weight)
        self.expert_usage_ = usage / usage.sum()
        n_total = len(self.expert_usage_)
        unused = np.flatnonzero(self.expert_usage_ < _UNUSED_EXPERT_FRACTION / n_total)
        if len(unused) and self.n_experts > 1:
            shares = ", ".join(f"{u:.3f}" for u in self.expert_usage_)
            _warn(
                f"{type(self).__name__}: expert(s) {unused.tolist()} are (almost) "
                f"unused: the gate's mean weights on the training data are "
                f"[{shares}] (expert_usage_), so the model is in effect a "
                f"mixture of {n_total - len(unused)} expert(s). Raise "
                f"load_balancing (now {self.load_balancing}; e.g. "
                f"{max(0.05, 2 * self.load_balancing):g}) to "
                "spread the samples over the experts, or lower n_experts.",
                UnusedExpertWarning,
            )

    def predict_experts(self, X):
        """Each expert's own prediction for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray
            Classifier: each expert's class probabilities, shape (n_samples,
            n_experts, n_classes), columns ordered as ``classes_``; with
            ``loss='mixture'``, ``predict_proba(X)`` is their average weighted
            by :meth:`predict_gate`. Regressor: each expert's prediction,
            shape (n_samples, n_experts), or (n_samples, n_experts,
            n_outputs) for a 2-D ``y``; ``predict(X)`` is their average
            weighted by :meth:`predict_gate`.
        """
        check_is_fitted(self)
        # every expert, also those a top-k gate does not choose
        experts = self._forward(X, self.net_.module_.experts)
        if hasattr(self, "classes_"):
            return _to_numpy(torch.softmax(experts, dim=2))
        experts = _to_numpy(experts)
        return experts[:, :, 0] if self._y_ndim == 1 else experts


@fill_doc(top_k=_TOP_K_DOC)
class MixtureOfExpertsClassifier(
    ClassifierMixin, ClassifierPartialFitMixin, _MixtureMixin, NeuralClassifierBase
):
    """Mixture-of-experts classifier: a softmax gate over expert MLPs.

    A gating network ``g(x)`` (softmax, so ``g_i > 0`` and ``sum_i g_i = 1``)
    weighs ``n_experts`` expert networks, each of which outputs a class
    distribution ``p_i(y | x)``. Gate and experts are trained end to end.

    Read more in the :ref:`User Guide <mixture_of_experts>`.

    Parameters
    ----------
    n_experts : int, default=2
        Number of experts.
    expert_hidden_layer_sizes : array-like of int, default=(64, 64)
        Hidden layer widths of each expert; ``()`` makes the experts linear.
    gate_hidden_layer_sizes : array-like of int, default=(32, 32)
        Hidden layer widths of the gate; ``()`` makes the gate linear.
    activation : {'relu', 'tanh', 'logistic', 'gelu', 'identity'}, default='relu'
        Hidden-layer activation of experts and gate.
    loss : {'mixture', 'blend'}, default='mixture'
        'mixture' (competitive experts, Jacobs et al. 1991): the mixture
        likelihood ``-log sum_i g_i(x) p_i(y | x)``, computed as
        ``-logsumexp_i(log g_i + log p_i(y))``; ``predict_proba`` is
        ``sum_i g_i p_i``. 'blend' (cooperative experts): the experts' logits
        are blended, ``softmax(sum_i g_i z_i(x))``, and trained with
        cross-entropy. (Cross-entropy of blended *probabilities* would be the
        mixture likelihood again, so 'blend' blends before the softmax.)
    load_balancing : float, default=0.05
        Weight of a penalty ``KL(mean gate usage || uniform)`` that keeps
        every expert in use; 0 disables it. The penalty is on the mean usage
        over a batch, so each sample's gate can still pick one expert. The
        default of 0.05 kept every expert in use at the same or better
        accuracy on breast_cancer, wine and digits (5-fold CV; with 0 the
        gate collapsed onto fewer experts). With ``top_k``, the weight of the
        importance and load losses instead (see ``top_k``).
    {top_k}
    class_weight : dict, 'balanced' or None, default=None
        Weights ``{label: weight}`` multiplied into the per-sample loss;
        'balanced' uses ``n_samples / (n_classes * bincount(y))``.
    {common_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the
        :class:`~sklearn_nn.mixture.MixtureOfExperts` torch module.
        {net_contract}
    n_iter_ : int
        Number of epochs run (summed over warm starts).
    loss_curve_ : list of float
        Training loss at each epoch.
    validation_loss_curve_ : list of float or None
        Validation loss at each epoch (``early_stopping=True`` only).
    validation_scores_ : list of float or None
        Validation accuracy at each epoch (``early_stopping=True`` only).
    best_validation_score_ : float or None
        Best validation accuracy (``early_stopping=True`` only).
    expert_usage_ : ndarray of shape (n_experts,)
        Mean gate weight of each expert on the training data (weighted by
        the sample and class weights); sums to 1. An expert below a tenth of
        the uniform share ``1 / n_experts`` triggers an
        :class:`~sklearn_nn.exceptions.UnusedExpertWarning`.

    See Also
    --------
    MixtureOfExpertsRegressor : The regression counterpart.
    sklearn.neural_network.MLPClassifier : A single feed-forward network.

    References
    ----------
    .. [1] R. A. Jacobs, M. I. Jordan, S. J. Nowlan and G. E. Hinton,
       "Adaptive Mixtures of Local Experts", Neural Computation 3(1), 1991.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_nn import MixtureOfExpertsClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MixtureOfExpertsClassifier(n_experts=3, max_epochs=100, lr=1e-2,
    ...                                  random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.predict_gate(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        **NeuralClassifierBase._parameter_constraints,
        **_MIXTURE_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        n_experts=2,
        expert_hidden_layer_sizes=(64, 64),
        gate_hidden_layer_sizes=(32, 32),
        activation="relu",
        loss="mixture",
        load_balancing=0.05,
        top_k=None,
        warm_up_epochs=4,
        class_weight=None,
        max_epochs=200,
        batch_size="auto",
        lr=1e-3,
        optimizer="adam",
        weight_decay=0.0,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        verbose=0,
        warm_start=False,
        random_state=None,
        device="cpu",
        dtype="float32",
    ):
        super().__init__(
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            random_state=random_state,
            device=device,
            dtype=dtype,
        )
        self.n_experts = n_experts
        self.expert_hidden_layer_sizes = expert_hidden_layer_sizes
        self.gate_hidden_layer_sizes = gate_hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.load_balancing = load_balancing
        self.top_k = top_k
        self.warm_up_epochs = warm_up_epochs
        self.class_weight = class_weight

    def _build_module(self):
        return MixtureOfExperts(
            self.n_features_in_,
            len(self.classes_),
            task="classification",
            combine=self.loss,
            **self._module_kwargs(),
        )

    def _build_criterion(self):
        return MixtureOfExpertsLoss(
            "classification", self.loss, load_balancing=self.load_balancing
        )


@fill_doc(top_k=_TOP_K_DOC)
class MixtureOfExpertsRegressor(
    RegressorMixin, RegressorPartialFitMixin, _MixtureMixin, NeuralRegressorBase
):
    """Mixture-of-experts regressor: a softmax gate over expert MLPs.

    A gating network ``g(x)`` weighs ``n_experts`` expert networks with real
    outputs ``o_i(x)``; the prediction is ``sum_i g_i(x) o_i(x)``. With
    ``loss='mixture'`` the model is a predictive distribution, the mixture
    ``sum_i g_i(x) N(o_i(x), s_i^2)``, whose standard deviation
    ``predict(X, return_std=True)`` returns. Multi-output ``y`` is supported.

    The network is trained on the standardised target ``(y - mean) / scale``
    (the sample-weighted mean of each column and one scale, the root mean of
    the columns' variances), so that the learning rate, ``tol``,
    ``weight_decay`` and the expert scales mean the same whatever the units of
    ``y``. After ``fit`` the standardisation is folded into the experts'
    output layers and scales: ``net_.module_``, :meth:`predict_experts` and
    the spread are in the units of ``y``.

    Read more in the :ref:`User Guide <mixture_of_experts>`.

    Parameters
    ----------
    n_experts : int, default=2
        Number of experts.
    expert_hidden_layer_sizes : array-like of int, default=(64, 64)
        Hidden layer widths of each expert; ``()`` makes the experts linear.
    gate_hidden_layer_sizes : array-like of int, default=(32, 32)
        Hidden layer widths of the gate; ``()`` makes the gate linear.
    activation : {'relu', 'tanh', 'logistic', 'gelu', 'identity'}, default='relu'
        Hidden-layer activation of experts and gate.
    loss : {'mixture', 'blend'}, default='mixture'
        'mixture' (competitive experts): the negative log-likelihood of the
        mixture of Gaussians, Jacobs et al.'s objective
        ``-log sum_i g_i exp(-0.5 ||y - o_i||^2 / s_i^2) / s_i^D`` on the
        standardised target, computed as
        ``-logsumexp_i(log g_i - 0.5 ||y - o_i||^2 / s_i^2 - D log s_i)`` so
        that it stays finite for any residual. 'blend' (cooperative experts):
        mean squared error of the blended prediction ``sum_i g_i o_i``.
    learn_expert_scale : bool, default=True
        With ``loss='mixture'``, learn each expert's standard deviation
        ``s_i`` (one per expert, shared by its outputs). After every training
        epoch it is set to its EM update, the responsibility-weighted mean
        squared residual of the expert over that epoch's batches, with a
        prior worth 2 samples at the variance of the standardised target:
        ``s_i^2 = (sum_n r_ni ||y_n - o_i(x_n)||^2 / D + 2) / (sum_n r_ni +
        2)``, ``r_ni`` the posterior probability that expert ``i`` generated
        sample ``n`` (times its sample weight). The closed form follows the
        fit of the means at once, where a gradient step moves a scale by
        about ``lr``: with ``lr=1e-3`` and 200 epochs of small data the scales
        lagged far behind and the spread was too wide (10-fold CV negative
        log-likelihood on Old Faithful 0.73 against 0.43, see the User
        Guide); the prior keeps an expert that holds few samples from a
        too-small scale. When False every expert has unit variance on the
        standardised target (standard deviation ``std(y)``). No effect with
        ``loss='blend'``.
    load_balancing : float, default=0.05
        Weight of a penalty ``KL(mean gate usage || uniform)`` that keeps
        every expert in use; 0 disables it. The penalty is on the mean usage
        over a batch, so each sample's gate can still pick one expert. With
        ``top_k``, the weight of the importance and load losses instead (see
        ``top_k``).
    {top_k}
    n_members : int or 'auto', default='auto'
        Number of independently initialised mixtures (members) fitted
        together, a cross-fitted deep ensemble (Lakshminarayanan et al.
        2017). The training rows are dealt to ``n_members`` folds (by a
        seeded hash of each row of ``X``: a repeated row stays with its
        copies); member ``m`` trains on every fold but fold ``m``, on its own
        mixture likelihood, and keeps the weights of the epoch with its
        lowest loss on fold ``m``. Training stops when no member has improved
        by ``tol`` for ``n_iter_no_change`` epochs. The prediction is the
        members' uniform mixture, so ``predict(X, return_std=True)`` adds
        their disagreement to the experts' scales, and every training row
        has been held out by one member. 'auto': 5 with the dense gate, 1
        with ``top_k``. 1: one mixture trained on all rows for ``max_epochs``
        (or until the monitored loss stalls, see ``early_stopping``). With
        ``early_stopping=True`` the members train on every row and the
        validation set stops them together. :meth:`predict_gate`,
        :meth:`predict_experts` and ``expert_usage_`` list the
        ``n_members * n_experts`` experts member by member, each gate weight
        divided by ``n_members``. See the User Guide for the measurements
        behind the default.
    {common_parameters}

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_outputs_ : int
        Number of regression targets.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the
        :class:`~sklearn_nn.mixture.MixtureOfExperts` torch module.
        {net_contract}
    n_iter_ : int
        Number of epochs run (summed over warm starts).
    loss_curve_ : list of float
        Training loss at each epoch, on the standardised target.
    validation_loss_curve_ : list of float or None
        Validation loss at each epoch, on the standardised target
        (``early_stopping=True`` only).
    validation_scores_ : list of float or None
        Validation R^2 at each epoch (``early_stopping=True`` only).
    best_validation_score_ : float or None
        Best validation R^2 (``early_stopping=True`` only).
    expert_usage_ : ndarray of shape (n_experts,)
        Mean gate weight of each expert on the training data (weighted by
        the sample weights); sums to 1. An expert below a tenth of the
        uniform share ``1 / n_experts`` triggers an
        :class:`~sklearn_nn.exceptions.UnusedExpertWarning`.

    See Also
    --------
    MixtureOfExpertsClassifier : The classification counterpart.
    sklearn.neural_network.MLPRegressor : A single feed-forward network.
    sklearn.gaussian_process.GaussianProcessRegressor : Also returns a
        predictive standard deviation.

    Notes
    -----
    The defaults ``learn_expert_scale=True``, ``weight_decay=3e-3`` (the
    other sklearn_nn estimators default to 0) and ``n_members='auto'`` were
    chosen for the predictive spread. The scales are estimated from the
    training residuals, so a single network that fits the noise also claims
    too small a spread (on data with several features and few samples, 95 %
    intervals covered 72-86 % of held-out targets). The default therefore
    fits five members, each stopped on the rows it holds out, and predicts
    their mixture. In repeated 5-fold cross-validation on 19 small real data
    sets (10 development sets, 9 reporting sets that tuned nothing) it is
    compared with ``GaussianProcessRegressor`` (ARD RBF + white noise),
    NGBoost and Ridge; see ``benchmarks/bench_moe_defaults.py`` and the User
    Guide for the table. A fit costs about 2-5 times that of
    ``n_members=1``.

    References
    ----------
    .. [1] R. A. Jacobs, M. I. Jordan, S. J. Nowlan and G. E. Hinton,
       "Adaptive Mixtures of Local Experts", Neural Computation 3(1), 1991.
    .. [2] M. I. Jordan and R. A. Jacobs, "Hierarchical Mixtures of Experts
       and the EM Algorithm", Neural Computation 6(2), 1994.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn import MixtureOfExpertsRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(400, 1))
    >>> y = np.where(X[:, 0] < 0, X[:, 0], -2 * X[:, 0] + 3)
    >>> reg = MixtureOfExpertsRegressor(
    ...     expert_hidden_layer_sizes=(), gate_hidden_layer_sizes=(16,),
    ...     lr=0.02, max_epochs=150, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
    >>> gate = reg.predict_gate([[-2.0], [2.0]])
    >>> int(gate[0].argmax()) != int(gate[1].argmax())  # one expert per regime
    True
    """

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints,
        **_MIXTURE_CONSTRAINTS,
        "learn_expert_scale": ["boolean"],
        "n_members": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
    }

    def __init__(
        self,
        *,
        n_experts=2,
        expert_hidden_layer_sizes=(64, 64),
        gate_hidden_layer_sizes=(32, 32),
        activation="relu",
        loss="mixture",
        learn_expert_scale=True,
        load_balancing=0.05,
        top_k=None,
        warm_up_epochs=4,
        n_members="auto",
        max_epochs=200,
        batch_size="auto",
        lr=1e-3,
        optimizer="adam",
        weight_decay=3e-3,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        verbose=0,
        warm_start=False,
        random_state=None,
        device="cpu",
        dtype="float32",
    ):
        super().__init__(
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            random_state=random_state,
            device=device,
            dtype=dtype,
        )
        self.n_experts = n_experts
        self.expert_hidden_layer_sizes = expert_hidden_layer_sizes
        self.gate_hidden_layer_sizes = gate_hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.learn_expert_scale = learn_expert_scale
        self.load_balancing = load_balancing
        self.top_k = top_k
        self.warm_up_epochs = warm_up_epochs
        self.n_members = n_members

    @property
    def _members(self):
        # 'auto': the cross-fitted ensemble for the dense gate; one mixture
        # with top_k (the sparse gate is for many experts on large data)
        if self.n_members == "auto":
            return 1 if self.top_k is not None else _AUTO_MEMBERS
        return self.n_members

    def _check_parameters(self):
        super()._check_parameters()
        if self.top_k is not None and self._members > 1:
            raise ValueError(
                f"top_k={self.top_k} needs n_members=1 (got {self.n_members}): "
                "the sparse gate is for many experts in one mixture, the members "
                "for a few small ones. Set n_members=1 or top_k=None."
            )

    def _build_module(self):
        # the scales are a buffer: with learn_expert_scale=True they are set
        # by _ExpertScaleEM after every epoch, not by the optimizer
        return MixtureOfExperts(
            self.n_features_in_,
            self.n_outputs_,
            task="regression",
            learn_expert_scale=False,
            n_members=self._members,
            **self._module_kwargs(),
        )

    def _build_criterion(self):
        return MixtureOfExpertsLoss(
            "regression",
            self.loss,
            load_balancing=self.load_balancing,
            n_members=self._members,
        )

    def _holds_out(self):
        # the members stop on held-out rows of their own, unless a validation
        # set (early_stopping=True) decides for the whole ensemble
        return self._members > 1 and not self.early_stopping

    def _callbacks(self, has_validation):
        callbacks = super()._callbacks(has_validation)
        if self._holds_out():
            # each member stops on its held-out rows (in place of the
            # training loss's patience) and gets its best epoch back
            stopping = _MemberStopping(
                self.n_iter_no_change, self.tol, self._inference_batch_size
            )
            callbacks = [
                ("members", stopping) if name == "early_stopping" else (name, cb)
                for name, cb in callbacks
            ]
        if self.loss == "mixture" and self.learn_expert_scale:
            # first, so that its epoch-end update precedes early stopping's;
            # the prior in the units of the training tensors' weights
            prior = _SCALE_PRIOR_SAMPLES / self._tensor_weight_unit
            callbacks.insert(0, ("expert_scale", _ExpertScaleEM(prior)))
        return callbacks

    def _training_data(self, X, y, target, weight, rng):
        if self._fit_call.warm:
            # continue in the standardised units of the first fit (or of
            # partial_fit's first chunk)
            _rescale_experts(
                self.net_.module_,
                self._target_shift,
                self._target_scale,
                inverse=True,
            )
        else:
            self._target_shift, self._target_scale = _target_statistics(target, weight)
        standardised = (
            np.asarray(target, dtype=np.float64) - self._target_shift
        ) / self._target_scale
        data = super()._training_data(
            X, y, standardised.astype(self._numpy_dtype), weight, rng
        )
        if self._holds_out():
            seed = int(rng.randint(2**31))
            if self._fit_call.partial:
                # partial_fit: the first chunk's hash seed for every chunk, so
                # that a row coming back in its chunk keeps its member
                if self._fit_call.warm:
                    seed = getattr(self, "_partial_fold_seed", seed)
                self._partial_fold_seed = seed
            folds = member_folds(X, weight, self._members, seed)
            base = data.weight
            if base is None:
                base = torch.ones(len(folds), dtype=self._torch_dtype)
            data.weight = member_weights(base, folds, self._members)
        # one training tensor weight is worth this many samples: the base may
        # rescale the weights by a common factor (the losses are weighted
        # means), the prior on the scales is a number of samples (so that an
        # integer weight stays equivalent to repeating the sample)
        self._tensor_weight_unit = (
            1.0
            if weight is None or data.weight is None
            else float(np.max(weight) / data.weight.double().max())
        )
        return data

    def _validation_data(self, X_val, target, weight):
        # y_val: in the standardised units of the training target
        data = super()._validation_data(X_val, target, weight)
        standardised = (data.target.double() - self._target_shift) / self._target_scale
        data.target = standardised.to(self._torch_dtype)
        return data

    def _post_fit(self, X, target, weight, data):
        # from here on the module predicts in the units of y
        _rescale_experts(self.net_.module_, self._target_shift, self._target_scale)
        super()._post_fit(X, target, weight, data)

    def predict(self, X, return_std=False):
        """Predicted target values, and optionally the predictive spread.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        return_std : bool, default=False
            Also return the standard deviation of the predictive mixture
            ``sum_i g_i(x) N(o_i(x), s_i^2)``: ``sqrt(sum_i g_i (s_i^2 +
            o_i^2) - mean^2)`` per output, in the units of ``y``. It
            combines the experts' disagreement with their own scales ``s_i``
            (learned with ``learn_expert_scale=True``, the default;
            otherwise ``std(y)``). Needs ``loss='mixture'``, for which the
            model is that distribution.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The mixture's mean ``sum_i g_i(x) o_i(x)``, with the number of
            dimensions of the ``y`` seen in ``fit``.
        y_std : ndarray, same shape as ``y_mean``
            Only with ``return_std=True``.
        """
        if not return_std:
            return super().predict(X)
        if self.loss != "mixture":
            raise ValueError(
                "return_std=True needs loss='mixture' (the mixture of Gaussians "
                f"is the predictive distribution); this model has loss={self.loss!r}."
            )
        out = self._forward(X)
        gate = np.exp(_to_numpy(out[1]))[:, :, None]
        experts = _to_numpy(out[2])
        variance = np.exp(2 * _to_numpy(out[3]))[:, :, None]
        mean = (gate * experts).sum(axis=1)
        second = (gate * (variance + experts**2)).sum(axis=1)
        std = np.sqrt(np.maximum(second - mean**2, 0.0))
        if self._y_ndim == 1:
            return mean.ravel(), std.ravel()
        return mean, std
