"""``partial_fit``: training on data that arrives in chunks.

The mixins give the estimator families scikit-learn's incremental-learning
method with :class:`~sklearn.neural_network.MLPClassifier`'s semantics. Each
call is one pass over its chunk in mini-batches through the same fit
template as ``fit`` (validation, encoding, the net, the training loop); the
network, the optimizer's state, the history (``n_iter_``, ``loss_curve_``)
and the random streams (``random_state``'s generator, the shuffling and
torch's generators) carry over from call to call, so that calling
``partial_fit(X, y)`` ``k`` times trains the same network as
``fit(X, y)`` with ``max_epochs=k`` (and no early stopping).

The hard gates take them only where the gate alone learns (``cv='prefit'``
or ``base_output_columns``, through ``available_if``): their base models are
otherwise fitted in ``fit`` by cross-validation, which a chunk at a time
cannot do.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import _fit_context

from ._base import _check_label_types

_NO_VALIDATION = (None, None, None)


class _PartialFitBase:
    def _partial_fit(self, X, y, sample_weight, classes=None):
        first = not hasattr(self, "net_")
        return self._fit_safely(
            X,
            y,
            sample_weight,
            warm=not first,
            validation=_NO_VALIDATION,
            partial=True,
            classes=classes,
        )


class ClassifierPartialFitMixin(_PartialFitBase):
    """``partial_fit(X, y, classes=None, sample_weight=None)`` for classifiers."""

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train on one chunk of data: one pass over it in mini-batches.

        The first call builds the network (from this chunk: the number of
        features and the scales the family fits from data); each later call
        continues training it, the optimizer's state included, and appends
        one epoch to ``n_iter_`` and ``loss_curve_``. Calling it ``k`` times
        on the same data with the same ``random_state`` trains the same
        network as ``fit`` with ``max_epochs=k`` (but for a ``top_k`` mixture's
        warm-up, which ties the experts during the first call only). On a
        fitted estimator it continues the fitted network. ``fit`` after
        ``partial_fit`` starts a new network, unless ``warm_start=True``: then
        it trains the partially fitted one for up to ``max_epochs`` more
        epochs.

        Per chunk, nothing is held out: ``early_stopping``,
        ``validation_fraction``, ``n_iter_no_change`` and ``tol`` do not
        apply (stop when you like; score a validation set between calls).
        ``class_weight='balanced'`` would weigh each chunk by its own class
        counts and is refused: pass a dict, e.g. from
        :func:`~sklearn.utils.class_weight.compute_class_weight` on a sample
        of the labels. What a family fits from data before training (the
        sequence classifier's random-feature biases and ``conv_filters='auto'``,
        a pair regressor's ``target_range='auto'``) is fitted on the first
        chunk and kept; what it fits after training (the pair classifier's
        calibration, ``expert_usage_``, ``embedding_spread_``) is refitted on
        each chunk. See the User Guide, "Data that does not fit in memory".

        Parameters
        ----------
        X : array-like
            One chunk of the training data, in any form ``fit`` takes.
        y : array-like of shape (n_samples,)
            Its labels.
        classes : array-like of shape (n_classes,), default=None
            Every label that any chunk may hold. Required on the first call
            (no chunk need hold them all); afterwards None or the same labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of this chunk.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_nn import MixtureOfExpertsClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> order = np.random.RandomState(0).permutation(len(X))
        >>> clf = MixtureOfExpertsClassifier(lr=1e-2, random_state=0)
        >>> for epoch in range(60):
        ...     for chunk in np.array_split(order, 3):
        ...         clf = clf.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
        >>> clf.n_iter_
        180
        >>> clf.score(X, y) > 0.9
        True
        """
        return self._classifier_partial_fit(X, y, classes, sample_weight)

    def _classifier_partial_fit(self, X, y, classes, sample_weight):
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: each "
                "chunk would be weighed by its own class counts. Pass a dict, "
                "e.g. dict(zip(classes, compute_class_weight('balanced', "
                "classes=classes, y=y_sample))) from a large enough sample of "
                "the labels."
            )
        return self._partial_fit(X, y, sample_weight, self._first_classes(classes))

    def _first_classes(self, classes):
        """The sorted labels of ``classes`` on the first call, None after it
        (where ``classes`` must be None or ``classes_``)."""
        if hasattr(self, "net_"):
            if classes is not None and not np.array_equal(
                np.unique(np.asarray(classes)), self.classes_
            ):
                raise ValueError(
                    f"classes={list(classes)!r} is not the same as on the first "
                    f"call to partial_fit (or in fit): {self.classes_.tolist()!r}."
                )
            return None
        if classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: every "
                "label that any chunk may hold, e.g. classes=np.unique(y_all)."
            )
        classes = np.asarray(classes)
        if classes.ndim != 1:
            raise ValueError(
                f"classes must be a 1-D array of labels, got shape {classes.shape}."
            )
        _check_label_types(classes)
        unique = np.unique(classes)
        if len(unique) < 2:
            raise ValueError(
                f"classes must hold at least 2 labels, got {unique.tolist()!r}."
            )
        return unique


class RegressorPartialFitMixin(_PartialFitBase):
    """``partial_fit(X, y, sample_weight=None)`` for regressors."""

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train on one chunk of data: one pass over it in mini-batches.

        The first call builds the network (from this chunk: the number of
        features and outputs, and the scales the family fits from data);
        each later call continues training it, the optimizer's state
        included, and appends one epoch to ``n_iter_`` and ``loss_curve_``.
        Calling it ``k`` times on the same data with the same ``random_state``
        trains the same network as ``fit`` with ``max_epochs=k`` (but for a
        ``top_k`` mixture's warm-up, which ties the experts during the first
        call only). On a fitted estimator it continues the fitted network.
        ``fit`` after ``partial_fit`` starts a new network, unless
        ``warm_start=True``: then it trains the partially fitted one for up to
        ``max_epochs`` more epochs.

        Per chunk, nothing is held out: ``early_stopping``,
        ``validation_fraction``, ``n_iter_no_change`` and ``tol`` do not
        apply (stop when you like; score a validation set between calls).
        What a family fits from data before training (the mixture
        regressor's target standardisation, a pair regressor's
        ``target_range='auto'``) is fitted on the first chunk and kept: make
        it representative (shuffled rows, not rows sorted by ``y``). See the
        User Guide, "Data that does not fit in memory".

        Parameters
        ----------
        X : array-like
            One chunk of the training data, in any form ``fit`` takes.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of this chunk.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_nn import MixtureOfExpertsRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.uniform(-3, 3, size=(600, 1))
        >>> y = np.where(X[:, 0] < 0, X[:, 0], -2 * X[:, 0] + 3)
        >>> reg = MixtureOfExpertsRegressor(n_members=1, lr=1e-2, random_state=0)
        >>> for epoch in range(40):
        ...     for chunk in np.array_split(np.arange(600), 3):
        ...         reg = reg.partial_fit(X[chunk], y[chunk])
        >>> reg.n_iter_
        120
        >>> reg.score(X, y) > 0.9
        True
        """
        return self._partial_fit(X, y, sample_weight)
