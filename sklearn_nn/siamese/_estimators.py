"""Siamese / two-tower pair estimators."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from .._base import (
    BaseNeuralEstimator,
    NeuralClassifierBase,
    NeuralRegressorBase,
    _as_tensor,
    _to_numpy,
    fill_doc,
)
from .._layers import ACTIVATIONS, layer_sizes
from ._modules import (
    DISTANCES,
    LSTMTower,
    MLPTower,
    SiameseNetwork,
    SiamesePairLoss,
    SimilarityReadout,
    VerificationReadout,
    pair_distance,
)

# negatives='auto' tops the data up when fewer than this fraction of the
# (weighted) training pairs are dissimilar
_MIN_DISSIMILAR_FRACTION = 0.1
# embeddings whose spread across samples (see _spread) is below this count as
# collapsed
_COLLAPSE_TOLERANCE = 0.05


class NegativePairsWarning(UserWarning):
    """Dissimilar pairs were generated because the data had too few."""


class CollapsedEmbeddingWarning(UserWarning):
    """Training ended with (nearly) the same embedding for every item."""


def stack_pairs(X_left, X_right):
    """Make the pair matrix ``[left features | right features]`` from two arrays.

    Row ``i`` of the result is the pair ``(X_left[i], X_right[i])``; this is
    the ``X`` that :class:`SiamesePairRegressor` and
    :class:`SiamesePairClassifier` take (with ``n_left_features =
    X_left.shape[1]``), so pair data goes through ``Pipeline``,
    ``GridSearchCV`` and cross-validation as one array.

    Parameters
    ----------
    X_left : array-like of shape (n_pairs, n_left_features)
        Features (or 0-padded token ids) of the left items.
    X_right : array-like of shape (n_pairs, n_right_features)
        Features (or 0-padded token ids) of the right items.

    Returns
    -------
    X : ndarray of shape (n_pairs, n_left_features + n_right_features)

    See Also
    --------
    split_pairs : The inverse operation.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn.siamese import split_pairs, stack_pairs
    >>> X = stack_pairs(np.zeros((3, 2)), np.ones((3, 5)))
    >>> X.shape
    (3, 7)
    >>> [part.shape for part in split_pairs(X, n_left_features=2)]
    [(3, 2), (3, 5)]
    """
    X_left = check_array(X_left, dtype=None, input_name="X_left")
    X_right = check_array(X_right, dtype=None, input_name="X_right")
    if X_left.shape[0] != X_right.shape[0]:
        raise ValueError(
            "X_left and X_right must have one row per pair; got "
            f"{X_left.shape[0]} and {X_right.shape[0]} rows."
        )
    return np.hstack([X_left, X_right])


def split_pairs(X, n_left_features=None):
    """Split a pair matrix ``[left | right]`` into its two items.

    Parameters
    ----------
    X : array-like of shape (n_pairs, n_features)
        Pair matrix, e.g. made by :func:`stack_pairs`.
    n_left_features : int or None, default=None
        Number of columns of the left item; None splits ``X`` in two equal
        halves (an odd number of columns is then an error).

    Returns
    -------
    X_left : ndarray of shape (n_pairs, n_left_features)
    X_right : ndarray of shape (n_pairs, n_features - n_left_features)

    See Also
    --------
    stack_pairs : The inverse operation.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn.siamese import split_pairs
    >>> left, right = split_pairs(np.arange(8).reshape(2, 4))
    >>> left
    array([[0, 1],
           [4, 5]])
    """
    X = check_array(X, dtype=None)
    k = _resolve_n_left(X.shape[1], n_left_features, name="X")
    return X[:, :k], X[:, k:]


def _resolve_n_left(n_features, n_left_features, name):
    if n_left_features is None:
        if n_features % 2:
            raise ValueError(
                f"{name} has {n_features} feature(s), an odd number, so the pair "
                "layout [left item | right item] cannot be split into two equal "
                "halves; pass n_left_features=<number of columns of the left "
                "item>."
            )
        return n_features // 2
    k = int(n_left_features)
    if not 1 <= k < n_features:
        raise ValueError(
            f"n_left_features={n_left_features} must leave at least one column "
            f"for each item, but {name} has {n_features} feature(s)."
        )
    return k


def _spread(embedding, scale=None):
    """Root-mean-square distance of the rows to their mean.

    Divided by ``scale`` when given (the margin of a euclidean contrastive
    loss: dissimilar pairs are meant to be that far apart); with no scale the
    rows are normalised to unit length first (the cosine losses ignore the
    norm), so the result is in [0, 1].
    """
    if scale is None:
        norm = np.linalg.norm(embedding, axis=1, keepdims=True)
        embedding = embedding / np.maximum(norm, 1e-12)
        scale = 1.0
    centred = (embedding - embedding.mean(axis=0)).ravel()
    return float(np.sqrt(np.dot(centred, centred) / len(embedding)) / scale)


def _platt_scaling(score, positive, weight=None, max_iter=100):
    """Fit ``P(positive | s) = sigmoid(a * s + b)`` (Platt, 1999).

    Platt's smoothed targets ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``
    keep the fit finite when the scores separate the classes; the problem
    is solved by Newton's method with backtracking (Lin, Lin and Weng, 2007)
    to full precision, so integer weights act exactly as repetitions.
    """
    score = np.asarray(score, dtype=np.float64)
    w = np.ones_like(score) if weight is None else np.asarray(weight, np.float64)
    n_pos = float(w @ positive)
    n_neg = float(w.sum()) - n_pos
    total = n_pos + n_neg
    t = np.where(positive, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    wt = w * t
    # standardize the score for conditioning, map back at the end
    centre = float(w @ score) / total
    z = score - centre
    scale = float(np.sqrt((w @ (z * z)) / total)) or 1.0
    z /= scale
    zz = z * z

    def evaluate(a, b):
        # -t log p - (1 - t) log(1 - p), p = sigmoid(f), in a stable form;
        # f and softplus(f) are kept for the next gradient (p = e^(f - sp))
        f = a * z + b
        softplus = np.logaddexp(0.0, f)
        return float(w @ softplus - wt @ f), f, softplus

    a, b = 0.0, float(np.log((n_pos + 1.0) / (n_neg + 1.0)))
    value, f, softplus = evaluate(a, b)
    for _ in range(max_iter):
        p = np.exp(f - softplus)
        residual = w * p - wt
        grad = np.array([residual @ z, residual.sum()])
        if np.max(np.abs(grad)) < 1e-10 * max(1.0, total):
            break
        h = w * p * (1.0 - p)
        hz = float(h @ z)
        hess = np.array([[float(h @ zz) + 1e-12, hz], [hz, float(h.sum()) + 1e-12]])
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-10:
            a_new, b_new = a - size * step[0], b - size * step[1]
            new_value, f_new, softplus_new = evaluate(a_new, b_new)
            if new_value < value + 1e-4 * size * float(grad @ -step):
                break
            size /= 2
        else:
            break
        converged = abs(value - new_value) <= 1e-15 * max(1.0, abs(value))
        a, b, value, f, softplus = a_new, b_new, new_value, f_new, softplus_new
        if converged:
            break
    return a / scale, b - a * centre / scale


_SIAMESE_CONSTRAINTS = {
    "n_left_features": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "tower": [StrOptions({"mlp", "lstm"})],
    "shared_weights": ["boolean"],
    "hidden_layer_sizes": ["array-like"],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
    "vocab_size": [Interval(numbers.Integral, 2, None, closed="left"), None],
    "token_embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
    "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "distance": [StrOptions(set(DISTANCES))],
    "margin": [Interval(numbers.Real, 0, None, closed="neither")],
    "negatives": [StrOptions({"auto", "none"})],
    "negative_ratio": [Interval(numbers.Real, 0, None, closed="neither")],
}


class _SiameseMixin(TransformerMixin):
    """What the two pair estimators share: the pair layout, the towers,
    negative generation, the collapse check, ``transform`` and ``embed``."""

    # ------------------------------------------------------------ validation
    def _validate_fit_data(self, X, y, *, reset):
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=self._X_dtype(),
            order="C",
            **self._y_validation_kwargs(),
        )
        if reset:
            self.n_left_features_ = self._resolve_split(X.shape[1])
        return self._check_tokens(X, reset=reset), y

    def _validate_X(self, X, *, reset):
        if self.tower == "mlp":
            return super()._validate_X(X, reset=reset)
        X = validate_data(self, X, reset=reset, dtype="numeric", order="C")
        return self._check_tokens(X, reset=False)

    def _X_dtype(self):
        return (np.float64, np.float32) if self.tower == "mlp" else "numeric"

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

    def _check_tokens(self, X, *, reset, name="X"):
        """Token ids for tower='lstm' (a no-op for the MLP tower)."""
        if self.tower == "mlp":
            return X
        if not np.issubdtype(X.dtype, np.integer) and not np.array_equal(
            X, np.round(X)
        ):
            raise ValueError(
                f"{name} must hold integer token ids (0 = padding) when "
                "tower='lstm', but it has non-integer values."
            )
        low, high = (X.min(), X.max()) if X.size else (0, 0)
        if reset:
            self.vocab_size_ = (
                int(self.vocab_size)
                if self.vocab_size is not None
                else max(int(high) + 1, 2)
            )
        if low < 0 or high >= self.vocab_size_:
            raise ValueError(
                f"{name} must hold token ids in [0, {self.vocab_size_}) (0 = "
                f"padding, vocab_size={self.vocab_size_}) when tower='lstm'; got "
                f"values in [{low}, {high}]."
            )
        return X.astype(np.int64, copy=False)

    def _side_tensor(self, X_side):
        if self.tower == "mlp":
            return _as_tensor(X_side, self._numpy_dtype)
        return torch.from_numpy(np.asarray(X_side, dtype=np.int64))

    def _make_inputs(self, X):
        # one conversion of the whole pair matrix; the sides are views of it
        # (row-strided, which the linear layers and embeddings read directly)
        k = self.n_left_features_
        pairs = self._side_tensor(X)
        return pairs[:, :k], pairs[:, k:]

    # ----------------------------------------------------------------- module
    def _build_network(self):
        k = self.n_left_features_
        widths = {"left": k, "right": self.n_features_in_ - k}

        def tower(side):
            if self.tower == "lstm":
                return LSTMTower(
                    self.vocab_size_,
                    self.token_embedding_dim,
                    self.hidden_size,
                    self.embedding_dim,
                )
            return MLPTower(
                widths[side],
                layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"),
                self.embedding_dim,
                self.activation,
            )

        return SiameseNetwork(
            tower("left"), None if self.shared_weights else tower("right")
        )

    # -------------------------------------------------------------- negatives
    def _training_data(self, X, y, target, weight, rng):
        similar = self._similarity(target)
        self._check_training_pairs(similar, weight)
        n_new = self._n_negatives(similar, weight)
        if n_new:
            rows = np.arange(len(X)) if weight is None else np.flatnonzero(weight > 0)
            m = len(rows)
            first = rng.randint(m, size=n_new)
            other = (first + rng.randint(1, m, size=n_new)) % m
            k = self.n_left_features_
            X_new = np.hstack([X[rows[first], :k], X[rows[other], k:]])
            X = np.concatenate([X, X_new])
            target = np.concatenate([target, self._dissimilar_target(n_new)])
            if weight is not None:
                weight = np.concatenate([weight, np.full(n_new, weight[rows].mean())])
        return super()._training_data(X, y, target, weight, rng)

    def _check_training_pairs(self, similar, weight):
        """Hook: the classifier needs both classes among the weighted pairs."""

    def _n_negatives(self, similar, weight):
        if self.negatives == "none":
            return 0
        w = np.ones_like(similar) if weight is None else weight
        n_rows = int(np.count_nonzero(w > 0))
        fraction = float(np.sum(w * (similar < 0.5)) / np.sum(w))
        if fraction >= _MIN_DISSIMILAR_FRACTION or n_rows < 2:
            return 0
        n_new = max(1, int(round(self.negative_ratio * n_rows)))
        warnings.warn(
            f"{type(self).__name__}: only {fraction:.1%} of the training pairs "
            f"are dissimilar, so {n_new} dissimilar pairs were generated by "
            "re-pairing the left item of one pair with the right item of another "
            f"(negatives='auto', negative_ratio={self.negative_ratio}). Without "
            "dissimilar pairs the embeddings collapse to one point. Pass "
            "negatives='none' to train on the given pairs only.",
            NegativePairsWarning,
            # user code -> fit -> fit wrapper -> base fit -> _fit -> hook -> here
            stacklevel=7,
        )
        return n_new

    # -------------------------------------------------------------------- fit
    def _post_fit(self, X, target, weight):
        # on the given pairs (not the generated negatives)
        # the two embeddings only (the readout head is not needed)
        output = self._module_output(X, self.net_.module_.network)
        self._after_fit(output, target, weight)
        self._check_collapse(_to_numpy(output[-2]), _to_numpy(output[-1]))

    def _after_fit(self, output, target, weight):
        """Hook run after training with the module's output on the pairs."""

    def _check_collapse(self, e_left, e_right):
        euclidean = self._loss_name() == "contrastive" and self.distance == "euclidean"
        scale = self.margin if euclidean else None
        ratios = {"left": _spread(e_left, scale), "right": _spread(e_right, scale)}
        self.embedding_spread_ = min(ratios.values())
        collapsed = [s for s, r in ratios.items() if r < _COLLAPSE_TOLERANCE]
        if len(e_left) < 2 or not collapsed:
            return
        warnings.warn(
            f"{type(self).__name__}: the {' and '.join(collapsed)} embeddings "
            "collapsed: every training item was mapped to (nearly) the same "
            f"vector (embedding_spread_ = {self.embedding_spread_:.2g}), so "
            "the model cannot tell pairs apart. The usual cause is training on "
            "similar pairs only, which the loss rewards by mapping everything to "
            "one point: add dissimilar pairs, or keep negatives='auto' so that "
            "they are generated. A target that does not depend on the items "
            "has the same effect.",
            CollapsedEmbeddingWarning,
            # user code -> fit -> fit wrapper -> base fit -> _fit -> hook -> here
            stacklevel=7,
        )

    # ---------------------------------------------------------------- outputs
    def transform(self, X):
        """Embeddings of both items of each pair, side by side.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features)
            Pairs ``[left features | right features]``.

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
        X_side : array-like of shape (n_items, n_side_features)
            Items of one side: ``n_left_features_`` columns for the left side,
            ``n_features_in_ - n_left_features_`` for the right side (token
            towers take any number of 0-padded columns).
        side : {'left', 'right'}, default='left'
            Which tower to use (the same one when ``shared_weights=True``).

        Returns
        -------
        ndarray of shape (n_items, embedding_dim)
        """
        check_is_fitted(self)
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}.")
        X_side = check_array(X_side, dtype=self._X_dtype(), input_name="X_side")
        width = self.n_left_features_
        if side == "right":
            width = self.n_features_in_ - width
        if self.tower == "mlp" and X_side.shape[1] != width:
            raise ValueError(
                f"X_side has {X_side.shape[1]} features, but the {side} items of "
                f"{type(self).__name__} have {width} (n_left_features_="
                f"{self.n_left_features_}, n_features_in_={self.n_features_in_})."
            )
        X_side = self._check_tokens(X_side, reset=False, name="X_side")
        tensor = self._side_tensor(X_side)
        net = self.net_
        tower = net.module_.network.tower(side)
        net._set_training(False)
        size = self._inference_batch_size
        with torch.inference_mode():
            chunks = [
                tower(tensor[i : i + size].to(net.device))
                for i in range(0, len(tensor), size)
            ]
        return _to_numpy(torch.cat(chunks))

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


_PAIR_PARAMETERS_DOC = """n_left_features : int or None, default=None
        Number of columns of ``X`` that hold the left item; the remaining ones
        hold the right item. None splits ``X`` into two equal halves (an odd
        number of columns is then an error).
    tower : {'mlp', 'lstm'}, default='mlp'
        'mlp': each item is a dense feature vector embedded by a feed-forward
        network (``hidden_layer_sizes``, ``activation``). 'lstm': each item is
        a sequence of integer token ids, 0 being padding (dropped wherever it
        is), embedded by ``Embedding(vocab_size, token_embedding_dim) ->
        LSTM(hidden_size) -> Linear(embedding_dim)``.
    shared_weights : bool, default=True
        True: one tower embeds both items (a siamese network; with
        ``tower='mlp'`` both items need the same width). False: two towers
        with their own weights, and the items may differ in width (e.g. 52
        tokens on the left and 600 on the right).
    hidden_layer_sizes : array-like of int, default=(64,)
        Hidden layer widths of an MLP tower.
    activation : {'relu', 'tanh', 'logistic', 'gelu', 'identity'}, default='relu'
        Hidden activation of an MLP tower.
    embedding_dim : int, default=16
        Width of each item's embedding.
    vocab_size : int or None, default=None
        Number of token ids of an LSTM tower (tokens are ``0 .. vocab_size -
        1``); None takes the largest id in the training ``X`` plus one.
    token_embedding_dim : int, default=32
        Width of the token embedding of an LSTM tower.
    hidden_size : int, default=64
        State width of an LSTM tower."""

_NEGATIVES_DOC = """negatives : {'auto', 'none'}, default='auto'
        'auto': when fewer than 10% of the (weighted) training pairs are
        dissimilar, add ``negative_ratio * n_pairs`` dissimilar pairs made by
        re-pairing the left item of one random pair with the right item of
        another (drawn from ``random_state``), and say so with a
        :class:`~sklearn_nn.siamese.NegativePairsWarning`. 'none': train on
        the given pairs only.
    negative_ratio : float, default=1.0
        Number of generated dissimilar pairs per training pair."""

_PAIR_ATTRIBUTES_DOC = """n_features_in_ : int
        Number of columns of ``X`` seen during fit (both items).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_left_features_ : int
        Number of columns of the left item.
    vocab_size_ : int
        Number of token ids (``tower='lstm'`` only).
    embedding_spread_ : float
        Spread of the training items' embeddings across samples (the smaller
        of the two sides): the root-mean-square distance to their mean,
        divided by ``margin`` for the euclidean contrastive loss, or of the
        unit-length embeddings for the cosine losses. Healthy embeddings
        score around 0.5 to 1; below 0.05 they count as collapsed, which
        triggers a :class:`~sklearn_nn.siamese.CollapsedEmbeddingWarning`.
    n_iter_ : int
        Number of epochs run (summed over warm starts).
    loss_curve_ : list of float
        Training loss at each epoch.
    validation_loss_curve_ : list of float or None
        Validation loss at each epoch (``early_stopping=True`` only)."""


def _fill_pair_doc(cls):
    cls.__doc__ = (
        cls.__doc__.replace("{pair_parameters}", _PAIR_PARAMETERS_DOC)
        .replace("{negatives}", _NEGATIVES_DOC)
        .replace("{pair_attributes}", _PAIR_ATTRIBUTES_DOC)
    )
    return fill_doc(cls)


@_fill_pair_doc
class SiamesePairRegressor(RegressorMixin, _SiameseMixin, NeuralRegressorBase):
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
        self.loss = loss
        self.distance = distance
        self.margin = margin
        self.target_range = target_range
        self.negatives = negatives
        self.negative_ratio = negative_ratio

    def fit(self, X, y, sample_weight=None):
        """Fit the towers to pairs and their similarities.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features)
            One pair per row: the left item's ``n_left_features`` columns
            followed by the right item's (see
            :func:`~sklearn_nn.siamese.stack_pairs`). Dense float features
            with ``tower='mlp'``; integer token ids, 0 being padding, with
            ``tower='lstm'``.
        y : array-like of shape (n_pairs,)
            Similarity of each pair, on the scale ``target_range`` (``low``
            for unrelated, ``high`` for identical items).
        sample_weight : array-like of shape (n_pairs,), default=None
            Per-pair weights of the loss. Pairs generated by
            ``negatives='auto'`` get the mean weight of the pairs whose weight
            is positive.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, sample_weight=sample_weight)

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

    def _loss_name(self):
        return self.loss

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
        X : array-like of shape (n_pairs, n_features)
            Pairs ``[left features | right features]``.

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


@_fill_pair_doc
class SiamesePairClassifier(ClassifierMixin, _SiameseMixin, NeuralClassifierBase):
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
        self.distance = distance
        self.margin = margin
        self.positive_label = positive_label
        self.negatives = negatives
        self.negative_ratio = negative_ratio
        self.class_weight = class_weight

    def _encode_target(self, y, *, reset):
        y_type = type_of_target(y, input_name="y")
        if y_type != "binary":
            check_classification_targets(y)
            raise ValueError(
                "Only binary classification is supported. The type of the target "
                f"is {y_type}: {type(self).__name__} needs two labels in y, one "
                "for similar and one for dissimilar pairs."
            )
        if reset and np.unique(y).size < 2:
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

    def _loss_name(self):
        return "contrastive"

    def _similarity(self, target):
        return (np.asarray(target) == self._positive_index).astype(np.float64)

    def _dissimilar_target(self, n):
        return np.full(n, 1 - self._positive_index, dtype=np.int64)

    def _check_training_pairs(self, similar, weight):
        if weight is None:
            return
        kept = np.unique(similar[weight > 0])
        if kept.size < 2:
            index = self._positive_index if kept[0] else 1 - self._positive_index
            kept = self.classes_[index]
            raise ValueError(
                f"{type(self).__name__} needs pairs of both classes with a positive "
                f"weight, but after sample_weight / class_weight only class "
                f"{kept} is left."
            )

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

    def _after_fit(self, output, target, weight):
        distance = _to_numpy(pair_distance(output[-2], output[-1], self.distance))
        positive = np.asarray(target) == self._positive_index
        coef, intercept = _platt_scaling(distance, positive, weight)
        module = self.net_.module_
        module.coef.fill_(coef)
        module.intercept.fill_(intercept)
        self.calibration_coef_ = float(coef)
        self.calibration_intercept_ = float(intercept)

    def fit(self, X, y, sample_weight=None):
        """Fit the towers to pairs labelled same or different.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features)
            One pair per row: the left item's ``n_left_features`` columns
            followed by the right item's (see
            :func:`~sklearn_nn.siamese.stack_pairs`). Dense float features
            with ``tower='mlp'``; integer token ids, 0 being padding, with
            ``tower='lstm'``.
        y : array-like of shape (n_pairs,)
            Two labels, one of which (``positive_label``) means "similar".
        sample_weight : array-like of shape (n_pairs,), default=None
            Per-pair weights of the loss and of the calibration, multiplied by
            ``class_weight``. Pairs generated by ``negatives='auto'`` get the
            mean weight of the pairs whose weight is positive.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, sample_weight=sample_weight)

    def predict_log_proba(self, X):
        """Log of the probabilities of the two labels for each pair.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features)
            Pairs ``[left item | right item]``, as in :meth:`fit`.

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
        X : array-like of shape (n_pairs, n_features)
            Pairs ``[left item | right item]``, as in :meth:`fit`.

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
        X : array-like of shape (n_pairs, n_features)
            Pairs ``[left item | right item]``, as in :meth:`fit`.

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
