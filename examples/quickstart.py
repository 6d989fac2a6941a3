"""Quick tour of sklearn_nn on data that ships with scikit-learn (or is generated).

Run with ``make demo``. Each of the four estimator families is fitted inside a
scikit-learn ``Pipeline`` and/or ``GridSearchCV`` next to a natural baseline
measured in the same run, and a markdown results table is printed at the end:

* mixture of experts: ``MixtureOfExpertsClassifier`` against scikit-learn's
  ``MLPClassifier`` on breast_cancer and wine, and ``MixtureOfExpertsRegressor``
  against ``LinearRegression`` on a piecewise-linear target;
* target replication: ``TargetReplicationLSTMClassifier`` on variable-length
  sequences whose class is written in two early steps (at a varying time),
  against a logistic regression and a 1-NN on zero-padded sequences;
* siamese pairs: ``SiamesePairClassifier`` deciding whether two digits images
  show the same digit, against the cosine similarity of raw pixels;
* hard gate: ``HardGateClassifier`` choosing per sample among two logistic
  regressions that are each right on one half of the space (and its own
  prior and vote candidates), against the static best single model and the
  per-sample oracle.
"""

import time
import warnings

import numpy as np
import torch
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from sklearn_nn import (
    HardGateClassifier,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SiamesePairClassifier,
    TargetReplicationLSTMClassifier,
)
from sklearn_nn.siamese import stack_pairs

# Small networks run fastest on one CPU thread (and several OpenMP threads
# spin-waiting on a busy 2-core machine can be far slower).
torch.set_num_threads(1)
warnings.filterwarnings("ignore", category=ConvergenceWarning)

rows = []


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def record(family, data, model, metric, value, seconds):
    rows.append((family, data, model, metric, value, seconds))
    tqdm.write(f"  {model:<52} {metric} {value:.3f}  ({seconds:.1f} s)")


# %%
# Mixture of experts
# ------------------
def moe_classification(name, loader):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    tqdm.write(f"{name}: {X.shape[0]} samples, {X.shape[1]} features")
    with Timer() as t:
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
        "mixture",
        name,
        f"MixtureOfExpertsClassifier (GridSearchCV: n_experts={best})",
        "test accuracy",
        search.score(X_test, y_test),
        t.seconds,
    )
    with Timer() as t:
        mlp = make_pipeline(
            StandardScaler(),
            MLPClassifier(hidden_layer_sizes=(32, 32), max_iter=100, random_state=0),
        ).fit(X_train, y_train)
    record(
        "mixture",
        name,
        "sklearn MLPClassifier (32, 32)",
        "test accuracy",
        mlp.score(X_test, y_test),
        t.seconds,
    )


def moe_regression():
    # Two regimes: y = x for x < 0 and y = -2x + 3 for x >= 0.
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(1000, 1))
    y = np.where(X[:, 0] < 0, X[:, 0], -2 * X[:, 0] + 3) + 0.1 * rng.randn(1000)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    tqdm.write("piecewise regression: 2 linear regimes, 1000 samples")
    with Timer() as t:
        reg = make_pipeline(
            StandardScaler(),
            MixtureOfExpertsRegressor(
                expert_hidden_layer_sizes=(),
                gate_hidden_layer_sizes=(16,),
                lr=0.02,
                max_epochs=150,
                random_state=0,
            ),
        ).fit(X_train, y_train)
    record(
        "mixture",
        "piecewise",
        "MixtureOfExpertsRegressor (Pipeline, 2 linear experts)",
        "test MSE     ",
        mean_squared_error(y_test, reg.predict(X_test)),
        t.seconds,
    )
    gate = reg[-1].predict_gate(reg[:-1].transform(X_test)).argmax(axis=1)
    regime = (X_test[:, 0] >= 0).astype(int)
    agreement = max(np.mean(gate == regime), np.mean(gate != regime))
    tqdm.write(f"  gate sends {agreement:.1%} of test points to their regime's expert")
    with Timer() as t:
        lin = make_pipeline(StandardScaler(), LinearRegression()).fit(X_train, y_train)
    record(
        "mixture",
        "piecewise",
        "sklearn LinearRegression",
        "test MSE     ",
        mean_squared_error(y_test, lin.predict(X_test)),
        t.seconds,
    )


# %%
# Target replication
# ------------------
def early_decision_sequences(n, seed):
    """Ragged sequences (10 to 40 steps, 2 channels) of noise, except for two
    consecutive steps starting at a random step among the first six: there
    channel 1 is raised by 3 (a marker) and channel 0 tells the class."""
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = []
    for label in y:
        seq = rng.randn(rng.randint(10, 41), 2)
        start = rng.randint(6)
        seq[start : start + 2, 0] += 2.0 * (2 * label - 1)
        seq[start : start + 2, 1] += 3.0
        X.append(seq)
    return X, y


def zero_padded(sequences, n_steps):
    out = np.zeros((len(sequences), n_steps, sequences[0].shape[1]))
    for i, seq in enumerate(sequences):
        out[i, : len(seq)] = seq[:n_steps]
    return out.reshape(len(sequences), -1)


def target_replication():
    X_train, y_train = early_decision_sequences(400, seed=0)
    X_test, y_test = early_decision_sequences(1000, seed=1)
    tqdm.write("early decision: 400 train / 1000 test sequences of 10 to 40 steps")
    with Timer() as t:
        search = GridSearchCV(
            TargetReplicationLSTMClassifier(random_state=0),
            {"replication_weight": [0.0, 0.5]},
            cv=2,
        ).fit(X_train, y_train)
    alpha = search.best_params_["replication_weight"]
    record(
        "recurrent",
        "early decision",
        f"TargetReplicationLSTM (GridSearchCV: replication_weight={alpha})",
        "test accuracy",
        search.score(X_test, y_test),
        t.seconds,
    )
    P_train, P_test = zero_padded(X_train, 40), zero_padded(X_test, 40)
    for model, name in [
        (make_pipeline(StandardScaler(), LogisticRegression()), "logistic regression"),
        (KNeighborsClassifier(1), "1-NN"),
    ]:
        with Timer() as t:
            model.fit(P_train, y_train)
        record(
            "recurrent",
            "early decision",
            f"sklearn {name} on zero-padded sequences",
            "test accuracy",
            model.score(P_test, y_test),
            t.seconds,
        )


# %%
# Siamese pairs
# -------------
def digit_pairs(images, labels, n_pairs, rng):
    """Pairs of images, half of them showing the same digit (label 1)."""
    same = rng.rand(n_pairs) < 0.5
    left = rng.randint(len(images), size=n_pairs)
    right = np.empty(n_pairs, dtype=int)
    for k in range(n_pairs):
        pool = np.flatnonzero((labels == labels[left[k]]) == same[k])
        right[k] = rng.choice(pool[pool != left[k]])
    return stack_pairs(images[left], images[right]), same.astype(int)


def cosine_of_halves(P):
    k = P.shape[1] // 2
    a, b = P[:, :k], P[:, k:]
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def siamese():
    X, digit = load_digits(return_X_y=True)
    # images split first: no test pair contains a training image
    X_train, X_test, d_train, d_test = train_test_split(
        X, digit, test_size=0.5, stratify=digit, random_state=0
    )
    rng = np.random.RandomState(0)
    P_train, y_train = digit_pairs(X_train, d_train, 2000, rng)
    P_test, y_test = digit_pairs(X_test, d_test, 2000, rng)
    tqdm.write("digits pairs: 2000 train / 2000 test pairs of unseen images")
    with Timer() as t:
        search = GridSearchCV(
            make_pipeline(
                StandardScaler(),
                SiamesePairClassifier(
                    hidden_layer_sizes=(64,), lr=3e-3, max_epochs=25, random_state=0
                ),
            ),
            {"siamesepairclassifier__embedding_dim": [8, 16]},
            cv=2,
        ).fit(P_train, y_train)
    dim = search.best_params_["siamesepairclassifier__embedding_dim"]
    record(
        "siamese",
        "digits pairs",
        f"SiamesePairClassifier (Pipeline + GridSearchCV: dim={dim})",
        "test accuracy",
        search.score(P_test, y_test),
        t.seconds,
    )
    # baseline: "same" when the cosine of the raw pixels exceeds the threshold
    # that is most accurate on the training pairs
    with Timer() as t:
        c_train = cosine_of_halves(P_train)
        candidates = np.unique(c_train)
        accuracy = [np.mean((c_train >= c) == y_train) for c in candidates]
        threshold = candidates[int(np.argmax(accuracy))]
    record(
        "siamese",
        "digits pairs",
        "cosine of raw pixels (threshold fitted on train)",
        "test accuracy",
        np.mean((cosine_of_halves(P_test) >= threshold) == y_test),
        t.seconds,
    )


# %%
# Hard gate
# ---------
def two_regions(n, seed):
    """The class is x1 > 0 where x0 < 0 and x2 > 0 elsewhere."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 3))
    y = np.where(X[:, 0] < 0, X[:, 1] > 0, X[:, 2] > 0).astype(int)
    return X, y


def on_column(j):
    """A logistic regression that sees column ``j`` only."""
    pick = ColumnTransformer([("pick", "passthrough", [j])])
    return make_pipeline(pick, LogisticRegression())


def hard_gate():
    X_train, y_train = two_regions(600, 0)
    X_test, y_test = two_regions(2000, 1)
    pool = [("sees_x1", on_column(1)), ("sees_x2", on_column(2))]
    tqdm.write("two regions: 600 train / 2000 test, two one-column base models")
    with Timer() as t:
        search = GridSearchCV(
            make_pipeline(
                StandardScaler(),
                HardGateClassifier(estimators=pool, random_state=0),
            ),
            {"hardgateclassifier__gate_hidden_layer_sizes": [(), (16,)]},
            cv=3,
        ).fit(X_train, y_train)
    hidden = search.best_params_["hardgateclassifier__gate_hidden_layer_sizes"]
    record(
        "gating",
        "two regions",
        f"HardGateClassifier (Pipeline + GridSearchCV: gate {hidden})",
        "test accuracy",
        search.score(X_test, y_test),
        t.seconds,
    )
    # static best: the pool member with the best 5-fold CV accuracy
    with Timer() as t:
        cv = [cross_val_score(est, X_train, y_train, cv=5).mean() for _, est in pool]
        name, best = pool[int(np.argmax(cv))]
        best.fit(X_train, y_train)
    record(
        "gating",
        "two regions",
        f"static best single base model ({name})",
        "test accuracy",
        best.score(X_test, y_test),
        t.seconds,
    )
    fitted = search.best_estimator_[-1].estimators_
    X_test_scaled = search.best_estimator_[:-1].transform(X_test)
    right = np.stack([est.predict(X_test_scaled) == y_test for est in fitted])
    record(
        "gating",
        "two regions",
        "oracle (right when any base model is right)",
        "test accuracy",
        right.any(axis=0).mean(),
        0.0,
    )


steps = [
    (
        "mixture: breast_cancer",
        lambda: moe_classification("breast_cancer", load_breast_cancer),
    ),
    ("mixture: wine", lambda: moe_classification("wine", load_wine)),
    ("mixture: piecewise regression", moe_regression),
    ("recurrent: early decision", target_replication),
    ("siamese: digits pairs", siamese),
    ("gating: two regions", hard_gate),
]

start = time.perf_counter()
with tqdm(steps, desc="sklearn_nn tour", unit="step") as bar:
    for description, step in bar:
        bar.set_postfix_str(description)
        step()

print(f"\nResults ({time.perf_counter() - start:.0f} s in all, torch threads 1)\n")
print("| family | data | model | metric | value | fit time (s) |")
print("|---|---|---|---|---:|---:|")
for family, data, model, metric, value, seconds in rows:
    print(
        f"| {family} | {data} | {model} | {metric.strip()} | {value:.3f} "
        f"| {seconds:.1f} |"
    )
