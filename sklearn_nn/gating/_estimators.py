"""Hard-gate estimators: a trainable gate that picks one base model per sample."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import (
    KFold,
    StratifiedKFold,
    check_cv,
    cross_val_predict,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from .._base import (
    _SEED_MAX,
    BaseNeuralEstimator,
    NeuralClassifierBase,
    NeuralRegressorBase,
    _as_tensor,
    _to_numpy,
    _weight_tensor,
)
from .._layers import ACTIVATIONS, layer_sizes
from .._net import TensorBatches
from ..exceptions import BaseModelSampleWeightWarning, PriorFallbackWarning, _warn
from ._annealing import _AnnealTemperature
from ._base_models import (
    _align_proba,
    _check_finite_output,
    _fill_random_states,
    _is_drop,
    _is_named_list,
    _naming_base_model_errors,
)
from ._docs import _fill_shared_doc
from ._modules import GATES, HardGateLoss, HardGateNetwork

_GATING_CONSTRAINTS = {
    "estimators": [list, None],
    "base_output_columns": [list, None],
    "gate_hidden_layer_sizes": ["array-like"],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "gate": [StrOptions(set(GATES))],
    "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
    "final_temperature": [Interval(numbers.Real, 0, None, closed="neither")],
    "gate_uses_predictions": ["boolean"],
    "best_model_prior": [Interval(numbers.Real, 0, None, closed="left")],
    "consensus_weight": [
        Interval(numbers.Real, 0, None, closed="left"),
        StrOptions({"auto"}),
    ],
    "cv": ["cv_object", StrOptions({"prefit"})],
}


# the consensus vote (``consensus_weight``) weighs a base model by
# ``exp(-gap / max(scale, se))``: ``gap`` is how far its out-of-fold score is
# below the best one, ``se`` the standard error of that gap. A model one
# point of out-of-fold accuracy (classification) or three points of R^2
# (regression) below the best one votes with 1/e of the best one's weight,
# or more where so small a gap is within the noise of the scores
_VOTE_ACCURACY_SCALE = 0.01
_VOTE_R2_SCALE = 0.03
# consensus_weight='auto': the weight of the vote added to the trained gate,
# the folds of the check (every sample is held out once), and the least data
# (in all, per class) to decide on: below it the vote is kept
_AUTO_CONSENSUS_WEIGHT = 30.0
_AUTO_FOLDS = 3
_AUTO_MIN_SAMPLES = 50
_AUTO_MIN_CLASS_COUNT = 5
# ... and how many standard deviations of the sign test the gate alone must
# win by: a regression sample can go either way by a hair, so the test asks
# for more (measured: z 5.3-13.8 on the regional experts of the tests)
_AUTO_Z_CLASSIFICATION = 1.0
_AUTO_Z_REGRESSION = 2.0
# prior_fallback: how many standard deviations the gate must beat the most
# frequent class by (measured, seed-1 splits of 19 sets: 1.4-35 on the sets
# with skill, -1.5 to 0.7 on Smarket and Weekly), and the least class
# probability of the prior it then predicts
_PRIOR_Z = 1.0
_PRIOR_FLOOR = 1e-7
# ... and by how many a base model's out-of-fold predictions must beat it
# (the sign test, or standard errors of the mean log-loss difference to the
# class prior's) to rule the fallback out: the best of several models needs
# more than one test for about the same false alarms (the best of five
# independent ones passes 1.5 with probability 0.29, one test passes 1 with
# 0.16; a pool's models are correlated). Measured on the same splits, the
# sign test: 1.6-2.8 on cats (the smallest set with skill), at most 1.4 on
# Smarket, Weekly and birthwt; the log-loss keeps birthwt's gate on some
# folds (its base models' log-loss 0.001-0.066 below the prior's)
_PRIOR_MODEL_Z = 1.5


def _vote_weights(oof_scores, per_sample, w, scale):
    """The consensus vote's weights, ``exp(-gap / max(scale, se))``.

    ``per_sample`` (n_samples, n_estimators) holds each base model's score
    on each sample, whose weighted mean is its out-of-fold score (1 where it
    is right for a classifier); ``gap`` is the best score minus the model's
    and ``se`` the standard error of the weighted mean of the paired
    per-sample differences. On data where the models' scores differ by less
    than their noise (no model beats the class prior, say), picking the model
    that happened to score best is a coin flip, and the vote of the pool is
    the more accurate choice; a gap of many standard errors still leaves the
    weaker models out. ``w``: the sample weights (any positive scale).
    """
    scores = np.asarray(oof_scores, dtype=np.float64)
    best = int(np.argmax(scores))
    diff = per_sample[:, [best]] - per_sample
    mean = w @ diff / w.sum()
    se = np.sqrt(np.square(w) @ np.square(diff - mean)) / w.sum()
    return np.exp((scores - scores[best]) / np.maximum(scale, se))


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
            return self._precomputed_training_data(X, target, weight)
        # the base models are fitted on y as given (labels, float64 values);
        # the net sees the encoded target
        self.base_output_columns_ = self.gate_columns_ = None
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
                if is_classifier(self):
                    oof = np.asarray(oof, dtype=np.float64)
                else:
                    oof = np.asarray(oof, dtype=np.float64).reshape(X.shape[0], -1)
                outputs.append(oof)
                with _naming_base_model_errors(name, "fitting it"):
                    fitted.append(est.fit(X, y, **params))
        n_outputs = len(self.classes_) if is_classifier(self) else self.n_outputs_
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
        base = np.stack(outputs, axis=1)
        self._score_base_outputs(base, target, weight)
        base = base.astype(self._numpy_dtype)
        return TensorBatches(
            (_as_tensor(X, self._numpy_dtype), torch.from_numpy(base)),
            torch.as_tensor(target),
            None if weight is None else _weight_tensor(weight, self._torch_dtype),
        )

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

    def _make_inputs(self, X):
        dtype = self._numpy_dtype
        if self.base_output_columns_ is not None:
            X_gate, base = self._split_precomputed(X)
            return _as_tensor(X_gate, dtype), _as_tensor(base, dtype)
        names = list(self.named_estimators_)
        outputs = []
        for name, est in zip(names, self.estimators_):
            with _naming_base_model_errors(name, "predicting X"):
                outputs.append(self._base_output(est, X))
        for name, out in zip(names, outputs):
            _check_finite_output(name, out, "its predictions of X")
        base = np.stack(outputs, 1)
        return _as_tensor(X, dtype), _as_tensor(base, dtype)

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

    def _precomputed_training_data(self, X, target, weight):
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
        self._score_base_outputs(base, target, weight)
        return TensorBatches(
            (
                _as_tensor(X_gate, self._numpy_dtype),
                torch.from_numpy(base.astype(self._numpy_dtype)),
            ),
            torch.as_tensor(target),
            None if weight is None else _weight_tensor(weight, self._torch_dtype),
        )

    def _score_base_outputs(self, base, target, weight):
        """Set ``oof_scores_``, each base model's score on the gate's
        training data (accuracy for classifiers, R^2 for regressors, of
        ``base`` (n, E, k), weighted), and ``vote_weights_``."""
        # scaled to a maximum of 1, which changes no score or standard error
        # but keeps their squares finite
        w = np.ones(len(base)) if weight is None else np.asarray(weight, float)
        w = w / w.max()
        if is_classifier(self):
            per_sample = (base.argmax(axis=2) == target[:, None]).astype(float)
            scores = [
                accuracy_score(target, base[:, e].argmax(1), sample_weight=weight)
                for e in range(base.shape[1])
            ]
            scale = _VOTE_ACCURACY_SCALE
        else:
            target = np.asarray(target, dtype=np.float64).reshape(base.shape[0], -1)
            scores = [
                r2_score(target, base[:, e], sample_weight=weight)
                for e in range(base.shape[1])
            ]
            # R^2 = mean over outputs of 1 - sum(w r^2) / total: a sample's
            # part is minus its squared residuals over the output's total sum
            # of squares (times sum(w), so that the weighted mean adds up);
            # a constant output (total 0) adds the same to every model
            centre = w @ target / w.sum()
            total = w @ np.square(target - centre)
            residual = np.square(base - target[:, None, :])
            per_sample = -np.divide(
                residual * w.sum(),
                total,
                out=np.zeros_like(residual),
                where=total > 0,
            ).mean(axis=2)
            scale = _VOTE_R2_SCALE
        self.oof_scores_ = np.array(scores)
        self.vote_weights_ = _vote_weights(self.oof_scores_, per_sample, w, scale)

    def _prefer_best(self, module):
        """Start the gate at the base model with the best ``oof_scores_``."""
        if self.best_model_prior > 0:
            module.prefer_estimator(
                int(np.argmax(self.oof_scores_)), float(self.best_model_prior)
            )
        return module

    def _n_gate_features(self):
        if self.base_output_columns_ is not None:
            return len(self.gate_columns_)
        return self.n_features_in_

    def _module_kwargs(self):
        if self.base_output_columns_ is not None:
            n_estimators = len(self.base_output_columns_)
        else:
            n_estimators = len(self._named_estimators())
        return dict(
            n_estimators=n_estimators,
            hidden_layer_sizes=layer_sizes(
                self.gate_hidden_layer_sizes, "gate_hidden_layer_sizes"
            ),
            activation=self.activation,
            gate=self.gate,
            temperature=self.temperature,
            gate_uses_predictions=self.gate_uses_predictions,
        )

    def _callbacks(self, has_validation):
        callbacks = super()._callbacks(has_validation)
        if self.gate == "gumbel":
            anneal = _AnnealTemperature(
                self.temperature, self.final_temperature, self.max_epochs
            )
            callbacks.insert(0, ("anneal_temperature", anneal))
        return callbacks

    # the pool's vote ------------------------------------------------------
    def _consensus_kwargs(self):
        auto = self.consensus_weight == "auto"
        return dict(
            # 'auto': the gate trains alone, _post_fit decides on the vote
            consensus_weight=0.0 if auto else self.consensus_weight,
            # a weight of 0 adds nothing: no per-batch work for it
            consensus_in_training=not auto and self.consensus_weight > 0,
        )

    def _with_consensus(self, module):
        """``module`` with the vote's weights set and the gate started at
        the best base model."""
        module.set_vote_weights(self.vote_weights_)
        return self._prefer_best(module)

    def _post_fit(self, X, target, weight, data):
        module = self.net_.module_
        auto = self.consensus_weight == "auto"
        fallback = is_classifier(self) and self.prior_fallback
        consensus, prior = None, None
        if auto or fallback:
            consensus, prior = self._held_out_check(data, weight, auto, fallback)
        if auto:
            module.consensus_weight.fill_(consensus)
        self.consensus_weight_ = float(module.consensus_weight)
        if is_classifier(self):
            self.predicts_prior_ = prior is not None
            module.set_fallback(None if prior is None else np.log(prior))

    def _held_out_check(self, data, weight, auto, fallback):
        """The cross-fitted check behind ``consensus_weight='auto'`` and
        ``prior_fallback``: ``(consensus weight, prior)``, ``prior`` the
        class prior to predict (None: predict with the gate).

        The gate's training data (the out-of-fold base outputs) is split in
        3 shuffled folds (stratified for a classifier); on each, a gate
        trained on the other two predicts it: alone and with the vote
        ('auto'), or with the given ``consensus_weight``. Each test is a sign
        test over all the samples (each held out once), weighted (the sample
        weights scaled to a mean of 1). Counting ``b`` samples on which the
        first of two predictors errs less and ``c`` on which it errs more,
        the first wins when ``b - c > z sqrt(b + c)``: a gain of ``z``
        standard deviations of that difference under a coin flip.

        'auto': the vote is added (weight 30) unless the gate alone wins,
        the error being wrong for a classifier (``z = 1``), the squared error
        for a regressor (``z = 2``, a regression sample can go either way by
        a hair). Regional experts pass it easily; on pools whose errors are
        scattered the two rarely differ and the vote is kept. A gate trained
        on all the data cannot decide this on its own training data: it fits
        some of the noise there, so it looks better than it predicts. Every
        sample counts once, so the test has five times the samples of one
        80/20 split (which, on two regional logistic regressions with a
        Gumbel gate, kept the vote in one seed of five at a cost of 0.05
        accuracy).

        ``prior_fallback`` (classifiers): the classifier predicts the class
        prior where the pool shows no skill: no base model's out-of-fold
        predictions win against the most frequent class, nor have a mean
        log-loss below the class prior's by more than ``z`` standard errors
        (``z = 1.5`` for both, for the best of several; tested first, where
        one does no gate is fitted for this), the gate chosen above does not
        win against the training
        folds' most frequent class held out (``z = 1``), and its held-out
        mean log-loss is no lower than the class
        prior's (measured: daily stock market directions, on which every
        base model's out-of-fold accuracy was below the most frequent
        class's).

        Below 50 samples, or 5 of a class, there is no check: the vote is
        kept and the gate predicts.
        """
        target = data.target.numpy()
        classifier = is_classifier(self)
        default = (_AUTO_CONSENSUS_WEIGHT if auto else None), None
        if len(target) < _AUTO_MIN_SAMPLES:
            return default
        if classifier:
            n_classes = len(self.classes_)
            counts = np.bincount(target, minlength=n_classes)
            if counts.min() < _AUTO_MIN_CLASS_COUNT:
                return default
        w = np.ones(len(target)) if weight is None else np.asarray(weight, float)
        if not w.sum() > 0:
            return default
        # the sign tests count with the weights scaled to a mean of 1
        scaled = w / w.mean()

        def wins(first, second, z):
            # first errs less on b samples and more on c
            b, c = scaled[first < second].sum(), scaled[first > second].sum()
            return b - c > z * np.sqrt(b + c)

        x, base = (t.numpy() for t in data.inputs)
        n_models, n_outputs = base.shape[1:]
        if fallback:
            # a base model whose out-of-fold predictions beat the class prior
            # clearly, in accuracy or in log-loss, is skill enough
            # the class prior the classifier would predict
            prior = np.bincount(target, w, minlength=n_classes)
            prior = np.maximum(prior / prior.sum(), _PRIOR_FLOOR)
            prior_errors = target != prior.argmax()
            prior_log_loss = -np.log(prior)
            model_errors = base.argmax(axis=2) != target[:, None]
            right = base[np.arange(len(target)), :, target]
            model_log_loss = -np.log(np.clip(right, _PRIOR_FLOOR, 1.0))

            def lower(d):
                # the weighted mean of d below 0 by more than z standard errors
                mean = w @ d / w.sum()
                se = np.sqrt(np.square(w) @ np.square(d - mean)) / w.sum()
                return mean < -_PRIOR_MODEL_Z * se

            fallback = not any(
                wins(model_errors[:, e], prior_errors, _PRIOR_MODEL_Z)
                or lower(model_log_loss[:, e] - prior_log_loss[target])
                for e in range(n_models)
            )
        if not (auto or fallback):
            return default
        seed = int(check_random_state(self.random_state).randint(_SEED_MAX))
        splitter = StratifiedKFold if classifier else KFold
        folds = splitter(_AUTO_FOLDS, shuffle=True, random_state=seed)
        # the gate's training data as precomputed base outputs: the gate's
        # features, then each base model's outputs (class probabilities)
        X_all = np.hstack([x, base.reshape(len(base), -1)])
        columns = [
            list(range(x.shape[1] + e * n_outputs, x.shape[1] + (e + 1) * n_outputs))
            for e in range(n_models)
        ]
        params = dict(
            estimators=None,
            base_output_columns=columns,
            consensus_weight=0.0 if auto else self.consensus_weight,
            warm_start=False,
            verbose=0,
            random_state=seed,
        )
        if classifier:
            # already in ``weight``; the held-out gates answer with the gate
            params.update(class_weight=None, prior_fallback=False)
        y = target if classifier or self._y_ndim == 2 else target.ravel()
        consensus_weights = (0.0, _AUTO_CONSENSUS_WEIGHT) if auto else (None,)
        # per weight and sample: the error and (classifier) the log-loss; the
        # class prior's last
        errors = np.zeros((len(consensus_weights) + 1, len(target)))
        log_loss = np.zeros_like(errors)
        for fit, held in folds.split(X_all, target if classifier else None):
            if not (w[fit].sum() > 0 and w[held].sum() > 0):
                continue  # nothing to learn from, or nothing to count
            gate = clone(self).set_params(**params)
            gate.fit(X_all[fit], y[fit], sample_weight=w[fit])
            for i, consensus in enumerate(consensus_weights):
                if consensus is not None:
                    gate.net_.module_.consensus_weight.fill_(consensus)
                if classifier:
                    proba = gate.predict_proba(X_all[held])
                    errors[i, held] = proba.argmax(axis=1) != target[held]
                    right = proba[np.arange(len(held)), target[held]]
                    log_loss[i, held] = -np.log(right)
                else:
                    residual = gate.predict(X_all[held]).reshape(len(held), -1)
                    errors[i, held] = np.square(residual - target[held]).sum(axis=1)
            if classifier:
                fold_prior = np.bincount(target[fit], w[fit], minlength=n_classes)
                fold_prior /= fold_prior.sum()
                errors[-1, held] = fold_prior.argmax() != target[held]
                log_loss[-1, held] = -np.log(
                    np.maximum(fold_prior[target[held]], 1e-300)
                )

        z = _AUTO_Z_CLASSIFICATION if classifier else _AUTO_Z_REGRESSION
        chosen, consensus = 0, None
        if auto:
            alone_wins = wins(errors[0], errors[1], z)
            chosen = 0 if alone_wins else 1
            consensus = 0.0 if alone_wins else _AUTO_CONSENSUS_WEIGHT
        if not fallback:
            return consensus, None
        if wins(errors[chosen], errors[-1], _PRIOR_Z) or (
            w @ log_loss[chosen] < w @ log_loss[-1]
        ):
            return consensus, None
        _warn(
            f"{type(self).__name__}: held out, the gate was not clearly more "
            f"accurate than always predicting the most frequent class "
            f"({1 - w @ errors[chosen] / w.sum():.3f} against "
            f"{1 - w @ errors[-1] / w.sum():.3f}, on {len(target)} samples), "
            "its log-loss was no lower than the class prior's, and no base "
            "model's out-of-fold accuracy or log-loss was clearly better than "
            "the class prior's either: the pool shows no skill on this data, "
            "so the "
            "classifier predicts the class prior (predicts_prior_). Set "
            "prior_fallback=False to predict with the gate anyway.",
            PriorFallbackWarning,
        )
        # (a class of weight 0 keeps a finite log-probability)
        return consensus, prior

    # predict --------------------------------------------------------------
    def predict_gate(self, X):
        """The base model chosen for each sample, as a one-hot matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_estimators)
            Exactly one 1 per row (float64), in the column of the chosen
            base model (ordered as ``estimators_``); zeros elsewhere. The
            choice is the deterministic argmax of the gate, also for
            ``gate='gumbel'``.
        """
        return _to_numpy(self._forward(X)[1])

    def predict_gate_proba(self, X):
        """The soft gate: the gate network's probability of each base model.

        ``softmax(logits / temperature)`` of the gate network (``softmax(
        logits)`` for ``gate='gumbel'``), the distribution whose
        straight-through gradient trains the hard choice; the logits include
        the pool's consensus times ``consensus_weight_``. Its argmax is the
        base model :meth:`predict_gate` picks; how close its maximum is to 1
        says how sure the gate is.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_estimators)
            Rows sum to 1; columns ordered as ``estimators_``.
        """
        return _to_numpy(self._forward(X)[2])


@_fill_shared_doc
class HardGateClassifier(
    ClassifierMixin, _HardGateMixin, NeuralClassifierBase, _BaseComposition
):
    """Dynamic model selection: a trained hard gate picks one classifier per sample.

    A gating MLP reads the sample's features and outputs exactly one choice
    among the base classifiers; the prediction is the chosen model's class
    probabilities. The gate is trained end to end on the base models'
    *out-of-fold* probabilities (so it learns where each model is actually
    right, not where it overfits) with a straight-through or Gumbel-softmax
    surrogate gradient for the argmax. The base models are then refitted on
    all the data for prediction.

    Read more in the :ref:`User Guide <hard_gate>`.

    Parameters
    ----------
    estimators : list of (str, estimator) or None, default=None
        The base classifiers, each with ``predict_proba``. They are cloned
        (unless ``cv='prefit'``); a ``random_state`` left at None is seeded
        from ``random_state``. None uses a diverse trio:
        ``[('logistic', LogisticRegression()), ('tree',
        DecisionTreeClassifier(max_depth=5)), ('naive_bayes', GaussianNB())]``.
        An estimator given as ``'drop'`` is left out. The base models'
        parameters are part of this estimator's: ``get_params()`` lists
        ``name__param``, so ``set_params(svc__C=10)`` and ``GridSearchCV``
        grids such as ``{'svc__C': [0.1, 1]}`` or ``{'svc': [SVC(
        probability=True), 'drop']}`` tune them (as for scikit-learn's
        ``StackingClassifier``). A name must not equal a parameter of this
        estimator (``lr``, ``tol``, ...).
    {gating_parameters}
    misclassification_cost : float, default=10.0
        The loss that trains the gate, for the chosen base model on a sample,
        is its log-loss plus ``misclassification_cost`` when its most probable
        class is wrong. The default, far above a typical log-loss, makes the
        gate learn where each model is *right* -- the accuracy of the choice
        -- with the log-loss deciding only between models that are both right
        or both wrong. 0 trains on the log-loss alone, which prefers the most
        confident correct model and so favours models with overconfident
        probabilities (a k-NN's 1.0 over an SVM's calibrated 0.9): on
        digits the gate then moved 90 % of the samples away from the best
        model (the SVM) and lost 0.005 accuracy to it (see the User
        Guide).
    consensus_weight : float or 'auto', default='auto'
        How much the pool's vote counts in the choice. The vote weighs each
        base model by ``exp(-gap / max(0.01, se))`` (``vote_weights_``),
        where ``gap`` is how far its out-of-fold accuracy is below the best
        one and ``se`` the standard error of that gap, from the samples on
        which the two differ: a model one point below the best one has 1/e of
        its weight, or more where one point is within the noise of the
        scores. It gives each class the weighted mean of the models'
        probabilities; ``consensus_weight * log(vote for the class model e
        predicts)`` is added to the gate's logit for model ``e``, so the gate
        picks a model that agrees with the vote unless its learned logits
        say otherwise by more than the weighted log-vote gap. Where the
        pool's errors are scattered rather than regional, the vote corrects
        the best model where the other good models agree against it, which
        a gate learned from a few hundred samples cannot (see the User
        Guide). A float: that weight, in training and prediction (0: no
        vote). 'auto': the gate is trained alone, then the vote is added with
        weight 30 unless a check on held-out data says the gate alone is
        better -- as when each base model is right in its own region: the
        gate's training data (the out-of-fold base outputs) is split in 3
        folds, and on each a gate trained alone on the other two must be
        right without the vote on clearly more samples than with it, over
        all three folds (``b - c > sqrt(b + c)``, where ``b`` and ``c``
        count the samples only one of the two gets right). That costs three
        smaller gate fits (not the base models'). Below 50 samples, or 5 of
        a class, the vote is kept. The weight used is
        ``consensus_weight_``.
    prior_fallback : bool, default=True
        Whether to predict the class prior -- the (weighted) class
        frequencies of the training data, as
        :class:`~sklearn.dummy.DummyClassifier` does -- where the base models
        show no skill. The
        check of ``consensus_weight='auto'`` (3 folds of the gate's training
        data, each predicted by a gate trained on the other two; run for
        this alone when ``consensus_weight`` is a float) also counts the
        samples on which only the gate, or only the most frequent class of
        the training folds, is right (``g`` and ``p``, weighted). Unless the
        gate is right on clearly more (``g - p > sqrt(g + p)``), or has the
        lower mean log-loss, or a base model's out-of-fold predictions beat
        the most frequent class (``g - p > 1.5 sqrt(g + p)``, for the best of
        several models) or have a mean log-loss below the class prior's by
        more than 1.5 standard errors, the classifier predicts
        the class prior (``predicts_prior_``) with a
        :class:`~sklearn_nn.exceptions.PriorFallbackWarning`. On daily stock
        market directions every base model's out-of-fold accuracy was below
        the most frequent class's, and choosing among them lost to it (see
        the User Guide). Below 50 samples, or 5 of a class, the gate always
        predicts. The gate itself is trained as usual, and
        :meth:`predict_gate` still shows its choice.
    class_weight : dict, 'balanced' or None, default=None
        Weights ``{label: weight}`` multiplied into the sample weights (of the
        gate's loss and of the base models that accept ``sample_weight``);
        'balanced' uses ``n_samples / (n_classes * bincount(y))``.
    {common_parameters}

    Attributes
    ----------
    estimators_ : list of estimator
        The base classifiers fitted on all the training data (with
        ``cv='prefit'``, the given estimators themselves).
    named_estimators_ : sklearn.utils.Bunch
        The fitted base classifiers by name.
    oof_scores_ : ndarray of shape (n_estimators,)
        Each base model's accuracy on the data the gate was trained on: its
        out-of-fold predictions (with ``cv='prefit'``, its predictions of the
        ``X`` passed to ``fit``; with ``base_output_columns``, the given
        columns). The gate starts from the best of them (see
        ``best_model_prior``).
    vote_weights_ : ndarray of shape (n_estimators,)
        Each base model's weight in the pool's vote, 1 for the best one (see
        ``consensus_weight``).
    consensus_weight_ : float
        The weight of the pool's vote in the gate's logits: ``consensus_weight``
        when it is a float; with 'auto', 30 or 0 (the trained gate alone).
    predicts_prior_ : bool
        Whether the classifier predicts the class prior for every sample
        (see ``prior_fallback``).
    base_output_columns_ : list of ndarray or None
        With ``base_output_columns``: the columns of each base model's
        outputs (``estimators_`` is then empty); None otherwise.
    gate_columns_ : ndarray or None
        With ``base_output_columns``: the columns of ``X`` the gate reads.
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
        Training loss at each epoch, reported as the expected loss under
        the soft gate (each base model's log-loss plus
        ``misclassification_cost`` where it is wrong, weighted by the gate's
        softmax): the loss of the chosen models is piecewise constant in the
        gate's weights and would stall while the gate still moves.
    validation_loss_curve_ : list of float or None
        Validation loss (log-loss plus ``misclassification_cost`` times the
        error) of the chosen models at each epoch (``early_stopping=True``
        only).
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
    .. [2] E. Jang, S. Gu and B. Poole, "Categorical Reparameterization with
       Gumbel-Softmax", ICLR 2017.
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
    >>> clf = make_pipeline(StandardScaler(), HardGateClassifier(
    ...     max_epochs=30, lr=1e-2, random_state=0)).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> gate = clf[-1].predict_gate(clf[0].transform(X[:3]))
    >>> gate.shape, gate.sum(axis=1)
    ((3, 3), array([1., 1., 1.]))
    """

    _parameter_constraints: dict = {
        **NeuralClassifierBase._parameter_constraints,
        **_GATING_CONSTRAINTS,
        "misclassification_cost": [Interval(numbers.Real, 0, None, closed="left")],
        "prior_fallback": ["boolean"],
    }

    def __init__(
        self,
        *,
        estimators=None,
        base_output_columns=None,
        gate_hidden_layer_sizes=(20,),
        activation="relu",
        gate="straight_through",
        temperature=1.0,
        final_temperature=0.1,
        gate_uses_predictions=False,
        best_model_prior=2.0,
        misclassification_cost=10.0,
        consensus_weight="auto",
        prior_fallback=True,
        cv=5,
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
        self.estimators = estimators
        self.base_output_columns = base_output_columns
        self.gate_hidden_layer_sizes = gate_hidden_layer_sizes
        self.activation = activation
        self.gate = gate
        self.temperature = temperature
        self.final_temperature = final_temperature
        self.gate_uses_predictions = gate_uses_predictions
        self.best_model_prior = best_model_prior
        self.misclassification_cost = misclassification_cost
        self.consensus_weight = consensus_weight
        self.prior_fallback = prior_fallback
        self.cv = cv
        self.class_weight = class_weight

    def _default_estimators(self):
        return [
            ("logistic", LogisticRegression()),
            ("tree", DecisionTreeClassifier(max_depth=5)),
            ("naive_bayes", GaussianNB()),
        ]

    def _build_module(self):
        return self._with_consensus(
            HardGateNetwork(
                self._n_gate_features(),
                n_outputs=len(self.classes_),
                task="classification",
                **self._consensus_kwargs(),
                **self._module_kwargs(),
            )
        )

    def _build_criterion(self):
        return HardGateLoss(
            "classification", misclassification_cost=self.misclassification_cost
        )


@_fill_shared_doc
class HardGateRegressor(
    RegressorMixin, _HardGateMixin, NeuralRegressorBase, _BaseComposition
):
    """Dynamic model selection: a trained hard gate picks one regressor per sample.

    A gating MLP reads the sample's features and outputs exactly one choice
    among the base regressors; the prediction is the chosen model's
    prediction, optionally passed through a learnable output layer (e.g. the
    ``Dense(1, activation='tanh')`` of a Keras model). The gate is trained
    end to end with the mean squared error on the base models' out-of-fold
    predictions, with a straight-through or Gumbel-softmax surrogate
    gradient for the argmax. Multi-output ``y`` is supported when every base
    model supports it.

    Read more in the :ref:`User Guide <hard_gate>`.

    Parameters
    ----------
    estimators : list of (str, estimator) or None, default=None
        The base regressors. They are cloned (unless ``cv='prefit'``); a
        ``random_state`` left at None is seeded from ``random_state``. None
        uses a diverse trio: ``[('ridge', Ridge()), ('tree',
        DecisionTreeRegressor(max_depth=5)), ('kernel_ridge',
        KernelRidge(kernel='rbf'))]`` (kernel ridge costs
        ``O(n_samples^3)``: pass your own pool for more than a few thousand
        samples). An estimator given as ``'drop'`` is left out. The base
        models' parameters are part of this estimator's (``name__param`` in
        ``get_params``, ``set_params`` and ``GridSearchCV`` grids), as for
        scikit-learn's ``StackingRegressor``. A name must not equal a
        parameter of this estimator (``lr``, ``tol``, ...).
    {gating_parameters}
    consensus_weight : float or 'auto', default='auto'
        How much the pool's consensus counts in the choice. The pool's weighted
        mean prediction weighs each base model by ``exp(-gap / max(0.03, se))``
        (``vote_weights_``), where ``gap`` is how far its out-of-fold R^2 is
        below the best one and ``se`` the standard error of that gap, from the
        paired per-sample squared errors (a model three points of R^2 below the
        best one has 1/e of its weight, or more where three points are within
        the noise of the scores); ``consensus_weight * c_e`` is added to the
        gate's logit for model ``e``, where ``c_e = -d_e^2 / (2 s^2)``, ``d_e``
        is the distance of model ``e``'s prediction from the weighted mean and
        ``s^2`` the pool's weighted mean of ``d^2`` at the sample. So the gate
        picks the model closest to the weighted mean unless its learned logits
        say otherwise by more: a choice that follows the pool's agreement, which
        averages out part of each model's noise (see the User Guide). A float:
        that weight, in training and prediction (0: no consensus). 'auto': the
        gate is trained alone, then the consensus is added with weight 30 unless
        a check on held-out data says the gate alone is better -- as when each
        base model is right in its own region: the gate's training data (the
        out-of-fold base outputs) is split in 3 folds, and on each a gate
        trained alone on the other two must have the lower squared error without
        the consensus on clearly more samples than with it, over all three folds
        (``b - c > 2 sqrt(b + c)``, where ``b`` and ``c`` count the samples on
        which it is lower and higher: a sign test, stricter than the
        classifier's, since a regression sample can go either way by a hair).
        That costs three smaller gate fits (not the base models'). Below 50
        samples the consensus is kept. The weight used is ``consensus_weight_``.
    output_activation : {'identity', 'tanh', 'logistic', 'relu', 'gelu'} or None, \
default=None
        None: the prediction is exactly the chosen model's prediction.
        Otherwise the chosen prediction goes through a learnable affine layer
        (``Linear(n_outputs, n_outputs)`` initialised to the identity) and this
        activation, trained with the gate; 'tanh' needs targets in (-1, 1).
    {common_parameters}

    Attributes
    ----------
    estimators_ : list of estimator
        The base regressors fitted on all the training data (with
        ``cv='prefit'``, the given estimators themselves).
    named_estimators_ : sklearn.utils.Bunch
        The fitted base regressors by name.
    oof_scores_ : ndarray of shape (n_estimators,)
        Each base model's R^2 on the data the gate was trained on: its
        out-of-fold predictions (with ``cv='prefit'``, its predictions of the
        ``X`` passed to ``fit``; with ``base_output_columns``, the given
        columns). The gate starts from the best of them (see
        ``best_model_prior``).
    vote_weights_ : ndarray of shape (n_estimators,)
        Each base model's weight in the pool's consensus, 1 for the best one
        (see ``consensus_weight``).
    consensus_weight_ : float
        The weight of the pool's consensus in the gate's logits:
        ``consensus_weight`` when it is a float; with 'auto', 30 or 0 (the
        trained gate alone).
    base_output_columns_ : list of ndarray or None
        With ``base_output_columns``: the columns of each base model's
        outputs (``estimators_`` is then empty); None otherwise.
    gate_columns_ : ndarray or None
        With ``base_output_columns``: the columns of ``X`` the gate reads.
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
        Training loss at each epoch, reported as the expected squared error
        under the soft gate (the base models' squared errors weighted by the
        gate's softmax): the squared error of the chosen models is piecewise
        constant in the gate's weights and would stall while the gate still
        moves.
    validation_loss_curve_ : list of float or None
        Validation squared error of the chosen models at each epoch
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
    .. [2] E. Jang, S. Gu and B. Poole, "Categorical Reparameterization with
       Gumbel-Softmax", ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.dummy import DummyRegressor
    >>> from sklearn_nn import HardGateRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(300, 1))
    >>> y = np.where(X[:, 0] < 0, 0.0, X[:, 0])
    >>> reg = HardGateRegressor(
    ...     estimators=[("zero", DummyRegressor(strategy="constant", constant=0)),
    ...                 ("line", LinearRegression())],
    ...     gate_hidden_layer_sizes=(8,), lr=0.05, max_epochs=60, random_state=0,
    ... ).fit(X, y)
    >>> reg.predict_gate([[-2.0], [2.0]])
    array([[1., 0.],
           [0., 1.]])
    """

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints,
        **_GATING_CONSTRAINTS,
        "output_activation": [StrOptions(set(ACTIVATIONS)), None],
    }

    def __init__(
        self,
        *,
        estimators=None,
        base_output_columns=None,
        gate_hidden_layer_sizes=(20,),
        activation="relu",
        gate="straight_through",
        temperature=1.0,
        final_temperature=0.1,
        gate_uses_predictions=False,
        best_model_prior=2.0,
        consensus_weight="auto",
        cv=5,
        output_activation=None,
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
        self.estimators = estimators
        self.base_output_columns = base_output_columns
        self.gate_hidden_layer_sizes = gate_hidden_layer_sizes
        self.activation = activation
        self.gate = gate
        self.temperature = temperature
        self.final_temperature = final_temperature
        self.gate_uses_predictions = gate_uses_predictions
        self.best_model_prior = best_model_prior
        self.consensus_weight = consensus_weight
        self.cv = cv
        self.output_activation = output_activation

    def _default_estimators(self):
        return [
            ("ridge", Ridge()),
            ("tree", DecisionTreeRegressor(max_depth=5)),
            ("kernel_ridge", KernelRidge(kernel="rbf")),
        ]

    def _build_module(self):
        return self._with_consensus(
            HardGateNetwork(
                self._n_gate_features(),
                n_outputs=self.n_outputs_,
                task="regression",
                output_activation=self.output_activation,
                **self._consensus_kwargs(),
                **self._module_kwargs(),
            )
        )

    def _build_criterion(self):
        return HardGateLoss("regression")
