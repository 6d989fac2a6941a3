"""Target-replication LSTM: the speed case and the accuracy case of ``run_all``."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from benchmarks.bench_recurrent import (
    accuracy_rows,
    hand_written_fit,
    padded,
    variable_length_data,
)
from benchmarks.cases import N_PREDICT
from sklearn_nn import TargetReplicationLSTMClassifier


def speed_case(quick):
    n, epochs, batch, hidden = (500, 1, 64, 64) if quick else (2000, 3, 64, 64)
    alpha = 0.5
    X, y = variable_length_data(max(n, N_PREDICT[-1]), 10, 50, 4)
    X_fit, y_fit = X[:n], y[:n]
    est = TargetReplicationLSTMClassifier(
        hidden_size=hidden,
        replication_weight=alpha,
        batch_size=batch,
        max_epochs=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
        # the architecture of the hand-written loop
        cell="lstm",
        conv_filters=(),
        lr=1e-3,
    )
    values, lengths = padded(X_fit)

    def fit_hand():
        # the estimator's training, by hand: the same module and
        # target-replication loss, length-bucketed batches trimmed to their
        # longest sequence, visited in random order; running epoch loss
        return hand_written_fit(
            values,
            lengths,
            y_fit,
            hidden_size=hidden,
            epochs=epochs,
            batch_size=batch,
            replication_weight=alpha,
            bucketed=True,
        )

    def predict_inputs(k):
        return X[:k], padded(X[:k]), {"return_steps": False}

    return dict(
        setup=(
            f"{n} sequences of 10..50 steps x 4 channels, LSTM {hidden}, "
            f"replication_weight {alpha}, {epochs} epochs, batch {batch} "
            "(length buckets)"
        ),
        fit_est=lambda: est.fit(X_fit, y_fit),
        fit_hand=fit_hand,
        hand_name="bench_recurrent.hand_written_fit (bucketed, TargetReplicationLoss)",
        fit_mlp=None,
        est=est,
        predict_inputs=predict_inputs,
    )


def accuracy(quick):
    rows = []
    # synthetic: the class is written in the first steps only
    n_train = 300 if quick else 600
    X, y = variable_length_data(n_train, 10, 50, 2, seed=1, n_signal=2)
    X_test, y_test = variable_length_data(1000, 10, 50, 2, seed=2, n_signal=2)
    params = dict(hidden_size=16, lr=5e-3, max_epochs=5 if quick else 15)
    params["batch_size"] = 32
    rows += accuracy_rows(
        f"early decision ({n_train} train, lengths 10..50)",
        X,
        y,
        X_test,
        y_test,
        params,
    )
    # bundled: digits read row by row, 8 steps of 8 pixels
    images, digit = load_digits(return_X_y=True)
    seqs = (images / 16.0).reshape(-1, 8, 8)
    S_train, S_test, d_train, d_test = train_test_split(
        seqs, digit, test_size=0.5, stratify=digit, random_state=0
    )
    params = dict(hidden_size=32, lr=1e-2, max_epochs=10 if quick else 40)
    params["batch_size"] = 32
    name = "digits row by row (8 steps x 8 pixels, 50 % test)"
    rows += accuracy_rows(name, S_train, d_train, S_test, d_test, params)
    logistic = LogisticRegression(max_iter=2000).fit(
        S_train.reshape(len(S_train), -1), d_train
    )
    score = logistic.score(S_test.reshape(len(S_test), -1), d_test)
    rows.append((name, "sklearn LogisticRegression on the flat image", [score]))
    return [
        (data, model, "accuracy", float(np.mean(a)), float(np.std(a)))
        for data, model, a in rows
    ]
