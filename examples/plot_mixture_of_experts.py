"""
=============================================
Mixture of experts: the gate divides the work
=============================================

A mixture of experts learns *where* each of its experts is in charge. A
softmax gate :math:`g(x)` assigns every sample to the experts (the weights are
positive and sum to one), and each expert only has to be good on its own part
of the input space.

This example uses problems where the input space really consists of two
regimes, each with a simple rule of its own:

* a 2-D classification problem in which a linear classifier per half of the
  plane is enough, while one linear model for the whole plane fails;
* a 1-D regression problem with two straight-line regimes and a jump between
  them.

With linear experts (``expert_hidden_layer_sizes=()``) the model can only
succeed if the gate finds the regimes, so the figures show what the gate
learned.
"""

# %%
# Two regimes, one rule each
# --------------------------
# In the left half of the square (:math:`x_0 < 0`) a point belongs to class 1
# when it lies *above* the line :math:`x_1 = 0.5 x_0 + 1`; in the right half
# when it lies *below* the line :math:`x_1 = x_0 - 1`. Each half is linearly
# separable, the whole square is not.
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.lines import Line2D
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from sklearn_nn import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

rng = np.random.RandomState(0)
X = rng.uniform(-3, 3, size=(1000, 2))
left = X[:, 0] < 0
y = np.where(left, X[:, 1] > 0.5 * X[:, 0] + 1, X[:, 1] < X[:, 0] - 1).astype(int)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.4, random_state=0, stratify=y
)

# %%
# Two linear experts and a linear gate
# ------------------------------------
# ``expert_hidden_layer_sizes=()`` makes every expert a logistic regression and
# ``gate_hidden_layer_sizes=()`` makes the gate a softmax regression, so the
# gate can only draw one straight line between the experts' territories. The
# default ``loss='mixture'`` makes the experts compete for each sample: the
# expert that explains a sample best receives most of its gradient.
moe = MixtureOfExpertsClassifier(
    n_experts=2,
    expert_hidden_layer_sizes=(),
    gate_hidden_layer_sizes=(),
    lr=0.05,
    max_epochs=300,
    random_state=0,
).fit(X_train, y_train)
logreg = LogisticRegression().fit(X_train, y_train)

print(f"Mixture of 2 linear experts, test accuracy: {moe.score(X_test, y_test):.3f}")
print(f"Single logistic regression,  test accuracy: {logreg.score(X_test, y_test):.3f}")

# %%
# ``predict_gate`` returns the gate weights :math:`g_i(x)` of every sample. The
# expert with the largest weight is the one responsible for the sample; here
# the gate should send the left half to one expert and the right half to the
# other.
gate = moe.predict_gate(X_test)
responsible = gate.argmax(axis=1)
for expert in range(moe.n_experts):
    share_left = np.mean(X_test[responsible == expert, 0] < 0)
    print(
        f"expert {expert}: responsible for {np.mean(responsible == expert):.0%} of "
        f"the test points, {share_left:.0%} of them in the left half"
    )

# %%
# The left panel colours the plane by the gate weight of expert 1 (purple:
# expert 0 is in charge, pink: expert 1 is in charge); the gate boundary
# (:math:`g_0 = g_1 = 0.5`, dashed) runs along :math:`x_0 = 0`. The middle
# panel shows the mixture's probability of class 1, whose decision boundary
# bends where the gate switches experts. A single logistic regression (right)
# can only draw one straight line.
xx, yy = np.meshgrid(np.linspace(-3, 3, 200), np.linspace(-3, 3, 200))
grid = np.c_[xx.ravel(), yy.ravel()]
gate_grid = moe.predict_gate(grid)[:, 1].reshape(xx.shape)
proba_moe = moe.predict_proba(grid)[:, 1].reshape(xx.shape)
proba_lr = logreg.predict_proba(grid)[:, 1].reshape(xx.shape)

class_colors = np.array(["#d95f02", "#1b9e77"])
expert_colors = ["#7570b3", "#e7298a"]
gate_cmap = LinearSegmentedColormap.from_list(
    "gate", [expert_colors[0], "white", expert_colors[1]]
)
class_legend = [
    Line2D([], [], ls="", marker="o", mec="k", mfc=class_colors[k], label=f"class {k}")
    for k in (0, 1)
]


def draw_points(ax):
    ax.scatter(
        X_test[:, 0],
        X_test[:, 1],
        c=class_colors[y_test],
        s=14,
        edgecolors="k",
        linewidths=0.3,
    )
    ax.set_xlabel("$x_0$")
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")


fig, axes = plt.subplots(1, 3, figsize=(14, 4.8), layout="constrained")
levels = np.linspace(0, 1, 21)

ax = axes[0]
im = ax.contourf(xx, yy, gate_grid, levels=levels, cmap=gate_cmap, alpha=0.7)
ax.contour(xx, yy, gate_grid, levels=[0.5], colors="k", linestyles="--")
draw_points(ax)
ax.set_ylabel("$x_1$")
ax.set_title("Gate: weight $g_1(x)$ of expert 1")
fig.colorbar(im, ax=ax, shrink=0.8, ticks=[0, 0.5, 1], label="$g_1(x)$")
ax.legend(
    handles=[Line2D([], [], color="k", ls="--", label="gate boundary")],
    loc="lower left",
    fontsize=9,
)

for ax, proba, name, score in [
    (axes[1], proba_moe, "Mixture of 2 linear experts", moe.score(X_test, y_test)),
    (axes[2], proba_lr, "Single logistic regression", logreg.score(X_test, y_test)),
]:
    im = ax.contourf(xx, yy, proba, levels=levels, cmap="BrBG", alpha=0.8)
    ax.contour(xx, yy, proba, levels=[0.5], colors="k", linewidths=1.5)
    draw_points(ax)
    ax.set_title(f"{name}\ntest accuracy {score:.2f}")
fig.colorbar(im, ax=axes[1:], shrink=0.8, ticks=[0, 0.5, 1], label="P(class 1)")
axes[1].legend(
    handles=[*class_legend, Line2D([], [], color="k", label="decision boundary")],
    loc="lower left",
    fontsize=9,
)
fig.suptitle("Classification: each expert takes one half of the plane")
plt.show()

# %%
# Regression with two regimes
# ---------------------------
# The target follows :math:`y = x` for :math:`x < 0` and :math:`y = -2x + 3`
# for :math:`x \ge 0`, plus Gaussian noise. Two linear experts can represent
# each regime exactly; a small gate (one hidden layer of 16 units) learns the
# switch at :math:`x = 0`.
X_reg = rng.uniform(-3, 3, size=(400, 1))
y_reg = np.where(X_reg[:, 0] < 0, X_reg[:, 0], -2 * X_reg[:, 0] + 3)
y_reg += rng.normal(scale=0.3, size=len(y_reg))

reg = MixtureOfExpertsRegressor(
    n_experts=2,
    expert_hidden_layer_sizes=(),
    gate_hidden_layer_sizes=(16,),
    lr=0.02,
    max_epochs=300,
    # one mixture (not the default's five cross-fitted members), so that its
    # two experts and its gate can be drawn
    n_members=1,
    random_state=0,
).fit(X_reg, y_reg)
print(f"Mixture of 2 linear experts, training R^2: {reg.score(X_reg, y_reg):.3f}")

# %%
# The fitted torch module is ``reg.net_.module_``. Its forward pass returns the
# blended prediction first, then the log gate weights and every expert's own
# output, so we can draw each expert's line next to the blend
# :math:`\sum_i g_i(x)\, o_i(x)`.
x_line = np.linspace(-3, 3, 400).reshape(-1, 1)
module = reg.net_.module_
with torch.no_grad():
    blend, log_gate, expert_out, _ = module(
        torch.as_tensor(x_line, dtype=torch.float32)
    )
expert_out = expert_out[:, :, 0].numpy()
gate_line = log_gate.exp().numpy()
for i, expert in enumerate(module.experts):
    linear = expert[0]
    print(f"expert {i}: o(x) = {linear.weight.item():+.2f} x {linear.bias.item():+.2f}")

fig, (ax_fit, ax_gate) = plt.subplots(
    2,
    1,
    figsize=(8, 6.5),
    sharex=True,
    height_ratios=[3, 1.3],
    layout="constrained",
)
ax_fit.scatter(X_reg[:, 0], y_reg, s=10, color="0.6", alpha=0.7, label="data")
for i in range(reg.n_experts):
    ax_fit.plot(
        x_line[:, 0],
        expert_out[:, i],
        ls="--",
        lw=1.5,
        color=expert_colors[i],
        label=f"expert {i}: $o_{i}(x)$",
    )
ax_fit.plot(
    x_line[:, 0],
    reg.predict(x_line),
    color="k",
    lw=2.5,
    label=r"prediction $\sum_i g_i(x)\, o_i(x)$",
)
ax_fit.set_ylim(-5, 5)
ax_fit.set_ylabel("$y$")
ax_fit.set_title("Regression: two linear experts and the gate that switches them")
ax_fit.legend(loc="lower center", fontsize=9)

for i in range(reg.n_experts):
    ax_gate.plot(
        x_line[:, 0], gate_line[:, i], color=expert_colors[i], lw=2, label=f"$g_{i}(x)$"
    )
ax_gate.axvline(0, color="0.5", lw=1, ls=":")
ax_gate.set_ylim(-0.05, 1.05)
ax_gate.set_xlabel("$x$")
ax_gate.set_ylabel("gate weight")
ax_gate.legend(loc="center left", fontsize=9)
plt.show()

# %%
# Each expert recovered one regime's line (slopes close to 1 and -2) and the
# gate hands the samples over at :math:`x = 0`. The blended prediction follows
# the jump, which neither expert could model on its own. See the
# :ref:`User Guide <mixture_of_experts>` for the losses and the options that
# keep the gate from collapsing onto one expert.
