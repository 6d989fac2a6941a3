"""Hard gate at prediction: each base model predicts only its rows (issue 27).

A pool with one expensive model -- an RBF SVC with Platt-scaled probabilities
(``CalibratedClassifierCV(SVC(), ensemble=False)``) fitted on a few thousand
rows, whose prediction costs a kernel row per support vector -- and cheap ones
(logistic regression, Gaussian naive Bayes, a depth-5 tree). On scikit-learn's
``make_classification`` data where the cheap models suffice on part of the
input space, the gate sends only some rows to the SVC. Two pools: the four
models on ``make_classification`` data, and a regional pool (a logistic
regression right on one half of the input space, the SVC on the other).
Median prediction time over alternated calls, one torch thread, of:

* ``HardGateClassifier.predict_proba`` (the gate first, then each base model
  on its rows; the vote candidate's rows need every model);
* the same fitted gate computing every candidate for every row (the module on
  every base model's outputs, as the gate predicted before this issue and
  as the exported ONNX graph still does);
* ``StackingClassifier.predict_proba`` with the same pool (every model, every
  row).

Run ``OMP_NUM_THREADS=1 python -m benchmarks.bench_hard_gate_predict`` from
the repository root (``--quick``: fewer rows); the table is written to
``benchmarks/results/hard_gate_predict.md``.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from benchmarks._report import machine, md_table, versions, write_results
from benchmarks._timing import median_time, one_thread
from sklearn_nn import HardGateClassifier


def pool():
    return [
        ("logreg", LogisticRegression(max_iter=1000)),
        ("naive_bayes", GaussianNB()),
        ("tree", DecisionTreeClassifier(max_depth=5, random_state=0)),
        ("svc", CalibratedClassifierCV(SVC(), ensemble=False)),
    ]


def on_column(j, est):
    return make_pipeline(ColumnTransformer([("pick", "passthrough", [j])]), est)


def regional_pool():
    """A cheap model right on one half of the data, the expensive SVC on the
    other (each reads the one column its half depends on)."""
    return [
        ("logreg_x1", on_column(1, LogisticRegression())),
        ("svc_x2", on_column(2, CalibratedClassifierCV(SVC(), ensemble=False))),
    ]


def scenarios(n):
    X, y = make_classification(
        n_samples=n,
        n_features=20,
        n_informative=8,
        n_clusters_per_class=3,
        flip_y=0.03,
        random_state=0,
    )
    yield "make_classification, 20 features", StandardScaler().fit_transform(X), y, pool
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(n, 3))
    # x0 < 0: y = [x1 > 0]; x0 >= 0: y = [|x2| < 0.5]
    y = np.where(X[:, 0] < 0, X[:, 1] > 0, np.abs(X[:, 2]) < 0.5).astype(int)
    yield "two regions, one model right in each", X, y, regional_pool


def measure(X, y, make_pool, n_fit, repeats):
    X_fit, y_fit, X_new, y_new = X[:n_fit], y[:n_fit], X[n_fit:], y[n_fit:]
    gate = HardGateClassifier(estimators=make_pool(), random_state=0)
    gate.fit(X_fit, y_fit)
    stacking = StackingClassifier(make_pool()).fit(X_fit, y_fit)
    cases = {
        "hard gate (only the chosen models)": lambda: gate.predict_proba(X_new),
        # the module on every base model's outputs: how the gate predicted
        # before this issue, and what the exported ONNX graph computes
        "hard gate, every model on every row": lambda: gate.net_.infer_all(
            gate._make_inputs(X_new), len(X_new)
        ),
        "StackingClassifier": lambda: stacking.predict_proba(X_new),
    }
    for fn in cases.values():  # warm up
        fn()
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            times[name].append(median_time(fn, 1))
    medians = {name: float(np.median(t)) for name, t in times.items()}
    shares = gate.predict_gate(X_new).mean(axis=0)
    share_text = ", ".join(
        f"{name} {share:.2f}" for name, share in zip(gate.gate_names_, shares)
    )
    accuracy = (gate.score(X_new, y_new), stacking.score(X_new, y_new))
    return medians, share_text, accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_fit, n_predict, repeats = (1000, 1000, 3) if args.quick else (4000, 4000, 7)
    one_thread()
    lines = [
        f"Hard-gate prediction time: {n_fit} fitted rows, {n_predict} predicted "
        f"rows, median of {repeats} alternated calls. "
        f"{versions('sklearn', 'torch')}, {machine()}, 1 torch thread.",
        "",
    ]
    rows = []
    notes = []
    for title, X, y, make_pool in scenarios(n_fit + n_predict):
        medians, share_text, (acc_gate, acc_stack) = measure(
            X, y, make_pool, n_fit, repeats
        )
        base = medians["hard gate (only the chosen models)"]
        for name, t in medians.items():
            rows.append((title, name, f"{t * 1000:.1f}", f"{t / base:.2f}"))
        notes.append(
            f"- {title}: rows per candidate {share_text}; test accuracy gate "
            f"{acc_gate:.4f}, StackingClassifier {acc_stack:.4f}."
        )
    lines += md_table(
        ("data, pool", "method", "predict ms", "x the gate"), rows, "llrr"
    )
    lines += ["", *notes]
    print("\n".join(lines))
    if not args.quick:
        write_results("hard_gate_predict.md", lines)


if __name__ == "__main__":
    main()
