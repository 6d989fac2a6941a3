"""Timing, thread and memory helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import resource
import sys
import time

import numpy as np
import torch


def one_thread():
    """One torch intra-op thread, set again before every measured fit.

    On a shared 2-core machine several OpenMP threads spin-waiting on the
    small ops of these networks are slower and far noisier than one. Set it
    again before each fit where other libraries run in between: aeon's numba
    kernels run on numba's OpenMP threading layer, which sets the
    process-wide OpenMP thread count to numba's default (the number of cores)
    and with it ``torch.get_num_threads()``; without the reset every fit after
    the first 1-NN DTW or MiniRocket ran on 2 threads, up to 40x slower on
    the shared 2-core machine (ItalyPowerDemand, 5 epochs: 0.06 s -> 2.5 s).
    """
    torch.set_num_threads(1)


def timed(fn):
    """``(fn(), seconds)``, with one torch thread set first (see
    :func:`one_thread`)."""
    one_thread()
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def single_thread_env():
    """This process's environment with ``OMP_NUM_THREADS=1`` and
    ``MKL_NUM_THREADS=1``, for a fresh measuring process."""
    return dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def _alternate(fn_a, fn_b, repeats, inner):
    """Per-call times of ``fn_a`` and ``fn_b``, run alternately ``repeats``
    times, each timing the mean of ``inner`` back-to-back calls."""
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times.append((time.perf_counter() - start) / inner)
    return times_a, times_b


def paired_times(fn_a, fn_b, repeats, inner=1, *, warm_up=False):
    """Median times of ``fn_a`` and ``fn_b``, run alternately.

    Alternating the two (rather than timing one after the other) keeps slow
    drifts of a shared machine from landing on one side of the ratio. Short
    calls are repeated ``inner`` times per timing. ``warm_up``: one discarded
    call of each first.
    """
    if warm_up:
        fn_a(), fn_b()
    times_a, times_b = _alternate(fn_a, fn_b, repeats, inner)
    return float(np.median(times_a)), float(np.median(times_b))


def paired_fit_times(fn_a, fn_b, repeats, *, warm_up=False):
    """Like :func:`paired_times` for single calls, returning the medians and
    the minima: the fastest run is the one least slowed down by other load
    on a shared machine, so the ratio of minima moves less between runs."""
    if warm_up:
        fn_a(), fn_b()
    times_a, times_b = _alternate(fn_a, fn_b, repeats, 1)
    return (
        float(np.median(times_a)),
        float(np.median(times_b)),
        min(times_a),
        min(times_b),
    )


def median_time(fn, repeats):
    """Median time of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def best_time(fn, repeats=2):
    """(fastest time of ``repeats`` calls of ``fn``, the last call's result)."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def max_rss_mib():
    """This process's peak resident set size so far, in MiB."""
    # ru_maxrss is in KiB on Linux and in bytes on macOS
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def reset_peak_rss():
    """Reset this process's peak RSS (Linux: ``VmHWM``) to its current RSS,
    so that :func:`peak_rss_mib` measures what comes after; returns the
    current RSS in MiB. ``ru_maxrss`` cannot be reset: an import or a data
    set built before can hide everything after it."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _proc_status_mib("VmRSS")


def peak_rss_mib():
    """This process's peak RSS since :func:`reset_peak_rss`, in MiB."""
    return _proc_status_mib("VmHWM")


def _proc_status_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")
