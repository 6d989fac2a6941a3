"""Hard gate: accuracy against the static best model and the oracle, and speed.

Accuracy (same pool for every row, test-set accuracy, mean over splits):

* breast_cancer (StandardScaler, 33 % stratified test split, 5 splits), pool:
  the default trio (logistic regression, depth-5 tree, Gaussian naive Bayes);
* two regions (synthetic): two logistic regressions that each see one
  column; each is right on one half of the space only.

Rows: the static best single model (best 5-fold CV accuracy on the training
set), ``StackingClassifier`` with the same pool, the hard gate at its
defaults, with ``shrinkage=0`` and with ``selection_loss='log_loss'``, and
the per-sample oracle (a sample counts as right when any pool member is
right). DESlib is measured against the gate on real data in
``bench_hard_gate_real.py``.

Speed: the gate's training through ``HardGateClassifier.fit`` (with
``cv='prefit'``, so the base models are not refitted) against a hand-written
torch loop training the same :class:`HardGateNetwork` with the same
:class:`HardGateLoss` (the candidates' per-sample losses, the advantages over
the best candidate), the same prior, vote weights and shrinkage, optimizer,
batch size and epochs; ratio = estimator / hand-written.

Run ``OMP_NUM_THREADS=1 python -m benchmarks.bench_gating`` from the repository
root (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks._report import md_table
from benchmarks._timing import median_time
from sklearn_nn import HardGateClassifier
from sklearn_nn.gating import HardGateLoss, HardGateNetwork
from sklearn_nn.gating._selection import (
    candidate_outputs,
    fit_vote_weights,
    per_sample_losses,
    prior_output,
)


def two_regions(n, seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 3))
    y = np.where(X[:, 0] < 0, X[:, 1] > 0, X[:, 2] > 0).astype(int)
    return X, y


def on_column(j):
    pick = ColumnTransformer([("pick", "passthrough", [j])])
    return make_pipeline(pick, LogisticRegression())


VARIANTS = {
    "hard gate (defaults)": dict(),
    "hard gate (shrinkage=0)": dict(shrinkage=0.0),
    "hard gate (selection_loss='log_loss')": dict(selection_loss="log_loss"),
}


def accuracy_rows(make_split, pool, n_splits, epochs):
    names = ["static best single model", "StackingClassifier", *VARIANTS, "oracle"]
    scores = {name: [] for name in names}
    for split in range(n_splits):
        X_train, X_test, y_train, y_test = make_split(split)
        fitted = None
        for name, params in VARIANTS.items():
            clf = HardGateClassifier(
                estimators=pool, max_epochs=epochs, random_state=0, **params
            ).fit(X_train, y_train)
            scores[name].append(clf.score(X_test, y_test))
            fitted = clf.estimators_
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        stacking = StackingClassifier([(n, clone(e)) for n, e in pool], cv=folds)
        stacking.fit(X_train, y_train)
        scores["StackingClassifier"].append(stacking.score(X_test, y_test))
        cv = [cross_val_score(clone(e), X_train, y_train, cv=5).mean() for e in fitted]
        best = fitted[int(np.argmax(cv))]
        scores["static best single model"].append(best.score(X_test, y_test))
        right = np.stack([e.predict(X_test) == y_test for e in fitted])
        scores["oracle"].append(right.any(axis=0).mean())
    return {name: (np.mean(v), np.std(v)) for name, v in scores.items()}


def breast_cancer_split(seed):
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.33, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def two_region_split(seed):
    X_train, y_train = two_regions(600, seed)
    X_test, y_test = two_regions(2000, 100 + seed)
    return X_train, X_test, y_train, y_test


def hand_written_fit(
    X,
    base,
    y,
    epochs,
    batch_size,
    lr,
    seed,
    shrinkage,
    weight_decay,
    selection_loss="zero_one",
):
    """What ``HardGateClassifier.fit`` trains, by hand: ``base`` (n, E, K) are
    the base models' probabilities of ``X`` and ``y`` the class indices."""
    torch.manual_seed(seed)
    n_classes = base.shape[2]
    # the candidates: the base models, the prior and the vote; their
    # per-sample losses on the training data give the best candidate
    prior = prior_output(y, None, n_classes, "classification")
    vote_weights = fit_vote_weights(base, y, None, "classification")
    losses = per_sample_losses(
        candidate_outputs(base, prior, vote_weights), y, selection_loss
    )
    best = int(np.argmin(losses.mean(axis=0)))
    net = HardGateNetwork(X.shape[1], base.shape[1], n_classes, task="classification")
    net.set_prior(prior)
    net.set_vote_weights(vote_weights)
    # the shrinkage: the margin by which the best candidate is preferred
    net.prefer_candidate(best, shrinkage)
    criterion = HardGateLoss("classification", selection_loss, preferred=best)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    bt = torch.as_tensor(base, dtype=torch.float32)
    yt = torch.as_tensor(y)
    n = len(Xt)
    net.train()
    criterion.train()
    for _ in range(epochs):
        perm = torch.randperm(n)
        Xs, bs, ys = Xt[perm], bt[perm], yt[perm]
        total = 0.0
        for i in range(0, n, batch_size):
            sl = slice(i, i + batch_size)
            opt.zero_grad()
            # forward_train: the gate's raw scores in the place of the soft
            # gate, which the loss regresses on the candidates' advantages
            loss = criterion(net.forward_train(Xs[sl], bs[sl]), ys[sl])
            loss.backward()
            opt.step()
            total += loss.item() * len(ys[sl])
    return net


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    n_splits, epochs = (1, 20) if args.quick else (5, 100)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )

    default_pool = [
        (name, est) for name, est in HardGateClassifier()._default_estimators()
    ]
    tables = {
        "breast_cancer": accuracy_rows(
            breast_cancer_split, default_pool, n_splits, epochs
        ),
        "two regions": accuracy_rows(
            two_region_split,
            [("a", on_column(1)), ("b", on_column(2))],
            n_splits,
            epochs,
        ),
    }
    print(f"\n### Test accuracy (mean ± std over {n_splits} splits)\n")
    cells = [
        (row, *(f"{m:.4f} ± {s:.4f}" for m, s in (t[row] for t in tables.values())))
        for row in tables["breast_cancer"]
    ]
    print("\n".join(md_table(["model", "breast_cancer", "two regions"], cells)))

    # speed of the gate's training
    n, batch, repeats = (2000, 200, 1) if args.quick else (20000, 200, 3)
    speed_epochs = 3 if args.quick else 10
    X, y = two_regions(n, 0)
    pool = [
        (name, est.fit(X, y))
        for name, est in [("a", on_column(1)), ("b", on_column(2))]
    ]
    base = np.stack([est.predict_proba(X) for _, est in pool], axis=1)
    clf = HardGateClassifier(
        estimators=pool,
        cv="prefit",
        max_epochs=speed_epochs,
        batch_size=batch,
        tol=0.0,
        n_iter_no_change=speed_epochs + 1,
        random_state=0,
    )
    X32 = X.astype(np.float32)
    t_est = median_time(lambda: clf.fit(X32, y), repeats)
    # the estimator's fit also computes the base predictions once
    t_base = median_time(lambda: [est.predict_proba(X) for _, est in pool], repeats)
    t_hand = median_time(
        lambda: hand_written_fit(
            X, base, y, speed_epochs, batch, clf.lr, 0, clf.shrinkage, clf.weight_decay
        ),
        repeats,
    )
    print(
        f"\n### Gate training speed ({n} samples, {speed_epochs} epochs, "
        f"batch {batch})\n"
    )
    cells = [
        ("hand-written torch loop", t_hand),
        ("HardGateClassifier.fit (cv='prefit')", t_est),
        ("of which base predict_proba", t_base),
    ]
    cells = [(name, f"{t:.3f}", f"{t / t_hand:.2f}") for name, t in cells]
    print("\n".join(md_table(["", "seconds", "ratio to hand-written"], cells)))


if __name__ == "__main__":
    main()
