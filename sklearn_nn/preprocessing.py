"""Transformers for sequence input, to put in front of the sequence estimators."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._available_if import available_if
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from ._sequences import (
    check_padding_value,
    check_sequences,
    is_pair_list,
    restore_layout,
)

__all__ = ["SequenceStandardScaler"]


class SequenceStandardScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardise sequences channel by channel, over their real steps only.

    :class:`~sklearn.preprocessing.StandardScaler` cannot scale sequences: it
    rejects ragged lists and 3-D arrays, and on a 2-D array of univariate
    sequences it would scale every *step* on its own and count padding as
    data. This transformer reads every sequence format of sklearn_nn's
    sequence estimators (see :ref:`sequence_input`) and returns the same
    format: ragged in, ragged out; padding stays padding (NaN, or
    ``padding_value``).

    * ``per_sequence=False`` (default): each channel is centred and scaled by
      its mean and standard deviation over all real steps of all training
      sequences (``mean_``, ``scale_``); ``transform`` applies them to new
      sequences.
    * ``per_sequence=True``: each sequence is z-normalised on its own, channel
      by channel (the UCR archive's convention); nothing is learned from the
      training data.

    :meth:`partial_fit` learns the statistics chunk by chunk (sequences that
    do not fit in memory at once), merging each chunk's counts, means and
    variances into the running ones (Chan et al.'s pairwise update, as
    :class:`~sklearn.preprocessing.StandardScaler` does).

    A channel (or, with ``per_sequence=True``, a sequence's channel) with
    zero variance is only centred. A list of ``(left, right)`` pairs of
    sequences (the input of the pair models' sequence towers) is scaled item
    by item with one set of statistics and returned as pairs, so the scaler
    also goes in front of :class:`~sklearn_nn.SiamesePairClassifier` and
    :class:`~sklearn_nn.SiamesePairRegressor` in a Pipeline. (An item that
    appears in several pairs counts once per pair in the statistics.)

    Read more in the :ref:`User Guide <sequence_input>`.

    Parameters
    ----------
    per_sequence : bool, default=False
        Standardise each sequence with its own statistics instead of the
        training set's.
    padding_value : float or None, default=None
        Trailing steps whose every channel equals it are padding (as are
        trailing all-NaN steps in any case); they are neither counted nor
        changed. Use the estimator's ``padding_value``.

    Attributes
    ----------
    mean_ : ndarray of shape (n_channels,) or None
        Mean of each channel over the real training steps (None with
        ``per_sequence=True``).
    var_ : ndarray of shape (n_channels,) or None
        Variance of each channel over the real training steps.
    scale_ : ndarray of shape (n_channels,) or None
        ``sqrt(var_)``, or 1 for a constant channel.
    n_samples_seen_ : ndarray of shape (n_channels,) or None
        Number of observed real steps of each channel the statistics were
        computed from (over every :meth:`partial_fit` call); None with
        ``per_sequence=True``.
    n_features_in_ : int
        Number of columns of a 2-D ``X`` (univariate sequences, one per row);
        number of channels of a 3-D or ragged ``X``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of a 2-D ``X`` given as a DataFrame with string column
        names.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The same for tables of features.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn.preprocessing import SequenceStandardScaler
    >>> X = [np.array([[1.0, 10.0], [3.0, 30.0]]), np.array([[5.0, 50.0]])]
    >>> scaler = SequenceStandardScaler().fit(X)
    >>> scaler.mean_
    array([ 3., 30.])
    >>> [x.shape for x in scaler.transform(X)]        # ragged in, ragged out
    [(2, 2), (1, 2)]
    >>> padded = np.array([[1.0, 3.0, np.nan], [5.0, np.nan, np.nan]])
    >>> np.round(scaler.fit_transform(padded), 3)     # NaN padding stays
    array([[-1.225,  0.   ,    nan],
           [ 1.225,    nan,    nan]])
    """

    _parameter_constraints: dict = {
        "per_sequence": ["boolean"],
        "padding_value": [numbers.Real, None],
    }

    def __init__(self, *, per_sequence=False, padding_value=None):
        self.per_sequence = per_sequence
        self.padding_value = padding_value

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn each channel's mean and standard deviation.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences: a 2-D array (n_sequences, n_steps) of univariate
            sequences, a 3-D array (n_sequences, n_steps, n_channels), or a
            list of arrays of shape (T_i,) or (T_i, n_channels); shorter
            sequences end in trailing padding.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted scaler.
        """
        self.__dict__.pop("n_samples_seen_", None)
        return self._partial_fit(X)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Update each channel's mean and standard deviation with a chunk of
        sequences.

        The first call (or the first after :meth:`fit`) learns the format
        (``n_features_in_``) from its chunk; the statistics of all chunks so
        far equal those :meth:`fit` computes on all of them at once (up to
        rounding).

        Parameters
        ----------
        X : array-like or list of array-like
            A chunk of sequences, in any format of :meth:`fit`.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The scaler.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_nn.preprocessing import SequenceStandardScaler
        >>> scaler = SequenceStandardScaler()
        >>> scaler = scaler.partial_fit([np.array([1.0, 3.0]), np.array([2.0])])
        >>> scaler = scaler.partial_fit([np.array([5.0]), np.array([4.0, 6.0])])
        >>> scaler.mean_, scaler.n_samples_seen_
        (array([3.5]), array([6]))
        """
        return self._partial_fit(X)

    def _partial_fit(self, X):
        first = not hasattr(self, "n_samples_seen_")
        if first:
            self._padding_value = check_padding_value(self.padding_value)
        X = _items(X)
        seqs, _ = check_sequences(
            self, X, reset=first, padding_value=self._padding_value, allow_missing=True
        )
        if self.per_sequence:
            self.mean_ = self.var_ = self.scale_ = self.n_samples_seen_ = None
            return self
        values, mask = _masked(seqs)
        count = (mask & ~np.isnan(values)).sum(axis=(0, 1))
        mean, var = _moments(values, mask, axis=(0, 1))
        mean, var = mean[0, 0], var[0, 0]
        if not first and self.n_samples_seen_ is not None:
            mean, var, count = _merge_moments(
                (self.n_samples_seen_, self._running_mean, self.var_),
                (count, mean, var),
            )
        # NaN (a channel never observed) until a chunk observes it
        self._running_mean = mean
        self.n_samples_seen_, self.var_ = count, var
        self.mean_ = np.nan_to_num(mean)
        self.scale_ = _safe_scale(var)
        return self

    def transform(self, X):
        """Standardise sequences; padding stays padding.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any format of :meth:`fit`.

        Returns
        -------
        X_new : ndarray or list of ndarray
            The same format and shapes as ``X`` (a list for a ragged list, a
            2-D or 3-D array for an array), float64, with the real steps
            standardised and the padding steps unchanged.
        """
        check_is_fitted(self)
        pairs = is_pair_list(X)
        X = _items(X)
        seqs, _ = check_sequences(
            self, X, reset=False, padding_value=self._padding_value, allow_missing=True
        )
        if seqs.layout != "table" and (
            _get_output_config("transform", self)["dense"] != "default"
        ):
            raise ValueError(
                "set_output(transform='pandas'/'polars') only applies to a 2-D X "
                "(univariate sequences as rows); this X holds 3-D or ragged "
                "sequences. Use set_output(transform='default')."
            )
        values, mask = _masked(seqs)
        if self.per_sequence:
            mean, var = _moments(values, mask, axis=1)
            scaled = (values - mean) / _safe_scale(var)
        else:
            scaled = (values - self.mean_) / self.scale_
        out = restore_layout(X, seqs, scaled)
        return list(zip(out[::2], out[1::2])) if pairs else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN in some channels of a step is a missing value, kept as NaN
        tags.input_tags.allow_nan = True
        return tags

    def set_output(self, *, transform=None):
        """Set the output container of ``transform`` and ``fit_transform``.

        Only a 2-D ``X`` (univariate sequences as rows) can be returned as a
        data frame; 3-D and ragged sequences stay arrays and lists.

        Parameters
        ----------
        transform : {'default', 'pandas', 'polars'} or None, default=None
            'default': the format of ``X``; 'pandas' / 'polars': data frames
            with the columns of :meth:`get_feature_names_out`; None leaves
            the configuration unchanged.

        Returns
        -------
        self : object
            The scaler.
        """
        return super().set_output(transform=transform)

    @available_if(lambda self: not self.per_sequence)
    def inverse_transform(self, X):
        """Undo :meth:`transform` (only with ``per_sequence=False``, which
        keeps the statistics).

        Parameters
        ----------
        X : array-like or list of array-like
            Standardised sequences, in any format of :meth:`fit`.

        Returns
        -------
        X_original : ndarray or list of ndarray
            The same format and shapes as ``X``.
        """
        check_is_fitted(self)
        pairs = is_pair_list(X)
        X = _items(X)
        seqs, _ = check_sequences(
            self, X, reset=False, padding_value=self._padding_value, allow_missing=True
        )
        values, _ = _masked(seqs)
        out = restore_layout(X, seqs, values * self.scale_ + self.mean_)
        return list(zip(out[::2], out[1::2])) if pairs else out


def _items(X):
    """A list of (left, right) pairs -> the list [left0, right0, left1, ...]."""
    if not is_pair_list(X):
        return X
    return [item for pair in X for item in pair]


def _masked(seqs):
    """Float64 values (n, T, C) and the mask of real steps (n, T, 1)."""
    values = seqs.values.astype(np.float64, copy=False)
    mask = np.arange(values.shape[1])[None, :] < seqs.lengths[:, None]
    return values, mask[:, :, None]


def _moments(values, mask, axis):
    """Mean and variance over ``axis`` of the observed values (real steps,
    not NaN), kept as dimensions; NaN where a channel has none."""
    observed = mask & ~np.isnan(values)
    count = observed.sum(axis=axis, keepdims=True)
    safe = np.where(count > 0, count, 1)
    filled = np.where(observed, values, 0.0)
    mean = filled.sum(axis=axis, keepdims=True) / safe
    var = (np.where(observed, values - mean, 0.0) ** 2).sum(
        axis=axis, keepdims=True
    ) / safe
    none = count == 0
    return np.where(none, np.nan, mean), np.where(none, np.nan, var)


def _merge_moments(a, b):
    """``(mean, var, count)`` of two sets of observations given as ``(count,
    mean, var)`` each (per channel; NaN moments where a count is 0)."""
    (n_a, m_a, v_a), (n_b, m_b, v_b) = a, b
    n = n_a + n_b
    safe = np.where(n > 0, n, 1)
    # a channel that one side never observed takes the other side's moments
    m_a, v_a = np.where(n_a > 0, m_a, 0.0), np.where(n_a > 0, v_a, 0.0)
    m_b, v_b = np.where(n_b > 0, m_b, 0.0), np.where(n_b > 0, v_b, 0.0)
    delta = m_b - m_a
    mean = m_a + delta * n_b / safe
    var = (n_a * v_a + n_b * v_b + delta**2 * n_a * n_b / safe) / safe
    none = n == 0
    return np.where(none, np.nan, mean), np.where(none, np.nan, var), n


def _safe_scale(var):
    """Standard deviation, with 1 where a channel is (numerically) constant."""
    scale = np.sqrt(np.nan_to_num(var))
    return np.where(scale < 10 * np.finfo(np.float64).eps, 1.0, scale)
