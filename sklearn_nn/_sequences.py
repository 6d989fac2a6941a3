"""THE sequence layer: user sequences -> (padded array, lengths).

Every estimator that reads sequences (the recurrent classifier, the pair
models' sequence towers, :class:`~sklearn_nn.preprocessing.SequenceStandardScaler`)
goes through this module, so that they share one set of input formats, one
padding rule per kind of sequence, one meaning of ``n_features_in_`` and the
same error messages.

Accepted layouts
----------------
* a 2-D float array ``(n_sequences, n_steps)``: univariate sequences (the
  "table" layout: ``n_features_in_`` is the number of columns, and feature
  names are checked as everywhere in scikit-learn);
* a 3-D float array ``(n_sequences, n_steps, n_channels)``: multivariate;
* a list (or tuple, or 1-D object array) of per-sequence arrays of shape
  ``(T_i,)`` or ``(T_i, n_channels)`` (ragged);
* integer token sequences: a 2-D integer array ``(n_sequences, n_steps)`` or a
  list of 1-D integer arrays (read as tokens when the estimator has a
  ``vocab_size``).

Padding rules
-------------
**Float sequences** end in *trailing* padding: steps whose every channel is
NaN (the sktime/aeon/UCR convention) and, with ``padding_value=v``, steps
whose every channel equals ``v`` (Keras' ``Masking(mask_value=v)``, trailing
steps only). A sequence's length is the index of its last real step plus
one, so more trailing padding never changes it. NaN before the last real
step is a *missing value* (not observed then) where the estimator reads them
(``allow_missing``: the sequence classifier, the pair models' sequence towers,
the scaler) and an error elsewhere; an all-padding sequence, ``inf`` and
channel counts that differ are errors.

**Token sequences** follow Keras' ``Embedding(mask_zero=True)``: token 0 is
padding *wherever it is* -- leading (Keras' ``pad_sequences`` default),
trailing or inside a sequence -- and is skipped: the real tokens of each
sequence are read in their order, as a masked Keras RNN reads them. Zeros
between real tokens are skipped too, but since that usually means that 0 was
meant as a real token, :func:`warn_inner_token_zeros` says so. A sequence
without any non-zero token is an error.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
    validate_data,
)

from .exceptions import InnerPaddingTokenWarning, ZeroPaddingWarning, _warn

__all__ = [
    "PaddedSequences",
    "check_missing_and_times",
    "check_padding_value",
    "check_sequences",
    "check_time_channel_parameters",
    "is_pair_list",
    "is_sequence_list",
    "read_float_sequences",
    "read_token_sequences",
    "restore_layout",
    "uses_missing_inputs",
]

# the zero-padding warning: fires when at least this fraction of the
# sequences end in at least _ZERO_RUN all-zero steps
_ZERO_PADDED_FRACTION = 0.5
_ZERO_RUN = 2


class PaddedSequences:
    """A batch of sequences as one zero-padded array plus their lengths.

    Parameters
    ----------
    values : ndarray of shape (n, T, C) or (n, T)
        Padded values: float ``(n, T, C)`` with 0 at padded steps, or integer
        tokens ``(n, T)`` (real tokens first, 0 after them).
    lengths : ndarray of shape (n,)
        Real length of each sequence (``>= 1``).
    layout : {'table', 'array', 'list', 'tokens'}
        The layout the sequences were given in (see the module docstring).
    n_inner_zeros : int, default=0
        Token sequences: number of 0 tokens found between real tokens (and
        skipped).
    """

    def __init__(self, values, lengths, layout, n_inner_zeros=0):
        self.values = values
        self.lengths = lengths
        self.layout = layout
        self.n_inner_zeros = n_inner_zeros

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def n_channels(self) -> int:
        """Channels per step (1 for token sequences)."""
        return 1 if self.values.ndim == 2 else self.values.shape[2]

    def take(self, index):
        """The sequences ``index``, trimmed to their longest length."""
        lengths = self.lengths[index]
        n_steps = int(lengths.max()) if len(lengths) else 0
        return PaddedSequences(
            self.values[index, :n_steps], lengths, self.layout, self.n_inner_zeros
        )


def is_sequence_list(X) -> bool:
    """True for the ragged layout: a list/tuple or a 1-D object array."""
    if isinstance(X, (list, tuple)):
        return True
    return isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1


def is_pair_list(X) -> bool:
    """True for a list of ``(left, right)`` pairs of sequences.

    A pair is a tuple or list of two array-likes that are not scalars; a
    list of rows of numbers (a pair matrix written as lists) is not a pair
    list.
    """
    if not is_sequence_list(X) or len(X) == 0:
        return False
    first = X[0]
    return (
        isinstance(first, (tuple, list))
        and len(first) == 2
        and all(np.ndim(side) >= 1 for side in first)
    )


def is_table(X) -> bool:
    """True for a 2-D array or a list of equal-length 1-D sequences."""
    if not is_sequence_list(X):
        # anything but a 3-D array goes through scikit-learn's table
        # validation (DataFrames, array-likes and their error messages)
        return getattr(X, "ndim", None) != 3
    if len(X) == 0:
        return False
    first = np.shape(X[0])
    return len(first) == 1 and all(np.shape(s) == first for s in X)


def check_padding_value(padding_value, *, tokens=False):
    """Validate the ``padding_value`` parameter; return it as a float or None."""
    if padding_value is None:
        return None
    if isinstance(padding_value, (bool, np.bool_)) or not isinstance(
        padding_value, numbers.Real
    ):
        raise TypeError(
            "padding_value must be None or a real number (e.g. 0.0 for "
            f"Keras-style zero padding), got {padding_value!r}."
        )
    value = float(padding_value)
    if not np.isfinite(value):
        raise ValueError(
            f"padding_value must be a finite number, got {padding_value!r}; "
            "NaN is always trailing padding, so use padding_value=None for "
            "NaN-padded sequences."
        )
    if tokens and value != 0:
        raise ValueError(
            f"padding_value={padding_value!r} cannot be used with token "
            "sequences (vocab_size is set): token 0 is always the padding "
            "token. Use padding_value=None."
        )
    return value


# --------------------------------------------------------------------- floats
def read_float_sequences(
    X, *, name="X", dtype=np.float64, padding_value=None, allow_missing=False
) -> PaddedSequences:
    """Validate float sequences and pad them (trailing padding -> lengths).

    Parameters
    ----------
    X : ndarray of shape (n, T) or (n, T, C), or list of array-like
        Sequences in one of the layouts of this module.
    name : str, default='X'
        Name of the argument, used in error messages.
    dtype : numpy dtype, default=np.float64
        dtype of the returned values.
    padding_value : float or None, default=None
        Trailing steps whose every channel equals it are padding (as are
        trailing all-NaN steps in any case).
    allow_missing : bool, default=False
        NaN before a sequence's last real step is a missing value (kept as
        NaN in ``values``) instead of an error.

    Returns
    -------
    PaddedSequences
        ``values`` of shape (n, T_max, C) with 0 at padded steps, and the
        lengths.
    """
    if is_sequence_list(X):
        layout = "list"
        seqs = []
        n_channels = None
        for i, seq in enumerate(_as_list(X, name)):
            arr = _as_float(seq, f"{name}[{i}]")
            if arr.ndim == 1:
                arr = arr[:, None]
            elif arr.ndim != 2:
                raise ValueError(
                    f"{name}[{i}] has {arr.ndim} dimensions; each sequence must have "
                    "shape (n_steps,) or (n_steps, n_channels)."
                )
            if arr.shape[0] == 0:
                raise ValueError(f"{name}[{i}] is an empty sequence (0 steps).")
            if n_channels is None:
                n_channels = arr.shape[1]
            elif arr.shape[1] != n_channels:
                raise ValueError(
                    f"{name}[{i}] has {arr.shape[1]} channels but {name}[0] has "
                    f"{n_channels}; every sequence needs the same number of channels."
                )
            seqs.append(arr)
        if n_channels == 0:
            raise ValueError(f"{name} has sequences with 0 channels.")
        values = np.full((len(seqs), max(s.shape[0] for s in seqs), n_channels), np.nan)
        for i, s in enumerate(seqs):
            values[i, : s.shape[0]] = s
    else:
        values = _as_float(X, name)
        if values.ndim == 2:
            layout = "table"
            values = values[:, :, None]
        elif values.ndim == 3:
            layout = "array"
        else:
            raise ValueError(
                f"{name} must be a 2-D array (n_sequences, n_steps), a 3-D array "
                "(n_sequences, n_steps, n_channels) or a list of sequences; got "
                f"an array of shape {values.shape}."
            )
        if 0 in values.shape:
            raise ValueError(
                f"{name} of shape {values.shape} is empty; expected at least one "
                "sequence with at least one step and one channel."
            )
    lengths = _float_lengths(values, name, padding_value, allow_missing)
    inside = np.arange(values.shape[1])[None, :] < lengths[:, None]
    values = np.where(inside[:, :, None], values, 0.0)
    if (
        np.dtype(dtype) == np.float32
        and values.size
        and np.nanmax(np.abs(values), initial=0) > np.finfo(np.float32).max
    ):
        raise ValueError(
            f"{name} has values beyond float32's range (|value| > "
            f"{np.finfo(np.float32).max:.3g}), the precision of this model "
            "(dtype='float32'); rescale the sequences (e.g. "
            "SequenceStandardScaler) or fit with dtype='float64'."
        )
    values = values.astype(dtype, copy=False)
    return PaddedSequences(np.ascontiguousarray(values), lengths, layout)


def _as_list(X, name):
    if len(X) == 0:
        raise ValueError(f"{name} is an empty list; expected at least one sequence.")
    return list(X)


def _as_float(X, name):
    try:
        arr = np.asarray(X)
        if np.iscomplexobj(arr):
            raise ValueError("complex values are not supported")
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} could not be read as a numeric sequence: {exc}"
        ) from None
    return arr


def _float_lengths(values, name, padding_value, allow_missing=False):
    """Lengths from trailing padding steps; errors for inf, and for any other
    NaN unless ``allow_missing``."""
    if np.isinf(values).any():
        raise ValueError(
            f"{name} contains inf; only NaN is allowed, and only as trailing "
            "padding (all channels NaN at every step after the last real one)."
        )
    nan = np.isnan(values)
    n_steps = values.shape[1]
    pad_step = nan.all(axis=2)
    if padding_value is not None:
        pad_step |= (values == padding_value).all(axis=2)
    real_step = ~pad_step
    has_real = real_step.any(axis=1)
    if not has_real.all():
        i = int(np.flatnonzero(~has_real)[0])
        what = "NaN" if padding_value is None else f"NaN or {padding_value}"
        raise ValueError(
            f"{name}[{i}] is all padding (every step is {what}): every sequence "
            "needs at least one real step."
        )
    lengths = n_steps - np.argmax(real_step[:, ::-1], axis=1)
    inside = np.arange(n_steps)[None, :] < lengths[:, None]
    bad = nan.any(axis=2) & inside
    if bad.any() and not allow_missing:
        i, t = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}[{i}] has NaN at step {t}, before its last real step "
            f"{int(lengths[i]) - 1}. NaN is only allowed as trailing padding "
            "(all channels NaN at every step after the last real one) for this "
            "estimator; impute missing values inside a sequence first."
        )
    return lengths.astype(np.int64)


# ------------------------------------------------- missing values and times
def check_time_channel_parameters(time_channel, missing_values, vocab_size):
    """The ``time_channel`` settings that are errors before any data is read.

    Shared by every estimator with ``missing_values`` and ``time_channel``
    parameters (the sequence classifier, the pair models' sequence towers).
    """
    if time_channel is not None and missing_values == "error":
        raise ValueError(
            "time_channel is read through the missing-value inputs (the time "
            "since each channel was observed), which missing_values='error' "
            "turns off; use missing_values='auto' or 'indicators'."
        )
    if time_channel is not None and vocab_size is not None:
        raise ValueError(
            "time_channel names a channel of float sequences; token "
            "sequences (vocab_size set) have none."
        )


def check_missing_and_times(
    seqs: PaddedSequences, *, time_channel, indicators=None, name="X", estimator=""
) -> bool:
    """Check the observation times of float sequences and find missing values.

    Parameters
    ----------
    seqs : PaddedSequences
        Float sequences read with ``allow_missing=True``.
    time_channel : int or None
        The channel that holds each step's observation time: it must exist,
        leave at least one other channel, have no NaN at a real step and
        not decrease within a sequence.
    indicators : bool or None, default=None
        None while fitting; afterwards whether the fitted network reads the
        missing-value inputs: without them a missing value is an error.
    name : str, default='X'
        Name of the sequences in messages (e.g. ``'X (left items)'``).
    estimator : str, default=''
        Name of the estimator in messages.

    Returns
    -------
    bool
        Whether a channel other than the time channel has a missing value
        (NaN at a real step).
    """
    real = np.arange(seqs.values.shape[1])[None, :] < seqs.lengths[:, None]
    channels = seqs.values.shape[2]
    values = seqs.values
    if time_channel is not None:
        if time_channel >= channels:
            raise ValueError(
                f"time_channel={time_channel}, but the sequences have "
                f"{channels} channels (0..{channels - 1}) in {name}."
            )
        if channels < 2:
            raise ValueError(
                "time_channel needs at least one channel besides the times; "
                f"the sequences in {name} have 1 channel."
            )
        times = values[:, :, time_channel]
        if np.isnan(times[real]).any():
            i = int(np.argwhere(np.isnan(times) & real)[0][0])
            raise ValueError(
                f"{name}[{i}] has no time (NaN in time_channel={time_channel}) at "
                "a real step; every step needs its observation time."
            )
        steps = np.diff(times, axis=1)
        if (steps[real[:, 1:]] < 0).any():
            i = int(np.argwhere((steps < 0) & real[:, 1:])[0][0])
            raise ValueError(
                f"{name}[{i}]'s times (channel {time_channel}) decrease; the steps "
                "of a sequence must be in the order of their times."
            )
        values = np.delete(values, time_channel, axis=2)
    nan_step = np.isnan(values).any(axis=2)
    missing = bool(nan_step.any())
    if missing and indicators is not None and not indicators:
        i, t = (int(v) for v in np.argwhere(nan_step)[0])
        raise ValueError(
            f"{name}[{i}] has NaN at step {t}, before its last real step, but "
            f"{estimator} was fitted on sequences without missing values. Fit "
            "with missing_values='indicators' to read them."
        )
    return missing


def uses_missing_inputs(missing_values, missing, time_channel) -> bool:
    """Whether a network reads the missing-value inputs
    (:class:`~sklearn_nn._layers.ObservedInputs`): ``missing_values``
    resolved, given whether the training sequences have ``missing``
    values."""
    return missing_values == "indicators" or (
        missing_values == "auto" and (missing or time_channel is not None)
    )


def warn_zero_padding(seqs: PaddedSequences, estimator_name: str, name="X"):
    """Warn when ``padding_value=None`` but many sequences end in zeros.

    Zero-padded data (Keras' convention) read with ``padding_value=None``
    counts the zeros as real steps: in the loss and as the "final" step.
    """
    values, lengths = seqs.values, seqs.lengths
    n = len(lengths)
    if n < 2 or values.ndim != 3:
        return
    # the last _ZERO_RUN real steps of each sequence (shorter sequences
    # never count)
    idx = lengths[:, None] - 1 - np.arange(_ZERO_RUN)[None, :]
    steps = values[np.arange(n)[:, None], np.maximum(idx, 0)]
    ends_in_zeros = (steps == 0).all(axis=(1, 2)) & (lengths >= _ZERO_RUN)
    fraction = float(ends_in_zeros.mean())
    if fraction >= _ZERO_PADDED_FRACTION:
        _warn(
            f"{estimator_name}: {fraction:.0%} of the sequences in {name} end in "
            f"{_ZERO_RUN} or more steps whose every channel is 0. With "
            "padding_value=None those zeros are real steps: they enter the "
            "loss and the last of them is read as the sequence's final step. "
            "If the sequences are zero-padded (Keras' convention), pass "
            "padding_value=0.0 to treat trailing all-zero steps as padding.",
            ZeroPaddingWarning,
        )


# --------------------------------------------------------------------- tokens
def read_token_sequences(X, *, vocab_size: int, name: str = "X") -> PaddedSequences:
    """Validate integer token sequences; skip the padding token 0.

    Parameters
    ----------
    X : ndarray of shape (n, T) or list of 1-D array-like
        Token ids in ``[0, vocab_size)``; 0 is padding wherever it is.
    vocab_size : int
        Number of token ids, padding included.
    name : str, default='X'
        Name of the argument, used in error messages.

    Returns
    -------
    PaddedSequences
        int64 ``values`` of shape (n, T_max): each sequence's non-zero tokens
        first, in their order, then 0; the lengths (number of non-zero
        tokens); ``n_inner_zeros``, the number of zeros that were between
        real tokens.
    """
    if is_sequence_list(X):
        seqs = []
        for i, seq in enumerate(_as_list(X, name)):
            arr = _as_tokens(seq, f"{name}[{i}]")
            if arr.ndim != 1:
                raise ValueError(
                    f"{name}[{i}] has shape {arr.shape}; a token sequence must be "
                    "1-D (n_steps,)."
                )
            seqs.append(arr)
        width = max(len(s) for s in seqs)
        values = np.zeros((len(seqs), width), dtype=np.int64)
        for i, s in enumerate(seqs):
            values[i, : len(s)] = s
    else:
        values = _as_tokens(X, name)
        if values.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D integer array (n_sequences, n_steps) or a "
                f"list of 1-D token sequences; got an array of shape {values.shape}."
            )
    if values.shape[0] == 0:
        raise ValueError(f"{name} is empty; expected at least one sequence.")
    if values.size and (values.min() < 0 or values.max() >= vocab_size):
        raise ValueError(
            f"{name} has token ids outside [0, vocab_size={vocab_size}): min "
            f"{values.min()}, max {values.max()}. Ids must be integers in "
            "[0, vocab_size), 0 being padding; raise vocab_size or re-index "
            "the tokens."
        )
    real = values != 0
    lengths = real.sum(axis=1)
    if not (lengths > 0).all():
        i = int(np.flatnonzero(lengths == 0)[0])
        raise ValueError(
            f"{name}[{i}] has no token: every sequence needs at least one "
            "non-zero token (0 is padding)."
        )
    n_steps = values.shape[1]
    steps = np.arange(n_steps)[None, :]
    first = np.argmax(real, axis=1)
    last = n_steps - 1 - np.argmax(real[:, ::-1], axis=1)
    inner = ~real & (steps > first[:, None]) & (steps < last[:, None])
    # a stable sort of the "is padding" flags moves the real tokens to the
    # front in their order
    order = np.argsort(~real, axis=1, kind="stable")[:, : int(lengths.max())]
    compact = np.take_along_axis(values, order, axis=1)
    return PaddedSequences(
        np.ascontiguousarray(compact),
        lengths.astype(np.int64),
        "tokens",
        int(inner.sum()),
    )


def warn_inner_token_zeros(seqs: PaddedSequences, estimator_name: str, name="X"):
    """Say that zeros between real tokens were skipped as padding."""
    if seqs.n_inner_zeros:
        _warn(
            f"{estimator_name}: {name} has {seqs.n_inner_zeros} token(s) 0 between "
            "real tokens. Token 0 is padding wherever it is (as with Keras' "
            "Embedding(mask_zero=True)) and those steps were skipped. If 0 is a "
            "real token id in your data, add 1 to every id (and to vocab_size) "
            "so that 0 is free for padding.",
            InnerPaddingTokenWarning,
        )


def _as_tokens(X, name):
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} could not be read as token ids: {exc}") from None
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(
            f"{name} must hold integer token ids (0 = padding); got dtype {arr.dtype}."
        )
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or np.any(arr != np.round(arr)):
            raise ValueError(
                f"{name} must hold integer token ids (0 = padding); got "
                "non-integer values (NaN, inf or fractions). Pad token sequences "
                "with 0, not NaN."
            )
        if arr.size and np.abs(arr).max() >= 2**62:
            raise ValueError(f"{name} has token ids too large for int64.")
    return arr.astype(np.int64)


# ---------------------------------------------------------- estimator-facing
def check_sequences(
    estimator,
    X,
    *,
    reset,
    y=None,
    vocab_size=None,
    padding_value=None,
    dtype=np.float64,
    name="X",
    allow_missing=False,
):
    """Read ``X`` for ``estimator``: the one entry point of every estimator.

    Reads token sequences when ``vocab_size`` is set and float sequences
    otherwise. With ``reset=True`` it sets ``n_features_in_`` (the number of
    columns of a 2-D float ``X``, the number of channels of a 3-D or ragged
    ``X``, 1 for tokens) and ``feature_names_in_`` (2-D input with string
    column names), and warns about zero padding and inner token zeros; with
    ``reset=False`` it checks them.

    Returns
    -------
    seqs : PaddedSequences
    y : ndarray or None
        The validated ``y`` (when given).
    """
    est_name = type(estimator).__name__
    padding_value = check_padding_value(padding_value, tokens=vocab_size is not None)
    if reset:
        estimator._sequence_layout = None
    if vocab_size is not None:
        seqs = read_token_sequences(X, vocab_size=vocab_size, name=name)
        n_features = 1
        if reset:
            warn_inner_token_zeros(seqs, est_name, name)
    elif is_table(X) and (reset or estimator._sequence_layout == "table"):
        # a 2-D array, or a list of equal-length 1-D sequences (the layout
        # scikit-learn's tools pass around): univariate sequences, validated
        # as a table (feature names, n_features_in_ = number of columns)
        if is_sequence_list(X):
            X = list(X)
        kwargs = dict(reset=reset, dtype=np.float64, ensure_all_finite="allow-nan")
        if y is None:
            X = validate_data(estimator, X, **kwargs)
        else:
            X, y = validate_data(estimator, X, y, **kwargs)
        seqs = read_float_sequences(
            X,
            name=name,
            dtype=dtype,
            padding_value=padding_value,
            allow_missing=allow_missing,
        )
        if reset:
            estimator._sequence_layout = "table"
            estimator._n_channels = 1
            if padding_value is None:
                warn_zero_padding(seqs, est_name, name)
        return seqs, y
    else:
        if is_table(X) and not is_sequence_list(X):
            X = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
        seqs = read_float_sequences(
            X,
            name=name,
            dtype=dtype,
            padding_value=padding_value,
            allow_missing=allow_missing,
        )
        n_features = seqs.n_channels
        if reset and padding_value is None:
            warn_zero_padding(seqs, est_name, name)
    if reset:
        estimator._sequence_layout = "tokens" if vocab_size is not None else "list"
        estimator._n_channels = n_features
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator._n_channels:
        raise ValueError(
            f"{name} has {n_features} channels per step, but {est_name} is "
            f"expecting {estimator._n_channels} channels as input."
        )
    if y is not None:
        y = column_or_1d(y, warn=True)
        check_consistent_length(seqs, y)
    return seqs, y


def restore_layout(X, seqs: PaddedSequences, new_values, padding_value=None):
    """Write ``new_values`` (n, T, C) at the real steps of ``X``, in ``X``'s layout.

    Padding steps keep what ``X`` had there (NaN or ``padding_value``), so
    ragged input gives ragged output with the same shapes, and padded arrays
    stay padded the same way.
    """
    lengths = seqs.lengths
    if seqs.layout == "list":
        out = []
        for i, seq in enumerate(X):
            arr = np.array(seq, dtype=np.float64)
            view = arr[:, None] if arr.ndim == 1 else arr
            view[: lengths[i]] = new_values[i, : lengths[i]]
            out.append(arr)
        return out
    arr = np.array(X, dtype=np.float64)
    view = arr[:, :, None] if arr.ndim == 2 else arr
    inside = np.arange(view.shape[1])[None, :] < lengths[:, None]
    n_steps = new_values.shape[1]
    view[:, :n_steps][inside[:, :n_steps]] = new_values[inside[:, :n_steps]]
    return arr
