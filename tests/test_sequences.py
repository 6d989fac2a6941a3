"""The shared sequence layer: one token rule and one padding rule for every
family, ``padding_value``, the zero-padding warning, SequenceStandardScaler,
sequence pairs for the pair models and collapse detection."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_nn import (
    SiamesePairClassifier,
    SiamesePairRegressor,
    TargetReplicationLSTMClassifier,
)
from sklearn_nn.exceptions import (
    CollapsedEmbeddingWarning,
    InnerPaddingTokenWarning,
    NegativePairsWarning,
    ZeroPaddingWarning,
)
from sklearn_nn.preprocessing import SequenceStandardScaler
from sklearn_nn.siamese import make_pairs

TINY_RNN = dict(
    hidden_size=6, conv_filters=(4,), max_epochs=4, dtype="float64", random_state=0
)
TINY_PAIR = dict(
    tower="gru", hidden_size=6, embedding_dim=3, max_epochs=4, dtype="float64"
)


def ragged(n=40, channels=2, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = [rng.normal(size=(rng.randint(3, 9), channels)) + y[i] for i in range(n)]
    return X, y


def pad(X, width, value):
    out = np.full((len(X), width, X[0].shape[1]), value, dtype=np.float64)
    for i, s in enumerate(X):
        out[i, : len(s)] = s
    return out


def sequence_pairs(n_items=30, n_pairs=60, channels=2, seed=0, dtype=float):
    rng = np.random.RandomState(seed)
    labels = rng.randint(3, size=n_items)
    items = [
        (rng.normal(size=(rng.randint(3, 9), channels)) + labels[i]).astype(dtype)
        for i in range(n_items)
    ]
    left, right = rng.randint(n_items, size=(2, n_pairs))
    X = [(items[a], items[b]) for a, b in zip(left, right)]
    return X, (labels[left] == labels[right]).astype(int), items


# ------------------------------------------------------------ token rule
def fit_tokens(family, X, y):
    """Fit one estimator of each family on token sequences X."""
    if family == "recurrent":
        est = TargetReplicationLSTMClassifier(**TINY_RNN, vocab_size=10)
        return est.fit(X, y), lambda Z: est.predict_proba(Z)
    pairs = [(s, s[::-1]) for s in X]
    est = SiamesePairClassifier(**TINY_PAIR, vocab_size=10, random_state=0)
    return est.fit(pairs, y), lambda Z: est.predict_proba([(s, s[::-1]) for s in Z])


@pytest.mark.parametrize("family", ["recurrent", "siamese"])
def test_token_rule_is_keras_mask_zero_for_both_families(family):
    rng = np.random.RandomState(0)
    y = rng.randint(2, size=30)
    X = [rng.randint(1, 10, size=rng.randint(2, 7)) for _ in y]
    with warnings.catch_warnings():
        warnings.simplefilter("error", InnerPaddingTokenWarning)
        est, proba = fit_tokens(family, X, y)
    expected = proba(X)
    # leading zeros (Keras' pad_sequences default) and trailing zeros are
    # padding: the same predictions, silently
    pre = [np.r_[np.zeros(i % 3, dtype=int), s] for i, s in enumerate(X)]
    post = [np.r_[s, np.zeros(i % 4, dtype=int)] for i, s in enumerate(X)]
    np.testing.assert_allclose(proba(pre), expected, rtol=1e-12)
    np.testing.assert_allclose(proba(post), expected, rtol=1e-12)
    # zeros between tokens are skipped as well (mask_zero), and fit says so
    inner = [np.r_[s[:1], 0, s[1:]] for s in X]
    np.testing.assert_allclose(proba(inner), expected, rtol=1e-12)
    with pytest.warns(InnerPaddingTokenWarning, match="30 token.*add 1 to every id"):
        fit_tokens(family, inner, y)
    # ids outside [0, vocab_size) and sequences of padding only are errors
    with pytest.raises(ValueError, match=r"outside \[0, vocab_size=10\)"):
        proba([np.r_[s, 10] for s in X])
    with pytest.raises(ValueError, match="has no token"):
        proba([np.zeros(3, dtype=int)] + X[1:])


# ---------------------------------------------------------- padding_value
@pytest.mark.parametrize("layout", ["array", "list"])
def test_padding_value_gives_the_nan_padded_model(layout):
    X, y = ragged()
    nan_padded = pad(X, 12, np.nan)
    zero_padded = pad(X, 12, 0.0)
    if layout == "list":
        zero_padded = [np.r_[s, np.zeros((i % 3, 2))] for i, s in enumerate(X)]
    reference = TargetReplicationLSTMClassifier(**TINY_RNN).fit(nan_padded, y)
    zero = TargetReplicationLSTMClassifier(**TINY_RNN, padding_value=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZeroPaddingWarning)
        zero.fit(zero_padded, y)
    assert zero.loss_curve_ == reference.loss_curve_
    np.testing.assert_array_equal(
        zero.predict_proba(zero_padded), reference.predict_proba(nan_padded)
    )
    # padding is trailing only: a zero step inside a sequence is data
    inner = [np.r_[s[:1], np.zeros((1, 2)), s[1:]] for s in X]
    assert not np.allclose(zero.predict_proba(inner), zero.predict_proba(X))


def test_padding_value_for_pair_towers():
    X, y, _ = sequence_pairs()
    width = max(max(len(a), len(b)) for a, b in X)

    def padded(value):
        return [(np.r_[a, np.full((width - len(a), 2), value)], b) for a, b in X]

    ref = SiamesePairClassifier(**TINY_PAIR, random_state=0).fit(padded(np.nan), y)
    zero = SiamesePairClassifier(**TINY_PAIR, padding_value=0.0, random_state=0)
    zero.fit(padded(0.0), y)
    np.testing.assert_array_equal(zero.predict_proba(padded(0.0)), ref.predict_proba(X))


def test_zero_padding_warning_names_the_parameter():
    X, y = ragged()
    with pytest.warns(ZeroPaddingWarning, match="padding_value=0.0") as record:
        TargetReplicationLSTMClassifier(**TINY_RNN).fit(pad(X, 12, 0.0), y)
    assert len(record) == 1
    assert record[0].filename == __file__  # points at the caller's line
    # real data that does not end in zeros: silent
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZeroPaddingWarning)
        TargetReplicationLSTMClassifier(**TINY_RNN).fit(pad(X, 12, np.nan), y)
    with pytest.raises(ValueError, match="padding_value.*token"):
        TargetReplicationLSTMClassifier(vocab_size=5, padding_value=1.0).fit(
            [[1, 2]], [0]
        )


# ------------------------------------------------------------------ scaler
def test_scaler_every_format_padding_preserved():
    X, _ = ragged()
    scaler = SequenceStandardScaler().fit(X)
    steps = np.concatenate(X)
    np.testing.assert_allclose(scaler.mean_, steps.mean(0))
    np.testing.assert_allclose(scaler.scale_, steps.std(0))
    out = scaler.transform(X)
    assert isinstance(out, list) and [s.shape for s in out] == [s.shape for s in X]
    np.testing.assert_allclose(np.concatenate(out).mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(np.concatenate(out).std(0), 1)
    # a NaN-padded 3-D array gives the same statistics and keeps its NaN
    nan3 = pad(X, 12, np.nan)
    out3 = SequenceStandardScaler().fit(nan3).transform(nan3)
    np.testing.assert_array_equal(np.isnan(out3), np.isnan(nan3))
    np.testing.assert_allclose(out3[0, : len(X[0])], out[0])
    # padding_value: zero padding stays zero, and does not count
    zero3 = pad(X, 12, 0.0)
    scaler0 = SequenceStandardScaler(padding_value=0.0).fit(zero3)
    np.testing.assert_allclose(scaler0.mean_, scaler.mean_)
    out0 = scaler0.transform(zero3)
    np.testing.assert_array_equal(out0[np.isnan(nan3)], 0.0)
    np.testing.assert_allclose(out0[~np.isnan(nan3)], out3[~np.isnan(nan3)])
    # univariate 2-D: one channel over all real steps
    uni = nan3[:, :, 0]
    scaler_u = SequenceStandardScaler().fit(uni)
    assert scaler_u.n_features_in_ == 12 and scaler_u.mean_.shape == (1,)
    np.testing.assert_allclose(scaler_u.mean_, [steps[:, 0].mean()])
    np.testing.assert_allclose(scaler_u.inverse_transform(scaler_u.transform(uni)), uni)
    # per_sequence: each sequence z-normalised on its own
    per = SequenceStandardScaler(per_sequence=True).fit_transform(X)
    for s in per:
        np.testing.assert_allclose(s.mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(s.std(0), 1)
    with pytest.raises(ValueError, match="3 channels per step.*expecting 2"):
        scaler.transform([np.ones((4, 3))])
    # set_output: data frames for 2-D input, a clear error for sequences
    pandas = pytest.importorskip("pandas")
    frame = SequenceStandardScaler().set_output(transform="pandas").fit_transform(uni)
    assert isinstance(frame, pandas.DataFrame) and frame.shape == uni.shape
    with pytest.raises(ValueError, match="only applies to a 2-D X"):
        SequenceStandardScaler().set_output(transform="pandas").fit_transform(X)


@pytest.mark.parametrize("family", ["recurrent", "siamese"])
def test_scaler_in_pipeline_and_grid_search(family):
    if family == "recurrent":
        X, y = ragged()
        est = TargetReplicationLSTMClassifier(**{**TINY_RNN, "max_epochs": 30}, lr=0.03)
    else:
        X, y, _ = sequence_pairs()
        est = SiamesePairClassifier(
            **{**TINY_PAIR, "max_epochs": 30}, lr=0.03, random_state=0
        )
    X = (
        [1000 * s + 50 for s in X]
        if family == "recurrent"
        else [(1000 * a + 50, 1000 * b + 50) for a, b in X]
    )  # badly scaled
    pipe = make_pipeline(SequenceStandardScaler(), est)
    unscaled = est.fit(X, y).score(X, y)
    assert pipe.fit(X, y).score(X, y) > max(unscaled, 0.75)
    if family == "siamese":
        scaled = pipe[0].transform(X)
        assert isinstance(scaled[0], tuple) and scaled[0][0].shape == X[0][0].shape
    name = pipe.steps[-1][0]
    search = GridSearchCV(pipe, {f"{name}__lr": [0.003, 0.03]}, cv=2)
    search.fit(X, y)
    assert np.isfinite(search.best_score_)


# ------------------------------------------------------------ sequence pairs
def test_sequence_pairs_formats_and_pooling():
    X, y, items = sequence_pairs()
    for pooling in ("last", "mean", "max"):
        clf = SiamesePairClassifier(**TINY_PAIR, pooling=pooling, random_state=0)
        clf.fit(X, y)
        assert clf.n_features_in_ == 4 and clf.n_left_features_ == 2
        emb = clf.embed(items)
        assert emb.shape == (30, 3)
        # more padding, same embedding (NaN rows, 3-D NaN-padded array)
        padded = [np.r_[s, np.full((5, 2), np.nan)] for s in items]
        np.testing.assert_allclose(clf.embed(padded), emb, rtol=1e-12)
        np.testing.assert_allclose(clf.embed(pad(items, 20, np.nan)), emb, rtol=1e-12)
        proba = clf.predict_proba(X)
        wide = [(np.r_[a, np.full((3, 2), np.nan)], b) for a, b in X]
        np.testing.assert_allclose(clf.predict_proba(wide), proba, rtol=1e-12)
    # univariate sequences: the pair matrix (NaN padding) or a pair list
    uni = [(a[:, 0], b[:, 0]) for a, b in X]
    reg = SiamesePairRegressor(**TINY_PAIR, random_state=0).fit(uni, y)
    width = 8
    matrix = np.hstack(
        [
            pad([a[:, None] for a, _ in uni], width, np.nan)[:, :, 0],
            pad([b[:, None] for _, b in uni], width, np.nan)[:, :, 0],
        ]
    )
    reg_m = SiamesePairRegressor(**TINY_PAIR, random_state=0).fit(matrix, y)
    np.testing.assert_allclose(reg_m.predict(matrix), reg.predict(uni), rtol=1e-10)
    np.testing.assert_allclose(reg_m.predict(uni), reg.predict(uni), rtol=1e-10)
    # errors that name what was expected
    with pytest.raises(ValueError, match="tower='mlp'.*tower='gru'"):
        SiamesePairClassifier().fit(X, y)
    with pytest.raises(ValueError, match="3 and 2 channels per step"):
        clf.predict([(np.ones((4, 3)), np.ones((4, 2)))])
    with pytest.raises(ValueError, match="shared_weights=True.*channels"):
        SiamesePairClassifier(**TINY_PAIR).fit([(a, b[:, :1]) for a, b in X], y)
    with pytest.raises(ValueError, match=r"X_side has 3 channels"):
        clf.embed([np.ones((4, 3))])


def test_sequence_pairs_in_grid_search():
    X, y, _ = sequence_pairs(n_pairs=80)
    search = GridSearchCV(
        SiamesePairClassifier(**TINY_PAIR, random_state=0),
        {"pooling": ["mean", "last"], "hidden_size": [4, 6]},
        cv=2,
    )
    search.fit(X, y)
    assert set(search.cv_results_["param_pooling"]) == {"mean", "last"}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


# -------------------------------------------------------- collapse detection
def seed_cosine_pairs(n=80, seed=0):
    """The seed's setup at small scale: token items, positive pairs only."""
    rng = np.random.RandomState(seed)
    topic = rng.randint(4, size=n)
    left = [
        1 + 20 * topic[i] + rng.randint(19, size=rng.randint(3, 9)) for i in range(n)
    ]
    right = [
        1 + 20 * topic[i] + rng.randint(19, size=rng.randint(5, 15)) for i in range(n)
    ]
    return list(zip(left, right)), np.ones(n)


def test_collapse_warning_cosine_with_and_without_negatives():
    X, y = seed_cosine_pairs()
    params = dict(
        tower="lstm",
        vocab_size=81,
        shared_weights=False,
        loss="contrastive",
        distance="cosine",
        hidden_size=8,
        embedding_dim=8,
        lr=0.02,
        max_epochs=30,
        random_state=0,
    )
    with pytest.warns(CollapsedEmbeddingWarning, match="mean cosine distance"):
        reg = SiamesePairRegressor(**params, negatives="none").fit(X, y)
    assert reg.embedding_spread_ < 0.05
    # the same data with generated negatives: healthy, and silent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativePairsWarning)
        warnings.simplefilter("error", CollapsedEmbeddingWarning)
        reg = SiamesePairRegressor(**params, negatives="auto").fit(X, y)
    assert reg.embedding_spread_ > 0.2


# ------------------------------------------------------------------ real data
@pytest.mark.slow
def test_speaker_verification_on_japanese_vowels(japanese_vowels):
    # same/different speaker for pairs of unseen test utterances; training
    # pairs drawn from the training utterances only
    X, y, X_test, y_test = japanese_vowels
    P_train, s_train = make_pairs(X, y, 2000, random_state=0)
    P_test, s_test = make_pairs(X_test, y_test, 2000, random_state=1)
    model = make_pipeline(
        SequenceStandardScaler(),
        SiamesePairClassifier(tower="gru", max_epochs=30, random_state=0),
    ).fit(P_train, s_train)
    # measured baselines: mean-frame cosine 0.83, DTW distance 0.82, siamese
    # MLP on summary features 0.909
    assert model.score(P_test, s_test) >= 0.90
    emb = model[-1].embed(model[0].transform(X_test))
    assert emb.shape == (len(X_test), model[-1].embedding_dim)


def test_make_pairs():
    rng = np.random.RandomState(0)
    items = [rng.randn(rng.randint(2, 6), 2) for _ in range(30)]
    labels = rng.randint(3, size=30)
    pairs, same = make_pairs(items, labels, 101, random_state=0)
    left, right, same_i = make_pairs(
        items, labels, 101, random_state=0, return_indices=True
    )
    assert len(pairs) == 101 and same.sum() == 51
    np.testing.assert_array_equal(same, same_i)
    np.testing.assert_array_equal(same, labels[left] == labels[right])
    assert np.all(left != right)
    assert all(
        a is items[i] and b is items[j] for (a, b), i, j in zip(pairs, left, right)
    )
    # a label with one item never starts a same-label pair
    labels[0] = 7
    left, right, same = make_pairs(
        items, labels, 200, random_state=1, return_indices=True
    )
    np.testing.assert_array_equal(same, labels[left] == labels[right])
    with pytest.raises(ValueError, match="at least 2 labels"):
        make_pairs(items, np.zeros(30), 4)
    with pytest.raises(ValueError, match="one label per item"):
        make_pairs(items, labels[:5], 4)


# ------------------------------------------------------ bad input, new paths
_SEQS = [np.ones((3, 2)), np.ones((5, 2))]
_PAIRS = [(np.ones((3, 2)), np.ones((4, 2))), (np.ones((2, 2)), np.ones((5, 2)))]


@pytest.mark.parametrize(
    "make, X, y, error, match",
    [
        # padding_value
        (
            lambda: TargetReplicationLSTMClassifier(padding_value="zero"),
            _SEQS, [0, 1], (TypeError, ValueError), "padding_value",
        ),
        (
            lambda: TargetReplicationLSTMClassifier(padding_value=float("nan")),
            _SEQS, [0, 1], ValueError, "padding_value must be a finite number",
        ),
        (
            lambda: TargetReplicationLSTMClassifier(padding_value=1.0),
            [np.ones((3, 2)), np.ones((4, 2))], [0, 1], ValueError, "all padding",
        ),
        # conv_filters
        (
            lambda: TargetReplicationLSTMClassifier(conv_filters=(0,)),
            _SEQS, [0, 1], ValueError, "conv_filters must be a sequence of positive",
        ),
        # complex values are not silently cast
        (
            lambda: TargetReplicationLSTMClassifier(),
            [np.ones((3, 2)) * 1j, np.ones((4, 2))], [0, 1], ValueError, "complex",
        ),
        # pair lists
        (
            lambda: SiamesePairClassifier(tower="gru"),
            [(np.ones(3), np.ones(4)), (np.ones(3),)], [0, 1], ValueError,
            r"X\[1\] is not a \(left, right\) pair",
        ),
        (
            lambda: SiamesePairClassifier(tower="gru", pooling="median"),
            _PAIRS, [0, 1], ValueError, "pooling",
        ),
        (
            lambda: SiamesePairClassifier(tower="gru"),
            [(np.ones((3, 2)), np.full((4, 2), np.inf))] * 2, [0, 1], ValueError,
            "inf",
        ),
        (
            lambda: SiamesePairClassifier(padding_value=0.0),
            np.ones((4, 4)), [0, 1, 0, 1], ValueError, "padding_value marks padding",
        ),
        # the scaler
        (
            lambda: SequenceStandardScaler(),
            [np.ones((3, 2)), np.ones((4, 3))], None, ValueError, "channels",
        ),
    ],
)  # fmt: skip
def test_bad_sequence_input_is_a_clear_error(make, X, y, error, match):
    est = make()
    with pytest.raises(error, match=match):
        est.fit(X) if y is None else est.fit(X, y)
