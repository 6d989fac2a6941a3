"""``run_all``'s measuring processes: one worker per (family, measurement).

:func:`spawn` starts ``python -m benchmarks._driver KIND FAMILY`` in a fresh
process with ``OMP_NUM_THREADS=1``; the worker sets ``torch.set_num_threads(1)``,
runs one measurement of the family's case (``benchmarks/cases/``) and prints
its result as one ``RESULT {json}`` line, which :func:`spawn` returns.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from benchmarks._timing import (
    max_rss_mib,
    one_thread,
    paired_fit_times,
    paired_times,
    single_thread_env,
)
from benchmarks.cases import FAMILIES, N_PREDICT, family

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("speed", "memory", "accuracy")


def inference(module):
    """A raw forward: ``module(*inputs, **kwargs)`` under inference mode."""
    module.eval()

    def forward(inputs, kwargs):
        with torch.inference_mode():
            return module(*inputs, **kwargs)

    return forward


def worker_speed(name, quick):
    """Fit and predict times of the estimator against its baselines, each
    pair alternating after a discarded warm-up pair."""
    case = family(name).speed_case(quick)
    repeats = 3 if quick else 9
    out = {"setup": case["setup"], "hand_name": case["hand_name"]}
    (
        out["fit_est"],
        out["fit_hand"],
        out["fit_est_min"],
        out["fit_hand_min"],
    ) = paired_fit_times(case["fit_est"], case["fit_hand"], repeats, warm_up=True)
    if case["fit_mlp"] is not None:
        out["fit_est_vs_mlp"], out["fit_mlp"] = paired_times(
            case["fit_est"], case["fit_mlp"], repeats, warm_up=True
        )
    est = case["est"]
    case["fit_est"]()
    forward = inference(est.net_.module_)
    for k in N_PREDICT:
        X_est, inputs, kwargs = case["predict_inputs"](k)
        inner = (100 if name == "gating" else 300) if k == 1 else 1
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
            warm_up=True,
        )
        out[f"predict_{k}"] = {"est": t_est, "raw": t_raw, "max_diff": max_diff}
        if case.get("mlp_predict") is not None:
            _, out[f"predict_{k}"]["mlp"] = paired_times(
                lambda X_est=X_est: est.predict_proba(X_est),
                lambda X_est=X_est: case["mlp_predict"](X_est),
                reps,
                inner,
                warm_up=True,
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
                warm_up=True,
            )
    return out


def worker_memory(name, quick, which):
    """Peak RSS before and after one fit of the estimator (``which='est'``)
    or of the hand-written loop (``'hand'``)."""
    case = family(name).speed_case(quick)
    before = max_rss_mib()
    case[f"fit_{which}"]()
    after = max_rss_mib()
    return {"before": before, "peak": after, "increase": after - before}


def worker_accuracy(name, quick):
    return family(name).accuracy(quick)


def spawn(kind, name, quick, which=None):
    """Run one worker in a fresh single-threaded process; its result."""
    cmd = [sys.executable, "-m", "benchmarks._driver", kind, name]
    if quick:
        cmd.append("--quick")
    if which:
        cmd += ["--which", which]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env=single_thread_env()
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{kind} benchmark of {name} failed:\n{proc.stdout}\n{proc.stderr}"
        )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--which", choices=["est", "hand"])
    args = parser.parse_args()
    one_thread()
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.kind == "speed":
        result = worker_speed(args.family, args.quick)
    elif args.kind == "memory":
        result = worker_memory(args.family, args.quick, args.which)
    else:
        result = worker_accuracy(args.family, args.quick)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
