"""Siamese pairs: the speed case and the accuracy case of ``run_all``."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from benchmarks.bench_siamese import dense_pairs, hand_written_fit
from benchmarks.cases import N_PREDICT
from sklearn_nn import SiamesePairClassifier
from sklearn_nn.siamese import MLPTower, split_pairs, stack_pairs


def speed_case(quick):
    n, epochs, batch, lr = (2000, 2, 200, 1e-3) if quick else (10000, 5, 200, 1e-3)
    rng = np.random.RandomState(0)
    left, right, y = dense_pairs(max(n, N_PREDICT[-1]), 64, rng)
    X = stack_pairs(left, right)
    X_fit, y_fit = X[:n], y[:n]
    L, R = torch.from_numpy(left[:n]), torch.from_numpy(right[:n])
    est = SiamesePairClassifier(
        hidden_layer_sizes=(64,),
        embedding_dim=16,
        shared_weights=True,
        negatives="none",
        max_epochs=epochs,
        batch_size=batch,
        lr=lr,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )

    def fit_hand():
        return hand_written_fit(
            L, R, y_fit, lambda side: MLPTower(64, (64,), 16), True, epochs, batch, lr
        )

    def predict_inputs(k):
        return (
            X[:k],
            (torch.from_numpy(left[:k]), torch.from_numpy(right[:k])),
            {},
        )

    return dict(
        setup=(
            f"{n} pairs of 2 x 64 features, shared MLP tower (64,) -> 16, "
            f"contrastive, {epochs} epochs, batch {batch}"
        ),
        fit_est=lambda: est.fit(X_fit, y_fit),
        fit_hand=fit_hand,
        hand_name="bench_siamese.hand_written_fit",
        fit_mlp=None,
        est=est,
        predict_inputs=predict_inputs,
    )


def accuracy(quick):
    images, digit = load_digits(return_X_y=True)
    images = images / 16.0
    X_train, X_test, d_train, d_test = train_test_split(
        images, digit, test_size=0.5, stratify=digit, random_state=0
    )
    n_train = 1000 if quick else 3000

    def pairs(imgs, labels, n, rng):
        same = rng.rand(n) < 0.5
        left = rng.randint(len(imgs), size=n)
        right = np.empty(n, dtype=int)
        for k in range(n):
            pool = np.flatnonzero((labels == labels[left[k]]) == same[k])
            right[k] = rng.choice(pool[pool != left[k]])
        return stack_pairs(imgs[left], imgs[right]), same.astype(int)

    def cosine(P):
        a, b = split_pairs(P)
        return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    def cosine_accuracy(P_train, y_train, P_test, y_test):
        c = cosine(P_train)
        candidates = np.unique(c)
        best = candidates[np.argmax([np.mean((c >= t) == y_train) for t in candidates])]
        return np.mean((cosine(P_test) >= best) == y_test)

    pca = PCA(16, random_state=0).fit(X_train)

    def pca_pairs(P):
        a, b = split_pairs(P)
        return stack_pairs(pca.transform(a), pca.transform(b))

    scores = {"siamese": [], "pixels": [], "pca": []}
    for seed in range(1 if quick else 3):
        rng = np.random.RandomState(seed)
        P_train, y_train = pairs(X_train, d_train, n_train, rng)
        P_test, y_test = pairs(X_test, d_test, 2000, rng)
        clf = SiamesePairClassifier(
            hidden_layer_sizes=(64, 32),
            embedding_dim=16,
            lr=3e-3,
            max_epochs=10 if quick else 40,
            random_state=seed,
        ).fit(P_train, y_train)
        scores["siamese"].append(clf.score(P_test, y_test))
        scores["pixels"].append(cosine_accuracy(P_train, y_train, P_test, y_test))
        scores["pca"].append(
            cosine_accuracy(pca_pairs(P_train), y_train, pca_pairs(P_test), y_test)
        )
    data = f"digits same/different pairs ({n_train} train, 2000 test, unseen images)"
    names = {
        "siamese": "SiamesePairClassifier (MLP (64, 32) -> 16)",
        "pixels": "cosine of raw pixels (threshold fitted on train)",
        "pca": "cosine of PCA(16) features (threshold fitted on train)",
    }
    return [
        (data, names[k], "accuracy", float(np.mean(v)), float(np.std(v)))
        for k, v in scores.items()
    ]
