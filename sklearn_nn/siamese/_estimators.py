"""Siamese / two-tower pair estimators."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from .._base import (
    BaseNeuralEstimator,
    NeuralClassifierBase,
    NeuralRegressorBase,
    _as_tensor,
    _check_label_types,
    _to_numpy,
    fill_doc,
)
from .._layers import ACTIVATIONS, POOLINGS, ObservedInputs, layer_sizes
from .._partial_fit import ClassifierPartialFitMixin, RegressorPartialFitMixin
from .._rows import RowBlocks, is_row_source
from .._sequences import (
    PaddedSequences,
    check_missing_and_times,
    check_padding_value,
    check_time_channel_parameters,
    is_pair_list,
    read_float_sequences,
    read_token_sequences,
    uses_missing_inputs,
    warn_inner_token_zeros,
    warn_zero_padding,
)
from ..exceptions import CollapsedEmbeddingWarning, NegativePairsWarning, _warn
from ._calibration import _platt_scaling
from ._collapse import _COLLAPSE_TOLERANCE, _spread
from ._docs import PAIR_DOC_SECTIONS
from ._modules import (
    DISTANCES,
    MLPTower,
    SequenceTower,
    SiameseNetwork,
    SiamesePairLoss,
    SimilarityReadout,
    VerificationReadout,
    pair_distance,
)
from ._negatives import add_negatives, negatives_needed
from ._pairs import PairSequences, _resolve_n_left

_SIAMESE_CONSTRAINTS = {
    "n_left_features": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "tower": [StrOptions({"mlp", "lstm", "gru"})],
    "shared_weights": ["boolean"],
    "hidden_layer_sizes": ["array-like"],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
    "vocab_size": [Interval(numbers.Integral, 2, None, closed="left"), None],
    "token_embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
    "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "pooling": [StrOptions(set(POOLINGS))],
    "conv_filters": ["array-like"],
    "conv_kernel_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "padding_value": [numbers.Real, None],
    "missing_values": [StrOptions({"auto", "indicators", "error"})],
    "time_channel": [Interval(numbers.Integral, 0, None, closed="left"), None],
    "distance": [StrOptions(set(DISTANCES))],
    "margin": [Interval(numbers.Real, 0, None, closed="neither")],
    "negatives": [StrOptions({"auto", "none"})],
    "negative_ratio": [Interval(numbers.Real, 0, None, closed="neither")],
}


class _SiameseMixin(TransformerMixin):
    """What the two pair estimators share: the pair layouts, the towers,
    negative generation, the collapse check, ``transform`` and ``embed``."""

    # ------------------------------------------------------------ validation
    @property
    def _sequence_tower(self):
        return self.tower != "mlp"

    def _check_parameters(self):
        self._check_tower_parameters()

    @property
    def _reads_row_sources(self):
        # the pair matrix of the MLP towers: a memory map is read a block of
        # rows at a time (see _rows.py); sequences are read into memory
        return not self._sequence_tower

    def _validate_fit_data(self, X, y, *, reset):
        if self._sequence_tower:
            return self._read_pairs(X, reset=reset, y=y)
        if reset:
            # feature vectors, where NaN is an error
            self.missing_indicators_ = False
        if is_pair_list(X):
            raise ValueError(self._pair_list_message())
        if is_row_source(X):
            X, y = super()._validate_fit_data(X, y, reset=reset)
            if reset:
                self.n_left_features_ = self._resolve_split(X.shape[1])
            return X, y
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=(np.float64, np.float32),
            order="C",
            **self._y_validation_kwargs(),
        )
        if reset:
            self.n_left_features_ = self._resolve_split(X.shape[1])
        return X, y

    def _validate_X(self, X, *, reset):
        if self._sequence_tower:
            return self._read_pairs(X, reset=reset)[0]
        if is_pair_list(X):
            raise ValueError(self._pair_list_message())
        return super()._validate_X(X, reset=reset)

    def _pair_list_message(self):
        return (
            "X is a list of (left, right) pairs of sequences, but tower='mlp' "
            "embeds fixed-width feature vectors given as the pair matrix "
            "[left features | right features]. Use tower='gru' or tower='lstm' "
            "for pairs of sequences."
        )

    def _check_tower_parameters(self):
        tokens = self.vocab_size is not None
        if tokens and not self._sequence_tower:
            raise ValueError(
                f"vocab_size={self.vocab_size} reads token sequences, which need "
                "a sequence tower (tower='gru' or tower='lstm'), but tower='mlp'."
            )
        self._padding_value = check_padding_value(self.padding_value, tokens=tokens)
        if self._padding_value is not None and not self._sequence_tower:
            raise ValueError(
                "padding_value marks padding in sequences, which need a sequence "
                "tower (tower='gru' or tower='lstm'), but tower='mlp'."
            )
        check_time_channel_parameters(
            self.time_channel, self.missing_values, self.vocab_size
        )
        if self.time_channel is not None and not self._sequence_tower:
            raise ValueError(
                "time_channel names a channel of sequences, which need a sequence "
                "tower (tower='gru' or tower='lstm'), but tower='mlp'."
            )
        layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        layer_sizes(self.conv_filters, "conv_filters")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN in some channels of a step of a sequence is a missing value
        tags.input_tags.allow_nan = (
            self._sequence_tower
            and self.vocab_size is None
            and self.missing_values != "error"
        )
        return tags

    def _read_side(self, X_side, name, *, reset):
        """One side's items -> (:class:`PaddedSequences`, whether they have
        missing values), read by the shared layer. After fit, missing values
        that the towers do not read are an error."""
        if self.vocab_size is not None:
            seqs = read_token_sequences(X_side, vocab_size=self.vocab_size, name=name)
            if reset:
                warn_inner_token_zeros(seqs, type(self).__name__, name)
            return seqs, False
        seqs = read_float_sequences(
            X_side,
            name=name,
            dtype=self._numpy_dtype,
            padding_value=self._padding_value,
            allow_missing=self.missing_values != "error",
        )
        if reset and self._padding_value is None:
            warn_zero_padding(seqs, type(self).__name__, name)
        missing = check_missing_and_times(
            seqs,
            time_channel=self.time_channel,
            indicators=None if reset else self.missing_indicators_,
            name=name,
            estimator=type(self).__name__,
        )
        return seqs, missing

    def _read_pairs(self, X, *, reset, y=None):
        """Pairs of sequences (a pair list or a pair matrix) -> PairSequences."""
        name = type(self).__name__
        if is_pair_list(X):
            for i, pair in enumerate(X):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise ValueError(
                        f"X[{i}] is not a (left, right) pair: a list of pairs of "
                        "sequences needs two sequences in every entry."
                    )
            left, left_missing = self._read_side(
                [p[0] for p in X], "X (left items)", reset=reset
            )
            right, right_missing = self._read_side(
                [p[1] for p in X], "X (right items)", reset=reset
            )
            widths = left.n_channels, right.n_channels
            if reset:
                self._pair_layout = "list"
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            elif widths != self._channels:
                raise ValueError(
                    f"X has pairs with {widths[0]} and {widths[1]} channels per "
                    f"step, but {name} was fitted with {self._channels[0]} "
                    f"and {self._channels[1]}."
                )
            if y is not None:
                y = column_or_1d(y, warn=True)
                check_consistent_length(left, y)
        else:
            if not reset and self._pair_layout == "list":
                if getattr(X, "ndim", None) == 2 and self._channels == (1, 1):
                    # univariate sequences: split like the pair matrix
                    X = np.asarray(X)
                    k = X.shape[1] // 2
                    X = [(row[:k], row[k:]) for row in X]
                    return self._read_pairs(X, reset=False)
                raise ValueError(
                    f"{name} was fitted on a list of (left, right) pairs of "
                    "sequences; pass X in that form."
                )
            tokens = self.vocab_size is not None
            kwargs = dict(
                reset=reset,
                dtype="numeric" if tokens else np.float64,
                ensure_all_finite=True if tokens else "allow-nan",
            )
            if y is None:
                X = validate_data(self, X, **kwargs)
            else:
                X, y = validate_data(
                    self, X, y, **kwargs, **self._y_validation_kwargs()
                )
            if reset:
                self._pair_layout = "matrix"
                self.n_left_features_ = self._resolve_split(X.shape[1])
            k = self.n_left_features_
            left, left_missing = self._read_side(
                X[:, :k], "X (left items)", reset=reset
            )
            right, right_missing = self._read_side(
                X[:, k:], "X (right items)", reset=reset
            )
            widths = left.n_channels, right.n_channels
        if reset:
            if self.shared_weights and widths[0] != widths[1]:
                raise ValueError(
                    "shared_weights=True embeds both items with the same tower, so "
                    f"their steps need the same number of channels, but the left "
                    f"items have {widths[0]} and the right items {widths[1]}. Use "
                    "shared_weights=False for two towers."
                )
            self._channels = widths
            # one rule for both towers (one tower with shared weights)
            self.missing_indicators_ = self.vocab_size is None and uses_missing_inputs(
                self.missing_values, left_missing or right_missing, self.time_channel
            )
            if self._pair_layout == "list":
                self.n_left_features_ = widths[0]
                self.n_features_in_ = widths[0] + widths[1]
            if self.vocab_size is not None:
                self.vocab_size_ = int(self.vocab_size)
        return PairSequences(left, right), y

    def _side_widths(self):
        return self.n_left_features_, self.n_features_in_ - self.n_left_features_

    def _resolve_split(self, n_features):
        k = _resolve_n_left(n_features, self.n_left_features, name="X")
        if self.shared_weights and self.tower == "mlp" and 2 * k != n_features:
            raise ValueError(
                "shared_weights=True embeds both items with the same tower, so "
                "they need the same number of features, but "
                f"n_left_features={self.n_left_features} splits X's {n_features} "
                f"columns into {k} and {n_features - k}. Use shared_weights=False "
                "for two towers."
            )
        return k

    def _side_inputs(self, seqs: PaddedSequences):
        values = torch.from_numpy(seqs.values)
        return values, torch.from_numpy(seqs.lengths)

    def _make_inputs(self, X):
        if isinstance(X, PairSequences):
            left, left_lengths = self._side_inputs(X.left)
            right, right_lengths = self._side_inputs(X.right)
            return left, right, left_lengths, right_lengths
        k = self.n_left_features_
        if is_row_source(X):
            # each side reads its columns of the rows a batch block needs
            dtype = self._numpy_dtype
            return RowBlocks(X, dtype, columns=slice(None, k)), RowBlocks(
                X, dtype, columns=slice(k, None)
            )
        # one conversion of the whole pair matrix; the sides are views of it
        # (row-strided, which the linear layers read directly)
        pairs = _as_tensor(X, self._numpy_dtype)
        return pairs[:, :k], pairs[:, k:]

    # ----------------------------------------------------------------- module
    def _build_network(self):
        # the missing-value inputs' statistics fitted by _training_data (a
        # fresh fit only; a loaded model's come with its state)
        fitted = self.__dict__.pop("_fitted_observed", None)

        def tower(side):
            if self._sequence_tower:
                channels = self._channels[0 if side == "left" else 1]
                observed = getattr(self, "missing_indicators_", False)
                module = SequenceTower(
                    channels,
                    hidden_size=self.hidden_size,
                    embedding_dim=self.embedding_dim,
                    cell=self.tower,
                    pooling=self.pooling,
                    vocab_size=self.vocab_size,
                    token_embedding_dim=self.token_embedding_dim,
                    conv_filters=layer_sizes(self.conv_filters, "conv_filters"),
                    conv_kernel_size=self.conv_kernel_size,
                    observed_inputs=(
                        (channels, self.time_channel) if observed else None
                    ),
                )
                if fitted is not None:
                    # in the network's own precision
                    block = module.encoder.observed.to(self._torch_dtype)
                    block.load_state_dict(fitted[side].state_dict())
                return module
            k = self.n_left_features_
            return MLPTower(
                k if side == "left" else self.n_features_in_ - k,
                layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"),
                self.embedding_dim,
                self.activation,
            )

        return SiameseNetwork(
            tower("left"), None if self.shared_weights else tower("right")
        )

    def _fit_observed_inputs(self, X: PairSequences):
        """The missing-value inputs' statistics of each tower, fitted on the
        items of the training pairs: each channel's mean over its observed
        steps (the value before the first observation) and the median time
        between steps. A shared tower reads both sides, so its statistics
        come from the left and right items' steps together; two towers each
        get their own side's. An item in several pairs counts that often."""
        dtype = self._torch_dtype

        def fitted(sides):
            width = max(s.values.shape[1] for s in sides)
            values = np.concatenate(
                [
                    np.pad(s.values, ((0, 0), (0, width - s.values.shape[1]), (0, 0)))
                    for s in sides
                ]
            )
            lengths = np.concatenate([s.lengths for s in sides])
            block = ObservedInputs(values.shape[2], self.time_channel).to(dtype)
            return block.fit(torch.from_numpy(values), torch.from_numpy(lengths))

        if self.shared_weights:
            both = fitted([X.left, X.right])
            return {"left": both, "right": both}
        return {"left": fitted([X.left]), "right": fitted([X.right])}

    # -------------------------------------------------------------- negatives
    def _training_data(self, X, y, target, weight, rng):
        if self._sequence_tower and self.missing_indicators_:
            if not self._fit_call.warm:
                # read by _build_network (a warm fit keeps the fitted ones)
                self._fitted_observed = self._fit_observed_inputs(X)
        similar = self._similarity(target)
        n_new = 0
        if self.negatives == "auto":
            n_new, fraction = negatives_needed(similar, weight, self.negative_ratio)
        if n_new:
            _warn(
                f"{type(self).__name__}: only {fraction:.1%} of the training "
                f"pairs are dissimilar, so {n_new} dissimilar pairs were "
                "generated by re-pairing the left item of one pair with the "
                "right item of another (negatives='auto', negative_ratio="
                f"{self.negative_ratio}). Without dissimilar pairs the "
                "embeddings collapse to one point. Pass negatives='none' to "
                "train on the given pairs only.",
                NegativePairsWarning,
            )
            X, weight = add_negatives(X, weight, n_new, self.n_left_features_, rng)
            target = np.concatenate([target, self._dissimilar_target(n_new)])
        return super()._training_data(X, y, target, weight, rng)

    # -------------------------------------------------------------------- fit
    def _post_fit(self, X, target, weight, data):
        # on the given pairs (not the generated negatives)
        # the two embeddings only (the readout head is not needed)
        output = self._module_output(X, self.net_.module_.network)
        self._check_collapse(_to_numpy(output[-2]), _to_numpy(output[-1]))
        return output

    def _collapse_distance(self):
        """The distance the loss trains, and its scale, for the spread."""
        # (the classifier always trains the contrastive loss)
        loss = getattr(self, "loss", "contrastive")
        if loss == "contrastive" and self.distance == "euclidean":
            return "euclidean", self.margin
        # the cosine losses see directions only
        return "cosine", 1.0

    def _check_collapse(self, e_left, e_right):
        distance, scale = self._collapse_distance()
        spreads = {
            side: _spread(e, distance, scale)
            for side, e in (("left", e_left), ("right", e_right))
        }
        known = [v for v in spreads.values() if v is not None]
        self.embedding_spread_ = min(known) if known else None
        collapsed = [
            s for s, v in spreads.items() if v is not None and v < _COLLAPSE_TOLERANCE
        ]
        if not collapsed:
            return
        what = (
            "mean cosine distance" if distance == "cosine" else "mean distance / margin"
        )
        _warn(
            f"{type(self).__name__}: the {' and '.join(collapsed)} embeddings "
            "collapsed: different training items were mapped to (nearly) the "
            f"same {'direction' if distance == 'cosine' else 'vector'} "
            f"(embedding_spread_ = {self.embedding_spread_:.2g}, the {what} "
            "between different items), so the model cannot tell pairs apart. "
            "The usual cause is training on similar pairs only, which the loss "
            "rewards by mapping everything to one point: add dissimilar pairs, "
            "or keep negatives='auto' so that they are generated. A target that "
            "does not depend on the items, or a model trained for too few "
            "epochs or with too small an lr, looks the same.",
            CollapsedEmbeddingWarning,
        )

    # ---------------------------------------------------------------- outputs
    def transform(self, X):
        """Embeddings of both items of each pair, side by side.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features), or list of pairs
            Pairs, in a format of :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_pairs, 2 * embedding_dim)
            ``[left embedding | right embedding]``.
        """
        output = self._forward(X)
        return np.hstack([_to_numpy(output[-2]), _to_numpy(output[-1])])

    def embed(self, X_side, side="left"):
        """Embed single items with the left or the right tower.

        Parameters
        ----------
        X_side : array-like or list of array-like
            Items of one side. MLP towers: an array of shape (n_items,
            n_side_features), with ``n_left_features_`` columns for the left
            side and ``n_features_in_ - n_left_features_`` for the right side.
            Sequence towers: sequences in any format of the sequence layer
            (a list of arrays of shape (T_i,) or (T_i, n_channels), a 2-D
            array of univariate sequences or token ids, a 3-D array), of any
            length.
        side : {'left', 'right'}, default='left'
            Which tower to use (the same one when ``shared_weights=True``).

        Returns
        -------
        ndarray of shape (n_items, embedding_dim)
        """
        check_is_fitted(self)
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}.")
        net = self.net_
        tower = net.module_.network.tower(side)
        width = self._side_widths()[0 if side == "left" else 1]
        if self._sequence_tower:
            seqs, _ = self._read_side(X_side, "X_side", reset=False)
            channels = self._channels[0 if side == "left" else 1]
            if seqs.n_channels != channels:
                raise ValueError(
                    f"X_side has {seqs.n_channels} channels per step, but the "
                    f"{side} items of {type(self).__name__} have {channels}."
                )
            inputs = self._side_inputs(seqs)
        else:
            X_side = check_array(
                X_side, dtype=(np.float64, np.float32), input_name="X_side"
            )
            if X_side.shape[1] != width:
                raise ValueError(
                    f"X_side has {X_side.shape[1]} features, but the {side} items "
                    f"of {type(self).__name__} have {width} (n_left_features_="
                    f"{self.n_left_features_}, n_features_in_={self.n_features_in_})."
                )
            inputs = (_as_tensor(X_side, self._numpy_dtype),)
        return _to_numpy(
            net.infer_all(
                inputs,
                self._inference_batch_size,
                tower,
                by_length=self._sequence_tower,
            )
        )

    def set_output(self, *, transform=None):
        """Set the output container of ``transform`` and ``fit_transform``.

        Parameters
        ----------
        transform : {'default', 'pandas', 'polars'} or None, default=None
            'default': NumPy arrays; 'pandas' / 'polars': data frames with the
            columns of :meth:`get_feature_names_out`; None leaves the
            configuration unchanged.

        Returns
        -------
        self : object
            The estimator.
        """
        return super().set_output(transform=transform)

    def get_feature_names_out(self, input_features=None):
        """Names of the ``transform`` output columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_``.

        Returns
        -------
        ndarray of str objects
            ``left0 .. left{k-1}, right0 .. right{k-1}`` with
            ``k = embedding_dim``.
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        k = self.embedding_dim
        names = [f"left{i}" for i in range(k)] + [f"right{i}" for i in range(k)]
        return np.asarray(names, dtype=object)


@fill_doc(**PAIR_DOC_SECTIONS)
class SiamesePairRegressor(
    RegressorMixin, RegressorPartialFitMixin, _SiameseMixin, NeuralRegressorBase
):
    """Siamese / two-tower regressor of the similarity of pairs.

    Each row of ``X`` is a pair ``[left item | right item]``. The two items
    are embedded by the same tower (``shared_weights=True``) or by two towers,
    and the similarity of the embeddings is trained to match ``y``.

    **Target scale.** ``y`` is mapped linearly from ``target_range_ = (low,
    high)`` to a similarity ``s`` in [0, 1]; ``predict`` maps back, so
    predictions are on ``y``'s scale and always inside ``target_range_``.
    With ``target_range='auto'``, ``y`` in [0, 1] is read as similarities in
    [0, 1], ``y`` in [-1, 1] (with a negative value) as cosine-like
    similarities in [-1, 1], and any other ``y`` is scaled from its observed
    minimum and maximum.

    **Losses.** 'cosine_mse': ``(cos(f(a), g(b)) - (2 s - 1))^2``, so a
    [-1, 1] target is matched by the cosine itself and a [0, 1] target by
    ``(1 + cos) / 2``; ``predict`` returns ``low + (1 + cos) / 2 * (high -
    low)``. 'contrastive': the loss of Hadsell, Chopra and LeCun with a true
    ``distance`` ``d``, ``s d^2 + (1 - s) max(margin - d, 0)^2``; for a soft
    label ``s`` it is smallest at ``d = (1 - s) margin``, so ``predict``
    returns ``low + clip(1 - d / margin, 0, 1) * (high - low)``.

    Read more in the :ref:`User Guide <siamese>`.

    Parameters
    ----------
    {pair_parameters}
    loss : {'cosine_mse', 'contrastive'}, default='cosine_mse'
        Training loss (see above).
    distance : {'euclidean', 'cosine'}, default='euclidean'
        Distance of the contrastive loss: ``||f(a) - g(b)||`` or the cosine
        distance ``1 - cos(f(a), g(b))`` in [0, 2].
    margin : float, default=1.0
        Margin of the contrastive loss.
    target_range : 'auto' or (float, float), default='auto'
        The ``(low, high)`` similarity scale of ``y``: ``low`` means
        dissimilar (similarity 0), ``high`` identical (similarity 1). Values
        of ``y`` outside it are an error.
    {negatives}
        Generated pairs get the target ``low``.
    {common_parameters}

    Attributes
    ----------
    target_range_ : tuple of float
        The ``(low, high)`` scale of ``y`` used for fitting and prediction.
    n_outputs_ : int
        Always 1.
    {pair_attributes}
    validation_scores_ : list of float or None
        Validation R^2 at each epoch (``early_stopping=True`` only).
    best_validation_score_ : float or None
        Best validation R^2 (``early_stopping=True`` only).
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is a
        :class:`~sklearn_nn.siamese.SimilarityReadout` around the
        :class:`~sklearn_nn.siamese.SiameseNetwork` (``net_.module_.network``).
        {net_contract}

    See Also
    --------
    SiamesePairClassifier : Same/different verification of pairs.
    sklearn_nn.siamese.stack_pairs : Build the pair matrix from two arrays.

    References
    ----------
    .. [1] R. Hadsell, S. Chopra and Y. LeCun, "Dimensionality Reduction by
       Learning an Invariant Mapping", CVPR 2006.
    .. [2] J. Bromley, I. Guyon, Y. LeCun, E. Sackinger and R. Shah,
       "Signature Verification using a Siamese Time Delay Neural Network",
       NIPS 1993.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn import SiamesePairRegressor
    >>> from sklearn_nn.siamese import stack_pairs
    >>> rng = np.random.RandomState(0)
    >>> A, B = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    >>> y = np.cos(A[:, 0] - B[:, 0])          # similarity in [-1, 1]
    >>> X = stack_pairs(A, B)
    >>> reg = SiamesePairRegressor(hidden_layer_sizes=(32,), embedding_dim=4,
    ...                            lr=0.01, max_epochs=100, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.8
    True
    >>> reg.target_range_
    (-1.0, 1.0)
    >>> reg.transform(X[:2]).shape                # [left emb | right emb]
    (2, 8)
    >>> reg.embed(A[:2], side="left").shape
    (2, 4)
    """

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints,
        **_SIAMESE_CONSTRAINTS,
        "loss": [StrOptions({"cosine_mse", "contrastive"})],
        "target_range": [StrOptions({"auto"}), "array-like"],
    }

    def __init__(
        self,
        *,
        n_left_features=None,
        tower="mlp",
        shared_weights=True,
        hidden_layer_sizes=(64,),
        activation="relu",
        embedding_dim=16,
        vocab_size=None,
        token_embedding_dim=32,
        hidden_size=64,
        pooling="mean",
        conv_filters=(),
        conv_kernel_size=5,
        padding_value=None,
        missing_values="auto",
        time_channel=None,
        loss="cosine_mse",
        distance="euclidean",
        margin=1.0,
        target_range="auto",
        negatives="auto",
        negative_ratio=1.0,
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
        self.n_left_features = n_left_features
        self.tower = tower
        self.shared_weights = shared_weights
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.embedding_dim = embedding_dim
        self.vocab_size = vocab_size
        self.token_embedding_dim = token_embedding_dim
        self.hidden_size = hidden_size
        self.pooling = pooling
        self.conv_filters = conv_filters
        self.conv_kernel_size = conv_kernel_size
        self.padding_value = padding_value
        self.missing_values = missing_values
        self.time_channel = time_channel
        self.loss = loss
        self.distance = distance
        self.margin = margin
        self.target_range = target_range
        self.negatives = negatives
        self.negative_ratio = negative_ratio

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
        """Fit the towers to pairs and their similarities.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features), or list of pairs
            The pair matrix, one pair per row: the left item's
            ``n_left_features`` columns followed by the right item's (see
            :func:`~sklearn_nn.siamese.stack_pairs`) -- dense float features
            with ``tower='mlp'``; univariate sequences (trailing NaN padding)
            or token ids with a sequence tower. Or, with a sequence tower, a
            list of ``(left, right)`` tuples of sequences, each of shape
            ``(T_i,)`` or ``(T_i, n_channels)`` (token ids: ``(T_i,)``).
        y : array-like of shape (n_pairs,)
            Similarity of each pair, on the scale ``target_range`` (``low``
            for unrelated, ``high`` for identical items).
        sample_weight : array-like of shape (n_pairs,), default=None
            Per-pair weights of the loss. Pairs generated by
            ``negatives='auto'`` get the mean weight of the pairs whose weight
            is positive.
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

    def _y_validation_kwargs(self):
        return {"y_numeric": True}

    def _encode_target(self, y, *, reset):
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if reset:
            self._y_ndim = 1
            self.n_outputs_ = 1
            self.target_range_ = self._resolve_target_range(y)
        low, high = self.target_range_
        if y.min() < low or y.max() > high:
            raise ValueError(
                f"y must lie in target_range_={self.target_range_}; got values in "
                f"[{y.min()}, {y.max()}]."
            )
        similarity = (y - low) / (high - low)
        return similarity.reshape(-1, 1).astype(self._numpy_dtype)

    def _resolve_target_range(self, y):
        if not (isinstance(self.target_range, str) and self.target_range == "auto"):
            bounds = np.asarray(self.target_range, dtype=np.float64).ravel()
            if bounds.shape != (2,) or not np.all(np.isfinite(bounds)):
                raise ValueError(
                    "target_range must be 'auto' or two finite numbers (low, high), "
                    f"got {self.target_range!r}."
                )
            if not bounds[0] < bounds[1]:
                raise ValueError(
                    "target_range=(low, high) needs low < high, got "
                    f"{self.target_range!r}."
                )
            return float(bounds[0]), float(bounds[1])
        low, high = float(y.min()), float(y.max())
        if low >= 0.0 and high <= 1.0:
            return 0.0, 1.0
        if low >= -1.0 and high <= 1.0:
            return -1.0, 1.0
        if low == high:
            raise ValueError(
                f"y is constant ({low}) outside [-1, 1], so its similarity scale "
                "cannot be inferred; pass target_range=(low, high)."
            )
        return low, high

    def _similarity(self, target):
        return np.asarray(target, dtype=np.float64).reshape(-1)

    def _dissimilar_target(self, n):
        return np.zeros((n, 1), dtype=self._numpy_dtype)

    def _build_module(self):
        return SimilarityReadout(
            self._build_network(),
            readout="cosine" if self.loss == "cosine_mse" else "distance",
            distance=self.distance,
            margin=self.margin,
        )

    def _build_criterion(self):
        return SiamesePairLoss(self.loss, distance=self.distance, margin=self.margin)

    def predict(self, X):
        """Predicted similarity of each pair, on ``y``'s scale.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features), or list of pairs
            Pairs, in a format of :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_pairs,)
            Values in ``target_range_``.
        """
        similarity = _to_numpy(self._forward(X)[0]).ravel()
        low, high = self.target_range_
        return low + similarity * (high - low)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False
        return tags


@fill_doc(**PAIR_DOC_SECTIONS)
class SiamesePairClassifier(
    ClassifierMixin, ClassifierPartialFitMixin, _SiameseMixin, NeuralClassifierBase
):
    """Siamese / two-tower classifier of pairs as same or different.

    Each row of ``X`` is a pair ``[left item | right item]``; ``y`` holds two
    labels, one meaning "similar" (``positive_label``). The items are embedded
    by the same tower (``shared_weights=True``) or by two towers, trained with
    the contrastive loss of Hadsell, Chopra and LeCun on a true ``distance``
    ``d`` between the embeddings::

        loss = y d^2 + (1 - y) max(margin - d, 0)^2   (y = 1 similar, 0 not)

    After training, ``P(similar | d) = sigmoid(a d + b)`` is fitted on the
    training pairs (Platt scaling, with the sample and class weights), and
    ``predict_proba`` / ``predict`` come from it.

    Read more in the :ref:`User Guide <siamese>`.

    Parameters
    ----------
    {pair_parameters}
    distance : {'euclidean', 'cosine'}, default='euclidean'
        ``||f(a) - g(b)||`` or the cosine distance ``1 - cos(f(a), g(b))``.
    margin : float, default=1.0
        Margin of the contrastive loss: dissimilar pairs farther apart cost
        nothing.
    positive_label : label or None, default=None
        The label of ``y`` that means "similar"; None takes the greater of
        the two labels (``classes_[1]``, e.g. 1 for 0/1 labels and True for
        booleans), as scikit-learn's binary metrics do.
    {negatives}
        Generated pairs get the label that is not ``positive_label``.
    class_weight : dict, 'balanced' or None, default=None
        Weights ``{label: weight}`` multiplied into the per-pair loss and the
        calibration; 'balanced' uses ``n_samples / (2 * bincount(y))``.
    {common_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels.
    positive_label_ : object
        The label that means "similar".
    calibration_coef_ : float
        Slope ``a`` of ``P(similar | d) = sigmoid(a d + b)`` (negative when
        close pairs are the similar ones).
    calibration_intercept_ : float
        Intercept ``b`` of that mapping.
    {pair_attributes}
    validation_scores_ : list of float or None
        Validation accuracy at each epoch (``early_stopping=True`` only),
        with the threshold ``d < margin / 2`` (the calibration is fitted
        after training).
    best_validation_score_ : float or None
        Best validation accuracy (``early_stopping=True`` only).
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is a
        :class:`~sklearn_nn.siamese.VerificationReadout` around the
        :class:`~sklearn_nn.siamese.SiameseNetwork` (``net_.module_.network``).
        {net_contract}

    See Also
    --------
    SiamesePairRegressor : Graded similarity of pairs.
    sklearn_nn.siamese.stack_pairs : Build the pair matrix from two arrays.

    References
    ----------
    .. [1] R. Hadsell, S. Chopra and Y. LeCun, "Dimensionality Reduction by
       Learning an Invariant Mapping", CVPR 2006.
    .. [2] J. Platt, "Probabilistic Outputs for Support Vector Machines and
       Comparisons to Regularized Likelihood Methods", 1999.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn import SiamesePairClassifier
    >>> from sklearn_nn.siamese import stack_pairs
    >>> rng = np.random.RandomState(0)
    >>> labels = rng.randint(3, size=600)
    >>> items = rng.normal(size=(600, 5)) + 3 * np.eye(5)[labels]
    >>> left, right = rng.randint(600, size=(2, 1000))
    >>> X = stack_pairs(items[left], items[right])
    >>> y = np.where(labels[left] == labels[right], "same", "different")
    >>> clf = SiamesePairClassifier(positive_label="same", embedding_dim=4,
    ...                             lr=0.01, max_epochs=30, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        **NeuralClassifierBase._parameter_constraints,
        **_SIAMESE_CONSTRAINTS,
        "positive_label": "no_validation",
    }

    def __init__(
        self,
        *,
        n_left_features=None,
        tower="mlp",
        shared_weights=True,
        hidden_layer_sizes=(64,),
        activation="relu",
        embedding_dim=16,
        vocab_size=None,
        token_embedding_dim=32,
        hidden_size=64,
        pooling="mean",
        conv_filters=(),
        conv_kernel_size=5,
        padding_value=None,
        missing_values="auto",
        time_channel=None,
        distance="euclidean",
        margin=1.0,
        positive_label=None,
        negatives="auto",
        negative_ratio=1.0,
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
        self.n_left_features = n_left_features
        self.tower = tower
        self.shared_weights = shared_weights
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.embedding_dim = embedding_dim
        self.vocab_size = vocab_size
        self.token_embedding_dim = token_embedding_dim
        self.hidden_size = hidden_size
        self.pooling = pooling
        self.conv_filters = conv_filters
        self.conv_kernel_size = conv_kernel_size
        self.padding_value = padding_value
        self.missing_values = missing_values
        self.time_channel = time_channel
        self.distance = distance
        self.margin = margin
        self.positive_label = positive_label
        self.negatives = negatives
        self.negative_ratio = negative_ratio
        self.class_weight = class_weight

    def _encode_target(self, y, *, reset):
        _check_label_types(y)
        y_type = type_of_target(y, input_name="y")
        if y_type != "binary":
            check_classification_targets(y)
            raise ValueError(
                "Only binary classification is supported. The type of the target "
                f"is {y_type}: {type(self).__name__} needs two labels in y, one "
                "for similar and one for dissimilar pairs."
            )
        given = getattr(getattr(self, "_fit_call", None), "classes", None)
        if given is not None and len(given) != 2:
            raise ValueError(
                f"{type(self).__name__} needs 2 labels in classes (similar and "
                f"dissimilar); got {given.tolist()!r}."
            )
        if reset and given is None and np.unique(y).size < 2:
            raise ValueError(
                f"{type(self).__name__} needs pairs of 2 classes in y (similar and "
                f"dissimilar); got 1 class ({np.unique(y)[0]}). For data made of "
                "similar pairs only, use SiamesePairRegressor(loss='contrastive') "
                "with y=1, which generates dissimilar pairs (negatives='auto')."
            )
        codes = self._encode_labels(y, reset=reset)
        if reset:
            if self.positive_label is None:
                self._positive_index = 1
            else:
                matches = np.flatnonzero(self.classes_ == self.positive_label)
                if matches.size != 1:
                    raise ValueError(
                        f"positive_label={self.positive_label!r} is not one of the "
                        f"labels in y: {self.classes_.tolist()}."
                    )
                self._positive_index = int(matches[0])
            self.positive_label_ = self.classes_[self._positive_index]
        return codes

    def _similarity(self, target):
        return (np.asarray(target) == self._positive_index).astype(np.float64)

    def _dissimilar_target(self, n):
        return np.full(n, 1 - self._positive_index, dtype=np.int64)

    def _training_data(self, X, y, target, weight, rng):
        if weight is not None:
            kept = np.unique(np.asarray(target)[weight > 0])
            if kept.size < 2:
                raise ValueError(
                    f"{type(self).__name__} needs pairs of both classes with a "
                    "positive weight, but after sample_weight / class_weight only "
                    f"class {self.classes_[kept[0]]} is left."
                )
        return super()._training_data(X, y, target, weight, rng)

    def _build_module(self):
        return VerificationReadout(
            self._build_network(),
            distance=self.distance,
            margin=self.margin,
            positive_index=self._positive_index,
        )

    def _build_criterion(self):
        return SiamesePairLoss(
            "contrastive",
            distance=self.distance,
            margin=self.margin,
            positive_index=self._positive_index,
        )

    def _post_fit(self, X, target, weight, data):
        # Platt scaling of the embedding distance, on the given pairs
        output = super()._post_fit(X, target, weight, data)
        distance = _to_numpy(pair_distance(output[-2], output[-1], self.distance))
        positive = np.asarray(target) == self._positive_index
        coef, intercept = _platt_scaling(distance, positive, weight)
        module = self.net_.module_
        module.coef.fill_(coef)
        module.intercept.fill_(intercept)
        self.calibration_coef_ = float(coef)
        self.calibration_intercept_ = float(intercept)

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
        """Fit the towers to pairs labelled same or different.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features), or list of pairs
            The pair matrix, one pair per row: the left item's
            ``n_left_features`` columns followed by the right item's (see
            :func:`~sklearn_nn.siamese.stack_pairs`) -- dense float features
            with ``tower='mlp'``; univariate sequences (trailing NaN padding)
            or token ids with a sequence tower. Or, with a sequence tower, a
            list of ``(left, right)`` tuples of sequences, each of shape
            ``(T_i,)`` or ``(T_i, n_channels)`` (token ids: ``(T_i,)``).
        y : array-like of shape (n_pairs,)
            Two labels, one of which (``positive_label``) means "similar".
        sample_weight : array-like of shape (n_pairs,), default=None
            Per-pair weights of the loss and of the calibration, multiplied by
            ``class_weight``. Pairs generated by ``negatives='auto'`` get the
            mean weight of the pairs whose weight is positive.
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

    def predict_log_proba(self, X):
        """Log of the probabilities of the two labels for each pair.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features), or list of pairs
            Pairs, in a format of :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_pairs, 2)
            Log-probabilities, columns ordered as ``classes_``; see
            :meth:`predict_proba`.
        """
        return super().predict_log_proba(X)

    def predict_proba(self, X):
        """Probabilities of the two labels for each pair.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features), or list of pairs
            Pairs, in a format of :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_pairs, 2)
            Columns ordered as ``classes_``; the column of
            ``positive_label_`` is ``P(similar | d) = sigmoid(a d + b)``, the
            Platt calibration of the distance ``d`` between the embeddings
            (``a = calibration_coef_``, ``b = calibration_intercept_``).
        """
        return super().predict_proba(X)

    def predict(self, X):
        """Label of each pair: similar (``positive_label_``) or not.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features), or list of pairs
            Pairs, in a format of :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_pairs,)
            The more probable label of each pair, drawn from ``classes_``.
        """
        return super().predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
