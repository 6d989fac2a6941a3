"""scikit-learn's estimator checks and ecosystem round trips, for every
public estimator (discovered from ``sklearn_nn.__all__``, so a new estimator
is checked without editing this file)."""

import inspect
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_nn
from sklearn_nn import TargetReplicationLSTMClassifier
from sklearn_nn.preprocessing import SequenceStandardScaler

ESTIMATOR_CLASSES = [
    getattr(sklearn_nn, name)
    for name in sklearn_nn.__all__
    if inspect.isclass(getattr(sklearn_nn, name))
]

# Small, fast settings for the checks. dtype='float64' because several checks
# compare two fits or two predictions with rtol=1e-7 (sample_weight equivalent
# to repetition, subset invariance), below float32 resolution.
FAST_PARAMS = {
    "HardGateClassifier": dict(gate_hidden_layer_sizes=(8,), lr=0.03),
    "HardGateRegressor": dict(gate_hidden_layer_sizes=(8,), lr=0.03),
    "MixtureOfExpertsClassifier": dict(
        expert_hidden_layer_sizes=(8,), gate_hidden_layer_sizes=(4,), lr=0.03
    ),
    "MixtureOfExpertsRegressor": dict(
        expert_hidden_layer_sizes=(8,), gate_hidden_layer_sizes=(4,), lr=0.03
    ),
    # pair models: the checks' X has any number of columns (odd ones too), so
    # the left item is the first column and a second tower embeds the rest
    "SiamesePairClassifier": dict(
        n_left_features=1,
        shared_weights=False,
        hidden_layer_sizes=(8,),
        embedding_dim=4,
        lr=0.03,
    ),
    "SiamesePairRegressor": dict(
        n_left_features=1,
        shared_weights=False,
        hidden_layer_sizes=(8,),
        embedding_dim=4,
        lr=0.03,
    ),
    # the default architecture (random features, ridge read-out), as is
    "TargetReplicationLSTMClassifier": dict(),
}
COMMON_FAST = dict(max_epochs=40, dtype="float64", random_state=0)


def fast_instance(cls, **extra):
    params = {**COMMON_FAST, **FAST_PARAMS.get(cls.__name__, {}), **extra}
    return cls(**params)


def test_every_estimator_has_fast_params():
    assert set(FAST_PARAMS) == {cls.__name__ for cls in ESTIMATOR_CLASSES}


# the recurrent path too: a small GRU reading one small convolution layer,
# trained by gradient (speed)
RECURRENT_INSTANCE = TargetReplicationLSTMClassifier(
    random_features=0, cell="gru", hidden_size=8, conv_filters=(8,), lr=0.03,
    **COMMON_FAST,
)  # fmt: skip


@parametrize_with_checks(
    [fast_instance(cls) for cls in ESTIMATOR_CLASSES] + [RECURRENT_INSTANCE]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# the mixture's sparse top-k gating runs another forward pass (a noisy gate in
# training, the top-k weights renormalised, other balancing losses): checked too
TOP_K_INSTANCES = [
    fast_instance(sklearn_nn.MixtureOfExpertsClassifier, n_experts=3, top_k=2),
    fast_instance(sklearn_nn.MixtureOfExpertsRegressor, n_experts=3, top_k=1),
]
# The noisy top-k gate (Shazeer et al. 2017) draws Gaussian noise for every
# training row: a row repeated twice gets two draws where a row of weight 2
# gets one, equal in expectation but not to rtol 1e-7.
# test_top_k_mixture_sample_weight_without_noise runs the check with the noise
# set to zero, so the weighting itself is checked.
TOP_K_NOISE = (
    "the noisy top-k gate draws its noise per training row, so repeating a "
    "row is not the same random experiment as weighting it"
)


def _top_k_expected_failures(estimator):
    return {
        "check_sample_weight_equivalence_on_dense_data": TOP_K_NOISE,
        "check_sample_weight_equivalence_on_sparse_data": TOP_K_NOISE,
    }


@parametrize_with_checks(
    TOP_K_INSTANCES, expected_failed_checks=_top_k_expected_failures
)
def test_sklearn_compatible_top_k_mixture(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", TOP_K_INSTANCES, ids=lambda e: type(e).__name__)
def test_top_k_mixture_sample_weight_without_noise(estimator, monkeypatch):
    import torch
    from sklearn.utils.estimator_checks import (
        check_sample_weight_equivalence_on_dense_data,
    )

    monkeypatch.setattr(torch, "randn_like", torch.zeros_like)
    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)


# the transformers of sklearn_nn.preprocessing, at their defaults and with
# per-sequence standardisation (the checks give 2-D X: univariate sequences)
@parametrize_with_checks(
    [SequenceStandardScaler(), SequenceStandardScaler(per_sequence=True)]
)
def test_sklearn_compatible_transformers(estimator, check):
    check(estimator)


def _data(cls, n=120):
    if is_classifier(cls()):
        X, y = make_classification(n_samples=n, n_features=6, random_state=0)
        return X * 10 + 3, y
    X, y = make_regression(n_samples=n, n_features=6, noise=1.0, random_state=0)
    return X * 10 + 3, y / 50


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda c: c.__name__)
def test_pipeline_clone_pickle_joblib(cls, tmp_path):
    X, y = _data(cls)
    pipe = make_pipeline(StandardScaler(), fast_instance(cls, dtype="float32"))
    pipe.fit(X, y)
    expected = pipe.predict(X)
    assert pipe.score(X, y) > 0.6

    refit = clone(pipe).fit(X, y)
    np.testing.assert_array_equal(refit.predict(X), expected)

    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X), expected)

    path = tmp_path / "model.joblib"
    joblib.dump(pipe, path)
    np.testing.assert_array_equal(joblib.load(path).predict(X), expected)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda c: c.__name__)
def test_grid_search_parallel_and_cross_val(cls):
    X, y = _data(cls)
    pipe = make_pipeline(StandardScaler(), fast_instance(cls, dtype="float32"))
    search = GridSearchCV(
        pipe, {f"{pipe.steps[-1][0]}__lr": [0.003, 0.03]}, cv=3, n_jobs=2
    )
    search.fit(X, y)
    assert search.best_score_ > 0.5
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


@pytest.mark.cuda
@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda c: c.__name__)
def test_cuda_fit_and_unpickle_on_cpu_only_machine(cls, monkeypatch):
    import torch
    from skorch.exceptions import DeviceWarning

    X, y = _data(cls)
    est = fast_instance(cls, device="cuda", dtype="float32").fit(X, y)
    assert next(est.net_.module_.parameters()).is_cuda
    method = "predict_proba" if is_classifier(est) else "predict"
    expected = getattr(est, method)(X)
    blob = pickle.dumps(est)
    # what a machine without CUDA sees: skorch maps the tensors to the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning):
        restored = pickle.loads(blob)
    assert not next(restored.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(
        getattr(restored, method)(X), expected, rtol=1e-4, atol=1e-5
    )


def test_threaded_grid_search_is_reproducible():
    # torch's RNG is process-global: fits in threads must not interleave seeding
    from joblib import parallel_backend

    cls = sklearn_nn.MixtureOfExpertsClassifier
    X, y = _data(cls)
    grid = {"lr": [0.003, 0.01, 0.03, 0.1]}
    est = fast_instance(cls, dtype="float32", max_epochs=10)
    serial = GridSearchCV(est, grid, cv=2).fit(X, y)
    with parallel_backend("threading", n_jobs=2):
        threaded = GridSearchCV(est, grid, cv=2).fit(X, y)
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], threaded.cv_results_["mean_test_score"]
    )


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda c: c.__name__)
def test_training_shortcuts_match_skorch_loop(cls, monkeypatch):
    # _Net's training loop takes three shortcuts: one optimizer step without
    # skorch's closure, the batch size read from the first input tensor, and
    # a module's reduced ``forward_train`` output for the loss. Fitting with
    # skorch's own loop and the full forward must give the same model.
    from skorch import NeuralNet

    from sklearn_nn._net import _Net

    X, y = _data(cls)
    fast = fast_instance(cls, max_epochs=5, batch_size=16).fit(X, y)
    monkeypatch.setattr(_Net, "train_step", NeuralNet.train_step)
    monkeypatch.setattr(_Net, "run_single_epoch", NeuralNet.run_single_epoch)
    monkeypatch.setattr(_Net, "infer", lambda self, x, **kw: self.module_(*x, **kw))
    reference = fast_instance(cls, max_epochs=5, batch_size=16).fit(X, y)
    assert fast.n_iter_ == reference.n_iter_ == 5
    np.testing.assert_array_equal(fast.loss_curve_, reference.loss_curve_)
    out = "predict_proba" if is_classifier(cls()) else "predict"
    np.testing.assert_array_equal(getattr(fast, out)(X), getattr(reference, out)(X))


def test_closure_optimizer_still_gets_its_closure():
    # LBFGS re-evaluates the loss through the closure (the built-in
    # optimizers take a single step without one)
    import torch

    cls = sklearn_nn.MixtureOfExpertsClassifier
    X, y = _data(cls)
    X = StandardScaler().fit_transform(X)
    clf = fast_instance(cls, optimizer=torch.optim.LBFGS, lr=0.5, max_epochs=5)
    clf.fit(X, y)
    assert isinstance(clf.net_.optimizer_, torch.optim.LBFGS)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.score(X, y) > 0.8
