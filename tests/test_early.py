"""Early classification: decisions from the causal per-step probabilities."""

import numpy as np
import pytest

from sklearn_nn import TargetReplicationLSTMClassifier
from sklearn_nn.recurrent import select_early_threshold
from sklearn_nn.recurrent._early import decide_early, early_scores


def bump_at_5(n, seed, length=30):
    """The class shows from step 5 on (a shift of the first channel)."""
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = rng.randn(n, length, 1)
    X[:, 5:12, 0] += 2.0 * (2 * y[:, None] - 1)
    return X, y


def test_decide_early_by_hand():
    nan = np.nan
    steps = np.array(
        [
            [[0.6, 0.4], [0.95, 0.05], [0.1, 0.9]],  # sure at step 1: class 0
            [[0.5, 0.5], [0.3, 0.7], [nan, nan]],  # never sure: last step 1
            [[0.05, 0.95], [nan, nan], [nan, nan]],  # sure at its only step
        ]
    )
    codes, at, lengths = decide_early(steps, 0.9)
    np.testing.assert_array_equal(codes, [0, 1, 1])
    np.testing.assert_array_equal(at, [1, 1, 0])
    np.testing.assert_array_equal(lengths, [3, 2, 1])
    # aeon's scores: earliness = steps read / length, HM of acc and 1 - earl
    hm, acc, earl = early_scores(np.array([True, False, True]), at, lengths)
    assert acc == pytest.approx(2 / 3)
    assert earl == pytest.approx(np.mean([2 / 3, 2 / 2, 1 / 1]))
    assert hm == pytest.approx(2 * acc * (1 - earl) / (acc + 1 - earl))
    # threshold 1: every sequence waits for its end (unless it is certain)
    _, at, _ = decide_early(steps, 1.0)
    np.testing.assert_array_equal(at, [2, 1, 0])
    # two consecutive passing steps of the same class: the first sequence's
    # steps 1 (class 0) and 2 (class 1) disagree, so it waits for its end
    runs = np.array([[[0.95, 0.05], [0.92, 0.08], [0.1, 0.9]]] * 2)
    runs[1, 0] = [0.2, 0.8]
    codes, at, _ = decide_early(np.concatenate([steps[:1], runs]), 0.9, 2)
    np.testing.assert_array_equal(at, [2, 1, 2])
    np.testing.assert_array_equal(codes, [1, 0, 1])


def test_predict_early_is_causal_and_earlier_than_the_end():
    X, y = bump_at_5(120, 0)
    X_test, y_test = bump_at_5(100, 1)
    clf = TargetReplicationLSTMClassifier(
        replication_weight=0.5, early_threshold=0.9, random_state=0
    ).fit(X, y)
    labels, at = clf.predict_early(X_test)
    assert np.mean(labels == y_test) > 0.9
    assert np.median(at) < 15  # decided soon after the evidence (steps 5..11)
    # appending steps never changes a decision: the decision reads steps <= t
    longer = np.concatenate(
        [X_test, 10 * np.random.RandomState(2).randn(100, 20, 1)], 1
    )
    labels2, at2 = clf.predict_early(longer)
    early = at < 29  # decided before the original end
    np.testing.assert_array_equal(labels2[early], labels[early])
    np.testing.assert_array_equal(at2[early], at[early])
    # the score by hand
    hm, acc, earl = clf.early_score(X_test, y_test)
    assert acc == pytest.approx(np.mean(labels == y_test))
    with pytest.warns(Warning, match="column-vector y"):
        assert clf.early_score(X_test, y_test[:, None]) == (hm, acc, earl)
    assert earl == pytest.approx(np.mean((at + 1) / 30))
    assert hm == pytest.approx(2 * acc * (1 - earl) / (acc + 1 - earl))
    # a threshold of 1 waits for the end (where predict decides)
    clf.set_params(early_threshold=1.0)
    labels, at = clf.predict_early(X_test)
    confident = clf.predict_proba_steps(X_test)[:, :-1].max(axis=2).max(axis=1) >= 1
    np.testing.assert_array_equal(at[~confident], 29)
    np.testing.assert_array_equal(labels[~confident], clf.predict(X_test)[~confident])


def test_select_early_threshold_cross_fits_and_picks_the_best_harmonic_mean():
    X, y = bump_at_5(90, 3)
    clf = TargetReplicationLSTMClassifier(replication_weight=0.5)
    params, table = select_early_threshold(
        clf, X, y, thresholds=[0.6, 0.9, 0.999], consecutive=[1, 3], random_state=0
    )
    assert [row[:2] for row in table] == [
        (t, v) for t in (0.6, 0.9, 0.999) for v in (1, 3)
    ]
    best = max(table, key=lambda row: row[2])
    assert params == {"early_threshold": best[0], "early_consecutive": best[1]}
    # higher thresholds and longer runs wait longer
    for v in (1, 3):
        earliness = [row[4] for row in table if row[1] == v]
        assert earliness == sorted(earliness)
    assert all(a[4] <= b[4] for a, b in zip(table[::2], table[1::2]))
    with pytest.raises(ValueError, match="consecutive must hold positive"):
        select_early_threshold(clf, X, y, consecutive=[0])
    with pytest.raises(ValueError, match="threshold must be a probability"):
        select_early_threshold(clf, X, y, thresholds=[1.5])
    with pytest.raises(ValueError, match="y has 3 labels"):
        clf.fit(X, y).early_score(X, y[:3])
