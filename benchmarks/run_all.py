"""The benchmark suite: speed, memory and accuracy of every estimator family.

One command (``make bench``, or ``python benchmarks/run_all.py``; ``--quick``
for a smoke run of a minute or two) measures, for each of the four families:

* **fit time** of the estimator against a hand-written torch loop training the
  same module with the same loss, optimizer, batch size and number of epochs
  (the loops of the family scripts ``bench_<family>.py`` where they match the
  estimator's training exactly), and against scikit-learn's ``MLPClassifier``
  where it solves the same problem (the mixture of experts);
* **predict time** of ``predict_proba`` on 1 and on 10 000 samples against a
  raw forward of the fitted module (``est.net_.module_``) on ready-made input
  tensors under ``torch.inference_mode()``;
* **peak memory** (resident set size) of one fit of the estimator and of the
  hand-written loop, each in a fresh process;
* **accuracy** against the natural baselines on bundled or generated data.

Timings alternate the estimator and its baseline (``paired_times`` of
``bench_mixture.py``) and report medians; the first pair is a discarded
warm-up. Every measurement runs in a fresh subprocess with
``OMP_NUM_THREADS=1`` and ``torch.set_num_threads(1)``.

Results go to ``benchmarks/results/`` (git-ignored): ``summary.md`` (the
tables, also printed), ``summary.png`` (ratios against the targets) and
``results.json`` (the raw numbers). Targets (issue 6): fit <= 1.05x the
hand-written loop, 1-sample predict <= 2x a raw forward, 10k-sample predict <=
1.5x a raw forward.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FAMILIES = ("mixture", "recurrent", "siamese", "gating")
TARGETS = {"fit": 1.05, "predict_1": 2.0, "predict_10k": 1.5}
N_PREDICT = (1, 10_000)


def bench_module(family):
    """The family's own benchmark script, imported as a module."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    return importlib.import_module(f"bench_{family}")


def paired_times(fn_a, fn_b, repeats, inner=1):
    """Median times of ``fn_a`` and ``fn_b`` run alternately, after one
    discarded warm-up pair (``bench_mixture.paired_times``)."""
    fn_a(), fn_b()
    return bench_module("mixture").paired_times(fn_a, fn_b, repeats, inner)


def paired_fit_times(fn_a, fn_b, repeats):
    """Like :func:`paired_times` for single calls, returning the medians and
    the minima: the fastest run is the one least slowed down by other load
    on a shared machine, so the ratio of minima moves less between runs."""
    fn_a(), fn_b()
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return (
        float(np.median(times_a)),
        float(np.median(times_b)),
        min(times_a),
        min(times_b),
    )


def inference(module):
    """A raw forward: ``module(*inputs, **kwargs)`` under inference mode."""
    import torch

    module.eval()

    def forward(inputs, kwargs):
        with torch.inference_mode():
            return module(*inputs, **kwargs)

    return forward


# --------------------------------------------------------------------------
# one "case" per family: the data, the estimator, the hand-written loop and
# the raw inputs of the fitted module
# --------------------------------------------------------------------------
def mixture_case(quick):
    import torch
    from sklearn.datasets import make_classification
    from sklearn.neural_network import MLPClassifier

    from sklearn_nn import MixtureOfExpertsClassifier

    bm = bench_module("mixture")
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
    est = MixtureOfExpertsClassifier(
        **params,
        max_epochs=epochs,
        batch_size=batch,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )
    mlp = MLPClassifier(
        hidden_layer_sizes=(64, 64),
        max_iter=epochs,
        batch_size=batch,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )

    def fit_mlp():
        from sklearn.exceptions import ConvergenceWarning

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
        fit_hand=lambda: bm.hand_written_fit(X_fit, y_fit, params, epochs, batch, 0),
        hand_name="bench_mixture.hand_written_fit",
        fit_mlp=fit_mlp,
        mlp_predict=lambda Xp: mlp.predict_proba(Xp),
        est=est,
        predict_inputs=predict_inputs,
    )


def recurrent_case(quick):
    import torch

    from sklearn_nn import TargetReplicationLSTMClassifier
    from sklearn_nn.recurrent import SequenceClassifierRNN, TargetReplicationLoss

    br = bench_module("recurrent")
    n, epochs, batch, hidden = (500, 1, 64, 64) if quick else (2000, 3, 64, 64)
    alpha = 0.5
    X, y = br.variable_length_data(max(n, N_PREDICT[-1]), 10, 50, 4)
    X_fit, y_fit = X[:n], y[:n]
    est = TargetReplicationLSTMClassifier(
        hidden_size=hidden,
        replication_weight=alpha,
        batch_size=batch,
        max_epochs=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
        # the architecture the hand-written loop below builds
        cell="lstm",
        conv_filters=(),
        lr=1e-3,
    )

    def padded(seqs):
        lengths = torch.tensor([len(s) for s in seqs])
        values = torch.zeros(len(seqs), int(lengths.max()), seqs[0].shape[1])
        for i, s in enumerate(seqs):
            values[i, : len(s)] = torch.from_numpy(s)
        return values, lengths

    values, lengths = padded(X_fit)
    target = torch.as_tensor(y_fit)

    def fit_hand():
        # the estimator's training, by hand: the same module and
        # target-replication loss, length-bucketed batches trimmed to their
        # longest sequence, visited in random order; running epoch loss
        torch.manual_seed(0)
        model = SequenceClassifierRNN(
            values.shape[2], 2, hidden_size=hidden, cell="lstm", conv_filters=()
        )
        criterion = TargetReplicationLoss(alpha)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(0)
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(len(target), generator=g)
            order = perm[torch.sort(lengths[perm], stable=True).indices]
            batches = list(order.split(batch))
            total = 0.0
            for i in torch.randperm(len(batches), generator=g).tolist():
                idx = batches[i]
                lb = lengths[idx]
                opt.zero_grad()
                loss = criterion(model(values[idx, : int(lb.max())], lb), target[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
        return model

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
        hand_name="run_all.py loop (bucketed, TargetReplicationLoss)",
        fit_mlp=None,
        est=est,
        predict_inputs=predict_inputs,
    )


def siamese_case(quick):
    import torch

    from sklearn_nn import SiamesePairClassifier
    from sklearn_nn.siamese import MLPTower, stack_pairs

    bs = bench_module("siamese")
    n, epochs, batch, lr = (2000, 2, 200, 1e-3) if quick else (10000, 5, 200, 1e-3)
    rng = np.random.RandomState(0)
    left, right, y = bs.dense_pairs(max(n, N_PREDICT[-1]), 64, rng)
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
        return bs.hand_written_fit(
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


def gating_case(quick):
    import torch

    from sklearn_nn import HardGateClassifier

    bg = bench_module("gating")
    n, epochs, batch, lr = (2000, 3, 200, 1e-2) if quick else (20000, 10, 200, 1e-2)
    X, y = bg.two_regions(max(n, N_PREDICT[-1]), 0)
    X = X.astype(np.float32)
    X_fit, y_fit = X[:n], y[:n]
    pool = [("a", bg.on_column(1).fit(X_fit, y_fit))]
    pool.append(("b", bg.on_column(2).fit(X_fit, y_fit)))
    est = HardGateClassifier(
        estimators=pool,
        cv="prefit",
        max_epochs=epochs,
        batch_size=batch,
        lr=lr,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )

    def base_predictions(Xp):
        return np.stack([e.predict_proba(Xp) for _, e in pool], axis=1)

    def fit_hand():
        # a hand-written user has to compute the base predictions too
        base = base_predictions(X_fit)
        return bg.hand_written_fit(X_fit, base, y_fit, epochs, batch, lr, 0)

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


CASES = {
    "mixture": mixture_case,
    "recurrent": recurrent_case,
    "siamese": siamese_case,
    "gating": gating_case,
}


# --------------------------------------------------------------------------
# workers (each runs in its own process)
# --------------------------------------------------------------------------
def worker_speed(family, quick):
    import torch

    case = CASES[family](quick)
    repeats = 3 if quick else 9
    out = {"setup": case["setup"], "hand_name": case["hand_name"]}
    (
        out["fit_est"],
        out["fit_hand"],
        out["fit_est_min"],
        out["fit_hand_min"],
    ) = paired_fit_times(case["fit_est"], case["fit_hand"], repeats)
    if case["fit_mlp"] is not None:
        out["fit_est_vs_mlp"], out["fit_mlp"] = paired_times(
            case["fit_est"], case["fit_mlp"], repeats
        )
    est = case["est"]
    case["fit_est"]()
    forward = inference(est.net_.module_)
    for k in N_PREDICT:
        X_est, inputs, kwargs = case["predict_inputs"](k)
        inner = (100 if family == "gating" else 300) if k == 1 else 1
        reps = (5 if quick else 11) if k == 1 else (3 if quick else 5)
        # the raw forward gives the estimator's predictions
        with torch.inference_mode():
            raw_proba = forward(inputs, kwargs)
        raw_proba = (raw_proba[0] if isinstance(raw_proba, tuple) else raw_proba).exp()
        max_diff = float(np.abs(est.predict_proba(X_est) - raw_proba.numpy()).max())
        t_est, t_raw = paired_times(
            lambda X_est=X_est: est.predict_proba(X_est),
            lambda inputs=inputs, kwargs=kwargs: forward(inputs, kwargs),
            reps,
            inner,
        )
        out[f"predict_{k}"] = {"est": t_est, "raw": t_raw, "max_diff": max_diff}
        if case.get("mlp_predict") is not None:
            _, out[f"predict_{k}"]["mlp"] = paired_times(
                lambda X_est=X_est: est.predict_proba(X_est),
                lambda X_est=X_est: case["mlp_predict"](X_est),
                reps,
                inner,
            )
        if case.get("base_predictions") is not None:
            # raw forward including the base models' predict_proba
            def base_and_forward(X_est=X_est, inputs=inputs):
                base = case["base_predictions"](X_est).astype(np.float32)
                return forward((inputs[0], torch.from_numpy(base)), {})

            _, out[f"predict_{k}"]["raw_with_base"] = paired_times(
                lambda X_est=X_est: est.predict_proba(X_est),
                base_and_forward,
                reps,
                inner,
            )
    return out


def max_rss_mib():
    # ru_maxrss is in KiB on Linux and in bytes on macOS
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def worker_memory(family, quick, which):
    case = CASES[family](quick)
    before = max_rss_mib()
    case[f"fit_{which}"]()
    after = max_rss_mib()
    return {"before": before, "peak": after, "increase": after - before}


def worker_accuracy(family, quick):
    return ACCURACY[family](quick)


def accuracy_mixture(quick):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.model_selection import cross_val_score
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_nn import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

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
    for data, loader, models, metric in [
        (
            "breast_cancer",
            load_breast_cancer,
            classifiers,
            "accuracy",
        ),
        (
            "wine",
            load_wine,
            classifiers,
            "accuracy",
        ),
        (
            "diabetes",
            load_diabetes,
            [
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
            ],
            "R^2",
        ),
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


def accuracy_recurrent(quick):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    br = bench_module("recurrent")
    rows = []
    # synthetic: the class is written in the first steps only
    n_train = 300 if quick else 600
    X, y = br.variable_length_data(n_train, 10, 50, 2, seed=1, n_signal=2)
    X_test, y_test = br.variable_length_data(1000, 10, 50, 2, seed=2, n_signal=2)
    params = dict(hidden_size=16, lr=5e-3, max_epochs=5 if quick else 15)
    params["batch_size"] = 32
    rows += br.accuracy_rows(
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
    rows += br.accuracy_rows(name, S_train, d_train, S_test, d_test, params)
    logistic = LogisticRegression(max_iter=2000).fit(
        S_train.reshape(len(S_train), -1), d_train
    )
    score = logistic.score(S_test.reshape(len(S_test), -1), d_test)
    rows.append((name, "sklearn LogisticRegression on the flat image", [score]))
    return [
        (data, model, "accuracy", float(np.mean(a)), float(np.std(a)))
        for data, model, a in rows
    ]


def accuracy_siamese(quick):
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    from sklearn_nn import SiamesePairClassifier
    from sklearn_nn.siamese import split_pairs, stack_pairs

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


def accuracy_gating(quick):
    from sklearn_nn import HardGateClassifier

    bg = bench_module("gating")
    n_splits, epochs = (1, 20) if quick else (3, 100)
    pool = list(HardGateClassifier()._default_estimators())
    rows = []
    for data, split, members in [
        ("breast_cancer (logistic, tree, naive Bayes)", bg.breast_cancer_split, pool),
        (
            "two regions (two one-column logistic regressions)",
            bg.two_region_split,
            [("a", bg.on_column(1)), ("b", bg.on_column(2))],
        ),
    ]:
        table = bg.accuracy_rows(split, members, n_splits, epochs)
        for name, (mean, std) in table.items():
            label = f"{data}, {n_splits} split(s)"
            rows.append((label, name, "accuracy", float(mean), float(std)))
    return rows


ACCURACY = {
    "mixture": accuracy_mixture,
    "recurrent": accuracy_recurrent,
    "siamese": accuracy_siamese,
    "gating": accuracy_gating,
}


def run_worker(args):
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.worker == "speed":
        result = worker_speed(args.family, args.quick)
    elif args.worker == "memory":
        result = worker_memory(args.family, args.quick, args.which)
    else:
        result = worker_accuracy(args.family, args.quick)
    print("RESULT " + json.dumps(result))


# --------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------
def spawn(kind, family, quick, which=None):
    cmd = [sys.executable, __file__, "--worker", kind, "--family", family]
    if quick:
        cmd.append("--quick")
    if which:
        cmd += ["--which", which]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{kind} benchmark of {family} failed:\n{proc.stdout}\n{proc.stderr}"
        )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def fmt_ratio(ratio, target):
    mark = "yes" if ratio <= target else "**no**"
    return f"{ratio:.2f}x ({mark})"


def seconds(t):
    if t < 1e-3:
        return f"{t * 1e6:.0f} µs"
    if t < 1:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def markdown(results, meta):
    families = list(results)
    lines = [
        "# sklearn_nn benchmark summary",
        "",
        f"{meta['date']}, {meta['mode']} run, {meta['machine']}; torch "
        f"{meta['torch']} with torch.set_num_threads(1) and OMP_NUM_THREADS=1 in "
        "every measuring process; scikit-learn "
        f"{meta['sklearn']}. Times are medians of alternating runs "
        "(estimator, baseline, estimator, ...) after a discarded warm-up pair.",
        "",
        "## Fit time (target: <= 1.05x the hand-written torch loop)",
        "",
        "| family | setup | estimator | hand-written loop | ratio (met?) "
        "| ratio of the fastest runs | sklearn MLP | estimator / MLP |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for fam in families:
        s = results[fam]["speed"]
        mlp = "n/a"
        mlp_ratio = "n/a"
        if "fit_mlp" in s:
            mlp = seconds(s["fit_mlp"])
            mlp_ratio = f"{s['fit_est_vs_mlp'] / s['fit_mlp']:.2f}x"
        lines.append(
            f"| {fam} | {s['setup']} | {seconds(s['fit_est'])} | "
            f"{seconds(s['fit_hand'])} | "
            f"{fmt_ratio(s['fit_est'] / s['fit_hand'], TARGETS['fit'])} | "
            f"{s['fit_est_min'] / s['fit_hand_min']:.2f}x | "
            f"{mlp} | {mlp_ratio} |"
        )
    lines += [
        "",
        "Hand-written loops: "
        + "; ".join(f"{fam}: {results[fam]['speed']['hand_name']}" for fam in families)
        + ". The estimator's fit also validates and converts the data, encodes "
        "the target and builds the net (siamese: plus Platt calibration and the "
        "collapse check, one extra forward pass over the training pairs). "
        "The ratio (and the met? mark) compares medians; the ratio of the "
        "fastest runs compares the minima of the same runs, which other load "
        "on a shared machine disturbs least.",
        "",
        "## Predict time: predict_proba against a raw forward of net_.module_",
        "",
        "Targets: 1 sample <= 2x, 10 000 samples <= 1.5x the raw forward "
        "(ready-made input tensors, torch.inference_mode()). The estimator "
        "validates the input, converts it to tensors, runs the module and "
        "returns float64 probabilities.",
        "",
        "| family | samples | predict_proba | raw forward | ratio (met?) "
        "| other baseline |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for fam in families:
        s = results[fam]["speed"]
        for k in N_PREDICT:
            p = s[f"predict_{k}"]
            target = TARGETS["predict_1" if k == 1 else "predict_10k"]
            other = []
            if "mlp" in p:
                other.append(f"sklearn MLPClassifier {seconds(p['mlp'])}")
            if "raw_with_base" in p:
                other.append(
                    f"base models' predict_proba + raw forward "
                    f"{seconds(p['raw_with_base'])} "
                    f"(ratio {p['est'] / p['raw_with_base']:.2f}x)"
                )
            lines.append(
                f"| {fam} | {k:,} | {seconds(p['est'])} | {seconds(p['raw'])} | "
                f"{fmt_ratio(p['est'] / p['raw'], target)} | "
                f"{'; '.join(other) or '-'} |"
            )
    diffs = ", ".join(
        f"{fam} {max(s[f'predict_{k}']['max_diff'] for k in N_PREDICT):.1e}"
        for fam, s in ((fam, results[fam]["speed"]) for fam in families)
    )
    lines += [
        "",
        f"Largest |predict_proba - exp(raw forward)|: {diffs}.",
        "",
        "## Peak memory of one fit (resident set size, fresh process each)",
        "",
        "`ru_maxrss` of a fresh process that imports everything and builds the "
        'data ("before"), then fits once ("peak"); the increase is what the '
        "fit added to the high-water mark.",
        "",
        "| family | estimator peak | estimator increase | hand-written peak "
        "| hand-written increase |",
        "|---|---:|---:|---:|---:|",
    ]
    for fam in families:
        m = results[fam]["memory"]
        lines.append(
            f"| {fam} | {m['est']['peak']:.0f} MiB | {m['est']['increase']:.1f} MiB "
            f"| {m['hand']['peak']:.0f} MiB | {m['hand']['increase']:.1f} MiB |"
        )
    lines += [
        "",
        "## Accuracy against natural baselines (mean ± std)",
        "",
        "| family | data | model | metric | score |",
        "|---|---|---|---|---:|",
    ]
    for fam in families:
        for data, model, metric, mean, std in results[fam]["accuracy"]:
            spread = f" ± {std:.3f}" if std > 0 else ""
            lines.append(
                f"| {fam} | {data} | {model} | {metric} | {mean:.3f}{spread} |"
            )
    met = [
        (fam, name)
        for fam in families
        for name, ratio in ratios(results[fam]["speed"]).items()
        if ratio <= TARGETS[name]
    ]
    total = len(families) * len(TARGETS)
    lines += ["", f"Targets met: {len(met)} of {total}.", ""]
    return "\n".join(lines)


def ratios(speed):
    return {
        "fit": speed["fit_est"] / speed["fit_hand"],
        "predict_1": speed["predict_1"]["est"] / speed["predict_1"]["raw"],
        "predict_10k": speed["predict_10000"]["est"] / speed["predict_10000"]["raw"],
    }


def figure(results, meta, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    families = list(results)
    met_color, missed_color, other_color = "#4C9F70", "#D1495B", "#B8B8B8"
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    panels = [
        ("fit", "fit time / hand-written torch loop"),
        ("predict_1", "predict_proba(1 sample) / raw module forward"),
        ("predict_10k", "predict_proba(10 000 samples) / raw module forward"),
    ]
    for ax, (key, title) in zip(axes.flat, panels):
        target = TARGETS[key]
        names = list(families)
        values = [ratios(results[fam]["speed"])[key] for fam in families]
        colors = [met_color if v <= target else missed_color for v in values]
        if key != "fit" and "gating" in families:
            # the gate's module needs the base models' predictions as input
            p = results["gating"]["speed"][
                "predict_1" if key == "predict_1" else "predict_10000"
            ]
            names.append("gating vs\nbase models\n+ raw forward")
            values.append(p["est"] / p["raw_with_base"])
            colors.append(other_color)
        bars = ax.bar(names, values, color=colors, edgecolor="black", lw=0.6)
        ax.axhline(target, color="black", ls="--", lw=1.3)
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        if max(values) > 4 * target:
            ax.set_yscale("log")
            ax.set_ylim(min(0.5, min(values) / 1.5), max(values) * 2)
            ticks = [t for t in (0.5, 1, 2, 5, 10, 20, 50, 100) if t < max(values) * 2]
            ax.set_yticks(ticks, [f"{t:g}x" for t in ticks])
            ax.minorticks_off()
        else:
            ax.set_ylim(0, max(max(values), target) * 1.3)
        for bar, v in zip(bars, values):
            ax.annotate(
                f"{v:.2f}x",
                (bar.get_x() + bar.get_width() / 2, v),
                ha="center",
                va="bottom",
                fontsize=10,
                fontweight="bold",
                xytext=(0, 3),
                textcoords="offset points",
            )
        ax.set_title(f"{title}\n(target <= {target:g}x, dashed line)", fontsize=11)
        ax.set_ylabel("ratio (lower is better)")
        ax.tick_params(axis="x", labelsize=10)
    ax = axes[1, 1]
    x = np.arange(len(families))
    est = [results[fam]["memory"]["est"]["increase"] for fam in families]
    hand = [results[fam]["memory"]["hand"]["increase"] for fam in families]
    ax.bar(x - 0.2, est, 0.4, label="estimator", color="#4C72B0", edgecolor="black")
    ax.bar(x + 0.2, hand, 0.4, label="hand-written loop", color=other_color)
    ax.set_xticks(x, families, fontsize=10)
    ax.set_ylabel("MiB")
    ax.set_title("peak RSS increase during one fit\n(fresh process each)", fontsize=11)
    ax.legend(fontsize=10)
    fig.legend(
        handles=[
            Patch(color=met_color, label="target met"),
            Patch(color=missed_color, label="target missed"),
            Patch(color=other_color, label="other baseline (no target)"),
        ],
        loc="upper right",
        ncol=3,
        fontsize=10,
        frameon=False,
    )
    fig.suptitle(
        f"sklearn_nn benchmarks: {meta['mode']} run, 1 torch thread, {meta['date']}",
        fontsize=12,
        x=0.01,
        ha="left",
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def replot(out):
    """Redraw summary.md and summary.png from an earlier run's results.json."""
    saved = json.loads((out / "results.json").read_text())
    (out / "summary.md").write_text(markdown(saved["results"], saved["meta"]))
    figure(saved["results"], saved["meta"], out / "summary.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small, fast smoke run")
    parser.add_argument(
        "--families",
        nargs="+",
        choices=FAMILIES,
        default=list(FAMILIES),
        help="families to run (default: all)",
    )
    parser.add_argument(
        "--out", type=Path, default=HERE / "results", help="output folder"
    )
    parser.add_argument(
        "--replot",
        action="store_true",
        help="only redraw the table and figure from OUT/results.json",
    )
    parser.add_argument("--worker", choices=["speed", "memory", "accuracy"])
    parser.add_argument("--family", choices=FAMILIES)
    parser.add_argument("--which", choices=["est", "hand"])
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return
    if args.replot:
        replot(args.out)
        return

    import sklearn
    import torch
    from tqdm.auto import tqdm

    meta = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "mode": "quick" if args.quick else "full",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
    }
    print(
        f"torch {meta['torch']}: every measurement runs in a fresh process with "
        "OMP_NUM_THREADS=1 and torch.set_num_threads(1)"
    )
    jobs = [
        (fam, kind, which)
        for fam in args.families
        for kind, which in [
            ("speed", None),
            ("memory", "est"),
            ("memory", "hand"),
            ("accuracy", None),
        ]
    ]
    results = {fam: {"memory": {}} for fam in args.families}
    start = time.perf_counter()
    with tqdm(jobs, desc="benchmarks", unit="job") as bar:
        for fam, kind, which in bar:
            bar.set_postfix_str(f"{fam} {kind} {which or ''}".strip())
            result = spawn(kind, fam, args.quick, which)
            if kind == "memory":
                results[fam]["memory"][which] = result
            else:
                results[fam][kind] = result
    meta["seconds"] = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(results, meta)
    (args.out / "summary.md").write_text(text)
    (args.out / "results.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=1)
    )
    figure(results, meta, args.out / "summary.png")
    print()
    print(text)
    print(f"({meta['seconds']:.0f} s; written to {args.out})")


if __name__ == "__main__":
    main()
