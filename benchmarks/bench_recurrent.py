"""Benchmark of TargetReplicationLSTMClassifier.

1. Speed on variable lengths (10..50 steps): fit time with length-bucketed,
   trimmed batches (the estimator's default) against the same estimator and
   module fed fully padded batches in random order, and against hand-written
   torch loops (fully padded, and bucketed) with the same network, optimizer,
   batch size and number of epochs. Predictions of the bucketed inference path
   are compared with one fully padded forward pass.
2. Accuracy with ``replication_weight`` 0 (final step only) against 0.5 on a
   synthetic task whose class is written in the first steps only, and on
   JapaneseVowels (UEA, 12 channels, lengths 7-29, 9 classes) when aeon's
   bundled copy is importable, with a 1-NN on zero-padded sequences as the
   baseline measured in the same run.

``hand_written_fit`` is the suite's one hand-written recurrent training
loop: final-step cross-entropy here, the estimator's target-replication loss
in ``run_all``'s recurrent case (``benchmarks/cases/recurrent.py``).

Run with ``OMP_NUM_THREADS=1 python -m benchmarks.bench_recurrent`` from the
repository root; the script uses one torch thread (``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import pathlib
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import KNeighborsClassifier

from benchmarks._report import md_table, threads_note
from benchmarks._timing import best_time, one_thread
from sklearn_nn import TargetReplicationLSTMClassifier
from sklearn_nn._net import SliceIterator
from sklearn_nn._sequences import read_float_sequences
from sklearn_nn.recurrent import SequenceClassifierRNN, TargetReplicationLoss

N_SEQ, N_CHANNELS, HIDDEN, BATCH, EPOCHS = 2000, 4, 64, 64, 3


class _PaddedBatches(TargetReplicationLSTMClassifier):
    """The same estimator, batched in random order without length buckets."""

    def _batch_iterator(self, *, shuffle, generator=None):
        return functools.partial(SliceIterator, shuffle=shuffle, generator=generator)


def variable_length_data(n, min_len, max_len, n_channels, seed=0, n_signal=3):
    """Ragged sequences; the class is written in the first ``n_signal`` steps."""
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    X = []
    for label in y:
        seq = rng.randn(rng.randint(min_len, max_len + 1), n_channels)
        seq[:n_signal, 0] += 1.5 * (2.0 * label - 1.0)
        X.append(seq.astype(np.float32))
    return X, y


def padded(X):
    """(values, lengths) tensors of ragged float sequences, zero-padded."""
    seqs = read_float_sequences(X, dtype=np.float32)
    return torch.from_numpy(seqs.values), torch.from_numpy(seqs.lengths)


def hand_written_fit(
    values,
    lengths,
    y,
    *,
    hidden_size,
    epochs,
    batch_size,
    replication_weight=None,
    bucketed=True,
    lr=1e-3,
    seed=0,
):
    """The hand-written recurrent loop: the estimator's module, Adam, fixed
    epochs, running epoch loss.

    ``replication_weight=None`` trains on the final step only (cross-entropy
    of the final-step output, ``module(..., return_steps=False)``); a number
    uses the estimator's ``TargetReplicationLoss`` on every step. ``bucketed``:
    length-bucketed batches trimmed to their longest sequence, visited in
    random order (the estimator's default); otherwise fully padded random
    batches. ``values, lengths``: see :func:`padded`.
    """
    target = torch.as_tensor(np.asarray(y, dtype=np.int64))
    torch.manual_seed(seed)
    # the architecture of the estimators in speed() and in run_all's case:
    # LSTM, no convolutions
    model = SequenceClassifierRNN(
        values.shape[2], 2, hidden_size=hidden_size, cell="lstm", conv_filters=()
    )
    if replication_weight is None:
        criterion = None
    else:
        criterion = TargetReplicationLoss(replication_weight)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        if bucketed:
            perm = torch.randperm(len(target), generator=g)
            order = perm[torch.sort(lengths[perm], stable=True).indices]
            batches = list(order.split(batch_size))
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g)]
        else:
            batches = torch.randperm(len(target), generator=g).split(batch_size)
        total = 0.0
        for idx in batches:
            lb = lengths[idx]
            xb = values[idx, : int(lb.max())] if bucketed else values[idx]
            opt.zero_grad()
            if criterion is None:
                loss = F.nll_loss(model(xb, lb, return_steps=False), target[idx])
            else:
                loss = criterion(model(xb, lb), target[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
    return model


def speed():
    X, y = variable_length_data(N_SEQ, 10, 50, N_CHANNELS)
    common = dict(
        hidden_size=HIDDEN, replication_weight=0.5, batch_size=BATCH,
        max_epochs=EPOCHS, n_iter_no_change=EPOCHS, random_state=0,
        cell="lstm", conv_filters=(), lr=1e-3,
    )  # fmt: skip
    t_bucket, clf = best_time(
        lambda: TargetReplicationLSTMClassifier(**common).fit(X, y)
    )
    t_pad, _ = best_time(lambda: _PaddedBatches(**common).fit(X, y))
    loop = dict(hidden_size=HIDDEN, epochs=EPOCHS, batch_size=BATCH)
    t_loop_pad, _ = best_time(
        lambda: hand_written_fit(*padded(X), y, bucketed=False, **loop)
    )
    t_loop_bucket, _ = best_time(
        lambda: hand_written_fit(*padded(X), y, bucketed=True, **loop)
    )
    assert clf.n_iter_ == EPOCHS

    # bucketed inference == one fully padded forward pass
    values, lengths = padded(X)
    t_pred, proba = best_time(lambda: clf.predict_proba(X), repeats=3)
    module = clf.net_.module_.eval()
    start = time.perf_counter()
    with torch.no_grad():
        full = module(values, lengths, return_steps=False)
    t_pred_pad = time.perf_counter() - start
    max_diff = np.abs(proba - np.exp(full.numpy())).max()

    print(
        f"\n### Fit time, {N_SEQ} sequences, lengths 10..50 (mean 30), "
        f"{N_CHANNELS} channels, LSTM {HIDDEN}, batch {BATCH}, {EPOCHS} epochs\n"
    )
    rows = [
        ("estimator, length buckets (default)", t_bucket),
        ("estimator, fully padded random batches", t_pad),
        ("hand-written torch loop, padded (final step only)", t_loop_pad),
        ("hand-written torch loop, buckets (final step only)", t_loop_bucket),
    ]
    cells = [(name, f"{t:.2f}", f"{t / t_pad:.2f}x") for name, t in rows]
    columns = ["training", "time (s)", "vs estimator, padded"]
    print("\n".join(md_table(columns, cells, "lrr")))
    print(
        f"\nPredict {N_SEQ} sequences: {t_pred * 1e3:.0f} ms sorted chunks vs "
        f"{t_pred_pad * 1e3:.0f} ms one padded pass; max |proba difference| "
        f"= {max_diff:.1e}"
    )


def load_japanese_vowels():
    """aeon's bundled .ts files, read directly (aeon itself is not imported)."""
    spec = importlib.util.find_spec("aeon")
    if spec is None or spec.origin is None:
        return None
    root = pathlib.Path(spec.origin).parent / "datasets/data/JapaneseVowels"
    out = []
    for split in ("TRAIN", "TEST"):
        path = root / f"JapaneseVowels_{split}.ts"
        if not path.exists():
            return None
        X, y, in_data = [], [], False
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = line.lower() == "@data"
                continue
            *dims, label = line.split(":")
            X.append(np.array([[float(v) for v in d.split(",")] for d in dims]).T)
            y.append(label)
        out += [X, np.array(y)]
    return out


def accuracy_rows(name, X, y, X_test, y_test, params, alphas=(0.0, 0.5)):
    rows = []
    for alpha in alphas:
        accs = []
        for seed in range(3):
            clf = TargetReplicationLSTMClassifier(
                replication_weight=alpha, random_state=seed, **params
            ).fit(X, y)
            accs.append(clf.score(X_test, y_test))
        rows.append((name, f"conv + GRU (defaults), replication_weight={alpha}", accs))
    flat = read_float_sequences(list(X) + list(X_test)).values
    flat = flat.reshape(len(flat), -1)
    knn = KNeighborsClassifier(1).fit(flat[: len(X)], y)
    rows.append(
        (name, "1-NN on zero-padded sequences", [knn.score(flat[len(X) :], y_test)])
    )
    return rows


def accuracy():
    rows = []
    X, y = variable_length_data(600, 10, 50, 2, seed=1, n_signal=2)
    X_test, y_test = variable_length_data(1000, 10, 50, 2, seed=2, n_signal=2)
    rows += accuracy_rows(
        "early decision (600 train, lengths 10..50)", X, y, X_test, y_test,
        dict(hidden_size=16, lr=5e-3, max_epochs=15, batch_size=32),
    )  # fmt: skip
    jv = load_japanese_vowels()
    if jv is None:
        print("\n(aeon not installed: JapaneseVowels skipped)")
    else:
        X, y, X_test, y_test = jv
        stacked = np.concatenate(X)
        mean, std = stacked.mean(0), stacked.std(0)
        X = [(s - mean) / std for s in X]
        X_test = [(s - mean) / std for s in X_test]
        rows += accuracy_rows(
            "JapaneseVowels (270 train / 370 test)", X, y, X_test, y_test,
            dict(hidden_size=32, lr=1e-2, max_epochs=40, batch_size=32),
        )  # fmt: skip
    print("\n### Test accuracy (mean +- std over seeds 0, 1, 2)\n")
    cells = [
        (data, model, f"{np.mean(accs):.3f}{spread(accs)}")
        for data, model, accs in rows
    ]
    print("\n".join(md_table(["data", "model", "accuracy"], cells, "llr")))


def spread(accs):
    return f" +- {np.std(accs):.3f}" if len(accs) > 1 else ""


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    one_thread()
    print(threads_note())
    speed()
    accuracy()


if __name__ == "__main__":
    main()
