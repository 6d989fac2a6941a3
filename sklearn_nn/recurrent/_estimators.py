"""Recurrent sequence classifier trained with target replication."""

from __future__ import annotations

import copy
import functools
import math
import numbers

import numpy as np
import torch
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
)

from .._base import (
    NeuralClassifierBase,
    _check_no_nan_output,
    _numeric_input_errors,
    fill_doc,
)
from .._layers import (
    CausalRandomConvolutions,
    ObservedInputs,
    layer_sizes,
    random_convolution_layout,
)
from .._net import LengthBucketIterator, TensorBatches
from .._partial_fit import ClassifierPartialFitMixin
from .._sequences import (
    PaddedSequences,
    check_missing_and_times,
    check_padding_value,
    check_sequences,
    check_time_channel_parameters,
    uses_missing_inputs,
)
from ._early import decide_early, early_scores
from ._modules import SequenceClassifierRNN, TargetReplicationLoss, step_mask
from ._readout import fit_ridge_readout
from ._stream import SequenceStream


class _EstimatorStream:
    """A :class:`SequenceStream` that takes numpy steps, checked as the
    estimator checks its sequences."""

    def __init__(self, estimator, stream):
        self._estimator = estimator
        self._stream = stream

    def update(self, steps):
        """The class probabilities after each new step: (T, n_classes)."""
        est = self._estimator
        steps = np.asarray(steps, dtype=np.float64)
        channels = est._n_channels
        if steps.ndim == 1:
            steps = steps.reshape(-1, 1) if channels == 1 else steps[None, :]
        if steps.ndim != 2 or steps.shape[1] != channels:
            raise ValueError(
                f"steps must have shape (n_channels,) or (n_steps, n_channels) "
                f"with {channels} channels, got an array of shape {steps.shape}."
            )
        if np.isinf(steps).any():
            raise ValueError("steps contain inf.")
        nan = np.isnan(steps)
        if nan.any() and not est.missing_indicators_:
            raise ValueError(
                "steps contain NaN, but the model was fitted on sequences without "
                "missing values; fit with missing_values='indicators'."
            )
        if est.time_channel is not None and nan[:, est.time_channel].any():
            raise ValueError(
                f"every step needs its time (channel {est.time_channel}); got NaN."
            )
        out = self._stream.update(torch.as_tensor(steps))
        return out.to(torch.float64).numpy()


# the random convolutions' kernels have nine taps: on shorter sequences
# (cell='auto') the recurrent network reads them instead
_RANDOM_MIN_STEPS = 9


@fill_doc
class TargetReplicationLSTMClassifier(
    ClassifierMixin, ClassifierPartialFitMixin, NeuralClassifierBase
):
    """Causal sequence classifier with per-step predictions and target replication.

    One output layer, shared over time, turns the state at every step into a
    class distribution ``y_hat_t`` that depends on steps ``1..t`` only. By
    default the state is MiniRocket's features made causal (Dempster et al.,
    2021): about 10 000 fixed random dilated convolutions, each feature the
    running proportion of the steps so far whose convolution output exceeds
    a bias drawn from the training data. The output layer is then fitted in
    closed form (``solver='ridge'``): a ridge regression on the features at
    each sequence's last step, its penalty chosen by generalised
    cross-validation, with one temperature fitted to the cross-validated
    scores so that the probabilities are calibrated. The fit runs no epochs.
    A recurrent network (``cell='gru'`` or ``'lstm'``) and dilated causal
    convolutions (``conv_filters``) can read the sequence as well or instead;
    they are trained by gradient descent (``solver='gradient'``). Sequences
    shorter than 9 steps and token sequences are read by a GRU
    (``cell='auto'``).

    Target replication (Lipton et al., 2016) trains every step to predict the
    sequence's label. With ``alpha = replication_weight`` and ``T`` the
    sequence's own length, the loss of a sequence is::

        alpha * (1/T) * sum_{t=1..T} l(y_hat_t, y) + (1 - alpha) * l(y_hat_T, y)

    with ``l`` the negative log-likelihood (the squared error of the ridge
    read-out, whose replicated rows are the features at 10 evenly spaced
    steps of each sequence instead of every step); ``class_weight`` and
    ``sample_weight`` multiply both terms. Validation (``early_stopping``)
    scores the final step only. ``predict_proba`` is ``y_hat_T``, the
    distribution at each sequence's last real step, and
    :meth:`predict_proba_steps` gives ``y_hat_t`` at every step.

    Read more in the :ref:`User Guide <target_replication_lstm>`.

    **Input formats** (``X`` in ``fit``, ``predict`` and friends):

    * 2-D float array (n_sequences, n_steps): univariate sequences. As in
      every scikit-learn estimator, a 2-D array at predict time must have the
      number of columns (``n_features_in_ = n_steps``) and the column names
      seen in ``fit``; pass a list or a 3-D array to predict sequences of
      other lengths.
    * 3-D float array (n_sequences, n_steps, n_channels): multivariate.
      ``n_features_in_`` is ``n_channels``.
    * list of arrays of shape (T_i,) or (T_i, n_channels) (ragged).
      ``n_features_in_`` is ``n_channels``. (A list of 1-D sequences that
      all have the same length is a 2-D array, as everywhere in
      scikit-learn.)
    * with ``vocab_size`` set: integer token ids, a 2-D array (n_sequences,
      n_steps) or a list of 1-D arrays. ``n_features_in_`` is 1 (one token
      per step).

    Float sequences in arrays end in trailing padding: NaN at every channel,
    or, with ``padding_value``, that value at every channel (Keras'
    ``Masking``). Token 0 is padding wherever it is (Keras'
    ``mask_zero=True``). NaN in some channels of a step inside a sequence is
    a missing value (see ``missing_values``); an all-padding sequence,
    ``inf`` and channel counts that differ raise a ``ValueError``. Padding
    never changes a prediction. Standardise float sequences with
    :class:`~sklearn_nn.preprocessing.SequenceStandardScaler` in a Pipeline;
    see :ref:`sequence_input`.

    Parameters
    ----------
    random_features : int, default=10_000
        Number of causal random-convolution features (rounded down to a
        multiple of 84, MiniRocket's kernels: 9 996 by default); 0 for none.
        Float sequences of at least 9 steps only. Each feature reads the
        steps up to its own (MiniRocket's dilations up to the longest
        training sequence), so per-step predictions stay causal.
    cell : {'auto', 'gru', 'lstm'} or None, default='auto'
        Recurrent cell, or None for none. 'auto' is None where the random
        features read the sequences, and 'gru' for token sequences and for
        sequences shorter than 9 steps. Setting a cell while
        ``random_features > 0`` joins its state to the random features
        (trained by gradient descent: slower); set ``random_features=0`` for
        the plain recurrent network of Lipton et al.
    solver : {'auto', 'ridge', 'gradient'}, default='auto'
        How the network is fitted. 'ridge': the output layer in closed form
        on the random features (no trained part may be present; no epochs,
        so ``max_epochs``, ``lr``, ``optimizer``, ``batch_size`` and
        ``weight_decay`` are not used, and a warm start refits it).
        'gradient': every trained part by ``optimizer`` over epochs. 'auto'
        is 'ridge' when the random features are the only part and
        ``early_stopping`` is off, 'gradient' otherwise; in
        :meth:`partial_fit` (one epoch per chunk) it is 'gradient', and with
        ``solver='ridge'`` the estimator has no ``partial_fit``.
    hidden_size : int, default=32
        Width of the recurrent state.
    num_layers : int, default=1
        Number of stacked recurrent layers.
    replication_weight : float, default=0.0
        ``alpha`` in [0, 1], the weight of the replicated per-step losses
        against the final-step loss. 0 is ordinary final-step training (the
        default: on data whose class is only decidable after most of the
        sequence, the early steps' replicated targets cannot be met and cost
        final-step accuracy; see the user guide). Raise it (e.g. 0.5, as in
        Lipton et al.) to train every step's prediction, for early
        classification with :meth:`predict_proba_steps`.
    vocab_size : int or None, default=None
        Set it to classify integer token sequences: ids in
        ``[0, vocab_size)`` go through an embedding layer first (id 0 is
        padding). None reads float sequences.
    embedding_dim : int, default=16
        Width of the token embedding (only used with ``vocab_size``).
    dropout : float, default=0.0
        Dropout between stacked recurrent layers and before the output layer.
    conv_filters : 'auto' or array-like of int, default=()
        Output channels of trained dilated causal convolution layers (layer
        ``i``: kernel ``conv_kernel_size``, dilation ``2**i``, ReLU) that read
        the sequence before the recurrent layer; ``()`` for none. 'auto' stacks
        layers of 64
        filters until the receptive field ``1 + (conv_kernel_size - 1) *
        (2**n_layers - 1)`` covers a quarter of the longest training sequence
        (at least 2 layers): 2 layers for sequences of up to 52 steps, 4 for
        244, 5 for 500 (see ``conv_filters_``). The state at each step is the recurrent
        state joined with the running mean of the convolution features up to
        that step. Each output step reads only the steps up to it, so
        per-step predictions stay causal and padding is never read.
    conv_kernel_size : int, default=5
        Taps of each convolution layer's kernel.
    padding_value : float or None, default=None
        Float sequences: trailing steps whose every channel equals it are
        padding (``padding_value=0.0`` for Keras-style zero padding); trailing
        all-NaN steps are padding in any case. With None, a
        :class:`~sklearn_nn.exceptions.ZeroPaddingWarning` says when most
        sequences end in all-zero steps.
    class_weight : dict, 'balanced' or None, default=None
        Weights ``{label: weight}`` multiplied into each sequence's loss
        (both terms); 'balanced' uses ``n_samples / (n_classes *
        bincount(y))``.
    missing_values : {'auto', 'indicators', 'error'}, default='auto'
        NaN in a channel at a step inside a sequence means "not observed
        then". With 'indicators' each channel reaches the network as its
        last observed value (the training mean before the first
        observation), an observed mask and the time since it was observed
        (computed inside the module, so ONNX export and skops carry it).
        'auto' uses them when the training sequences hold such NaN or
        ``time_channel`` is set; 'error' makes NaN inside a sequence an
        error. See :ref:`clinical_sequences`.
    time_channel : int or None, default=None
        The channel holding each step's observation time (days, hours, an
        age): it is removed from the channels and gives the time since each
        channel was last observed. Times must be given at every real step
        and must not decrease within a sequence.
    early_threshold : float, default=0.9
        :meth:`predict_early` decides a sequence at the first step whose
        most probable class reaches this probability (at its last step
        otherwise). Read at prediction time only;
        :func:`~sklearn_nn.recurrent.select_early_threshold` chooses it by
        cross-fitting.
    early_consecutive : int, default=1
        :meth:`predict_early` waits for this many consecutive steps that
        reach ``early_threshold`` with the same most probable class
        (TEASER's rule); read at prediction time only.
    {common_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of columns (steps) of a 2-D float ``X``; number of channels for
        a 3-D or ragged ``X``; 1 for token sequences.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of a 2-D ``X`` given as a DataFrame with string column
        names.
    conv_filters_ : tuple of int
        The convolution layers used (``conv_filters`` resolved).
    missing_indicators_ : bool
        Whether the network reads the missing-value inputs (``missing_values``
        resolved).
    cell_ : {'gru', 'lstm'} or None
        The recurrent cell used (``cell`` resolved).
    solver_ : {'ridge', 'gradient'}
        How the network was fitted (``solver`` resolved).
    random_features_ : int
        Number of random-convolution features used (0 for none).
    ridge_alpha_ : float
        The ridge penalty chosen by generalised cross-validation
        (``solver_='ridge'`` only).
    temperature_ : float or ndarray
        The factor on the ridge scores that calibrates the probabilities
        (``solver_='ridge'`` only); with ``replication_weight > 0``, one
        factor per step (the earlier steps' scores rest on less evidence),
        the last one applying to every later step.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the
        :class:`~sklearn_nn.recurrent.SequenceClassifierRNN` torch module.
        {net_contract}
    n_iter_ : int
        Number of epochs run (summed over warm starts); a ridge fit counts
        as one.
    loss_curve_ : list of float
        Training loss (with target replication) at each epoch.
    validation_loss_curve_ : list of float or None
        Final-step validation loss at each epoch (``early_stopping=True``
        only).
    validation_scores_ : list of float or None
        Validation accuracy at each epoch (``early_stopping=True`` only).
    best_validation_score_ : float or None
        Best validation accuracy (``early_stopping=True`` only).

    See Also
    --------
    sklearn.neural_network.MLPClassifier : A feed-forward network on
        fixed-length feature vectors.

    References
    ----------
    .. [1] Z. C. Lipton, D. C. Kale, C. Elkan and R. Wetzel, "Learning to
       Diagnose with LSTM Recurrent Neural Networks", ICLR 2016.
    .. [2] S. Bai, J. Z. Kolter and V. Koltun, "An Empirical Evaluation of
       Generic Convolutional and Recurrent Networks for Sequence Modeling",
       2018 (dilated causal convolutions).
    .. [3] Z. Wang, W. Yan and T. Oates, "Time Series Classification from
       Scratch with Deep Neural Networks: A Strong Baseline", IJCNN 2017
       (global average pooling, here as a running mean).
    .. [4] A. Dempster, D. F. Schmidt and G. I. Webb, "MiniRocket: A Very
       Fast (Almost) Deterministic Transform for Time Series
       Classification", KDD 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn import TargetReplicationLSTMClassifier
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=80)
    >>> X = [rng.randn(rng.randint(15, 30)) + 1.5 * label for label in y]
    >>> clf = TargetReplicationLSTMClassifier(random_state=0).fit(X, y)
    >>> clf.solver_, clf.random_features_
    ('ridge', 9996)
    >>> clf.score(X, y) > 0.9
    True
    >>> steps = clf.predict_proba_steps(X[:2])  # (2, longest length, n_classes)
    >>> steps.shape == (2, max(len(X[0]), len(X[1])), 2)
    True
    """

    _parameter_constraints: dict = {
        **NeuralClassifierBase._parameter_constraints,
        "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "cell": [StrOptions({"auto", "lstm", "gru"}), None],
        "random_features": [Interval(numbers.Integral, 0, None, closed="left")],
        "solver": [StrOptions({"auto", "ridge", "gradient"})],
        "replication_weight": [Interval(numbers.Real, 0, 1, closed="both")],
        "vocab_size": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "conv_filters": [StrOptions({"auto"}), "array-like"],
        "conv_kernel_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "padding_value": [numbers.Real, None],
        "early_threshold": [Interval(numbers.Real, 0, 1, closed="right")],
        "early_consecutive": [Interval(numbers.Integral, 1, None, closed="left")],
        "missing_values": [StrOptions({"auto", "indicators", "error"})],
        "time_channel": [Interval(numbers.Integral, 0, None, closed="left"), None],
    }

    # early_threshold is read at prediction time only
    _WARM_START_SETTINGS = NeuralClassifierBase._WARM_START_SETTINGS | {
        "early_threshold",
        "early_consecutive",
    }

    # the most sequences per forward pass at prediction time
    _max_inference_batch_size = 1024
    # the random features of a chunk of sequences at prediction time hold at
    # most this many (step, feature) entries
    _random_inference_entries = 2**26
    # target replication on the ridge read-out: the features of each
    # sequence at this many evenly spaced steps (the last one included)
    _replication_points = 10
    # sequence data sets are small (UCR/UEA: tens to hundreds of sequences):
    # batches of 32 give enough optimizer steps per epoch (see the user guide)
    _auto_batch_size = 32

    def __init__(
        self,
        *,
        random_features=10_000,
        cell="auto",
        solver="auto",
        hidden_size=32,
        num_layers=1,
        replication_weight=0.0,
        vocab_size=None,
        embedding_dim=16,
        dropout=0.0,
        conv_filters=(),
        conv_kernel_size=5,
        padding_value=None,
        class_weight=None,
        missing_values="auto",
        time_channel=None,
        early_threshold=0.9,
        early_consecutive=1,
        max_epochs=200,
        batch_size="auto",
        lr=1e-3,
        optimizer="adam",
        weight_decay=0.0,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=100,
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
        self.random_features = random_features
        self.cell = cell
        self.solver = solver
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.replication_weight = replication_weight
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.conv_filters = conv_filters
        self.conv_kernel_size = conv_kernel_size
        self.padding_value = padding_value
        self.class_weight = class_weight
        self.missing_values = missing_values
        self.time_channel = time_channel
        self.early_threshold = early_threshold
        self.early_consecutive = early_consecutive

    # -------------------------------------------------------------- fit
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Fit the network to labelled sequences.

        Parameters
        ----------
        X : array-like or list of array-like
            Training sequences, in one of these formats:

            * 2-D float array of shape (n_sequences, n_steps): univariate
              sequences (also a DataFrame, or a list of equal-length 1-D
              sequences);
            * 3-D float array of shape (n_sequences, n_steps, n_channels):
              multivariate sequences;
            * list of arrays of shape (T_i,) or (T_i, n_channels) whose
              lengths differ (ragged);
            * with ``vocab_size`` set: integer token ids, a 2-D array of
              shape (n_sequences, n_steps) or a list of 1-D arrays.

            In an array, a shorter float sequence ends in trailing padding:
            NaN in every channel, or ``padding_value`` in every channel. Token
            0 is padding wherever it is. See :ref:`sequence_input`.
        y : array-like of shape (n_sequences,)
            Class label of each sequence (the target of every step with target
            replication).
        sample_weight : array-like of shape (n_sequences,), default=None
            Per-sequence weights, multiplied into the whole loss of a sequence
            (both terms, like ``class_weight``). An integer weight has the
            same effect as repeating the sequence that many times (exactly so
            when a batch holds the whole training set).
        {validation_parameters}

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(
            X,
            y,
            sample_weight=sample_weight,
            X_val=X_val,
            y_val=y_val,
            sample_weight_val=sample_weight_val,
        )

    def _gradient_solver(self):
        # as MLPClassifier(solver='lbfgs') has no partial_fit
        if self.solver == "ridge":
            raise AttributeError(
                "partial_fit is not available with solver='ridge', a closed-form "
                "fit on the whole training set; use solver='gradient' or 'auto' "
                "(which is 'gradient' in partial_fit)."
            )
        return True

    @available_if(_gradient_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train on one chunk of labelled sequences: one pass over it.

        Each call trains every part by gradient (``solver='auto'`` is
        'gradient' here) for one epoch over the chunk, in batches of
        sequences of similar length; the network, the optimizer's state and
        the random streams carry over, and ``n_iter_`` and ``loss_curve_``
        grow by one. The first call builds the encoder from its chunk: the
        random features' dilations (up to its longest sequence) and biases,
        ``conv_filters='auto'``, whether missing-value indicators are read
        (``missing_values='auto'``: set ``'indicators'`` when a later chunk
        may have gaps that the first has not) and ``classes_`` (from
        ``classes``); later chunks may hold longer sequences. Calling it
        ``k`` times on the same data with the same ``random_state`` trains
        the same network as ``fit`` with ``solver='gradient'`` and
        ``max_epochs=k``. A model fitted with the closed-form read-out
        (``solver_='ridge'``) cannot be continued by gradient: fit it with
        ``solver='gradient'``. ``early_stopping`` does not apply;
        ``class_weight='balanced'`` is refused (pass a dict). Standardise
        the chunks with one fitted
        :class:`~sklearn_nn.preprocessing.SequenceStandardScaler` (its own
        ``partial_fit`` learns the channels' moments chunk by chunk).

        Parameters
        ----------
        X : array-like or list of array-like
            One chunk of sequences, in any form ``fit`` takes (a list of
            arrays of shape (T_i,) or (T_i, n_channels), a 2-D or 3-D
            array, token ids with ``vocab_size``).
        y : array-like of shape (n_sequences,)
            Their labels.
        classes : array-like of shape (n_classes,), default=None
            Every label that any chunk may hold. Required on the first call;
            afterwards None or the same labels.
        sample_weight : array-like of shape (n_sequences,), default=None
            Per-sequence weights of this chunk.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_nn import TargetReplicationLSTMClassifier
        >>> rng = np.random.RandomState(0)
        >>> y = rng.randint(2, size=120)
        >>> X = [rng.normal(size=rng.randint(20, 40)) + 2 * c for c in y]
        >>> clf = TargetReplicationLSTMClassifier(lr=1e-2, random_state=0)
        >>> for epoch in range(5):
        ...     for start in range(0, 120, 40):
        ...         chunk = slice(start, start + 40)
        ...         clf = clf.partial_fit(X[chunk], y[chunk], classes=[0, 1])
        >>> clf.solver_, clf.n_iter_
        ('gradient', 15)
        >>> clf.score(X, y) > 0.9
        True
        """
        if getattr(self, "solver_", None) == "ridge":
            raise ValueError(
                "partial_fit trains by gradient, but this model was fitted in "
                "closed form (solver_='ridge'); fit it with solver='gradient' to "
                "continue it chunk by chunk, or start from an unfitted clone."
            )
        return self._classifier_partial_fit(X, y, classes, sample_weight)

    # ------------------------------------------------------------ input
    def _read_sequences(self, X, *, reset, y=None):
        """``X`` (any accepted format) -> ``(PaddedSequences, y)``.

        The shared sequence layer sets (``reset=True``) or checks
        ``n_features_in_`` and ``feature_names_in_``.
        """
        if reset:
            self._vocab_size = self.vocab_size
            self._padding_value = check_padding_value(
                self.padding_value, tokens=self.vocab_size is not None
            )
        tokens = self._vocab_size is not None
        seqs, y = check_sequences(
            self,
            X,
            reset=reset,
            y=y,
            vocab_size=self._vocab_size,
            padding_value=self._padding_value,
            dtype=self._numpy_dtype,
            allow_missing=not tokens and self.missing_values != "error",
        )
        if not tokens:
            self._check_missing_and_times(seqs, reset=reset)
        elif reset:
            self.missing_indicators_ = False
        if reset:
            longest = int(seqs.lengths.max())
            self.conv_filters_ = self._resolve_conv_filters(longest)
            self.cell_, self.solver_, random = self._resolve_architecture(longest)
            if random:
                self._random_layout = random_convolution_layout(
                    longest, self.random_features
                )
                self.random_features_ = 84 * sum(self._random_layout[1])
            else:
                self._random_layout = None
                self.random_features_ = 0
        return seqs, y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN in some channels of a step is a missing value
        tags.input_tags.allow_nan = self.missing_values != "error"
        return tags

    def _check_missing_and_times(self, seqs, *, reset):
        """Sets (``reset``) or applies ``missing_indicators_``; checks the
        time channel."""
        missing = check_missing_and_times(
            seqs,
            time_channel=self.time_channel,
            indicators=None if reset else self.missing_indicators_,
            estimator=type(self).__name__,
        )
        if reset:
            self.missing_indicators_ = uses_missing_inputs(
                self.missing_values, missing, self.time_channel
            )

    def _resolve_architecture(self, longest=None):
        """``(cell_, solver_, random)``: the 'auto' values resolved for
        training sequences whose longest has ``longest`` steps (None: the
        parameters alone, checked before any data work)."""
        tokens = self.vocab_size is not None
        # the random convolutions' nine taps need float sequences of at
        # least nine steps to give informative features
        random = bool(self.random_features) and not tokens
        cell = self.cell
        short = False
        if cell == "auto":
            short = longest is not None and longest < _RANDOM_MIN_STEPS
            cell = "gru" if not random or short else None
            random = random and not short
        auto_conv = isinstance(self.conv_filters, str) and self.conv_filters == "auto"
        has_conv = auto_conv or bool(layer_sizes(self.conv_filters, "conv_filters"))
        if cell is None and not has_conv and not random:
            raise ValueError(
                "cell=None needs another part to read the sequences: random "
                "features (random_features > 0, float sequences only) or "
                "conv_filters."
            )
        trained = cell is not None or has_conv or tokens
        solver = self.solver
        partial = getattr(getattr(self, "_fit_call", None), "partial", False)
        if solver == "auto":
            # early stopping watches an iterative fit; partial_fit trains
            # one epoch per chunk
            iterative = trained or self.early_stopping or partial
            solver = "gradient" if iterative else "ridge"
        if solver == "ridge":
            if trained:
                raise ValueError(
                    "solver='ridge' fits a linear read-out of the fixed random "
                    "features in closed form, but this encoder has trained parts "
                    f"(cell={cell!r}, conv_filters={self.conv_filters!r}"
                    + (", token input" if tokens else "")
                    + (
                        f"; cell='auto' is 'gru' because the longest training "
                        f"sequence has {longest} steps, under the random "
                        f"kernels' {_RANDOM_MIN_STEPS}"
                        if short
                        else ""
                    )
                    + "); use solver='gradient' or 'auto', or cell=None and "
                    "conv_filters=()."
                )
            if self.early_stopping:
                raise ValueError(
                    "early_stopping=True stops gradient training, but "
                    "solver='ridge' fits the read-out in closed form (its penalty "
                    "chosen by generalised cross-validation); use "
                    "early_stopping=False, or solver='gradient' or 'auto'."
                )
        return cell, solver, random

    def _check_parameters(self):
        if not (isinstance(self.conv_filters, str) and self.conv_filters == "auto"):
            layer_sizes(self.conv_filters, "conv_filters")
        check_time_channel_parameters(
            self.time_channel, self.missing_values, self.vocab_size
        )
        if 0 < self.random_features < 84:
            raise ValueError(
                "random_features must be 0 (none) or at least 84 (one feature "
                f"per kernel), got {self.random_features}."
            )
        self._resolve_architecture()

    def _resolve_conv_filters(self, longest):
        """``conv_filters``, with 'auto' resolved for sequences of ``longest``."""
        if not (isinstance(self.conv_filters, str) and self.conv_filters == "auto"):
            return layer_sizes(self.conv_filters, "conv_filters")
        k = self.conv_kernel_size
        n_layers = 2
        # receptive field 1 + (k - 1) * (2**n - 1) >= a quarter of the
        # longest sequence (the running mean of the features reaches the
        # rest)
        while k > 1 and 4 * (1 + (k - 1) * (2**n_layers - 1)) < longest:
            n_layers += 1
        return (64,) * n_layers

    def _validate_fit_data(self, X, y, *, reset):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        return self._read_sequences(X, reset=reset, y=y)

    def _validate_X(self, X, *, reset):
        return self._read_sequences(X, reset=reset)[0]

    def _make_inputs(self, X: PaddedSequences):
        values = torch.from_numpy(X.values)
        return values, torch.from_numpy(X.lengths)

    def _batch_iterator(self, *, shuffle, generator=None):
        return functools.partial(
            LengthBucketIterator, shuffle=shuffle, generator=generator
        )

    @property
    def _inference_batch_size(self):
        layout = getattr(self, "_random_layout", None)
        if not layout:
            return self._max_inference_batch_size
        # a chunk's random features, (rows, steps, 84 * features per dilation)
        # for the widest dilation group, stay below _random_inference_entries
        entries = getattr(self, "_longest", 1) * 84 * max(layout[1])
        rows = self._random_inference_entries // max(entries, 1)
        return int(min(self._max_inference_batch_size, max(1, rows)))

    # ------------------------------------------------------------ model
    def _training_data(self, X, y, target, weight, rng):
        self._longest = int(X.lengths.max())
        self._n_scaled_steps = 0
        for name in ("ridge_alpha_", "temperature_"):
            self.__dict__.pop(name, None)
        warm = self._fit_call.warm
        self._fitted_observed = None
        if self.missing_indicators_:
            if warm:
                # on the CPU, where the training data are prepared
                observed = self.net_.module_.encoder.observed
                self._fitted_observed = copy.deepcopy(observed).to("cpu")
            else:
                values, lengths = self._make_inputs(X)
                self._fitted_observed = ObservedInputs(
                    self._n_channels, self.time_channel
                ).fit(values, lengths)
        if self._random_layout is not None:
            if warm:
                # a warm start keeps the fitted features (a CPU copy)
                random = copy.deepcopy(self.net_.module_.encoder.random).to("cpu")
            else:
                self._random_seed = int(rng.randint(2**31 - 1))
                random = CausalRandomConvolutions(
                    self._encoder_inputs(),
                    *self._random_layout,
                    seed=self._random_seed,
                ).to(self._torch_dtype)
                generator = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
                values, lengths = self._make_inputs(X)
                values = self._prepared(values)
                random.fit_biases(
                    values,
                    lengths,
                    generator,
                    None if weight is None else torch.as_tensor(weight),
                )
            self._fitted_random = random
        else:
            self._random_seed = 0
        if self.solver_ != "ridge":
            return super()._training_data(X, y, target, weight, rng)
        # the ridge read-out's rows: the features of every sequence at the
        # replication points (the last step only without replication)
        n_points = self._replication_points if self.replication_weight > 0 else 1
        features, points = self._random_features_at(X, n_points)
        return TensorBatches(
            (features, points),
            torch.as_tensor(target),
            None if weight is None else torch.as_tensor(weight),
        )

    def _encoder_inputs(self):
        """Channels the encoder reads (after the missing-value inputs)."""
        if self._fitted_observed is not None:
            return self._fitted_observed.n_outputs
        return self._n_channels

    def _prepared(self, values):
        """``values`` through the fitted missing-value inputs, if any."""
        if self._fitted_observed is None:
            return values
        with torch.no_grad():
            return self._fitted_observed(values)

    def _random_features_at(self, X: PaddedSequences, n_points):
        """The random features of ``X`` at ``n_points`` evenly spaced steps of
        each sequence, the last step last: (n, n_points, random_features_),
        and those steps (n, n_points)."""
        lengths = torch.from_numpy(X.lengths)
        k = torch.arange(1, n_points + 1)
        # ceil(length * k / n_points) - 1
        points = (
            -torch.div(-lengths[:, None] * k, n_points, rounding_mode="floor")
        ) - 1
        # float32 (to 1e-7) halves the memory of the rows (10 per sequence
        # with replication)
        out = torch.empty(len(X), n_points, self.random_features_, dtype=torch.float32)
        size = self._inference_batch_size
        random = self._fitted_random
        with torch.inference_mode():
            for start in range(0, len(X), size):
                rows = slice(start, start + size)
                chunk = torch.from_numpy(X.values[rows])
                chunk_lengths = lengths[rows]
                chunk = self._prepared(chunk[:, : int(chunk_lengths.max())])
                out[rows] = random.features_at(chunk, chunk_lengths, points[rows])
        return out, points

    def _train(self, net, data):
        if self.solver_ != "ridge":
            return super()._train(net, data)
        features = data.inputs[0].cpu().numpy()
        codes = data.target.cpu().numpy()
        weight = None if data.weight is None else data.weight.cpu().numpy()
        points = data.inputs[1].cpu().numpy()
        n, n_points = features.shape[:2]
        extra = final_weight = row_steps = None
        if n_points > 1:
            # target replication: the earlier points' rows share alpha of each
            # sequence's weight, the last step keeps 1 - alpha (as the loss);
            # the penalty and the temperature are chosen on the last steps
            alpha = self.replication_weight
            w = np.ones(n) if weight is None else weight
            extra = (
                features[:, :-1].reshape(-1, features.shape[2]),
                np.repeat(codes, n_points - 1),
                np.repeat(w * alpha / n_points, n_points - 1),
                np.repeat(np.arange(n), n_points - 1),
            )
            final_weight = w * (1 - alpha + alpha / n_points)
            row_steps = np.concatenate([points[:, -1], points[:, :-1].ravel()])
        coef, intercept, alpha, temperature = fit_ridge_readout(
            features[:, -1],
            codes,
            len(self.classes_),
            weight,
            extra,
            final_weight,
            row_steps,
        )
        self.ridge_alpha_ = alpha
        self.temperature_ = temperature
        if np.ndim(temperature):
            # a temperature per step: the module scales its logits with it
            self._n_scaled_steps = len(temperature)
            net.module_.step_scale = torch.as_tensor(
                temperature, dtype=net.module_.output.weight.dtype
            ).to(net.module_.output.weight.device)
            last = float(temperature[-1])
        else:
            self._n_scaled_steps = 0
            last = 1.0
        output = net.module_.output
        with torch.no_grad():
            output.weight.copy_(torch.as_tensor(coef, dtype=output.weight.dtype))
            output.bias.copy_(torch.as_tensor(intercept, dtype=output.bias.dtype))
        # one "epoch": the training loss of the fitted read-out
        final_steps = np.minimum(points[:, -1], max(self._n_scaled_steps - 1, 0))
        factor = temperature[final_steps][:, None] if np.ndim(temperature) else last
        logits = torch.as_tensor((features[:, -1] @ coef.T + intercept) * factor)
        nll = -torch.log_softmax(logits, dim=1)[torch.arange(n), data.target.cpu()]
        w = (
            torch.ones(n, dtype=nll.dtype)
            if weight is None
            else torch.as_tensor(weight)
        )
        net.history.new_epoch()
        net.history.record("epoch", len(net.history))
        net.history.record("train_loss", float((nll * w).sum() / w.sum()))

    def _post_fit(self, X, target, weight, data):
        self.__dict__.pop("_fitted_random", None)
        self.__dict__.pop("_fitted_observed", None)

    def _build_module(self):
        tokens = self._sequence_layout == "tokens"
        module = SequenceClassifierRNN(
            self._n_channels,
            len(self.classes_),
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            cell=self.cell_,
            dropout=self.dropout,
            vocab_size=self._vocab_size if tokens else None,
            embedding_dim=self.embedding_dim,
            conv_filters=self.conv_filters_,
            conv_kernel_size=self.conv_kernel_size,
            random_layout=self._random_layout,
            random_seed=self._random_seed,
            n_scaled_steps=getattr(self, "_n_scaled_steps", 0),
            observed_inputs=(
                (self._n_channels, self.time_channel)
                if getattr(self, "missing_indicators_", False)
                else None
            ),
        )
        # the fitted blocks' values in the network's own precision
        module = module.to(self._torch_dtype)
        fitted = getattr(self, "_fitted_random", None)
        if fitted is not None:
            module.encoder.random.load_state_dict(fitted.state_dict())
        observed = getattr(self, "_fitted_observed", None)
        if observed is not None:
            module.encoder.observed.load_state_dict(observed.state_dict())
        return module

    def _build_criterion(self):
        return TargetReplicationLoss(self.replication_weight)

    # ---------------------------------------------------------- predict
    def _infer(self, X, *, steps):
        """Final-step log-probabilities (and per-step ones when ``steps``).

        Up to ``_inference_batch_size`` sequences run as one batch; more are
        run in chunks of similar length, each trimmed to its longest
        sequence, and put back in the input order.
        """
        check_is_fitted(self)
        with _numeric_input_errors():
            X = self._validate_X(X, reset=False)
        inputs = self._make_inputs(X)
        size, net = self._inference_batch_size, self.net_
        if steps:
            final, per_step, _ = net.infer_all(inputs, size, by_length=True)
        else:
            final = net.infer_all(inputs, size, by_length=True, return_steps=False)
        _check_no_nan_output(final)
        if not steps:
            return final
        mask = step_mask(inputs[1], per_step.shape[1])
        return final, per_step.to(torch.float64).masked_fill(~mask[..., None], math.nan)

    def _forward(self, X):
        return self._infer(X, steps=False)

    def predict_log_proba(self, X):
        """Log of the class probabilities after each sequence's last step.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any of the input formats of :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_sequences, n_classes)
            Log-probabilities of the distribution after each sequence's own
            last real step (padding does not change them), columns ordered as
            ``classes_``.
        """
        return super().predict_log_proba(X)

    def predict_proba(self, X):
        """Class probabilities after each sequence's last step.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any of the input formats of :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_sequences, n_classes)
            The distribution after each sequence's own last real step (rows
            sum to 1), columns ordered as ``classes_``. See
            :meth:`predict_proba_steps` for every step.
        """
        return super().predict_proba(X)

    def predict(self, X):
        """Most probable class of each sequence, after its last step.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any of the input formats of :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_sequences,)
            Predicted labels, drawn from ``classes_``.
        """
        return super().predict(X)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of the final-step predictions.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any of the input formats of :meth:`fit`.
        y : array-like of shape (n_sequences,)
            True labels.
        sample_weight : array-like of shape (n_sequences,), default=None
            Per-sequence weights.

        Returns
        -------
        float
            Accuracy of :meth:`predict` against ``y``.
        """
        return super().score(X, y, sample_weight=sample_weight)

    def predict_proba_steps(self, X):
        """Class probabilities after each step of each sequence.

        Entry ``[i, t]`` is the distribution ``y_hat_t`` the model predicts
        for sequence ``i`` having read its steps ``0..t`` only (the network is
        unidirectional): watch the prediction form as a sequence unfolds.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any of the input formats of :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_sequences, max_length, n_classes)
            ``max_length`` is the longest real length in ``X``. Entries past a
            sequence's own length are NaN (trailing padding, as in the
            input). ``[i, length_i - 1]`` equals ``predict_proba(X)[i]``.
        """
        _, per_step = self._infer(X, steps=True)
        log_norm = torch.logsumexp(per_step, dim=2, keepdim=True)
        return torch.exp(per_step - log_norm).numpy()

    def stream(self):
        """Score one sequence while its steps arrive.

        Returns an object whose ``update(steps)`` takes the next step(s) of
        the sequence, an array of shape (n_channels,) or (T, n_channels) (a
        1-D array is T steps of a one-channel sequence)
        (NaN for a missing value where the model reads them), and returns
        the class probabilities after each of them, shape (T, n_classes):
        the rows :meth:`predict_proba_steps` gives on the whole sequence, up
        to floating-point rounding, without recomputing the prefix (the
        recurrent state, the convolutions' last inputs and the running sums
        are carried; see :class:`~sklearn_nn.recurrent.SequenceStream`).
        Start a new stream for each sequence.

        Returns
        -------
        stream : object with an ``update(steps)`` method
        """
        check_is_fitted(self)
        if self._sequence_layout == "tokens":
            raise ValueError(
                "stream() scores float sequences; this model reads token ids."
            )
        module = self.net_.module_
        if str(self.net_.device) != "cpu":
            module = copy.deepcopy(module).to("cpu")
        return _EstimatorStream(self, SequenceStream(module.eval()))

    def predict_early(self, X):
        """Each sequence's class, decided as early as ``early_threshold`` allows.

        A sequence is decided at its first step whose most probable class
        has a probability of at least ``early_threshold`` in
        :meth:`predict_proba_steps` (for ``early_consecutive`` steps in a
        row, with the same class), and at its last step otherwise. The
        probabilities are causal, so a decision made before a sequence's
        last step never depends on the steps after it: appending steps to
        the sequence leaves it unchanged.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any of the input formats of :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_sequences,)
            The class decided, drawn from ``classes_``.
        decision_steps : ndarray of shape (n_sequences,)
            The step (0-based) at which each sequence was decided: ``t``
            means that steps ``0..t`` were read.
        """
        codes, steps, _ = decide_early(
            self.predict_proba_steps(X), self.early_threshold, self.early_consecutive
        )
        return self.classes_[codes], steps

    def early_score(self, X, y, sample_weight=None):
        """Harmonic mean of accuracy and earliness of :meth:`predict_early`.

        The definitions of aeon's early classifiers (TEASER,
        ``ProbabilityThresholdEarlyClassifier``), so that the numbers compare:
        a sequence's earliness is the number of steps read when it was
        decided over its length, and the harmonic mean is ``2 * accuracy *
        (1 - earliness) / (accuracy + 1 - earliness)``.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any of the input formats of :meth:`fit`.
        y : array-like of shape (n_sequences,)
            True labels.
        sample_weight : array-like of shape (n_sequences,), default=None
            Weights of the sequences in both averages.

        Returns
        -------
        harmonic_mean : float
        accuracy : float
        earliness : float
            Mean fraction of each sequence read before its decision.
        """
        probas = self.predict_proba_steps(X)
        codes, steps, lengths = decide_early(
            probas, self.early_threshold, self.early_consecutive
        )
        y = column_or_1d(y, warn=True)
        if len(y) != len(codes):
            raise ValueError(
                f"y has {len(y)} labels, but X holds {len(codes)} sequences."
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, probas[:, 0, 0])
        return early_scores(self.classes_[codes] == y, steps, lengths, sample_weight)
