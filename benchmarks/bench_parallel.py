"""GridSearchCV wall time with n_jobs > 1: do torch threads oversubscribe cores?

One grid (8 candidates, cv=3: 24 fits of a ``MixtureOfExpertsClassifier`` in
a ``StandardScaler`` pipeline on breast_cancer) is run under several joblib
back-ends, with torch's DEFAULT thread settings: this script sets no
``OMP_NUM_THREADS`` and never calls ``torch.set_num_threads`` in the parent
process (run it WITHOUT ``OMP_NUM_THREADS`` in the environment to measure the
defaults; the table says what it found).

For each run the table shows the wall time, the speed-up over the
sequential run, and ``torch.get_num_threads()`` as seen by a fit inside the
workers (read by the estimator itself, during ``fit``). The mean test scores
of every run are compared with the sequential run's.

Rows:

* ``sequential``: ``n_jobs=1``;
* ``loky n_jobs=2``: joblib's default process back-end (it sets
  ``OMP_NUM_THREADS=cpu_count // n_jobs`` in its workers);
* ``threading n_jobs=2``: joblib's thread back-end, in this process;
* ``dask processes``: ``LocalCluster(n_workers=2, threads_per_worker=1,
  processes=True)`` through ``joblib.parallel_backend('dask')`` (the dask
  nanny sets ``OMP_NUM_THREADS=1`` before it starts a worker process);
* ``dask threads``: ``LocalCluster(n_workers=1, threads_per_worker=2,
  processes=False)``: the worker threads live in this process;
* ``sequential, 1 torch thread``: ``n_jobs=1`` with ``torch.set_num_threads(1)``
  (for reference: what the default thread count costs on this machine).

Fits in threads train one at a time: a fit holds a process-wide lock while
it seeds torch's (process-global) generator and trains, so that each fit is
reproducible. The thread rows show what that costs; they cannot
oversubscribe the cores.

Every row runs in a fresh Python process, so that no thread setting leaks
from one row into the next. Run ``python -m benchmarks.bench_parallel`` from
the repository root (``--quick`` for fewer epochs, ``--no-dask`` when
dask.distributed is not installed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks._report import md_row, md_table
from sklearn_nn import MixtureOfExpertsClassifier

ROOT = Path(__file__).resolve().parents[1]


class ThreadCountingMoE(MixtureOfExpertsClassifier):
    """The estimator, recording the torch thread count its fit runs with."""

    def fit(self, X, y, sample_weight=None):
        self.fit_torch_threads_ = torch.get_num_threads()
        return super().fit(X, y, sample_weight=sample_weight)


ROWS = {
    # name: (n_jobs, joblib backend, dask cluster kwargs, torch threads)
    "sequential (n_jobs=1)": (1, None, None, None),
    "sequential, 1 torch thread": (1, None, None, 1),
    "loky n_jobs=2": (2, None, None, None),
    "threading n_jobs=2": (2, "threading", None, None),
    "dask 2 worker procs x 1 thread": (
        -1,
        "dask",
        dict(n_workers=2, threads_per_worker=1, processes=True),
        None,
    ),
    "dask 1 in-process worker x 2 threads": (
        -1,
        "dask",
        dict(n_workers=1, threads_per_worker=2, processes=False),
        None,
    ),
}


def make_search(estimator_class, epochs, n_jobs):
    step = estimator_class.__name__.lower()
    model = make_pipeline(
        StandardScaler(),
        estimator_class(max_epochs=epochs, batch_size=32, random_state=0),
    )
    grid = {
        f"{step}__n_experts": [2, 4],
        f"{step}__lr": [1e-3, 1e-2],
        f"{step}__expert_hidden_layer_sizes": [(8,), (32,)],
    }
    return GridSearchCV(model, grid, cv=3, n_jobs=n_jobs)


def run_row(name, epochs):
    """Run one row in this process; return its measurements as a dict."""
    n_jobs, backend, cluster_kwargs, threads = ROWS[name]
    if threads is not None:
        torch.set_num_threads(threads)
    cls = ThreadCountingMoE
    X, y = load_breast_cancer(return_X_y=True)
    warnings.filterwarnings("ignore", message=".*max_epochs.*")
    with contextlib.ExitStack() as stack:
        if cluster_kwargs is not None:
            from dask.distributed import Client, LocalCluster

            cluster = stack.enter_context(
                LocalCluster(dashboard_address=None, **cluster_kwargs)
            )
            stack.enter_context(Client(cluster))
        if backend is not None:
            stack.enter_context(joblib.parallel_backend(backend))
        search = make_search(cls, epochs, n_jobs)
        start = time.perf_counter()
        search.fit(X, y)
        seconds = time.perf_counter() - start
        # torch threads seen by the fits inside the workers: cross_validate
        # one candidate under the same back-end and read what each fit saw
        out = cross_validate(
            clone(search.estimator), X, y, cv=3, n_jobs=n_jobs, return_estimator=True
        )
        seen = sorted({int(e[-1].fit_torch_threads_) for e in out["estimator"]})
    return {
        "seconds": seconds,
        "threads": seen,
        "scores": search.cv_results_["mean_test_score"].tolist(),
        "best_score": float(search.best_score_),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs per fit")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument(
        "--row-timeout", type=int, default=300, help="seconds before a row is killed"
    )
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    epochs = args.epochs or (3 if args.quick else 10)
    if args.row:
        print(json.dumps(run_row(args.row, epochs)))
        return

    print(
        f"cpu_count={os.cpu_count()} joblib.cpu_count()={joblib.cpu_count()} "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '<unset>')} "
        f"torch {torch.__version__} default torch.get_num_threads()="
        f"{torch.get_num_threads()}"
    )
    print(
        "grid: MixtureOfExpertsClassifier on breast_cancer, 8 candidates x cv=3 "
        f"= 24 fits, max_epochs={epochs}, batch_size=32; each row in a fresh process"
    )
    rows = []
    for name in ROWS:
        if args.no_dask and ROWS[name][1] == "dask":
            continue
        try:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_parallel", "--row", name]
                + ["--epochs", str(epochs)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
                timeout=args.row_timeout,
            )
        except subprocess.TimeoutExpired:
            print(f"  {name}: no result after {args.row_timeout} s (killed)")
            rows.append((name, None))
            continue
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {name}: {result['seconds']:.1f} s", flush=True)
        rows.append((name, result))

    reference = rows[0][1]
    print()
    columns = [
        "run",
        "wall time (s)",
        "speed-up vs n_jobs=1",
        "torch threads per fit",
        "mean_test_score equal to n_jobs=1",
        "best_score_",
    ]
    print("\n".join(md_table(columns, align="lrrllr")))
    for name, r in rows:
        if r is None:
            print(md_row([name, f"hung: killed after {args.row_timeout} s", *[""] * 4]))
            continue
        same = np.allclose(r["scores"], reference["scores"], rtol=0, atol=1e-9)
        speedup = reference["seconds"] / r["seconds"]
        cells = [name, f"{r['seconds']:.1f}", f"{speedup:.2f}x", r["threads"]]
        cells += ["yes" if same else "NO", f"{r['best_score']:.4f}"]
        print(md_row(cells))


if __name__ == "__main__":
    main()
