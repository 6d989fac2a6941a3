"""Reporting helpers shared by the benchmark scripts: markdown tables, the
versions and machine header, results files under ``benchmarks/results/``."""

from __future__ import annotations

import importlib
import os
import platform
from pathlib import Path

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


def run_groups(groups, worker, jobs, *args):
    """``{title: rows}`` with ``worker(name, *args)`` for every data set of
    every group of ``groups`` (``{title: names}``), ``jobs`` data sets at a
    time in worker processes."""
    from joblib import Parallel, delayed

    names = [name for group in groups.values() for name in group]
    rows = Parallel(n_jobs=jobs)(delayed(worker)(name, *args) for name in names)
    by_name = dict(zip(names, rows))
    return {title: [by_name[n] for n in group] for title, group in groups.items()}
