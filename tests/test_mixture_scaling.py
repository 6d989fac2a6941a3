"""Batched experts and sparse top-k gating of the mixture of experts."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sklearn_nn import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from sklearn_nn._layers import make_mlp
from sklearn_nn.exceptions import UnusedExpertWarning
from sklearn_nn.mixture import (
    ExpertMLPs,
    MixtureOfExperts,
    MixtureOfExpertsLoss,
    top_k_balance_loss,
)


def looped(mlps, x):
    """What a hand-written ModuleList mixture computes: one call per expert."""
    return torch.stack([mlp(x) for mlp in mlps], dim=1)


# ------------------------------------------------------------ batched experts
@pytest.mark.parametrize("hidden", [(), (7,), (6, 5)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "identity"])
def test_batched_experts_equal_looped_experts_for_the_same_weights(hidden, activation):
    torch.manual_seed(0)
    mlps = [make_mlp(4, hidden, 3, activation) for _ in range(5)]
    experts = ExpertMLPs.from_mlps(mlps)
    x = torch.randn(11, 4)
    with torch.no_grad():
        expected = looped(mlps, x)
        np.testing.assert_allclose(experts(x), expected, rtol=1e-6, atol=1e-6)
        # grouped evaluation: expert i on its own rows
        rows = torch.randn(5, 3, 4)
        grouped = experts.forward_grouped(rows)
        for i, mlp in enumerate(mlps):
            np.testing.assert_allclose(grouped[i], mlp(rows[i]), rtol=1e-6, atol=1e-6)
    # and back: experts[i] is expert i as an nn.Sequential
    assert len(experts) == 5
    for i, mlp in enumerate(mlps):
        copy = experts[i]
        assert [type(m) for m in copy] == [type(m) for m in mlp]
        for a, b in zip(copy.parameters(), mlp.parameters(), strict=True):
            np.testing.assert_array_equal(a.detach(), b.detach())
    assert [type(m) for m in list(experts)[-1]] == [type(m) for m in mlps[-1]]
    with pytest.raises(IndexError):
        experts[5]


def test_batched_experts_start_from_the_weights_of_a_module_list():
    # the same random draws as the ModuleList of make_mlp experts they replace
    torch.manual_seed(3)
    experts = ExpertMLPs(6, (8, 4), 2, n_experts=3)
    torch.manual_seed(3)
    mlps = [make_mlp(6, (8, 4), 2) for _ in range(3)]
    for i, mlp in enumerate(mlps):
        for a, b in zip(experts[i].parameters(), mlp.parameters(), strict=True):
            np.testing.assert_array_equal(a.detach(), b.detach())


def test_batched_gradients_equal_looped_gradients():
    torch.manual_seed(0)
    mlps = [make_mlp(4, (6,), 2) for _ in range(3)]
    experts = ExpertMLPs.from_mlps(mlps)
    x, target = torch.randn(10, 4), torch.randn(10, 3, 2)
    (experts(x) - target).square().sum().backward()
    (looped(mlps, x) - target).square().sum().backward()
    # float32 sums in another order: an absolute tolerance for entries near 0
    for layer, index in ((0, 0), (1, 2)):
        for i, mlp in enumerate(mlps):
            np.testing.assert_allclose(
                experts.weights[layer].grad[i].T,
                mlp[index].weight.grad,
                rtol=1e-5,
                atol=1e-6,
            )
            np.testing.assert_allclose(
                experts.biases[layer].grad[i, 0],
                mlp[index].bias.grad,
                rtol=1e-5,
                atol=1e-6,
            )


# -------------------------------------------------------------------- top-k
def top_k_module(task="classification", k=2, n_experts=6, **kwargs):
    torch.manual_seed(0)
    return MixtureOfExperts(
        5,
        3,
        n_experts=n_experts,
        expert_hidden_layer_sizes=(8,),
        gate_hidden_layer_sizes=(8,),
        task=task,
        top_k=k,
        **kwargs,
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("k", [1, 2, 6])
def test_top_k_gate_has_exactly_k_nonzero_weights(task, k):
    module = top_k_module(task, k=k)
    x = torch.randn(40, 5)
    for training in (True, False):
        module.train(training)
        gate = module(x)[1].exp()
        assert ((gate > 0).sum(dim=1) == k).all()
        np.testing.assert_allclose(gate.sum(dim=1).detach(), 1.0, rtol=1e-6)


@pytest.mark.parametrize("combine", ["mixture", "blend"])
def test_top_k_output_is_the_dense_mixture_of_the_chosen_experts(combine):
    # eval mode (no noise): the sparse computation equals the dense formula
    # restricted to each sample's k chosen experts
    module = top_k_module(k=2, combine=combine).eval()
    x = torch.randn(30, 5)
    with torch.no_grad():
        log_proba, log_gate, expert_log_proba, load = module(x)
        logits = module.gate(x)
        chosen = logits.topk(2, dim=1).indices
        all_outputs = module.experts(x)
    gate = torch.zeros_like(logits).scatter(
        1, chosen, torch.softmax(logits.gather(1, chosen), dim=1)
    )
    np.testing.assert_allclose(log_gate.exp(), gate, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(load, (gate > 0).float())
    picked = all_outputs.gather(1, chosen.unsqueeze(2).expand(-1, -1, 3))
    np.testing.assert_allclose(
        expert_log_proba.gather(1, chosen.unsqueeze(2).expand(-1, -1, 3)),
        torch.log_softmax(picked, dim=2),
        rtol=1e-5,
        atol=1e-6,
    )
    if combine == "mixture":
        expected = (gate.unsqueeze(2) * torch.softmax(all_outputs, 2)).sum(1)
    else:
        expected = torch.softmax((gate.unsqueeze(2) * all_outputs).sum(1), dim=1)
    np.testing.assert_allclose(log_proba.exp(), expected, rtol=1e-5, atol=1e-7)


def test_gradients_reach_only_the_chosen_experts_and_the_gate():
    module = top_k_module(k=1, n_experts=6).train()
    criterion = MixtureOfExpertsLoss("classification", load_balancing=0.1)
    x = torch.randn(4, 5)  # 4 samples, top-1: at most 4 of the 6 experts used
    out = module(x)
    criterion(out, torch.randint(3, (4,))).backward()
    used = set(out[1].exp().gt(0).nonzero()[:, 1].tolist())
    assert len(used) < 6
    for layer in (*module.experts.weights, *module.experts.biases):
        for i in range(6):
            nonzero = bool(layer.grad[i].abs().sum() > 0)
            assert nonzero == (i in used), (i, used)
    for parameter in (*module.gate.parameters(), *module.noise.parameters()):
        assert parameter.grad.abs().sum() > 0


def test_top_k_balance_loss_on_hand_computed_values():
    gate = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.4, 0.6], [1.0, 0.0, 0.0]])
    load = torch.tensor([[0.9, 0.6, 0.1], [0.2, 0.5, 0.8], [0.7, 0.3, 0.2]])
    log_gate = torch.log(gate)  # -inf where the gate is 0
    importance = np.array([1.7, 0.7, 0.6])
    loads = np.array([1.8, 1.4, 1.1])

    def cv2(v):
        return v.var() / v.mean() ** 2

    expected = cv2(importance) + cv2(loads)
    got = top_k_balance_loss(log_gate, load).item()
    assert got == pytest.approx(expected, rel=1e-6)
    # weighted: weight 2 counts a sample twice
    w = torch.tensor([2.0, 1.0, 1.0])
    doubled = top_k_balance_loss(log_gate[[0, 0, 1, 2]], load[[0, 0, 1, 2]])
    assert top_k_balance_loss(log_gate, load, w).item() == pytest.approx(
        doubled.item(), rel=1e-6
    )
    # balanced usage costs nothing
    even = torch.full((4, 2), 0.5)
    assert top_k_balance_loss(torch.log(even), even).item() == pytest.approx(0.0)


def test_load_estimate_is_the_noisy_top_k_probability():
    # P_i(x) = Phi((h_i - t_i) / s_i), checked against sampling the noise
    module = top_k_module(k=2, n_experts=4).train()
    with torch.no_grad():
        module.noise.bias.fill_(0.5)
    x = torch.randn(3, 5)
    torch.manual_seed(1)
    load = module(x)[-1].detach()
    clean, std = (
        module.gate(x).detach(),
        torch.nn.functional.softplus(module.noise(x)).detach(),
    )
    # for each expert: sample its own noise, hold the others' noisy logits
    # at the draw the module used; average over many draws of expert i alone
    torch.manual_seed(1)
    noisy = clean + torch.randn_like(clean) * std
    for i in range(4):
        others = torch.cat([noisy[:, :i], noisy[:, i + 1 :]], dim=1)
        threshold = others.topk(2, dim=1).values[:, 1]
        draws = clean[:, i : i + 1] + torch.randn(3, 200_000) * std[:, i : i + 1]
        empirical = (draws > threshold[:, None]).float().mean(dim=1)
        np.testing.assert_allclose(load[:, i], empirical, atol=0.01)


def data(n=300, task="classification"):
    if task == "classification":
        X, y = make_classification(
            n_samples=n, n_features=8, n_informative=5, n_classes=3, random_state=0
        )
        return X, y
    X, y = make_regression(n_samples=n, n_features=8, noise=5.0, random_state=0)
    return X, y


def test_top_k_estimators_predict_gate_experts_and_usage():
    X, y = data()
    clf = MixtureOfExpertsClassifier(
        n_experts=6, top_k=2, max_epochs=15, random_state=0
    ).fit(X, y)
    gate = clf.predict_gate(X)
    assert ((gate > 0).sum(axis=1) == 2).all()
    experts = clf.predict_experts(X)  # every expert, also the unchosen ones
    assert experts.shape == (300, 6, 3)
    np.testing.assert_allclose(experts.sum(axis=2), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        (gate[:, :, None] * experts).sum(axis=1), clf.predict_proba(X), atol=1e-6
    )
    np.testing.assert_allclose(clf.expert_usage_, gate.mean(axis=0), rtol=1e-5)
    assert clf.expert_usage_.sum() == pytest.approx(1.0)

    Xr, yr = data(task="regression")
    reg = MixtureOfExpertsRegressor(
        n_experts=5, top_k=2, max_epochs=15, random_state=0
    ).fit(Xr, yr)
    gate = reg.predict_gate(Xr)
    assert ((gate > 0).sum(axis=1) == 2).all()
    experts = reg.predict_experts(Xr)
    assert experts.shape == (300, 5)
    np.testing.assert_allclose((gate * experts).sum(axis=1), reg.predict(Xr), rtol=1e-5)
    mean, std = reg.predict(Xr, return_std=True)
    assert (std > 0).all() and np.isfinite(mean).all()


def test_top_k_fit_is_reproducible_and_works_in_the_toolbox():
    X, y = data()
    est = MixtureOfExpertsClassifier(
        n_experts=4, top_k=1, max_epochs=30, lr=1e-2, random_state=3
    )
    a = est.fit(X, y).predict_proba(X)
    b = MixtureOfExpertsClassifier(**est.get_params()).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict_proba(X), a)
    pipe = make_pipeline(StandardScaler(), est)
    search = GridSearchCV(pipe, {"mixtureofexpertsclassifier__top_k": [1, 2]}, cv=2)
    assert search.fit(X, y).best_score_ > 0.5


def test_top_k_parameter_errors():
    X, y = data()
    with pytest.raises(ValueError, match="top_k=5 exceeds n_experts=4"):
        MixtureOfExpertsClassifier(n_experts=4, top_k=5, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="top_k"):
        MixtureOfExpertsClassifier(n_experts=4, top_k=0, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="top_k must be None or in"):
        MixtureOfExperts(3, 2, n_experts=2, top_k=3)


def test_top_k_learns_with_many_experts():
    # 16 experts, 2 per sample: the accuracy of the dense mixture, and
    # the balancing loss spreads the samples over most experts
    X, y = make_classification(
        n_samples=2000,
        n_features=16,
        n_informative=10,
        n_classes=4,
        n_clusters_per_class=2,
        random_state=0,
    )
    X_train, X_test, y_train, y_test = X[:1500], X[1500:], y[:1500], y[1500:]
    common = dict(n_experts=16, max_epochs=30, lr=3e-3, random_state=0)
    dense = MixtureOfExpertsClassifier(**common).fit(X_train, y_train)
    sparse = MixtureOfExpertsClassifier(top_k=2, **common).fit(X_train, y_train)
    assert sparse.score(X_test, y_test) >= dense.score(X_test, y_test) - 0.03
    assert (sparse.expert_usage_ > 0.2 / 16).sum() >= 12


def test_plain_torch_module_list_conversion_for_users():
    # a user's own ModuleList of experts converts to the batched module
    torch.manual_seed(0)
    user_experts = nn.ModuleList(make_mlp(3, (4,), 2, "tanh") for _ in range(4))
    batched = ExpertMLPs.from_mlps(user_experts)
    assert batched.activation_name == "tanh"
    x = torch.randn(5, 3)
    with torch.no_grad():
        np.testing.assert_allclose(
            batched(x), looped(user_experts, x), rtol=1e-6, atol=1e-6
        )


# ------------------------------------------------- shared-expert warm-up
@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("k", [None, 2])
def test_tied_experts_are_expert_zero_alone_under_a_uniform_gate(task, k):
    module = top_k_module(task, k=k, n_experts=5).train()
    module.tied_experts = True
    x = torch.randn(7, 5)
    out = module(x)
    alone = module.experts[0](x)
    np.testing.assert_allclose(out[1].exp().detach(), 0.2, rtol=1e-6)
    every = out[2].detach()
    if task == "classification":
        np.testing.assert_allclose(
            out[0].detach(), torch.log_softmax(alone, 1).detach(), atol=1e-6
        )
        alone = torch.log_softmax(alone, 1)
    else:
        np.testing.assert_allclose(out[0].detach(), alone.detach(), atol=1e-6)
    for i in range(5):
        np.testing.assert_allclose(every[:, i], alone.detach(), atol=1e-6)
    # training reaches expert 0 only; the gate and the noise get no gradient
    criterion = MixtureOfExpertsLoss(task, load_balancing=0.1)
    target = torch.randint(3, (7,)) if task == "classification" else torch.randn(7, 3)
    criterion(out, target).backward()
    for stacked in (*module.experts.weights, *module.experts.biases):
        assert stacked.grad[0].abs().sum() > 0
        assert stacked.grad[1:].abs().sum() == 0
    assert all(p.grad is None for p in module.gate.parameters())


def expert_rows(est):
    return [w.detach().clone() for w in est.net_.module_.experts.weights]


def all_experts_equal(est):
    return all(torch.equal(w, w[:1].expand_as(w)) for w in expert_rows(est))


@pytest.mark.filterwarnings("ignore::sklearn_nn.exceptions.UnusedExpertWarning")
def test_warm_up_hands_every_expert_the_shared_network_and_a_fresh_optimizer():
    # (a fit that ends with the warm-up has a gate that never trained)
    X, y = data()
    params = dict(n_experts=6, top_k=2, random_state=0)
    # warm-up as long as the fit: the experts end as copies of one network,
    # which is the whole prediction, and the optimizer has no state for them
    clf = MixtureOfExpertsClassifier(warm_up_epochs=3, max_epochs=3, **params)
    clf.fit(X, y)
    module = clf.net_.module_
    assert not module.tied_experts and all_experts_equal(clf)
    np.testing.assert_allclose(
        clf.predict_proba(X), clf.predict_experts(X)[:, 0], rtol=1e-5, atol=1e-6
    )
    state = clf.net_.optimizer_.state
    assert not any(p in state for p in module.experts.parameters())
    # cut short by max_epochs: untied at the end all the same
    short = MixtureOfExpertsClassifier(warm_up_epochs=5, max_epochs=2, **params)
    assert all_experts_equal(short.fit(X, y))
    # after the warm-up the experts specialise
    longer = MixtureOfExpertsClassifier(warm_up_epochs=2, max_epochs=6, **params)
    assert not all_experts_equal(longer.fit(X, y))
    # a warm start continues without tying them again
    longer.set_params(warm_start=True, max_epochs=1).fit(X, y)
    assert not all_experts_equal(longer)
    # the dense gate ignores it: random experts from the first epoch
    dense = MixtureOfExpertsClassifier(n_experts=6, max_epochs=1, random_state=0)
    assert not all_experts_equal(dense.fit(X, y))


def test_the_warm_up_trains_one_network_on_every_row():
    # tied for the whole fit, 32 experts with top_k=2 are exactly the mixture
    # of one expert trained on all the rows (expert 0 is drawn first, from
    # the same seed, and sees every batch), not 32 experts on 1/16 each
    X, y = data()
    common = dict(max_epochs=3, random_state=0)
    one = MixtureOfExpertsClassifier(n_experts=1, **common).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedExpertWarning)  # the gate is new
        tied = MixtureOfExpertsClassifier(
            n_experts=32, top_k=2, warm_up_epochs=3, **common
        ).fit(X, y)
    np.testing.assert_allclose(
        tied.predict_proba(X), one.predict_proba(X), rtol=1e-4, atol=1e-6
    )
    bare = MixtureOfExpertsClassifier(
        n_experts=32, top_k=2, warm_up_epochs=0, **common
    ).fit(X, y)
    assert np.abs(bare.predict_proba(X) - one.predict_proba(X)).max() > 0.01
