"""Saving without pickle: skops round trips of every estimator and of
Pipelines, the untrusted-types list, damaged files, GPU states on a CPU."""

import inspect
import io
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sklearn_nn
from sklearn_nn import (
    HardGateClassifier,
    MixtureOfExpertsClassifier,
    SiamesePairClassifier,
    SiamesePairRegressor,
    TargetReplicationLSTMClassifier,
)
from sklearn_nn.exceptions import LoadedOnCPUWarning
from sklearn_nn.siamese import stack_pairs

sio = pytest.importorskip("skops.io")

ESTIMATOR_CLASSES = [
    getattr(sklearn_nn, name)
    for name in sklearn_nn.__all__
    if inspect.isclass(getattr(sklearn_nn, name))
]
SMALL = {
    "HardGateClassifier": dict(gate_hidden_layer_sizes=(8,)),
    "HardGateRegressor": dict(gate_hidden_layer_sizes=(8,)),
    "MixtureOfExpertsClassifier": dict(expert_hidden_layer_sizes=(8,)),
    "MixtureOfExpertsRegressor": dict(expert_hidden_layer_sizes=(8,)),
    "SiamesePairClassifier": dict(n_left_features=3, hidden_layer_sizes=(8,)),
    "SiamesePairRegressor": dict(n_left_features=3, hidden_layer_sizes=(8,)),
    "TargetReplicationLSTMClassifier": dict(hidden_size=8, conv_filters=(4,)),
}


def small(cls, **extra):
    return cls(
        **{"max_epochs": 5, "lr": 0.03, "random_state": 0, **SMALL[cls.__name__]},
        **extra,
    )


def data(cls):
    if is_classifier(cls()):
        return make_classification(n_samples=80, n_features=6, random_state=0)
    X, y = make_regression(n_samples=80, n_features=6, noise=1.0, random_state=0)
    if cls is SiamesePairRegressor:
        y = np.tanh(y / 100)  # a similarity in [-1, 1]
    return X, y / 50


def outputs(est, X):
    """Everything the estimator computes from X."""
    out = {"predict": est.predict(X)}
    for method in ("predict_proba", "transform", "predict_gate_scores"):
        if hasattr(est, method):
            out[method] = getattr(est, method)(X)
    return out


def assert_same_outputs(a, b, X):
    expected, got = outputs(a, X), outputs(b, X)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def skops_round_trip(obj):
    blob = sio.dumps(obj)
    untrusted = sio.get_untrusted_types(data=blob)
    return sio.loads(blob, trusted=untrusted), untrusted


def test_every_estimator_has_small_params():
    assert set(SMALL) == {cls.__name__ for cls in ESTIMATOR_CLASSES}


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda c: c.__name__)
def test_skops_round_trip_alone_and_in_a_pipeline(cls):
    X, y = data(cls)
    est = small(cls).fit(X, y)
    restored, untrusted = skops_round_trip(est)
    assert_same_outputs(est, restored, X)
    # only sklearn_nn's own types (a hard gate's default tree also lists
    # scikit-learn's Tree and the Bunch of named_estimators_, as skops does
    # for DecisionTreeClassifier and StackingClassifier themselves)
    assert f"{cls.__module__}.{cls.__name__}" in untrusted
    assert not [t for t in untrusted if t.startswith(("torch", "skorch"))]
    assert all(t.startswith(("sklearn_nn.", "sklearn.")) for t in untrusted)
    # the fitted attributes and the net come back
    assert restored.n_iter_ == est.n_iter_
    assert restored.loss_curve_ == est.loss_curve_
    assert len(restored.net_.history) == len(est.net_.history)
    assert restored.net_.history[-1]["train_loss"] == est.net_.history[-1]["train_loss"]

    pipe = make_pipeline(StandardScaler(), small(cls)).fit(X, y)
    restored, untrusted = skops_round_trip(pipe)
    assert "sklearn_nn." in " ".join(untrusted)
    assert_same_outputs(pipe, restored, X)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda c: c.__name__)
def test_pickle_state_is_plain_data(cls):
    # the same state serves pickle, joblib and skops: no torch object in it
    X, y = data(cls)
    est = small(cls).fit(X, y)
    state = est.__getstate__()

    def torch_objects(obj, path="state"):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from torch_objects(v, f"{path}[{k!r}]")
        elif isinstance(obj, list | tuple):
            for i, v in enumerate(obj):
                yield from torch_objects(v, f"{path}[{i}]")
        elif type(obj).__module__.split(".")[0] in ("torch", "skorch"):
            yield path

    assert list(torch_objects(state)) == []
    assert_same_outputs(est, pickle.loads(pickle.dumps(est)), X)


def test_a_hard_gate_that_predicts_the_class_prior_round_trips():
    # the prior candidate and the vote's weights are part of the saved network
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(300, 4)), (rng.uniform(size=300) < 0.65).astype(int)
    est = small(HardGateClassifier).set_params(shrinkage=10.0).fit(X, y)
    prior = list(est.gate_names_).index("prior")
    est.net_.module_.prefer_candidate(prior, 50.0)  # the prior everywhere
    for restored in (skops_round_trip(est)[0], pickle.loads(pickle.dumps(est))):
        assert_same_outputs(est, restored, X)
        np.testing.assert_allclose(restored.vote_weights_, est.vote_weights_)
        np.testing.assert_allclose(
            restored.predict_proba(X[:3]),
            np.tile(np.bincount(y) / 300, (3, 1)),
            atol=1e-6,
        )


def variable_length_sequences(n=60, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = [rng.randn(rng.randint(4, 12), 2) + (2 * label - 1) for label in y]
    return X, y


@pytest.mark.parametrize(
    "random_features, replication", [(10_000, 0), (10_000, 0.5), (0, 0)]
)
def test_sequences_and_token_towers_round_trip(random_features, replication):
    # random features with the ridge read-out (the default; with replication
    # a temperature per step), or a GRU
    X, y = variable_length_sequences()
    clf = TargetReplicationLSTMClassifier(
        random_features=random_features,
        replication_weight=replication,
        hidden_size=8,
        max_epochs=4,
        random_state=0,
    ).fit(X, y)
    assert clf.solver_ == ("ridge" if random_features else "gradient")
    restored, _ = skops_round_trip(clf)
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(
        restored.predict_proba_steps(X), clf.predict_proba_steps(X)
    )

    rng = np.random.RandomState(0)
    left = rng.randint(1, 20, size=(40, 6))
    right = rng.randint(1, 20, size=(40, 6))
    left[:, 4:] = 0  # padding
    X_pairs, y_pairs = stack_pairs(left, right), rng.randint(2, size=40)
    pair = SiamesePairClassifier(
        tower="lstm",
        vocab_size=20,
        hidden_size=4,
        embedding_dim=3,
        n_left_features=6,
        max_epochs=3,
        random_state=0,
    ).fit(X_pairs, y_pairs)
    restored, _ = skops_round_trip(pair)
    np.testing.assert_array_equal(
        restored.predict_proba(X_pairs), pair.predict_proba(X_pairs)
    )
    np.testing.assert_array_equal(
        restored.embed(right, side="right"), pair.embed(right, side="right")
    )


def test_warm_start_continues_after_loading():
    # the optimizer's state is saved: a warm fit after loading is the warm
    # fit the saved model would have made
    X, y = data(MixtureOfExpertsClassifier)
    est = small(MixtureOfExpertsClassifier, warm_start=True).fit(X, y)
    restored, _ = skops_round_trip(est)
    est.fit(X, y)
    restored.fit(X, y)
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    assert restored.loss_curve_ == est.loss_curve_
    assert len(restored.loss_curve_) == 10


def test_loading_leaves_the_global_random_state_alone():
    X, y = data(MixtureOfExpertsClassifier)
    blob = sio.dumps(small(MixtureOfExpertsClassifier).fit(X, y))
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_a_user_must_trust_our_types():
    X, y = data(MixtureOfExpertsClassifier)
    blob = sio.dumps(small(MixtureOfExpertsClassifier).fit(X, y))
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.loads(blob)


def _rewrite_zip(blob, edit):
    """Copy a skops file, passing each member through ``edit(name, data)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, edit(name, src.read(name)))
    return out.getvalue()


def test_damaged_and_edited_files_are_clear_errors():
    X, y = data(MixtureOfExpertsClassifier)
    est = small(MixtureOfExpertsClassifier).fit(X, y)
    blob = sio.dumps(est)
    trusted = sio.get_untrusted_types(data=blob)

    # a truncated file is not a zip archive any more
    with pytest.raises(zipfile.BadZipFile):
        sio.loads(blob[: len(blob) // 2], trusted=trusted)

    # a weight array replaced by one of another shape
    weight = est.net_.module_.state_dict()["gate.0.weight"].numpy()
    shape = weight.shape

    def swap(name, content):
        if name.endswith(".npy"):
            array = np.load(io.BytesIO(content), allow_pickle=False)
            if array.shape == shape and np.array_equal(array, weight):
                buffer = io.BytesIO()
                np.save(buffer, np.zeros((shape[0] + 1, shape[1]), np.float32))
                return buffer.getvalue()
        return content

    edited = _rewrite_zip(blob, swap)
    assert edited != blob
    with pytest.raises(ValueError, match="does not match the network"):
        sio.loads(edited, trusted=trusted)

    # a state whose network entry was removed or replaced
    state = est.__getstate__()
    state["net_"] = {"module": {}}
    with pytest.raises(ValueError, match="has no valid network"):
        MixtureOfExpertsClassifier.__new__(MixtureOfExpertsClassifier).__setstate__(
            state
        )


def test_gpu_state_loads_on_a_cpu_only_machine_through_skops_and_pickle():
    # Simulated (no GPU here): the saved net says it ran on 'cuda'
    if torch.cuda.is_available():
        pytest.skip("simulates a machine without CUDA")
    X, y = data(HardGateClassifier)
    est = small(
        HardGateClassifier,
        estimators=[("lr_model", LogisticRegression()), ("nb", GaussianNB())],
    ).fit(X, y)
    expected = est.predict_proba(X)
    est.net_.device = "cuda"
    for load in (
        lambda e: skops_round_trip(e)[0],
        lambda e: pickle.loads(pickle.dumps(e)),
    ):
        with pytest.warns(LoadedOnCPUWarning, match="no GPU is available") as rec:
            restored = load(est)
        assert rec[0].filename == __file__  # points at the caller
        assert str(restored.net_.device) == "cpu"
        np.testing.assert_array_equal(restored.predict_proba(X), expected)


def test_clone_and_unfitted_estimators_round_trip():
    for cls in ESTIMATOR_CLASSES:
        est = small(cls)
        restored, untrusted = skops_round_trip(est)
        assert restored.get_params() == clone(est).get_params()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not hasattr(restored, "net_")


@pytest.mark.cuda
@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda c: c.__name__)
def test_cuda_fitted_model_loads_with_skops_on_a_cpu_only_machine(cls, monkeypatch):
    X, y = data(cls)
    est = small(cls, device="cuda").fit(X, y)
    assert next(est.net_.module_.parameters()).is_cuda
    method = "predict_proba" if is_classifier(est) else "predict"
    expected = getattr(est, method)(X)
    blob = sio.dumps(est)
    # what a machine without CUDA sees
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(LoadedOnCPUWarning):
        restored = sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_allclose(
        getattr(restored, method)(X), expected, rtol=1e-4, atol=1e-5
    )
