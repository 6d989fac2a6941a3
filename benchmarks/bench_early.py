"""Early classification: our per-step decisions against aeon's early classifiers.

Declared before any measurement (issue 26): the four sets GunPoint,
ItalyPowerDemand, ArrowHead and JapaneseVowels (aeon's bundled copies; the
ragged JapaneseVowels padded with each channel's last value to 29 steps for
every method, since aeon's early classifiers need equal lengths, so that
earliness has the same denominator everywhere). Every method sees the same
standardised series (z-normalised per series; JapaneseVowels per channel
with the training statistics).

* ours: ``make_pipeline(SequenceStandardScaler(...),
  TargetReplicationLSTMClassifier(replication_weight=a, random_state=s))``
  with its decision rule (threshold, consecutive passing steps) chosen on
  the training set by ``select_early_threshold`` (3 cross-fitted folds);
  ``a`` = 0.5, Lipton et al.'s value and the recommended setting for early
  classification, and ``a`` = 0 to measure what target replication buys;
* aeon's ``TEASER`` and ``ProbabilityThresholdEarlyClassifier`` at their
  defaults (``random_state=s``).

Scores are aeon's: accuracy, earliness (steps read over the length) and
their harmonic mean (HM), on the test split, mean over seeds. Run with
``OMP_NUM_THREADS=1 python -m benchmarks.bench_early`` (``--quick``: one
seed, GunPoint and ItalyPowerDemand); writes
``benchmarks/results/early.md``.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from aeon.classification.early_classification import (
    TEASER,
    ProbabilityThresholdEarlyClassifier,
)
from aeon.transformations.collection.unequal_length import Padder

from benchmarks._report import md_row, md_table, threads_note, versions, write_results
from benchmarks._timing import one_thread, timed
from benchmarks.bench_sequences_real import load
from sklearn_nn import TargetReplicationLSTMClassifier
from sklearn_nn.preprocessing import SequenceStandardScaler
from sklearn_nn.recurrent import select_early_threshold

DATASETS = ["GunPoint", "ItalyPowerDemand", "ArrowHead", "JapaneseVowels"]
QUICK_DATASETS = ["GunPoint", "ItalyPowerDemand"]


def equal_length(name):
    """Standardised train and test series as (n, T, C) arrays of one length."""
    X, y, X_test, y_test = load(name)
    scaler = SequenceStandardScaler(per_sequence=name != "JapaneseVowels")
    X, X_test = scaler.fit_transform(X), scaler.transform(X_test)
    if isinstance(X, list):
        longest = max(len(x) for x in X + X_test)
        padder = Padder(padded_length=longest, fill_value="last")
        X = padder.fit_transform([np.ascontiguousarray(x.T) for x in X])
        X_test = padder.transform([np.ascontiguousarray(x.T) for x in X_test])
        X, X_test = X.transpose(0, 2, 1), X_test.transpose(0, 2, 1)
    return np.asarray(X), y, np.asarray(X_test), y_test


def ours(X, y, X_test, y_test, alpha, seed):
    model = TargetReplicationLSTMClassifier(replication_weight=alpha, random_state=seed)
    params, _ = select_early_threshold(model, X, y, random_state=seed)
    model.set_params(**params).fit(X, y)
    rule = f"{params['early_threshold']:g}/{params['early_consecutive']}"
    return (*model.early_score(X_test, y_test), rule)


def aeon_scores(cls, X, y, X_test, y_test, seed):
    """aeon's (HM, accuracy, earliness); NaN where aeon's fit fails (its
    catch22 features divide by zero on some short prefixes of
    ItalyPowerDemand in aeon 1.6), reported as failed."""
    model = cls(random_state=seed)
    A, A_test = X.transpose(0, 2, 1), X_test.transpose(0, 2, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.fit(np.ascontiguousarray(A), y)
        except ZeroDivisionError:
            return (np.nan, np.nan, np.nan)
        return model.score(np.ascontiguousarray(A_test), y_test)


def fmt(rows):
    hm, acc, earl = (np.mean([r[i] for r in rows]) for i in range(3))
    if np.isnan(hm):
        return "nan", "failed", "failed"
    return f"{hm:.3f}", f"{acc:.3f}", f"{earl:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    datasets, seeds = (QUICK_DATASETS, [0]) if args.quick else (DATASETS, [0, 1, 2])
    one_thread()
    lines = [
        "## Early classification"
        + (" (--quick smoke run: 1 seed)" if args.quick else ""),
        "",
        f"{versions('sklearn_nn', 'torch', 'aeon', 'sklearn', 'python')}; "
        f"{threads_note()}",
        "",
        f"HM (accuracy, earliness) on the test split, mean over seeds {seeds}; "
        "ours with the threshold chosen by select_early_threshold (3 folds)",
        "",
        *md_table(
            [
                "data set",
                "ours, replication 0.5",
                "ours, replication 0",
                "TEASER",
                "ProbabilityThreshold",
                "ours >= both?",
                "threshold/consecutive (0.5)",
                "fit s (ours 0.5 / TEASER / PT)",
            ],
            align="lllllcll",
        ),
    ]
    print("\n".join(lines), flush=True)
    for name in datasets:
        X, y, X_test, y_test = equal_length(name)
        results = {key: [] for key in ("r5", "r0", "teaser", "pt")}
        times = {key: [] for key in results}
        thresholds = []
        data = (X, y, X_test, y_test)
        methods = {
            "r5": lambda seed, data=data: ours(*data, 0.5, seed),
            "r0": lambda seed, data=data: ours(*data, 0.0, seed),
            "teaser": lambda seed, data=data: aeon_scores(TEASER, *data, seed),
            "pt": lambda seed, data=data: aeon_scores(
                ProbabilityThresholdEarlyClassifier, *data, seed
            ),
        }
        for seed in seeds:
            for key, run in methods.items():
                out, seconds = timed(lambda run=run, s=seed: run(s))
                times[key].append(seconds)
                results[key].append(out[:3])
                if key == "r5":
                    thresholds.append(out[3])
        cells = {key: fmt(rows) for key, rows in results.items()}
        best_anchor = np.nanmax(
            [float(cells["teaser"][0]), float(cells["pt"][0]), -np.inf]
        )
        lines.append(
            md_row(
                [
                    name,
                    *(f"{c[0]} ({c[1]}, {c[2]})" for c in cells.values()),
                    "yes" if float(cells["r5"][0]) >= best_anchor else "no",
                    ", ".join(thresholds),
                    " / ".join(
                        f"{np.mean(times[k]):.1f}" for k in ("r5", "teaser", "pt")
                    ),
                ]
            )
        )
        print(lines[-1], flush=True)
    if not args.quick:
        write_results("early.md", lines)


if __name__ == "__main__":
    main()
