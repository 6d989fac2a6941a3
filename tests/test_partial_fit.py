"""``partial_fit``: one pass per chunk, MLPClassifier's semantics.

Every estimator that has it: ``k`` calls on the same data equal ``fit`` with
``max_epochs=k`` (the network, the optimizer's state and the random streams
carry over), the classes errors, ``fit`` after ``partial_fit``, pickling
between calls, and what each family fixes from the first chunk.
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor

from sklearn_nn import (
    HardGateClassifier,
    HardGateRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SiamesePairClassifier,
    SiamesePairRegressor,
    TargetReplicationLSTMClassifier,
)

COMMON = dict(dtype="float64", random_state=0, lr=0.01)
PAIR = dict(n_left_features=3, hidden_layer_sizes=(8,), embedding_dim=4)
MOE = dict(expert_hidden_layer_sizes=(8,), gate_hidden_layer_sizes=(4,))


def _table(rng, n=240):
    X = rng.normal(size=(n, 6))
    label = (X[:, 0] + X[:, 1] ** 2 - X[:, 2] > 0.5).astype(int)
    return X, label


def _pairs(rng, n=240):
    """[left | right]: the right item is the left one plus a little noise
    (similar, label 1) or another item (dissimilar, label 0)."""
    left = rng.normal(size=(n, 3))
    label = rng.randint(2, size=n)
    right = np.where(
        label[:, None] == 1,
        left + 0.1 * rng.normal(size=(n, 3)),
        rng.normal(size=(n, 3)),
    )
    return np.hstack([left, right]), label


def _sequences(rng, n=60):
    y = rng.randint(2, size=n)
    X = [rng.normal(size=rng.randint(12, 20)) + 1.5 * c for c in y]
    return X, y


def _case(name, rng):
    """(estimator, X, y, classes) of each estimator with partial_fit."""
    X, label = _table(rng)
    if name == "moe_classifier":
        return MixtureOfExpertsClassifier(**MOE, **COMMON), X, label, [0, 1]
    if name == "moe_regressor":
        est = MixtureOfExpertsRegressor(n_members=1, **MOE, **COMMON)
        return est, X, X[:, 0] + X[:, 1] ** 2, None
    if name.startswith("pair"):
        X, label = _pairs(rng)
    if name == "pair_classifier":
        return SiamesePairClassifier(**PAIR, **COMMON), X, label, [0, 1]
    if name == "pair_regressor":
        return SiamesePairRegressor(**PAIR, **COMMON), X, label.astype(float), None
    Xs, ys = _sequences(rng)
    if name == "sequence_gru":
        est = TargetReplicationLSTMClassifier(
            random_features=0, cell="gru", hidden_size=8, solver="gradient", **COMMON
        )
        return est, Xs, ys, [0, 1]
    # the default encoder (random features): 'auto' is 'gradient' here
    est = TargetReplicationLSTMClassifier(random_features=84, **COMMON)
    return est, Xs, ys, [0, 1]


CASES = [
    "moe_classifier",
    "moe_regressor",
    "pair_classifier",
    "pair_regressor",
    "sequence_gru",
    "sequence_random",
]


def _call(est, X, y, classes, **kwargs):
    if classes is None:
        return est.partial_fit(X, y, **kwargs)
    return est.partial_fit(X, y, classes=classes, **kwargs)


def _output(est, X):
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    return est.predict(X)


@pytest.mark.parametrize("name", CASES)
def test_k_calls_equal_fit_with_k_epochs(name):
    est, X, y, classes = _case(name, np.random.RandomState(0))
    params = {"max_epochs": 3}
    if isinstance(est, TargetReplicationLSTMClassifier):
        params["solver"] = "gradient"
    fitted = clone(est).set_params(**params).fit(X, y)
    partial = clone(est)
    for _ in range(3):
        partial = _call(partial, X, y, classes)
    assert partial.n_iter_ == fitted.n_iter_ == 3
    # the regressors fold the target scale into the network after each call
    # (and unfold it before the next): equal to float64 rounding
    np.testing.assert_allclose(partial.loss_curve_, fitted.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(_output(partial, X), _output(fitted, X), rtol=1e-9)


@pytest.mark.parametrize("name", CASES)
def test_chunks_learn_and_are_reproducible(name):
    rng = np.random.RandomState(0)
    est, X, y, classes = _case(name, rng)
    chunks = np.array_split(np.arange(len(y)), 3)

    def run(seed):
        model = clone(est).set_params(random_state=seed)
        for _ in range(8):
            for chunk in chunks:
                Xc = [X[i] for i in chunk] if isinstance(X, list) else X[chunk]
                model = _call(model, Xc, y[chunk], classes)
        return model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unused experts, negative pairs
        first, again, other = run(0), run(0), run(1)
    assert first.n_iter_ == 24 and len(first.loss_curve_) == 24
    np.testing.assert_array_equal(_output(first, X), _output(again, X))
    assert not np.array_equal(_output(first, X), _output(other, X))
    # training on the chunks beats predicting the (majority or mean) target
    dummy = DummyClassifier() if classes is not None else DummyRegressor()
    assert first.score(X, y) > dummy.fit(np.zeros((len(y), 1)), y).score(X, y) + 0.1


def test_mixture_regressor_members_train_chunk_by_chunk():
    # n_members='auto' (5 cross-fitted members): every member trains on each
    # chunk, on the rows outside its fold; no member is stopped or rolled back
    X, _ = _table(np.random.RandomState(0))
    y = X[:, 0] + X[:, 1] ** 2
    reg = MixtureOfExpertsRegressor(**MOE, **COMMON)
    first = None
    for _ in range(30):
        for chunk in np.array_split(np.arange(len(y)), 3):
            reg.partial_fit(X[chunk], y[chunk])
        if first is None:
            first = reg.score(X, y)
    # (seed 0: 0.03 after the first pass, 0.91 after 30; one member 0.95)
    assert reg.net_.module_.n_members == 5
    assert reg.score(X, y) > max(first, 0.8)
    mean, std = reg.predict(X[:5], return_std=True)
    assert np.all(std > 0)
    # the first chunk's hash seed for every chunk
    assert (
        reg._partial_fold_seed
        == clone(reg).partial_fit(X[:80], y[:80])._partial_fold_seed
    )


def test_classes_must_be_given_on_the_first_call():
    X, y = _table(np.random.RandomState(0))
    clf = MixtureOfExpertsClassifier(**MOE, **COMMON)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="at least 2 labels"):
        clf.partial_fit(X, y, classes=[1])
    # a first chunk need not hold every class
    clf.partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.predict_proba(X).shape == (len(X), 3)
    with pytest.raises(ValueError, match=r"not in classes_.*\[5\]"):
        clf.partial_fit(X[:10], np.full(10, 5))
    with pytest.raises(ValueError, match="not the same as on the first call"):
        clf.partial_fit(X, y, classes=[0, 1])
    clf.partial_fit(X, y, classes=[2, 1, 0])  # the same labels
    assert clf.n_iter_ == 2


def test_unknown_label_on_the_first_call():
    X, y = _table(np.random.RandomState(0))
    clf = MixtureOfExpertsClassifier(**MOE, **COMMON)
    with pytest.raises(ValueError, match=r"y has labels that are not in classes"):
        clf.partial_fit(X, y + 1, classes=[0, 1])
    assert not hasattr(clf, "classes_")  # a failed call leaves it unfitted


def test_balanced_class_weight_is_refused():
    X, y = _table(np.random.RandomState(0))
    clf = MixtureOfExpertsClassifier(class_weight="balanced", **MOE, **COMMON)
    with pytest.raises(ValueError, match="compute_class_weight"):
        clf.partial_fit(X, y, classes=[0, 1])
    clf.set_params(class_weight={0: 1.0, 1: 2.0}).partial_fit(X, y, classes=[0, 1])


def test_pair_classifier_needs_two_classes():
    X, y = _pairs(np.random.RandomState(0))
    clf = SiamesePairClassifier(**PAIR, **COMMON)
    with pytest.raises(ValueError, match="needs 2 labels in classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    # a chunk of one class is fine once the two classes are declared
    clf.partial_fit(X[y == 1], y[y == 1], classes=[0, 1])
    np.testing.assert_array_equal(clf.classes_, [0, 1])


def test_fit_after_partial_fit():
    X, y = _table(np.random.RandomState(0))
    clf = MixtureOfExpertsClassifier(max_epochs=2, **MOE, **COMMON)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1])
    # warm_start=False: a new network, as a fresh fit
    fresh = clone(clf).fit(X, y)
    clf.fit(X, y)
    assert clf.n_iter_ == 2
    np.testing.assert_array_equal(clf.predict_proba(X), fresh.predict_proba(X))
    assert not hasattr(clf, "_partial_streams")
    # warm_start=True: the partially trained network, max_epochs more
    warm = clone(clf).set_params(warm_start=True)
    for _ in range(3):
        warm.partial_fit(X, y, classes=[0, 1])
    before = warm.predict_proba(X)
    warm.fit(X, y)
    assert warm.n_iter_ == 5
    assert warm.loss_curve_[3] < warm.loss_curve_[0]
    assert not np.array_equal(before, warm.predict_proba(X))


def test_partial_fit_after_fit_continues():
    X, y = _table(np.random.RandomState(0))
    clf = MixtureOfExpertsClassifier(max_epochs=3, **MOE, **COMMON).fit(X, y)
    curve = list(clf.loss_curve_)
    clf.partial_fit(X, y)  # classes_ from fit
    assert clf.n_iter_ == 4 and clf.loss_curve_[:3] == curve
    # the network is fixed: a parameter that defines it cannot change
    clf.set_params(n_experts=3)
    with pytest.raises(ValueError, match=r"partial_fit continues.*n_experts=3"):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 4


def test_pickle_between_calls_changes_nothing():
    # dask-ml's Incremental ships the estimator between calls
    X, y = _table(np.random.RandomState(0))
    clf = MixtureOfExpertsClassifier(**MOE, **COMMON)
    shipped = clone(clf)
    for chunk in np.array_split(np.arange(len(y)), 4):
        clf.partial_fit(X[chunk], y[chunk], classes=[0, 1])
        shipped = pickle.loads(pickle.dumps(shipped))
        shipped.partial_fit(X[chunk], y[chunk], classes=[0, 1])
    np.testing.assert_array_equal(clf.predict_proba(X), shipped.predict_proba(X))


def test_random_state_is_not_consumed_across_calls():
    # an int random_state: the streams continue from call to call instead
    # of restarting (two calls on the same chunk shuffle it differently)
    X, y = _table(np.random.RandomState(0))
    clf = MixtureOfExpertsClassifier(**MOE, **COMMON)
    clf.partial_fit(X, y, classes=[0, 1])
    state = clf._partial_streams[2].copy()
    clf.partial_fit(X, y)
    assert not np.array_equal(state, clf._partial_streams[2])


def test_sequence_partial_fit_fixes_the_encoder_from_the_first_chunk():
    rng = np.random.RandomState(0)
    X, y = _sequences(rng)
    clf = TargetReplicationLSTMClassifier(
        random_features=0, conv_filters="auto", cell="gru", hidden_size=8, **COMMON
    )
    clf.partial_fit(X[:30], y[:30], classes=[0, 1])
    layers = clf.conv_filters_
    # a later chunk of longer sequences: the encoder stays as it was
    longer = [np.concatenate([x, x, x, x]) for x in X[30:]]
    clf.partial_fit(longer, y[30:])
    assert clf.conv_filters_ == layers and clf.n_iter_ == 2
    # the closed-form read-out has no partial_fit ...
    ridge = TargetReplicationLSTMClassifier(solver="ridge")
    assert not hasattr(ridge, "partial_fit")
    with pytest.raises(AttributeError, match="no attribute 'partial_fit'") as error:
        ridge.partial_fit(X, y, classes=[0, 1])
    assert "solver='ridge'" in str(error.value.__cause__)
    # ... and a ridge fit cannot be continued by gradient
    fitted = TargetReplicationLSTMClassifier(random_features=84, **COMMON).fit(X, y)
    assert fitted.solver_ == "ridge"
    with pytest.raises(ValueError, match="closed form"):
        fitted.partial_fit(X, y)


def test_sequence_missing_values_decided_by_the_first_chunk():
    rng = np.random.RandomState(0)
    X, y = _sequences(rng)
    gappy = [x.copy() for x in X]
    for x in gappy:
        x[3] = np.nan
    clf = TargetReplicationLSTMClassifier(
        random_features=0, cell="gru", hidden_size=8, **COMMON
    )
    clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="missing_values='indicators'"):
        clf.partial_fit(gappy, y)
    clf = clone(clf).set_params(missing_values="indicators")
    clf.partial_fit(X, y, classes=[0, 1]).partial_fit(gappy, y)
    assert clf.missing_indicators_


def test_pair_regressor_target_range_from_the_first_chunk():
    X, y = _pairs(np.random.RandomState(0))
    reg = SiamesePairRegressor(**PAIR, **COMMON).partial_fit(X, y.astype(float))
    assert reg.target_range_ == (0.0, 1.0)
    with pytest.raises(ValueError, match="target_range_"):
        reg.partial_fit(X, 2.0 * y)


@pytest.mark.parametrize("cls", [HardGateClassifier, HardGateRegressor])
def test_hard_gates_have_partial_fit_only_where_the_gate_alone_learns(cls):
    # the hard gates fit their base models by cross-validation in fit: at
    # their defaults there is no partial_fit (scikit-learn's partial-fit
    # checks are skipped), with prefit base models or precomputed outputs the
    # gate alone learns chunk by chunk (tested in test_gating)
    assert not hasattr(cls(), "partial_fit")
    assert hasattr(cls(cv="prefit"), "partial_fit")


def test_sequence_scaler_partial_fit_equals_fit():
    from sklearn_nn.preprocessing import SequenceStandardScaler

    rng = np.random.RandomState(0)
    X = [rng.normal(size=(rng.randint(3, 9), 3)) * [1, 5, 10] + [0, 2, -3]
         for _ in range(50)]  # fmt: skip
    for x in X[:10]:
        x[1, 1] = np.nan  # missing values count nowhere
    X[12][:, 2] = np.nan
    whole = SequenceStandardScaler().fit(X)
    chunked = SequenceStandardScaler()
    for start in range(0, 50, 7):
        chunked.partial_fit(X[start : start + 7])
    np.testing.assert_allclose(chunked.mean_, whole.mean_, rtol=1e-12)
    np.testing.assert_allclose(chunked.var_, whole.var_, rtol=1e-12)
    assert chunked.n_samples_seen_.tolist() == whole.n_samples_seen_.tolist()
    # a channel the first chunk never observes
    first = [x.copy() for x in X[:5]]
    for x in first:
        x[:, 0] = np.nan
    chunked = SequenceStandardScaler().partial_fit(first).partial_fit(X[5:])
    whole = SequenceStandardScaler().fit(first + X[5:])
    np.testing.assert_allclose(chunked.mean_, whole.mean_, rtol=1e-12)
    # fit starts afresh
    assert (
        SequenceStandardScaler().partial_fit(X[:3]).fit(X).n_samples_seen_[0]
        == (SequenceStandardScaler().fit(X).n_samples_seen_[0])
    )
