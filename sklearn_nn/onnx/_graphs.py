"""Each estimator's prediction path as one torch module, and its ONNX export.

The modules here take what a deployed model receives -- the numeric array
``X`` (NaN-padded float sequences, 0-padded token ids, pair matrices), or a
hard gate's features with its base models' outputs -- and do in the graph
what the estimator does around its network: the input dtype, sequence
lengths from the padding, the token compaction, the pair split, the
normalised probabilities, the regression target's shape and scale.
"""

from __future__ import annotations

import copy
import io
import warnings

import numpy as np
import torch
from sklearn.base import is_classifier
from torch import nn


def _network(estimator):
    """A CPU copy of the fitted module in eval mode (the estimator's own
    module and net are left as they are)."""
    module = copy.deepcopy(estimator.net_.module_).to("cpu")
    return module.eval()


# ------------------------------------------------------------------ inputs
class _FloatSequences(nn.Module):
    """NaN-padded float sequences -> (zero-padded values, lengths).

    A trailing step is padding when every channel is NaN (or equals
    ``padding_value``); the length is the last real step + 1, and every
    value from there on becomes 0, as the estimator's sequence layer does.
    """

    def __init__(self, padding_value, univariate, dtype, keep_missing=False):
        super().__init__()
        self.padding_value = padding_value
        self.univariate = univariate
        self.dtype = dtype
        self.keep_missing = keep_missing

    def forward(self, x):
        if self.univariate:
            x = x.unsqueeze(2)
        x = x.to(self.dtype)
        pad = torch.isnan(x).all(dim=2)
        if self.padding_value is not None:
            pad = pad | (x == self.padding_value).all(dim=2)
        steps = torch.arange(1, x.shape[1] + 1, device=x.device).unsqueeze(0)
        real = (~pad).to(torch.int64) * steps
        lengths = real.max(dim=1).values
        inside = steps <= lengths.unsqueeze(1)
        if self.keep_missing:
            # NaN at a real step is a missing value, which the network reads
            keep = inside.unsqueeze(2)
        else:
            keep = inside.unsqueeze(2) & ~torch.isnan(x)
        values = torch.where(keep, x, torch.zeros_like(x))
        return values, lengths


class _TokenSequences(nn.Module):
    """0-padded token ids -> (compacted ids, lengths).

    Id 0 is padding wherever it is: the real tokens move to the front in
    their order (a stable sort of the "is padding" flags, written as an
    argsort of ``is_padding * T + position``), as the estimator's sequence
    layer does.
    """

    def forward(self, x):
        x = x.to(torch.int64)
        n_steps = x.shape[1]
        position = torch.arange(n_steps, device=x.device).unsqueeze(0)
        padding = (x == 0).to(torch.int64)
        order = torch.argsort(padding * n_steps + position, dim=1)
        compact = torch.gather(x, 1, order)
        return compact, (1 - padding).sum(dim=1)


def _sequence_reader(estimator, univariate, dtype):
    if getattr(estimator, "_sequence_layout", None) == "tokens" or (
        getattr(estimator, "vocab_size", None) is not None
        and not hasattr(estimator, "_sequence_layout")
    ):
        return _TokenSequences()
    return _FloatSequences(
        estimator._padding_value,
        univariate,
        dtype,
        keep_missing=getattr(estimator, "missing_indicators_", False),
    )


# ------------------------------------------------------------------ heads
def _first(out):
    return out[0] if isinstance(out, tuple) else out


class _ClassifierGraph(nn.Module):
    """inputs -> class probabilities (rows normalised, ``softmax`` of the
    network's log-probabilities, as ``predict_proba``)."""

    def __init__(self, reader, network, **network_kwargs):
        super().__init__()
        self.reader = reader
        self.network = network
        self.network_kwargs = network_kwargs

    def forward(self, *x):
        out = self.network(*self.reader(*x), **self.network_kwargs)
        return torch.softmax(_first(out), dim=1)


class _RegressorGraph(nn.Module):
    """inputs -> predictions of shape (n, n_outputs), mapped from the
    network's scale to ``y``'s by ``low + (high - low) * output``."""

    def __init__(self, reader, network, low=0.0, high=1.0):
        super().__init__()
        self.reader = reader
        self.network = network
        self.low, self.high = float(low), float(high)

    def forward(self, *x):
        out = _first(self.network(*self.reader(*x)))
        out = out.reshape(out.shape[0], -1)
        if (self.low, self.high) != (0.0, 1.0):
            out = self.low + (self.high - self.low) * out
        return out


class _EmbeddingGraph(nn.Module):
    """Pairs -> ``[left embedding | right embedding]`` (``transform``)."""

    def __init__(self, reader, network):
        super().__init__()
        self.reader = reader
        self.network = network

    def forward(self, *x):
        out = self.network(*self.reader(*x))
        return torch.cat([out[-2], out[-1]], dim=1)


# ------------------------------------------------------------ input readers
class _Table(nn.Module):
    def __init__(self, dtype):
        super().__init__()
        self.dtype = dtype

    def forward(self, x):
        return (x.to(self.dtype),)


class _PairMatrix(nn.Module):
    """A pair matrix -> its two sides (each read by ``side_reader``)."""

    def __init__(self, n_left, dtype, left_reader=None, right_reader=None):
        super().__init__()
        self.n_left = int(n_left)
        self.dtype = dtype
        self.left_reader = left_reader
        self.right_reader = right_reader

    def forward(self, x):
        left, right = x[:, : self.n_left], x[:, self.n_left :]
        if self.left_reader is None:
            return left.to(self.dtype), right.to(self.dtype)
        return _pair_sequences(self.left_reader, self.right_reader, left, right)


class _PairSequenceArrays(nn.Module):
    """Two padded arrays (left items, right items) -> the towers' inputs."""

    def __init__(self, left_reader, right_reader):
        super().__init__()
        self.left_reader = left_reader
        self.right_reader = right_reader

    def forward(self, left, right):
        return _pair_sequences(self.left_reader, self.right_reader, left, right)


def _pair_sequences(left_reader, right_reader, left, right):
    left, left_lengths = left_reader(left)
    right, right_lengths = right_reader(right)
    return left, right, left_lengths, right_lengths


class _HardGateInputs(nn.Module):
    """The gate's inputs: ``X`` and the base models' outputs.

    Precomputed outputs (``base_output_columns``) are gathered from ``X``;
    otherwise each base model's output is a graph input of its own (made by
    scikit-learn's converters in front of this graph), aligned to
    ``classes_`` by a 0/1 matrix where a base model knows other classes.
    """

    def __init__(self, estimator):
        super().__init__()
        self.dtype = estimator._torch_dtype
        self.precomputed = estimator.base_output_columns_ is not None
        self.alignments = []
        if self.precomputed:
            specs = estimator.base_output_columns_
            gate_columns = estimator.gate_columns_
            self.register_buffer("gate_columns", torch.as_tensor(gate_columns))
            self.register_buffer(
                "base_columns", torch.as_tensor(np.stack(specs), dtype=torch.int64)
            )
            return
        for i, est in enumerate(estimator.estimators_):
            name = f"align_{i}"
            matrix = None
            if is_classifier(estimator):
                known = np.asarray(est.classes_)
                if not np.array_equal(known, estimator.classes_):
                    matrix = torch.as_tensor(
                        known[:, None] == estimator.classes_[None, :],
                        dtype=self.dtype,
                    )
            if matrix is not None:
                self.register_buffer(name, matrix)
            self.alignments.append(name if matrix is not None else None)

    def forward(self, x, *base):
        x = x.to(self.dtype)
        if self.precomputed:
            outputs = x[:, self.base_columns.flatten()].reshape(
                x.shape[0], self.base_columns.shape[0], self.base_columns.shape[1]
            )
            return x[:, self.gate_columns], outputs
        columns = []
        for out, align in zip(base, self.alignments, strict=True):
            out = out.to(self.dtype).reshape(out.shape[0], -1)
            if align is not None:
                out = out @ getattr(self, align)
            columns.append(out)
        return x, torch.stack(columns, dim=1)


# ---------------------------------------------------------------- dispatch
def prediction_graph(estimator, method):
    """The torch module of ``estimator``'s ``method`` ('predict' or
    'transform') and the kind of its inputs: 'table', 'sequences' (one
    padded array), 'pair_sequences' (left and right arrays) or 'hard_gate'
    (X and one input per base model)."""
    from ..gating._estimators import _HardGateMixin
    from ..recurrent._estimators import TargetReplicationLSTMClassifier
    from ..siamese._estimators import _SiameseMixin

    network = _network(estimator)
    dtype = estimator._torch_dtype
    kind = "table"
    recurrent = isinstance(estimator, TargetReplicationLSTMClassifier) or (
        isinstance(estimator, _SiameseMixin) and estimator._sequence_tower
    )
    if recurrent and dtype == torch.float64:
        # onnxruntime runs LSTM and GRU nodes in float32 only
        network, dtype = network.float(), torch.float32
    if isinstance(estimator, TargetReplicationLSTMClassifier):
        univariate = estimator._sequence_layout == "table"
        reader, kind = _sequence_reader(estimator, univariate, dtype), "sequences"
    elif isinstance(estimator, _SiameseMixin):
        if method == "transform":
            network = network.network
        if not estimator._sequence_tower:
            reader = _PairMatrix(estimator.n_left_features_, dtype)
        elif estimator._pair_layout == "matrix":
            reader = _PairMatrix(
                estimator.n_left_features_,
                dtype,
                _sequence_reader(estimator, True, dtype),
                _sequence_reader(estimator, True, dtype),
            )
        else:
            # (n, T, n_channels) arrays, as the recurrent classifier's
            # sequence lists
            reader = _PairSequenceArrays(
                _sequence_reader(estimator, False, dtype),
                _sequence_reader(estimator, False, dtype),
            )
            kind = "pair_sequences"
    elif isinstance(estimator, _HardGateMixin):
        reader = _HardGateInputs(estimator)
        kind = "hard_gate" if not reader.precomputed else "table"
    else:
        reader = _Table(dtype)
    if method == "transform":
        return _EmbeddingGraph(reader, network), kind
    if is_classifier(estimator):
        # the recurrent network computes the final step only
        kwargs = {"return_steps": False} if kind == "sequences" else {}
        return _ClassifierGraph(reader, network, **kwargs), kind
    low, high = getattr(estimator, "target_range_", (0.0, 1.0))
    return _RegressorGraph(reader, network, low, high), kind


def export(graph, example_inputs, input_names, output_names, dynamic_axes, opset):
    """``torch.onnx.export`` (the TorchScript exporter: opset under our
    control, dynamic axes, no extra dependency) of ``graph`` to a ModelProto."""
    import onnx

    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer's notes on Python ints and the exporter's deprecation
        # notice are about this function's internals, not the user's code
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            tuple(example_inputs),
            buffer,
            dynamo=False,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            do_constant_folding=True,
        )
    return onnx.load_from_string(buffer.getvalue())
