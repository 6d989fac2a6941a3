"""Sequences with missing values and irregular observation times."""

import math

import numpy as np
import pytest
import torch

from sklearn_nn import TargetReplicationLSTMClassifier
from sklearn_nn._layers import ObservedInputs
from sklearn_nn.preprocessing import SequenceStandardScaler

nan = math.nan


def visits(n=120, seed=0):
    """Irregular visits (channel 0: the day), 30 % of values missing; class
    1 is sicker (higher values) and seen more often."""
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = []
    for label in y:
        steps = rng.randint(10, 30)
        days = np.cumsum(rng.exponential(30 if label else 60, size=steps))
        values = rng.randn(steps, 2) + 0.8 * label
        values[rng.rand(steps, 2) < 0.3] = np.nan
        values[0, 0] = np.nan  # never observed at the first visit
        X.append(np.column_stack([days, values]))
    return X, y


def test_observed_inputs_by_hand():
    # one sequence, times 0, 1, 3, 7 (channel 0), two value channels
    x = torch.tensor(
        [
            [
                [0.0, nan, 5.0],
                [1.0, 2.0, nan],
                [3.0, nan, nan],
                [7.0, 4.0, 6.0],
            ]
        ],
        dtype=torch.float64,
    )
    block = ObservedInputs(3, time_channel=0).double()
    block.fill_values.copy_(torch.tensor([10.0, 20.0]))
    block.time_scale.fill_(2.0)
    out = block(x)[0].numpy()
    value, mask, delta = out[:, :2], out[:, 2:4], out[:, 4:]
    # the last observed value, the fill value before the first observation
    np.testing.assert_array_equal(value, [[10, 5], [2, 5], [2, 5], [4, 6]])
    np.testing.assert_array_equal(mask, [[0, 1], [1, 0], [0, 0], [1, 1]])
    # time since observed (before the first observation: since the start
    # plus one time scale), as log1p(delta / scale)
    since = np.array([[0 + 2, 0], [0, 1], [2, 3], [0, 0]])
    np.testing.assert_allclose(delta, np.log1p(since / 2.0))
    # fit: the fill values are the observed means, the time scale the median
    # gap between real steps
    block.fit(x, torch.tensor([4]))
    np.testing.assert_allclose(block.fill_values.numpy(), [3.0, 5.5])
    assert block.time_scale.item() == 2.0  # gaps 1, 2, 4
    # without a time channel the times are the step indices
    plain = ObservedInputs(2).double()
    out = plain(x[:, :, 1:])[0].numpy()
    np.testing.assert_allclose(out[2, 4:], np.log1p([1.0, 2.0]))


def test_the_onnx_path_of_the_last_observation_equals_cummax(monkeypatch):
    block = ObservedInputs(2)
    observed = torch.rand(3, 9, 2) > 0.5
    expected = block.last_observed(observed)
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
    torch.testing.assert_close(block.last_observed(observed), expected)


@pytest.mark.parametrize("cell", ["auto", "gru"])
def test_fits_sequences_with_missing_values_and_times(cell):
    X, y = visits()
    X_test, y_test = visits(200, seed=1)
    scaler = SequenceStandardScaler().fit(X)
    clf = TargetReplicationLSTMClassifier(
        time_channel=0,
        cell=cell,
        random_features=10_000 if cell == "auto" else 0,
        max_epochs=30,
        random_state=0,
    ).fit(scaler.transform(X), y)
    assert clf.missing_indicators_
    assert clf.net_.module_.encoder.observed.n_outputs == 6
    assert clf.score(scaler.transform(X_test), y_test) > 0.8
    # causal: changing an observed value at step t changes the outputs from
    # t on only; so does removing it (making it missing)
    S = scaler.transform(X_test[:1])
    steps = clf.predict_proba_steps(S)[0]
    for edit in (5.0, nan):
        changed = [S[0].copy()]
        t = int(np.flatnonzero(~np.isnan(changed[0][:, 2]))[3])
        changed[0][t, 2] = edit
        after = clf.predict_proba_steps(changed)[0]
        np.testing.assert_allclose(after[:t], steps[:t], rtol=1e-6)
        assert not np.allclose(after[t:], steps[t:])


def test_missing_value_rules():
    X, y = visits(60)
    values = [x[:, 1:] for x in X]
    # fitted without NaN: NaN at predict time is a clear error
    complete = [np.nan_to_num(v) for v in values]
    clf = TargetReplicationLSTMClassifier(random_state=0).fit(complete, y)
    assert not clf.missing_indicators_
    with pytest.raises(ValueError, match="missing_values='indicators'"):
        clf.predict(values)
    # 'error' keeps the old rule
    with pytest.raises(ValueError, match="impute missing values"):
        TargetReplicationLSTMClassifier(missing_values="error").fit(values, y)
    # 'indicators' reads complete data with the three inputs per channel
    ind = TargetReplicationLSTMClassifier(missing_values="indicators", random_state=0)
    assert ind.fit(complete, y).net_.module_.encoder.observed is not None
    ind.predict(values)
    # time channel errors
    with pytest.raises(ValueError, match="which missing_values='error'"):
        TargetReplicationLSTMClassifier(time_channel=0, missing_values="error").fit(
            X, y
        )
    with pytest.raises(ValueError, match="time_channel=5, but the sequences"):
        TargetReplicationLSTMClassifier(time_channel=5).fit(X, y)
    backwards = [x.copy() for x in X]
    backwards[3][2, 0] = -1.0
    with pytest.raises(ValueError, match=r"X\[3\]'s times \(channel 0\) decrease"):
        TargetReplicationLSTMClassifier(time_channel=0).fit(backwards, y)
    untimed = [x.copy() for x in X]
    untimed[4][1, 0] = np.nan
    with pytest.raises(ValueError, match=r"X\[4\] has no time"):
        TargetReplicationLSTMClassifier(time_channel=0).fit(untimed, y)


def test_scaler_ignores_missing_values_and_keeps_them():
    X = [np.array([[1.0, nan], [3.0, 2.0], [nan, 4.0]]), np.array([[5.0, 6.0]])]
    scaler = SequenceStandardScaler().fit(X)
    np.testing.assert_allclose(scaler.mean_, [3.0, 4.0])
    np.testing.assert_allclose(scaler.var_, [8 / 3, 8 / 3])
    out = scaler.transform(X)
    assert np.isnan(out[0][0, 1]) and np.isnan(out[0][2, 0])
    np.testing.assert_allclose(out[1], [[2 / np.sqrt(8 / 3), 2 / np.sqrt(8 / 3)]])
    per = SequenceStandardScaler(per_sequence=True).fit_transform(X)
    np.testing.assert_allclose(per[0][:2, 0], [-1.0, 1.0])
    assert np.isnan(per[0][2, 0])


def test_persistence_and_onnx_carry_the_missing_value_inputs():
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort
    from skops.io import dumps, get_untrusted_types, loads

    from sklearn_nn.onnx import to_onnx

    X, y = visits(60)
    clf = TargetReplicationLSTMClassifier(
        time_channel=0, replication_weight=0.5, random_state=0
    ).fit(X, y)
    blob = dumps(clf)
    restored = loads(blob, trusted=get_untrusted_types(data=blob))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    model = to_onnx(clf, X[:2])
    padded = np.full((len(X), max(map(len, X)), 3), np.nan)  # as X_sample
    for i, x in enumerate(X):
        padded[i, : len(x)] = x
    session = ort.InferenceSession(model.SerializeToString())
    _, proba = session.run(None, {"X": padded})
    # float32 both ways, but the features compare with biases: a value at a
    # bias within rounding can flip one of 10 000 indicators
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-3)
    np.testing.assert_array_equal(proba.argmax(1), clf.predict_proba(X).argmax(1))


@pytest.mark.slow
def test_blackmore_raw_records_match_the_summaries():
    # irregular ages, 2-5 records per girl: ours on the raw records against
    # gradient boosting on hand-made summaries and logistic regression on
    # the last record (benchmarks/bench_clinical.py, seed 0: 0.775, 0.735,
    # 0.751)
    from benchmarks.bench_clinical import blackmore_task, cv_auc

    scores, _ = cv_auc(blackmore_task(), seed=0)
    assert scores["ours"] >= max(scores["hgb"], scores["lr"]) - 0.01, scores
