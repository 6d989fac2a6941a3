"""Sequence input -> (padded array, lengths).

Pure numpy (no scikit-learn, no torch), shared by every family that reads
sequences: the recurrent family (float time series, token sequences) and, later,
the siamese family (token sequences).

Accepted layouts
----------------
* a 2-D float array ``(n_sequences, n_steps)``: univariate sequences;
* a 3-D float array ``(n_sequences, n_steps, n_channels)``: multivariate;
* a list (or tuple, or 1-D object array) of per-sequence arrays of shape
  ``(T_i,)`` or ``(T_i, n_channels)`` with different ``T_i`` (ragged);
* integer token sequences: a 2-D integer array ``(n_sequences, n_steps)`` or a
  list of 1-D integer arrays.

Variable length is written as **trailing padding**: NaN for float sequences
(every channel NaN at a step, the sktime/aeon/UCR convention) and 0 for token
sequences. A sequence's length is the index of its last real step plus one,
so padding a sequence with more trailing NaN/0 steps never changes it. Padding
in the middle of a sequence (NaN, or token 0, before its last real step), an
all-padding sequence, ``inf`` and channel counts that differ between sequences
are errors.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PaddedSequences", "pad_float_sequences", "pad_token_sequences"]


class PaddedSequences:
    """A batch of sequences as one zero-padded array plus their lengths.

    Parameters
    ----------
    values : ndarray of shape (n, T) or (n, T, C)
        Padded values: float ``(n, T, C)`` with 0 at padded steps, or integer
        tokens ``(n, T)`` with 0 at padded steps.
    lengths : ndarray of shape (n,)
        Real length of each sequence (``>= 1``).
    """

    def __init__(self, values: np.ndarray, lengths: np.ndarray):
        self.values = values
        self.lengths = lengths

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def n_channels(self) -> int:
        """Channels per step (1 for token sequences)."""
        return 1 if self.values.ndim == 2 else self.values.shape[2]


def is_sequence_list(X) -> bool:
    """True for the ragged layout: a list/tuple or a 1-D object array."""
    if isinstance(X, (list, tuple)):
        return True
    return isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1


def _as_list(X, name):
    if len(X) == 0:
        raise ValueError(f"{name} is an empty list; expected at least one sequence.")
    return list(X)


def pad_float_sequences(X, *, name: str = "X", dtype=np.float64) -> PaddedSequences:
    """Validate float sequences and pad them (NaN padding -> lengths).

    Parameters
    ----------
    X : ndarray of shape (n, T) or (n, T, C), or list of array-like
        Sequences in one of the layouts of this module. A 2-D array is read
        as ``n`` univariate sequences; a list as ragged sequences, each of
        shape ``(T_i,)`` or ``(T_i, C)``.
    name : str, default='X'
        Name of the argument, used in error messages.
    dtype : numpy dtype, default=np.float64
        dtype of the returned values.

    Returns
    -------
    PaddedSequences
        ``values`` of shape (n, T_max, C) with 0 at padded steps, and the
        lengths.

    Raises
    ------
    ValueError
        On NaN inside a sequence, an all-NaN or empty sequence, ``inf``,
        channel counts that differ, or an array that is neither 2-D nor 3-D.
    """
    if is_sequence_list(X):
        seqs = []
        n_channels = None
        for i, seq in enumerate(_as_list(X, name)):
            try:
                arr = np.asarray(seq, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{name}[{i}] could not be read as a numeric sequence: {exc}"
                ) from None
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
        values = np.full((len(seqs), max(s.shape[0] for s in seqs), n_channels), np.nan)
        for i, s in enumerate(seqs):
            values[i, : s.shape[0]] = s
    else:
        values = np.asarray(X, dtype=np.float64)
        if values.ndim == 2:
            values = values[:, :, None]
        elif values.ndim != 3:
            raise ValueError(
                f"{name} must be a 2-D array (n_sequences, n_steps), a 3-D array "
                "(n_sequences, n_steps, n_channels) or a list of sequences; got "
                f"an array of shape {values.shape}."
            )
        if values.shape[0] == 0 or values.shape[1] == 0 or values.shape[2] == 0:
            raise ValueError(
                f"{name} of shape {values.shape} is empty; expected at least one "
                "sequence with at least one step and one channel."
            )
    lengths = _float_lengths(values, name)
    values = np.where(np.isnan(values), 0.0, values).astype(dtype, copy=False)
    return PaddedSequences(np.ascontiguousarray(values), lengths)


def _float_lengths(values, name):
    """Lengths from trailing all-NaN steps; errors for any other NaN or inf."""
    if np.isinf(values).any():
        raise ValueError(
            f"{name} contains inf; only NaN is allowed, and only as trailing "
            "padding (all channels NaN at every step after the last real one)."
        )
    nan = np.isnan(values)
    n, n_steps = values.shape[:2]
    real_step = ~nan.all(axis=2)
    has_real = real_step.any(axis=1)
    if not has_real.all():
        i = int(np.flatnonzero(~has_real)[0])
        raise ValueError(
            f"{name}[{i}] is all NaN: every sequence needs at least one real step "
            "(NaN only marks trailing padding)."
        )
    lengths = n_steps - np.argmax(real_step[:, ::-1], axis=1)
    inside = np.arange(n_steps)[None, :] < lengths[:, None]
    bad = nan.any(axis=2) & inside
    if bad.any():
        i, t = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}[{i}] has NaN at step {t}, before its last real step "
            f"{int(lengths[i]) - 1}. NaN is only allowed as trailing padding "
            "(all channels NaN at every step after the last real one); impute "
            "missing values inside a sequence first."
        )
    return lengths.astype(np.int64)


def pad_token_sequences(X, *, vocab_size: int, name: str = "X") -> PaddedSequences:
    """Validate integer token sequences and pad them with 0.

    Parameters
    ----------
    X : ndarray of shape (n, T) or list of 1-D array-like
        Token ids in ``[0, vocab_size)``; 0 is padding and may only appear
        after a sequence's last real token.
    vocab_size : int
        Number of token ids, padding included.
    name : str, default='X'
        Name of the argument, used in error messages.

    Returns
    -------
    PaddedSequences
        int64 ``values`` of shape (n, T_max) and the lengths.
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
        values = np.zeros((len(seqs), max(len(s) for s in seqs)), dtype=np.int64)
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
            f"{values.min()}, max {values.max()}."
        )
    real = values != 0
    has_real = real.any(axis=1) if values.shape[1] else np.zeros(len(values), bool)
    if not has_real.all():
        i = int(np.flatnonzero(~has_real)[0])
        raise ValueError(
            f"{name}[{i}] has no token: every sequence needs at least one non-zero "
            "token (0 is padding)."
        )
    n_steps = values.shape[1]
    lengths = n_steps - np.argmax(real[:, ::-1], axis=1)
    inside = np.arange(n_steps)[None, :] < lengths[:, None]
    bad = ~real & inside
    if bad.any():
        i, t = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}[{i}] has the padding token 0 at step {t}, before its last "
            f"token at step {int(lengths[i]) - 1}; token 0 is reserved for "
            "trailing padding."
        )
    return PaddedSequences(np.ascontiguousarray(values), lengths.astype(np.int64))


def _as_tokens(X, name):
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} could not be read as token ids: {exc}") from None
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"{name} must hold integer token ids; got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or np.any(arr != np.round(arr)):
            raise ValueError(
                f"{name} must hold integer token ids in [0, vocab_size); got "
                "non-integer values (NaN, inf or fractions). Pad token sequences "
                "with 0, not NaN."
            )
    return arr.astype(np.int64)
