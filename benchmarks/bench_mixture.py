"""Speed of the mixture-of-experts estimators against hand-written torch.

Times, in one run and on the same data:

* fit: ``MixtureOfExpertsClassifier.fit`` against a hand-written torch loop
  training the same module with the same loss, optimizer, batch size and
  epochs (shuffled slicing batches, running epoch loss), and against
  scikit-learn's ``MLPClassifier`` with the same epochs and batch size;
* predict: ``predict_proba`` of 1 and of 10 000 samples against a raw
  ``module(x)`` forward under ``torch.inference_mode()`` (the estimator also
  validates its input and returns float64 numpy arrays).

Run ``OMP_NUM_THREADS=1 python -m benchmarks.bench_mixture`` from the repository
root (``--quick`` for a smoke run).
Each timing is the median of several repeats; ratios are estimator / baseline.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from benchmarks._report import md_table
from benchmarks._timing import median_time, paired_times
from sklearn_nn import MixtureOfExpertsClassifier
from sklearn_nn.mixture import MixtureOfExperts, MixtureOfExpertsLoss


def hand_written_fit(X, y, params, epochs, batch_size, seed):
    torch.manual_seed(seed)
    model = MixtureOfExperts(
        X.shape[1],
        int(y.max()) + 1,
        n_experts=params["n_experts"],
        expert_hidden_layer_sizes=params["expert_hidden_layer_sizes"],
        gate_hidden_layer_sizes=params["gate_hidden_layer_sizes"],
    )
    criterion = MixtureOfExpertsLoss("classification", "mixture")
    opt = torch.optim.Adam(model.parameters(), lr=params["lr"])
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y)
    n = len(Xt)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n)
        Xs, ys = Xt[perm], yt[perm]
        total = 0.0
        for i in range(0, n, batch_size):
            xb, yb = Xs[i : i + batch_size], ys[i : i + batch_size]
            opt.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
    return model


def make_models(params, epochs, batch_size):
    """The estimator and scikit-learn's MLPClassifier as the speed case times
    them: every epoch runs (tol=0, no early stop), fixed seeds."""
    est = MixtureOfExpertsClassifier(
        **params,
        max_epochs=epochs,
        batch_size=batch_size,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )
    mlp = MLPClassifier(
        hidden_layer_sizes=(64, 64),
        max_iter=epochs,
        batch_size=batch_size,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )
    return est, mlp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: the estimator and the baselines "
        "run small networks, where more threads only add contention)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    n_samples, n_features = (2000, 64) if args.quick else (20000, 64)
    epochs, batch_size = (2, 200) if args.quick else (10, 200)
    repeats = 1 if args.quick else 5
    params = dict(
        n_experts=4,
        expert_hidden_layer_sizes=(64, 64),
        gate_hidden_layer_sizes=(32,),
        lr=1e-3,
    )
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=20,
        n_classes=3,
        random_state=0,
    )
    X = X.astype(np.float32)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"data {n_samples} x {n_features}, {epochs} epochs, batch {batch_size}"
    )

    est, mlp = make_models(params, epochs, batch_size)

    def fit_mlp():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, y)

    # warm up each path once (lazy torch initialisation, allocator)
    est.fit(X[:500], y[:500])
    hand_written_fit(X[:500], y[:500], params, 1, batch_size, 0)

    rows = []
    t_est, t_hand = paired_times(
        lambda: est.fit(X, y),
        lambda: hand_written_fit(X, y, params, epochs, batch_size, 0),
        repeats,
    )
    t_mlp = median_time(fit_mlp, repeats)
    rows.append(("fit", t_est, "hand-written torch loop", t_hand))
    rows.append(("fit", t_est, "sklearn MLPClassifier (64, 64)", t_mlp))

    module = est.net_.module_.eval()
    for n_pred in (1, 10000):
        Xp = X[:n_pred]
        Xp_t = torch.as_tensor(Xp)

        def raw(Xp_t=Xp_t):
            with torch.inference_mode():
                return module(Xp_t)

        inner = 200 if n_pred == 1 else 5
        reps = 5 if args.quick else 25
        t_pred, t_raw = paired_times(
            lambda Xp=Xp: est.predict_proba(Xp), raw, reps, inner, warm_up=True
        )
        rows.append((f"predict_proba {n_pred}", t_pred, "raw module(x) forward", t_raw))
        t_mlp_pred = median_time(lambda Xp=Xp: mlp.predict_proba(Xp), reps * inner)
        rows.append(
            (f"predict_proba {n_pred}", t_pred, "sklearn MLPClassifier", t_mlp_pred)
        )

    print()
    columns = ["operation", "sklearn_nn (s)", "baseline", "baseline (s)", "ratio"]
    cells = [
        (op, f"{t_a:.6f}", name, f"{t_b:.6f}", f"{t_a / t_b:.2f}x")
        for op, t_a, name, t_b in rows
    ]
    print("\n".join(md_table(columns, cells)))


if __name__ == "__main__":
    main()
