"""Ensemble members of the mixture regressor: the rows each member holds out,
and the callback that stops each member on its held-out rows.

Member ``m`` of ``n_members`` trains on every row but those of fold ``m``,
and keeps the weights of the epoch whose loss on fold ``m`` was lowest. The
folds are drawn from the rows' contents (a seeded hash of the row of ``X``),
not from their positions: a repeated row falls in the fold of its copies, so
that an integer sample weight still equals repeating the sample, and neither
the order of the rows nor the units of ``y`` matter.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import murmurhash3_32
from skorch.callbacks import Callback

from .._net import _StopTraining
from .._rows import read_rows


def member_folds(X, weight, n_members, seed):
    """The fold (0 .. n_members - 1) of each row: the distinct rows of ``X``
    of positive weight, in the order of a seeded hash of their values, are
    dealt to the folds in turn (so the folds differ in size by at most one
    distinct row); a row of weight 0 trains nothing and gets fold 0. The rows
    are hashed a block at a time (``X`` may be a memory map)."""
    n = X.shape[0]
    digest = np.empty(n, dtype=np.int64)
    for start in range(0, n, _HASH_ROWS):
        rows = slice(start, min(start + _HASH_ROWS, n))
        digest[rows] = _row_digests(read_rows(X, rows), seed)
    folds = np.zeros(n, dtype=np.int64)
    kept = np.ones(n, bool) if weight is None else np.asarray(weight) > 0
    # identical rows share a digest, hence a rank, hence a fold
    _, rank = np.unique(digest[kept], return_inverse=True)
    folds[kept] = rank % n_members
    return folds


# rows hashed at once by member_folds
_HASH_ROWS = 65536


def _row_digests(X, seed):
    words = np.ascontiguousarray(X, dtype=np.float64).view(np.int32)
    digest = murmurhash3_32(words[:, 0].copy(), seed=seed, positive=True)
    for j in range(1, words.shape[1]):
        mixed = (digest.astype(np.int64) ^ words[:, j]).astype(np.int32)
        digest = murmurhash3_32(mixed, seed=seed, positive=True)
    return digest


def member_weights(weight, folds, n_members):
    """``(n, n_members)`` training weights: a row's weight, 0 in the column
    of the member that holds it out."""
    held_out = torch.as_tensor(folds)[:, None] == torch.arange(n_members)
    return torch.where(held_out, 0.0, weight[:, None]).to(weight.dtype)


class _MemberStopping(Callback):
    """Early stopping per member, each on the rows it holds out.

    After every epoch (and the scales' EM update) it computes each member's
    weighted mean loss on its held-out rows, the rows whose training weight
    is 0 in the member's column of the batch weights. A member whose loss
    improved by more than ``tol`` has its weights saved
    (``module.member_tensors``); training stops when no member has improved
    for ``patience`` epochs, and every member gets back its best weights. A
    member that holds out no row (fewer distinct rows than members) keeps
    its last weights and does not count for stopping.
    """

    # partial_fit (one pass per call) leaves this callback out
    stops_training = True

    def __init__(self, patience, tol, batch_size):
        self.patience = patience
        self.tol = tol
        self.batch_size = batch_size

    def on_train_begin(self, net, **kwargs):
        self._best = None

    def _held_out_losses(self, net, dataset):
        weight = dataset.weight
        y_pred = net.infer_all(dataset.inputs, self.batch_size)
        with torch.no_grad():
            losses = net.criterion_.per_sample(y_pred, dataset.target.to("cpu"))
            weight = weight.to("cpu", losses.dtype)
            held_out = torch.where(weight == 0, weight.amax(dim=1, keepdim=True), 0.0)
            total = held_out.sum(dim=0)
            mean = (losses * held_out).sum(dim=0) / total.clamp_min(1e-300)
        return np.where(total.numpy() > 0, mean.double().numpy(), np.nan)

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        losses = self._held_out_losses(net, dataset_train)
        module = net.module_
        if self._best is None:
            self._best = np.full(len(losses), np.inf)
            self._misses = np.zeros(len(losses), dtype=int)
            self._weights = [None] * len(losses)
        for m, loss in enumerate(losses):
            if np.isnan(loss):
                continue
            if loss < self._best[m] - self.tol:
                self._best[m], self._misses[m] = loss, 0
                saved = module.member_tensors(m)
                self._weights[m] = [t.detach().clone() for t in saved]
            else:
                self._misses[m] += 1
        counted = ~np.isnan(losses)
        if counted.any() and np.all(self._misses[counted] >= self.patience):
            raise _StopTraining

    def on_train_end(self, net, **kwargs):
        module = net.module_
        with torch.no_grad():
            for m, saved in enumerate(self._weights or []):
                if saved is not None:
                    for tensor, value in zip(module.member_tensors(m), saved):
                        tensor.copy_(value)
