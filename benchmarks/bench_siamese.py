"""Training throughput of the siamese pair estimators against hand-written torch.

Times, in one run and on the same data, ``SiamesePairClassifier.fit`` (or
``SiamesePairRegressor.fit``) against a hand-written torch loop that trains
the same towers (:class:`~sklearn_nn.siamese.SiameseNetwork`) with the same
contrastive loss, optimizer, batch size and number of epochs (shuffled
slicing batches, running epoch loss). Scenarios:

* ``mlp shared``: dense pairs (2 x 64 features), one shared MLP tower;
* ``mlp separate``: the same data, two towers;
* ``lstm separate``: the seed's shapes, 52 left and 600 right tokens over a
  vocabulary of 1000, two Embedding -> LSTM -> mean pooling -> Linear towers
  (:class:`~sklearn_nn.siamese.SequenceTower`). The hand-written loop feeds
  them the tokens compacted by ``read_token_sequences`` (real tokens first)
  and the lengths, computed once before the timed loop, as the tensors of
  the dense scenarios are; the estimator does this inside ``fit``.

The estimator's fit also validates the data, calibrates the classifier
(Platt scaling on the training pairs' distances) and checks the embeddings
for a collapse: one extra forward pass over the training pairs, included in
its time. Throughput is pairs x epochs / second; the ratio is estimator time /
hand-written time (1.0 = same speed). Each timing is the median of several
alternating repeats.

Run ``OMP_NUM_THREADS=1 python -m benchmarks.bench_siamese`` from the
repository root (``--quick`` for a smoke run). On a shared 2-core machine
torch's default of several OpenMP threads can be very slow for these small
ops, hence one thread.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from benchmarks._report import md_table
from benchmarks._timing import paired_times
from sklearn_nn import SiamesePairClassifier
from sklearn_nn._sequences import read_token_sequences
from sklearn_nn.siamese import (
    MLPTower,
    SequenceTower,
    SiameseNetwork,
    SiamesePairLoss,
    stack_pairs,
)


def hand_written_fit(
    left, right, y, make_tower, shared, epochs, batch_size, lr, lengths=None
):
    """Shuffled slicing batches; ``lengths`` = (left, right) for sequence towers."""
    torch.manual_seed(0)
    net = SiameseNetwork(make_tower("left"), None if shared else make_tower("right"))
    criterion = SiamesePairLoss("contrastive", distance="euclidean", margin=1.0)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    target = torch.as_tensor(y)
    n = len(target)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(n)
        L, R, T = left[perm], right[perm], target[perm]
        lens = () if lengths is None else tuple(x[perm] for x in lengths)
        total = 0.0
        for i in range(0, n, batch_size):
            opt.zero_grad()
            batch = slice(i, i + batch_size)
            out = net(L[batch], R[batch], *(x[batch] for x in lens))
            loss = criterion(out, T[batch])
            loss.backward()
            opt.step()
            total += loss.item() * len(out[0])
    return net


def dense_pairs(n, width, rng):
    labels = rng.randint(10, size=n)
    centres = rng.normal(size=(10, width))
    left = centres[labels] + rng.normal(size=(n, width))
    same = rng.rand(n) < 0.5
    other = np.where(same, labels, (labels + rng.randint(1, 10, size=n)) % 10)
    right = centres[other] + rng.normal(size=(n, width))
    return left.astype(np.float32), right.astype(np.float32), same.astype(np.int64)


def token_pairs(n, rng):
    topic = rng.randint(10, size=n)
    same = rng.rand(n) < 0.5
    other = np.where(same, topic, (topic + rng.randint(1, 10, size=n)) % 10)

    def sequences(topics, width, shortest):
        tokens = np.zeros((n, width), dtype=np.int64)
        for i in range(n):
            length = rng.randint(shortest, width + 1)
            tokens[i, :length] = 1 + 100 * topics[i] + rng.randint(99, size=length)
        return tokens

    return sequences(topic, 52, 10), sequences(other, 600, 50), same.astype(np.int64)


def time_scenario(
    name, data, epochs, params, shared, make_tower, dtype, *, batch_size, lr, repeats
):
    left, right, y = data
    X = stack_pairs(left, right)
    est = SiamesePairClassifier(
        **params,
        shared_weights=shared,
        negatives="none",
        max_epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )
    lengths = None
    if params.get("vocab_size") is not None:
        # what the estimator's fit does: compact the tokens (real ones
        # first), keep the lengths; the towers read both
        vocab_size = params["vocab_size"]
        sides = [read_token_sequences(a, vocab_size=vocab_size) for a in (left, right)]
        left, right = (s.values for s in sides)
        lengths = tuple(torch.from_numpy(s.lengths) for s in sides)
    L, R = (torch.as_tensor(a, dtype=dtype) for a in (left, right))

    def hand():
        hand_written_fit(
            L, R, y, make_tower, shared, epochs, batch_size, lr, lengths=lengths
        )

    # warm-up (lazy torch initialisation, allocator)
    est.set_params(max_epochs=1).fit(X[:400], y[:400])
    est.set_params(max_epochs=epochs)
    t_est, t_hand = paired_times(lambda: est.fit(X, y), hand, repeats)
    print(f"  {name}: estimator {t_est:.2f}s, hand-written {t_hand:.2f}s")
    work = len(y) * epochs
    return name, len(y), epochs, work / t_est, work / t_hand, t_est / t_hand


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    repeats = 1 if args.quick else 3
    batch_size, lr = 200, 1e-3
    print(
        f"torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"batch {batch_size}, Adam lr {lr}, device cpu"
    )

    n_dense, dense_epochs = (2000, 2) if args.quick else (20000, 5)
    n_tokens, token_epochs = (200, 1) if args.quick else (600, 2)
    dense = dense_pairs(n_dense, 64, rng)
    tokens = token_pairs(n_tokens, rng)
    scenarios = [
        (
            "mlp shared",
            dense,
            dense_epochs,
            dict(hidden_layer_sizes=(64,), embedding_dim=16),
            True,
            lambda side: MLPTower(64, (64,), 16),
            torch.float32,
        ),
        (
            "mlp separate",
            dense,
            dense_epochs,
            dict(hidden_layer_sizes=(64,), embedding_dim=16),
            False,
            lambda side: MLPTower(64, (64,), 16),
            torch.float32,
        ),
        (
            "lstm separate (52 / 600 tokens)",
            tokens,
            token_epochs,
            dict(
                tower="lstm",
                vocab_size=1000,
                token_embedding_dim=32,
                hidden_size=64,
                embedding_dim=64,
                n_left_features=52,
            ),
            False,
            # the estimator's tower for the params above
            lambda side: SequenceTower(
                1,
                hidden_size=64,
                embedding_dim=64,
                cell="lstm",
                pooling="mean",
                vocab_size=1000,
                token_embedding_dim=32,
            ),
            torch.int64,
        ),
    ]

    rows = [
        time_scenario(*scenario, batch_size=batch_size, lr=lr, repeats=repeats)
        for scenario in scenarios
    ]
    print()
    columns = [
        "scenario",
        "pairs",
        "epochs",
        "estimator pairs/s",
        "hand-written pairs/s",
        "time ratio (est / hand)",
    ]
    cells = [
        (name, n, epochs, f"{est_rate:,.0f}", f"{hand_rate:,.0f}", f"{ratio:.2f}")
        for name, n, epochs, est_rate, hand_rate, ratio in rows
    ]
    print("\n".join(md_table(columns, cells, "lrrrrr")))


if __name__ == "__main__":
    main()
