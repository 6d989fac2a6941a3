"""Hard gate: the speed case and the accuracy case of ``run_all``."""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.bench_gating import (
    accuracy_rows,
    breast_cancer_split,
    hand_written_fit,
    on_column,
    two_region_split,
    two_regions,
)
from benchmarks.cases import N_PREDICT
from sklearn_nn import HardGateClassifier


def speed_case(quick):
    n, epochs, batch = (2000, 3, 200) if quick else (20000, 10, 200)
    X, y = two_regions(max(n, N_PREDICT[-1]), 0)
    X = X.astype(np.float32)
    X_fit, y_fit = X[:n], y[:n]
    pool = [("a", on_column(1).fit(X_fit, y_fit))]
    pool.append(("b", on_column(2).fit(X_fit, y_fit)))
    est = HardGateClassifier(
        estimators=pool,
        cv="prefit",
        max_epochs=epochs,
        batch_size=batch,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )

    def base_predictions(Xp):
        return np.stack([e.predict_proba(Xp) for _, e in pool], axis=1)

    def fit_hand():
        # a hand-written user has to compute the base predictions too
        base = base_predictions(X_fit)
        return hand_written_fit(
            X_fit,
            base,
            y_fit,
            epochs,
            batch,
            est.lr,
            0,
            est.shrinkage,
            est.weight_decay,
        )

    def predict_inputs(k):
        base = base_predictions(X[:k]).astype(np.float32)
        return X[:k], (torch.from_numpy(X[:k]), torch.from_numpy(base)), {}

    return dict(
        setup=(
            f"{n} x 3 (two regions), 2 prefit one-column logistic regressions, "
            f"gate (20,), {epochs} epochs, batch {batch}"
        ),
        fit_est=lambda: est.fit(X_fit, y_fit),
        fit_hand=fit_hand,
        hand_name="base predict_proba + bench_gating.hand_written_fit",
        fit_mlp=None,
        est=est,
        predict_inputs=predict_inputs,
        base_predictions=base_predictions,
    )


def accuracy(quick):
    n_splits, epochs = (1, 20) if quick else (3, 100)
    pool = list(HardGateClassifier()._default_estimators())
    rows = []
    for data, split, members in [
        ("breast_cancer (logistic, tree, naive Bayes)", breast_cancer_split, pool),
        (
            "two regions (two one-column logistic regressions)",
            two_region_split,
            [("a", on_column(1)), ("b", on_column(2))],
        ),
    ]:
        table = accuracy_rows(split, members, n_splits, epochs)
        for name, (mean, std) in table.items():
            label = f"{data}, {n_splits} split(s)"
            rows.append((label, name, "accuracy", float(mean), float(std)))
    return rows
