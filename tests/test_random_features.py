"""The sequence classifier's default encoder: causal random convolutions
(MiniRocket's features made causal) with a closed-form ridge read-out."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge
from sklearn.utils import shuffle

from sklearn_nn import TargetReplicationLSTMClassifier
from sklearn_nn._layers import (
    N_RANDOM_KERNELS,
    CausalRandomConvolutions,
    random_convolution_layout,
    running_mean,
)
from sklearn_nn.preprocessing import SequenceStandardScaler
from sklearn_nn.recurrent import SequenceClassifierRNN
from sklearn_nn.recurrent._readout import ALPHAS, fit_ridge_readout, ridge_gcv


def shapes(n=60, length=30, n_channels=2, seed=0, ragged=False):
    """Two classes of noisy sequences: a bump early (class 1) or none."""
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = []
    for label in y:
        steps = rng.randint(length // 2, length + 1) if ragged else length
        x = 0.5 * rng.randn(steps, n_channels)
        if label:
            x[3:8, 0] += 2.0
        X.append(x)
    return (X if ragged else np.stack(X)), y


def fitted_block(n_inputs=3, length=40, n_features=1000, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(6, length, n_inputs, dtype=torch.float64)
    lengths = torch.tensor([length, 10, 25, 3, 33, 17])
    x[torch.arange(length)[None, :] >= lengths[:, None]] = 0
    layout = random_convolution_layout(length, n_features)
    block = CausalRandomConvolutions(n_inputs, *layout).double()
    block.fit_biases(x, lengths, torch.Generator().manual_seed(0))
    return block, x, lengths


# ----------------------------------------------------------------- layer
def test_kernels_and_layout_are_minirockets():
    from aeon.transformations.collection.convolution_based._minirocket import (
        _fit_dilations,
    )

    for length in (9, 24, 150, 427, 1460):
        dilations, counts = random_convolution_layout(length)
        d_aeon, c_aeon = _fit_dilations(length, 10_000, 32)
        assert dilations == tuple(d_aeon) and counts == tuple(c_aeon)
    block = CausalRandomConvolutions(3, *random_convolution_layout(100))
    assert block.n_outputs == 9996
    for _, weight, bias in block._groups():
        kernels = weight.sum(dim=1)  # summed over the chosen channels
        per_channel = (weight != 0).any(dim=2).sum(dim=1)  # channels per kernel
        # nine taps, three of weight 2 and six of -1, on 1..3 channels
        assert torch.all((kernels / per_channel[:, None]).sum(dim=1) == 0)
        assert torch.all(((weight == 2).sum(dim=2) == 3) | (weight == 0).all(dim=2))
        assert per_channel.min() >= 1 and per_channel.max() <= 3
        assert bias.shape[0] == N_RANDOM_KERNELS


def test_features_are_running_proportions_of_positive_values():
    block, x, lengths = fitted_block()
    # biases sorted per kernel, drawn from the data (not all equal)
    for _, _, bias in block._groups():
        assert torch.all(bias[:, 1:] >= bias[:, :-1]) and bias.std() > 0
    # by hand: causal convolution (zeros before the start), compare, mean
    start = 0
    expected = []
    for dilation, weight, bias in block._groups():
        m = bias.shape[1]
        for k in range(N_RANDOM_KERNELS):
            padded = np.concatenate([np.zeros((8 * dilation, 3)), x[0].numpy()])
            conv = np.array(
                [
                    sum(
                        weight[k, :, j].numpy() @ padded[t + j * dilation]
                        for j in range(9)
                    )
                    for t in range(x.shape[1])
                ]
            )
            above = conv[:, None] > bias[k].numpy()[None, :]  # (T, m)
            expected.append(np.cumsum(above, axis=0) / np.arange(1, 41)[:, None])
        start += N_RANDOM_KERNELS * m
    expected = np.concatenate(expected, axis=1)
    np.testing.assert_allclose(block(x)[0].numpy(), expected, atol=1e-12)

    # features_at: the running proportions at chosen steps, padding unread
    points = torch.stack([lengths // 3, lengths // 2, lengths - 1], dim=1)
    full = block(x)
    at = block.features_at(x, lengths, points)
    for i in range(len(x)):
        torch.testing.assert_close(at[i], full[i, points[i]])
    # step_sums: the linear map of the indicators at every step
    weight = torch.randn(4, block.n_outputs, dtype=torch.float64)
    torch.testing.assert_close(
        running_mean(block.step_sums(x, weight)), full @ weight.T
    )


def test_bias_draw_follows_sample_weights_not_row_order():
    block, x, lengths = fitted_block()
    w = torch.tensor([0.0, 2.0, 0.0, 1.0, 0.0, 3.0], dtype=torch.float64)
    a = CausalRandomConvolutions(3, block.dilations, block.features_per_dilation)
    a.double().fit_biases(x, lengths, torch.Generator().manual_seed(1), w)
    # the same sequences repeated by weight, in another order
    rows = torch.tensor([5, 1, 3, 5, 1, 5])
    b = CausalRandomConvolutions(3, block.dilations, block.features_per_dilation)
    b.double().fit_biases(x[rows], lengths[rows], torch.Generator().manual_seed(1))
    for (_, _, bias_a), (_, _, bias_b) in zip(a._groups(), b._groups()):
        torch.testing.assert_close(bias_a, bias_b)
    # zero-weight sequences are never drawn: their values never become biases
    c = CausalRandomConvolutions(3, block.dilations, block.features_per_dilation)
    only = torch.tensor([0.0, 0, 0, 1, 0, 0], dtype=torch.float64)
    c.double().fit_biases(x, lengths, torch.Generator().manual_seed(1), only)
    d = CausalRandomConvolutions(3, block.dilations, block.features_per_dilation)
    d.double().fit_biases(x[3:4], lengths[3:4], torch.Generator().manual_seed(1))
    for (_, _, bias_c), (_, _, bias_d) in zip(c._groups(), d._groups()):
        torch.testing.assert_close(bias_c, bias_d)


@pytest.mark.parametrize("cell", [None, "gru"])
def test_module_with_random_features_is_causal_and_ignores_padding(cell):
    block, x, lengths = fitted_block(n_features=500)
    layout = (block.dilations, block.features_per_dilation)
    torch.manual_seed(0)
    model = SequenceClassifierRNN(3, 4, hidden_size=5, cell=cell, random_layout=layout)
    model = model.double().eval()
    model.encoder.random.load_state_dict(block.state_dict())
    torch.nn.init.normal_(model.output.weight)
    final, steps, _ = model(x, lengths)
    # garbage in the padding changes nothing
    x2 = x.clone()
    for i, n in enumerate(lengths.tolist()):
        x2[i, n:] = 1e6
    final2, steps2, _ = model(torch.cat([x2, torch.ones(6, 4, 3)], 1), lengths)
    torch.testing.assert_close(final2, final)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(steps2[i, :n], steps[i, :n])
        torch.testing.assert_close(final[i], steps[i, n - 1])
    # causal: step t does not see steps > t
    x3 = x.clone()
    x3[0, 20:] = -x3[0, 20:]
    _, steps3, _ = model(x3, lengths)
    torch.testing.assert_close(steps3[0, :20], steps[0, :20])
    assert not torch.allclose(steps3[0, 20:], steps[0, 20:])
    # the per-step logits without the 10 000 features equal the output layer
    # on the materialised states
    states = model.states(x, lengths)
    torch.testing.assert_close(model.step_logits(x, lengths), model.output(states))


# --------------------------------------------------------------- read-out
def test_ridge_readout_is_sklearns_ridge_at_the_gcv_penalty():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 300)
    y = (X[:, :5].sum(axis=1) + 0.3 * rng.randn(40) > 2.5).astype(int)
    w = rng.randint(1, 4, size=40).astype(float)
    coef, intercept, alpha, temperature = fit_ridge_readout(X, y, 2, w)
    # GCV by brute force: fit every penalty, the mean leverage from the trace
    scale = np.sqrt(np.cov(X, rowvar=False, aweights=w, bias=True).diagonal())
    scale = np.maximum(scale, 0.1 * np.median(scale))
    Z, t = X / scale, np.where(y == 1, 1.0, -1.0)
    scores = []
    for a in ALPHAS:
        fitted = Ridge(alpha=a).fit(Z, t, sample_weight=w).predict(Z)
        Zc = (Z - w @ Z / w.sum()) * np.sqrt(w)[:, None]
        trace = np.trace(Zc @ np.linalg.solve(Zc.T @ Zc + a * np.eye(300), Zc.T))
        leverage = (trace + 1) / w.sum()
        scores.append(np.sum(w * (t - fitted) ** 2) / w.sum() / (1 - leverage) ** 2)
    assert alpha == ALPHAS[int(np.argmin(scores))]
    ridge = Ridge(alpha=alpha).fit(Z, t, sample_weight=w)
    # two classes: logits [-s, s] times the temperature
    np.testing.assert_allclose(coef[1], temperature * ridge.coef_ / scale, rtol=1e-6)
    np.testing.assert_allclose(intercept[1], temperature * ridge.intercept_)
    np.testing.assert_allclose(coef[0], -coef[1])
    # integer weights act as repeated rows (GCV, unlike leave-one-out)
    rows = np.repeat(np.arange(40), w.astype(int))
    a2, scores2 = ridge_gcv(Z[rows], t[rows, None], np.ones(len(rows)))
    a1, scores1 = ridge_gcv(Z, t[:, None], w)
    assert a1 == a2
    np.testing.assert_allclose(scores1[rows], scores2, rtol=1e-6)
    # normalised weights (summing to 1) choose as their mean-1 scaling does
    a3, scores3 = ridge_gcv(Z, t[:, None], w / w.sum())
    a4, scores4 = ridge_gcv(Z, t[:, None], w * 40 / w.sum())
    assert a3 == a4
    np.testing.assert_allclose(scores3, scores4, rtol=1e-5)


def test_temperature_calibrates_the_out_of_sample_scores():
    # on new data, softmax(temperature * scores) has a lower log-loss than
    # the raw ridge scores' softmax, with and without skill
    from sklearn.metrics import log_loss

    rng = np.random.RandomState(0)
    X, X_new = rng.rand(100, 300), rng.rand(2000, 300)
    for rule in (lambda A: rng.randint(2, size=len(A)), lambda A: A[:, :3].sum(1)):
        y, y_new = [
            (np.asarray(rule(A)) > 1.5 / 3 * 3 / 2).astype(int) for A in (X, X_new)
        ]
        coef, intercept, _, temperature = fit_ridge_readout(X, y, 2)
        logits = X_new @ coef.T + intercept
        calibrated = log_loss(
            y_new, np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        )
        raw = logits / temperature
        uncalibrated = log_loss(y_new, np.exp(raw) / np.exp(raw).sum(1, keepdims=True))
        assert calibrated < uncalibrated
        assert calibrated < np.log(2) + 0.01


# ------------------------------------------------------------- estimator
def test_default_architecture_by_input():
    X, y = shapes()
    clf = TargetReplicationLSTMClassifier(random_state=0).fit(X, y)
    assert clf.cell_ is None and clf.solver_ == "ridge"
    assert clf.random_features_ == 9996 and clf.n_iter_ == 1
    assert clf.net_.module_.encoder.rnn is None
    assert clf.score(X, y) > 0.95
    # shorter than the kernel's nine taps: the recurrent network reads them
    short = TargetReplicationLSTMClassifier(max_epochs=2).fit(X[:, :8], y)
    assert short.cell_ == "gru" and short.random_features_ == 0
    assert short.solver_ == "gradient"
    # tokens: the recurrent network
    tokens = np.random.RandomState(0).randint(1, 5, size=(20, 12))
    tok = TargetReplicationLSTMClassifier(vocab_size=5, max_epochs=2)
    assert tok.fit(tokens, y[:20]).cell_ == "gru"
    # early stopping: gradient training of the read-out
    es = TargetReplicationLSTMClassifier(early_stopping=True, max_epochs=3)
    es.fit(X, y)
    assert es.solver_ == "gradient" and es.cell_ is None
    assert len(es.validation_loss_curve_) == es.n_iter_


def test_learns_and_beats_chance_on_ragged_multichannel_sequences():
    X, y = shapes(n=120, ragged=True, seed=1)
    X_test, y_test = shapes(n=200, ragged=True, seed=2)
    clf = TargetReplicationLSTMClassifier(random_state=0).fit(X, y)
    assert clf.score(X_test, y_test) > 0.9
    # per-step probabilities: the last real step is predict_proba
    steps = clf.predict_proba_steps(X_test[:5])
    proba = clf.predict_proba(X_test[:5])
    for i, x in enumerate(X_test[:5]):
        np.testing.assert_allclose(steps[i, len(x) - 1], proba[i], rtol=1e-5)
        assert np.all(np.isnan(steps[i, len(x) :]))


def test_sample_weight_is_repetition_and_class_weight_shifts_decisions():
    X, y = shapes(n=40, seed=3)
    w = np.random.RandomState(0).randint(0, 4, size=40)
    params = dict(random_state=0, dtype="float64")
    a = TargetReplicationLSTMClassifier(**params).fit(X, y, sample_weight=w)
    rows = np.repeat(np.arange(40), w)
    Xr, yr = shuffle(X[rows], y[rows], random_state=0)
    b = TargetReplicationLSTMClassifier(**params).fit(Xr, yr)
    X_test, _ = shapes(n=30, seed=4)
    np.testing.assert_allclose(a.predict_proba(X_test), b.predict_proba(X_test))
    # class weights are row weights of the read-out: the same model as the
    # sample weights they stand for, and not the unweighted one
    heavy = TargetReplicationLSTMClassifier(class_weight={0: 1, 1: 5}, **params)
    by_rows = TargetReplicationLSTMClassifier(**params)
    p_heavy = heavy.fit(X, y).predict_proba(X_test)
    p_rows = by_rows.fit(X, y, sample_weight=np.where(y == 1, 5.0, 1.0))
    np.testing.assert_allclose(p_heavy, p_rows.predict_proba(X_test))
    plain = TargetReplicationLSTMClassifier(**params).fit(X, y)
    log_heavy = heavy.predict_log_proba(X_test)
    assert np.abs(plain.predict_log_proba(X_test) - log_heavy).max() > 1e-3


def two_bumps(n, seed, length=40):
    """Class 1 has a bump at steps 3..7, class 0 one at steps 25..29."""
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = 0.5 * rng.randn(n, length, 1)
    X[y == 1, 3:8] += 1.5
    X[y == 0, 25:30] += 1.5
    return X, y


def test_replication_trains_the_earlier_steps():
    # read at step 15, class 1's bump has passed and class 0's has not come:
    # a read-out fitted to the whole sequences' features (alpha = 0) has
    # never seen that mix; one fitted with target replication has
    X, y = two_bumps(200, 6)
    X_test, y_test = two_bumps(300, 7)
    early = {}
    for alpha in (0.0, 0.5):
        clf = TargetReplicationLSTMClassifier(replication_weight=alpha, random_state=0)
        clf.fit(X, y)
        assert clf.score(X_test, y_test) > 0.95
        steps = clf.predict_proba_steps(X_test)
        early[alpha] = np.mean(steps[:, 15].argmax(axis=1) == y_test)
    # measured: 0.46 and 0.98
    assert early[0.0] < 0.7 and early[0.5] > 0.9


def test_bad_architectures_are_clear_errors():
    X, y = shapes(n=20)
    with pytest.raises(ValueError, match="solver='ridge' fits a linear read-out"):
        TargetReplicationLSTMClassifier(solver="ridge", cell="gru").fit(X, y)
    with pytest.raises(ValueError, match="early_stopping=True stops gradient"):
        TargetReplicationLSTMClassifier(solver="ridge", early_stopping=True).fit(X, y)
    with pytest.raises(ValueError, match="longest training sequence has 8 steps"):
        TargetReplicationLSTMClassifier(solver="ridge").fit(X[:, :8], y)
    with pytest.raises(ValueError, match="random_features must be 0"):
        TargetReplicationLSTMClassifier(random_features=50).fit(X, y)
    with pytest.raises(ValueError, match="cell=None needs another part"):
        TargetReplicationLSTMClassifier(cell=None, random_features=0).fit(X, y)


# -------------------------------------------------------------- real data
def _rocket_accuracy(X, y, X_test, y_test):
    from aeon.classification.convolution_based import MiniRocketClassifier

    def aeon(A):
        return np.ascontiguousarray(np.stack(A).transpose(0, 2, 1))

    rocket = MiniRocketClassifier(random_state=0).fit(aeon(X), y)
    return float(np.mean(rocket.predict(aeon(X_test)) == y_test))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["GunPoint", "JapaneseVowels"])
def test_on_par_with_minirocket(name):
    from aeon.datasets import load_classification
    from aeon.transformations.collection.unequal_length import Padder

    X, y = load_classification(name, split="train")
    X_test, y_test = load_classification(name, split="test")
    per_sequence = name != "JapaneseVowels"
    scaler = SequenceStandardScaler(per_sequence=per_sequence)
    X = scaler.fit_transform([np.asarray(s, float).T for s in X])
    X_test = scaler.transform([np.asarray(s, float).T for s in X_test])
    clf = TargetReplicationLSTMClassifier(random_state=0).fit(X, y)
    ours = clf.score(X_test, y_test)
    # MiniRocket on the same standardised series, padded with their last
    # value to the longest length (it needs equal lengths)
    longest = max(len(s) for s in list(X) + list(X_test))
    padder = Padder(padded_length=longest, fill_value="last")
    A = padder.fit_transform([np.ascontiguousarray(s.T) for s in X])
    A_test = padder.transform([np.ascontiguousarray(s.T) for s in X_test])
    rocket = _rocket_accuracy([a.T for a in A], y, [a.T for a in A_test], y_test)
    assert ours >= rocket - 0.02, (ours, rocket)
