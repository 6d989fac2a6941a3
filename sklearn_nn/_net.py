"""The private skorch net and its data plumbing.

Nothing estimator-specific lives here. The estimators hand the net a
:class:`TensorBatches` (tensors already on the compute device); the net's
iterator cuts batches by slicing those tensors, which avoids skorch's
per-sample ``Dataset.__getitem__`` + ``collate`` path (about 2x the time of a
hand-written loop on a small MLP).

A batch is ``(inputs, (target, weight))`` where ``inputs`` is a tuple of
tensors passed positionally to the module and ``weight`` is ``None`` or a
per-sample weight tensor. The criterion is called as
``criterion(y_pred, target, weight)`` and returns the (weighted) scalar loss;
``y_pred`` is whatever the module returned (the prediction first, extra
outputs such as gate weights or per-step logits after it). In training steps
the net calls the module's ``forward_train`` instead of ``forward`` when the
module defines one: an output reduced to what the criterion reads. (Hooks
registered on the top-level module therefore do not run in training steps;
those on its submodules do.)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping

# DivergenceError is also importable from here, where it used to live
from .exceptions import DivergenceError, DivergenceWarning, _warn


class TensorBatches(torch.utils.data.Dataset):
    """Model inputs, target and sample weights held as whole tensors.

    Parameters
    ----------
    inputs : tuple of torch.Tensor
        Positional inputs of the module, each with the samples on axis 0.
    target : torch.Tensor or None
        Encoded target (class codes or float values).
    weight : torch.Tensor or None
        Per-sample weights; ``None`` means unweighted.
    """

    def __init__(self, inputs, target=None, weight=None):
        self.inputs = tuple(inputs)
        self.target = target
        self.weight = weight

    def __len__(self):
        return self.inputs[0].shape[0]

    def __getitem__(self, index):
        return self.take(index)

    def take(self, index):
        """Return a new :class:`TensorBatches` with the rows ``index`` (a
        slice, or row numbers as a numpy array or tensor), read into tensors:
        an input that is a :class:`~sklearn_nn._rows.RowBlocks` reads those
        rows now."""
        if isinstance(index, np.ndarray):
            index = torch.as_tensor(index)
        on_device = {}

        def pick(t):
            if t is None:
                return None
            if isinstance(index, slice) or not isinstance(t, torch.Tensor):
                return t[index]
            if t.device not in on_device:
                on_device[t.device] = index.to(t.device)
            return t[on_device[t.device]]

        return TensorBatches(
            tuple(pick(t) for t in self.inputs), pick(self.target), pick(self.weight)
        )

    def subset(self, index):
        """The rows ``index`` (an array of row numbers): tensors are
        gathered (:meth:`take`), a :class:`~sklearn_nn._rows.RowBlocks` stays
        unread."""
        if not any(hasattr(t, "subset") for t in self.inputs):
            return self.take(index)
        index = torch.as_tensor(np.asarray(index))
        taken = self.take(index)
        inputs = tuple(
            t.subset(index) if hasattr(t, "subset") else taken.inputs[i]
            for i, t in enumerate(self.inputs)
        )
        return TensorBatches(inputs, taken.target, taken.weight)

    def to(self, device):
        """Move every tensor to ``device`` (a
        :class:`~sklearn_nn._rows.RowBlocks` reads its rows onto it)."""

        def move(t):
            return None if t is None else t.to(device)

        return TensorBatches(
            tuple(move(t) for t in self.inputs), move(self.target), move(self.weight)
        )


class SliceIterator:
    """Yield mini-batches of a :class:`TensorBatches`.

    The rows are taken a block at a time (about ``block_rows`` rows, a
    whole number of batches) and each block is sliced into batches (views).
    Without shuffling the blocks are contiguous (slices of tensors: no copy).
    With shuffling, the rows are permuted once per pass, the permutation
    drawn from ``generator`` so that training is reproducible, and each
    block gathers the rows of its part of the permutation: one gather per
    block is as fast as one per pass (per-batch gathers cost about 5 % of a
    small network's epoch), and the memory is a block, not a shuffled copy
    of the data set. An input that is a :class:`~sklearn_nn._rows.RowBlocks`
    (a memory-mapped file, ...) is read block by block the same way, so that
    the batches are the same as from memory.
    """

    block_rows = 65536

    def __init__(self, dataset, batch_size, shuffle=False, generator=None):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        ds = self.dataset
        n, size = len(ds), self.batch_size
        block = size * max(1, self.block_rows // size)
        if not (self.shuffle and n > size):
            for start in range(0, n, block):
                yield from _slices(ds.take(slice(start, start + block)), size)
            return
        perm = torch.randperm(n, generator=self.generator)
        for start in range(0, n, block):
            yield from _slices(ds.take(perm[start : start + block]), size)


def _slices(ds, size):
    inputs, target, weight = ds.inputs, ds.target, ds.weight
    for start in range(0, len(ds), size):
        rows = slice(start, start + size)
        yield (
            tuple(t[rows] for t in inputs),
            (
                None if target is None else target[rows],
                None if weight is None else weight[rows],
            ),
        )


class LengthBucketIterator(SliceIterator):
    """Batches of sequences of similar length, each trimmed to its longest.

    The dataset's inputs are ``(padded, lengths)``. Each pass orders the rows
    by length (ties in random order when shuffling), cuts that order into
    batches of ``batch_size`` and, when shuffling, visits the batches in a
    random order drawn from ``generator``, so training stays stochastic while
    a batch of short sequences no longer pays for the longest one in the data
    set.
    """

    def __iter__(self):
        ds = self.dataset
        values, lengths = ds.inputs
        lengths_cpu = lengths.cpu()
        if self.shuffle:
            perm = torch.randperm(len(ds), generator=self.generator)
            order = perm[torch.sort(lengths_cpu[perm], stable=True).indices]
        else:
            order = torch.sort(lengths_cpu, stable=True).indices
        batches = list(order.split(self.batch_size))
        if self.shuffle:
            visit = torch.randperm(len(batches), generator=self.generator)
            batches = [batches[i] for i in visit.tolist()]
        for idx in batches:
            n_steps = int(lengths_cpu[idx].max())
            idx = idx.to(values.device)
            yield (
                (values[idx, :n_steps], lengths[idx]),
                (
                    ds.target[idx],
                    None if ds.weight is None else ds.weight[idx],
                ),
            )


class _Net(NeuralNet):
    """skorch net with weighted-loss plumbing and a fast inference path."""

    def get_default_callbacks(self):
        # the estimator passes exactly the callbacks it needs
        return []

    def _estimator_predicts(self, *args, **kwargs):
        raise TypeError(
            "net_ is the estimator's trained skorch net; predict with the "
            "estimator itself (est.predict(X), est.predict_proba(X)), which "
            "validates X and builds the module's inputs, or call net_.module_ "
            "on tensors."
        )

    predict = predict_proba = _estimator_predicts

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        # skorch's partial_fit swallows KeyboardInterrupt (its callbacks stop
        # training by raising it), so Ctrl-C would return a half-trained
        # model; here a user's interrupt propagates (and the estimator's fit
        # rolls back), and only our callbacks' _StopTraining ends training
        if not self.initialized_:
            self.initialize()
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y, **fit_params)
        except _StopTraining:
            pass
        self.notify("on_train_end", X=X, y=y)
        return self

    def infer(self, x, **fit_params):
        module = self.module_
        # A module may define ``forward_train``: the output of a training
        # step, reduced to what the criterion reads (e.g. a pair model's two
        # embeddings, without the probability head it only needs to predict).
        if module.training:
            forward_train = getattr(module, "forward_train", None)
            if forward_train is not None:
                return forward_train(*x, **fit_params)
        return module(*x, **fit_params)

    # optimizers known to step once per backward pass (no closure needed)
    _single_pass_optimizers = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)

    def train_step(self, batch, **fit_params):
        # skorch passes a closure to ``optimizer.step`` for the optimizers
        # that re-evaluate the loss (LBFGS); the built-in ones step once
        # after one backward pass, without the closure's bookkeeping.
        # (No callback of this net listens to ``on_grad_computed``.)
        if type(self.optimizer_) not in self._single_pass_optimizers:
            return super().train_step(batch, **fit_params)
        self.optimizer_.zero_grad()
        step = self.train_step_single(batch, **fit_params)
        self.optimizer_.step()
        return step

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # skorch's epoch loop; the batch size is read from the first input
        # tensor instead of skorch's generic ``get_len``, which walks nested
        # data structures and costs as much as a small layer per batch
        if iterator is None:
            return
        history = self.history
        batch_count = 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            history.record_batch(prefix + "_loss", step["loss"].item())
            history.record_batch(prefix + "_batch_size", batch[0][0].shape[0])
            self.notify("on_batch_end", batch=batch, training=training, **step)
            batch_count += 1
        history.record(prefix + "_batch_count", batch_count)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        target, weight = y_true
        return self.criterion_(y_pred, target, weight)

    def _set_training(self, training=True):
        # skorch calls this once per batch; module.train() walks every
        # submodule, so skip it when the mode is already right.
        if getattr(self, "_training_mode", None) is not training:
            super()._set_training(training)
            self._training_mode = training

    def check_data(self, X, y=None):
        if not isinstance(X, TensorBatches):
            raise TypeError("_Net is fitted on a TensorBatches instance")

    def infer_all(self, inputs, batch_size, module=None, *, by_length=False, **kwargs):
        """Run the module in eval mode over ``inputs``, in chunks.

        This is the one inference path of every estimator.

        Parameters
        ----------
        inputs : tuple of Tensor
            The module's positional inputs, all with the rows first, on any
            device: each chunk is moved to the net's device.
        batch_size : int
            The most rows per forward pass.
        module : torch.nn.Module, default=None
            A part of the module that takes the same inputs (a tower, the
            gate); the whole module when None.
        by_length : bool, default=False
            Sequence inputs: ``inputs[0]`` holds sequences padded after their
            ends and ``inputs[1]`` their lengths. Each chunk is trimmed to its
            longest sequence; above ``batch_size`` rows the chunks hold
            sequences of similar length (a stable sort), so that short
            sequences do not run over long ones' padding.
        **kwargs
            Keyword arguments of the module's forward.

        Returns
        -------
        Tensor or tuple of Tensor
            The module's output for every row, in the input order, on the CPU;
            tuple outputs element-wise. An output with a time axis (dim 1,
            when chunks of different lengths give it different sizes) is
            zero-padded to the longest sequence.
        """
        self._set_training(False)
        module = self.module_ if module is None else module
        device = self.device
        n = inputs[0].shape[0]
        order = None
        if n <= batch_size:
            chunks = [slice(None)]
        elif by_length:
            order = torch.sort(inputs[1].cpu(), stable=True).indices
            chunks = order.split(batch_size)
        else:
            chunks = [slice(i, i + batch_size) for i in range(0, n, batch_size)]
        outputs, result = [], None
        as_given = len(chunks) == 1 and all(isinstance(t, torch.Tensor) for t in inputs)
        with torch.inference_mode():
            for idx in chunks:
                # (a RowBlocks input reads its rows here)
                batch = inputs if as_given else [t[idx] for t in inputs]
                if by_length:
                    steps = int(batch[1].max())
                    if steps < batch[0].shape[1]:
                        batch = [batch[0][:, :steps], *batch[1:]]
                if device != "cpu":
                    batch = [t.to(device) for t in batch]
                out = module(*batch, **kwargs)
                if len(chunks) == 1 or by_length:
                    outputs.append(out)
                    continue
                # row chunks: written into the result at once, so that each
                # chunk's buffers are freed before the next (keeping every
                # chunk until a final cat fragments the heap: +2 MiB per
                # chunk, 120 MiB over a million rows)
                parts = out if isinstance(out, tuple) else (out,)
                if result is None:
                    result = [
                        p.new_empty((n, *p.shape[1:]), device="cpu") for p in parts
                    ]
                for whole, part in zip(result, parts, strict=True):
                    whole[idx] = part
        if result is not None:
            return tuple(result) if isinstance(out, tuple) else result[0]
        if len(outputs) == 1:
            return _to_cpu(outputs[0])
        if isinstance(outputs[0], tuple):
            return tuple(
                _join_chunks(parts, order) for parts in zip(*outputs, strict=True)
            )
        return _join_chunks(outputs, order)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_training_mode", None)
        return state


class _StopTraining(Exception):
    """A callback ends training early (not a user's KeyboardInterrupt)."""


class _EarlyStopping(EarlyStopping):
    """skorch's EarlyStopping, ending training with :class:`_StopTraining`.

    skorch stops training by raising ``KeyboardInterrupt`` and swallows every
    ``KeyboardInterrupt`` in ``partial_fit``, so a user's Ctrl-C would end
    ``fit`` silently with a half-trained model; ``_Net.partial_fit`` lets a
    real ``KeyboardInterrupt`` through and catches only this one.
    """

    # partial_fit (one pass per call) leaves out the callbacks that stop
    stops_training = True

    def on_epoch_end(self, net, **kwargs):
        try:
            super().on_epoch_end(net, **kwargs)
        except KeyboardInterrupt:
            if self.misses_ != self.patience:  # a user's interrupt
                raise
            raise _StopTraining from None

    def restore_best(self, net):
        """Load the best epoch's weights now (True if there were any)."""
        weights = getattr(self, "best_model_weights_", None)
        if not self.load_best or weights is None:
            return False
        net.module_.load_state_dict(weights)
        return True


class StopOnDivergence(Callback):
    """Stop a fit whose training loss is not finite or explodes.

    A training batch loss that is NaN or infinite, or whose magnitude exceeds
    ``growth`` times that of the fit's first batch (and at least ``growth *
    1e-3``), counts as a divergence. Without a validation set the fit raises
    :class:`~sklearn_nn.exceptions.DivergenceError` (and the estimator is
    rolled back to its state before ``fit``). With one (``early_stopping``),
    once an epoch has been validated, the diverging epoch is dropped, the best
    validation epoch's weights are restored, training stops and a
    :class:`~sklearn_nn.exceptions.DivergenceWarning` says so.
    """

    growth = 1e6

    def __init__(self, estimator_name, lr):
        self.estimator_name = estimator_name
        self.lr = lr

    def on_train_begin(self, net, **kwargs):
        self.reference_ = None

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        if not training:
            return
        loss = loss.item()
        if self.reference_ is None and math.isfinite(loss):
            self.reference_ = max(abs(loss), 1e-3)
            return
        if math.isfinite(loss) and abs(loss) <= self.growth * self.reference_:
            return
        epoch = len(net.history)
        n_batch = len(net.history[-1]["batches"])
        what = (
            f"became {loss}"
            if not math.isfinite(loss)
            else f"exploded to {loss:.3g} ({abs(loss) / self.reference_:.2g} times "
            "the first batch's)"
        )
        advice = (
            f"Try a smaller lr (now {self.lr}), standardize the inputs and "
            "targets (e.g. StandardScaler), or add weight_decay."
        )
        stopper = dict(net.callbacks_).get("early_stopping")
        if (
            epoch > 1
            and "valid_loss" in net.history[-2]
            and stopper is not None
            and stopper.restore_best(net)
        ):
            del net.history[-1]
            best = stopper.best_epoch_
            _warn(
                f"{self.estimator_name}: the training loss {what} at epoch {epoch} "
                f"(batch {n_batch}); training was stopped and the weights of epoch "
                f"{best}, the best on the validation set, were restored. {advice}",
                DivergenceWarning,
            )
            raise _StopTraining
        raise DivergenceError(
            f"{self.estimator_name}: the training loss {what} at epoch {epoch} "
            f"(batch {n_batch}); the fit diverged and was stopped. {advice}"
        )


class ValidationScore(Callback):
    """Record ``valid_score``: the estimator's metric on the validation set.

    The validation outputs computed for the validation loss are reused
    (no second forward pass); ``score_fn(output, target, weight)`` turns
    them into a float such as accuracy or R^2.
    """

    def __init__(self, score_fn):
        self.score_fn = score_fn

    def on_epoch_begin(self, net, **kwargs):
        self._outputs, self._targets, self._weights = [], [], []

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if training:
            return
        pred = y_pred[0] if isinstance(y_pred, tuple) else y_pred
        target, weight = batch[1]
        self._outputs.append(pred)
        self._targets.append(target)
        if weight is not None:
            self._weights.append(weight)

    def on_epoch_end(self, net, **kwargs):
        if not self._outputs:
            return
        weight = torch.cat(self._weights) if self._weights else None
        score = self.score_fn(
            torch.cat(self._outputs), torch.cat(self._targets), weight
        )
        net.history.record("valid_score", float(score))
        self._outputs, self._targets, self._weights = [], [], []


class EpochProgressBar(Callback):
    """A tqdm bar over epochs showing the latest losses (skorch's
    ``ProgressBar`` counts batches)."""

    def __init__(self, total, desc):
        self.total = total
        self.desc = desc

    def on_train_begin(self, net, **kwargs):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=self.total, desc=self.desc, unit="epoch", leave=True)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        postfix = {k: f"{row[k]:.4g}" for k in ("train_loss", "valid_loss") if k in row}
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(1)

    def on_train_end(self, net, **kwargs):
        self._bar.close()
        del self._bar


def _to_cpu(output):
    if isinstance(output, tuple):
        return tuple(t.cpu() for t in output)
    return output.cpu()


def _join_chunks(parts, order):
    """Concatenate chunk outputs, zero-padding a time axis (dim 1 of sizes
    that differ between chunks), and put rows back in the input order."""
    parts = [p.cpu() for p in parts]
    if parts[0].ndim >= 2 and len({p.shape[1] for p in parts}) > 1:
        width = max(p.shape[1] for p in parts)
        padded = []
        for p in parts:
            q = p.new_zeros((p.shape[0], width, *p.shape[2:]))
            q[:, : p.shape[1]] = p
            padded.append(q)
        parts = padded
    joined = torch.cat(parts)
    if order is None:
        return joined
    out = torch.empty_like(joined)
    out[order] = joined
    return out
