"""Siamese pair family: loss formulas, negatives and collapse, learning on
digits pairs, the seed's token-sequence scenario, towers, padding, errors."""

import math
import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_nn import SiamesePairClassifier, SiamesePairRegressor
from sklearn_nn.siamese import (
    CollapsedEmbeddingWarning,
    MLPTower,
    NegativePairsWarning,
    SequenceTower,
    SiameseNetwork,
    SiamesePairLoss,
    SimilarityReadout,
    VerificationReadout,
    contrastive_loss,
    cosine_mse_loss,
    pair_distance,
    split_pairs,
    stack_pairs,
)
from sklearn_nn.siamese._calibration import _platt_scaling

OUR_WARNINGS = (NegativePairsWarning, CollapsedEmbeddingWarning)


# ------------------------------------------------------------------- helpers
def labelled_pairs(X, labels, n, rng):
    """n pairs of rows of X, half of the same label (y=1), half not (y=0)."""
    same = rng.rand(n) < 0.5
    left = rng.randint(len(X), size=n)
    right = np.empty(n, dtype=int)
    for k in range(n):
        pool = np.flatnonzero((labels == labels[left[k]]) == same[k])
        pool = pool[pool != left[k]]
        right[k] = rng.choice(pool)
    return stack_pairs(X[left], X[right]), same.astype(int)


def cosine_verification_accuracy(P_train, s_train, P_test, s_test, k):
    """Accuracy of thresholding cos(left, right), threshold tuned on train."""

    def cos(P):
        a, b = P[:, :k], P[:, k:]
        return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    c_train = cos(P_train)
    thresholds = np.unique(c_train)
    accuracy = [np.mean((c_train >= t) == s_train) for t in thresholds]
    best = thresholds[int(np.argmax(accuracy))]
    return np.mean((cos(P_test) >= best) == s_test)


@pytest.fixture(scope="module")
def digits_pairs():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, random_state=0, stratify=y
    )
    rng = np.random.RandomState(0)
    P_train, s_train = labelled_pairs(X_train, y_train, 2000, rng)
    P_test, s_test = labelled_pairs(X_test, y_test, 2000, rng)
    return dict(
        X_train=X_train,
        X_test=X_test,
        y_train=y_train,
        y_test=y_test,
        P_train=P_train,
        s_train=s_train,
        P_test=P_test,
        s_test=s_test,
    )


def blob_pairs(n=400, n_features=4, seed=0):
    """Pairs of points from 3 well-separated blobs; y=1 for the same blob."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(3, size=300)
    items = 0.5 * rng.normal(size=(300, n_features)) + 3 * np.eye(n_features)[labels]
    return labelled_pairs(items, labels, n, rng)


def token_pairs(n=40, widths=(6, 9), vocab=20, seed=0):
    """Right-padded token pairs that share a 'topic' when y=1."""
    rng = np.random.RandomState(seed)
    topic = rng.randint(2, size=(n, 2))
    topic[: n // 2, 1] = topic[: n // 2, 0]
    sides = []
    for side, width in enumerate(widths):
        tokens = np.zeros((n, width), dtype=np.int64)
        for i in range(n):
            length = rng.randint(1, width + 1)
            half = (vocab - 1) // 2
            tokens[i, :length] = (
                1 + half * topic[i, side] + rng.randint(half, size=length)
            )
        sides.append(tokens)
    return sides[0], sides[1], (topic[:, 0] == topic[:, 1]).astype(int)


SMALL = dict(hidden_layer_sizes=(16,), embedding_dim=4, lr=0.01, random_state=0)
TINY_LSTM = dict(
    tower="lstm",
    vocab_size=20,
    token_embedding_dim=4,
    hidden_size=4,
    embedding_dim=3,
    max_epochs=3,
    dtype="float64",
    random_state=0,
)


# ----------------------------------------------------------------- loss maths
E_LEFT = torch.tensor([[1.0, 2.0], [1.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
E_RIGHT = torch.tensor([[4.0, 6.0], [1.0, 0.5], [0.0, 2.0]], dtype=torch.float64)


def test_pair_distances_by_hand():
    d = pair_distance(E_LEFT, E_RIGHT, "euclidean").numpy()
    np.testing.assert_allclose(d, [5.0, 0.5, math.sqrt(8.0)], rtol=1e-12)
    d = pair_distance(E_LEFT, E_RIGHT, "cosine").numpy()
    cosines = [16 / math.sqrt(5 * 52), 1 / math.sqrt(1.25), 0.0]
    np.testing.assert_allclose(d, 1 - np.array(cosines), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "distance, margin, similar, expected",
    [
        # d = (5, 0.5, sqrt 8); similar: d^2, dissimilar: max(2 - d, 0)^2
        ("euclidean", 2.0, [1, 0, 0], [25.0, 2.25, 0.0]),
        ("euclidean", 2.0, [0, 1, 1], [0.0, 0.25, 8.0]),
        # d = 1 - cos = (1 - 16/sqrt(260), 1 - 1/sqrt(1.25), 1)
        (
            "cosine",
            0.5,
            [1, 0, 0],
            [(1 - 16 / math.sqrt(260)) ** 2, (1 / math.sqrt(1.25) - 0.5) ** 2, 0.0],
        ),
        (
            "cosine",
            0.5,
            [0, 1, 1],
            [(16 / math.sqrt(260) - 0.5) ** 2, (1 - 1 / math.sqrt(1.25)) ** 2, 1.0],
        ),
    ],
)
def test_contrastive_loss_equals_hadsell_formula(distance, margin, similar, expected):
    d = pair_distance(E_LEFT, E_RIGHT, distance)
    s = torch.tensor(similar, dtype=torch.float64)
    values = contrastive_loss(d, s, margin).numpy()
    np.testing.assert_allclose(values, expected, rtol=1e-10, atol=1e-12)

    # the estimators' criterion: (weighted) mean, from embeddings, with soft
    # labels or with class codes (positive_index says which code is similar)
    y_pred = (None, E_LEFT, E_RIGHT)
    crit = SiamesePairLoss("contrastive", distance=distance, margin=margin)
    assert crit(y_pred, s.view(-1, 1)).item() == pytest.approx(np.mean(expected))
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert crit(y_pred, s, w).item() == pytest.approx(
        np.average(expected, weights=[1, 2, 3])
    )
    codes = torch.tensor([0 if v else 1 for v in similar])  # code 0 = similar
    crit = SiamesePairLoss(
        "contrastive", distance=distance, margin=margin, positive_index=0
    )
    assert crit(y_pred, codes).item() == pytest.approx(np.mean(expected))


def test_cosine_mse_loss_maps_similarity_to_cosine_scale():
    # cos = (16/sqrt(260), 1/sqrt(1.25), 0); similarity s -> target 2s - 1
    cos = np.array([16 / math.sqrt(260), 1 / math.sqrt(1.25), 0.0])
    s = np.array([1.0, 0.0, 0.75])
    expected = (cos - (2 * s - 1)) ** 2
    assert expected[2] == pytest.approx(0.25)
    crit = SiamesePairLoss("cosine_mse")
    got = crit((None, E_LEFT, E_RIGHT), torch.tensor(s))
    assert got.item() == pytest.approx(expected.mean(), rel=1e-12)
    values = cosine_mse_loss(torch.tensor(cos), torch.tensor(2 * s - 1)).numpy()
    np.testing.assert_allclose(values, expected, rtol=1e-12)


def test_readouts():
    net = SiameseNetwork(torch.nn.Identity())
    sim, _, _ = SimilarityReadout(net, "distance", "euclidean", margin=4.0)(
        E_LEFT, E_RIGHT
    )
    # clip(1 - d / 4, 0, 1) with d = (5, 0.5, sqrt 8)
    np.testing.assert_allclose(
        sim.numpy().ravel(), [0.0, 0.875, 1 - math.sqrt(8) / 4], rtol=1e-12
    )
    sim, _, _ = SimilarityReadout(net, "cosine")(E_LEFT, E_RIGHT)
    np.testing.assert_allclose(sim.numpy()[2], [0.5])  # orthogonal -> 0.5

    readout = VerificationReadout(net, "euclidean", margin=2.0, positive_index=0)
    log_proba, _, _ = readout(E_LEFT, E_RIGHT)
    # default mapping: sigmoid(2 - 4 d / margin), threshold at d = margin / 2
    p_similar = 1 / (1 + np.exp(-(2 - 2 * np.array([5.0, 0.5, math.sqrt(8)]))))
    np.testing.assert_allclose(np.exp(log_proba[:, 0].numpy()), p_similar)
    np.testing.assert_allclose(np.exp(log_proba.numpy()).sum(1), 1.0)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_sequence_tower_pooling_ignores_padding(pooling, cell):
    torch.manual_seed(0)
    tower = SequenceTower(2, 5, 3, cell=cell, pooling=pooling, conv_filters=(4,))
    tower = tower.double()
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    base = tower(x, lengths)
    # whatever the padding holds, and however much of it there is
    noisy = torch.cat([x, torch.randn(3, 5, 2, dtype=torch.float64)], dim=1)
    for t, n in enumerate(lengths.tolist()):
        noisy[t, n:] = 1e3 * torch.randn(11 - n, 2, dtype=torch.float64)
    np.testing.assert_allclose(tower(noisy, lengths).detach(), base.detach())
    # each row equals the tower applied to the sequence alone
    for i, n in enumerate(lengths.tolist()):
        alone = tower(x[i : i + 1, :n], lengths[i : i + 1])
        np.testing.assert_allclose(alone.detach(), base[i : i + 1].detach())
    # the pooling is what it says (states of the encoder at the real steps)
    states = tower.encoder(x, lengths)[1, :2]
    pooled = {"last": states[-1], "mean": states.mean(0), "max": states.amax(0)}
    expected = tower.projection(pooled[pooling])
    np.testing.assert_allclose(base[1].detach(), expected.detach(), rtol=1e-12)


def test_platt_scaling_is_the_smoothed_logistic_fit():
    rng = np.random.RandomState(0)
    d = np.concatenate([rng.gamma(2, 0.3, 60), rng.gamma(6, 0.3, 40)])
    positive = np.arange(100) < 60
    coef, intercept = _platt_scaling(d, positive)
    t = np.where(positive, 61 / 62, 1 / 42)  # Platt's targets (N+ + 1)/(N+ + 2)

    def objective(ab):
        f = ab[0] * d + ab[1]
        return np.sum(np.logaddexp(0, f) - t * f)

    ref = minimize(objective, [0.0, 0.0], method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose([coef, intercept], ref, rtol=1e-5)
    assert coef < 0  # close pairs are the similar ones

    # integer weights act as repetitions
    w = rng.randint(0, 4, size=100)
    w[0] = w[99] = 1
    rep = np.repeat(np.arange(100), w)
    weighted = _platt_scaling(d, positive, w)
    repeated = _platt_scaling(d[rep], positive[rep])
    np.testing.assert_allclose(weighted, repeated, rtol=1e-9)

    # perfectly separated scores still give a finite fit
    coef, intercept = _platt_scaling(np.r_[0.1, 0.2, 3.0, 4.0], np.r_[1, 1, 0, 0] > 0)
    assert np.isfinite([coef, intercept]).all()


# ---------------------------------------------------------------- pair helpers
def test_stack_and_split_pairs_round_trip():
    left = np.arange(6).reshape(3, 2)
    right = np.arange(15).reshape(3, 5)
    X = stack_pairs(left, right)
    assert X.dtype == left.dtype and X.shape == (3, 7)
    a, b = split_pairs(X, n_left_features=2)
    np.testing.assert_array_equal(a, left)
    np.testing.assert_array_equal(b, right)
    a, b = split_pairs(stack_pairs(left, left))
    np.testing.assert_array_equal(b, left)
    with pytest.raises(ValueError, match="X_left and X_right must have one row"):
        stack_pairs(left, right[:2])
    with pytest.raises(ValueError, match="odd number.*n_left_features"):
        split_pairs(X)
    with pytest.raises(ValueError, match="n_left_features=7 must leave"):
        split_pairs(X, n_left_features=7)


# ------------------------------------------------------------- the classifier
def test_classifier_proba_is_platt_mapping_of_embedding_distance():
    X, y = blob_pairs()
    clf = SiamesePairClassifier(**SMALL, max_epochs=30).fit(X, y)
    assert clf.score(X, y) > 0.95
    emb = clf.transform(X)
    k = clf.embedding_dim
    d = np.linalg.norm(emb[:, :k] - emb[:, k:], axis=1)
    p = 1 / (1 + np.exp(-(clf.calibration_coef_ * d + clf.calibration_intercept_)))
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], p, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), atol=1e-6)
    assert clf.calibration_coef_ < 0
    # calibrated: the mean predicted probability matches the similar rate
    assert proba[:, 1].mean() == pytest.approx(y.mean(), abs=0.03)


@pytest.mark.parametrize("positive_label", [None, "same"])
def test_positive_label(positive_label):
    X, y01 = blob_pairs(300)
    y = np.where(y01 == 1, "same", "different")
    clf = SiamesePairClassifier(
        **SMALL, max_epochs=20, positive_label=positive_label
    ).fit(X, y)
    # sorted labels: classes_ = ['different', 'same']; None takes classes_[1]
    assert clf.positive_label_ == "same"
    assert clf.score(X, y) > 0.9
    # with positive_label='different' the meaning flips: close pairs are
    # called 'different', and the model learns the opposite embedding
    flipped = SiamesePairClassifier(
        **SMALL, max_epochs=20, positive_label="different"
    ).fit(X, y)
    assert flipped.positive_label_ == "different"
    emb = flipped.transform(X)
    d = np.linalg.norm(emb[:, :4] - emb[:, 4:], axis=1)
    assert d[y == "different"].mean() < d[y == "same"].mean()


def test_classifier_errors():
    X, y = blob_pairs(60)
    with pytest.raises(ValueError, match="Only binary classification"):
        SiamesePairClassifier().fit(X, np.arange(60) % 3)
    with pytest.raises(ValueError, match="got 1 class.*SiamesePairRegressor"):
        SiamesePairClassifier().fit(X, np.ones(60))
    with pytest.raises(ValueError, match="positive_label=2 is not one of"):
        SiamesePairClassifier(positive_label=2).fit(X, y)
    with pytest.raises(ValueError, match="only class 1 is left"):
        SiamesePairClassifier(max_epochs=1).fit(X, y, sample_weight=y)


# -------------------------------------------------------------- the regressor
@pytest.mark.parametrize(
    "y, expected",
    [
        (np.linspace(0.2, 0.9, 40), (0.0, 1.0)),
        (np.linspace(-0.5, 0.9, 40), (-1.0, 1.0)),
        (np.linspace(3.0, 7.0, 40), (3.0, 7.0)),
    ],
)
def test_regressor_target_range_auto(y, expected):
    X = np.random.RandomState(0).normal(size=(40, 4))
    reg = SiamesePairRegressor(max_epochs=2, negatives="none").fit(X, y)
    assert reg.target_range_ == expected
    pred = reg.predict(X)
    assert np.all((pred >= expected[0]) & (pred <= expected[1]))


def test_regressor_explicit_target_range_and_errors():
    X = np.random.RandomState(0).normal(size=(40, 4))
    y = np.linspace(0, 1, 40)
    reg = SiamesePairRegressor(max_epochs=2, target_range=(0, 5)).fit(X, y)
    assert reg.target_range_ == (0.0, 5.0)
    with pytest.raises(ValueError, match=r"y must lie in target_range_=\(0.0, 5.0\)"):
        SiamesePairRegressor(target_range=(0, 5)).fit(X, y + 5)
    with pytest.raises(ValueError, match="needs low < high"):
        SiamesePairRegressor(target_range=(1, 0)).fit(X, y)
    with pytest.raises(ValueError, match="two finite numbers"):
        SiamesePairRegressor(target_range=(0, 1, 2)).fit(X, y)
    with pytest.raises(ValueError, match="y is constant"):
        SiamesePairRegressor().fit(X, np.full(40, 5.0))


def _graded_pairs(n, seed):
    rng = np.random.RandomState(seed)
    A, B = rng.normal(size=(n, 4)), rng.normal(size=(n, 4))
    return stack_pairs(A, B), A, B


@pytest.mark.parametrize(
    "loss, target",
    [
        # cosine-like similarity in [-1, 1]
        ("cosine_mse", lambda A, B: np.cos(A[:, 0] - B[:, 0])),
        # a similarity in [0, 1] that decays with the distance
        ("contrastive", lambda A, B: np.exp(-0.5 * (A[:, 0] - B[:, 0]) ** 2)),
    ],
)
def test_regressor_learns_graded_similarity(loss, target):
    X, A, B = _graded_pairs(600, 0)
    X_test, A_test, B_test = _graded_pairs(300, 1)
    reg = SiamesePairRegressor(
        loss=loss,
        hidden_layer_sizes=(32,),
        embedding_dim=4,
        lr=0.01,
        max_epochs=100,
        random_state=0,
    )
    reg.fit(X, target(A, B))
    assert r2_score(target(A_test, B_test), reg.predict(X_test)) > 0.7


# ------------------------------------------------------ negatives and collapse
def test_negatives_auto_generates_and_warns_with_the_count():
    X, y = blob_pairs(200)
    mostly_similar = np.r_[np.flatnonzero(y == 1), np.flatnonzero(y == 0)[:5]]
    Xs, ys = X[mostly_similar], y[mostly_similar]
    n = len(ys)
    with pytest.warns(NegativePairsWarning, match=f"so {n} dissimilar pairs"):
        SiamesePairClassifier(max_epochs=2, random_state=0).fit(Xs, ys)
    with pytest.warns(NegativePairsWarning, match=f"so {round(n / 2)} dissimilar"):
        SiamesePairClassifier(max_epochs=2, negative_ratio=0.5).fit(Xs, ys)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NegativePairsWarning)
        SiamesePairClassifier(max_epochs=2, negatives="none").fit(Xs, ys)
        # balanced data: nothing is generated
        SiamesePairClassifier(max_epochs=2).fit(X, y)


def test_generated_negatives_are_re_paired_items(monkeypatch):
    X, _ = blob_pairs(50)
    reg = SiamesePairRegressor(max_epochs=1, dtype="float64", random_state=0)
    seen = {}
    original = SiamesePairRegressor._training_data

    def spy(self, X, y, target, weight, rng):
        data = original(self, X, y, target, weight, rng)
        seen["data"] = data
        return data

    monkeypatch.setattr(SiamesePairRegressor, "_training_data", spy)
    with pytest.warns(NegativePairsWarning, match="so 50 dissimilar"):
        reg.fit(X, np.ones(50))
    left, right = seen["data"].inputs
    target = seen["data"].target.numpy().ravel()
    assert len(target) == 100 and np.all(target[:50] == 1) and np.all(target[50:] == 0)
    # each generated pair is (left of i, right of j) with j != i
    rows_l = [np.flatnonzero((X[:, :4] == r).all(1))[0] for r in left[50:].numpy()]
    rows_r = [np.flatnonzero((X[:, 4:] == r).all(1))[0] for r in right[50:].numpy()]
    assert all(i != j for i, j in zip(rows_l, rows_r))


def test_collapse_warning_when_trained_on_similar_pairs_only():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 8))
    reg = SiamesePairRegressor(
        loss="contrastive",
        negatives="none",
        lr=0.01,
        max_epochs=150,
        random_state=0,
    )
    with pytest.warns(CollapsedEmbeddingWarning, match="similar pairs only"):
        reg.fit(X, np.ones(100))
    assert reg.embedding_spread_ < 0.05
    # with generated negatives the same data keeps its spread
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativePairsWarning)
        warnings.simplefilter("error", CollapsedEmbeddingWarning)
        reg.set_params(negatives="auto").fit(X, np.ones(100))
    assert reg.embedding_spread_ > 0.3


@pytest.mark.slow
def test_seed_scenario_token_towers_positive_pairs_only():
    # the seed at small scale: 52 left and 600 right tokens over a vocabulary
    # of 1000, separate LSTM towers, only positive pairs. Partners share a
    # topic (a block of 99 token ids); lengths vary, padding is on the right.
    rng = np.random.RandomState(0)
    n = 120
    topic = rng.randint(10, size=n)

    def sequences(width, shortest, topics=topic):
        tokens = np.zeros((len(topics), width), dtype=np.int64)
        for i, t in enumerate(topics):
            length = rng.randint(shortest, width + 1)
            tokens[i, :length] = 1 + 100 * t + rng.randint(99, size=length)
        return tokens

    left, right = sequences(52, 10), sequences(600, 50)
    X, y = stack_pairs(left, right), np.ones(n)
    params = dict(
        tower="lstm",
        shared_weights=False,
        n_left_features=52,
        vocab_size=1000,
        token_embedding_dim=8,
        hidden_size=8,
        embedding_dim=8,
        loss="contrastive",
        lr=0.02,
        max_epochs=25,
        random_state=0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = SiamesePairRegressor(**params).fit(X, y)
    kinds = [type(w.message) for w in caught]
    assert NegativePairsWarning in kinds and CollapsedEmbeddingWarning not in kinds
    assert reg.embedding_spread_ > 0.3
    # true partners are closer than a random other item for most queries
    t1, t2 = reg.embed(left, side="left"), reg.embed(right, side="right")
    d = np.linalg.norm(t1[:, None] - t2[None], axis=2)
    other = (np.arange(n) + rng.randint(1, n, size=n)) % n
    wins = d[np.arange(n), np.arange(n)] < d[np.arange(n), other]
    assert wins.mean() > 0.8
    # ... and the towers generalise: unseen items of one topic embed closer
    # (in cosine) than items of different topics (the 'last' pooling of the
    # first version measured a difference of 0.004-0.027 here)
    new_topic = rng.randint(10, size=60)
    new_left = sequences(52, 10, new_topic)
    new_right = sequences(600, 50, new_topic)
    a, b = reg.embed(new_left, side="left"), reg.embed(new_right, side="right")
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    same = new_topic[:, None] == new_topic[None, :]
    cosines = a @ b.T
    assert cosines[same].mean() - cosines[~same].mean() > 0.3
    # the same fit without negatives collapses, and says so
    with pytest.warns(CollapsedEmbeddingWarning, match="collapsed"):
        reg = SiamesePairRegressor(**{**params, "negatives": "none"}).fit(X, y)
    assert reg.embedding_spread_ < 0.05


# ------------------------------------------------------------ learning: digits
@pytest.mark.slow
def test_digits_verification_beats_cosine_of_pixels_and_pca(digits_pairs):
    D = digits_pairs
    raw = cosine_verification_accuracy(
        D["P_train"], D["s_train"], D["P_test"], D["s_test"], 64
    )
    pca = PCA(16, random_state=0).fit(D["X_train"])

    def project(P):
        return stack_pairs(pca.transform(P[:, :64]), pca.transform(P[:, 64:]))

    pca_acc = cosine_verification_accuracy(
        project(D["P_train"]), D["s_train"], project(D["P_test"]), D["s_test"], 16
    )
    clf = SiamesePairClassifier(
        hidden_layer_sizes=(64,),
        embedding_dim=8,
        lr=3e-3,
        max_epochs=30,
        random_state=0,
    ).fit(D["P_train"], D["s_train"])
    acc = clf.score(D["P_test"], D["s_test"])
    # measured: siamese 0.94, raw pixels 0.78, PCA(16) 0.81
    assert acc > raw + 0.08 and acc > pca_acc + 0.08, (acc, raw, pca_acc)

    # same-digit images cluster: 1-NN accuracy in the 8-d embedding space
    knn = KNeighborsClassifier(1).fit(clf.embed(D["X_train"]), D["y_train"])
    nn_acc = knn.score(clf.embed(D["X_test"]), D["y_test"])
    assert nn_acc > 0.93, nn_acc  # measured 0.96 (raw 64 pixels: 0.99)


@pytest.mark.slow
def test_separate_towers_on_different_views(digits_pairs):
    # left: the 64 raw pixels; right: 16 PCA features of another image
    D = digits_pairs
    pca = PCA(16, random_state=0).fit(D["X_train"])

    def views(P):
        return stack_pairs(P[:, :64], pca.transform(P[:, 64:]))

    clf = SiamesePairClassifier(
        n_left_features=64,
        shared_weights=False,
        hidden_layer_sizes=(64,),
        embedding_dim=8,
        lr=3e-3,
        max_epochs=30,
        random_state=0,
    ).fit(views(D["P_train"]), D["s_train"])
    assert clf.net_.module_.network.right_tower is not None
    assert clf.score(views(D["P_test"]), D["s_test"]) > 0.88
    assert clf.embed(pca.transform(D["X_test"][:3]), side="right").shape == (3, 8)


def test_grid_search_over_margin_and_embedding_dim_in_pipeline(digits_pairs):
    D = digits_pairs
    X, y = D["P_train"][:600], D["s_train"][:600]
    pipe = make_pipeline(
        StandardScaler(),
        SiamesePairClassifier(
            hidden_layer_sizes=(32,), lr=3e-3, max_epochs=10, random_state=0
        ),
    )
    grid = {
        "siamesepairclassifier__margin": [0.5, 2.0],
        "siamesepairclassifier__embedding_dim": [2, 8],
    }
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.8
    assert search.score(D["P_test"], D["s_test"]) > 0.8
    best = search.best_estimator_[-1]
    assert (
        best.embedding_dim
        == search.best_params_["siamesepairclassifier__embedding_dim"]
    )


def test_transform_as_a_pipeline_step(digits_pairs):
    D = digits_pairs
    X, y = D["P_train"][:800], D["s_train"][:800]
    siamese = SiamesePairClassifier(**{**SMALL, "embedding_dim": 8}, max_epochs=15)
    pipe = make_pipeline(
        siamese,
        FunctionTransformer(lambda E: np.abs(E[:, :8] - E[:, 8:])),
        LogisticRegression(),
    ).fit(X, y)
    assert pipe.score(D["P_test"], D["s_test"]) > 0.85
    assert pipe[0].transform(X[:5]).shape == (5, 16)
    names = pipe[0].get_feature_names_out()
    assert names[0] == "left0" and names[-1] == "right7" and len(names) == 16
    frame = pipe[0].set_output(transform="pandas").transform(X[:3])
    assert list(frame.columns) == list(names)


# ------------------------------------------------------------------- towers
def test_shared_tower_is_symmetric_and_separate_towers_are_not():
    X, y = blob_pairs(200)
    swapped = np.hstack([X[:, 4:], X[:, :4]])
    shared = SiamesePairClassifier(**SMALL, max_epochs=5).fit(X, y)
    assert shared.net_.module_.network.right_tower is None
    np.testing.assert_allclose(shared.predict_proba(swapped), shared.predict_proba(X))
    items = X[:10, :4]
    np.testing.assert_array_equal(
        shared.embed(items, side="left"), shared.embed(items, side="right")
    )
    separate = SiamesePairClassifier(**SMALL, max_epochs=5, shared_weights=False)
    separate.fit(X, y)
    n_shared = sum(p.numel() for p in shared.net_.module_.parameters())
    n_separate = sum(p.numel() for p in separate.net_.module_.parameters())
    assert n_separate == 2 * n_shared
    assert not np.allclose(
        separate.embed(items, side="left"), separate.embed(items, side="right")
    )
    assert not np.allclose(separate.predict_proba(swapped), separate.predict_proba(X))


def test_token_padding_invariance():
    left, right, y = token_pairs()
    X = stack_pairs(left, right)
    clf = SiamesePairClassifier(
        **TINY_LSTM, n_left_features=6, shared_weights=False
    ).fit(X, y)
    expected = clf.predict_proba(X)

    # moving the padding to the front (Keras' default) changes nothing
    def left_pad(tokens):
        out = np.zeros_like(tokens)
        for i, row in enumerate(tokens):
            kept = row[row != 0]
            out[i, len(row) - len(kept) :] = kept
        return out

    X_pre = stack_pairs(left_pad(left), left_pad(right))
    assert not np.array_equal(X_pre, X)
    np.testing.assert_allclose(clf.predict_proba(X_pre), expected, rtol=1e-10)

    # embed() takes any width; extra zero columns change nothing
    wide = np.hstack([left, np.zeros((len(left), 30), dtype=np.int64)])
    np.testing.assert_allclose(
        clf.embed(wide, side="left"), clf.embed(left, side="left"), rtol=1e-10
    )
    # and chunks of sequences sorted by length give the same embeddings, in
    # the input order
    whole = clf.embed(left, side="left")
    clf._inference_batch_size = 3
    np.testing.assert_allclose(clf.embed(left, side="left"), whole, rtol=1e-10)
    del clf._inference_batch_size

    # fitting on the same pairs with extra padding columns gives the same model
    X_wide = stack_pairs(
        np.hstack([left, np.zeros((40, 4), dtype=np.int64)]),
        np.hstack([np.zeros((40, 7), dtype=np.int64), right]),
    )
    clf_wide = SiamesePairClassifier(
        **TINY_LSTM, n_left_features=10, shared_weights=False
    ).fit(X_wide, y)
    np.testing.assert_allclose(clf_wide.predict_proba(X_wide), expected, rtol=1e-10)


def test_shared_lstm_tower_takes_sides_of_different_lengths():
    left, right, y = token_pairs()
    reg = SiamesePairRegressor(**TINY_LSTM, n_left_features=6).fit(
        stack_pairs(left, right), y
    )
    assert reg.vocab_size_ == 20
    assert reg.net_.module_.network.right_tower is None
    np.testing.assert_array_equal(
        reg.embed(right, side="left"), reg.embed(right, side="right")
    )


def test_token_input_errors():
    left, right, y = token_pairs()
    X = stack_pairs(left, right)
    clf = SiamesePairClassifier(**TINY_LSTM, n_left_features=6)
    match = r"X \(left items\) has token ids outside \[0, vocab_size=20\)"
    with pytest.raises(ValueError, match=match):
        clf.fit(np.where(X > 0, X + 20, 0), y)
    with pytest.raises(ValueError, match="must hold integer token ids"):
        clf.fit(X + 0.5, y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match=r"outside \[0, vocab_size=20\)"):
        clf.predict(-X)
    with pytest.raises(ValueError, match=r"X_side has token ids outside"):
        clf.embed(left + 100)
    # float input holding whole numbers is accepted
    np.testing.assert_array_equal(clf.predict(X.astype(float)), clf.predict(X))
    # tokens need a sequence tower; a huge id is an error, not a huge embedding
    with pytest.raises(ValueError, match="vocab_size=20 reads token sequences"):
        SiamesePairClassifier(vocab_size=20).fit(X, y)
    with pytest.raises(ValueError, match="outside"):
        clf.fit(np.where(X > 0, 10**9, 0), y)


# ---------------------------------------------------------------- estimator
@pytest.mark.parametrize(
    "params, X_width, match",
    [
        (dict(), 7, "X has 7 feature.*odd number.*n_left_features"),
        (dict(n_left_features=7), 7, "n_left_features=7 must leave"),
        (dict(n_left_features=2), 6, "shared_weights=True.*same number of features"),
    ],
)
def test_pair_layout_errors(params, X_width, match):
    X = np.random.RandomState(0).normal(size=(20, X_width))
    with pytest.raises(ValueError, match=match):
        SiamesePairRegressor(**params).fit(X, np.linspace(0, 1, 20))


def test_embed_errors_and_unequal_split():
    X = np.random.RandomState(0).normal(size=(30, 7))
    reg = SiamesePairRegressor(n_left_features=2, shared_weights=False, max_epochs=2)
    reg.fit(X, np.linspace(0, 1, 30))
    assert reg.embed(X[:, :2]).shape == (30, 16)
    assert reg.embed(X[:, 2:], side="right").shape == (30, 16)
    with pytest.raises(ValueError, match="X_side has 5 features, but the left"):
        reg.embed(X[:, 2:])
    with pytest.raises(ValueError, match="side must be 'left' or 'right'"):
        reg.embed(X[:, :2], side="middle")
    with pytest.raises(ValueError, match="X has 6 features"):
        reg.predict(X[:, :6])


@pytest.mark.parametrize("cls", [SiamesePairClassifier, SiamesePairRegressor])
def test_same_seed_same_predictions_and_pickle(cls):
    X, y = blob_pairs(200)
    a = cls(**SMALL, max_epochs=5).fit(X, y)
    b = cls(**SMALL, max_epochs=5).fit(X, y)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    c = cls(**{**SMALL, "random_state": 1}, max_epochs=5).fit(X, y)
    assert not np.allclose(a.transform(X), c.transform(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.transform(X), a.transform(X))


def test_generated_negatives_are_reproducible():
    X, _ = blob_pairs(100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OUR_WARNINGS)
        a = SiamesePairRegressor(loss="contrastive", max_epochs=5, random_state=3)
        b = SiamesePairRegressor(loss="contrastive", max_epochs=5, random_state=3)
        np.testing.assert_array_equal(
            a.fit(X, np.ones(100)).predict(X), b.fit(X, np.ones(100)).predict(X)
        )


def test_warm_start_continues_and_recalibrates():
    X, y = blob_pairs(200)
    clf = SiamesePairClassifier(**SMALL, max_epochs=3, warm_start=True).fit(X, y)
    first = clf.calibration_coef_
    clf.fit(X, y)
    assert clf.n_iter_ == 6
    assert clf.calibration_coef_ != first


def test_early_stopping_records_validation_accuracy():
    X, y = blob_pairs(300)
    clf = SiamesePairClassifier(
        **SMALL, max_epochs=30, early_stopping=True, n_iter_no_change=3
    ).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ > 0.9


@pytest.mark.cuda
def test_cuda_fit_predict_and_cpu_pickle():
    left, right, y = token_pairs()
    X = stack_pairs(left, right)
    clf = SiamesePairClassifier(
        **TINY_LSTM, n_left_features=6, shared_weights=False, device="cuda"
    ).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 2)
    assert clf.embed(right, side="right").shape == (40, 3)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X), proba)


@pytest.mark.parametrize("readout", ["similarity", "verification"])
def test_readout_forward_train_is_the_embeddings_of_forward(readout):
    # training steps call forward_train (no readout head); the loss must see
    # exactly the embeddings that forward returns
    torch.manual_seed(0)
    network = SiameseNetwork(MLPTower(5, (8,), 3), MLPTower(4, (8,), 3))
    if readout == "similarity":
        module = SimilarityReadout(network, readout="distance")
    else:
        module = VerificationReadout(network)
    left, right = torch.randn(6, 5), torch.randn(6, 4)
    full = module(left, right)
    reduced = module.forward_train(left, right)
    assert len(reduced) == 2
    for got, expected in zip(reduced, full[-2:]):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    loss = SiamesePairLoss("contrastive", positive_index=1)
    target = torch.tensor([0, 1, 1, 0, 1, 0])
    torch.testing.assert_close(loss(reduced, target), loss(full, target))
