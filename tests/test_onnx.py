"""ONNX export: onnxruntime against the estimator (1e-4), for every
estimator, through skl2onnx in Pipelines, and for sequences longer and
shorter than the export sample."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nn import (
    HardGateClassifier,
    HardGateRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SiamesePairClassifier,
    SiamesePairRegressor,
    TargetReplicationLSTMClassifier,
)

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
nn_onnx = pytest.importorskip("sklearn_nn.onnx")
to_onnx = nn_onnx.to_onnx

TOL = dict(rtol=1e-4, atol=1e-4)


def session(model):
    return ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def run(model, /, **feeds):
    return session(model).run(None, feeds)


def classification(n=160, seed=0):
    X, y = make_classification(
        n_samples=n, n_features=6, n_informative=4, n_classes=3, random_state=seed
    )
    return X.astype(np.float32), y


def regression(n=160, n_targets=1, seed=0):
    X, y = make_regression(
        n_samples=n, n_features=6, n_targets=n_targets, noise=1.0, random_state=seed
    )
    return X.astype(np.float32), y / 100


def pad(seqs, n_channels, dtype=np.float32):
    """A list of (T_i, C) sequences as one NaN-padded (n, T, C) array."""
    out = np.full((len(seqs), max(map(len, seqs)), n_channels), np.nan, dtype)
    for i, seq in enumerate(seqs):
        out[i, : len(seq)] = np.asarray(seq).reshape(len(seq), n_channels)
    return out


def check_classifier(model, est, X, /, **feeds):
    label, proba = run(model, **feeds)
    np.testing.assert_allclose(proba, est.predict_proba(X), **TOL)
    np.testing.assert_array_equal(label, est.predict(X))


TABULAR_CLASSIFIERS = [
    MixtureOfExpertsClassifier(n_experts=3, max_epochs=20, random_state=0),
    HardGateClassifier(
        estimators=[("logreg", LogisticRegression()), ("nb", GaussianNB())],
        max_epochs=20,
        random_state=0,
    ),
    HardGateClassifier(
        estimators=[("logreg", LogisticRegression()), ("nb", GaussianNB())],
        selection_loss="log_loss",
        shrinkage=0.0,
        max_epochs=20,
        random_state=0,
    ),
]


@pytest.mark.parametrize("clf", TABULAR_CLASSIFIERS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tabular_classifiers_match_onnxruntime(clf, dtype):
    X, y = classification()
    clf = clf.set_params(dtype=dtype).fit(X, y)
    model = to_onnx(clf, X[:1])
    for n in (1, 7, 160):  # dynamic batch size
        check_classifier(model, clf, X[:n], X=X[:n])


@pytest.mark.parametrize(
    "reg",
    [
        MixtureOfExpertsRegressor(max_epochs=20, random_state=0),
        HardGateRegressor(
            estimators=[("ridge", Ridge()), ("ridge10", Ridge(alpha=10.0))],
            max_epochs=20,
            random_state=0,
        ),
    ],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("n_targets", [1, 2])
def test_tabular_regressors_match_onnxruntime(reg, n_targets):
    X, y = regression(n_targets=n_targets)
    reg.fit(X, y)
    (variable,) = run(to_onnx(reg, X[:1]), X=X)
    assert variable.shape == (len(X), n_targets)
    np.testing.assert_allclose(variable, reg.predict(X).reshape(len(X), -1), **TOL)


def test_hard_gate_every_candidate_is_in_the_graph():
    # three base outputs of similar quality (the target plus independent
    # noise): the gate picks the vote, the base outputs and the prior on
    # some rows each (its scores set by hand), and the graph, which computes
    # every candidate, must pick the same ones
    rng = np.random.RandomState(0)
    data = rng.uniform(-1, 1, size=(300, 2))
    y = np.sin(2 * data[:, 0]) + data[:, 1]
    noise = rng.normal(size=(300, 3)) * np.array([0.30, 0.33, 0.36])
    X = np.hstack([data, y[:, None] + noise]).astype(np.float32)
    reg = HardGateRegressor(
        base_output_columns=[2, 3, 4], max_epochs=20, random_state=0
    ).fit(X, y)
    module = reg.net_.module_
    module.prefer_candidate(0, 0.0)
    torch.manual_seed(0)
    with torch.no_grad():
        for layer in (module.gate[0], module.gate[-1]):
            layer.weight.normal_(std=3.0)
    chosen = reg.predict_gate(X).argmax(1)
    assert len(np.unique(chosen)) >= 4
    (variable,) = run(to_onnx(reg, X[:1]), X=X)
    np.testing.assert_allclose(variable.ravel(), reg.predict(X), **TOL)


def test_pair_models_predict_and_transform():
    X, y = classification()
    y = (y > 0).astype(int)
    clf = SiamesePairClassifier(n_left_features=3, max_epochs=10, random_state=0)
    clf.fit(X, y)
    check_classifier(to_onnx(clf, X[:1]), clf, X, X=X)
    (embeddings,) = run(to_onnx(clf, X[:1], method="transform"), X=X)
    np.testing.assert_allclose(embeddings, clf.transform(X), **TOL)

    Xr, yr = regression()
    reg = SiamesePairRegressor(n_left_features=3, max_epochs=10, random_state=0)
    reg.fit(Xr, np.tanh(yr))  # similarities, target_range_ (-1, 1)
    (variable,) = run(to_onnx(reg, Xr[:1]), X=Xr)
    np.testing.assert_allclose(variable.ravel(), reg.predict(Xr), **TOL)


def test_skl2onnx_converts_a_pipeline_with_zipmap_and_options():
    X, y = classification()
    X = X.astype(np.float64) * 10 + 3
    pipe = make_pipeline(
        StandardScaler(), MixtureOfExpertsClassifier(max_epochs=20, random_state=0)
    ).fit(X, y)
    expected = pipe.predict_proba(X)
    # skl2onnx's defaults: double input, ZipMap probabilities
    label, zipped = run(skl2onnx.to_onnx(pipe, X[:1]), X=X)
    np.testing.assert_array_equal(label, pipe.predict(X))
    np.testing.assert_allclose(
        [[row[c] for c in range(3)] for row in zipped], expected, **TOL
    )
    # ZipMap off: a probability tensor
    model = skl2onnx.to_onnx(
        pipe, X[:1], options={MixtureOfExpertsClassifier: {"zipmap": False}}
    )
    label, proba = run(model, X=X)
    np.testing.assert_allclose(proba, expected, **TOL)

    # a pair model as a transformer in the middle of a pipeline
    y2 = (y > 0).astype(int)
    pair = SiamesePairClassifier(n_left_features=3, max_epochs=5, random_state=0)
    pipe = make_pipeline(StandardScaler(), pair).fit(X, y2)
    model = skl2onnx.to_onnx(
        pipe, X[:1], options={SiamesePairClassifier: {"transform": True}}
    )
    (embeddings,) = run(model, X=X)
    np.testing.assert_allclose(embeddings, pipe.transform(X), **TOL)


def test_hard_gate_base_models_knowing_other_classes_are_aligned():
    # a prefit base model that never saw class 2 gets a zero column there
    X, y = classification(n=300)
    partial = y < 2
    base = [
        ("logreg", LogisticRegression().fit(X[partial], y[partial])),
        ("nb", GaussianNB().fit(X, y)),
    ]
    gate = HardGateClassifier(
        estimators=base, cv="prefit", max_epochs=20, random_state=0
    ).fit(X, y)
    assert gate.estimators_[0].classes_.tolist() == [0, 1]
    check_classifier(to_onnx(gate, X[:1]), gate, X, X=X)


def test_hard_gate_precomputed_base_outputs():
    # the family's seed: the SVMs' outputs are columns of X
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2))
    y = np.tanh(X[:, 0])
    outputs = y[:, None] + 0.3 * rng.normal(size=(200, 3))
    XP = np.hstack([X, outputs]).astype(np.float32)
    gate = HardGateRegressor(
        base_output_columns=[2, 3, 4],
        output_activation="tanh",
        max_epochs=20,
        random_state=0,
    ).fit(XP, y)
    (variable,) = run(to_onnx(gate, XP[:1]), X=XP)
    np.testing.assert_allclose(variable.ravel(), gate.predict(XP), **TOL)


def test_hard_gates_at_their_defaults_export():
    # every default base model has a scikit-learn-onnx converter
    X, y = regression()
    reg = HardGateRegressor(max_epochs=5, random_state=0).fit(X, y)
    (variable,) = run(to_onnx(reg, X[:1]), X=X)
    np.testing.assert_allclose(variable.ravel(), reg.predict(X), **TOL)
    Xc, yc = classification()
    clf = HardGateClassifier(max_epochs=5, random_state=0).fit(Xc, yc)
    check_classifier(to_onnx(clf, Xc[:1]), clf, Xc, X=Xc)


def test_hard_gate_predicting_the_class_prior():
    # a pool without skill: the prior candidate is best and chosen, and the
    # graph predicts it too
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (rng.uniform(size=300) < 0.65).astype(int)
    gate = HardGateClassifier(
        estimators=[("knn", KNeighborsClassifier(3))], max_epochs=20, random_state=0
    ).fit(X, y)
    assert gate.gate_names_[gate.best_candidate_] == "prior"
    assert gate.predict_gate(X)[:, 1].mean() > 0.9
    check_classifier(to_onnx(gate, X[:1]), gate, X, X=X)


# ---------------------------------------------------------------- sequences
def ragged(n, n_channels, low, high, seed, labels=None):
    rng = np.random.RandomState(seed)
    y = rng.randint(3, size=n) if labels is None else labels
    X = [
        (rng.randn(rng.randint(low, high), n_channels) + label).astype(np.float32)
        for label in y
    ]
    return X, y


@pytest.mark.parametrize("conv_filters", [(), (4, 4)])
def test_lstm_reads_nan_padded_sequences_of_any_length(conv_filters):
    X, y = ragged(60, 2, 3, 10, seed=0)
    clf = TargetReplicationLSTMClassifier(
        hidden_size=8, conv_filters=conv_filters, conv_kernel_size=3, max_epochs=5
    ).fit(X, y)
    model = to_onnx(clf, X[:2])  # sequences of at most 9 steps
    for low, high, n in ((1, 4, 5), (2, 40, 30), (12, 13, 1)):
        X_new, _ = ragged(n, 2, low, high, seed=high)
        check_classifier(model, clf, X_new, X=pad(X_new, 2))


@pytest.mark.parametrize("cell, replication", [(None, 0.0), (None, 0.5), ("gru", 0.0)])
def test_random_features_read_nan_padded_sequences_of_any_length(cell, replication):
    # the default encoder (random features, ridge read-out; with replication
    # a temperature per step), and the random features joined to a GRU; the
    # comparisons run inside the graph
    X, y = ragged(60, 2, 9, 40, seed=0)
    clf = TargetReplicationLSTMClassifier(
        cell=cell, replication_weight=replication, max_epochs=3, random_state=0
    )
    clf.fit(X, y)
    assert clf.random_features_ == 9996
    model = to_onnx(clf, X[:2])
    for low, high, n in ((1, 9, 5), (9, 40, 30), (60, 61, 2)):
        X_new, _ = ragged(n, 2, low, high, seed=high)
        check_classifier(model, clf, X_new, X=pad(X_new, 2))


def test_lstm_univariate_table_padding_value_and_float64():
    rng = np.random.RandomState(0)
    X = rng.randn(50, 12)
    lengths = rng.randint(3, 13, size=50)
    X[np.arange(12)[None, :] >= lengths[:, None]] = -1.0  # Keras-style padding
    y = (X[:, 0] > 0).astype(int)
    clf = TargetReplicationLSTMClassifier(
        hidden_size=8,
        conv_filters=(),
        padding_value=-1.0,
        dtype="float64",
        max_epochs=5,
    ).fit(X, y)
    model = to_onnx(clf, X[:2, :4])
    check_classifier(model, clf, X, X=X)


def test_lstm_tokens_with_inner_zeros_and_string_labels():
    rng = np.random.RandomState(0)
    tokens = rng.randint(0, 20, size=(60, 10))
    tokens[:, 0] = 1 + rng.randint(19, size=60)
    y = np.where(tokens[:, 0] > 10, "high", "low")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the inner zeros are reported
        clf = TargetReplicationLSTMClassifier(
            vocab_size=20, hidden_size=8, conv_filters=(), max_epochs=5
        ).fit(tokens, y)
    model = to_onnx(clf, tokens[:2])
    longer = rng.randint(0, 20, size=(25, 30))
    longer[:, 3] = 5
    label, proba = run(model, X=longer)
    assert label.dtype == object and set(label) <= {"high", "low"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(proba, clf.predict_proba(longer), **TOL)
        np.testing.assert_array_equal(label, clf.predict(longer))


def test_pair_sequence_towers():
    left, y = ragged(40, 2, 3, 9, seed=0, labels=np.arange(40) % 2)
    right, _ = ragged(40, 2, 3, 9, seed=1, labels=np.arange(40) % 2)
    clf = SiamesePairClassifier(
        tower="lstm", hidden_size=4, embedding_dim=3, max_epochs=5, random_state=0
    ).fit(list(zip(left, right, strict=True)), y)
    new_left, _ = ragged(20, 2, 2, 25, seed=2)
    new_right, _ = ragged(20, 2, 1, 15, seed=3)
    pairs = list(zip(new_left, new_right, strict=True))
    feeds = dict(left=pad(new_left, 2), right=pad(new_right, 2))
    model = to_onnx(clf, (left[:2], right[:2]))
    check_classifier(model, clf, pairs, **feeds)
    (embeddings,) = run(
        to_onnx(clf, (left[:2], right[:2]), method="transform"), **feeds
    )
    np.testing.assert_allclose(embeddings, clf.transform(pairs), **TOL)

    # token ids in a pair matrix
    rng = np.random.RandomState(0)
    tokens = rng.randint(1, 20, size=(40, 12))
    tokens[:, 4:6] = 0
    reg = SiamesePairRegressor(
        tower="gru",
        vocab_size=20,
        hidden_size=4,
        embedding_dim=3,
        n_left_features=6,
        max_epochs=5,
        random_state=0,
    ).fit(tokens, rng.rand(40))
    (variable,) = run(to_onnx(reg, tokens[:1]), X=tokens.astype(np.int64))
    np.testing.assert_allclose(variable.ravel(), reg.predict(tokens), **TOL)


# ------------------------------------------------------------------- errors
def test_errors_name_the_problem():
    X, y = classification()
    with pytest.raises(NotFittedError):
        to_onnx(MixtureOfExpertsClassifier(), X[:1])
    with pytest.raises(TypeError, match="sklearn_nn estimator"):
        to_onnx(LogisticRegression().fit(X, y), X[:1])
    clf = MixtureOfExpertsClassifier(max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="method='transform'"):
        to_onnx(clf, X[:1], method="transform")
    with pytest.raises(ValueError, match="method must be"):
        to_onnx(clf, X[:1], method="predict_proba")
    seqs, labels = ragged(20, 2, 3, 6, seed=0)
    lstm = TargetReplicationLSTMClassifier(hidden_size=4, max_epochs=1)
    lstm.fit(seqs, labels)
    with pytest.raises(TypeError, match="exported on its own"):
        to_onnx(make_pipeline(lstm), seqs[:2])
    pair = SiamesePairClassifier(tower="lstm", hidden_size=4, max_epochs=1)
    pair.fit(list(zip(seqs, seqs, strict=True)), labels % 2)
    with pytest.raises(ValueError, match=r"tuple \(left, right\)"):
        to_onnx(pair, pad(seqs[:3], 2))
    with pytest.raises(ValueError, match=r"3-D array \(n, T, n_channels\)"):
        to_onnx(lstm, seqs[0])
    with pytest.raises(TypeError, match="sklearn_nn.onnx.to_onnx"):
        skl2onnx.to_onnx(pair, np.zeros((1, 4), np.float32))


def test_bad_arguments_are_clear_errors():
    """Before these checks, a wrong width or layout exported a graph that
    failed at run time, and a bad opset or option surfaced as torch's or
    skl2onnx's own exception."""
    X, y = classification()
    clf = MixtureOfExpertsClassifier(max_epochs=2).fit(X, y)
    n = X.shape[1]
    with pytest.raises(ValueError, match=f"has {n - 1} columns, but .* on {n}"):
        to_onnx(clf, X[:1, :-1])
    pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    with pytest.raises(ValueError, match=f"has {n + 1} columns, but .* on {n}"):
        to_onnx(pipe, np.hstack([X[:1], X[:1, :1]]))
    with pytest.raises(ValueError, match="2-D array"):
        to_onnx(clf, X[0])
    with pytest.raises(ValueError, match="2-D array"):
        to_onnx(clf, X[:1, :, None])
    with pytest.raises(ValueError, match="must hold numbers"):
        to_onnx(clf, np.array([["a"] * n]))
    with pytest.raises(TypeError, match="got None"):
        to_onnx(clf, None)
    for opset in (5, 12, 100, 17.5, "17", True):
        with pytest.raises(ValueError, match="target_opset must be an int from 13"):
            to_onnx(clf, X[:1], target_opset=opset)
    with pytest.raises(TypeError, match="options must be a dict"):
        to_onnx(clf, X[:1], options=[("zipmap", True)])
    with pytest.raises(ValueError, match="no skl2onnx option 'nope'"):
        to_onnx(clf, X[:1], options={"nope": 1})
    with pytest.raises(ValueError, match=r"options\['zipmap'\] must be one of"):
        to_onnx(clf, X[:1], options={"zipmap": "yes"})
    # the lowest and highest opsets accepted do export
    for opset in (13, skl2onnx.get_latest_tested_opset_version()):
        label, _ = run(to_onnx(clf, X[:1], target_opset=opset), X=X)
        np.testing.assert_array_equal(label, clf.predict(X))

    seqs, labels = ragged(20, 2, 3, 6, seed=0)
    lstm = TargetReplicationLSTMClassifier(hidden_size=4, max_epochs=1)
    lstm.fit(seqs, labels)
    padded = pad(seqs[:3], 2)
    with pytest.raises(ValueError, match="has 1 channels per step, but .* on 2"):
        to_onnx(lstm, padded[:, :, :1])
    with pytest.raises(ValueError, match="has none"):
        to_onnx(lstm, padded, options={"zipmap": True})
    pair = SiamesePairClassifier(tower="gru", hidden_size=4, max_epochs=1)
    pair.fit(list(zip(seqs, seqs, strict=True)), labels % 2)
    with pytest.raises(ValueError, match=r"\(right\) has 3 channels per step"):
        to_onnx(pair, (padded, np.concatenate([padded, padded[:, :, :1]], axis=2)))


def test_the_library_does_not_import_onnx_skops_or_skl2onnx():
    code = (
        "import sys, sklearn_nn, sklearn_nn.gating, sklearn_nn.siamese;"
        "bad = [m for m in ('onnx', 'skl2onnx', 'onnxruntime', 'skops')"
        " if m in sys.modules]; print(bad); assert not bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.cuda
def test_a_cuda_fitted_model_exports_on_the_cpu():
    X, y = classification()
    clf = MixtureOfExpertsClassifier(max_epochs=5, device="cuda", random_state=0)
    clf.fit(X, y)
    check_classifier(to_onnx(clf, X[:1]), clf, X, X=X)
    assert next(clf.net_.module_.parameters()).is_cuda  # the model is unchanged


def test_top_k_mixture_exports():
    X, y = classification()
    clf = MixtureOfExpertsClassifier(
        n_experts=6, top_k=2, max_epochs=10, random_state=0
    ).fit(X, y)
    model = to_onnx(clf, X[:1])
    for n in (1, 50, 160):
        check_classifier(model, clf, X[:n], X=X[:n])
