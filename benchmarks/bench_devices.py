"""CPU against GPU for every family: fit, 1-sample and 10k-sample predict.

One table, each estimator fitted and timed on ``device='cpu'`` and, when
CUDA is available, on ``device='cuda'`` (same data, parameters and seed),
with the GPU timings synchronised (``torch.cuda.synchronize`` after each
call). Also checks that the CUDA model's predictions match
within float32 tolerance of the same weights run on the CPU. For the hard
gate only the gate network runs on the device: its base models are
scikit-learn models on the CPU, and at prediction each of them predicts only
the rows the gate chose it for (the vote's rows need them all), so its rows
time the gate plus the base models' share.

Run ``python -m benchmarks.bench_devices`` from the repository root
(``--quick``: smaller data); ``benchmarks/gpu_check.sh`` runs it after the
CUDA tests.
"""

from __future__ import annotations

import argparse
import pickle
import time

import numpy as np
import torch
from sklearn.datasets import make_classification, make_regression

from benchmarks._report import md_table, versions
from sklearn_nn import (
    HardGateClassifier,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SiamesePairClassifier,
    TargetReplicationLSTMClassifier,
)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats):
    """Median time of ``repeats`` calls of ``fn`` (GPU work included)."""
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def cases(n, epochs):
    rng = np.random.RandomState(0)
    Xc, yc = make_classification(
        n_samples=n, n_features=64, n_informative=24, n_classes=4, random_state=0
    )
    Xr, yr = make_regression(n_samples=n, n_features=64, noise=5.0, random_state=0)
    Xc, Xr = Xc.astype(np.float32), Xr.astype(np.float32)
    sequences = rng.randn(n // 4, 40, 8).astype(np.float32)
    sequences[:, 30:][rng.rand(n // 4) < 0.5] = np.nan  # ragged: 30 or 40 steps
    y_seq = (np.nan_to_num(sequences[:, :5, 0]).sum(1) > 0).astype(int)
    common = dict(max_epochs=epochs, batch_size=256, random_state=0)
    return [
        (
            "MixtureOfExpertsClassifier (8 experts)",
            lambda d: MixtureOfExpertsClassifier(n_experts=8, device=d, **common),
            Xc,
            yc,
        ),
        (
            "MixtureOfExpertsClassifier (32 experts, top_k=2)",
            lambda d: MixtureOfExpertsClassifier(
                n_experts=32, top_k=2, device=d, **common
            ),
            Xc,
            yc,
        ),
        (
            "MixtureOfExpertsRegressor",
            lambda d: MixtureOfExpertsRegressor(n_experts=4, device=d, **common),
            Xr,
            yr,
        ),
        (
            "HardGateClassifier",
            lambda d: HardGateClassifier(device=d, **common),
            Xc[: n // 4],
            yc[: n // 4],
        ),
        (
            "SiamesePairClassifier",
            lambda d: SiamesePairClassifier(n_left_features=32, device=d, **common),
            Xc,
            (yc > 1).astype(int),
        ),
        (
            "TargetReplicationLSTMClassifier",
            lambda d: TargetReplicationLSTMClassifier(
                hidden_size=64, conv_filters=(64, 64), device=d, **common
            ),
            sequences,
            y_seq,
        ),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    n, epochs, repeats = (2000, 2, 3) if args.quick else (20000, 5, 5)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(versions(), f"torch threads {torch.get_num_threads()}", sep="\n")
    if "cuda" in devices:
        print("GPU:", torch.cuda.get_device_name(0))
    else:
        print("no CUDA device: CPU rows only")
    rows = []
    for name, make, X, y in cases(n, epochs):
        fitted = {}
        for device in devices:
            # warm-up (CUDA context, kernels, allocator), not timed
            make(device).set_params(max_epochs=1).fit(X[:512], y[:512])
            est = make(device)
            fit = timed(lambda est=est, X=X, y=y: est.fit(X, y), device, 1)
            fitted[device] = est
            one = timed(lambda est=est, X=X: est.predict(X[:1]), device, repeats * 20)
            many = timed(lambda est=est, X=X: est.predict(X[:10000]), device, repeats)
            rows.append(
                [name, device, f"{fit:.2f}", f"{1e3 * one:.2f}", f"{1e3 * many:.1f}"]
            )
            print(rows[-1], flush=True)
        if "cuda" in fitted:
            # the GPU model's predictions against the same weights on the CPU
            gpu = fitted["cuda"]
            cpu = pickle.loads(pickle.dumps(gpu))
            cpu.net_.module_.to("cpu")
            cpu.net_.device = "cpu"
            method = "predict_proba" if hasattr(gpu, "predict_proba") else "predict"
            diff = np.abs(getattr(gpu, method)(X[:500]) - getattr(cpu, method)(X[:500]))
            rows[-1].append(f"max |GPU - same weights on CPU| {diff.max():.1e}")
    print()
    header = [
        "estimator",
        "device",
        "fit (s)",
        "1-sample predict (ms)",
        "10k predict (ms)",
    ]
    print(
        f"{n} rows (hard gate {n // 4}, sequences {n // 4} x 40 x 8), "
        f"{epochs} epochs, batch 256; medians"
    )
    print(
        "\n".join(md_table(header + ["note"], [r + [""] * (6 - len(r)) for r in rows]))
    )


if __name__ == "__main__":
    main()
