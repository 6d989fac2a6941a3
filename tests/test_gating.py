"""Hard-gate family: the discrete pieces and their gradients, the estimators'
one-hot selection, out-of-fold training, and learning where selection pays."""

import pickle
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_wine,
    make_classification,
    make_regression,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    cross_val_predict,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from sklearn_nn import HardGateClassifier, HardGateRegressor
from sklearn_nn.exceptions import BaseModelSampleWeightWarning, PriorFallbackWarning
from sklearn_nn.gating import (
    GumbelSoftmaxGate,
    HardGateLoss,
    HardGateNetwork,
    StraightThroughArgmax,
    StraightThroughStep,
    gumbel_softmax_hard,
    straight_through_argmax,
    straight_through_step,
)
from sklearn_nn.gating._annealing import _AnnealTemperature


def on_column(j, est):
    """A base model that only sees column ``j``."""
    return make_pipeline(ColumnTransformer([("pick", "passthrough", [j])]), est)


def two_regions(n, seed):
    """x0 < 0: y = [x1 > 0]; x0 >= 0: y = [x2 > 0]."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 3))
    left = X[:, 0] < 0
    y = np.where(left, X[:, 1] > 0, X[:, 2] > 0).astype(int)
    return X, y, left


def three_regions(n, seed):
    """x0 in one of three thirds picks which column y depends on."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 4))
    region = np.digitize(X[:, 0], [-1 / 3, 1 / 3])
    y = 0.8 * np.sin(2.5 * X[np.arange(n), region + 1])
    return X, y, region


def blobs(n=150, seed=0):
    return make_classification(
        n_samples=n, n_features=5, n_informative=3, random_state=seed
    )


def is_one_hot(m):
    m = np.asarray(m)
    return bool(np.all((m == 0) | (m == 1)) and np.all(m.sum(axis=1) == 1))


# --------------------------------------------------------------- the pieces
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_straight_through_argmax_is_exact_one_hot_with_softmax_gradient(dtype):
    torch.manual_seed(0)
    logits = (torch.randn(64, 5, dtype=dtype) * 3).requires_grad_(True)
    out = straight_through_argmax(logits, temperature=0.5)
    expected = F.one_hot(logits.argmax(1), 5).to(dtype)
    assert torch.equal(out, expected)  # bit-exact 0/1
    v = torch.randn(64, 5, dtype=dtype)
    (out * v).sum().backward()
    # gradient of sum(softmax(z / T) * v): s * (v - <s, v>) / T
    s = torch.softmax(logits.detach() / 0.5, 1)
    analytic = s * (v - (s * v).sum(1, keepdim=True)) / 0.5
    torch.testing.assert_close(logits.grad, analytic)
    assert logits.grad.abs().sum() > 0


def test_gradient_reaches_gate_parameters_for_every_piece():
    torch.manual_seed(0)
    x = torch.randn(32, 4)
    for piece in [
        StraightThroughArgmax(),
        GumbelSoftmaxGate(temperature=0.7),
        StraightThroughStep(threshold=0.1),
    ]:
        layer = torch.nn.Linear(4, 3)
        out = piece(layer(x))
        assert torch.all((out == 0) | (out == 1))
        (out * torch.arange(3.0)).sum().backward()
        assert layer.weight.grad.abs().sum() > 0, piece
        assert layer.bias.grad.abs().sum() > 0, piece


def test_gumbel_hard_samples_follow_softmax_and_have_relaxed_gradient():
    logits = torch.tensor([[1.0, 0.0, -1.0]]).repeat(20000, 1)
    gen = torch.Generator().manual_seed(0)
    sample = gumbel_softmax_hard(logits, generator=gen)
    assert is_one_hot(sample.numpy())
    freq = sample.mean(0)
    torch.testing.assert_close(freq, torch.softmax(logits[0], 0), atol=0.015, rtol=0)
    # reproducible with the same generator state
    again = gumbel_softmax_hard(logits, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sample, again)

    # the gradient is that of softmax((logits + G) / T) with the same noise
    z = torch.randn(8, 4, requires_grad=True)
    out = gumbel_softmax_hard(z, 0.5, generator=torch.Generator().manual_seed(3))
    v = torch.randn(8, 4)
    (out * v).sum().backward()
    noise = torch.empty(8, 4).exponential_(generator=torch.Generator().manual_seed(3))
    z2 = z.detach().clone().requires_grad_(True)
    soft = torch.softmax((z2 - noise.log()) / 0.5, 1)
    (soft * v).sum().backward()
    torch.testing.assert_close(z.grad, z2.grad)
    assert torch.equal(out.argmax(1), soft.argmax(1))


def test_gumbel_gate_module_is_deterministic_in_eval_mode():
    gate = GumbelSoftmaxGate(temperature=1.0)
    logits = torch.tensor([[0.2, 0.1, 0.0]]).repeat(500, 1)
    torch.manual_seed(0)
    assert gate(logits).sum(0).min() > 0  # training: every choice sampled
    gate.eval()
    assert torch.equal(gate(logits).sum(0), torch.tensor([500.0, 0.0, 0.0]))


def test_straight_through_step_forward_and_gradient():
    x = torch.tensor([-2.0, -0.1, 0.0, 0.3, 5.0], requires_grad=True)
    out = straight_through_step(x, threshold=0.0, temperature=2.0)
    assert torch.equal(out, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0]))
    out.sum().backward()
    s = torch.sigmoid(x.detach() / 2.0)
    torch.testing.assert_close(x.grad, s * (1 - s) / 2.0)
    assert torch.all(x.grad > 0)
    # the naive "binary activation" has no gradient at all
    y = x.detach().clone().requires_grad_(True)
    assert not (y > 0).float().requires_grad


def test_network_prediction_is_exactly_the_chosen_row():
    torch.manual_seed(0)
    n, n_est, n_cls = 50, 3, 4
    x = torch.randn(n, 2, dtype=torch.float64)
    proba = torch.softmax(torch.randn(n, n_est, n_cls, dtype=torch.float64), 2)
    proba[0, :, 0] = 0.0  # a zero probability stays finite after the floor
    net = HardGateNetwork(2, n_est, n_cls, task="classification").double()
    pred, gate, logits, per_model = net(x, proba)
    assert is_one_hot(gate.detach().numpy())
    chosen = gate.argmax(1)
    assert torch.equal(pred, per_model[torch.arange(n), chosen])
    torch.testing.assert_close(
        pred.exp(), proba.clamp_min(1e-7)[torch.arange(n), chosen]
    )
    assert torch.isfinite(pred).all()

    reg = HardGateNetwork(2, n_est, 1, output_activation="tanh").double()
    out = torch.randn(n, n_est, 1, dtype=torch.float64)
    pred, gate, _, _ = reg(x, out)
    # the output layer starts as tanh(identity)
    assert torch.equal(pred, torch.tanh(out[torch.arange(n), gate.argmax(1)]))


def test_prefer_estimator_makes_the_gate_choose_one_model_everywhere():
    torch.manual_seed(0)
    net = HardGateNetwork(3, 4, 2, task="classification", hidden_layer_sizes=(8,))
    x = torch.randn(64, 3)
    proba = torch.softmax(torch.randn(64, 4, 2), 2)
    net.prefer_estimator(2, 3.0)
    _, gate, gate_proba, _ = net(x, proba)
    assert (gate.argmax(1) == 2).all()
    expected = torch.softmax(torch.tensor([0.0, 0.0, 3.0, 0.0]), 0)
    torch.testing.assert_close(gate_proba, expected.expand(64, 4))
    # the hidden layers keep their random weights, so training can move it
    assert net.gate[0].weight.abs().sum() > 0
    with pytest.raises(ValueError, match=r"index must be in range\(4\)"):
        net.prefer_estimator(4, 1.0)


def test_consensus_is_the_weighted_pool_support_of_each_models_class():
    # 2 samples, 3 models, 3 classes
    proba = torch.tensor(
        [
            [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3]],
            [[0.1, 0.1, 0.8], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]],
        ]
    )
    net = HardGateNetwork(2, 3, 3, task="classification", consensus_weight=5.0)
    # uniform weights until set
    support = proba.mean(1)  # [[1/3, 1.5/3, 0.5/3], [0.8/3, 0.5/3, 1.7/3]]
    expected = torch.log(torch.stack([support[0, [0, 1, 1]], support[1, [2, 0, 2]]]))
    torch.testing.assert_close(net.consensus(proba), expected)
    net.set_vote_weights([3.0, 1.0, 0.0])  # normalised: 0.75, 0.25, 0
    support = 0.75 * proba[:, 0] + 0.25 * proba[:, 1]
    torch.testing.assert_close(net.vote_weights, torch.tensor([0.75, 0.25, 0.0]))
    torch.testing.assert_close(
        net.consensus(proba),
        torch.log(torch.stack([support[0, [0, 1, 1]], support[1, [2, 0, 2]]])),
    )
    # the logits are the MLP's plus the weighted consensus
    x = torch.randn(2, 2)
    _, gate, gate_proba, _ = net(x, proba)
    logits = net.gate(x) + 5.0 * net.consensus(proba)
    torch.testing.assert_close(gate_proba, torch.softmax(logits, 1))
    assert torch.equal(gate.argmax(1), logits.argmax(1))
    # a dominant consensus picks a model that agrees with the weighted vote:
    # sample 0 -> class 0 (0.575 against 0.35), sample 1 -> class 2
    net.prefer_estimator(1, 0.0)  # MLP logits 0 everywhere
    chosen = net(x, proba)[1].argmax(1)
    assert proba[0, chosen[0]].argmax() == 0 and proba[1, chosen[1]].argmax() == 2
    for bad in ([1.0, 1.0], [1.0, -1.0, 1.0], [0.0, 0.0, 0.0], [1.0, np.nan, 1.0]):
        with pytest.raises(ValueError, match="weights must be 3 finite"):
            net.set_vote_weights(bad)
    with pytest.raises(ValueError, match="consensus_weight must be >= 0"):
        HardGateNetwork(2, 3, 3, task="classification", consensus_weight=-1.0)


def test_regression_consensus_is_the_scaled_distance_to_the_weighted_mean():
    # two samples, three models, two outputs
    pred = torch.tensor(
        [
            [[1.0, 0.0], [3.0, 0.0], [2.0, 2.0]],
            [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]],
        ],
        dtype=torch.float64,
    )
    net = HardGateNetwork(2, 3, 2, consensus_weight=4.0).double()
    net.set_vote_weights([2.0, 1.0, 1.0])  # 0.5, 0.25, 0.25
    # sample 0: mean (0.5*1 + 0.25*3 + 0.25*2, 0.25*2) = (1.75, 0.5)
    distance = torch.tensor([0.75**2 + 0.5**2, 1.25**2 + 0.5**2, 0.25**2 + 1.5**2])
    spread = 0.5 * distance[0] + 0.25 * distance[1] + 0.25 * distance[2]
    expected = torch.stack([-0.5 * distance / spread, torch.zeros(3)]).double()
    # sample 1: the pool agrees exactly, so every model scores 0
    torch.testing.assert_close(net.consensus(pred), expected)
    # the logits are the MLP's plus the weighted consensus; a dominant one
    # picks the model closest to the weighted mean (model 0 on sample 0)
    x = torch.randn(2, 2, dtype=torch.float64)
    _, gate, gate_proba, _ = net(x, pred)
    logits = net.gate(x) + 4.0 * expected
    torch.testing.assert_close(gate_proba, torch.softmax(logits, 1))
    net.prefer_estimator(2, 0.0)
    assert net(x, pred)[1][0].argmax() == 0
    # a far outlier with a tiny vote weight stays finite, so a weight of 0
    # adds exactly nothing
    net.set_vote_weights([1.0, 1e-300, 1e-300])
    far = pred.clone()
    far[0, 2] = 1e30
    assert torch.isfinite(net.consensus(far)).all()
    net.consensus_weight.fill_(0.0)
    torch.testing.assert_close(net(x, far)[2], torch.softmax(net.gate(x), 1))
    # it does not depend on the target's scale, even near float32's limits
    net = HardGateNetwork(2, 3, 2)
    net.set_vote_weights([2.0, 1.0, 1.0])
    for scale in (1e-30, 1e30):
        torch.testing.assert_close(
            net.consensus((pred * scale).float()),
            expected.float(),
            rtol=1e-5,
            atol=1e-6,
        )


def test_forward_train_is_forward_without_the_prediction():
    # training steps call forward_train; the loss must get the same gate,
    # soft gate and per-model outputs as from forward (same Gumbel draw)
    torch.manual_seed(0)
    x = torch.randn(20, 2, dtype=torch.float64)
    proba = torch.softmax(torch.randn(20, 3, 2, dtype=torch.float64), 2)
    y = torch.randint(0, 2, (20,))
    for gate in ("straight_through", "gumbel"):
        net = HardGateNetwork(2, 3, 2, gate=gate).double().train()
        torch.manual_seed(1)
        full = net(x, proba)
        torch.manual_seed(1)
        reduced = net.forward_train(x, proba)
        assert reduced[0] is None and len(reduced) == len(full)
        for got, expected in zip(reduced[1:], full[1:]):
            torch.testing.assert_close(got, expected, rtol=0, atol=0)
        loss = HardGateLoss("classification").train()
        torch.testing.assert_close(loss(reduced, y), loss(full, y))


def test_loss_is_the_chosen_models_loss_with_expected_loss_gradient():
    # classification, hand-computed: sample 0 picks model 1, sample 1 model 0
    p = torch.tensor(
        [[[0.2, 0.8], [0.6, 0.4]], [[0.9, 0.1], [0.5, 0.5]]], dtype=torch.float64
    )
    logits = torch.tensor([[0.0, 1.0], [2.0, 0.5]], requires_grad=True)
    gate = straight_through_argmax(logits.double())
    soft = torch.softmax(logits.detach().double(), 1)
    y_pred = (None, gate, soft, p.log())
    target = torch.tensor([1, 0])
    criterion = HardGateLoss("classification").eval()
    loss = criterion(y_pred, target)
    assert loss.item() == pytest.approx(-(np.log(0.4) + np.log(0.9)) / 2, rel=1e-12)
    w = torch.tensor([3.0, 1.0], dtype=torch.float64)
    weighted = criterion(y_pred, target, w)
    assert weighted.item() == pytest.approx(-(3 * np.log(0.4) + np.log(0.9)) / 4)
    # training mode reports the expected loss under the soft gate ...
    L = -torch.stack([p[0, :, 1].log(), p[1, :, 0].log()])
    train_loss = criterion.train()(y_pred, target)
    expected = (soft * L).sum(1).mean()
    assert train_loss.item() == pytest.approx(expected.item(), rel=1e-12)
    # ... and in both modes the gradient is the straight-through one, equal to
    # the gradient of the expected loss sum_e softmax_e L_e
    train_loss.backward()
    z = logits.detach().double().requires_grad_(True)
    (torch.softmax(z, 1) * L).sum(1).mean().backward()
    torch.testing.assert_close(logits.grad.double(), z.grad)

    # regression: mean squared error of the chosen model
    out = torch.tensor([[[1.0], [3.0]], [[0.0], [-2.0]]])
    gate = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    y_pred = (None, gate, torch.full((2, 2), 0.5), out)
    y = torch.tensor([[2.0], [1.0]])
    assert HardGateLoss("regression").eval()(y_pred, y).item() == pytest.approx(1.0)
    # expected: 0.5 * (1 + 1) = 1 and 0.5 * (1 + 9) = 5: mean 3
    assert HardGateLoss("regression")(y_pred, y).item() == pytest.approx(3.0)


def test_misclassification_cost_is_added_where_the_argmax_is_wrong():
    proba = torch.tensor(
        [[[0.9, 0.1], [0.4, 0.6], [0.55, 0.45]], [[0.2, 0.8], [0.7, 0.3], [1.0, 0.0]]],
        dtype=torch.float64,
    )
    target = torch.tensor([0, 1])
    per_model = torch.log(proba.clamp_min(1e-7))
    log_loss = HardGateLoss("classification").per_model(per_model, target)
    costly = HardGateLoss("classification", misclassification_cost=10.0)
    wrong = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(
        costly.per_model(per_model, target), log_loss + 10.0 * wrong
    )
    torch.testing.assert_close(log_loss[0, 0], -torch.log(torch.tensor(0.9)).double())
    # the soft gate's gradient moves probability to the right models
    logits = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    gate = straight_through_argmax(logits)
    costly.train()
    costly((None, gate, torch.softmax(logits, 1), per_model), target).backward()
    assert (logits.grad[:, 0] < 0).all()  # model 0 is right on both samples
    assert logits.grad[0, 1] > 0  # model 1 is the only wrong one on sample 0
    with pytest.raises(ValueError, match="misclassification_cost must be >= 0"):
        HardGateLoss("classification", misclassification_cost=-1.0)
    with pytest.raises(ValueError, match="only used for classification"):
        HardGateLoss("regression", misclassification_cost=1.0)


def test_torch_pieces_train_without_sklearn():
    X, y, left = two_regions(400, 0)
    base = np.stack(
        [LinearRegression().fit(X[:, [j]], y).predict(X[:, [j]]) for j in (1, 2)], 1
    )
    torch.manual_seed(0)
    xt = torch.as_tensor(X, dtype=torch.float32)
    bt = torch.as_tensor(base, dtype=torch.float32).unsqueeze(2)
    yt = torch.as_tensor(y, dtype=torch.float32).unsqueeze(1)
    net = HardGateNetwork(3, 2, 1, hidden_layer_sizes=(8,))
    criterion = HardGateLoss("regression")
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        loss = criterion(net(xt, bt), yt)
        loss.backward()
        opt.step()
    net.eval()
    chosen = net(xt, bt)[1].argmax(1).numpy()
    assert np.mean(chosen == np.where(left, 0, 1)) > 0.9


def test_anneal_schedule_is_geometric():
    cb = _AnnealTemperature(2.0, 0.02, 5).initialize()
    temps = [cb.temperature(k) for k in range(5)]
    np.testing.assert_allclose(temps, [2.0, 2.0 * 0.1**0.5, 0.2, 0.2 * 0.1**0.5, 0.02])
    assert _AnnealTemperature(1.0, 0.1, 1).temperature(0) == 1.0


# --------------------------------------------------------- estimator settings
SETTINGS = [
    ("clf", dict()),
    ("clf", dict(gate="gumbel")),
    ("clf", dict(gate_uses_predictions=True, gate_hidden_layer_sizes=())),
    ("clf", dict(cv="prefit")),
    ("clf", dict(cv=KFold(3), early_stopping=True)),
    ("reg", dict()),
    ("reg", dict(gate="gumbel", output_activation="identity")),
    ("reg", dict(gate_uses_predictions=True, output_activation="tanh")),
    ("reg", dict(cv="prefit")),
]


@pytest.mark.parametrize("kind, params", SETTINGS)
def test_predict_gate_is_one_hot_and_prediction_is_the_chosen_models(kind, params):
    X, y_cls, _ = two_regions(120, 0)
    y_reg = np.tanh(X[:, 1] - X[:, 2])
    if kind == "clf":
        y = np.array(["no", "yes"])[y_cls]
        pool = [("logreg", LogisticRegression()), ("nb", GaussianNB())]
        cls = HardGateClassifier
    else:
        y = y_reg
        pool = [("lin", LinearRegression()), ("tree", DecisionTreeRegressor())]
        cls = HardGateRegressor
    if params.get("cv") == "prefit":
        pool = [(name, est.fit(X, y)) for name, est in pool]
    est = cls(estimators=pool, max_epochs=15, lr=0.05, random_state=0, **params)
    est.fit(X, y)
    gate = est.predict_gate(X)
    assert gate.shape == (120, 2) and gate.dtype == np.float64
    assert is_one_hot(gate)
    chosen = gate.argmax(1)
    rows = np.arange(len(X))
    if kind == "clf":
        base = np.stack([e.predict_proba(X) for e in est.estimators_], 1)
        np.testing.assert_allclose(
            est.predict_proba(X), base[rows, chosen], rtol=1e-5, atol=1e-6
        )
        assert set(est.predict(X)) <= {"no", "yes"}
    elif params.get("output_activation") is None:
        base = np.stack([e.predict(X) for e in est.estimators_], 1)
        np.testing.assert_allclose(est.predict(X), base[rows, chosen], rtol=1e-6)
    assert list(est.named_estimators_) == [name for name, _ in pool]
    if params.get("cv") == "prefit":
        assert all(a is b for a, b in zip(est.estimators_, [e for _, e in pool]))


def test_default_pools():
    X, y = blobs()
    clf = HardGateClassifier(max_epochs=3, random_state=0).fit(X, y)
    assert [type(e).__name__ for e in clf.estimators_] == [
        "LogisticRegression",
        "DecisionTreeClassifier",
        "GaussianNB",
    ]
    # a random_state left at None is seeded from random_state
    assert isinstance(clf.named_estimators_.tree.random_state, int)
    assert clf.estimators is None  # the parameter is untouched
    reg = HardGateRegressor(max_epochs=3, random_state=0).fit(X, X[:, 0])
    assert list(reg.named_estimators_) == ["ridge", "tree", "kernel_ridge"]
    assert is_one_hot(reg.predict_gate(X))


def test_gate_is_trained_on_out_of_fold_predictions():
    # 1-NN is perfect on its own training data and poor out of fold on noisy
    # labels; the gate must learn the latter
    X, y = make_classification(
        n_samples=300, n_features=4, n_informative=2, flip_y=0.3, random_state=0
    )
    pool = [("logreg", LogisticRegression()), ("1nn", KNeighborsClassifier(1))]
    kw = dict(max_epochs=60, lr=0.05, random_state=0, gate_hidden_layer_sizes=(8,))
    clf = HardGateClassifier(estimators=pool, **kw).fit(X, y)
    assert clf.predict_gate(X)[:, 0].mean() > 0.8  # mostly logistic
    # what the net trained on: exactly cross_val_predict with shuffled
    # stratified folds, seeded by the first draw of the fit's generator
    data = clone(clf)
    data.classes_ = np.array([0, 1])
    batches = data._training_data(X, y, y, None, np.random.RandomState(0))
    folds = StratifiedKFold(
        5, shuffle=True, random_state=np.random.RandomState(0).randint(2**31 - 1)
    )
    expected = cross_val_predict(
        KNeighborsClassifier(1), X, y, cv=folds, method="predict_proba"
    )
    np.testing.assert_allclose(batches.inputs[1][:, 1].numpy(), expected)
    # trained on in-sample predictions instead, it would trust 1-NN
    prefit = [(n, clone(e).fit(X, y)) for n, e in pool]
    naive = HardGateClassifier(estimators=prefit, cv="prefit", **kw).fit(X, y)
    assert naive.predict_gate(X)[:, 1].mean() > 0.8


def test_int_cv_shuffles_the_rows_so_sorted_rows_do_not_mislead_the_gate():
    # rows sorted by the feature the class depends on: folds in the rows'
    # order are slabs of x0, so a k-NN's out-of-fold predictions are
    # extrapolations (chance), while at prediction time it interpolates
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(400, 2))
    y = (np.sin(4 * X[:, 0]) > 0).astype(int)
    order = np.argsort(X[:300, 0])
    X_sorted, y_sorted = X[:300][order], y[:300][order]
    X_test, y_test = X[300:], y[300:]
    pool = [("logreg", LogisticRegression()), ("knn", KNeighborsClassifier(5))]
    kw = dict(estimators=pool, max_epochs=20, random_state=0)
    gate = HardGateClassifier(**kw).fit(X_sorted, y_sorted)
    shuffled = HardGateClassifier(**kw).fit(X[:300], y[:300])
    # cv=5 sees the same out-of-fold accuracies whatever the rows' order
    np.testing.assert_allclose(gate.oof_scores_, shuffled.oof_scores_, atol=0.03)
    assert gate.oof_scores_[1] > 0.8
    assert gate.score(X_test, y_test) > 0.8
    # a splitter is used as given: StratifiedKFold(5) keeps the rows' order,
    # and the k-NN looks no better than chance, so the gate prefers logreg
    ordered = HardGateClassifier(cv=StratifiedKFold(5), **kw).fit(X_sorted, y_sorted)
    assert ordered.oof_scores_[1] < 0.6
    assert ordered.score(X_test, y_test) < 0.7
    # reproducible: the folds are seeded from random_state
    again = HardGateClassifier(**kw).fit(X_sorted, y_sorted)
    np.testing.assert_array_equal(again.oof_scores_, gate.oof_scores_)
    np.testing.assert_array_equal(again.predict(X_test), gate.predict(X_test))


def test_regressor_int_cv_shuffles_the_rows():
    # rows sorted by the target: unshuffled KFold folds are ranges of y
    X, y = make_regression(n_samples=200, n_features=3, noise=5.0, random_state=0)
    order = np.argsort(y)
    X, y = X[order], y[order]
    pool = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3))]
    kw = dict(estimators=pool, max_epochs=5, random_state=0)
    gate = HardGateRegressor(**kw).fit(X, y)
    ordered = HardGateRegressor(cv=KFold(5), **kw).fit(X, y)
    # out-of-fold R^2 of each model: near its in-distribution value when
    # shuffled, far below it (extrapolating to a range of y) when ordered
    assert gate.oof_scores_.min() > 0.6
    assert ordered.oof_scores_[1] < gate.oof_scores_[1] - 0.3


def test_oof_scores_and_the_gate_starting_at_the_best_model():
    X, y = make_classification(
        n_samples=200, n_features=5, n_informative=3, flip_y=0.1, random_state=1
    )
    pool = [
        ("tree", DecisionTreeClassifier(max_depth=1, random_state=0)),
        ("logreg", LogisticRegression()),
        ("1nn", KNeighborsClassifier(1)),
    ]
    # lr so small that the gate stays where it starts; the prior alone
    kw = dict(
        estimators=pool, max_epochs=2, lr=1e-9, consensus_weight=0.0, random_state=0
    )
    clf = HardGateClassifier(**kw).fit(X, y)
    # the fit's third draw seeds the shuffled folds (after the torch and the
    # batch-shuffling seeds)
    seed = np.random.RandomState(0).randint(2**31 - 1, size=3)[2]
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    by_hand = [
        (cross_val_predict(clone(e), X, y, cv=folds) == y).mean() for _, e in pool
    ]
    np.testing.assert_allclose(clf.oof_scores_, by_hand)
    best = int(np.argmax(by_hand))
    assert best == 1  # logistic regression, on this data
    assert (clf.predict_gate(X).argmax(1) == best).all()
    proba = clf.predict_gate_proba(X)
    np.testing.assert_allclose(proba[:, best], np.exp(2) / (np.exp(2) + 2), rtol=1e-5)
    # without the prior the gate starts from random weights: its choice
    # depends on the sample
    random_start = HardGateClassifier(best_model_prior=0.0, **kw).fit(X, y)
    assert len(np.unique(random_start.predict_gate(X).argmax(1))) > 1
    assert not np.allclose(random_start.predict_gate_proba(X), proba)

    # regressors: R^2 of the out-of-fold predictions
    Xr = np.random.RandomState(0).uniform(-2, 2, size=(150, 2))
    yr = Xr[:, 0] ** 2 + 0.1 * Xr[:, 1]
    rpool = [
        ("line", LinearRegression()),
        ("tree", DecisionTreeRegressor(random_state=0)),
    ]
    reg = HardGateRegressor(estimators=rpool, max_epochs=2, lr=1e-9, random_state=0)
    reg.fit(Xr, yr)
    folds = KFold(5, shuffle=True, random_state=seed)  # the same third draw
    expected = [
        r2_score(yr, cross_val_predict(clone(e), Xr, yr, cv=folds)) for _, e in rpool
    ]
    # the target is kept in the net's float32
    np.testing.assert_allclose(reg.oof_scores_, expected, rtol=1e-6)
    assert (reg.predict_gate(Xr).argmax(1) == int(np.argmax(expected))).all()


def test_untrained_gate_with_consensus_is_the_accuracy_weighted_vote():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    pool = [
        ("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
        ("naive_bayes", GaussianNB()),
        ("knn", KNeighborsClassifier(5)),
    ]
    # lr so small that the gate stays where it starts
    clf = HardGateClassifier(
        estimators=pool,
        max_epochs=1,
        lr=1e-9,
        best_model_prior=0.01,
        consensus_weight=10.0,
        random_state=0,
    ).fit(X, y)
    # by hand: the weighted pool's distribution (weights: vote_weights_,
    # tested on their own below), each model's class looked up in it
    weights = clf.vote_weights_ / clf.vote_weights_.sum()
    proba = np.stack([e.predict_proba(X) for e in clf.estimators_], 1)
    support = np.einsum("e,nec->nc", weights, proba)
    chosen = proba.argmax(2)
    logits = 10.0 * np.log(np.take_along_axis(support, chosen, 1))
    logits[:, np.argmax(clf.oof_scores_)] += 0.01
    np.testing.assert_array_equal(clf.predict_gate(X).argmax(1), logits.argmax(1))
    np.testing.assert_allclose(
        clf.predict_gate_proba(X),
        np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
        rtol=1e-4,
        atol=1e-6,
    )


def _paired_vote_weights(scores, per_sample, w, scale):
    """exp(-gap / max(scale, se)), written out sample by sample."""
    best = int(np.argmax(scores))
    out = []
    for e in range(per_sample.shape[1]):
        d = per_sample[:, best] - per_sample[:, e]
        mean = np.sum(w * d) / np.sum(w)
        se = np.sqrt(np.sum(w**2 * (d - mean) ** 2)) / np.sum(w)
        out.append(np.exp(-(scores[best] - scores[e]) / max(scale, se)))
    return np.array(out)


def test_vote_weights_by_hand_classifier():
    # precomputed outputs of three models on noise-free labels: model 0 right
    # on 90 %, model 1 on 88 % (a gap within the noise), model 2 on 60 %
    rng = np.random.RandomState(0)
    n = 400
    y = rng.randint(0, 2, n)
    right = np.stack([rng.rand(n) < p for p in (0.9, 0.88, 0.6)], 1)
    said = np.where(right, y[:, None], 1 - y[:, None])
    proba = [np.eye(2)[said[:, e]] * 0.6 + 0.2 for e in range(3)]
    X = np.hstack([rng.normal(size=(n, 2))] + proba)
    w = rng.uniform(0.5, 2.0, n)
    clf = HardGateClassifier(
        base_output_columns=[[2, 3], [4, 5], [6, 7]], max_epochs=1, random_state=0
    ).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(
        clf.oof_scores_, [np.average(right[:, e], weights=w) for e in range(3)]
    )
    expected = _paired_vote_weights(clf.oof_scores_, right.astype(float), w, 0.01)
    np.testing.assert_allclose(clf.vote_weights_, expected, rtol=1e-10, atol=1e-12)
    # the other of the near-tie votes with most of the best one's weight,
    # which the fixed scale 0.01 alone would cut to exp(-gap / 0.01) (about
    # 1/3 here); the weak model is out
    best = int(np.argmax(clf.oof_scores_[:2]))
    gap = clf.oof_scores_[best] - clf.oof_scores_[1 - best]
    assert gap > 0.01
    assert clf.vote_weights_[best] == 1.0
    assert clf.vote_weights_[1 - best] > max(0.5, 1.5 * np.exp(-gap / 0.01))
    assert clf.vote_weights_[2] < 1e-3


def test_vote_weights_by_hand_regressor():
    # two models with almost the same noise, one far noisier, on 100 samples
    rng = np.random.RandomState(1)
    n = 100
    y = rng.normal(size=(n, 2)) * [1.0, 3.0]
    outputs = [
        y + rng.normal(scale=s, size=y.shape) * [1.0, 3.0] for s in (0.8, 0.85, 3.0)
    ]
    X = np.hstack([rng.normal(size=(n, 1))] + outputs)
    w = rng.uniform(0.5, 2.0, n)
    reg = HardGateRegressor(
        base_output_columns=[[1, 2], [3, 4], [5, 6]], max_epochs=1, random_state=0
    ).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(
        reg.oof_scores_,
        [r2_score(y, o, sample_weight=w) for o in outputs],
    )
    # a sample's part of R^2 (up to a constant): minus its squared residuals
    # over each output's weighted total sum of squares, times sum(w)
    total = (w[:, None] * (y - np.average(y, axis=0, weights=w)) ** 2).sum(0)
    per_sample = np.stack(
        [-(w.sum() * (o - y) ** 2 / total).mean(1) for o in outputs], 1
    )
    np.testing.assert_allclose(
        np.average(per_sample, axis=0, weights=w) + 1, reg.oof_scores_
    )
    expected = _paired_vote_weights(reg.oof_scores_, per_sample, w, 0.03)
    np.testing.assert_allclose(reg.vote_weights_, expected, rtol=1e-6)
    # the R^2 gap of the near-tie is larger than the scale 0.03 but within
    # its noise: the weight stays high, where exp(-gap / 0.03) is about 0.25
    best = int(np.argmax(reg.oof_scores_[:2]))
    gap = reg.oof_scores_[best] - reg.oof_scores_[1 - best]
    assert gap > 0.03
    assert reg.vote_weights_[1 - best] > max(0.5, 2 * np.exp(-gap / 0.03))
    assert reg.vote_weights_[2] < 1e-3


def test_consensus_overrules_the_best_model_where_the_others_agree():
    # three precomputed models, each right with probability 0.8 except on its
    # own third of the samples, where it says the wrong class with 0.6: every
    # model has accuracy 2/3, and on each third the two others outvote the
    # wrong one (support 2/3 against 1/3), so the weighted vote is always right
    rng = np.random.RandomState(0)
    n = 300
    y = rng.randint(0, 2, n)
    block = np.arange(n) % 3
    columns = [rng.normal(size=(n, 2))]
    for e in range(3):
        p_true = np.where(block == e, 0.4, 0.8)
        p1 = np.where(y == 1, p_true, 1 - p_true)
        columns.append(np.column_stack([1 - p1, p1]))
    X = np.hstack(columns)
    kw = dict(
        base_output_columns=[[2, 3], [4, 5], [6, 7]],
        max_epochs=1,
        lr=1e-9,
        random_state=0,
    )
    clf = HardGateClassifier(consensus_weight=10.0, **kw).fit(X, y)
    np.testing.assert_allclose(clf.oof_scores_, [2 / 3] * 3)
    assert clf.score(X, y) == 1.0
    chosen = clf.predict_gate(X).argmax(1)
    assert (chosen != block).all()  # never the model that is wrong there
    # without the consensus the untrained gate is the best model (the first)
    prior_only = HardGateClassifier(consensus_weight=0.0, **kw).fit(X, y)
    assert (prior_only.predict_gate(X).argmax(1) == 0).all()
    assert prior_only.score(X, y) == pytest.approx(2 / 3)
    # 'auto': the features (noise) cannot tell the thirds apart, so the
    # trained gate alone stays near 2/3 and the vote is added
    kw.update(max_epochs=30, lr=1e-2)
    auto = HardGateClassifier(**kw).fit(X, y)
    assert auto.consensus_weight_ == 30.0
    assert auto.score(X, y) == 1.0
    # the weight is part of the saved state
    loaded = pickle.loads(pickle.dumps(auto))
    assert loaded.consensus_weight_ == 30.0
    np.testing.assert_array_equal(loaded.predict_gate(X), auto.predict_gate(X))


def test_cv_as_splitter_and_list_of_splits_agree():
    X, y = blobs()
    kw = dict(max_epochs=10, random_state=0, dtype="float64")
    a = HardGateClassifier(cv=KFold(4), **kw).fit(X, y)
    b = HardGateClassifier(cv=list(KFold(4).split(X, y)), **kw).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


# --------------------------------------------------------------- learning
@pytest.mark.slow
@pytest.mark.parametrize("gate", ["straight_through", "gumbel"])
def test_learns_which_model_is_right_where(gate):
    X, y, _ = two_regions(600, 0)
    X_test, y_test, left = two_regions(2000, 1)
    pool = [
        ("a", on_column(1, LogisticRegression())),
        ("b", on_column(2, LogisticRegression())),
    ]
    clf = HardGateClassifier(
        estimators=pool,
        gate=gate,
        gate_hidden_layer_sizes=(8,),
        lr=0.03,
        max_epochs=60,
        random_state=0,
    ).fit(X, y)
    single = max(np.mean(e.predict(X_test) == y_test) for e in clf.estimators_)
    right = np.stack([e.predict(X_test) == y_test for e in clf.estimators_])
    oracle = np.mean(right.any(0))
    acc = clf.score(X_test, y_test)
    # measured: single ~0.75, oracle ~0.99, gate ~0.98 (ST) / ~0.98 (Gumbel)
    assert acc > single + 0.15, (acc, single)
    assert acc > oracle - 0.03, (acc, oracle)
    picked_right = np.mean(clf.predict_gate(X_test).argmax(1) == np.where(left, 0, 1))
    assert picked_right > 0.9
    # regional experts: the check leaves the vote out. With one 80/20 split
    # (b = 4, c = 2) it kept the vote for the Gumbel gate and lost 0.05; the
    # cross-fitted check counts every sample
    assert clf.consensus_weight_ == 0.0


def test_auto_check_is_cross_fitted_over_three_folds(monkeypatch):
    # every training sample is held out exactly once, by three gates
    X, y, _ = two_regions(150, 0)
    pool = [
        ("a", on_column(1, LogisticRegression())),
        ("b", on_column(2, LogisticRegression())),
    ]
    held = []
    original = HardGateClassifier.predict_proba

    def recording_predict_proba(self, X):
        if self.base_output_columns is not None:  # the check's gates
            held.append(np.asarray(X)[:, :3])
        return original(self, X)

    monkeypatch.setattr(HardGateClassifier, "predict_proba", recording_predict_proba)
    HardGateClassifier(estimators=pool, max_epochs=3, random_state=0).fit(X, y)
    # each gate predicts its fold twice (without and with the vote)
    assert len(held) == 6
    rows = np.concatenate(held[::2])
    np.testing.assert_array_equal(
        np.sort(rows, axis=0), np.sort(X.astype(np.float32), axis=0)
    )
    assert not np.array_equal(held[0], held[2])


def no_skill(n=300, seed=0):
    """Features independent of an imbalanced label (about 65 % class 1)."""
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, 4)), (rng.uniform(size=n) < 0.65).astype(int)


def test_prior_fallback_predicts_the_class_prior_where_the_pool_has_no_skill():
    X, y = no_skill()
    X_new = np.random.RandomState(1).normal(size=(50, 4))
    with pytest.warns(PriorFallbackWarning, match="prior_fallback=False"):
        clf = HardGateClassifier(max_epochs=20, random_state=0).fit(X, y)
    assert clf.predicts_prior_
    # DummyClassifier(strategy='prior')
    np.testing.assert_allclose(
        clf.predict_proba(X_new), np.tile(np.bincount(y) / len(y), (50, 1)), atol=1e-6
    )
    assert (clf.predict(X_new) == 1).all()
    # the gate is still there to read, and it still picks one model per sample
    gate = clf.predict_gate(X_new)
    assert gate.shape == (50, 3) and (gate.sum(axis=1) == 1).all()
    # off: the same gate predicts (not the majority everywhere), no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriorFallbackWarning)
        kept = HardGateClassifier(
            max_epochs=20, random_state=0, prior_fallback=False
        ).fit(X, y)
    assert not kept.predicts_prior_
    assert len(np.unique(kept.predict(X_new))) == 2
    np.testing.assert_array_equal(kept.predict_gate(X_new), gate)


def test_prior_fallback_is_the_weighted_prior_also_with_a_fixed_consensus():
    X, y = no_skill(seed=2)
    w = np.where(y == 0, 3.0, 1.0)  # class 0 now weighs more in all
    with pytest.warns(PriorFallbackWarning):
        clf = HardGateClassifier(
            consensus_weight=5.0, max_epochs=20, random_state=0
        ).fit(X, y, sample_weight=w)
    assert clf.predicts_prior_ and clf.consensus_weight_ == 5.0
    prior = np.bincount(y, w) / w.sum()
    np.testing.assert_allclose(
        clf.predict_proba(X[:5]), np.tile(prior, (5, 1)), atol=1e-6
    )
    assert (clf.predict(X[:5]) == prior.argmax()).all() and prior.argmax() == 0


def test_prior_fallback_keeps_a_gate_with_skill_its_base_models_lack():
    # each base model sees one column and is at chance on the whole data: the
    # skill is the gate's, which the check measures held out
    X, y, _ = two_regions(300, 0)
    pool = [
        ("a", on_column(1, LogisticRegression())),
        ("b", on_column(2, LogisticRegression())),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriorFallbackWarning)
        clf = HardGateClassifier(
            estimators=pool, max_epochs=60, lr=0.03, random_state=0
        ).fit(X, y)
    assert not clf.predicts_prior_
    assert max(clf.oof_scores_) < 0.8 and clf.score(X, y) > 0.85


def test_prior_fallback_keeps_calibrated_probabilities_that_beat_the_prior():
    # a rare class that no sample is more likely than not to belong to: no
    # accuracy above the majority's, but the base model's probabilities have
    # a lower log-loss than the prior's, so the gate is kept; random
    # probabilities are worse on both and fall back
    rng = np.random.RandomState(0)
    x = rng.normal(size=(600, 2))
    p = 1 / (1 + np.exp(-(-2.0 + 1.2 * x[:, 0])))
    y = (rng.uniform(size=600) < p).astype(int)
    calibrated = np.c_[1 - p, p]
    noise = rng.uniform(0.05, 0.95, size=600)
    noisy = np.c_[1 - noise, noise]
    params = dict(base_output_columns=[[2, 3], [4, 5]], max_epochs=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriorFallbackWarning)
        kept = HardGateClassifier(**params).fit(np.hstack([x, calibrated, noisy]), y)
    assert not kept.predicts_prior_
    assert (kept.predict(np.hstack([x, calibrated, noisy])) == 0).mean() > 0.95
    with pytest.warns(PriorFallbackWarning):
        fell = HardGateClassifier(**params).fit(np.hstack([x, noisy, noisy[::-1]]), y)
    assert fell.predicts_prior_


def test_prior_fallback_is_ruled_out_by_a_base_model_with_skill(monkeypatch):
    X, y = load_breast_cancer(return_X_y=True)
    X, y = StandardScaler().fit_transform(X)[:300], y[:300]
    fits = []
    original_fit = HardGateClassifier.fit

    def counting_fit(self, X, y, **kwargs):
        if self.base_output_columns is not None:  # the check's gates
            fits.append(len(X))
        return original_fit(self, X, y, **kwargs)

    monkeypatch.setattr(HardGateClassifier, "fit", counting_fit)
    # a fixed consensus weight: the base models' skill settles it, no gate
    # is fitted for the check
    clf = HardGateClassifier(consensus_weight=5.0, max_epochs=5, random_state=0)
    assert not clf.fit(X, y).predicts_prior_ and fits == []
    # 'auto' fits the check's three gates; even where they are wrong on every
    # held-out sample, the base models' skill keeps the gate
    original_proba = HardGateClassifier.predict_proba

    def wrong_proba(self, X):
        proba = original_proba(self, X)
        return proba[:, ::-1] if self.base_output_columns is not None else proba

    monkeypatch.setattr(HardGateClassifier, "predict_proba", wrong_proba)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriorFallbackWarning)
        clf = HardGateClassifier(max_epochs=5, random_state=0).fit(X, y)
    assert len(fits) == 3 and not clf.predicts_prior_
    assert clf.score(X, y) > 0.9


def test_prior_fallback_is_ruled_out_by_base_probabilities_with_skill(monkeypatch):
    # a rare class: the base model's accuracy is the majority's, its log-loss
    # clearly lower; even with the check's gates wrong everywhere, that keeps
    # the gate, while the same pool with uninformative columns falls back
    rng = np.random.RandomState(0)
    x = rng.normal(size=(600, 2))
    p = 1 / (1 + np.exp(-(-2.0 + 1.2 * x[:, 0])))
    y = (rng.uniform(size=600) < p).astype(int)
    noise = rng.uniform(0.05, 0.95, size=600)
    calibrated, noisy = np.c_[1 - p, p], np.c_[1 - noise, noise]
    original_proba = HardGateClassifier.predict_proba

    def wrong_proba(self, X):
        proba = original_proba(self, X)
        return (
            proba[:, ::-1] if self.gate_columns_ is not None and len(X) < 600 else proba
        )

    monkeypatch.setattr(HardGateClassifier, "predict_proba", wrong_proba)
    params = dict(base_output_columns=[[2, 3], [4, 5]], max_epochs=5, random_state=0)
    X = np.hstack([x, calibrated, noisy])
    assert (calibrated.argmax(axis=1) != y).mean() >= (y != 0).mean() - 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriorFallbackWarning)
        assert not HardGateClassifier(**params).fit(X, y).predicts_prior_
    with pytest.warns(PriorFallbackWarning):
        fell = HardGateClassifier(**params).fit(np.hstack([x, noisy, noisy[::-1]]), y)
    assert fell.predicts_prior_


def test_prior_fallback_needs_enough_data_to_decide():
    X, y = no_skill(n=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PriorFallbackWarning)
        clf = HardGateClassifier(max_epochs=5, random_state=0).fit(X, y)
    assert not clf.predicts_prior_


def test_set_fallback_replaces_the_prediction_exactly():
    net = HardGateNetwork(3, 2, 3, task="classification").eval()
    x, base = torch.randn(5, 3), torch.softmax(torch.randn(5, 2, 3), dim=2)
    before = net(x, base)
    fallback = torch.log(torch.tensor([0.2, 0.3, 0.5]))
    net.set_fallback(fallback)
    after = net(x, base)
    torch.testing.assert_close(after[0], fallback.expand(5, 3), rtol=0, atol=0)
    for a, b in zip(before[1:], after[1:]):  # gate, soft gate, per model
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert "fallback" in net.state_dict() and "fallback_weight" in net.state_dict()
    net.set_fallback(None)
    torch.testing.assert_close(net(x, base)[0], before[0], rtol=0, atol=0)
    with pytest.raises(ValueError, match="shape"):
        net.set_fallback([0.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        net.set_fallback([0.0, -np.inf, 0.0])


@pytest.mark.slow
def test_seed_scenario_three_svrs_sigmoid_gate_tanh_output():
    # the Keras question: three SVMs, gate Dense(20, sigmoid) -> 3, one-hot,
    # dot product with the base predictions, Dense(1, tanh), MSE
    X, y, region = three_regions(600, 0)
    X_test, y_test, region_test = three_regions(2000, 1)
    reg = HardGateRegressor(
        estimators=[(f"svr{k}", on_column(k + 1, SVR())) for k in range(3)],
        gate_hidden_layer_sizes=(20,),
        activation="logistic",
        output_activation="tanh",
        lr=0.03,
        max_epochs=100,
        random_state=0,
    ).fit(X, y)
    var = np.var(y_test)
    preds = np.stack([e.predict(X_test) for e in reg.estimators_], 1)
    single = max(1 - np.mean((p - y_test) ** 2) / var for p in preds.T)
    oracle = 1 - np.mean(np.min((preds - y_test[:, None]) ** 2, 1)) / var
    r2 = reg.score(X_test, y_test)
    # measured: every single SVR R^2 < 0, oracle ~0.96, hard gate ~0.95
    assert single < 0.1 and r2 > 0.85 and r2 <= oracle + 0.02, (single, r2, oracle)
    assert np.mean(reg.predict_gate(X_test).argmax(1) == region_test) > 0.9
    assert isinstance(reg.net_.module_.output_layer[1], torch.nn.Tanh)


def test_seed_scenario_three_svcs():
    X, y, left = two_regions(300, 0)
    pool = [
        ("svc_x1", on_column(1, CalibratedClassifierCV(SVC(), ensemble=False))),
        ("svc_x2", on_column(2, CalibratedClassifierCV(SVC(), ensemble=False))),
        ("svc_all", CalibratedClassifierCV(SVC(kernel="linear"), ensemble=False)),
    ]
    clf = HardGateClassifier(
        estimators=pool,
        gate_hidden_layer_sizes=(20,),
        lr=0.03,
        max_epochs=60,
        random_state=0,
    ).fit(X, y)
    assert is_one_hot(clf.predict_gate(X))
    single = max(est.score(X, y) for est in clf.estimators_)
    assert clf.score(X, y) > single + 0.1, (clf.score(X, y), single)
    # regional experts: 'auto' keeps the learned gate, without the vote
    assert clf.consensus_weight_ == 0.0
    assert float(clf.net_.module_.consensus_weight) == 0.0
    # below 50 samples there is too little to hold out: the vote is kept
    small = clone(clf).fit(X[:40], y[:40])
    assert small.consensus_weight_ == 30.0


def _cv_gate_and_single_best(load):
    """Mean test accuracy of the gate, the single best base model and the
    oracle, by issue 11's protocol: stratified 5-fold CV repeated twice,
    standardised features, the issue's pool (the SVC with Platt-scaled
    probabilities); the single best base model is the pool member with the
    best 5-fold CV accuracy on the training fold (= the gate's oof_scores_)."""
    X, y = load(return_X_y=True)
    gate_scores, best_scores, oracle = [], [], []
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0)
    for k, (train, test) in enumerate(folds.split(X, y)):
        scaler = StandardScaler().fit(X[train])
        X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
        pool = [
            ("logreg", LogisticRegression(max_iter=1000)),
            ("knn", KNeighborsClassifier(5)),
            ("tree", DecisionTreeClassifier(max_depth=5)),
            ("naive_bayes", GaussianNB()),
            ("svc", CalibratedClassifierCV(SVC(), ensemble=False)),
        ]
        clf = HardGateClassifier(estimators=pool, random_state=k)
        clf.fit(X_train, y[train])
        gate_scores.append(clf.score(X_test, y[test]))
        best = clf.estimators_[int(np.argmax(clf.oof_scores_))]
        best_scores.append(best.score(X_test, y[test]))
        right = [e.predict(X_test) == y[test] for e in clf.estimators_]
        oracle.append(np.any(right, axis=0).mean())
    return np.mean(gate_scores), np.mean(best_scores), np.mean(oracle)


@pytest.mark.slow
def test_real_data_cv_at_or_above_the_single_best_base_model(capsys):
    gaps = []
    for load in (load_wine, load_breast_cancer):
        gate, best, oracle = _cv_gate_and_single_best(load)
        with capsys.disabled():
            print(f"\n{load.__name__}: single best {best:.4f}, gate {gate:.4f}")
        # never more than issue 11's tolerance below the best model
        assert best - 0.005 <= gate <= oracle
        gaps.append(gate - best)
    # and above it over the two sets. Measured (single best / gate): wine
    # 0.9748 / 0.9860, breast_cancer 0.9772 / 0.9754. Ten folds move a gap by
    # a few test samples: over the 50 folds of the benchmark the gate is
    # above the best model on both (+0.0073 and +0.0011)
    assert np.mean(gaps) > 0


# ------------------------------------------------------------ sklearn tools
def test_grid_search_over_gate_size_and_temperature_in_pipeline():
    X, y, _ = two_regions(240, 0)
    pipe = make_pipeline(
        StandardScaler(),
        HardGateClassifier(
            estimators=[
                ("a", on_column(1, LogisticRegression())),
                ("b", on_column(2, LogisticRegression())),
            ],
            max_epochs=30,
            lr=0.03,
            random_state=0,
        ),
    )
    search = GridSearchCV(
        pipe,
        {
            "hardgateclassifier__gate_hidden_layer_sizes": [(), (8,)],
            "hardgateclassifier__temperature": [0.5, 2.0],
        },
        cv=3,
    ).fit(X, y)
    assert search.best_score_ > 0.85
    assert len(search.cv_results_["params"]) == 4
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(restored.predict_proba(X), search.predict_proba(X))


def test_pickle_keeps_fitted_base_models():
    X, y = blobs()
    reg = HardGateRegressor(
        estimators=[("knn", KNeighborsRegressor()), ("tree", DecisionTreeRegressor())],
        max_epochs=5,
        random_state=0,
    ).fit(X, X[:, 0])
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))
    np.testing.assert_array_equal(restored.predict_gate(X), reg.predict_gate(X))
    np.testing.assert_array_equal(
        restored.named_estimators_.knn.predict(X), reg.named_estimators_.knn.predict(X)
    )


@pytest.mark.parametrize("gate", ["straight_through", "gumbel"])
def test_reproducible_and_global_rng_untouched(gate):
    X, y = blobs()
    kw = dict(gate=gate, max_epochs=8, lr=0.05, random_state=3)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = HardGateClassifier(**kw).fit(X, y)
    after = torch.rand(3)
    torch.testing.assert_close(before, after)
    b = HardGateClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.predict_gate(X), b.predict_gate(X))


def test_gumbel_temperature_is_annealed_to_final():
    X, y = blobs()
    clf = HardGateClassifier(
        gate="gumbel",
        temperature=2.0,
        final_temperature=0.05,
        max_epochs=6,
        tol=0,
        n_iter_no_change=100,
        random_state=0,
    ).fit(X, y)
    assert clf.n_iter_ == 6
    assert clf.net_.module_.temperature == pytest.approx(0.05)


def test_multioutput_regression():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 3)
    Y = np.c_[X[:, 0], 2 * X[:, 1]]
    reg = HardGateRegressor(max_epochs=10, lr=0.03, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (120, 2) and reg.n_outputs_ == 2
    assert reg.score(X, Y) > 0.8
    assert is_one_hot(reg.predict_gate(X))


def test_sample_weight_reaches_base_models_or_warns():
    X, y = blobs()
    w = np.r_[np.zeros(50), np.ones(100)]
    clf = HardGateClassifier(
        estimators=[("tree", DecisionTreeClassifier(random_state=0))],
        max_epochs=2,
        random_state=0,
    ).fit(X, y, sample_weight=w)
    ref = DecisionTreeClassifier(random_state=0).fit(X[50:], y[50:])
    np.testing.assert_array_equal(clf.estimators_[0].predict(X), ref.predict(X))
    with pytest.warns(BaseModelSampleWeightWarning, match="'knn'") as record:
        HardGateClassifier(
            estimators=[("knn", KNeighborsClassifier())], max_epochs=1
        ).fit(X, y, sample_weight=w + 1)
    # the warning points at the user's line, not inside the library
    assert record[0].filename == __file__


# ------------------------------------------------------------------ errors
def test_errors_name_the_problem():
    X, y = blobs()
    with pytest.raises(ValueError, match="'svc' \\(SVC\\) has no predict_proba"):
        HardGateClassifier(estimators=[("svc", SVC())], max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="non-empty"):
        HardGateClassifier(estimators=[], max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="duplicate names: \\['a'\\]"):
        HardGateClassifier(
            estimators=[("a", GaussianNB()), ("a", GaussianNB())], max_epochs=1
        ).fit(X, y)
    with pytest.raises(ValueError, match="\\(name, estimator\\) pairs"):
        HardGateClassifier(estimators=[GaussianNB()], max_epochs=1).fit(X, y)
    with pytest.raises(TypeError, match="instance for 'nb' \\(GaussianNB\\(\\)\\)"):
        HardGateClassifier(estimators=[("nb", GaussianNB)], max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="'nb' \\(GaussianNB\\) is not fitted"):
        HardGateClassifier(
            estimators=[("nb", GaussianNB())], cv="prefit", max_epochs=1
        ).fit(X, y)
    with pytest.raises(ValueError, match="'gate' parameter"):
        HardGateClassifier(gate="argmax").fit(X, y)
    with pytest.raises(ValueError, match="'temperature' parameter"):
        HardGateClassifier(temperature=0).fit(X, y)
    with pytest.raises(ValueError, match="'output_activation' parameter"):
        HardGateRegressor(output_activation="softmax").fit(X, y)
    with pytest.raises(ValueError, match="gate_hidden_layer_sizes"):
        HardGateClassifier(gate_hidden_layer_sizes=(0,), max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="at least 5 samples"):
        HardGateClassifier(max_epochs=1).fit(X[:4], [0, 1, 0, 1])
    clf = HardGateClassifier(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but HardGateClassifier"):
        clf.predict_gate(X[:, :4])


# ------------------------------------------------------ nested parameters
def test_base_model_parameters_through_set_params_and_grid_search():
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    gate = HardGateClassifier(
        estimators=[
            ("logreg", LogisticRegression()),
            ("tree", DecisionTreeClassifier(max_depth=2)),
            ("nb", GaussianNB()),
        ],
        gate_hidden_layer_sizes=(4,),
        max_epochs=3,
        random_state=0,
    )
    params = gate.get_params()
    assert params["logreg__C"] == 1.0 and params["tree__max_depth"] == 2
    assert params["nb"] is gate.estimators[2][1]
    assert "logreg" not in gate.get_params(deep=False)
    gate.set_params(logreg__C=0.5, tree__max_depth=3)
    assert gate.estimators[0][1].C == 0.5 and gate.estimators[1][1].max_depth == 3
    # the nested values reach the fitted base models
    gate.fit(X, y)
    assert gate.named_estimators_["tree"].max_depth == 3
    assert gate.named_estimators_["logreg"].C == 0.5
    # replace or drop a base model by name
    gate.set_params(nb="drop")
    gate.fit(X, y)
    assert list(gate.named_estimators_) == ["logreg", "tree"]
    assert gate.predict_gate(X).shape == (120, 2)
    # GridSearchCV over nested parameters and 'drop' (issue: "Invalid
    # parameter 'svc'" before)
    search = GridSearchCV(
        clone(gate).set_params(nb=GaussianNB()),
        {"tree__max_depth": [1, 4], "nb": [GaussianNB(), "drop"]},
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.named_estimators_["tree"].max_depth in (1, 4)
    # clone keeps the nested settings and copies the base models
    copy = clone(gate)
    assert copy.get_params()["tree__max_depth"] == 3
    assert copy.estimators[0][1] is not gate.estimators[0][1]


def test_base_model_name_conflicts_and_drop_errors():
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    gate = HardGateClassifier(
        estimators=[("lr", LogisticRegression()), ("nb", GaussianNB())]
    )
    with pytest.raises(ValueError, match=r"names \['lr'\] are also parameters.*"):
        gate.fit(X, y)
    gate = HardGateRegressor(estimators=[("a", "drop"), ("b", "drop")])
    with pytest.raises(ValueError, match="every estimator is 'drop'"):
        gate.fit(X, y.astype(float))
    # with estimators=None there are no nested parameters to set
    assert not any("__" in key for key in HardGateClassifier().get_params())


@pytest.mark.parametrize("gate_kind", ["straight_through", "gumbel"])
def test_predict_gate_proba_is_the_soft_gate_behind_the_choice(gate_kind):
    X, y = make_classification(n_samples=150, n_features=5, random_state=0)
    gate = HardGateClassifier(
        estimators=[("logreg", LogisticRegression()), ("nb", GaussianNB())],
        gate=gate_kind,
        temperature=0.5,
        lr=0.03,
        max_epochs=10,
        random_state=0,
    ).fit(X, y)
    proba = gate.predict_gate_proba(X)
    assert proba.shape == (150, 2) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(
        proba.argmax(axis=1), gate.predict_gate(X).argmax(axis=1)
    )
    # it is the softmax of the gate network's logits plus the consensus
    # (over the temperature for the straight-through gate)
    module = gate.net_.module_
    base = np.stack([e.predict_proba(X) for e in gate.estimators_], 1)
    with torch.no_grad():
        logits = module.gate(torch.as_tensor(X, dtype=torch.float32)).double()
        consensus = module.consensus(torch.as_tensor(base, dtype=torch.float32))
    logits = logits + gate.consensus_weight_ * consensus.double()
    scale = 0.5 if gate_kind == "straight_through" else 1.0
    np.testing.assert_allclose(
        proba, torch.softmax(logits / scale, dim=1).numpy(), rtol=1e-5, atol=1e-6
    )


# ------------------------------------------------ precomputed base outputs
def seed_precomputed_regression(n=600, seed=0):
    """The seed's gater: data columns, then three SVM outputs; each SVM is
    accurate in its own third of the data. y lies in (-1, 1) (tanh output)."""
    rng = np.random.RandomState(seed)
    data = rng.uniform(-1, 1, size=(n, 2))
    y = 0.8 * np.sin(2 * data[:, 0]) * np.cos(data[:, 1])
    region = np.digitize(data[:, 0], [-1 / 3, 1 / 3])
    svm = y[:, None] + 0.4 * rng.normal(size=(n, 3))
    svm[np.arange(n), region] = y + 0.02 * rng.normal(size=n)
    return np.hstack([data, svm]), y, region


def test_precomputed_base_outputs_seed_scenario():
    X, y, region = seed_precomputed_regression()
    X_test, y_test, region_test = seed_precomputed_regression(seed=1)
    gate = HardGateRegressor(
        base_output_columns=[2, 3, 4],
        output_activation="tanh",
        gate_hidden_layer_sizes=(20,),
        lr=0.01,
        max_epochs=150,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_array_equal(gate.gate_columns_, [0, 1])
    assert gate.n_features_in_ == 5 and gate.estimators_ == []
    # regional experts: the held-out check keeps the gate alone
    assert gate.consensus_weight_ == 0.0
    chosen = gate.predict_gate(X_test).argmax(axis=1)
    assert np.mean(chosen == region_test) > 0.9
    proba = gate.predict_gate_proba(X_test)
    np.testing.assert_array_equal(proba.argmax(axis=1), chosen)
    mse = np.mean((gate.predict(X_test) - y_test) ** 2)
    best_column = min(np.mean((X_test[:, k] - y_test) ** 2) for k in (2, 3, 4))
    assert mse < 0.25 * best_column
    # in a search, like any estimator on one matrix X
    search = GridSearchCV(gate, {"lr": [0.003, 0.01]}, cv=2).fit(X, y)
    assert search.best_score_ > 0.8


def noisy_copies(n, seed):
    """Data columns, then three base outputs that are the target plus
    independent noise (sd 0.30, 0.33, 0.36): no region where one is better,
    so the pool's mean is closer to the target than any one of them."""
    rng = np.random.RandomState(seed)
    data = rng.uniform(-1, 1, size=(n, 2))
    y = np.sin(2 * data[:, 0]) + data[:, 1]
    outputs = y[:, None] + rng.normal(size=(n, 3)) * np.array([0.30, 0.33, 0.36])
    return np.hstack([data, outputs]), y


def test_regressor_consensus_picks_near_the_pools_weighted_mean():
    X, y = noisy_copies(600, 0)
    X_test, y_test = noisy_copies(2000, 1)
    gate = HardGateRegressor(base_output_columns=[2, 3, 4], random_state=0)
    gate.fit(X, y)
    # scattered errors: 'auto' keeps the consensus
    assert gate.consensus_weight_ == 30.0
    module = gate.net_.module_
    weights = module.vote_weights.numpy()
    # the vote's weights are exp((R^2 - best R^2) / 0.03), normalised
    r2 = np.array([r2_score(y, X[:, k]) for k in (2, 3, 4)])
    expected = np.exp((r2 - r2.max()) / 0.03)
    np.testing.assert_allclose(weights, expected / expected.sum(), rtol=1e-5)
    best = min(np.mean((X_test[:, k] - y_test) ** 2) for k in (2, 3, 4))
    mse = np.mean((gate.predict(X_test) - y_test) ** 2)
    module.consensus_weight.fill_(0.0)
    mse_alone = np.mean((gate.predict(X_test) - y_test) ** 2)
    module.consensus_weight.fill_(30.0)
    # measured: 0.916 and 0.995 of the best column's MSE
    assert mse < 0.95 * best and mse_alone > 0.97 * best, (mse, mse_alone, best)
    # mostly the model closest to the weighted mean (the learned logits
    # override the rest); predict_gate_proba is the softmax of both
    closest = np.abs(X_test[:, 2:] - X_test[:, 2:] @ weights[:, None]).argmin(1)
    chosen = gate.predict_gate(X_test).argmax(1)
    assert np.mean(chosen == closest) > 0.65
    with torch.no_grad():
        logits = module.gate(torch.as_tensor(X_test[:, :2], dtype=torch.float32))
        base = torch.as_tensor(X_test[:, 2:, None], dtype=torch.float32)
        logits = logits + 30.0 * module.consensus(base)
    np.testing.assert_allclose(
        gate.predict_gate_proba(X_test), torch.softmax(logits, 1).numpy(), atol=1e-6
    )
    restored = pickle.loads(pickle.dumps(gate))
    assert restored.consensus_weight_ == 30.0
    np.testing.assert_array_equal(restored.predict(X_test), gate.predict(X_test))
    # below 50 samples the consensus is kept without a check
    assert clone(gate).fit(X[:40], y[:40]).consensus_weight_ == 30.0
    # a fixed weight is used in training too
    fixed = clone(gate).set_params(consensus_weight=2.0, max_epochs=5).fit(X, y)
    assert fixed.consensus_weight_ == 2.0 and fixed.net_.module_.consensus_in_training


@pytest.mark.slow
def test_regressor_real_data_cv_at_or_above_the_single_best_base_model(capsys):
    # diabetes, shuffled 5-fold CV, standardised features and target, the
    # pool of benchmarks/bench_hard_gate_regression.py
    X, y = load_diabetes(return_X_y=True)
    gate_scores, best_scores, alone_scores = [], [], []
    for k, (train, test) in enumerate(KFold(5, shuffle=True, random_state=0).split(X)):
        scaler = StandardScaler().fit(X[train])
        X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
        mean, sd = y[train].mean(), y[train].std()
        y_train, y_test = (y[train] - mean) / sd, (y[test] - mean) / sd
        pool = [
            ("ridge", Ridge()),
            ("knn", KNeighborsRegressor(5)),
            ("tree", DecisionTreeRegressor(max_depth=5)),
            ("svr", SVR()),
        ]
        reg = HardGateRegressor(estimators=pool, random_state=k).fit(X_train, y_train)
        gate_scores.append(reg.score(X_test, y_test))
        best = reg.estimators_[int(np.argmax(reg.oof_scores_))]
        best_scores.append(best.score(X_test, y_test))
        reg.net_.module_.consensus_weight.fill_(0.0)
        alone_scores.append(reg.score(X_test, y_test))
    gate, best, alone = map(np.mean, (gate_scores, best_scores, alone_scores))
    with capsys.disabled():
        print(f"\ndiabetes R^2: single best {best:.4f}, gate {gate:.4f}")
    # measured: single best 0.4896, gate 0.4943
    assert gate >= best, (gate, best, alone)


def test_precomputed_base_outputs_classifier_and_errors():
    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    a = LogisticRegression().fit(X[:100], y[:100]).predict_proba(X)
    b = GaussianNB().fit(X[:100], y[:100]).predict_proba(X)
    XP = np.hstack([X, a, b])
    clf = HardGateClassifier(
        base_output_columns=[[4, 5], [6, 7]], max_epochs=5, random_state=0
    ).fit(XP[100:], y[100:])
    assert clf.predict_proba(XP).shape == (200, 2)
    # the prediction is the chosen base model's probabilities
    chosen = clf.predict_gate(XP).argmax(axis=1)
    expected = np.where(chosen[:, None] == 0, a, b)
    np.testing.assert_allclose(clf.predict_proba(XP), expected, atol=1e-6)
    errors = [
        (dict(base_output_columns=[4, 5]), "names 1 column.*2 class probabilities"),
        (dict(base_output_columns=[[4, 9], [6, 7]]), "column index of X"),
        (dict(base_output_columns=[[4, 5], [5, 6]]), "reuses columns"),
        (
            dict(base_output_columns=[[4, 5]], estimators=[("nb", GaussianNB())]),
            "Set one of them to None",
        ),
        (dict(base_output_columns=[[0, 1], [2, 3]]), r"probabilities in \[0, 1\]"),
    ]
    for params, match in errors:
        with pytest.raises(ValueError, match=match):
            HardGateClassifier(**params, max_epochs=1).fit(XP, y)
    with pytest.raises(ValueError, match="gate needs at least one column"):
        HardGateClassifier(base_output_columns=[[0, 1], [2, 3]], max_epochs=1).fit(
            a.repeat(2, axis=1), y
        )


@pytest.mark.parametrize("cls", [HardGateClassifier, HardGateRegressor])
@pytest.mark.parametrize("weights", ["zeros first half", "tiny", "huge"])
def test_auto_consensus_check_with_extreme_sample_weights(cls, weights):
    # the held-out check runs from 50 samples (the fuzz suite's 40 stay below)
    X, y = make_classification(n_samples=120, n_features=4, random_state=0)
    # base models that take any positive weights quietly (ridge and kernel
    # ridge warn of an ill-conditioned system at 1e300)
    pool = [("logistic", LogisticRegression()), ("nb", GaussianNB())]
    if cls is HardGateRegressor:
        y = X[:, 0] + 0.1 * X[:, 1]
        pool = [
            ("stump", DecisionTreeRegressor(max_depth=1)),
            ("tree", DecisionTreeRegressor(max_depth=3)),
        ]
    w = {
        "zeros first half": np.r_[np.zeros(60), np.ones(60)],
        "tiny": np.full(120, 1e-300),
        "huge": np.full(120, 1e300),
    }[weights]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        est = cls(estimators=pool, max_epochs=5, random_state=0)
        est.fit(X, y, sample_weight=w)
    assert est.consensus_weight_ in (0.0, 30.0)
    assert np.isfinite(est.predict(X).astype(float)).all()
