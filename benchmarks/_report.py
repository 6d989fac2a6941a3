"""Reporting helpers shared by the benchmark scripts: markdown tables, the
versions and machine header, results files under ``benchmarks/results/``."""

from __future__ import annotations

import importlib
import math
import os
import platform
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
_ALIGN = {"l": "---", "r": "---:", "c": ":---:"}
_LABELS = {"sklearn": "scikit-learn", "python": "Python"}


def md_row(cells):
    """One markdown table row."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def md_table(columns, rows=(), align=None):
    """The lines of a markdown table: header, separator and ``rows``.

    ``align`` has one letter per column: ``l`` (default), ``r`` or ``c``.
    """
    align = align or "l" * len(columns)
    separator = "|" + "|".join(_ALIGN[a] for a in align) + "|"
    return [md_row(columns), separator, *(md_row(row) for row in rows)]


def versions(*names):
    """``"sklearn_nn 0.1, torch 2.5, scikit-learn 1.6, Python 3.12"`` for the
    given module names in order (``"python"`` for the interpreter)."""
    parts = []
    for name in names or ("sklearn_nn", "torch", "sklearn", "python"):
        if name == "python":
            version = platform.python_version()
        else:
            version = importlib.import_module(name).__version__
        parts.append(f"{_LABELS.get(name, name)} {version}")
    return ", ".join(parts)


def threads_note():
    """``"torch threads: 1 (OMP_NUM_THREADS=1)"``, as found now."""
    import torch

    omp = os.environ.get("OMP_NUM_THREADS", "unset")
    return f"torch threads: {torch.get_num_threads()} (OMP_NUM_THREADS={omp})"


def machine():
    """``"x86_64, 2 CPUs"``."""
    return f"{platform.machine()}, {os.cpu_count()} CPUs"


def write_results(name, lines):
    """Write ``lines`` (one string per line) to ``benchmarks/results/<name>``."""
    path = RESULTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print(f"Written to {path}")
    return path


def corrected_se(diff, test_fraction):
    """Standard error of the mean of per-fold differences ``diff``, corrected
    for the overlap of the training sets (Nadeau and Bengio, 2003): the
    variance of the mean is ``(1 / J + n_test / n_train) * var(diff)`` over J
    folds. A gap within about two of these is noise."""
    ratio = test_fraction / (1.0 - test_fraction)
    return math.sqrt((1.0 / len(diff) + ratio) * float(np.var(diff, ddof=1)))


def rows_table(rows, header, cell):
    """``header``, a blank line and the markdown table of ``rows`` (dicts
    with the same keys), each value written by ``cell(column, value)``; the
    first column left-aligned."""
    columns = list(rows[0])
    align = "l" + "r" * (len(columns) - 1)
    cells = [[cell(c, v) for c, v in row.items()] for row in rows]
    return "\n".join([header, "", *md_table(columns, cells, align)])


def publish_tables(tables, header, cell, results_name=None):
    """Print one markdown table per group of ``tables`` (``{title: rows}``),
    each under ``header(title, rows)``, and write them all to
    ``results/<results_name>`` when it is given."""
    text = "\n\n".join(
        rows_table(rows, header(title, rows), cell) for title, rows in tables.items()
    )
    print(text)
    if results_name is not None:
        write_results(results_name, [text])


def _in_worker(evaluate, setup, name, *args):
    """``evaluate(name, *args)`` in a worker process: ``setup()`` first, one
    torch thread, User- and RuntimeWarnings filtered, the time printed."""
    import time
    import warnings

    from benchmarks._timing import one_thread

    if setup is not None:
        setup()
    one_thread()
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    t0 = time.perf_counter()
    row = evaluate(name, *args)
    print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return row


def run_groups(groups, evaluate, jobs, *args, setup=None):
    """``{title: rows}`` with ``evaluate(name, *args)`` for every data set of
    every group of ``groups`` (``{title: names}``), ``jobs`` data sets at a
    time in worker processes (see ``_in_worker``)."""
    from joblib import Parallel, delayed

    names = [name for group in groups.values() for name in group]
    rows = Parallel(n_jobs=jobs)(
        delayed(_in_worker)(evaluate, setup, name, *args) for name in names
    )
    by_name = dict(zip(names, rows))
    return {title: [by_name[n] for n in group] for title, group in groups.items()}
