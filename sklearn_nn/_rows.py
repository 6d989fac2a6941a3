"""Feature matrices read a block of rows at a time (out-of-core fits).

A ``numpy.memmap`` (also what ``np.load(path, mmap_mode='r')`` returns) and
any other 2-D array whose rows can be sliced without converting it whole (an
``h5py`` dataset, a ``zarr`` or ``dask`` array, ...) is a *row source*. The
estimators that read a plain feature matrix never copy one whole: they
validate it block by block (:func:`check_row_source`) and hand the net a
:class:`RowBlocks`, whose rows are read when the batch iterator or the
inference loop asks for them, a block at a time.

Reading a memory map maps the file's pages into the process: they count in
its resident set (RSS) until the mapping is dropped, so a pass over a 2.4 GiB
file would grow the RSS by 2.4 GiB although nothing was copied. After each
read of at most :attr:`RowBlocks.read_rows` rows, the pages of a read-only or
shared (``'r'``, ``'r+'``) memory map are released from the process with
``madvise(MADV_DONTNEED)``: they stay in the operating system's page cache
(a later read costs no disk access) and the RSS stays at about one read's
worth. A copy-on-write map (``mode='c'``) keeps its pages (releasing them
would discard the changes made in memory).
"""

from __future__ import annotations

import mmap

import numpy as np
import torch
from scipy import sparse

# the rows of one validation block
_CHECK_ROWS = 65536


def is_row_source(X) -> bool:
    """True for a 2-D array to read a block of rows at a time.

    A ``numpy.memmap``, or an object that is not a numpy array, a list or a
    sparse matrix and has a 2-D ``shape``, a numpy ``dtype`` of numbers and
    row slicing (``X[a:b]``, ``X[sorted_indices]``).
    """
    if isinstance(X, np.memmap):
        return X.ndim == 2
    if isinstance(X, (np.ndarray, list, tuple)) or sparse.issparse(X):
        return False
    shape, dtype = getattr(X, "shape", None), getattr(X, "dtype", None)
    return (
        isinstance(dtype, np.dtype)
        and dtype.kind in "biuf"
        and isinstance(shape, tuple)
        and len(shape) == 2
        and hasattr(X, "__getitem__")
    )


def check_row_source(X, estimator, *, reset, dtype):
    """Validate a row source block by block; set (``reset``) or check
    ``n_features_in_`` as ``validate_data`` would.

    Every value must be finite, and fit in ``dtype`` (float32 networks); an
    error names the first bad row. One pass over the rows, each block's
    memory released before the next.
    """
    name = type(estimator).__name__
    n_rows, n_features = X.shape
    if n_rows < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
            f"is required by {name}."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 "
            f"is required by {name}."
        )
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {name} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    limit = np.finfo(dtype).max
    for start in range(0, n_rows, _CHECK_ROWS):
        block = read_rows(X, slice(start, min(start + _CHECK_ROWS, n_rows)))
        if block.dtype.kind != "f":
            continue
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            row = start + int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"Input X contains NaN or infinity (first in row {row}); {name} "
                "needs finite values."
            )
        if block.dtype.itemsize > np.dtype(dtype).itemsize:
            big = (np.abs(block) > limit).any(axis=1)
            if big.any():
                row = start + int(np.flatnonzero(big)[0])
                raise ValueError(
                    f"X has values beyond {np.dtype(dtype).name}'s range (first in "
                    f"row {row}), the precision of this model; rescale the input "
                    "(e.g. StandardScaler) or fit with dtype='float64'."
                )
    return X


def read_rows(X, index):
    """``X[index]`` as a numpy array, read :attr:`RowBlocks.read_rows` rows
    at a time with a memory map's pages released after each read.

    ``index`` is a slice (step 1) or a 1-D array of row numbers in any order
    (read in increasing order, as ``h5py`` requires, and put back). Scattered
    rows are read an eighth as many at a time: the kernel maps the pages
    around each one that a read touches (Linux's fault-around, 64 KiB), so
    8192 scattered rows would map 512 MiB of the file before the release.
    """
    step = RowBlocks.read_rows
    release = _page_releaser(X)
    if isinstance(index, slice):
        start, stop, _ = index.indices(X.shape[0])
        pieces = range(start, max(start, stop), step)
        out = None
        for i, a in enumerate(pieces):
            piece = np.asarray(X[a : min(a + step, stop)])
            if out is None:
                out = np.empty((max(0, stop - start), *piece.shape[1:]), piece.dtype)
            out[i * step : i * step + len(piece)] = piece
            release()
        if out is None:
            return np.asarray(X[start:start])
        return out
    step = max(1, step // 8)
    index = np.asarray(index, dtype=np.int64)
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    out = None
    for a in range(0, len(ordered), step):
        piece = np.asarray(X[ordered[a : a + step]])
        if out is None:
            out = np.empty((len(index), *piece.shape[1:]), piece.dtype)
        out[order[a : a + step]] = piece
        release()
    if out is None:
        return np.asarray(X[ordered])
    return out


def _page_releaser(X):
    """A function that drops the pages of ``X``'s memory map from the
    process (a no-op for other arrays and for copy-on-write maps)."""
    base = X
    while base is not None and not isinstance(base, mmap.mmap):
        if isinstance(base, np.memmap) and base.mode not in ("r", "r+"):
            return _no_op
        base = getattr(base, "base", None)
    advise = getattr(base, "madvise", None)
    option = getattr(mmap, "MADV_DONTNEED", None)
    if advise is None or option is None:
        return _no_op
    return lambda: advise(option)


def _no_op():
    pass


class RowBlocks:
    """The rows of a row source, read on demand as tensors.

    Stands in for an input tensor of a :class:`~sklearn_nn._net.TensorBatches`:
    ``shape``, ``device``, ``len``, ``blocks[index]`` (a slice or an array
    of row numbers: a tensor of those rows, in ``dtype``, on ``device``),
    ``to(device)`` and ``subset(index)`` (the rows ``index``, still unread).

    Parameters
    ----------
    array : row source
        The rows (see :func:`is_row_source`).
    dtype : numpy dtype
        The tensors' precision.
    device : str, default='cpu'
        Where the tensors go.
    rows : ndarray of int or None, default=None
        The rows of ``array`` this object holds, in order (None: all).
    columns : slice, default=slice(None)
        The columns it holds (one side of a pair matrix).
    """

    # rows per read of a memory map, after which its pages are released
    # (64 features of float32: 2 MiB per read)
    read_rows = 8192

    def __init__(self, array, dtype, device="cpu", rows=None, columns=None):
        self.array = array
        self.dtype = np.dtype(dtype)
        self.device = torch.device(device)
        self.rows = rows
        self.columns = slice(None) if columns is None else columns

    @property
    def shape(self):
        n = self.array.shape[0] if self.rows is None else len(self.rows)
        width = len(range(self.array.shape[1])[self.columns])
        return (n, width)

    def __len__(self):
        return self.shape[0]

    def _positions(self, index):
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        if self.rows is None:
            return index
        return self.rows[index]

    def __getitem__(self, index):
        values = read_rows(self.array, self._positions(index))[:, self.columns]
        values = np.ascontiguousarray(values, dtype=self.dtype)
        return torch.from_numpy(values).to(self.device)

    def to(self, device):
        return RowBlocks(self.array, self.dtype, device, self.rows, self.columns)

    def subset(self, index):
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        positions = self._positions(np.arange(len(self))[index])
        return RowBlocks(self.array, self.dtype, self.device, positions, self.columns)
