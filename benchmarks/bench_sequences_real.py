"""Real-data accuracy of the sequence families, every anchor measured in the same run.

1. Classification on aeon's bundled UCR/UEA copies (JapaneseVowels: 12
   channels, lengths 7..29; GunPoint, ArrowHead, ItalyPowerDemand, OSULeaf:
   univariate, equal length). Test accuracy of
   ``make_pipeline(SequenceStandardScaler(per_sequence=...),
   TargetReplicationLSTMClassifier(random_state=seed))`` at its defaults
   (mean and min over seeds 0, 1, 2, and the mean fit time) against two
   anchors fitted on the same standardised data: aeon's 1-NN DTW
   (``KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")``, full
   warping window) and ``MiniRocketClassifier(random_state=0)``.
   Univariate sets are z-normalised per series (the UCR convention,
   ``per_sequence=True``); JapaneseVowels channels are standardised with the
   training mean and standard deviation (``per_sequence=False``). The anchors
   get exactly the scaler's output, transposed to aeon's (channels, steps).
   "ours >= DTW?" compares our mean over seeds with 1-NN DTW.
2. Speaker verification on JapaneseVowels: balanced same/different-speaker
   pairs of distinct utterances (``sklearn_nn.siamese.make_pairs``, as in
   ``tests/test_sequences.py``), 2000 training pairs of the 270 training
   utterances and 2000 test pairs of the 370 unseen test utterances. Test
   accuracy and ROC AUC of ``make_pipeline(SequenceStandardScaler(),
   SiamesePairClassifier(tower="gru", max_epochs=30))`` on the list of
   (left, right) pairs, against: the cosine similarity of the utterances'
   mean frames, aeon's ``dtw_distance`` between the utterances, each with the
   accuracy-maximising threshold fitted on the training pairs, and a siamese
   MLP (``tower="mlp"``, default 200 epochs) on [mean, std, first frame, last
   frame] summary features of each utterance. The baselines use the
   statistics of the same ``SequenceStandardScaler`` fitted on the training
   pairs.

``--quick`` is a smoke run (1 seed, 5 epochs for every neural model,
JapaneseVowels and ItalyPowerDemand only, 300 pairs): its numbers say
nothing about accuracy. The tables are printed and written to
``benchmarks/results/sequences_real.md``.

Run with ``OMP_NUM_THREADS=1 python -m benchmarks.bench_sequences_real`` from
the repository root; the script uses one torch thread
(``torch.set_num_threads(1)``, set again before every fit because aeon's numba
kernels raise the process's OpenMP thread count; see
``benchmarks._timing.one_thread``). Fit times exclude torch's first-call
overhead (one warm-up fit). Needs aeon (the ``benchmarks`` extra).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from aeon.classification.convolution_based import MiniRocketClassifier
from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
from aeon.datasets import load_classification
from aeon.distances import dtw_distance
from aeon.transformations.collection.unequal_length import Padder
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from benchmarks._report import md_row, md_table, threads_note, versions, write_results
from benchmarks._timing import one_thread, timed
from sklearn_nn import SiamesePairClassifier, TargetReplicationLSTMClassifier
from sklearn_nn.preprocessing import SequenceStandardScaler
from sklearn_nn.siamese import make_pairs, stack_pairs

DATASETS = ["JapaneseVowels", "GunPoint", "ArrowHead", "ItalyPowerDemand", "OSULeaf"]
QUICK_DATASETS = ["JapaneseVowels", "ItalyPowerDemand"]


# ----------------------------------------------------------------- data
def load(name):
    """Train and test splits, sklearn_nn layout: sequences of shape (T, C)."""
    X, y = load_classification(name, split="train")
    X_test, y_test = load_classification(name, split="test")
    if isinstance(X, np.ndarray):  # (n, C, T), equal length
        return X.transpose(0, 2, 1), y, X_test.transpose(0, 2, 1), y_test
    return [x.T for x in X], y, [x.T for x in X_test], y_test


def to_aeon(X):
    """sklearn_nn layout (T, C) -> aeon's (C, T), 3-D array or list."""
    if isinstance(X, np.ndarray):
        return np.ascontiguousarray(X.transpose(0, 2, 1))
    return [np.ascontiguousarray(x.T) for x in X]


def describe(X, X_test):
    lengths = [len(x) for x in list(X) + list(X_test)]
    lo, hi = min(lengths), max(lengths)
    length = str(lo) if lo == hi else f"{lo}..{hi}"
    return f"{len(X)} / {len(X_test)}, {length}, {X[0].shape[1]}"


def warm_up():
    """One tiny fit, so that torch's first-call overhead (about 1 s) is not
    counted in the first timed fit."""
    one_thread()
    X = np.random.RandomState(0).randn(8, 12, 2)
    TargetReplicationLSTMClassifier(max_epochs=1).fit(X, [0, 1] * 4)
    # numba compiles MiniRocket's kernels (univariate and multivariate ones)
    # on their first call
    labels = np.array([0, 1] * 4)
    for A in (X.transpose(0, 2, 1), X[:, :, :1].transpose(0, 2, 1)):
        MiniRocketClassifier(random_state=0).fit(np.ascontiguousarray(A), labels)


def n_seeds(seeds):
    return f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}"


def mean_min(values):
    return f"{np.mean(values):.3f} ({np.min(values):.3f})"


# ------------------------------------------------------- classification
def classification_row(name, seeds, params):
    X, y, X_test, y_test = load(name)
    per_sequence = name != "JapaneseVowels"

    # the anchors see exactly the scaler's output, in aeon's (C, T) layout
    scaler = SequenceStandardScaler(per_sequence=per_sequence).fit(X)
    A, A_test = to_aeon(scaler.transform(X)), to_aeon(scaler.transform(X_test))
    if isinstance(A, list):
        # MiniRocket needs equal lengths: aeon's Padder repeats each channel's
        # last value up to the longest series of train and test (test series
        # may be longer than every training one; no label is used)
        longest = max(a.shape[1] for a in A + A_test)
        padder = Padder(padded_length=longest, fill_value="last")
        A_rocket, A_rocket_test = padder.fit_transform(A), padder.transform(A_test)
    else:
        A_rocket, A_rocket_test = A, A_test

    # ours and MiniRocket alternate, seed by seed, so that a change in the
    # machine's load affects both sides of the fit-time ratio alike
    accs, fit_times, rocket_accs, rocket_times = [], [], [], []
    for seed in seeds:
        model = make_pipeline(
            SequenceStandardScaler(per_sequence=per_sequence),
            TargetReplicationLSTMClassifier(random_state=seed, **params),
        )
        _, seconds = timed(lambda m=model: m.fit(X, y))
        fit_times.append(seconds)
        accs.append(model.score(X_test, y_test))

        rocket, seconds = timed(
            lambda s=seed: MiniRocketClassifier(random_state=s).fit(A_rocket, y)
        )
        rocket_times.append(seconds)
        rocket_accs.append(float(np.mean(rocket.predict(A_rocket_test) == y_test)))

    # aeon's KNN takes unequal-length lists (capability:unequal_length)
    knn = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw").fit(A, y)
    acc_dtw = float(np.mean(knn.predict(A_test) == y_test))
    ratio = np.mean(fit_times) / np.mean(rocket_times)
    gap = np.mean(accs) - np.mean(rocket_accs)
    return md_row(
        [
            name,
            describe(X, X_test),
            mean_min(accs),
            f"{acc_dtw:.3f}",
            mean_min(rocket_accs),
            f"{gap:+.3f}",
            f"{np.min(accs) - np.mean(rocket_accs):+.3f}",
            f"{np.mean(fit_times):.2f}",
            f"{np.mean(rocket_times):.2f}",
            f"{ratio:.1f}",
        ]
    )


def classification(datasets, seeds, params):
    columns = [
        "data set",
        "n_train / n_test, length, channels",
        f"ours mean (min) over {n_seeds(seeds)}",
        "1-NN DTW",
        f"MiniRocket mean (min) over {n_seeds(seeds)}",
        "ours - MiniRocket (means)",
        "our min - MiniRocket mean",
        "ours fit s",
        "MiniRocket fit s",
        "fit-time ratio",
    ]
    lines = [
        f"### Test accuracy, classification (seeds {list(seeds)})",
        "",
        *md_table(columns, align="llrrrrrrrr"),
    ]
    print("\n".join(lines), flush=True)
    for name in datasets:
        lines.append(classification_row(name, seeds, params))
        print(lines[-1], flush=True)
    return lines


# ------------------------------------------------- speaker verification
def fit_threshold(score, same):
    """The threshold t maximising the accuracy of ``score >= t`` -> same."""
    s = np.unique(score)
    candidates = np.concatenate([[s[0] - 1.0], (s[1:] + s[:-1]) / 2, [s[-1] + 1.0]])
    acc = ((score[None, :] >= candidates[:, None]) == same[None, :]).mean(axis=1)
    return candidates[np.argmax(acc)]


def threshold_row(method, score_fn, P_train, s_train, P_test, s_test):
    score = np.array([score_fn(a, b) for a, b in P_train])
    score_test = np.array([score_fn(a, b) for a, b in P_test])
    t = fit_threshold(score, s_train)
    acc = np.mean((score_test >= t) == s_test)
    return method, f"{acc:.3f}", f"{roc_auc_score(s_test, score_test):.3f}"


def cosine(a, b):
    u, v = a.mean(axis=0), b.mean(axis=0)
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def neg_dtw(a, b):
    # aeon's distances take (channels, steps); lower distance = same speaker
    return -dtw_distance(np.ascontiguousarray(a.T), np.ascontiguousarray(b.T))


def summary(x):
    return np.concatenate([x.mean(axis=0), x.std(axis=0), x[0], x[-1]])


def proba_same(model, X):
    return model.predict_proba(X)[:, list(model.classes_).index(1)]


def verification(n_pairs, seeds, gru_epochs, mlp_params):
    X, y, X_test, y_test = load("JapaneseVowels")
    P_train, s_train = make_pairs(X, y, n_pairs, random_state=0)
    P_test, s_test = make_pairs(X_test, y_test, n_pairs, random_state=1)

    accs, aucs, fit_times = [], [], []
    for seed in seeds:
        model = make_pipeline(
            SequenceStandardScaler(),
            SiamesePairClassifier(
                tower="gru", max_epochs=gru_epochs, random_state=seed
            ),
        )
        one_thread()
        start = time.perf_counter()
        model.fit(P_train, s_train)
        fit_times.append(time.perf_counter() - start)
        accs.append(model.score(P_test, s_test))
        aucs.append(roc_auc_score(s_test, proba_same(model, P_test)))
    ours = (
        f"ours: scaler + siamese GRU ({gru_epochs} epochs), mean (min) over "
        f"{n_seeds(seeds)}, fit {np.mean(fit_times):.1f} s"
    )
    rows = [(ours, mean_min(accs), mean_min(aucs))]

    # the baselines use the pipeline's scaler statistics (fitted on the pairs)
    scaler = SequenceStandardScaler().fit(P_train)
    Q_train, Q_test = scaler.transform(P_train), scaler.transform(P_test)
    rows.append(
        threshold_row(
            "mean-frame cosine, threshold fitted on training pairs",
            cosine,
            Q_train,
            s_train,
            Q_test,
            s_test,
        )
    )
    rows.append(
        threshold_row(
            "DTW distance (aeon), threshold fitted on training pairs",
            neg_dtw,
            Q_train,
            s_train,
            Q_test,
            s_test,
        )
    )

    def features(Q):
        return stack_pairs(
            np.array([summary(a) for a, _ in Q]), np.array([summary(b) for _, b in Q])
        )

    F_train, F_test = features(Q_train), features(Q_test)
    accs, aucs = [], []
    for seed in seeds:
        one_thread()
        mlp = SiamesePairClassifier(tower="mlp", random_state=seed, **mlp_params)
        mlp.fit(F_train, s_train)
        accs.append(mlp.score(F_test, s_test))
        aucs.append(roc_auc_score(s_test, proba_same(mlp, F_test)))
    epochs = mlp_params.get("max_epochs", 200)
    mlp_name = (
        f"siamese MLP ({epochs} epochs) on [mean, std, first, last] frames, "
        f"mean (min) over {n_seeds(seeds)}"
    )
    rows.append((mlp_name, mean_min(accs), mean_min(aucs)))

    lines = [
        f"### Speaker verification, JapaneseVowels ({n_pairs} training pairs of "
        f"the {len(X)} training utterances, {n_pairs} test pairs of the "
        f"{len(X_test)} unseen test utterances, half same speaker)",
        "",
        *md_table(["method", "accuracy", "ROC AUC"], rows, "lrr"),
    ]
    print("\n".join(lines), flush=True)
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument(
        "--datasets", nargs="+", help="these classification sets only (no file)"
    )
    parser.add_argument(
        "--no-verification", action="store_true", help="skip speaker verification"
    )
    args = parser.parse_args()
    one_thread()

    if args.quick:
        datasets, seeds, n_pairs = QUICK_DATASETS, [0], 300
        clf_params, gru_epochs, mlp_params = {"max_epochs": 5}, 5, {"max_epochs": 5}
    else:
        datasets, seeds, n_pairs = args.datasets or DATASETS, [0, 1, 2], 2000
        clf_params, gru_epochs, mlp_params = {}, 30, {}

    header = [
        "## Sequence families on real data"
        + (" (--quick smoke run: 1 seed, 5 epochs)" if args.quick else ""),
        "",
        f"{versions('sklearn_nn', 'torch', 'aeon', 'sklearn', 'python')}; "
        f"{threads_note()}",
        "",
    ]
    print("\n".join(header), flush=True)
    warm_up()
    start = time.perf_counter()
    lines = header + classification(datasets, seeds, clf_params)
    print(flush=True)
    if not args.no_verification:
        lines += [""] + verification(n_pairs, seeds, gru_epochs, mlp_params)
    total = f"\nTotal time: {time.perf_counter() - start:.0f} s"
    print(total)
    lines.append(total)

    if args.datasets is None and not args.no_verification:
        write_results("sequences_real.md", lines)


if __name__ == "__main__":
    main()
