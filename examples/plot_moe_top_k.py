"""
======================================================
Many experts for the price of two: sparse top-k gating
======================================================

A dense mixture of experts runs *every* expert on every sample and weighs
their predictions with a softmax gate, so its cost grows with the number of
experts. With ``top_k=k`` the gate of
:class:`~sklearn_nn.MixtureOfExpertsClassifier` becomes the noisy top-k gate
of Shazeer et al. (2017): each sample is sent to its ``k`` highest-scoring
experts only, every other gate weight is exactly 0, and only the chosen
experts are computed. Training then costs about as much as ``k`` experts,
however many there are.

This example compares a dense mixture and a ``top_k=2`` mixture on the same
data: their fit times and accuracies, how the fit time grows with the number
of experts, how the load-balancing loss keeps all experts in use, and what
the sparse gate's weights look like.
"""

# %%
# Data: four classes made of many clusters
# ----------------------------------------
# Every class of this synthetic problem consists of four Gaussian clusters in
# a 20-dimensional informative subspace of 40 features, so there are 16
# clusters in all: work that can be shared out among many experts. All
# timings below run on one thread.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_nn import MixtureOfExpertsClassifier
from sklearn_nn.exceptions import UnusedExpertWarning

torch.set_num_threads(1)

X, y = make_classification(
    n_samples=8000,
    n_features=40,
    n_informative=20,
    n_classes=4,
    n_clusters_per_class=4,
    class_sep=1.5,
    random_state=0,
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)
scaler = StandardScaler().fit(X_train)
X_train = scaler.transform(X_train).astype(np.float32)
X_test = scaler.transform(X_test).astype(np.float32)

# The first fit in a process pays torch's one-off start-up costs; a tiny
# warm-up fit keeps them out of the timings below.
MixtureOfExpertsClassifier(n_experts=2, max_epochs=1).fit(X_train[:200], y_train[:200])


# A fit whose gate leaves an expert (almost) unused warns with an
# UnusedExpertWarning. The section on load balancing below reads each expert's
# usage from expert_usage_ instead, so the warning is silenced here.
def timed_fit(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedExpertWarning)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        return model, time.perf_counter() - start


# %%
# 16 experts: dense against ``top_k=2``
# -------------------------------------
# Both mixtures have the same 16 experts (the default architecture: two hidden
# layers of 64 units each), the same gate and the same 20 epochs; they differ
# only in ``top_k``. The dense mixture computes all 16 experts for every
# sample, the sparse one 2 of them. After the same number of epochs the sparse
# mixture usually trails the dense one a little in accuracy: it converges more
# slowly (see the sweep below).
n_experts, max_epochs = 16, 20
dense, dense_time = timed_fit(
    MixtureOfExpertsClassifier(
        n_experts=n_experts, max_epochs=max_epochs, random_state=0
    )
)
sparse, sparse_time = timed_fit(
    MixtureOfExpertsClassifier(
        n_experts=n_experts, top_k=2, max_epochs=max_epochs, random_state=0
    )
)
for name, model, seconds in [
    ("dense gate", dense, dense_time),
    ("top_k=2   ", sparse, sparse_time),
]:
    print(
        f"{name}: fit {seconds:.2f} s, test accuracy {model.score(X_test, y_test):.3f}"
    )
print(f"top_k=2 / dense fit time: {sparse_time / dense_time:.2f}x")

# %%
# The sparse gate
# ---------------
# ``predict_gate`` returns the gate weights :math:`g_i(x)`. With ``top_k=2``
# every row has exactly two non-zero entries (which two depends on the
# sample) and still sums to one.
gate = sparse.predict_gate(X_test)
print("gate weights of the first test sample:")
print(np.round(gate[0], 3))
print("non-zero weights per row:", np.unique((gate > 0).sum(axis=1)))
print("rows sum to one:", np.allclose(gate.sum(axis=1), 1.0, atol=1e-5))

# %%
# ``predict_experts`` computes *every* expert's class probabilities, also
# those of the experts a sample's gate does not choose (useful for inspecting
# the experts; ``predict_proba`` computes the chosen ones only). Weighted by
# the gate, they give the mixture's prediction: the 14 experts with weight 0
# do not contribute.
experts_proba = sparse.predict_experts(X_test)  # (n_samples, n_experts, n_classes)
mixed = (gate[:, :, None] * experts_proba).sum(axis=1)
print("experts_proba shape:", experts_proba.shape)
print(
    "gate-weighted experts == predict_proba:",
    np.allclose(mixed, sparse.predict_proba(X_test), atol=1e-5),
)

# %%
# Balancing the load
# ------------------
# A sparse gate collapses easily: an expert that is never chosen gets no
# gradient and so never improves enough to be chosen. With ``top_k``,
# ``load_balancing`` (default 0.05) weighs Shazeer's two balancing losses,
# which push the *importance* (total gate weight) and the *load* (expected
# number of samples) of the experts towards equal shares. Without them
# (``load_balancing=0``) the gate settles on a few experts.
# ``expert_usage_`` is the mean gate weight of each expert on the training
# data; an expert counts as unused here below a tenth of the uniform share
# (the threshold of the warning). The dense mixture is listed for comparison:
# its ``load_balancing`` weighs a different penalty, the Kullback-Leibler
# divergence of the mean gate weights from the uniform share.
unbalanced, _ = timed_fit(
    MixtureOfExpertsClassifier(
        n_experts=n_experts,
        top_k=2,
        load_balancing=0,
        max_epochs=max_epochs,
        random_state=0,
    )
)
for name, model in [
    ("dense gate", dense),
    ("top_k=2, load_balancing=0.05", sparse),
    ("top_k=2, load_balancing=0", unbalanced),
]:
    unused = np.sum(model.expert_usage_ < 0.1 / n_experts)
    print(
        f"{name:>28}: smallest usage {model.expert_usage_.min():.3f} "
        f"(uniform {1 / n_experts:.3f}), {unused:>2} of {n_experts} experts unused, "
        f"test accuracy {model.score(X_test, y_test):.3f}"
    )

# %%
# Fit time against the number of experts
# --------------------------------------
# Now the number of experts grows from 4 to 64, with a few epochs per fit (the
# fastest of two fits is kept, to damp timing noise). The dense fit time grows
# roughly in proportion to the number of experts; the sparse one grows far more
# slowly: its expert computation stays that of two experts, and only the gate
# (one output per expert) and the grouping of the samples by expert get
# larger.
#
# The accuracies after so few epochs also show the price of sparsity: each
# expert of a top-k mixture sees only about :math:`k / E` of the data, so it
# needs more epochs than a dense mixture to converge, the more so the more
# experts there are.
expert_counts = [4, 8, 16, 32, 64]
sweep_epochs = 3
sweep = {None: [], 2: []}
for n in expert_counts:
    for top_k in (None, 2):
        times = []
        for _ in range(2):
            model, seconds = timed_fit(
                MixtureOfExpertsClassifier(
                    n_experts=n, top_k=top_k, max_epochs=sweep_epochs, random_state=0
                )
            )
            times.append(seconds)
        sweep[top_k].append((min(times), model.score(X_test, y_test)))

print(f"{sweep_epochs} epochs per fit")
print("experts  dense (s)  top_k=2 (s)  ratio  accuracy dense  accuracy top_k=2")
for n, (t_dense, acc_dense), (t_sparse, acc_sparse) in zip(
    expert_counts, sweep[None], sweep[2]
):
    print(
        f"{n:>7}  {t_dense:>9.2f}  {t_sparse:>11.2f}  {t_sparse / t_dense:>4.2f}x"
        f"  {acc_dense:>14.3f}  {acc_sparse:>16.3f}"
    )

# %%
# The left panel shows the sweep's fit times, the right panel the share of
# the training data's gate weight that each of the 16 experts of the two
# ``top_k=2`` mixtures receives: spread over all experts with the balancing
# losses, concentrated on a few without them (on the logarithmic axis, an
# expert whose usage is 0 has no bar).
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")

ax = axes[0]
for top_k, label, color in [(None, "dense gate", "C0"), (2, "top_k=2", "C1")]:
    ax.plot(
        expert_counts,
        [t for t, _ in sweep[top_k]],
        "o-",
        color=color,
        label=label,
    )
ax.set_xticks(expert_counts, [str(n) for n in expert_counts])
ax.set_xlabel("number of experts")
ax.set_ylabel(f"fit time, {sweep_epochs} epochs (s)")
ax.set_ylim(bottom=0)
ax.set_title("Fit time: dense grows with the experts, top-k slowly")
ax.set_xlim(0, 68)
ax.legend()
ax.grid(alpha=0.3)

ax = axes[1]
positions = np.arange(n_experts)
width = 0.4
ax.bar(
    positions - width / 2,
    sparse.expert_usage_,
    width,
    color="C1",
    label="load_balancing=0.05 (default)",
)
ax.bar(
    positions + width / 2,
    unbalanced.expert_usage_,
    width,
    color="C7",
    label="load_balancing=0",
)
ax.axhline(1 / n_experts, color="k", ls="--", lw=1, label="uniform share")
ax.set_yscale("log")
ax.set_ylim(1e-4, 5)
ax.set_xticks(positions)
ax.set_xlabel("expert")
ax.set_ylabel("expert_usage_ (mean gate weight)")
ax.set_title(f"Expert usage of the top_k=2 mixtures ({n_experts} experts)")
ax.legend(loc="upper center", ncol=3, fontsize=8)
plt.show()

# %%
# When does top-k pay off?
# ------------------------
# * **Many experts.** The saving grows with the number of experts: with a
#   handful of experts, grouping the samples by expert costs about what
#   skipping the unchosen experts saves, so keep the dense gate; from about 16
#   experts on, ``top_k=2`` fits faster, and the gap widens with every
#   doubling of the number of experts.
# * **Enough epochs.** A sparse mixture learns more slowly per epoch than a
#   dense one, since each expert trains on only its share of the data. Judge
#   it at convergence -- e.g. with ``early_stopping=True`` and a generous
#   ``max_epochs`` -- not after a fixed small number of epochs.
# * **Keep the balancing losses.** ``load_balancing=0`` lets the sparse gate
#   collapse onto a few experts; the default 0.05 keeps them all in use.
#
# The user guide section :ref:`moe_many_experts` describes the gate and the
# balancing losses in detail and gives the measured timings on a larger
# problem.
