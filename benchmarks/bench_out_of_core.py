"""Fitting from a memory-mapped file: peak memory and time.

A 10M x 64 float32 ``np.memmap`` (2.4 GiB, in the temporary directory,
deleted afterwards) is fitted for 2 epochs by ``MixtureOfExpertsClassifier``,
which reads it a block of rows at a time, against

* the same estimator fitted on 1M rows in memory (the data loaded before
  the fit), and
* a hand-written chunked torch loop over the same file: the same module,
  loss, Adam, batch size and epochs, reading contiguous chunks of 65 536
  rows (``np.array(X[a:b])``) and shuffling within each chunk -- what one
  writes without the estimator.

Each case runs once in a fresh single-thread process. The peak resident set
(``VmHWM``, file-backed pages of a memory map included) is reset just before
the fit; the table reports its growth over the RSS before the fit, with
the RSS growth of file-backed pages (``RssFile``, sampled) next to it. Goal:
the memmap fit's peak RSS grows by at most 0.25x the file's size.

Run ``OMP_NUM_THREADS=1 python -m benchmarks.bench_out_of_core`` from the
repository root (``--rows N``: a smaller file for a smoke run; ``--dir``: where
to write the file, 2.4 GiB free needed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._report import md_table, threads_note, versions, write_results
from benchmarks._timing import (
    one_thread,
    peak_rss_mib,
    reset_peak_rss,
    single_thread_env,
)

N_FEATURES = 64
EXPERT_LAYERS, GATE_LAYERS, N_EXPERTS = (16,), (8,), 2
BATCH, LR, EPOCHS = 1024, 1e-3, 2
CHUNK = 65536
IN_MEMORY_ROWS = 1_000_000


def write_data(directory, n_rows, seed=0):
    """``X.dat`` (float32 memmap) and ``y.npy``, written a block at a time:
    two classes from a nonlinear rule of the first features."""
    path = Path(directory) / "X.dat"
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_rows, N_FEATURES))
    y = np.empty(n_rows, dtype=np.int64)
    rng = np.random.default_rng(seed)
    for start in range(0, n_rows, 1_000_000):
        block = rng.standard_normal(
            (min(1_000_000, n_rows - start), N_FEATURES), dtype=np.float32
        )
        X[start : start + len(block)] = block
        score = block[:, :8].sum(axis=1) + 2 * block[:, 8] * block[:, 9]
        y[start : start + len(block)] = score > 0
    X.flush()
    del X
    np.save(Path(directory) / "y.npy", y)
    return path


def estimator():
    from sklearn_nn import MixtureOfExpertsClassifier

    return MixtureOfExpertsClassifier(
        n_experts=N_EXPERTS,
        expert_hidden_layer_sizes=EXPERT_LAYERS,
        gate_hidden_layer_sizes=GATE_LAYERS,
        batch_size=BATCH,
        lr=LR,
        max_epochs=EPOCHS,
        tol=0.0,
        n_iter_no_change=EPOCHS + 1,
        random_state=0,
    )


def hand_loop(X, y, seed=0):
    """The chunked loop one writes by hand over a memory map."""
    from sklearn_nn.mixture import MixtureOfExperts, MixtureOfExpertsLoss

    torch.manual_seed(seed)
    model = MixtureOfExperts(
        N_FEATURES,
        2,
        n_experts=N_EXPERTS,
        expert_hidden_layer_sizes=EXPERT_LAYERS,
        gate_hidden_layer_sizes=GATE_LAYERS,
    )
    criterion = MixtureOfExpertsLoss("classification", load_balancing=0.05)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    for _ in range(EPOCHS):
        for start in range(0, len(X), CHUNK):
            Xc = torch.from_numpy(np.array(X[start : start + CHUNK]))
            yc = torch.from_numpy(y[start : start + CHUNK])
            perm = torch.randperm(len(Xc))
            for i in range(0, len(Xc), BATCH):
                idx = perm[i : i + BATCH]
                optimizer.zero_grad()
                criterion(model(Xc[idx]), yc[idx]).backward()
                optimizer.step()
    return model


def _status_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(case, directory, n_rows):
    """One case in this (fresh) process: prints a JSON line."""
    one_thread()
    X = np.memmap(
        Path(directory) / "X.dat",
        dtype=np.float32,
        mode="r",
        shape=(n_rows, N_FEATURES),
    )
    y = np.load(Path(directory) / "y.npy")
    if case == "in_memory":
        rows = min(IN_MEMORY_ROWS, n_rows)
        X, y = np.array(X[:rows]), y[:rows].copy()
    model = estimator() if case != "hand_loop" else None
    # the file-backed part of the RSS, sampled every 50 ms during the fit
    peak_file = [_status_mib("RssFile")]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            peak_file.append(_status_mib("RssFile"))

    sampler = threading.Thread(target=sample, daemon=True)
    before = reset_peak_rss()
    file_before = peak_file[0]
    sampler.start()
    start = time.perf_counter()
    if case == "hand_loop":
        hand_loop(X, y)
    else:
        model.fit(X, y)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    result = {
        "rows": len(y),
        "seconds": seconds,
        "rss_before_mib": before,
        "peak_growth_mib": peak_rss_mib() - before,
        "file_growth_mib": max(peak_file) - file_before,
    }
    if model is not None:
        sample_rows = slice(0, 200_000)
        result["accuracy"] = float(
            model.score(np.array(X[sample_rows]), y[sample_rows])
        )
    print(json.dumps(result), flush=True)


def run_case(case, directory, n_rows):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_out_of_core",
            "--case",
            case,
            "--dir",
            str(directory),
            "--rows",
            str(n_rows),
        ],
        capture_output=True,
        text=True,
        env=single_thread_env(),
    )
    if out.returncode:
        raise RuntimeError(f"{case} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--dir", default=None, help="where to write the file")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        worker(args.case, args.dir, args.rows)
        return
    one_thread()
    print(versions(), threads_note(), sep="\n")
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        start = time.perf_counter()
        path = write_data(directory, args.rows)
        file_mib = os.path.getsize(path) / 2**20
        print(f"{path}: {file_mib:.0f} MiB, {time.perf_counter() - start:.0f} s")
        results = {}
        # the estimator's cases first and last, the hand loop between
        for case in ("memmap", "hand_loop", "in_memory"):
            results[case] = run_case(case, directory, args.rows)
            print(case, results[case], flush=True)
    names = {
        "memmap": "estimator, memmap (block reads)",
        "in_memory": "estimator, in memory",
        "hand_loop": "hand-written chunked loop, memmap",
    }
    rows = []
    for case, r in results.items():
        rows.append(
            [
                names[case],
                f"{r['rows']:,}",
                f"{r['seconds']:.0f}",
                f"{r['rows'] * EPOCHS / r['seconds'] / 1e3:.0f}",
                f"{r['rss_before_mib']:.0f}",
                f"{r['peak_growth_mib']:.0f}",
                f"{r['peak_growth_mib'] / file_mib:.3f}",
                f"{r['file_growth_mib']:.0f}",
                f"{r['accuracy']:.3f}" if "accuracy" in r else "",
            ]
        )
    growth = results["memmap"]["peak_growth_mib"] / file_mib
    ratio = results["memmap"]["seconds"] / results["hand_loop"]["seconds"]
    per_row = (results["memmap"]["seconds"] / results["memmap"]["rows"]) / (
        results["in_memory"]["seconds"] / results["in_memory"]["rows"]
    )
    report = [
        "# Fitting from a memory-mapped file",
        "",
        f"{versions()}; {threads_note()}; one run per case, each in a fresh "
        f"process. File: {args.rows:,} x {N_FEATURES} float32, {file_mib:.0f} MiB "
        "(in the page cache: written just before). Model: "
        f"MixtureOfExpertsClassifier(n_experts={N_EXPERTS}, "
        f"expert_hidden_layer_sizes={EXPERT_LAYERS}, "
        f"gate_hidden_layer_sizes={GATE_LAYERS}, batch_size={BATCH}), "
        f"{EPOCHS} epochs; the hand loop trains the same module with the same "
        f"loss, Adam and batch size over contiguous chunks of {CHUNK:,} rows.",
        "",
        *md_table(
            [
                "case",
                "rows",
                "fit (s)",
                "k rows/s",
                "RSS before (MiB)",
                "peak RSS growth (MiB)",
                "growth / file",
                "file-backed RSS growth (MiB)",
                "accuracy (first 200k rows)",
            ],
            rows,
            "lrrrrrrrr",
        ),
        "",
        f"Goal: peak RSS growth <= 0.25x the file: {growth:.3f}x "
        f"({'met' if growth <= 0.25 else 'NOT met'}). Time: the memmap fit takes "
        f"{ratio:.2f}x the hand loop's time over the same file and {per_row:.2f}x "
        "the in-memory fit's time per row.",
    ]
    print("\n".join(report))
    write_results("out_of_core.md", report)


if __name__ == "__main__":
    main()
