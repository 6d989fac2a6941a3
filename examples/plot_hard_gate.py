"""
===========================================================
Hard gate: a trained switch that picks one model per sample
===========================================================

Two classifiers, each right on one half of the input space and wrong on the
other. A :class:`~sklearn_nn.HardGateClassifier` learns a gate that looks at
each sample and hands it to exactly one *candidate*: one of the two models,
the **prior** (the class frequencies, as
``DummyClassifier(strategy='prior')``) or the **vote** (the two models'
probabilities averaged with fitted weights). The gate is a small network
trained to predict, at each sample, how much lower each candidate's loss is
than that of the candidate that is best on average, from what every
candidate predicted on data it was not fitted on; it picks the candidate
with the largest predicted advantage.

The figure shows each base model's own decision regions and, next to them,
which candidate the gate picks where, and the resulting decision regions.
"""

# %%
# Data: two regions, two rules
# ----------------------------
# In the left half (:math:`x_0 < 0`) the label is :math:`[x_1 > 0.3 x_0]`; in
# the right half it is :math:`[x_1 > -x_0 + 0.5]`. Base model A is a logistic
# regression fitted on the left half, B one fitted on the right half, so each
# is right on its own half only. (With ``cv='prefit'`` the gate uses them as
# they are and is trained on fresh data.)
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from sklearn.linear_model import LogisticRegression

from sklearn_nn import HardGateClassifier


def make_data(n, seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    left = X[:, 0] < 0
    y = np.where(left, X[:, 1] > 0.3 * X[:, 0], X[:, 1] > -X[:, 0] + 0.5)
    return X, y.astype(int)


X_base, y_base = make_data(600, 0)
X_gate, y_gate = make_data(600, 1)
X_test, y_test = make_data(3000, 2)
left = X_base[:, 0] < 0
model_a = LogisticRegression().fit(X_base[left], y_base[left])
model_b = LogisticRegression().fit(X_base[~left], y_base[~left])

# %%
# The hard gate
# -------------
# At its defaults. Where A and B agree, either choice is right, so the
# gate's border between "A" and "B" only has to be right where they
# disagree. ``gate_names_`` names the candidates, ``oof_scores_`` gives
# their accuracy on the data the gate learned from, and ``best_candidate_``
# is the one the gate keeps unless the data show a local advantage.
clf = HardGateClassifier(
    estimators=[("A", model_a), ("B", model_b)], cv="prefit", random_state=0
).fit(X_gate, y_gate)
for name, score in zip(clf.gate_names_, clf.oof_scores_):
    print(f"candidate {name:>5}: accuracy {score:.3f} on the gate's training data")
print("best candidate:", clf.gate_names_[clf.best_candidate_])

acc = {
    "A": model_a.score(X_test, y_test),
    "B": model_b.score(X_test, y_test),
    "hard gate": clf.score(X_test, y_test),
}
right = np.stack([m.predict(X_test) == y_test for m in (model_a, model_b)])
acc["oracle"] = right.any(axis=0).mean()
for name, value in acc.items():
    print(f"{name:>10}: {value:.3f}")

gate = clf.predict_gate(X_test)
print("rows with exactly one 1:", np.all(gate.sum(axis=1) == 1))
share = dict(zip(clf.gate_names_, gate.mean(axis=0)))
print("share of test rows:", ", ".join(f"{k} {v:.3f}" for k, v in share.items()))
# where A and B disagree, exactly one of them is right: did the gate give
# the row to that one?
choice = gate.argmax(axis=1)
disagree = right[0] != right[1]
to_model = disagree & (choice < 2)
picked_right = right[choice[to_model], np.flatnonzero(to_model)]
print(
    f"where A and B disagree, the gate gives {to_model.sum() / disagree.sum():.3f} "
    f"of the rows to A or B, and to the right one on {picked_right.mean():.3f} "
    "of those"
)

# %%
# Where each candidate is used
# ----------------------------
# The third panel colours the plane by the candidate the gate picks. What
# matters is the border between A and B in the region where they disagree:
# there exactly one of them is right. Where every candidate predicts the same
# class (the upper part of the plane, where both models and the prior say
# class 1) any choice is right, the candidates' losses on the training data
# are equal, and which one the gate picks there is arbitrary and changes
# nothing in the predictions (the last panel).
xx, yy = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-2, 2, 200))
grid = np.c_[xx.ravel(), yy.ravel()]
classes = ListedColormap(["#f4a582", "#92c5de"])
colours = ["#1b9e77", "#7570b3", "#bdbdbd", "#e6ab02"]
candidates = ListedColormap(colours)
chosen = clf.predict_gate(grid).argmax(axis=1)

fig, axes = plt.subplots(1, 4, figsize=(16, 4.4), sharey=True)
panels = [
    ("model A alone", model_a.predict(grid), classes, acc["A"]),
    ("model B alone", model_b.predict(grid), classes, acc["B"]),
    ("the gate's choice", chosen, candidates, None),
    ("hard gate", clf.predict(grid), classes, acc["hard gate"]),
]
for ax, (title, values, cmap, score) in zip(axes, panels):
    levels = np.arange(cmap.N + 1) - 0.5
    ax.contourf(xx, yy, values.reshape(xx.shape), levels, cmap=cmap, alpha=0.8)
    ax.scatter(X_test[:300, 0], X_test[:300, 1], c=y_test[:300], cmap="coolwarm", s=6)
    ax.axvline(0, color="k", lw=0.8, ls="--")
    label = title if score is None else f"{title}\naccuracy {score:.2f}"
    ax.set_title(label, fontsize=10)
    ax.set_xlabel("$x_0$")
axes[0].set_ylabel("$x_1$")
handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.8) for c in colours]
axes[2].legend(
    handles, list(clf.gate_names_), loc="lower left", fontsize=8, framealpha=0.9
)
fig.suptitle(f"per-sample oracle accuracy (A or B right) {acc['oracle']:.2f}")
fig.tight_layout()
plt.show()
