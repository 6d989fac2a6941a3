"""Quick tour of sklearn_nn on data that ships with scikit-learn.

Run with ``make demo``. Fits the mixture-of-experts estimators inside
scikit-learn Pipelines (with a small GridSearchCV) next to scikit-learn's own
MLP, and prints a results table.
"""

import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nn import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

# Small networks run fastest on one CPU thread (and several OpenMP threads
# spin-waiting on a busy 2-core machine can be far slower).
torch.set_num_threads(1)
warnings.filterwarnings("ignore", category=ConvergenceWarning)

rows = []


def record(task, model, metric, value, seconds):
    rows.append((task, model, metric, value, seconds))
    print(f"  {model:<46} {metric} {value:.3f}  ({seconds:.1f} s)")


for name, loader in [("breast_cancer", load_breast_cancer), ("wine", load_wine)]:
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    print(f"{name}: {X.shape[0]} samples, {X.shape[1]} features")

    start = time.perf_counter()
    moe = make_pipeline(
        StandardScaler(),
        MixtureOfExpertsClassifier(
            expert_hidden_layer_sizes=(32, 32),
            gate_hidden_layer_sizes=(16, 16),
            max_epochs=100,
            random_state=0,
        ),
    )
    search = GridSearchCV(
        moe, {"mixtureofexpertsclassifier__n_experts": [2, 4]}, cv=3
    ).fit(X_train, y_train)
    best = search.best_params_["mixtureofexpertsclassifier__n_experts"]
    record(
        name,
        f"MixtureOfExpertsClassifier (n_experts={best})",
        "test accuracy",
        search.score(X_test, y_test),
        time.perf_counter() - start,
    )

    start = time.perf_counter()
    mlp = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(32, 32), max_iter=100, random_state=0),
    ).fit(X_train, y_train)
    record(
        name,
        "sklearn MLPClassifier (32, 32)",
        "test accuracy",
        mlp.score(X_test, y_test),
        time.perf_counter() - start,
    )

# Two regimes: y = x for x < 0 and y = -2x + 3 for x >= 0.
rng = np.random.RandomState(0)
X = rng.uniform(-3, 3, size=(1000, 1))
y = np.where(X[:, 0] < 0, X[:, 0], -2 * X[:, 0] + 3) + 0.1 * rng.randn(1000)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
print("piecewise regression: 2 regimes, 1000 samples")

start = time.perf_counter()
reg = MixtureOfExpertsRegressor(
    expert_hidden_layer_sizes=(),
    gate_hidden_layer_sizes=(16,),
    lr=0.02,
    max_epochs=150,
    random_state=0,
).fit(X_train, y_train)
record(
    "piecewise",
    "MixtureOfExpertsRegressor (2 linear experts)",
    "test MSE     ",
    mean_squared_error(y_test, reg.predict(X_test)),
    time.perf_counter() - start,
)
gate = reg.predict_gate(X_test).argmax(axis=1)
regime = (X_test[:, 0] >= 0).astype(int)
agreement = max(np.mean(gate == regime), np.mean(gate != regime))
print(f"  gate assigns {agreement:.1%} of test points to their regime's expert")

start = time.perf_counter()
lin = LinearRegression().fit(X_train, y_train)
record(
    "piecewise",
    "sklearn LinearRegression",
    "test MSE     ",
    mean_squared_error(y_test, lin.predict(X_test)),
    time.perf_counter() - start,
)

print()
print("| data | model | metric | value | fit time (s) |")
print("|---|---|---|---|---|")
for task, model, metric, value, seconds in rows:
    print(f"| {task} | {model} | {metric.strip()} | {value:.3f} | {seconds:.1f} |")
