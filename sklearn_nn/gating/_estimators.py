"""Hard-gate estimators: a trained gate picks one candidate per sample.

One mechanism. The base models' out-of-fold outputs (``cv``) give, for every
training sample, what each *candidate* would have predicted for it: each base
model, the **prior** (class frequencies / mean target, as scikit-learn's
dummy estimators) and the **vote** (the pool's outputs averaged with convex
weights fitted to those outputs), and so each candidate's ``selection_loss``
there. A gating MLP on the sample's features is trained to predict each
candidate's advantage in that loss over the candidate best on average, and
picks the largest, keeping the best one unless another is predicted better
by more than ``shrinkage``. The statistics are pure functions in
:mod:`._selection`; nothing is refitted inside ``fit`` beyond the base
models' cross-validation and final fit.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import (
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    clone,
    is_classifier,
)
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import _BaseComposition, available_if
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from .._base import (
    _SEED_MAX,
    BaseNeuralEstimator,
    NeuralClassifierBase,
    NeuralRegressorBase,
    _as_tensor,
    _check_no_nan_output,
    _to_numpy,
    _weight_tensor,
    fill_doc,
)
from .._layers import ACTIVATIONS, layer_sizes
from .._net import TensorBatches
from .._partial_fit import ClassifierPartialFitMixin, RegressorPartialFitMixin
from ..exceptions import BaseModelSampleWeightWarning, _warn
from . import _selection
from ._base_models import (
    _align_proba,
    _check_finite_output,
    _fill_random_states,
    _is_drop,
    _is_named_list,
    _naming_base_model_errors,
)
from ._modules import EXTRA_CANDIDATES, HardGateLoss, HardGateNetwork


class _Scores(torch.nn.Module):
    """The gate's scores alone (no base outputs needed)."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, x):
        return self.network.scores(x)


_GATING_CONSTRAINTS = {
    "estimators": [list, None],
    "base_output_columns": [list, None],
    "gate_hidden_layer_sizes": ["array-like"],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "shrinkage": [Interval(numbers.Real, 0, None, closed="left")],
    "cv": ["cv_object", StrOptions({"prefit"})],
}


class _HardGateMixin:
    """What the two hard-gate estimators share.

    Nested parameters (``name``, ``name__param``, ``'drop'``) come from
    scikit-learn's ``_BaseComposition``, as for ``VotingClassifier`` and
    ``StackingClassifier``: the estimators list it last among their bases,
    so that ``__init__`` stays the neural base's.
    """

    def _default_estimators(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _named_estimators(self):
        """The (name, estimator) pairs to fit, 'drop' left out, validated."""
        estimators = (
            self._default_estimators() if self.estimators is None else self.estimators
        )
        if len(estimators) == 0:
            raise ValueError(
                "estimators must be a non-empty list of (name, estimator) pairs; "
                "got an empty list."
            )
        names = []
        for item in estimators:
            if (
                not isinstance(item, tuple | list)
                or len(item) != 2
                or not isinstance(item[0], str)
                or not (hasattr(item[1], "fit") or _is_drop(item[1]))
            ):
                raise ValueError(
                    "estimators must be a list of (name, estimator) pairs with a "
                    "str name and a scikit-learn estimator (or 'drop'); got "
                    f"{item!r}."
                )
            if isinstance(item[1], type):
                raise TypeError(
                    f"estimators: expected an estimator instance for {item[0]!r} "
                    f"({item[1].__name__}()), got the class {item[1].__name__}."
                )
            names.append(item[0])
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"estimators has duplicate names: {duplicates}.")
        bad = [n for n in names if "__" in n]
        if bad:
            raise ValueError(f"estimator names must not contain '__': got {bad}.")
        clash = sorted(set(names) & set(self._own_parameters()))
        if clash:
            raise ValueError(
                f"estimator names {clash} are also parameters of "
                f"{type(self).__name__}, so set_params and GridSearchCV could not "
                "tell them apart; rename those estimators (e.g. "
                f"{clash[0]!r} -> {clash[0] + '_model'!r})."
            )
        reserved = sorted(set(names) & set(EXTRA_CANDIDATES))
        if reserved:
            raise ValueError(
                f"estimator names {reserved} are the names of the gate's own "
                "candidates (the class prior and the pool's vote); rename those "
                f"estimators (e.g. {reserved[0]!r} -> {reserved[0] + '_model'!r})."
            )
        kept = [(name, est) for name, est in estimators if not _is_drop(est)]
        if not kept:
            raise ValueError(
                "every estimator is 'drop'; at least one base model is needed."
            )
        return kept

    @classmethod
    def _own_parameters(cls):
        return cls._get_param_names()

    def get_params(self, deep=True):
        """Get the parameters of the gate and, with ``deep``, of the base models.

        Parameters
        ----------
        deep : bool, default=True
            Also return each base model (``name``) and its parameters
            (``name__param``), for the estimators given in ``estimators``.
            With ``estimators=None`` the default base models are built at
            fit time and have no nested parameters: pass them explicitly to
            tune them.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        if not _is_named_list(self.estimators):
            # None, or not (name, estimator) pairs (fit says so)
            return super().get_params(deep=deep)
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        """Set the parameters of the gate and of the base models.

        Valid keys are those of :meth:`get_params`: the gate's own
        parameters, a base model's name (to replace it, or ``'drop'`` to
        leave it out) and ``name__param`` for its parameters.

        Parameters
        ----------
        **params : dict
            Parameters to set.

        Returns
        -------
        self : object
            The estimator.
        """
        return self._set_params("estimators", **params)

    # fit ----------------------------------------------------------------
    def _task(self):
        return "classification" if is_classifier(self) else "regression"

    def _check_parameters(self):
        # before the base models' cross-validation, which is the slow part
        layer_sizes(self.gate_hidden_layer_sizes, "gate_hidden_layer_sizes")
        if self.base_output_columns is not None:
            if self.estimators is not None:
                raise ValueError(
                    "estimators and base_output_columns are two ways to give the "
                    "base models' outputs: fitted here, or precomputed in columns "
                    "of X. Set one of them to None."
                )
        else:
            for name, est in self._named_estimators():
                self._check_base_estimator(name, est)

    def _method(self):
        return "predict_proba" if is_classifier(self) else "predict"

    def _check_base_estimator(self, name, est):
        if not is_classifier(self) and not hasattr(est, "predict"):
            raise ValueError(
                f"{type(self).__name__} needs predictions from every base "
                f"estimator, but estimator {name!r} ({type(est).__name__}) has no "
                "predict method (a transformer? put it in a Pipeline with a "
                "regressor)."
            )
        if is_classifier(self) and not hasattr(est, "predict_proba"):
            raise ValueError(
                f"{type(self).__name__} needs class probabilities from every base "
                f"estimator, but estimator {name!r} ({type(est).__name__}) has no "
                "predict_proba (wrap it, e.g. in CalibratedClassifierCV(SVC(), "
                "ensemble=False))."
            )

    def _fit_params(self, name, est, weight):
        if weight is None:
            return {}
        if has_fit_parameter(est, "sample_weight"):
            return {"sample_weight": weight}
        _warn(
            f"Base estimator {name!r} ({type(est).__name__}) does not accept "
            "sample_weight and is fitted without it; only the gate is trained "
            "with the weights. Use base estimators that accept sample_weight to "
            "weight them too.",
            BaseModelSampleWeightWarning,
        )
        return {}

    def _base_output(self, est, X):
        """One base model's predictions of ``X``, shape (n, k), float64."""
        if is_classifier(self):
            return _align_proba(
                np.asarray(est.predict_proba(X), dtype=np.float64),
                np.asarray(est.classes_),
                self.classes_,
            )
        pred = np.asarray(est.predict(X), dtype=np.float64)
        return pred.reshape(pred.shape[0], -1)

    def _training_data(self, X, y, target, weight, rng):
        if self.base_output_columns is not None:
            specs, gate_columns = self._resolve_base_output_columns(X.shape[1])
            self.base_output_columns_, self.gate_columns_ = specs, gate_columns
            X_gate, base = self._split_precomputed(X)
            if is_classifier(self) and (base.min() < 0 or base.max() > 1):
                raise ValueError(
                    "base_output_columns of a classifier must hold class "
                    "probabilities in [0, 1]; got values in "
                    f"[{base.min():.3g}, {base.max():.3g}]."
                )
            self.estimators_ = []
            self.named_estimators_ = Bunch()
            names = [f"output_{i}" for i in range(len(specs))]
        else:
            self.base_output_columns_ = self.gate_columns_ = None
            X_gate, base, names = X, self._out_of_fold_outputs(X, y, weight, rng), None
        if not getattr(getattr(self, "_fit_call", None), "warm", False):
            # a warm fit (warm_start, partial_fit's later calls) trains the
            # same network further: its candidates stay those of the first
            self._fit_candidates(base, target, weight, names)
        return TensorBatches(
            (
                _as_tensor(X_gate, self._numpy_dtype),
                torch.from_numpy(base.astype(self._numpy_dtype)),
            ),
            torch.as_tensor(target),
            None if weight is None else _weight_tensor(weight, self._torch_dtype),
        )

    def _out_of_fold_outputs(self, X, y, weight, rng):
        """The base models' outputs the gate learns from, shape (n, E, k),
        and the base models fitted for prediction (``estimators_``)."""
        # the base models are fitted on y as given (labels, float64 values);
        # the net sees the encoded target
        named = self._named_estimators()
        outputs, fitted = [], []
        if self.cv == "prefit":
            for name, est in named:
                self._check_base_estimator(name, est)
                try:
                    check_is_fitted(est)
                except NotFittedError as exc:
                    raise NotFittedError(
                        f"cv='prefit' needs fitted base estimators, but estimator "
                        f"{name!r} ({type(est).__name__}) is not fitted."
                    ) from exc
                if is_classifier(self):
                    unknown = np.setdiff1d(est.classes_, self.classes_)
                    if unknown.size:
                        raise ValueError(
                            f"cv='prefit': estimator {name!r} knows classes "
                            f"{unknown.tolist()} that are not in y."
                        )
                with _naming_base_model_errors(name, "predicting X"):
                    outputs.append(self._base_output(est, X))
                fitted.append(est)
        else:
            cv = self._splitter(y, rng)
            n_splits = cv.get_n_splits(X, y)
            if isinstance(self.cv, numbers.Integral) and X.shape[0] < n_splits:
                raise ValueError(
                    f"cv={self.cv} needs at least {n_splits} samples to compute "
                    f"out-of-fold predictions; got n_samples = {X.shape[0]}."
                )
            # the same folds for every base model
            splits = list(cv.split(X, y))
            if is_classifier(self):
                for k, (train, _) in enumerate(splits):
                    present = np.unique(y[train])
                    if present.size < 2:
                        raise ValueError(
                            f"cv={self.cv!r}: the training part of fold {k} holds "
                            f"only class {present.tolist()}, so the base models "
                            "cannot be fitted on it. Use fewer folds, a "
                            "stratified splitter, or more samples of each class."
                        )
            for name, template in named:
                est = _fill_random_states(clone(template), rng)
                self._check_base_estimator(name, est)
                params = self._fit_params(name, est, weight)
                with _naming_base_model_errors(name, "cross-validating it"):
                    oof = cross_val_predict(
                        est, X, y, cv=splits, method=self._method(), params=params
                    )
                oof = np.asarray(oof, dtype=np.float64).reshape(X.shape[0], -1)
                if is_classifier(self):
                    # columns: the labels of this y (a warm refit may hold
                    # fewer than classes_)
                    oof = _align_proba(oof, np.unique(y), self.classes_)
                outputs.append(oof)
                with _naming_base_model_errors(name, "fitting it"):
                    fitted.append(est.fit(X, y, **params))
        n_outputs = self._n_outputs()
        for (name, _), out in zip(named, outputs):
            _check_finite_output(name, out, "its out-of-fold predictions")
            if out.shape[1] != n_outputs:
                raise ValueError(
                    f"estimator {name!r} predicts {out.shape[1]} outputs, but y has "
                    f"{n_outputs}."
                )
        self.estimators_ = fitted
        self.named_estimators_ = Bunch(
            **{name: est for (name, _), est in zip(named, fitted)}
        )
        return np.stack(outputs, axis=1)

    def _splitter(self, y, rng):
        """The folds of the out-of-fold base outputs: ``cv`` as
        :func:`~sklearn.model_selection.check_cv` reads it, except that an
        int (or None, 5 folds) shuffles the rows, seeded from ``rng``.

        The gate learns where each base model is right from these outputs,
        so they must be exchangeable with the base models' outputs at
        prediction time. Folds in the rows' order are blocks of the data
        when its rows are sorted (by time, as in ISLR's ``Smarket``; by
        group or by target, as many R data sets are), so each fold's
        outputs are extrapolations to a block the model never saw, with
        errors the refitted model will not make: on ``Smarket``, GaussianNB
        was right on 46 % of its out-of-fold rows in the rows' order, 50 %
        with shuffled folds, and 52 % on test rows drawn at random.
        """
        cv = check_cv(self.cv, y, classifier=is_classifier(self))
        if self.cv is None or isinstance(self.cv, numbers.Integral):
            cv = type(cv)(
                n_splits=cv.n_splits,
                shuffle=True,
                random_state=int(rng.randint(_SEED_MAX)),
            )
        return cv

    def _n_outputs(self):
        return len(self.classes_) if is_classifier(self) else self.n_outputs_

    def _fit_candidates(self, base, target, weight, names):
        """The prior and the vote from the out-of-fold outputs ``base``, each
        candidate's score and selection loss on them, and the best one."""
        task = self._task()
        if names is None:
            names = list(self.named_estimators_)
        self.gate_names_ = np.array([*names, *EXTRA_CANDIDATES], dtype=object)
        self.prior_ = _selection.prior_output(target, weight, self._n_outputs(), task)
        self.vote_weights_ = _selection.fit_vote_weights(base, target, weight, task)
        candidates = _selection.candidate_outputs(base, self.prior_, self.vote_weights_)
        self._loss_scale = (
            1.0
            if is_classifier(self)
            else _selection.loss_scale(target, weight, self.selection_loss)
        )
        losses = _selection.per_sample_losses(
            candidates, target, self.selection_loss, self._loss_scale
        )
        w = np.ones(len(base)) if weight is None else np.asarray(weight, float)
        self.oof_losses_ = w @ losses / w.sum()
        self.oof_scores_ = _selection.oof_scores(candidates, target, weight, task)
        # ties go to the simpler candidate: a base model before the prior,
        # the prior before the vote (argmin takes the first)
        self.best_candidate_ = int(np.argmin(self.oof_losses_))

    def _n_gate_features(self):
        if self.base_output_columns_ is not None:
            return len(self.gate_columns_)
        return self.n_features_in_

    def _network(self, n_outputs, **kwargs):
        n_estimators = len(self.gate_names_) - len(EXTRA_CANDIDATES)
        module = HardGateNetwork(
            self._n_gate_features(),
            n_estimators=n_estimators,
            n_outputs=n_outputs,
            task=self._task(),
            hidden_layer_sizes=layer_sizes(
                self.gate_hidden_layer_sizes, "gate_hidden_layer_sizes"
            ),
            activation=self.activation,
            **kwargs,
        )
        module.set_prior(self.prior_)
        module.set_vote_weights(self.vote_weights_)
        module.prefer_candidate(self.best_candidate_, float(self.shrinkage))
        return module

    def _build_criterion(self):
        return HardGateLoss(
            self._task(),
            self.selection_loss,
            preferred=self.best_candidate_,
            scale=self._loss_scale,
        )

    def _make_inputs(self, X):
        """The module's inputs for ``X``: the gate's features and every base
        model's outputs (the validation data and the exported graph need
        them all; :meth:`predict` runs only the chosen models)."""
        dtype = self._numpy_dtype
        if self.base_output_columns_ is not None:
            X_gate, base = self._split_precomputed(X)
            return _as_tensor(X_gate, dtype), _as_tensor(base, dtype)
        return _as_tensor(X, dtype), _as_tensor(self._all_base_outputs(X), dtype)

    def _all_base_outputs(self, X):
        names = list(self.named_estimators_)
        outputs = []
        for name, est in zip(names, self.estimators_):
            with _naming_base_model_errors(name, "predicting X"):
                out = self._base_output(est, X)
            _check_finite_output(name, out, "its predictions of X")
            outputs.append(out)
        return np.stack(outputs, 1)

    def _gate_alone_learns(self):
        """``partial_fit`` exists where the gate alone learns: base models
        fitted elsewhere (``cv='prefit'``) or their outputs in columns of X."""
        if self.cv == "prefit" or self.base_output_columns is not None:
            return True
        raise AttributeError(
            f"{type(self).__name__}.partial_fit trains the gate alone, so it "
            "needs base models fitted elsewhere: cv='prefit' with fitted "
            "estimators, or their outputs in columns of X (base_output_columns). "
            f"With cv={self.cv!r} the base models are fitted by cross-validation "
            "in fit, which one chunk at a time cannot do."
        )

    # predict --------------------------------------------------------------
    def _gate_logits(self, X):
        """Validated ``X`` -> the gate's scores (n, n_candidates), computed
        from the gate's features alone."""
        X_gate = X[:, self.gate_columns_] if self.gate_columns_ is not None else X
        x = _as_tensor(np.asarray(X_gate), self._numpy_dtype)
        scores = self.net_.infer_all(
            (x,), self._inference_batch_size, _Scores(self.net_.module_)
        )
        _check_no_nan_output(scores)
        return scores

    def _module_output(self, X, module=None):
        # the base's predict / predict_proba: the chosen candidates only
        if module is None:
            return self._chosen_outputs(X)
        return super()._module_output(X, module)

    def _chosen_outputs(self, X):
        """The chosen candidates' predictions for validated ``X`` (module
        dtype, after the module's output transform), computing each base
        model on the rows it was chosen for only (the vote on its rows needs
        every base model)."""
        module = self.net_.module_
        if self.base_output_columns_ is not None:
            return self.net_.infer_all(
                self._make_inputs(X), self._inference_batch_size
            )[0]
        choice = self._gate_logits(X).argmax(dim=1).cpu().numpy()
        n_models = len(self.estimators_)
        # the candidates' outputs are combined on the module's device
        kw = dict(dtype=self._torch_dtype, device=module.prior.device)
        raw = torch.empty((X.shape[0], self._n_outputs()), **kw)
        names = list(self.named_estimators_)
        with torch.inference_mode():
            for c in np.unique(choice):
                rows = np.flatnonzero(choice == c)
                if c < n_models:
                    with _naming_base_model_errors(names[c], "predicting X"):
                        out = self._base_output(self.estimators_[c], X[rows])
                    _check_finite_output(names[c], out, "its predictions of X")
                    raw[rows] = torch.as_tensor(out, **kw)
                    continue
                # the prior's rows need no base model; the vote's need all
                base = (
                    self._all_base_outputs(X[rows])
                    if c == n_models + 1
                    else np.zeros((len(rows), n_models, raw.shape[1]))
                )
                raw[rows] = module.candidates(torch.as_tensor(base, **kw))[:, c]
            return module.outputs(raw.unsqueeze(1)).squeeze(1).cpu()

    def predict_gate(self, X):
        """The candidate chosen for each sample, as a one-hot matrix.

        Only the gate runs (no base model predicts).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_candidates)
            Exactly one 1 per row (float64), in the column of the chosen
            candidate; columns named by ``gate_names_`` (the base models,
            then ``'prior'`` and ``'vote'``).
        """
        logits = _to_numpy(self._gate_logits(self._validated(X)))
        gate = np.zeros(logits.shape)
        gate[np.arange(len(gate)), logits.argmax(axis=1)] = 1.0
        return gate

    def predict_gate_scores(self, X):
        """The gate's score of each candidate; the chosen one scores highest.

        A candidate's score is the gate's prediction, at ``X``, of how much
        lower its ``selection_loss`` is than that of ``best_candidate_``
        (which scores 0, plus ``shrinkage``). Only the gate runs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_candidates)
            Columns named by ``gate_names_``.
        """
        return _to_numpy(self._gate_logits(self._validated(X)))

    # precomputed base outputs -----------------------------------------------
    def _resolve_base_output_columns(self, n_features):
        """``base_output_columns`` -> (one int array per base model, the
        gate's columns), validated against ``X``'s width and the target
        (``_check_parameters`` has checked that ``estimators`` is None)."""
        n_outputs = len(self.classes_) if is_classifier(self) else self.n_outputs_
        what = "class probabilities" if is_classifier(self) else "outputs"
        specs, used = [], set()
        if len(self.base_output_columns) == 0:
            raise ValueError("base_output_columns must name at least one base model.")
        for i, spec in enumerate(self.base_output_columns):
            cols = np.atleast_1d(np.asarray(spec))
            if (
                cols.ndim != 1
                or not np.issubdtype(cols.dtype, np.integer)
                or cols.min() < -n_features
                or cols.max() >= n_features
            ):
                raise ValueError(
                    f"base_output_columns[{i}]={spec!r} must be a column index of "
                    f"X (or a list of them); X has {n_features} columns."
                )
            cols = cols % n_features
            if len(cols) != n_outputs:
                raise ValueError(
                    f"base_output_columns[{i}] names {len(cols)} column(s), but "
                    f"each base model gives {n_outputs} {what} (one column each"
                    + (", ordered as classes_)." if is_classifier(self) else ").")
                )
            if used & set(cols.tolist()):
                raise ValueError(
                    f"base_output_columns[{i}] reuses columns of another base model."
                )
            used |= set(cols.tolist())
            specs.append(cols)
        gate_columns = np.array(sorted(set(range(n_features)) - used), dtype=int)
        if len(gate_columns) == 0:
            raise ValueError(
                "every column of X is a base output in base_output_columns; the "
                "gate needs at least one column of features to decide from."
            )
        return specs, gate_columns

    def _split_precomputed(self, X):
        """``X`` -> (the gate's features, the base outputs (n, E, k))."""
        X = np.asarray(X)
        base = np.stack([X[:, cols] for cols in self.base_output_columns_], axis=1)
        return X[:, self.gate_columns_], base


_SELECTION_DOC = """\
The gate chooses, for each sample, one *candidate*: a base model, the
    **prior** (``prior_``: the weighted {prior_what}) or the **vote**
    (the base models' {vote_what} averaged with the convex weights
    ``vote_weights_``). It learns from the base models' out-of-fold outputs
    (``cv``): for every training sample it knows what each candidate would
    have predicted there without having seen it, and so each candidate's
    ``selection_loss`` there. A gating MLP on the sample's features is
    trained to predict, for each candidate, how much lower its loss is than
    that of the candidate with the lowest mean loss (``best_candidate_``),
    and picks the candidate with the largest predicted advantage, keeping
    the best candidate unless another one is predicted to be better by more
    than ``shrinkage``. At prediction the gate runs first and each base
    model predicts only the rows it was chosen for."""

_PARAMETERS_DOC = """\
estimators : list of (str, estimator) or None, default=None
        The base models. They are cloned (unless ``cv='prefit'``); a
        ``random_state`` left at None is seeded from ``random_state``. None
        uses {default_pool}. An estimator given as ``'drop'`` is left out.
        The base models' parameters are part of this estimator's:
        ``get_params()`` lists ``name__param``, so ``set_params(svc__C=10)``
        and ``GridSearchCV`` grids such as ``{{'svc__C': [0.1, 1]}}`` tune
        them (as for scikit-learn's ``Stacking{kind}``). A name must not
        equal a parameter of this estimator, nor ``'prior'`` or ``'vote'``.
    base_output_columns : list of int or of lists of int, or None, default=None
        Precomputed base outputs: the columns of ``X`` that hold each base
        model's outputs, one entry per base model ({columns_what}). The gate
        reads the other columns (``gate_columns_``). Use it when the base
        models were trained elsewhere and their outputs computed on data they
        were not trained on; ``estimators`` must then be None.
    selection_loss : {losses}, default={default_loss!r}
        What the gate minimises for the candidate it picks. {loss_doc}
    shrinkage : float, default={default_shrinkage}
        The margin by which the gate prefers ``best_candidate_``: the gate
        predicts, at each sample, how much lower each candidate's
        ``selection_loss`` is than the best candidate's, and picks another
        candidate only where that predicted advantage exceeds ``shrinkage``
        (in the units of ``selection_loss``{scale_note}). 0 follows the
        predictions wherever they say another candidate is better; a large
        value predicts like the best candidate everywhere. (``weight_decay``,
        the L2 penalty of the gate's weights, smooths those predictions.)
    gate_hidden_layer_sizes : array-like of int, default=(20,)
        Hidden layer widths of the gate MLP; ``()`` makes the gate linear.
    activation : {{'relu', 'tanh', 'logistic', 'gelu', 'identity'}}, default='relu'
        Hidden-layer activation of the gate.
    cv : int, cross-validation generator, iterable or 'prefit', default=5
        How the out-of-fold base outputs that train the gate are made, as in
        scikit-learn's ``Stacking{kind}``, with one difference: an int is the
        number of folds of a *shuffled* ({stratified}KFold, seeded from
        ``random_state`` (folds in the rows' order would turn the outputs
        into extrapolations where the rows are sorted by time, group or
        target). A splitter or an iterable of splits is used as given.
        'prefit': ``estimators`` are fitted already and used as they are;
        the gate learns from their predictions of the ``X`` passed to
        ``fit``, which should be data they were not trained on."""

_ATTRIBUTES_DOC = """\
estimators_ : list of estimator
        The base models fitted on all the training data (with
        ``cv='prefit'``, the given estimators themselves; empty with
        ``base_output_columns``).
    named_estimators_ : sklearn.utils.Bunch
        The fitted base models by name.
    gate_names_ : ndarray of str
        The candidates, in the columns' order of :meth:`predict_gate`: the
        base models' names (``output_0``, ... with ``base_output_columns``),
        then ``'prior'`` and ``'vote'``.
    oof_scores_ : ndarray of shape (n_candidates,)
        Each candidate's {score_what} on the out-of-fold outputs the gate
        learned from (weighted).
    oof_losses_ : ndarray of shape (n_candidates,)
        Each candidate's mean ``selection_loss`` there (weighted).
    best_candidate_ : int
        The candidate with the lowest ``oof_losses_``, toward which the gate
        is shrunk (ties go to the first).
    prior_ : ndarray of shape ({prior_shape},)
        The prior candidate's output.
    vote_weights_ : ndarray of shape (n_estimators,)
        The vote's convex weights: {vote_fit}.
    base_output_columns_ : list of ndarray or None
        With ``base_output_columns``: the columns of each base model's
        outputs; None otherwise.
    gate_columns_ : ndarray or None
        With ``base_output_columns``: the columns of ``X`` the gate reads."""


def _fill_gate_doc(cls, **values):
    """:func:`fill_doc` with the two hard gates' shared pieces, written for
    ``cls`` (``values`` fill their blanks)."""
    import inspect

    defaults = inspect.signature(cls.__init__).parameters
    values["default_shrinkage"] = defaults["shrinkage"].default
    return fill_doc(
        cls,
        selection=_SELECTION_DOC.format(**values),
        gating_parameters=_PARAMETERS_DOC.format(**values),
        gating_attributes=_ATTRIBUTES_DOC.format(**values),
    )


class HardGateClassifier(
    ClassifierMixin,
    ClassifierPartialFitMixin,
    _HardGateMixin,
    NeuralClassifierBase,
    _BaseComposition,
):
    """Dynamic model selection: a trained hard gate picks one candidate per sample.

    {selection}

    Read more in the :ref:`User Guide <hard_gate>`.

    Parameters
    ----------
    {gating_parameters}
    class_weight : dict, 'balanced' or None, default=None
        Weights ``{label: weight}`` multiplied into the sample weights (of the
        gate's loss and of the base models that accept ``sample_weight``);
        'balanced' uses ``n_samples / (n_classes * bincount(y))``.
    {common_parameters}

    Attributes
    ----------
    {gating_attributes}
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the
        :class:`~sklearn_nn.gating.HardGateNetwork` torch module.
        {net_contract}
    n_iter_ : int
        Number of epochs run (summed over warm starts).
    loss_curve_ : list of float
        Training loss at each epoch: the expected ``selection_loss`` under
        the soft gate plus the shrinkage term (the loss of the chosen
        candidates is piecewise constant in the gate's weights).
    validation_loss_curve_ : list of float or None
        Validation ``selection_loss`` of the chosen candidates at each epoch
        (``early_stopping=True`` only).
    validation_scores_ : list of float or None
        Validation accuracy at each epoch (``early_stopping=True`` only).
    best_validation_score_ : float or None
        Best validation accuracy (``early_stopping=True`` only).

    See Also
    --------
    HardGateRegressor : The regression counterpart.
    sklearn_nn.MixtureOfExpertsClassifier : A soft gate over trained experts.
    sklearn.ensemble.StackingClassifier : Combines all base models instead of
        choosing one.

    References
    ----------
    .. [1] Y. Bengio, N. Leonard and A. Courville, "Estimating or Propagating
       Gradients Through Stochastic Neurons for Conditional Computation",
       arXiv:1308.3432, 2013.
    .. [2] M. J. van der Laan, E. C. Polley and A. E. Hubbard, "Super
       Learner", Statistical Applications in Genetics and Molecular Biology
       6(1), 2007.
    .. [3] R. M. O. Cruz, R. Sabourin and G. D. C. Cavalcanti, "Dynamic
       classifier selection: Recent advances and perspectives", Information
       Fusion 41, 2018.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_nn import HardGateClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), HardGateClassifier(random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    >>> gate = clf[-1]
    >>> list(gate.gate_names_)
    ['logistic', 'tree', 'naive_bayes', 'prior', 'vote']
    >>> gate.predict_gate(clf[0].transform(X[:3])).sum(axis=1)
    array([1., 1., 1.])
    """

    _parameter_constraints: dict = {
        **NeuralClassifierBase._parameter_constraints,
        **_GATING_CONSTRAINTS,
        "selection_loss": [StrOptions(set(_selection.CLASSIFICATION_LOSSES))],
    }

    def __init__(
        self,
        *,
        estimators=None,
        base_output_columns=None,
        selection_loss="zero_one",
        shrinkage=0.05,
        gate_hidden_layer_sizes=(20,),
        activation="relu",
        cv=5,
        class_weight=None,
        max_epochs=100,
        batch_size="auto",
        lr=1e-2,
        optimizer="adam",
        weight_decay=1e-2,
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
        self.estimators = estimators
        self.base_output_columns = base_output_columns
        self.selection_loss = selection_loss
        self.shrinkage = shrinkage
        self.gate_hidden_layer_sizes = gate_hidden_layer_sizes
        self.activation = activation
        self.cv = cv
        self.class_weight = class_weight

    def _default_estimators(self):
        return [
            ("logistic", LogisticRegression()),
            ("tree", DecisionTreeClassifier(max_depth=5)),
            ("naive_bayes", GaussianNB()),
        ]

    def _build_module(self):
        return self._network(len(self.classes_))

    @available_if(_HardGateMixin._gate_alone_learns)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train the gate on one chunk of data: one pass in mini-batches.

        Only where the gate alone learns: with ``cv='prefit'`` (fitted base
        models) or ``base_output_columns`` (their outputs in columns of
        ``X``); otherwise the method does not exist (``hasattr`` is False and
        calling it raises an AttributeError that says why: the base models'
        cross-validation needs all the data). The first call fits the
        candidates from its chunk (``prior_``, ``vote_weights_``,
        ``best_candidate_``) and builds the gate; each later call trains the
        gate one more epoch on its chunk, the optimizer's state included,
        with the candidates kept. ``early_stopping`` does not apply.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One chunk of the training data.
        y : array-like of shape (n_samples,)
            Its labels.
        classes : array-like of shape (n_classes,), default=None
            Every label any chunk may hold; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of this chunk.

        Returns
        -------
        self : object
            The estimator, its gate trained one more epoch.
        """
        return self._classifier_partial_fit(X, y, classes, sample_weight)


_fill_gate_doc(
    HardGateClassifier,
    prior_what="class frequencies, as ``DummyClassifier(strategy='prior')``",
    vote_what="class probabilities",
    default_pool="``[('logistic', LogisticRegression()), ('tree', "
    "DecisionTreeClassifier(max_depth=5)), ('naive_bayes', GaussianNB())]``",
    kind="Classifier",
    columns_what="a list of ``n_classes`` indices: its class probabilities, "
    "ordered as ``classes_``",
    losses="{'zero_one', 'log_loss'}",
    default_loss="zero_one",
    loss_doc="'zero_one': 1 where the candidate's most probable class is "
    "wrong, so the gate learns where each candidate is *right* (its expected "
    "value under the soft gate is the smooth surrogate it is trained on). "
    "'log_loss': minus the log of the candidate's probability of the true "
    "class, which also rewards confident candidates.",
    stratified="Stratified",
    scale_note="",
    score_what="accuracy",
    prior_shape="n_classes",
    vote_fit="those minimising the log-loss of the averaged probabilities on "
    "the out-of-fold outputs (the EM iteration for mixture proportions)",
)


class HardGateRegressor(
    RegressorMixin,
    RegressorPartialFitMixin,
    _HardGateMixin,
    NeuralRegressorBase,
    _BaseComposition,
):
    """Dynamic model selection: a trained hard gate picks one candidate per sample.

    {selection}

    The chosen prediction can go through a learnable output layer
    (``output_activation``, e.g. the ``Dense(1, activation='tanh')`` of a
    Keras model). Multi-output ``y`` is supported when every base model
    supports it.

    Read more in the :ref:`User Guide <hard_gate>`.

    Parameters
    ----------
    {gating_parameters}
    output_activation : {'identity', 'tanh', 'logistic', 'relu', 'gelu'} or None, \
default=None
        None: the prediction is exactly the chosen candidate's prediction.
        Otherwise each candidate's prediction goes through a learnable affine
        layer (``Linear(n_outputs, n_outputs)`` initialised to the identity)
        and this activation, trained with the gate; 'tanh' needs targets in
        (-1, 1).
    {common_parameters}

    Attributes
    ----------
    {gating_attributes}
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_outputs_ : int
        Number of regression targets.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the
        :class:`~sklearn_nn.gating.HardGateNetwork` torch module.
        {net_contract}
    n_iter_ : int
        Number of epochs run (summed over warm starts).
    loss_curve_ : list of float
        Training loss at each epoch: the expected ``selection_loss`` under
        the soft gate plus the shrinkage term.
    validation_loss_curve_ : list of float or None
        Validation ``selection_loss`` of the chosen candidates at each epoch
        (``early_stopping=True`` only).
    validation_scores_ : list of float or None
        Validation R^2 at each epoch (``early_stopping=True`` only).
    best_validation_score_ : float or None
        Best validation R^2 (``early_stopping=True`` only).

    See Also
    --------
    HardGateClassifier : The classification counterpart.
    sklearn_nn.MixtureOfExpertsRegressor : A soft gate over trained experts.
    sklearn.ensemble.StackingRegressor : Combines all base models instead of
        choosing one.

    References
    ----------
    .. [1] Y. Bengio, N. Leonard and A. Courville, "Estimating or Propagating
       Gradients Through Stochastic Neurons for Conditional Computation",
       arXiv:1308.3432, 2013.
    .. [2] M. J. van der Laan, E. C. Polley and A. E. Hubbard, "Super
       Learner", Statistical Applications in Genetics and Molecular Biology
       6(1), 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.dummy import DummyRegressor
    >>> from sklearn_nn import HardGateRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(300, 1))
    >>> y = np.where(X[:, 0] < 0, 0.0, 2 * X[:, 0])
    >>> right = X[:, 0] > 0
    >>> pool = [  # fitted elsewhere: each right on one half
    ...     ("zero", DummyRegressor(strategy="constant", constant=0).fit(X, y)),
    ...     ("line", LinearRegression().fit(X[right], y[right]))]
    >>> reg = HardGateRegressor(estimators=pool, cv="prefit", random_state=0)
    >>> reg = reg.fit(X, y)
    >>> list(reg.gate_names_)
    ['zero', 'line', 'prior', 'vote']
    >>> reg.gate_names_[reg.predict_gate([[-2.0], [2.0]]).argmax(axis=1)]
    array(['zero', 'line'], dtype=object)
    """

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints,
        **_GATING_CONSTRAINTS,
        "selection_loss": [StrOptions(set(_selection.REGRESSION_LOSSES))],
        "output_activation": [StrOptions(set(ACTIVATIONS)), None],
    }

    def __init__(
        self,
        *,
        estimators=None,
        base_output_columns=None,
        selection_loss="squared_error",
        shrinkage=0.2,
        gate_hidden_layer_sizes=(20,),
        activation="relu",
        cv=5,
        output_activation=None,
        max_epochs=100,
        batch_size="auto",
        lr=1e-2,
        optimizer="adam",
        weight_decay=1e-2,
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
        self.estimators = estimators
        self.base_output_columns = base_output_columns
        self.selection_loss = selection_loss
        self.shrinkage = shrinkage
        self.gate_hidden_layer_sizes = gate_hidden_layer_sizes
        self.activation = activation
        self.cv = cv
        self.output_activation = output_activation

    def _default_estimators(self):
        return [
            ("ridge", Ridge()),
            ("tree", DecisionTreeRegressor(max_depth=5)),
            ("knn", KNeighborsRegressor()),
        ]

    def _build_module(self):
        return self._network(self.n_outputs_, output_activation=self.output_activation)

    @available_if(_HardGateMixin._gate_alone_learns)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train the gate on one chunk of data: one pass in mini-batches.

        Only where the gate alone learns: with ``cv='prefit'`` (fitted base
        models) or ``base_output_columns`` (their outputs in columns of
        ``X``); otherwise the method does not exist (``hasattr`` is False and
        calling it raises an AttributeError that says why: the base models'
        cross-validation needs all the data). The first call fits the
        candidates from its chunk (``prior_``, ``vote_weights_``,
        ``best_candidate_``) and builds the gate; each later call trains the
        gate one more epoch on its chunk, the optimizer's state included,
        with the candidates kept. ``early_stopping`` does not apply.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One chunk of the training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of this chunk.

        Returns
        -------
        self : object
            The estimator, its gate trained one more epoch.
        """
        return self._partial_fit(X, y, sample_weight)


_fill_gate_doc(
    HardGateRegressor,
    prior_what="mean target, as ``DummyRegressor()``",
    vote_what="predictions",
    default_pool="``[('ridge', Ridge()), ('tree', DecisionTreeRegressor("
    "max_depth=5)), ('knn', KNeighborsRegressor())]``: every one exports to "
    "ONNX and predicts several outputs",
    kind="Regressor",
    columns_what="a column index for a single output, a list of ``n_outputs`` "
    "indices for several",
    losses="{'squared_error', 'absolute_error'}",
    default_loss="squared_error",
    loss_doc="The mean over the outputs of the squared (absolute) residuals, "
    "divided by the target's weighted variance (mean absolute deviation) so "
    "that ``shrinkage`` does not depend on the target's units.",
    stratified="",
    scale_note=", which for a regressor is relative to the target's spread",
    score_what="R^2",
    prior_shape="n_outputs",
    vote_fit="those minimising the squared error of the averaged predictions "
    "on the out-of-fold outputs (projected gradient on the simplex)",
)
