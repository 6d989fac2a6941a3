"""The benchmark suite: speed, memory and accuracy of every estimator family.

One command (``make bench``, or ``python -m benchmarks.run_all`` from the
repository root; ``--quick`` for a smoke run of a minute or two) measures,
for each of the four families (the cases in ``benchmarks/cases/``):

* **fit time** of the estimator against a hand-written torch loop training the
  same module with the same loss, optimizer, batch size and number of epochs
  (the ``hand_written_fit`` loops of the family scripts ``bench_<family>.py``),
  and against scikit-learn's ``MLPClassifier`` where it solves the same
  problem (the mixture of experts);
* **predict time** of ``predict_proba`` on 1 and on 10 000 samples against a
  raw forward of the fitted module (``est.net_.module_``) on ready-made input
  tensors under ``torch.inference_mode()``;
* **peak memory** (resident set size) of one fit of the estimator and of the
  hand-written loop, each in a fresh process;
* **accuracy** against the natural baselines on bundled or generated data.

Timings alternate the estimator and its baseline (``benchmarks._timing``) and
report medians; the first pair is a discarded warm-up. Every measurement runs
in a fresh subprocess (``benchmarks._driver``) with ``OMP_NUM_THREADS=1`` and
``torch.set_num_threads(1)``.

Results go to ``benchmarks/results/`` (git-ignored): ``summary.md`` (the
tables, also printed), ``summary.png`` (ratios against the targets) and
``results.json`` (the raw numbers), written by ``benchmarks._summary``.
Targets (issue 6): fit <= 1.05x the hand-written loop, 1-sample predict <= 2x
a raw forward, 10k-sample predict <= 1.5x a raw forward.
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

from benchmarks import _summary
from benchmarks._driver import spawn
from benchmarks._report import RESULTS, machine
from benchmarks.cases import FAMILIES

# every family's measurements, each in its own process: (kind, which)
JOBS = [("speed", None), ("memory", "est"), ("memory", "hand"), ("accuracy", None)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small, fast smoke run")
    parser.add_argument(
        "--families",
        nargs="+",
        choices=FAMILIES,
        default=list(FAMILIES),
        help="families to run (default: all)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    parser.add_argument(
        "--replot",
        action="store_true",
        help="only redraw the table and figure from OUT/results.json",
    )
    args = parser.parse_args()
    if args.replot:
        _summary.replot(args.out)
        return

    import sklearn
    import torch
    from tqdm.auto import tqdm

    meta = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
    }
    print(
        f"torch {meta['torch']}: every measurement runs in a fresh process with "
        "OMP_NUM_THREADS=1 and torch.set_num_threads(1)"
    )
    jobs = [(fam, kind, which) for fam in args.families for kind, which in JOBS]
    results = {fam: {"memory": {}} for fam in args.families}
    start = time.perf_counter()
    with tqdm(jobs, desc="benchmarks", unit="job") as bar:
        for fam, kind, which in bar:
            bar.set_postfix_str(f"{fam} {kind} {which or ''}".strip())
            result = spawn(kind, fam, args.quick, which)
            if kind == "memory":
                results[fam]["memory"][which] = result
            else:
                results[fam][kind] = result
    meta["seconds"] = time.perf_counter() - start
    text = _summary.write(args.out, results, meta)
    print()
    print(text)
    print(f"({meta['seconds']:.0f} s; written to {args.out})")


if __name__ == "__main__":
    main()
