"""Streaming: the per-step probabilities of a sequence as its steps arrive."""

import numpy as np
import pytest
import torch

from sklearn_nn import TargetReplicationLSTMClassifier


def data(n=60, seed=0, channels=2, missing=False):
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = []
    for label in y:
        x = rng.randn(rng.randint(12, 30), channels) + 0.7 * label
        if missing:
            x[rng.rand(*x.shape) < 0.3] = np.nan
            x[:, 0] = np.cumsum(rng.exponential(2.0, size=len(x)))  # times
        X.append(x)
    return X, y


@pytest.mark.parametrize(
    "params",
    [
        {},  # random features, ridge read-out
        {"replication_weight": 0.5},  # a temperature per step
        {"random_features": 0, "cell": "gru"},
        {"random_features": 0, "cell": "lstm", "conv_filters": (4, 4)},
        {"cell": "gru", "conv_filters": (3,)},  # all three parts
        {"time_channel": 0, "missing": True},
        {"time_channel": 0, "missing": True, "cell": "gru", "random_features": 0},
    ],
    ids=["ridge", "replication", "gru", "lstm-conv", "all", "missing", "missing-gru"],
)
def test_stream_equals_the_steps_of_the_whole_sequence(params):
    params = dict(params)
    missing = params.pop("missing", False)
    X, y = data(missing=missing, channels=3 if missing else 2)
    clf = TargetReplicationLSTMClassifier(
        max_epochs=3, dtype="float64", random_state=0, **params
    ).fit(X, y)
    rng = np.random.RandomState(1)
    for x in X[:3]:
        whole = clf.predict_proba_steps([x])[0]
        stream = clf.stream()
        got, start = [], 0
        while start < len(x):  # chunks of 1 to 6 steps
            size = int(rng.randint(1, 7))
            got.append(stream.update(x[start : start + size]))
            start += size
        np.testing.assert_allclose(np.concatenate(got), whole, rtol=1e-7, atol=1e-10)
        # one step as a 1-D array
        one = clf.stream().update(x[0])
        np.testing.assert_allclose(one[0], whole[0], rtol=1e-7, atol=1e-10)


def test_stream_errors():
    X, y = data()
    clf = TargetReplicationLSTMClassifier(random_state=0).fit(X, y)
    stream = clf.stream()
    with pytest.raises(ValueError, match="with 2 channels, got an array of shape"):
        stream.update(np.ones((3, 5)))
    with pytest.raises(ValueError, match="fit with missing_values='indicators'"):
        stream.update(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="inf"):
        stream.update(np.array([[np.inf, 1.0]]))
    tokens = np.random.RandomState(0).randint(1, 5, size=(20, 6))
    tok = TargetReplicationLSTMClassifier(vocab_size=5, max_epochs=1).fit(
        tokens, y[:20]
    )
    with pytest.raises(ValueError, match="token ids"):
        tok.stream()
    with pytest.raises(ValueError, match="token ids"):
        from sklearn_nn.recurrent import SequenceStream

        SequenceStream(tok.net_.module_)
    assert torch.is_tensor(clf.net_.module_.step_scale)
