"""The pair models' sequence towers with missing values (NaN inside a
sequence) and irregular observation times (``time_channel``)."""

import math
import pickle
import warnings

import numpy as np
import pytest
import torch

from sklearn_nn import SiamesePairClassifier, SiamesePairRegressor
from sklearn_nn.exceptions import CollapsedEmbeddingWarning, NegativePairsWarning

nan = math.nan

TINY = dict(hidden_size=6, embedding_dim=3, lr=0.02, random_state=0)


def visits(n, rng, kind):
    """``n`` irregular visits: channel 0 the day, two values (30 % missing,
    the first one never observed at the first visit); kind 1 runs higher."""
    days = np.cumsum(rng.exponential(30 if kind else 60, size=n))
    values = rng.randn(n, 2) + 1.5 * kind
    values[rng.rand(n, 2) < 0.3] = nan
    values[0, 0] = nan
    return np.column_stack([days, values])


def visit_pairs(n_pairs=40, seed=0):
    """Pairs of visit histories; y = 1 when both are of the same kind."""
    rng = np.random.RandomState(seed)
    kinds = rng.randint(2, size=(n_pairs, 2))
    X = [
        (visits(rng.randint(4, 10), rng, a), visits(rng.randint(3, 12), rng, b))
        for a, b in kinds
    ]
    return X, (kinds[:, 0] == kinds[:, 1]).astype(int)


def quiet_fit(est, X, y):
    # tiny data and few epochs: the collapse check may speak
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapsedEmbeddingWarning)
        warnings.simplefilter("ignore", NegativePairsWarning)
        return est.fit(X, y)


# ------------------------------------------------------------ by hand
# times in channel 0, one value channel: the left items' observed values are
# 1, 3, 5 (mean 3) and their gaps 1, 1, 2; the right items' 10, 20, 30 (mean
# 20) and gaps 4, 8
HAND_PAIRS = [
    (
        np.array([[0.0, 1.0], [1.0, nan], [2.0, 3.0]]),
        np.array([[0.0, 10.0], [4.0, 20.0]]),
    ),
    (np.array([[0.0, nan], [2.0, 5.0]]), np.array([[0.0, 30.0], [8.0, nan]])),
]


def observed_block(est, side):
    return est.net_.module_.network.tower(side).encoder.observed


@pytest.mark.parametrize("shared", [True, False])
def test_fitted_statistics_per_tower(shared):
    reg = SiamesePairRegressor(
        tower="gru", time_channel=0, shared_weights=shared, max_epochs=1, **TINY
    )
    quiet_fit(reg, HAND_PAIRS, [0.2, 0.9])
    assert reg.missing_indicators_
    left, right = observed_block(reg, "left"), observed_block(reg, "right")
    if shared:
        # one tower reads both sides: one set of statistics from both sides'
        # steps, means (1 + 3 + 5 + 10 + 20 + 30) / 6 and the median of the
        # gaps 1, 1, 2, 4, 8
        assert left is right
        np.testing.assert_allclose(left.fill_values.numpy(), [11.5])
        assert left.time_scale.item() == 2.0
    else:
        np.testing.assert_allclose(left.fill_values.numpy(), [3.0])
        np.testing.assert_allclose(right.fill_values.numpy(), [20.0])
        assert left.time_scale.item() == 1.0
        # torch's median of an even count is the lower middle value
        assert right.time_scale.item() == 4.0


def test_the_tower_inputs_by_hand():
    reg = SiamesePairRegressor(
        tower="gru", time_channel=0, max_epochs=1, dtype="float64", **TINY
    )
    quiet_fit(reg, HAND_PAIRS, [0.2, 0.9])  # fill value 11.5, time scale 2
    block = observed_block(reg, "left")
    x = torch.tensor([[[0.0, nan], [1.0, 4.0], [4.0, nan], [5.0, 6.0]]])
    value, mask, delta = block(x)[0].numpy().T
    # the last observed value, the training mean before the first one
    np.testing.assert_array_equal(value, [11.5, 4.0, 4.0, 6.0])
    np.testing.assert_array_equal(mask, [0, 1, 0, 1])
    # log1p(time since observed / 2); before the first observation the time
    # since the first step plus one time scale
    np.testing.assert_allclose(delta, np.log1p(np.array([2.0, 0.0, 3.0, 0.0]) / 2))
    # a missing value reads as the sequence with it imputed by that rule
    imputed = torch.tensor([[[0.0, 11.5], [1.0, 4.0], [4.0, 4.0], [5.0, 6.0]]])
    np.testing.assert_array_equal(block(imputed)[0, :, 0].numpy(), value)


# ------------------------------------------------------------ causality
@pytest.mark.parametrize(
    "tower, conv_filters", [("gru", ()), ("lstm", (4,))], ids=["gru", "lstm-conv"]
)
def test_an_observation_changes_the_states_from_its_step_on(tower, conv_filters):
    X, y = visit_pairs()
    clf = quiet_fit(
        SiamesePairClassifier(
            tower=tower,
            conv_filters=conv_filters,
            time_channel=0,
            shared_weights=False,
            max_epochs=3,
            dtype="float64",
            **TINY,
        ),
        X,
        y,
    )
    assert clf.missing_indicators_
    left, right = X[0]
    encoder = clf.net_.module_.network.tower("left").encoder
    lengths = torch.tensor([len(left)])

    def states(seq):
        with torch.no_grad():
            return encoder(torch.from_numpy(seq[None]), lengths)[0].numpy()

    before = states(left)
    proba = clf.predict_proba([(left, right)])
    t = int(np.flatnonzero(~np.isnan(left[:, 2]))[1])
    for edit in (left[t, 2] + 3.0, nan):  # a changed or a removed observation
        changed = left.copy()
        changed[t, 2] = edit
        after = states(changed)
        np.testing.assert_array_equal(after[:t], before[:t])
        assert not np.allclose(after[t:], before[t:])
        assert np.abs(after[t] - before[t]).max() > 1e-6
        assert not np.allclose(clf.predict_proba([(changed, right)]), proba)


# ------------------------------------------------------------ errors
def test_errors_name_the_side_and_the_position():
    X, y = visit_pairs(20)
    values = [(a[:, 1:], b[:, 1:]) for a, b in X]
    complete = [(np.nan_to_num(a), np.nan_to_num(b)) for a, b in values]
    # 'error': NaN inside a sequence, named by side, item and step
    strict = SiamesePairClassifier(tower="gru", missing_values="error", max_epochs=1)
    right_gap = [(a, b.copy()) for a, b in complete]
    right_gap[3][1][1, 0] = nan
    with pytest.raises(ValueError, match=r"X \(right items\)\[3\] has NaN at step 1"):
        strict.fit(right_gap, y)
    left_gap = [(a.copy(), b) for a, b in complete]
    left_gap[2][0][0, 1] = nan
    with pytest.raises(ValueError, match=r"X \(left items\)\[2\] has NaN at step 0"):
        strict.fit(left_gap, y)
    # fitted on complete pairs ('auto'): NaN later asks for 'indicators'
    clf = quiet_fit(
        SiamesePairClassifier(tower="gru", max_epochs=1, **TINY), complete, y
    )
    assert not clf.missing_indicators_
    assert clf.net_.module_.network.tower("left").encoder.observed is None
    with pytest.raises(
        ValueError, match=r"X \(right items\)\[3\] has NaN at step 1.*'indicators'"
    ):
        clf.predict(right_gap)
    with pytest.raises(ValueError, match=r"X_side\[2\] has NaN at step 0"):
        clf.embed([a for a, _ in left_gap])
    # 'indicators' reads complete pairs with the three inputs per channel
    ind = quiet_fit(
        SiamesePairClassifier(
            tower="gru", missing_values="indicators", max_epochs=1, **TINY
        ),
        complete,
        y,
    )
    assert observed_block(ind, "left").n_outputs == 6
    assert np.isfinite(ind.predict_proba(values)).all()
    # the time channel
    for params, message in [
        (dict(tower="gru", vocab_size=10), "token sequences"),
        (dict(tower="mlp"), r"tower='mlp'"),
        (dict(tower="lstm", missing_values="error"), "missing_values='error'"),
    ]:
        with pytest.raises(ValueError, match=message):
            SiamesePairRegressor(time_channel=0, **params).fit(
                np.ones((4, 6)), np.linspace(0, 1, 4)
            )
    with pytest.raises(ValueError, match=r"3 channels \(0..2\) in X \(left items\)"):
        SiamesePairClassifier(tower="gru", time_channel=5).fit(X, y)
    backwards = [(a, b.copy()) for a, b in X]
    backwards[4][1][2, 0] = -1.0
    with pytest.raises(ValueError, match=r"X \(right items\)\[4\]'s times"):
        SiamesePairClassifier(tower="gru", time_channel=0).fit(backwards, y)
    with pytest.raises(ValueError, match="at least one channel besides the times"):
        SiamesePairRegressor(tower="gru", time_channel=0).fit(
            np.ones((4, 6)), np.linspace(0, 1, 4)
        )


def test_mlp_and_token_towers_are_unaffected():
    rng = np.random.RandomState(0)
    X, y = rng.randn(30, 4), rng.randint(2, size=30)
    mlp = quiet_fit(SiamesePairClassifier(max_epochs=1), X, y)
    assert not mlp.missing_indicators_
    assert not mlp.__sklearn_tags__().input_tags.allow_nan
    X_nan = X.copy()
    X_nan[0, 1] = nan
    with pytest.raises(ValueError, match="NaN"):
        mlp.predict(X_nan)
    tokens = rng.randint(1, 9, size=(30, 8))
    tok = quiet_fit(
        SiamesePairClassifier(tower="gru", vocab_size=9, max_epochs=1, **TINY),
        tokens,
        y,
    )
    assert not tok.missing_indicators_
    assert tok.net_.module_.network.tower("left").encoder.observed is None
    seq = SiamesePairClassifier(tower="gru")
    assert seq.__sklearn_tags__().input_tags.allow_nan


def test_warm_starts_keep_the_fitted_statistics():
    X, y = visit_pairs()
    clf = SiamesePairClassifier(
        tower="gru", time_channel=0, max_epochs=1, warm_start=True, **TINY
    )
    quiet_fit(clf, X, y)
    block = observed_block(clf, "left")
    fill, scale = block.fill_values.clone(), block.time_scale.clone()
    quiet_fit(clf, X[:10], y[:10])  # other data: the statistics stay
    torch.testing.assert_close(observed_block(clf, "left").fill_values, fill)
    torch.testing.assert_close(observed_block(clf, "left").time_scale, scale)


# ------------------------------------------------- persistence and export
def test_skops_and_pickle_carry_the_missing_value_inputs():
    from skops.io import dumps, get_untrusted_types, loads

    X, y = visit_pairs()
    clf = quiet_fit(
        SiamesePairClassifier(
            tower="gru", time_channel=0, shared_weights=False, max_epochs=2, **TINY
        ),
        X,
        y,
    )
    blob = dumps(clf)
    untrusted = get_untrusted_types(data=blob)
    assert not [t for t in untrusted if t.startswith("torch")]
    for restored in (
        loads(blob, trusted=untrusted),
        pickle.loads(pickle.dumps(clf)),
    ):
        assert restored.missing_indicators_
        np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
        for side in ("left", "right"):
            torch.testing.assert_close(
                observed_block(restored, side).fill_values,
                observed_block(clf, side).fill_values,
            )


def padded(items, width=None):
    width = width or max(map(len, items))
    out = np.full((len(items), width, items[0].shape[1]), nan)
    for i, item in enumerate(items):
        out[i, : len(item)] = item
    return out


def test_onnx_reads_missing_values_and_times_in_the_graph():
    ort = pytest.importorskip("onnxruntime")
    from sklearn_nn.onnx import to_onnx

    X, y = visit_pairs()
    clf = quiet_fit(
        SiamesePairClassifier(tower="lstm", time_channel=0, max_epochs=2, **TINY),
        X,
        y,
    )
    new, _ = visit_pairs(15, seed=1)  # other lengths than the export sample
    lefts, rights = [a for a, _ in new], [b for _, b in new]
    feeds = {"left": padded(lefts, 14), "right": padded(rights)}
    assert np.isnan(feeds["left"][:, :3]).any()  # missing values inside
    sample = (padded(lefts[:2]), padded(rights[:2]))
    session = ort.InferenceSession(to_onnx(clf, sample).SerializeToString())
    label, proba = session.run(None, feeds)
    np.testing.assert_allclose(proba, clf.predict_proba(new), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(label, clf.predict(new))
    model = to_onnx(clf, sample, method="transform")
    (embeddings,) = ort.InferenceSession(model.SerializeToString()).run(None, feeds)
    np.testing.assert_allclose(embeddings, clf.transform(new), rtol=1e-4, atol=1e-4)

    # a pair matrix of univariate sequences: a NaN inside one is a missing
    # step, trailing NaN are padding
    rng = np.random.RandomState(0)
    M = rng.randn(40, 16)
    M[rng.rand(40, 16) < 0.2] = nan
    M[:5, 6:8] = nan  # the left items of 5 pairs end at step 6
    reg = quiet_fit(
        SiamesePairRegressor(tower="gru", n_left_features=8, max_epochs=2, **TINY),
        M,
        rng.rand(40),
    )
    assert reg.missing_indicators_
    session = ort.InferenceSession(to_onnx(reg, M[:2]).SerializeToString())
    (variable,) = session.run(None, {"X": M})
    np.testing.assert_allclose(variable.ravel(), reg.predict(M), rtol=1e-4, atol=1e-4)
