"""Mixture of experts: the speed case and the accuracy case of ``run_all``."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.bench_mixture import hand_written_fit, make_models
from benchmarks.cases import N_PREDICT
from sklearn_nn import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor


def speed_case(quick):
    n, epochs, batch = (2000, 2, 200) if quick else (10000, 5, 200)
    params = dict(
        n_experts=4,
        expert_hidden_layer_sizes=(64, 64),
        gate_hidden_layer_sizes=(32,),
        lr=1e-3,
    )
    X, y = make_classification(
        n_samples=max(n, N_PREDICT[-1]),
        n_features=64,
        n_informative=20,
        n_classes=3,
        random_state=0,
    )
    X = X.astype(np.float32)
    X_fit, y_fit = X[:n], y[:n]
    est, mlp = make_models(params, epochs, batch)

    def fit_mlp():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X_fit, y_fit)

    def predict_inputs(k):
        return X[:k], (torch.from_numpy(X[:k]),), {}

    return dict(
        setup=(
            f"{n} x 64, 3 classes, 4 experts (64, 64), gate (32,), "
            f"{epochs} epochs, batch {batch}"
        ),
        fit_est=lambda: est.fit(X_fit, y_fit),
        fit_hand=lambda: hand_written_fit(X_fit, y_fit, params, epochs, batch, 0),
        hand_name="bench_mixture.hand_written_fit",
        fit_mlp=fit_mlp,
        mlp_predict=lambda Xp: mlp.predict_proba(Xp),
        est=est,
        predict_inputs=predict_inputs,
    )


def accuracy(quick):
    cv = 3 if quick else 5
    epochs = 50 if quick else 200
    hidden = dict(expert_hidden_layer_sizes=(32,), gate_hidden_layer_sizes=(16,))
    rows = []
    # the same classifiers for both classification data sets (cloned by CV)
    classifiers = [
        (
            "MixtureOfExpertsClassifier (4 experts (32,))",
            MixtureOfExpertsClassifier(
                n_experts=4, max_epochs=epochs, random_state=0, **hidden
            ),
        ),
        (
            "sklearn MLPClassifier (32,)",
            MLPClassifier(hidden_layer_sizes=(32,), max_iter=epochs, random_state=0),
        ),
        ("sklearn LogisticRegression", LogisticRegression()),
    ]
    regressors = [
        (
            "MixtureOfExpertsRegressor (4 linear experts)",
            MixtureOfExpertsRegressor(
                n_experts=4,
                expert_hidden_layer_sizes=(),
                gate_hidden_layer_sizes=(16,),
                lr=1e-2,
                max_epochs=epochs,
                random_state=0,
            ),
        ),
        (
            "sklearn MLPRegressor (32,)",
            MLPRegressor(
                hidden_layer_sizes=(32,),
                learning_rate_init=1e-2,
                max_iter=epochs,
            ),
        ),
        ("sklearn RidgeCV", RidgeCV()),
    ]
    for data, loader, models, metric in [
        ("breast_cancer", load_breast_cancer, classifiers, "accuracy"),
        ("wine", load_wine, classifiers, "accuracy"),
        ("diabetes", load_diabetes, regressors, "R^2"),
    ]:
        X, y = loader(return_X_y=True)
        for name, model in models:
            if "random_state" in model.get_params():
                model.set_params(random_state=0)
            pipeline = make_pipeline(StandardScaler(), model)
            if metric == "R^2":
                # a standardised target for every regressor (the neural ones
                # need it; it changes nothing for the ridge regression)
                pipeline = TransformedTargetRegressor(
                    pipeline, transformer=StandardScaler()
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                scores = cross_val_score(pipeline, X, y, cv=cv)
            rows.append(
                (f"{data} ({cv}-fold CV)", name, metric, scores.mean(), scores.std())
            )
    return rows
