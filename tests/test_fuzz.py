"""A fuzz harness of bad and edge inputs for every public estimator (issue 12).

Each example corrupts one argument of ``fit`` or of a prediction method. The
estimator must either raise a ValueError or TypeError whose message names the
argument (or the input by its position: 'X', 'y', 'sample_weight'), or
succeed with finite outputs: never another exception from deep inside, never
NaN probabilities."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import is_classifier
from test_common import ESTIMATOR_CLASSES, _data, fast_instance

X_CORRUPTIONS = {
    "nan": lambda X, r: _set(X, r, np.nan),
    "inf": lambda X, r: _set(X, r, np.inf),
    "beyond float32": lambda X, r: _set(X, r, 1e39),
    "huge float64": lambda X, r: _set(X, r, 1e300),
    "string": lambda X, r: _set(X.astype(object), r, "a"),
    "complex": lambda X, r: X + 1j,
    "1-D": lambda X, r: X[:, 0],
    "no rows": lambda X, r: X[:0],
    "no columns": lambda X, r: X[:, :0],
    "None": lambda X, r: None,
    "one row": lambda X, r: X[:1],
}
Y_CORRUPTIONS = {
    "nan": lambda y, r: _set1(y.astype(float), r, np.nan),
    "inf": lambda y, r: _set1(y.astype(float), r, np.inf),
    "too short": lambda y, r: y[:-1],
    "3-D": lambda y, r: np.zeros((len(y), 2, 2)),
    "one class": lambda y, r: np.zeros_like(y),
    "None": lambda y, r: None,
    "strings": lambda y, r: np.array(["a", "b"])[(np.asarray(y) > 0).astype(int)],
}
W_CORRUPTIONS = {
    "negative": lambda w, r: _set1(w, r, -1.0),
    "nan": lambda w, r: _set1(w, r, np.nan),
    "inf": lambda w, r: _set1(w, r, np.inf),
    "too short": lambda w, r: w[:-1],
    "zeros": lambda w, r: np.zeros_like(w),
    "tiny": lambda w, r: np.full_like(w, 1e-300),
    "huge": lambda w, r: np.full_like(w, 1e300),
    "strings": lambda w, r: np.array(["1"] * len(w)),
    "2-D": lambda w, r: w[:, None],
    "scalar": lambda w, r: 2.0,
}
PREDICT_CORRUPTIONS = {
    k: v for k, v in X_CORRUPTIONS.items() if k not in ("one row", "huge float64")
}
PREDICT_CORRUPTIONS["wrong width"] = lambda X, r: X[:, :-1]
# scikit-learn's own validation messages, which name the problem in words a
# scikit-learn user knows, count as clear
SKLEARN_MESSAGES = (
    "Expected 2D array",
    "Complex data not supported",
    "Found array with 0 sample",
    "Found array with 0 feature",
    "inconsistent numbers of samples",
)
NAMES = {
    # a hard gate names the base model that failed on the input
    "X": ("X", "Input", "input", "base estimator", *SKLEARN_MESSAGES),
    "y": ("y", *SKLEARN_MESSAGES),
    "w": ("sample_weight", "Sample weights", *SKLEARN_MESSAGES),
}


def _set(X, rng, value):
    X = np.array(
        X, dtype=np.result_type(X, type(value)) if X.dtype != object else object
    )
    X[rng.randint(X.shape[0]), rng.randint(X.shape[1])] = value
    return X


def _set1(v, rng, value):
    v = np.array(v, dtype=float)
    v[rng.randint(len(v))] = value
    return v


def _check_outputs(est, X):
    for method in ("predict_proba", "predict", "transform"):
        if hasattr(est, method):
            out = np.asarray(getattr(est, method)(X))
            if out.dtype.kind == "f":
                assert np.all(np.isfinite(out)), f"{method} gave non-finite values"


def _expect_clear(arg, call):
    """Run ``call``; True if it succeeded, False on a clear error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert any(name in message for name in NAMES[arg]), (
            f"the error does not name {arg}: {type(exc).__name__}: {message}"
        )
        return False
    return True


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda c: c.__name__)
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
@given(data=st.data())
def test_fuzz_fit_and_predict(cls, data):
    X, y = _data(cls, n=40)
    _fuzz_once(fast_instance(cls, max_epochs=2, dtype="float32"), X, y, data)


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
@given(data=st.data())
def test_fuzz_sequence_classifier_default_encoder(data):
    # sequences long enough for the random features (12 steps, a 2-D table
    # of univariate sequences): the default encoder and its ridge read-out;
    # a NaN inside a sequence is a missing value, at the end it is padding
    from sklearn_nn import TargetReplicationLSTMClassifier

    rng = np.random.RandomState(0)
    y = rng.randint(2, size=40)
    X = rng.randn(40, 12) + y[:, None]
    est = TargetReplicationLSTMClassifier(random_state=0)
    _fuzz_once(est, X, y, data)


def _fuzz_once(est, X, y, data):
    w = np.ones(len(y))
    rng = np.random.RandomState(data.draw(st.integers(0, 1000), label="seed"))
    arg = data.draw(st.sampled_from(["X", "y", "w", "predict"]), label="argument")
    if arg == "predict":
        kind = data.draw(st.sampled_from(sorted(PREDICT_CORRUPTIONS)), label="kind")
        est.fit(X, y)
        X_bad = PREDICT_CORRUPTIONS[kind](X, rng)
        for method in ("predict", "predict_proba", "transform", "score"):
            if hasattr(est, method):
                call = getattr(est, method)
                args = (X_bad, y) if method == "score" else (X_bad,)
                ok = _expect_clear("X", lambda c=call, a=args: c(*a))
                if ok and method != "score":
                    out = np.asarray(call(X_bad))
                    if out.dtype.kind == "f":
                        assert np.all(np.isfinite(out)), (kind, method)
        return
    table = {"X": X_CORRUPTIONS, "y": Y_CORRUPTIONS, "w": W_CORRUPTIONS}[arg]
    kind = data.draw(st.sampled_from(sorted(table)), label="kind")
    if arg == "X":
        X = table[kind](X, rng)
    elif arg == "y":
        if kind == "strings" and not is_classifier(est):
            return
        y = table[kind](y, rng)
    else:
        w = table[kind](w, rng)
    if _expect_clear(arg, lambda: est.fit(X, y, sample_weight=w)):
        _check_outputs(est, X)
