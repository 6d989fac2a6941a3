"""Recurrent family: target-replication loss, padding rules, learning, errors."""

import math

import numpy as np
import pytest
import torch
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV

from sklearn_nn import TargetReplicationLSTMClassifier
from sklearn_nn._net import LengthBucketIterator, TensorBatches
from sklearn_nn._sequences import read_float_sequences, read_token_sequences
from sklearn_nn.recurrent import (
    SequenceClassifierRNN,
    TargetReplicationLoss,
    final_step,
    target_replication_loss,
)

FAST = dict(hidden_size=8, lr=0.03, max_epochs=15, dtype="float64", random_state=0)


def early_decision(n=240, min_len=8, max_len=20, n_channels=2, seed=0):
    """Ragged sequences whose class is written in the first 3 steps only.

    Class 1 starts with +1 on channel 0, class 0 with -1; every later step is
    noise with the same distribution for both classes.
    """
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = []
    for label in y:
        seq = rng.randn(rng.randint(min_len, max_len + 1), n_channels)
        seq[:3, 0] += 2.0 * label - 1.0
        X.append(seq)
    return X, y


def nan_pad(X, n_steps):
    """Ragged list -> 3-D array padded with NaN to ``n_steps``."""
    out = np.full((len(X), n_steps, X[0].shape[1]), np.nan)
    for i, seq in enumerate(X):
        out[i, : len(seq)] = seq
    return out


# ----------------------------------------------------------------- loss maths
def test_loss_equals_formula_on_hand_computed_example():
    # two sequences, 2 classes: lengths 2 and 3 (the first padded to 3)
    p = np.array(
        [
            [[0.8, 0.2], [0.6, 0.4], [np.nan, np.nan]],  # y=0, T=2
            [[0.7, 0.3], [0.4, 0.6], [0.1, 0.9]],  # y=1, T=3
        ]
    )
    y = np.array([0, 1])
    w = np.array([0.5, 4.0])  # class weights {0: 0.5, 1: 4}
    alpha = 0.6
    seq0 = alpha * (-math.log(0.8) - math.log(0.6)) / 2 + (1 - alpha) * -math.log(0.6)
    seq1 = alpha * (-math.log(0.3) - math.log(0.6) - math.log(0.9)) / 3 + (
        1 - alpha
    ) * -math.log(0.9)
    expected = (0.5 * seq0 + 4.0 * seq1) / 4.5

    log_p = torch.log(torch.tensor(p))  # NaN at the padded step
    lengths = torch.tensor([2, 3])
    target = torch.tensor(y)
    per_seq = target_replication_loss(log_p, lengths, target, alpha)
    np.testing.assert_allclose(per_seq.numpy(), [seq0, seq1], rtol=1e-12)

    criterion = TargetReplicationLoss(alpha)
    y_pred = (final_step(log_p, lengths), log_p, lengths)
    loss = criterion(y_pred, target, torch.tensor(w))
    assert loss.item() == pytest.approx(expected, rel=1e-12)

    # alpha=0 and the validation (eval) pass: the final-step loss only
    final_only = (0.5 * -math.log(0.6) + 4.0 * -math.log(0.9)) / 4.5
    assert TargetReplicationLoss(0.0)(y_pred, target, torch.tensor(w)).item() == (
        pytest.approx(final_only, rel=1e-12)
    )
    assert criterion.eval()(y_pred, target, torch.tensor(w)).item() == (
        pytest.approx(final_only, rel=1e-12)
    )


def test_loss_gradient_ignores_padded_steps():
    log_p = torch.log_softmax(torch.randn(2, 5, 3, dtype=torch.float64), -1)
    log_p.requires_grad_(True)
    lengths = torch.tensor([2, 5])
    loss = target_replication_loss(log_p, lengths, torch.tensor([1, 2]), 0.5).sum()
    loss.backward()
    assert torch.all(log_p.grad[0, 2:] == 0)
    assert torch.any(log_p.grad[1, 4] != 0)


# ------------------------------------------------------------------ module
@pytest.mark.parametrize("conv_filters", [(), (4, 4)])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_module_reads_only_real_steps_and_is_causal(cell, conv_filters):
    torch.manual_seed(0)
    model = SequenceClassifierRNN(
        3, 4, hidden_size=5, cell=cell, conv_filters=conv_filters, conv_kernel_size=3
    )
    model = model.double().eval()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([4, 6])
    final, steps, _ = model(x, lengths)
    # garbage in the padding of the first sequence changes nothing
    x2 = x.clone()
    x2[0, 4:] = 1e6
    final2, steps2, _ = model(torch.cat([x2, torch.zeros(2, 3, 3)], 1), lengths)
    torch.testing.assert_close(final2, final)
    torch.testing.assert_close(steps2[0, :4], steps[0, :4])
    # the final prediction is taken at each sequence's own last step
    torch.testing.assert_close(final[0], steps[0, 3])
    torch.testing.assert_close(final[1], steps[1, 5])
    # causal: step t does not see steps > t
    x3 = x.clone()
    x3[1, 3:] = -x3[1, 3:]
    _, steps3, _ = model(x3, lengths)
    torch.testing.assert_close(steps3[1, :3], steps[1, :3])
    assert not torch.allclose(steps3[1, 3:], steps[1, 3:])
    # the inference path (output layer on the final state only) agrees
    torch.testing.assert_close(model(x, lengths, return_steps=False), final)


def test_bucket_iterator_covers_data_once_with_trimmed_batches():
    lengths = torch.tensor([3, 9, 4, 12, 5, 12, 2, 7, 8, 1] * 3)
    values = torch.zeros(30, 12, 1)
    for i, n_steps in enumerate(lengths.tolist()):
        values[i, :n_steps] = i + 1
    ds = TensorBatches((values, lengths), torch.arange(30), None)
    g = torch.Generator().manual_seed(0)
    orders = []
    for _ in range(2):
        seen = []
        batches = LengthBucketIterator(ds, 3, shuffle=True, generator=g)
        for (xb, lb), (tb, wb) in batches:
            assert wb is None
            assert xb.shape[1] == int(lb.max())  # trimmed to the longest
            assert torch.equal(lb, lengths[tb])  # rows stay aligned
            assert torch.equal(xb[:, 0, 0], tb.to(xb.dtype) + 1)
            seen.append(tb)
        order = torch.cat(seen)
        assert sorted(order.tolist()) == list(range(30))
        orders.append(order.tolist())
    assert orders[0] != orders[1]  # reshuffled every pass
    plain = [tb for _, (tb, _) in LengthBucketIterator(ds, 3)]
    assert [len(b) for b in plain] == [3] * 10
    assert torch.equal(torch.cat(plain), torch.sort(lengths, stable=True).indices)


# ------------------------------------------------------------------ inputs
def test_sequence_padding_rules():
    seqs = read_float_sequences([[1.0, 2.0], [3.0, np.nan, np.nan], [4.0]])
    np.testing.assert_array_equal(seqs.lengths, [2, 1, 1])
    assert seqs.values.shape == (3, 3, 1) and not np.isnan(seqs.values).any()
    arr = np.array([[[1, 2], [3, 4], [np.nan, np.nan]], [[5, 6], [7, 8], [9, 0]]])
    np.testing.assert_array_equal(read_float_sequences(arr).lengths, [2, 3])
    # token 0 is padding wherever it is (Keras' mask_zero): skipped
    tokens = read_token_sequences([[5, 2], [0, 3, 1, 0, 4, 0, 0]], vocab_size=6)
    np.testing.assert_array_equal(tokens.lengths, [2, 3])
    assert tokens.values.tolist() == [[5, 2, 0], [3, 1, 4]]
    assert tokens.values.dtype == np.int64 and tokens.n_inner_zeros == 1


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan, 2.0]]), "NaN at step 1"),
        (np.array([[[1.0, np.nan], [2.0, 3.0]]]), "NaN at step 0"),
        (np.array([[1.0, 2.0], [np.nan, np.nan]]), r"X\[1\] is all padding"),
        (np.array([[1.0, np.inf]]), "inf"),
        ([np.ones((3, 2)), np.ones((4, 3))], "X\\[1\\] has 3 channels"),
        ([np.ones(3), np.ones((2, 2, 2))], "X\\[1\\] has 3 dimensions"),
        ([np.ones(3), []], r"X\[1\] is an empty sequence"),
        (np.ones((2, 3, 1, 1)), "2-D array"),
        ([], "empty list"),
        ([np.ones(3), ["a", "b"]], "numeric"),
    ],
)
def test_float_input_errors(X, match):
    with pytest.raises(ValueError, match=match):
        read_float_sequences(X)


@pytest.mark.parametrize(
    "X, match",
    [
        ([[1, 7]], r"outside \[0, vocab_size=6\)"),
        ([[1, -1]], "outside"),
        ([[0, 0], [1, 2]], r"X\[0\] has no token"),
        (np.array([[1.5, 2.0]]), "integer token ids"),
        (np.array([[1.0, np.nan]]), "not NaN"),
        (np.ones((2, 2, 2), dtype=int), "2-D integer array"),
    ],
)
def test_token_input_errors(X, match):
    with pytest.raises(ValueError, match=match):
        read_token_sequences(X, vocab_size=6)


def test_estimator_input_errors():
    X, y = early_decision(n=30)
    clf = TargetReplicationLSTMClassifier(**{**FAST, "max_epochs": 1}).fit(X, y)
    assert clf.n_features_in_ == 2
    with pytest.raises(ValueError, match="X has 3 channels per step, but Target"):
        clf.predict([np.ones((4, 3))])
    with pytest.raises(ValueError, match="NaN at step 1"):
        clf.predict([np.array([[1.0, 1.0], [np.nan, np.nan], [1.0, 1.0]])])
    with pytest.raises(ValueError, match="1 channels per step"):
        clf.predict(np.ones((2, 5)))  # 2-D = univariate
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        TargetReplicationLSTMClassifier(**FAST).fit(X, y[:-1])
    # a 2-D fit is a fixed-width table of univariate sequences, as in sklearn
    table = nan_pad([s[:, :1] for s in X], 20)[:, :, 0]
    clf = TargetReplicationLSTMClassifier(**{**FAST, "max_epochs": 1})
    clf.fit(table, y)
    assert clf.n_features_in_ == 20
    with pytest.raises(ValueError, match="X has 19 features, but"):
        clf.predict(table[:, :19])
    # ... while lists and 3-D arrays of any length still work
    ragged = [s[:, :1] for s in X]
    np.testing.assert_allclose(clf.predict_proba(ragged), clf.predict_proba(table))
    tok = TargetReplicationLSTMClassifier(**{**FAST, "max_epochs": 1}, vocab_size=5)
    with pytest.raises(ValueError, match="outside"):
        tok.fit([[1, 2, 5], [3, 4]], [0, 1])


# ------------------------------------------------------- padding invariance
def test_padding_never_changes_predictions_float():
    X, y = early_decision(n=60)
    clf = TargetReplicationLSTMClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    # same sequences NaN-padded to 20 and to 35 steps, and ragged with
    # explicit trailing NaN rows
    for padded in (nan_pad(X, 20), nan_pad(X, 35)):
        np.testing.assert_allclose(clf.predict_proba(padded), expected, rtol=1e-12)
    ragged_nan = [np.vstack([s, np.full((i % 4, 2), np.nan)]) for i, s in enumerate(X)]
    np.testing.assert_allclose(clf.predict_proba(ragged_nan), expected, rtol=1e-12)
    # a sequence predicted alone or among long ones: the same
    np.testing.assert_allclose(clf.predict_proba(X[:1]), expected[:1], rtol=1e-12)
    # fitting on the NaN-padded array is fitting on the ragged list
    clf_padded = TargetReplicationLSTMClassifier(**FAST).fit(nan_pad(X, 30), y)
    np.testing.assert_allclose(clf_padded.predict_proba(X), expected, rtol=1e-10)


def test_padding_never_changes_predictions_tokens():
    rng = np.random.RandomState(0)
    y = rng.randint(2, size=80)
    # class 1 sequences start with token 1, class 0 with token 2
    X = [np.r_[2 - label, rng.randint(1, 10, size=rng.randint(3, 12))] for label in y]
    clf = TargetReplicationLSTMClassifier(
        **{**FAST, "max_epochs": 25}, vocab_size=10, embedding_dim=4
    ).fit(X, y)
    assert clf.n_features_in_ == 1
    assert clf.score(X, y) > 0.9
    expected = clf.predict_proba(X)
    padded = np.zeros((len(X), 20), dtype=np.int64)
    for i, s in enumerate(X):
        padded[i, : len(s)] = s
    np.testing.assert_allclose(clf.predict_proba(padded), expected, rtol=1e-12)
    zero_tails = [np.r_[s, np.zeros(i % 3, dtype=int)] for i, s in enumerate(X)]
    np.testing.assert_allclose(clf.predict_proba(zero_tails), expected, rtol=1e-12)


def test_predict_proba_steps_matches_prefixes():
    X, y = early_decision(n=40)
    clf = TargetReplicationLSTMClassifier(**FAST).fit(X, y)
    steps = clf.predict_proba_steps(X)
    lengths = np.array([len(s) for s in X])
    assert steps.shape == (40, lengths.max(), 2)
    for i in range(5):
        assert np.isnan(steps[i, lengths[i] :]).all()
        np.testing.assert_allclose(steps[i, : lengths[i]].sum(1), 1.0)
    last = steps[np.arange(40), lengths - 1]
    np.testing.assert_allclose(last, clf.predict_proba(X), rtol=1e-10)
    # step t is the prediction of the prefix of length t + 1
    prefixes = [s[:4] for s in X]
    np.testing.assert_allclose(clf.predict_proba(prefixes), steps[:, 3], rtol=1e-10)


def test_prediction_independent_of_chunking_and_order():
    X, y = early_decision(n=50)
    clf = TargetReplicationLSTMClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    clf._max_inference_batch_size = 7  # instance attribute: many sorted chunks
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-12)
    perm = np.random.RandomState(1).permutation(50)
    np.testing.assert_allclose(
        clf.predict_proba([X[i] for i in perm]), expected[perm], rtol=1e-12
    )
    # and equal to one fully padded forward pass of the torch module
    seqs = read_float_sequences(X)
    module = clf.net_.module_.eval()
    with torch.no_grad():
        out = module(torch.from_numpy(seqs.values), torch.from_numpy(seqs.lengths))
    np.testing.assert_allclose(np.exp(out[0].numpy()), expected, rtol=1e-10)


def test_per_step_prediction_independent_of_chunking():
    # the chunks hold sequences of different lengths: the per-step output of
    # each is padded back to the longest sequence and put in the input order
    X, y = early_decision(n=50)
    clf = TargetReplicationLSTMClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba_steps(X)
    clf._max_inference_batch_size = 7
    chunked = clf.predict_proba_steps(X)
    assert chunked.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(chunked), np.isnan(expected))
    np.testing.assert_allclose(chunked, expected, rtol=1e-12)


# ------------------------------------------------------------------ learning
def test_learns_an_early_decision_and_beats_baselines():
    X, y = early_decision(n=300, max_len=25)
    X_test, y_test = early_decision(n=200, max_len=25, seed=1)
    dummy = DummyClassifier().fit(np.zeros((len(y), 1)), y)
    chance = dummy.score(np.zeros((len(y_test), 1)), y_test)
    scores = {}
    for alpha in (0.0, 0.5):
        clf = TargetReplicationLSTMClassifier(
            random_features=0, hidden_size=16, lr=0.02, max_epochs=25,
            replication_weight=alpha, random_state=0,
        )  # fmt: skip
        scores[alpha] = clf.fit(X, y).score(X_test, y_test)
    assert chance < 0.6
    assert scores[0.5] > 0.9, scores
    # with replication the class is known after the informative steps
    steps = clf.predict_proba_steps(X_test)
    step_acc = (steps[:, 3].argmax(1) == y_test).mean()
    assert step_acc > 0.9


def test_seed_scenario_class_weight_and_final_step_validation():
    # binary, class_weight {0: 0.5, 1: 4}, padded to 15, mean real length 7
    rng = np.random.RandomState(0)
    n = 160
    y = (rng.rand(n) < 0.2).astype(int)
    lengths = rng.randint(3, 12, size=n)
    X = np.full((n, 15, 3), np.nan)
    for i in range(n):
        X[i, : lengths[i]] = rng.randn(lengths[i], 3) + 0.8 * y[i]
    assert 6.5 < lengths.mean() < 7.5

    valid_calls = []  # what the criterion saw in each validation pass

    class SpyLoss(TargetReplicationLoss):
        def forward(self, y_pred, target, weight=None):
            if not self.training:
                valid_calls.append([t.detach().clone() for t in (*y_pred, target)])
                valid_calls[-1].append(weight.clone())
            return super().forward(y_pred, target, weight)

    class SpyClassifier(TargetReplicationLSTMClassifier):
        def _build_criterion(self):
            return SpyLoss(self.replication_weight)

    clf = SpyClassifier(
        random_features=0, hidden_size=8, replication_weight=0.6,
        class_weight={0: 0.5, 1: 4},
        early_stopping=True, validation_fraction=0.25, max_epochs=30,
        lr=0.02, dtype="float64", random_state=0, batch_size=200,
    ).fit(X, y)  # fmt: skip
    assert clf.score(X, y) > 0.8
    assert len(valid_calls) == clf.n_iter_ == len(clf.validation_loss_curve_)
    for (final, steps, lens, target, weight), reported in zip(
        valid_calls, clf.validation_loss_curve_
    ):
        assert len(target) == 40  # one validation batch of 25% of 160
        target, final = target.numpy(), final.numpy()
        w = np.where(target == 1, 4.0, 0.5)  # class weights reach validation
        np.testing.assert_array_equal(weight.numpy(), w)
        # the validation loss is the class-weighted final-step NLL ...
        final_nll = -final[np.arange(40), target]
        by_hand = np.sum(w * final_nll) / np.sum(w)
        assert reported == pytest.approx(by_hand, rel=1e-12)
        # ... taken at each sequence's own last step ...
        np.testing.assert_array_equal(final, steps.numpy()[np.arange(40), lens - 1])
        # ... and not the replicated training loss
        replicated = target_replication_loss(steps, lens, torch.tensor(target), 0.6)
        assert abs(np.sum(w * replicated.numpy()) / np.sum(w) - by_hand) > 1e-4


def test_grid_search_on_ragged_input():
    X, y = early_decision(n=120)
    search = GridSearchCV(
        TargetReplicationLSTMClassifier(**{**FAST, "max_epochs": 20}),
        {"replication_weight": [0.0, 0.7], "hidden_size": [4, 8]},
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ > 0.7
    assert search.predict(X[:5]).shape == (5,)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_multiclass_reproducible_and_weighted(cell):
    rng = np.random.RandomState(0)
    y = rng.randint(3, size=90)
    X = [rng.randn(rng.randint(4, 10), 2) + [label, -label] for label in y]
    params = {**FAST, "cell": cell, "num_layers": 2, "dropout": 0.1}
    params["max_epochs"] = 30
    a = TargetReplicationLSTMClassifier(**params).fit(X, y)
    b = TargetReplicationLSTMClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.score(X, y) > 0.8
    # sample_weight reaches the loss: zero weight on class 2 -> never predicted
    sw = (y != 2).astype(float)
    c = TargetReplicationLSTMClassifier(**params).fit(X, y, sample_weight=sw)
    assert not np.any(c.predict(X) == 2)


@pytest.mark.slow
def test_japanese_vowels_accuracy_at_defaults(japanese_vowels):
    from sklearn.pipeline import make_pipeline

    from sklearn_nn.preprocessing import SequenceStandardScaler

    X, y, X_test, y_test = japanese_vowels
    clf = make_pipeline(
        SequenceStandardScaler(), TargetReplicationLSTMClassifier(random_state=0)
    ).fit(X, y)
    # 1-NN DTW (aeon) scores 0.949 on this split; published deep models 0.97+
    assert clf.score(X_test, y_test) >= 0.96


@pytest.mark.parametrize(
    "longest, n_layers", [(5, 2), (52, 2), (53, 3), (150, 4), (251, 5), (501, 6)]
)
def test_auto_conv_filters_cover_a_quarter_of_the_longest_sequence(longest, n_layers):
    rng = np.random.RandomState(0)
    X = [rng.randn(longest, 1), rng.randn(3, 1)]
    clf = TargetReplicationLSTMClassifier(
        random_features=0, conv_filters="auto", max_epochs=1, hidden_size=4
    ).fit(X, [0, 1])
    assert clf.conv_filters_ == (64,) * n_layers
    conv = clf.net_.module_.encoder.conv
    assert [c.dilation[0] for c in conv.convs] == [2**i for i in range(n_layers)]
    # the smallest stack whose receptive field reaches a quarter of it
    assert 4 * conv.receptive_field >= longest
    assert n_layers == 2 or 4 * (1 + 4 * (2 ** (n_layers - 1) - 1)) < longest
    # an explicit value is used as given; () is the plain recurrent network
    clf = TargetReplicationLSTMClassifier(
        random_features=0, max_epochs=1, conv_filters=()
    ).fit(X, [0, 1])
    assert clf.conv_filters_ == () and clf.net_.module_.encoder.conv is None


def test_running_mean_of_the_convolution_features_reaches_the_output():
    from sklearn_nn._layers import running_mean

    values = torch.arange(12.0).view(1, 6, 2)
    np.testing.assert_allclose(
        running_mean(values)[0].numpy(),
        np.cumsum(values[0].numpy(), 0) / np.arange(1, 7)[:, None],
    )
    torch.manual_seed(0)
    model = SequenceClassifierRNN(2, 3, hidden_size=4, conv_filters=(5,)).double()
    assert model.encoder.n_outputs == 4 + 5
    x = torch.randn(2, 7, 2, dtype=torch.float64)
    states = model.encoder(x, torch.tensor([7, 4]))
    features = model.encoder.conv(x)
    torch.testing.assert_close(states[:, :, 4:], running_mean(features))
