"""
=================================================
Training on a file larger than you want in memory
=================================================

A table too large for memory can stay on disk. This example writes 400 000
rows to a memory-mapped ``.npy`` file and trains
:class:`~sklearn_nn.MixtureOfExpertsClassifier` on it two ways:

* ``fit`` on the memory map itself: the estimator reads it a block of rows at
  a time (the same batches as from memory, so the same model), and the
  process holds about one block of the file at a time;
* ``partial_fit`` on chunks of rows, one epoch per chunk, watching a held-out
  score as the chunks go by: the way to train on data that arrives in pieces
  (parquet files, a database, a stream).

See :ref:`out_of_core` for the details, dask-ml's ``Incremental`` and
sequences stored one row per step.
"""

# %%
# A memory-mapped file
# --------------------
# Two classes from a nonlinear rule of 20 features, written block by block:
# the whole table is never in memory. The last 50 000 rows are held out.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from sklearn_nn import MixtureOfExpertsClassifier

torch.set_num_threads(1)
n_rows, n_features, n_test = 400_000, 20, 50_000
folder = Path(tempfile.mkdtemp())
X = np.lib.format.open_memmap(
    folder / "X.npy", mode="w+", dtype=np.float32, shape=(n_rows, n_features)
)
y = np.empty(n_rows, dtype=np.int64)
rng = np.random.default_rng(0)
for start in range(0, n_rows, 100_000):
    block = rng.standard_normal((100_000, n_features), dtype=np.float32)
    X[start : start + 100_000] = block
    y[start : start + 100_000] = block[:, 0] * block[:, 1] + block[:, 2] > 0
X.flush()
del X

X = np.load(folder / "X.npy", mmap_mode="r")  # nothing is read yet
X_train, y_train = X[:-n_test], y[:-n_test]
X_test, y_test = X[-n_test:], y[-n_test:]
print(type(X_train).__name__, X_train.shape, f"{X_train.nbytes / 2**20:.0f} MiB")

# %%
# ``fit`` on the memory map
# -------------------------
# Passed as it is, the memory map is validated and batched a block of rows
# at a time. The model equals the one fitted on the same rows in memory.
params = dict(
    expert_hidden_layer_sizes=(32,),
    gate_hidden_layer_sizes=(16,),
    batch_size=512,
    lr=3e-3,
    random_state=0,
)
on_disk = MixtureOfExpertsClassifier(max_epochs=2, **params).fit(X_train, y_train)
fit_score = on_disk.score(X_test, y_test)
print(f"fit on the memory map, 2 epochs: test accuracy {fit_score:.3f}")

# %%
# ``partial_fit`` chunk by chunk
# ------------------------------
# The same number of epochs, one chunk of 50 000 rows per call, reading
# each chunk from the file when its turn comes. ``classes`` names every label
# on the first call. The held-out accuracy after each chunk shows how far
# training has got.
chunked = MixtureOfExpertsClassifier(**params)
seen, scores = [], []
for _ in range(2):
    for start in range(0, len(y_train), 50_000):
        rows = slice(start, start + 50_000)
        chunked.partial_fit(np.asarray(X_train[rows]), y_train[rows], classes=[0, 1])
        seen.append(len(seen) * 50_000 + 50_000)
        scores.append(chunked.score(X_test, y_test))
print(f"partial_fit, {chunked.n_iter_} chunks: test accuracy {scores[-1]:.3f}")

# %%
# The two agree: a pass over the chunks is an epoch of the whole file, the
# batches shuffled within each chunk instead of across the file.
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(np.array(seen) / 1e3, scores, "o-", label="partial_fit, after each chunk")
ax.axhline(fit_score, color="C1", ls="--", label="fit on the memory map (2 epochs)")
ax.axvline(len(y_train) / 1e3, color="0.8", lw=1, label="one pass over the file")
ax.set_xlabel("training rows seen (thousands)")
ax.set_ylabel("held-out accuracy")
ax.set_title("One file, two ways of reading it")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()

# %%
# The file is ours to delete.
del X, X_train, X_test
for path in folder.iterdir():
    path.unlink()
folder.rmdir()
