"""
===========================================================
Hard gate: a trained switch that picks one model per sample
===========================================================

Two classifiers, each right on one half of the input space and wrong on the
other. A :class:`~sklearn_nn.HardGateClassifier` learns a gate that looks at
each sample and hands it to exactly one of them; the gate is trained end to
end with a straight-through gradient (forward: one-hot argmax; backward: the
softmax), on the models' out-of-fold predictions.

The figure shows each base model's own decision regions and, next to them,
which model the gate picks where, and the resulting decision regions.
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
# Where A and B agree, either choice is right, so the gate's border between
# "A" and "B" only has to be right where they disagree.
clf = HardGateClassifier(
    estimators=[("A", model_a), ("B", model_b)],
    cv="prefit",
    gate_hidden_layer_sizes=(16,),
    lr=0.03,
    max_epochs=100,
    random_state=0,
).fit(X_gate, y_gate)

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
# where A and B agree either choice is right; where they disagree the gate
# must pick the one that is right
disagree = right[0] != right[1]
picked_right = right[gate.argmax(axis=1), np.arange(len(X_test))]
print(f"right model picked where A and B disagree: {picked_right[disagree].mean():.3f}")

# %%
# Where each model is used
# ------------------------
xx, yy = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-2, 2, 200))
grid = np.c_[xx.ravel(), yy.ravel()]
classes = ListedColormap(["#f4a582", "#92c5de"])
models = ListedColormap(["#1b9e77", "#7570b3"])

fig, axes = plt.subplots(1, 4, figsize=(16, 4.2), sharey=True)
panels = [
    ("model A alone", model_a.predict(grid), classes, acc["A"]),
    ("model B alone", model_b.predict(grid), classes, acc["B"]),
    ("gate's choice (green: A, purple: B)", clf.predict_gate(grid)[:, 1], models, None),
    ("hard gate", clf.predict(grid), classes, acc["hard gate"]),
]
for ax, (title, values, cmap, score) in zip(axes, panels):
    ax.contourf(xx, yy, values.reshape(xx.shape), cmap=cmap, alpha=0.8)
    ax.scatter(X_test[:300, 0], X_test[:300, 1], c=y_test[:300], cmap="coolwarm", s=6)
    ax.axvline(0, color="k", lw=0.8, ls="--")
    label = title if score is None else f"{title}\naccuracy {score:.2f}"
    ax.set_title(label, fontsize=10)
    ax.set_xlabel("$x_0$")
axes[0].set_ylabel("$x_1$")
fig.suptitle(f"per-sample oracle accuracy {acc['oracle']:.2f}")
fig.tight_layout()
plt.show()
