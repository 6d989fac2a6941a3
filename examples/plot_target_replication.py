"""
======================================================
Target replication: watching a prediction form in time
======================================================

:class:`~sklearn_nn.TargetReplicationLSTMClassifier` reads a sequence with an
LSTM and predicts a class distribution after every step with one output layer
shared over time. With ``replication_weight=0`` only the prediction at the
last step is trained; with ``replication_weight > 0`` the sequence's label is
also the target at every step (target replication, Lipton et al. 2016).

The task here is made for early classification: the class is written in the
first three steps of each sequence, and every later step is noise with the
same distribution for both classes. Sequences have different lengths (20 to
60 steps) and are passed as a ragged list.
"""

# %%
# Ragged sequences whose class is decided early
# ----------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_nn import TargetReplicationLSTMClassifier


def make_sequences(n, seed):
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = []
    for label in y:
        seq = rng.randn(rng.randint(20, 61), 2)
        seq[:3, 0] += 1.5 * (2 * label - 1)  # the only informative steps
        X.append(seq)
    return X, y


X_train, y_train = make_sequences(600, seed=0)
X_test, y_test = make_sequences(400, seed=1)
print("lengths:", min(map(len, X_train)), "to", max(map(len, X_train)))

# %%
# With and without target replication
# -----------------------------------
# Both models are identical except for ``replication_weight``.
models = {}
for alpha in (0.0, 0.7):
    clf = TargetReplicationLSTMClassifier(
        hidden_size=16,
        replication_weight=alpha,
        # a plain LSTM (the default reads random-convolution features): the
        # point here is how the error signal travels through time
        random_features=0,
        cell="lstm",
        conv_filters=(),
        lr=5e-3,
        batch_size=32,
        max_epochs=15,
        random_state=0,
    )
    models[alpha] = clf.fit(X_train, y_train)
    print(f"replication_weight={alpha}: test accuracy {clf.score(X_test, y_test):.3f}")

# %%
# The prediction over time
# ------------------------
# ``predict_proba_steps`` gives the class distribution after each step
# (NaN past each sequence's end). With target replication the model commits
# to the right class as soon as the informative steps have been read, and
# keeps its answer through the noise that follows. Trained on the final step
# only, the whole error signal arrives at the last step and has to travel back
# through 20 to 60 steps of noise to reach the three steps that matter: in the
# same 15 epochs this model has not found them, and its probability wanders
# around 0.5 (test accuracy at chance). On shorter sequences (10 to 50 steps
# in ``benchmarks/bench_recurrent.py``) the final-step model learns the task
# too.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
shown = [0, 1, 2, 3, 4, 5]
for ax, (alpha, clf) in zip(axes, models.items()):
    steps = clf.predict_proba_steps([X_test[i] for i in shown])
    for k, i in enumerate(shown):
        color = "tab:red" if y_test[i] == 1 else "tab:blue"
        ax.plot(np.arange(1, steps.shape[1] + 1), steps[k, :, 1], color=color)
    ax.axvspan(0.5, 3.5, color="0.9", zorder=0)
    ax.set_title(f"replication_weight={alpha}")
    ax.set_xlabel("step t")
axes[0].set_ylabel("P(class 1 | first t steps)")
axes[1].plot([], [], color="tab:red", label="true class 1")
axes[1].plot([], [], color="tab:blue", label="true class 0")
axes[1].legend(loc="center right")
fig.suptitle("Per-step predictions on test sequences (grey: informative steps)")
fig.tight_layout()

# %%
# Accuracy after each number of steps
# -----------------------------------
# Accuracy of the per-step prediction on the test set, over sequences that are
# at least that long.
fig, ax = plt.subplots(figsize=(6, 3.5))
for alpha, clf in models.items():
    steps = clf.predict_proba_steps(X_test)
    correct = steps.argmax(axis=2) == y_test[:, None]
    alive = ~np.isnan(steps[:, :, 0])
    acc = (correct & alive).sum(0) / alive.sum(0)
    ax.plot(np.arange(1, len(acc) + 1), acc, label=f"replication_weight={alpha}")
ax.set_xlabel("step t")
ax.set_ylabel("test accuracy after t steps")
ax.set_ylim(0.4, 1.02)
ax.legend()
fig.tight_layout()
plt.show()
