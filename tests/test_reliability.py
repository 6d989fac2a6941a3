"""Bad input and interrupted fits, for every public estimator (issue 12):
a clear error or a consistent estimator, never a raw traceback from deep
inside or a silently wrong model."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, is_classifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from test_common import ESTIMATOR_CLASSES, _data, fast_instance

from sklearn_nn._net import StopOnDivergence
from sklearn_nn.exceptions import DivergenceError, DivergenceWarning

ids = {"ids": lambda c: c.__name__}


def _interrupt_after(monkeypatch, n_batches):
    """Make the n-th training batch of every fit raise KeyboardInterrupt
    (what Ctrl-C does), from inside skorch's training loop."""
    original = StopOnDivergence.on_batch_end
    seen = {"n": 0}

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            seen["n"] += 1
            if seen["n"] == n_batches:
                raise KeyboardInterrupt
        return original(self, net, batch=batch, training=training, **kwargs)

    monkeypatch.setattr(StopOnDivergence, "on_batch_end", on_batch_end)
    return seen


def _outputs(est, X):
    method = "predict_proba" if is_classifier(est) else "predict"
    return getattr(est, method)(X)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
@pytest.mark.parametrize("when", ["first batch", "third epoch"])
def test_keyboard_interrupt_reaches_the_user_and_leaves_the_estimator_as_it_was(
    cls, when, monkeypatch
):
    X, y = _data(cls, n=60)
    est = fast_instance(cls, max_epochs=5, batch_size=20, tol=0)
    n_batches = 1 if when == "first batch" else 2 * 3 + 1
    _interrupt_after(monkeypatch, n_batches)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert not hasattr(est, "net_") and not hasattr(est, "n_iter_")

    # a warm fit interrupted: the previous model, history and settings stay
    monkeypatch.undo()
    est = fast_instance(cls, max_epochs=3, batch_size=20, tol=0, warm_start=True)
    est.fit(X, y)
    before = _outputs(est, X)
    curve = list(est.loss_curve_)
    _interrupt_after(monkeypatch, n_batches)
    est.set_params(max_epochs=5)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert est.n_iter_ == len(est.loss_curve_) == len(est.net_.history) == 3
    assert est.loss_curve_ == curve
    np.testing.assert_array_equal(_outputs(est, X), before)
    assert est.net_.max_epochs == 3
    # and it trains on afterwards
    monkeypatch.undo()
    est.fit(X, y)
    assert est.n_iter_ == len(est.loss_curve_) == 8


def test_early_stopping_still_ends_training_quietly():
    # skorch's EarlyStopping stops by raising KeyboardInterrupt; ours must
    # still end the fit normally
    cls = ESTIMATOR_CLASSES[0]
    X, y = _data(cls, n=60)
    est = fast_instance(cls, max_epochs=200, n_iter_no_change=2, tol=1e9)
    est.fit(X, y)
    assert est.n_iter_ == 3 == len(est.loss_curve_)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
def test_an_exploding_loss_is_a_divergence_error_not_a_silent_fit(cls):
    X, y = _data(cls, n=60)
    est = fast_instance(cls, max_epochs=20, lr=1e6, tol=0, dtype="float32")
    try:
        est.fit(X * 1000, y * 1000 if not is_classifier(est) else y)
    except DivergenceError as exc:
        message = str(exc)
        assert "lr" in message and "standardize" in message
        assert not hasattr(est, "net_")
        return
    # a fit that survives must not have blown up: no 10^6-fold growth
    curve = np.abs(est.loss_curve_)
    assert np.all(np.isfinite(curve))
    assert curve.max() <= 1e6 * max(curve[0], 1e-3)


def test_divergence_after_a_validated_epoch_keeps_the_best_weights():
    from sklearn_nn import MixtureOfExpertsRegressor

    cls = MixtureOfExpertsRegressor
    X, y = _data(cls, n=80)
    est = fast_instance(
        cls, max_epochs=6, early_stopping=True, n_iter_no_change=50, tol=0
    )
    est.fit(X, y)
    # continue with a learning rate that makes the loss explode
    est.set_params(warm_start=True, lr=1e12, optimizer="adam", max_epochs=10)
    with pytest.warns(DivergenceWarning, match=r"weights of epoch \d+, the best"):
        est.fit(X * 1e3, y)
    assert len(est.loss_curve_) == len(est.validation_loss_curve_) == est.n_iter_
    assert np.all(np.isfinite(est.predict(X)))
    assert np.all(np.isfinite(est.loss_curve_))


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
def test_values_beyond_float32_at_predict_are_a_clear_error(cls):
    X, y = _data(cls, n=60)
    est = fast_instance(cls, max_epochs=2, dtype="float32").fit(X, y)
    X_big = X.copy()
    X_big[0, 0] = 1e300
    for method in ("predict", "predict_proba", "transform", "predict_gate"):
        if hasattr(est, method):
            # ours, or scikit-learn's from a hard gate's base model
            with pytest.raises(ValueError, match=r"X .*(float32's range|float32)"):
                getattr(est, method)(X_big)
    # float64 networks take them (a hard gate's base models may not: a
    # decision tree works in float32)
    if not cls.__name__.startswith("HardGate"):
        est64 = fast_instance(cls, max_epochs=2, dtype="float64").fit(X, y)
        X_big[0, 0] = 1e39
        with np.errstate(all="ignore"):
            est64.predict(X_big)


# a changed parameter of each family that defines the network or its loss
ARCHITECTURE_CHANGES = {
    "HardGateClassifier": dict(
        gate_hidden_layer_sizes=(3,),
        estimators=[("logreg", LogisticRegression())],
        selection_loss="log_loss",
    ),
    "HardGateRegressor": dict(
        gate_hidden_layer_sizes=(3,),
        estimators=[("ridge", Ridge())],
        output_activation="tanh",
    ),
    "MixtureOfExpertsClassifier": dict(n_experts=5, loss="blend"),
    "MixtureOfExpertsRegressor": dict(
        n_experts=5, gate_hidden_layer_sizes=(3,), loss="blend"
    ),
    "SiamesePairClassifier": dict(embedding_dim=7, n_left_features=2, tower="gru"),
    "SiamesePairRegressor": dict(embedding_dim=7, n_left_features=2),
    "TargetReplicationLSTMClassifier": dict(hidden_size=5, cell="lstm"),
}


def test_every_estimator_has_architecture_changes():
    assert set(ARCHITECTURE_CHANGES) == {c.__name__ for c in ESTIMATOR_CLASSES}


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
def test_warm_start_refuses_changed_architecture(cls):
    X, y = _data(cls, n=60)
    est = fast_instance(cls, max_epochs=2, warm_start=True).fit(X, y)
    # every parameter but the training settings is checked
    assert set(est._fitted_parameters) == (
        set(est.get_params(deep=False)) - est._WARM_START_SETTINGS
    )
    # the training settings may change
    est.set_params(max_epochs=1, lr=1e-4, batch_size=16, tol=1e-3).fit(X, y)
    assert est.n_iter_ == 3
    before = _outputs(est, X)
    for name, value in ARCHITECTURE_CHANGES[cls.__name__].items():
        old = est.get_params(deep=False)[name]
        est.set_params(**{name: value})
        with pytest.raises(ValueError, match=rf"{name}=.*changed since it was fitted"):
            est.fit(X, y)
        est.set_params(**{name: old})
    # nothing was trained by the refused fits, and the old settings fit on
    assert est.n_iter_ == 3
    np.testing.assert_array_equal(_outputs(est, X), before)
    est.fit(X, y)
    assert est.n_iter_ == 4
    # warm_start=False fits a new network with the new parameters
    name, value = next(iter(ARCHITECTURE_CHANGES[cls.__name__].items()))
    est.set_params(warm_start=False, **{name: value}).fit(X, y)
    assert est.n_iter_ == 1


CLASSIFIERS = [c for c in ESTIMATOR_CLASSES if is_classifier(c())]
REGRESSORS = [c for c in ESTIMATOR_CLASSES if not is_classifier(c())]


@pytest.mark.parametrize("cls", CLASSIFIERS, **ids)
@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({0: 0.0, 1: 0.0}, "every training sample a weight of 0"),
        ({0: -1.0, 1: 1.0}, r"finite, non-negative weight; got \{0: -1.0\}"),
        ({0: np.nan, 1: 1.0}, "finite, non-negative weight"),
        ({0: np.inf, 1: 1.0}, "finite, non-negative weight"),
    ],
)
def test_bad_class_weight_is_a_value_error_naming_it(cls, class_weight, match):
    X, y = _data(cls, n=60)
    est = fast_instance(cls, max_epochs=2, class_weight=class_weight)
    with pytest.raises(ValueError, match=f"class_weight.*{match}|{match}"):
        est.fit(X, y)
    assert not hasattr(est, "net_")


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
def test_sample_weight_scale_does_not_matter(cls):
    # tiny weights used to underflow to 0 in float32 (nothing trained), huge
    # ones to overflow to inf
    # (the network's losses are weighted means, unchanged by a common factor;
    # a hard gate's fitted base models, the pair classifier's Platt scaling
    # and the mixture regressor's scale prior read weights as counts, as
    # scikit-learn does, so there 1e-300 means no data)
    X, y = _data(cls, n=60)
    kw = dict(max_epochs=3, dtype="float32", batch_size=60)
    if cls.__name__ == "MixtureOfExpertsRegressor":
        # the EM prior on the expert scales is a number of samples, against
        # which the weights count as samples
        kw["learn_expert_scale"] = False
    if cls.__name__.startswith("HardGate"):
        # weights reach only the gate with precomputed base outputs
        if is_classifier(cls()):
            outputs = [
                m.fit(X, y).predict_proba(X)
                for m in (LogisticRegression(), GaussianNB())
            ]
        else:
            outputs = [Ridge().fit(X, y).predict(X)[:, None], np.zeros((60, 1))]
        k = outputs[0].shape[1]
        X = np.hstack([X, *outputs])
        kw["base_output_columns"] = [
            list(range(6, 6 + k)),
            list(range(6 + k, 6 + 2 * k)),
        ]
    ones = fast_instance(cls, **kw).fit(X, y, sample_weight=np.ones(60))
    for scale in (1e-300, 1e300):
        est = fast_instance(cls, **kw).fit(X, y, sample_weight=np.full(60, scale))
        np.testing.assert_allclose(est.loss_curve_, ones.loss_curve_, rtol=1e-5)
        if cls.__name__ != "SiamesePairClassifier":
            np.testing.assert_allclose(
                _outputs(est, X), _outputs(ones, X), rtol=1e-4, atol=1e-6
            )


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
def test_bad_targets_and_weights_name_the_argument(cls):
    X, y = _data(cls, n=60)
    est = fast_instance(cls, max_epochs=2)
    with pytest.raises(TypeError, match="sample_weight must hold numbers"):
        est.fit(X, y, sample_weight=np.array(["a"] * 60))
    with pytest.raises(ValueError, match=r"y must be 1-D .* shape \(60, 2, 2\)"):
        est.fit(X, np.zeros((60, 2, 2)))
    if is_classifier(est):
        mixed = np.array([1, "a"] * 30, dtype=object)
        with pytest.raises(ValueError, match="y mixes string and non-string"):
            est.fit(X, mixed)


def test_hard_gate_pool_errors_name_the_base_model_or_the_fold():
    from sklearn.preprocessing import StandardScaler

    from sklearn_nn import HardGateClassifier, HardGateRegressor

    X, y = _data(HardGateRegressor, n=60)
    reg = HardGateRegressor(estimators=[("scale", StandardScaler()), ("r", Ridge())])
    with pytest.raises(ValueError, match="'scale' \\(StandardScaler\\) has no predict"):
        reg.fit(X, y)
    X, y = _data(HardGateClassifier, n=60)
    y_rare = np.r_[np.zeros(11), 1]
    with pytest.raises(ValueError, match="training part of fold 1 holds only class"):
        HardGateClassifier(cv=5).fit(X[:12], y_rare)


class _NaNAfterFit(RegressorMixin, BaseEstimator):
    """Predicts NaN for samples whose first feature exceeds ``above``."""

    def __init__(self, above=np.inf):
        self.above = above

    def fit(self, X, y):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        X = np.asarray(X)
        return np.where(X[:, 0] > self.above, np.nan, 0.0)


def test_hard_gate_names_a_base_model_that_outputs_nan():
    from sklearn_nn import HardGateRegressor

    X, y = _data(HardGateRegressor, n=60)
    pool = [("ridge", Ridge()), ("broken", _NaNAfterFit(above=3.0))]
    with pytest.raises(ValueError, match="'broken': its out-of-fold predictions"):
        HardGateRegressor(estimators=pool, max_epochs=2).fit(X, y)
    # finite in training, NaN on new data: named at prediction time
    pool = [("ridge", Ridge()), ("broken", _NaNAfterFit())]
    reg = HardGateRegressor(estimators=pool, max_epochs=2).fit(X, y)
    reg.named_estimators_["broken"].above = -np.inf
    # prediction runs a base model on the rows it is chosen for: make it
    # the choice everywhere
    reg.net_.module_.prefer_candidate(1, 1e6)
    with pytest.raises(ValueError, match="'broken': its predictions of X"):
        reg.predict(X)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
def test_nan_network_output_at_predict_is_an_error_not_nan_probabilities(cls):
    X, y = _data(cls, n=40)
    est = fast_instance(cls, max_epochs=2).fit(X, y)

    def poison(module, inputs, output):
        # what an overflow inside the network gives: NaN in one row
        first = (output[0] if isinstance(output, tuple) else output).clone()
        first[1] = float("nan")
        return (first, *output[1:]) if isinstance(output, tuple) else first

    # a hard gate predicts through its gate MLP first (then only the chosen
    # candidates' outputs): the overflow is there
    module = est.net_.module_
    handle = getattr(module, "gate", module).register_forward_hook(poison)
    with pytest.raises(ValueError, match=r"NaN for 1 of 40 rows of X \(first: row 1\)"):
        _outputs(est, X)
    handle.remove()
    assert np.all(np.isfinite(_outputs(est, X)))


@pytest.mark.parametrize(
    "cls, params",
    [
        ("HardGateClassifier", dict(gate_hidden_layer_sizes=(0,))),
        ("HardGateClassifier", dict(estimators=[("svc", "not an estimator")])),
        ("HardGateRegressor", dict(estimators=[("lr", Ridge())])),
        ("MixtureOfExpertsClassifier", dict(expert_hidden_layer_sizes=(4, -1))),
        ("MixtureOfExpertsRegressor", dict(gate_hidden_layer_sizes=(2.5,))),
        ("SiamesePairClassifier", dict(hidden_layer_sizes=(0,))),
        ("TargetReplicationLSTMClassifier", dict(conv_filters=(8, 0))),
    ],
)
def test_bad_parameters_fail_before_any_data_work(cls, params, monkeypatch):
    import sklearn_nn
    from sklearn_nn import _base

    cls = getattr(sklearn_nn, cls)
    X, y = _data(cls, n=40)

    def no_data_work(*args, **kwargs):
        raise AssertionError("the data was validated before the parameters")

    monkeypatch.setattr(cls, "_validate_fit_data", no_data_work)
    monkeypatch.setattr(_base.BaseNeuralEstimator, "_training_data", no_data_work)
    with pytest.raises(ValueError, match="|".join(params)):
        fast_instance(cls, **params).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
def test_what_the_docs_promise_about_net_works(cls, tmp_path):
    import torch

    X, y = _data(cls, n=40)
    est = fast_instance(cls, max_epochs=3, tol=0).fit(X, y)
    net = est.net_
    assert isinstance(net.module_, torch.nn.Module)
    assert len(net.history) == est.n_iter_ == 3
    assert net.history[:, "train_loss"] == pytest.approx(est.loss_curve_)
    before = _outputs(est, X)
    path = tmp_path / "weights.pt"
    net.save_params(f_params=path)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in net.module_.parameters():
            p.add_(5 * torch.randn_like(p))
    assert not np.allclose(_outputs(est, X), before)
    net.load_params(f_params=path)
    np.testing.assert_array_equal(_outputs(est, X), before)
    for method in ("predict", "predict_proba"):
        with pytest.raises(TypeError, match="predict with the estimator itself"):
            getattr(net, method)(X)


# ------------------------------------------------ issue 30's errors list
def test_mixture_gate_and_experts_before_fit_are_not_fitted_errors():
    from sklearn.exceptions import NotFittedError

    from sklearn_nn import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

    X = np.zeros((3, 2))
    for cls in (MixtureOfExpertsClassifier, MixtureOfExpertsRegressor):
        for method in ("predict_gate", "predict_experts"):
            with pytest.raises(NotFittedError):
                getattr(cls(), method)(X)


@pytest.mark.parametrize("value", ["heavy", True, None])
def test_class_weight_values_that_are_not_numbers_are_named(value):
    from sklearn_nn import MixtureOfExpertsClassifier

    X, y = _data(MixtureOfExpertsClassifier, n=40)
    match = rf"finite, non-negative weight; got \{{0: {value!r}\}}"
    with pytest.raises(ValueError, match=match):
        MixtureOfExpertsClassifier(class_weight={0: value}, max_epochs=1).fit(X, y)


def test_an_optimizer_that_is_not_one_is_a_type_error_before_any_work():
    from sklearn_nn import MixtureOfExpertsClassifier

    X, y = _data(MixtureOfExpertsClassifier, n=40)
    with pytest.raises(TypeError, match="got the class dict, which is not a torch"):
        MixtureOfExpertsClassifier(optimizer=dict, max_epochs=1).fit(X, y)


def test_hard_gate_regressor_with_one_huge_weight_fits():
    # one weight of 1e300 leaves no weighted spread of y: the losses are
    # scaled by the unweighted one instead of dividing by ~1e-298
    from sklearn_nn import HardGateRegressor

    X, y = _data(HardGateRegressor, n=60)
    w = np.ones(60)
    w[0] = 1e300
    reg = HardGateRegressor(max_epochs=2, random_state=0).fit(X, y, sample_weight=w)
    assert np.isfinite(reg.predict(X)).all()
    assert reg._loss_scale == pytest.approx(np.var(y))


def test_hard_gate_warm_refit_on_a_subset_of_the_classes():
    from sklearn_nn import HardGateClassifier

    X = np.random.RandomState(0).normal(size=(90, 3))
    y = np.arange(90) % 3
    gate = HardGateClassifier(max_epochs=2, warm_start=True, random_state=0)
    gate.fit(X, y).fit(X[y < 2], y[y < 2])
    proba = gate.predict_proba(X)
    assert proba.shape == (90, 3) and np.allclose(proba.sum(1), 1)
