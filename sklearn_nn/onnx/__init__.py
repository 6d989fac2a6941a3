"""ONNX export of sklearn_nn estimators.

Importing this module registers skl2onnx converters for the tabular
estimators (the mixtures of experts, the hard gates with their base models,
the pair models with MLP towers), so that :func:`skl2onnx.to_onnx` converts
a :class:`~sklearn.pipeline.Pipeline` of scikit-learn transformers ending in
one of them. :func:`to_onnx` exports every estimator, the sequence models
included: their graphs take the padded array (NaN-padded float sequences,
0-padded token ids) and derive the lengths themselves.

The graphs follow skl2onnx's conventions: a classifier has the outputs
``label`` (int64 labels, or strings) and ``probabilities`` (or a ZipMap with
skl2onnx's ``zipmap`` option), a regressor ``variable`` of shape
``(n_samples, n_outputs)``; the pair models' ``transform`` (option
``transform=True``) gives ``variable``, the two embeddings side by side.

Needs ``onnx`` and ``skl2onnx`` (``pip install sklearn_nn[deploy]``, which
also installs onnxruntime to run the graphs); the rest of sklearn_nn never
imports them.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

try:
    import onnx
    import skl2onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import OnnxCast, OnnxIdentity
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_proto_type,
    )
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sklearn_nn.onnx needs onnx and skl2onnx (and onnxruntime to run the "
        "graphs): pip install 'sklearn_nn[deploy]'"
    ) from exc

from ..gating import HardGateClassifier, HardGateRegressor
from ..mixture import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from ..recurrent import TargetReplicationLSTMClassifier
from ..siamese import SiamesePairClassifier, SiamesePairRegressor
from ._graphs import export, prediction_graph

__all__ = ["to_onnx"]

# the TorchScript exporter writes opsets up to 20; skl2onnx's graphs around
# ours use the opset the user asks for
_TORCH_MAX_OPSET = 20
# the oldest opset every graph exports to (the hard gate's needs 12; 13 is the
# lowest one the tests run)
_MIN_OPSET = 13
_PAIR_ESTIMATORS = (SiamesePairClassifier, SiamesePairRegressor)
_TABULAR_ESTIMATORS = (
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    HardGateClassifier,
    HardGateRegressor,
    *_PAIR_ESTIMATORS,
)
# the skl2onnx options a user may set on a classifier (registered below with
# the internal ones) and their values
_USER_CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"]}
_NUMPY_OF_PROTO = {
    TensorProto.FLOAT: np.float32,
    TensorProto.DOUBLE: np.float64,
    TensorProto.INT64: np.int64,
}


def _default_opset():
    return min(skl2onnx.get_latest_tested_opset_version(), _TORCH_MAX_OPSET)


# -------------------------------------------------------------- to_onnx
def to_onnx(estimator, X_sample, *, method="predict", target_opset=None, options=None):
    """Export a fitted estimator, or a Pipeline ending in one, to ONNX.

    Parameters
    ----------
    estimator : estimator or Pipeline
        A fitted sklearn_nn estimator, or a fitted
        :class:`~sklearn.pipeline.Pipeline` of scikit-learn transformers
        ending in a tabular sklearn_nn estimator.
    X_sample : array-like
        A few rows of the input, to fix the graph's input type (its dtype)
        and width. Sequence models: a padded array in the layout the model
        was fitted with -- ``(n, T)`` for univariate sequences given as a 2-D
        array, ``(n, T, n_channels)`` for 3-D arrays and for lists of
        sequences, trailing steps NaN (or ``padding_value``); token ids
        ``(n, T)`` with 0 as padding. A list of sequences is padded here.
        Pair models with sequence towers fitted on a list of pairs: a tuple
        ``(left, right)`` of two such arrays. The batch size and the number
        of steps are dynamic: the graph accepts any of them.
    method : {'predict', 'transform'}, default='predict'
        'predict': ``label`` and ``probabilities`` for a classifier
        (``predict`` and ``predict_proba``), ``variable`` for a regressor.
        'transform': the pair models' embeddings (``transform``).
    target_opset : int, default=None
        ONNX opset of the graph, from 13 to the highest opset the installed
        skl2onnx has tested (22 with the pinned versions); None: the highest
        one both skl2onnx and torch's exporter support (20 with the pinned
        versions).
    options : dict, default=None
        skl2onnx options of the final tabular estimator: a classifier's
        ``zipmap`` (True or 'columns' for ZipMap probabilities; by default
        they are a plain tensor). Other keys, and options for a sequence
        model, are a ValueError.

    Returns
    -------
    onnx.ModelProto
        Run it with ``onnxruntime.InferenceSession(model.SerializeToString())``.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_nn import MixtureOfExpertsClassifier
    >>> from sklearn_nn.onnx import to_onnx
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> clf = MixtureOfExpertsClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> model = to_onnx(clf, X[:1])
    >>> session = ort.InferenceSession(model.SerializeToString())
    >>> label, proba = session.run(None, {"X": X})
    >>> bool(np.allclose(proba, clf.predict_proba(X), atol=1e-5))
    True
    >>> bool((label == clf.predict(X)).all())
    True
    """
    if method not in ("predict", "transform"):
        raise ValueError(f"method must be 'predict' or 'transform'; got {method!r}.")
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if not isinstance(final, (*_TABULAR_ESTIMATORS, TargetReplicationLSTMClassifier)):
        raise TypeError(
            "estimator must be a sklearn_nn estimator or a Pipeline ending in "
            f"one; got {type(final).__name__}."
        )
    check_is_fitted(final)
    if method == "transform" and not isinstance(final, _PAIR_ESTIMATORS):
        raise ValueError(
            "method='transform' exports the pair models' embeddings; "
            f"{type(final).__name__} has no transform."
        )
    opset = _check_opset(target_opset)
    if X_sample is None:
        raise TypeError("X_sample must be an array of a few input rows; got None.")
    if _is_sequence_model(final):
        if isinstance(estimator, Pipeline):
            raise TypeError(
                "a sequence model is exported on its own (its graph reads the "
                "padded array); export the Pipeline's transformers separately."
            )
        if options:
            raise ValueError(
                f"options are skl2onnx options of tabular estimators; the graph "
                f"of a {type(final).__name__} fitted on sequences has none (its "
                "outputs are plain tensors). Leave options at None."
            )
        return _sequence_model_to_onnx(final, X_sample, method, opset)
    user_options = _check_options(options, final)
    defaults = {"zipmap": False} if is_classifier(final) else {}
    if method == "transform":
        defaults = {"transform": True}
    X_sample = _tabular_sample(X_sample, estimator)
    return skl2onnx.to_onnx(
        estimator,
        X_sample[:1],
        target_opset=opset,
        options={type(final): {**defaults, **user_options}},
    )


def _check_opset(target_opset):
    if target_opset is None:
        return _default_opset()
    high = skl2onnx.get_latest_tested_opset_version()
    if (
        isinstance(target_opset, bool)
        or not isinstance(target_opset, numbers.Integral)
        or not _MIN_OPSET <= target_opset <= high
    ):
        raise ValueError(
            f"target_opset must be an int from {_MIN_OPSET} to {high} (the "
            "ONNX opsets sklearn_nn's graphs and the installed skl2onnx "
            f"support), or None for {_default_opset()}; got {target_opset!r}."
        )
    return int(target_opset)


def _check_options(options, final):
    """``options`` -> a dict of the skl2onnx options ``final`` registers."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(
            "options must be a dict of skl2onnx options such as "
            f"{{'zipmap': True}}, or None; got {type(options).__name__}."
        )
    allowed = _USER_CLASSIFIER_OPTIONS if is_classifier(final) else {}
    for key, value in options.items():
        if key not in allowed:
            known = ", ".join(repr(k) for k in allowed) or "none"
            raise ValueError(
                f"options: {type(final).__name__} has no skl2onnx option "
                f"{key!r} (its options: {known}"
                + (
                    "; method='transform' exports the embeddings)."
                    if key == "transform"
                    else ")."
                )
            )
        if not any(
            value is v or (value == v and type(value) is type(v)) for v in allowed[key]
        ):
            raise ValueError(
                f"options[{key!r}] must be one of {allowed[key]}; got {value!r}."
            )
    return dict(options)


def _tabular_sample(X_sample, estimator):
    """``X_sample`` as the 2-D numeric array whose width and dtype the graph
    takes (integers as int64)."""
    X_sample = np.asarray(X_sample)
    if X_sample.ndim != 2:
        raise ValueError(
            "X_sample must be a 2-D array (n_samples, n_features) of a few "
            f"input rows; got shape {X_sample.shape}."
        )
    if X_sample.dtype.kind not in "fiu":
        raise ValueError(
            "X_sample must hold numbers (float32, float64 or integers, as the "
            f"data the graph will take); got dtype {X_sample.dtype}."
        )
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None and X_sample.shape[1] != n_features:
        raise ValueError(
            f"X_sample has {X_sample.shape[1]} columns, but the estimator was "
            f"fitted on {n_features}."
        )
    if X_sample.dtype.kind in "iu":
        X_sample = X_sample.astype(np.int64)
    return X_sample


def _is_sequence_model(estimator):
    if isinstance(estimator, TargetReplicationLSTMClassifier):
        return True
    return isinstance(estimator, _PAIR_ESTIMATORS) and estimator._sequence_tower


def _padded_array(X, tokens, name, rank):
    """A list of sequences as one padded array (NaN, or 0 for tokens) of
    ``rank`` dimensions."""
    if isinstance(X, np.ndarray):
        if X.ndim != rank:
            shape = "(n, T)" if rank == 2 else "(n, T, n_channels)"
            raise ValueError(
                f"{name} must be a {rank}-D array {shape} in the layout the model "
                f"was fitted with, or a list of sequences; got shape {X.shape}."
            )
        return X
    X = [np.asarray(seq) for seq in X]
    if not X:
        raise ValueError(f"{name} is empty.")
    width = max(len(seq) for seq in X)
    if tokens:
        out = np.zeros((len(X), width), dtype=np.int64)
    else:
        X = [seq.reshape(len(seq), -1) for seq in X]
        out = np.full((len(X), width, X[0].shape[1]), np.nan, dtype=X[0].dtype)
    for i, seq in enumerate(X):
        out[i, : len(seq)] = seq
    return out


def _example(array, tokens):
    """A valid example batch of ``array``'s dtype and width (two rows of
    ones: real steps, real tokens) for tracing."""
    dtype = np.int64 if tokens else array.dtype
    return torch.from_numpy(np.ones((2, *array.shape[1:]), dtype=dtype))


def _pair_matrix_sample(X_sample, tokens):
    X_sample = np.asarray(X_sample)
    if tokens:
        return X_sample.astype(np.int64)
    return X_sample


def _input_widths(estimator, kind, rank, tokens):
    """The last dimension each input of a sequence graph must have (None:
    any, as the number of steps of a univariate table)."""
    if kind == "pair_sequences":
        return [None, None] if tokens else list(estimator._channels)
    if kind == "table":
        return [estimator.n_features_in_]
    return [None] if tokens or rank == 2 else [estimator.n_features_in_]


def _sequence_model_to_onnx(estimator, X_sample, method, opset):
    tokens = getattr(estimator, "vocab_size", None) is not None
    graph, kind = prediction_graph(estimator, method)
    univariate = getattr(estimator, "_sequence_layout", None) == "table"
    rank = 2 if tokens or univariate else 3
    if kind == "pair_sequences":
        if not (isinstance(X_sample, tuple | list) and len(X_sample) == 2):
            raise ValueError(
                f"X_sample of a {type(estimator).__name__} fitted on a list of "
                "pairs is a tuple (left, right) of padded arrays."
            )
        arrays = [
            _padded_array(side, tokens, f"X_sample[{i}] ({name} items)", rank)
            for i, (side, name) in enumerate(
                zip(X_sample, ("left", "right"), strict=True)
            )
        ]
        names = ["left", "right"]
    elif kind == "table":
        arrays = [_pair_matrix_sample(X_sample, tokens)]
        names = ["X"]
    else:
        arrays = [_padded_array(X_sample, tokens, "X_sample", rank)]
        names = ["X"]
    for array, name in zip(arrays, names, strict=True):
        if not tokens and array.dtype not in (np.float32, np.float64):
            raise ValueError(
                f"{name} of X_sample must be a float32 or float64 array (NaN "
                f"marks the padding); got dtype {array.dtype}."
            )
    for array, width, what in zip(
        arrays, _input_widths(estimator, kind, rank, tokens), names, strict=True
    ):
        if width is not None and array.shape[-1] != width:
            unit = "columns" if kind == "table" else "channels per step"
            raise ValueError(
                f"X_sample ({what}) has {array.shape[-1]} {unit}, but "
                f"{type(estimator).__name__} was fitted on {width}."
            )
    examples = [_example(a, tokens) for a in arrays]
    classifier = is_classifier(estimator) and method != "transform"
    output = "probabilities" if classifier else "variable"
    if kind == "table":
        # a pair matrix: the split between the sides fixes its width
        dynamic = {"X": {0: "n"}}
    else:
        dynamic = {name: {0: "n", 1: f"T_{name}"} for name in names}
    dynamic[output] = {0: "n"}
    model = export(graph, examples, names, [output], dynamic, opset)
    if output == "probabilities":
        _append_labels(model, estimator.classes_)
    return model


def _label_tensor(classes, name):
    classes = np.asarray(classes)
    if classes.dtype.kind in "biu":
        return numpy_helper.from_array(classes.astype(np.int64), name)
    if classes.dtype.kind == "f":
        if np.all(classes == np.round(classes)):
            return numpy_helper.from_array(classes.astype(np.int64), name)
        return numpy_helper.from_array(classes.astype(np.float64), name)
    return helper.make_tensor(
        name, TensorProto.STRING, [len(classes)], [str(c).encode() for c in classes]
    )


def _append_labels(model, classes):
    """``label = classes_[argmax(probabilities)]`` as the graph's first output."""
    graph = model.graph
    table = _label_tensor(classes, "classes")
    graph.initializer.append(table)
    graph.node.extend(
        [
            helper.make_node(
                "ArgMax", ["probabilities"], ["label_index"], axis=1, keepdims=0
            ),
            helper.make_node("Gather", ["classes", "label_index"], ["label"], axis=0),
        ]
    )
    label = helper.make_tensor_value_info("label", table.data_type, ["n"])
    graph.output.insert(0, label)
    onnx.checker.check_model(model)


# ----------------------------------------------------- skl2onnx converters
def _dtype_of(variable):
    for kind, dtype in (
        (FloatTensorType, np.float32),
        (DoubleTensorType, np.float64),
        (Int64TensorType, np.int64),
    ):
        if isinstance(variable.type, kind):
            return dtype
    raise TypeError(
        f"sklearn_nn's ONNX converters take float or int64 tensors; got "
        f"{type(variable.type).__name__}."
    )


def _parse(scope, model, inputs, custom_parsers=None):
    """skl2onnx parser: label + probabilities (classifiers, ZipMap option
    honoured), one ``variable`` for regressors and for ``transform``."""
    from skl2onnx._parse import (
        _parse_sklearn_classifier,
        _parse_sklearn_simple_model,
    )

    transform = isinstance(model, _PAIR_ESTIMATORS) and scope.get_options(
        model, dict(transform=False)
    ).get("transform", False)
    if is_classifier(model) and not transform:
        return _parse_sklearn_classifier(scope, model, inputs, custom_parsers)
    if transform:
        alias = skl2onnx._supported_operators.sklearn_operator_name_map[type(model)]
        operator = scope.declare_local_operator(alias, model)
        operator.inputs = inputs
        variable = scope.declare_local_variable("variable", FloatTensorType())
        operator.outputs.append(variable)
        return operator.outputs
    return _parse_sklearn_simple_model(scope, model, inputs, custom_parsers)


def _shape_calculator(operator):
    estimator = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    if len(operator.outputs) == 2:
        calculate_linear_classifier_output_shapes(operator)
        # float probabilities whatever the input (ZipMap reads float only),
        # as skl2onnx's own classifiers
        n_classes = len(estimator.classes_)
        operator.outputs[1].type = FloatTensorType([n, n_classes])
        return
    if isinstance(estimator, _PAIR_ESTIMATORS) and (
        is_classifier(estimator)
        or operator.scope_inst.get_options(estimator, dict(transform=False))[
            "transform"
        ]
    ):
        width = 2 * estimator.embedding_dim
    else:
        width = estimator.n_outputs_
    input_type = operator.inputs[0].type
    output_type = (
        DoubleTensorType
        if isinstance(input_type, DoubleTensorType)
        else (FloatTensorType)
    )
    operator.outputs[0].type = output_type([n, width])


def _inline(scope, container, model, inputs, outputs, opset):
    """Copy ``model``'s graph into the container, its inputs read from the
    variables named ``inputs`` and its outputs written to ``outputs``."""
    graph = model.graph
    names = {g.name: name for g, name in zip(graph.input, inputs, strict=True)}
    names.update({g.name: name for g, name in zip(graph.output, outputs, strict=True)})

    def rename(name):
        if not name:
            return name
        if name not in names:
            names[name] = scope.get_unique_variable_name(f"nn_{name}")
        return names[name]

    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        container.add_initializer(
            rename(tensor.name), tensor.data_type, list(array.shape), array.ravel()
        )
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        inputs = list(node.input)
        while inputs and not inputs[-1]:
            # an omitted trailing optional input (skl2onnx's topological
            # sort would look for a node producing '')
            inputs.pop()
        if "" in inputs:  # pragma: no cover - not written by torch for our graphs
            raise RuntimeError(
                f"cannot inline {node.op_type} with an omitted middle input"
            )
        container.add_node(
            node.op_type,
            [rename(i) for i in inputs],
            [rename(o) for o in node.output],
            op_domain=node.domain,
            op_version=opset,
            name=scope.get_unique_operator_name(f"nn_{node.op_type}"),
            **attributes,
        )


def _base_outputs(scope, container, estimator, X, dtype):
    """Each fitted base model's probabilities (classifier) or predictions,
    through skl2onnx's own converter, cast to the network's dtype."""
    opset = container.target_opset
    to = guess_proto_type(
        DoubleTensorType() if dtype == np.float64 else FloatTensorType()
    )
    names, examples = [], []
    classifier = is_classifier(estimator)
    for i, base in enumerate(estimator.estimators_):
        options = {"zipmap": False} if classifier else None
        sub = OnnxSubEstimator(base, X, op_version=opset, options=options)
        name = scope.get_unique_variable_name(f"base_output_{i}")
        cast = OnnxCast(sub[1] if classifier else sub[0], to=to, op_version=opset)
        OnnxIdentity(cast, op_version=opset, output_names=[name]).add_to(
            scope, container
        )
        names.append(name)
        width = len(base.classes_) if classifier else estimator.n_outputs_
        examples.append(torch.ones((2, width), dtype=estimator._torch_dtype))
    return names, examples


def _convert(scope, operator, container):
    estimator = operator.raw_operator
    transform = (
        isinstance(estimator, _PAIR_ESTIMATORS)
        and (container.get_options(estimator, dict(transform=False))["transform"])
    )
    graph, kind = prediction_graph(estimator, "transform" if transform else "predict")
    X = operator.inputs[0]
    dtype = _dtype_of(X)
    if _is_sequence_model(estimator):
        raise TypeError(
            f"skl2onnx converts {type(estimator).__name__} with MLP towers; "
            "export a model with sequence towers with sklearn_nn.onnx.to_onnx "
            "(a graph of its own, which reads the padded arrays)."
        )
    width = estimator.n_features_in_
    example = np.ones((2, width), dtype=dtype)
    input_names, examples = [X.full_name], [torch.from_numpy(example)]
    if kind == "hard_gate":
        names, base_examples = _base_outputs(scope, container, estimator, X, dtype)
        input_names += names
        examples += base_examples
    opset = min(container.target_opset, _TORCH_MAX_OPSET)
    torch_names = [f"input_{i}" for i in range(len(examples))]
    model = export(
        graph,
        examples,
        torch_names,
        ["output"],
        {name: {0: "n"} for name in [*torch_names, "output"]},
        opset,
    )
    result = scope.get_unique_variable_name("nn_output")
    _inline(scope, container, model, input_names, [result], opset)
    if len(operator.outputs) == 1:
        container.add_node(
            "Cast",
            [result],
            [operator.outputs[0].full_name],
            to=guess_proto_type(operator.outputs[0].type),
            name=scope.get_unique_operator_name("nn_cast"),
        )
        return
    label, probabilities = operator.outputs
    container.add_node(
        "Cast",
        [result],
        [probabilities.full_name],
        to=guess_proto_type(probabilities.type),
        name=scope.get_unique_operator_name("nn_cast"),
    )
    index = scope.get_unique_variable_name("nn_label_index")
    container.add_node(
        "ArgMax",
        [result],
        [index],
        axis=1,
        keepdims=0,
        name=scope.get_unique_operator_name("nn_argmax"),
    )
    classes = np.asarray(estimator.classes_)
    table = scope.get_unique_variable_name("nn_classes")
    if isinstance(label.type, StringTensorType):
        container.add_initializer(
            table,
            TensorProto.STRING,
            [len(classes)],
            [str(c).encode() for c in classes],
        )
    else:
        container.add_initializer(
            table, TensorProto.INT64, [len(classes)], classes.astype(np.int64)
        )
    container.add_node(
        "Gather",
        [table, index],
        [label.full_name],
        axis=0,
        name=scope.get_unique_operator_name("nn_label"),
    )


def _register():
    for cls in _TABULAR_ESTIMATORS:
        options = {}
        if is_classifier(cls()):
            # (skl2onnx's classifier shape calculator reads 'nocl'; labels
            # are always the classes)
            options.update({k: list(v) for k, v in _USER_CLASSIFIER_OPTIONS.items()})
            options["nocl"] = [False]
        if cls in _PAIR_ESTIMATORS:
            options["transform"] = [False, True]
        update_registered_converter(
            cls,
            f"SklearnNN{cls.__name__}",
            _shape_calculator,
            _convert,
            parser=_parse,
            options=options or None,
        )


_register()
