#!/usr/bin/env bash
# GPU check, ready to run on a machine with an NVIDIA GPU (under 8 minutes):
#   1. the tests marked `cuda` (fit on the GPU, predictions, unpickling and
#      skops-loading a GPU-fitted model where CUDA is hidden);
#   2. benchmarks/bench_devices.py: CPU against GPU for every family (fit,
#      1-sample and 10k-sample predict) and GPU-vs-CPU prediction agreement.
# Usage, from the repository root: bash benchmarks/gpu_check.sh [--quick]
# Output: printed, and written to $OUT/gpu_check.md when OUT is set.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
test -x "$PYTHON" || PYTHON=python
out=${OUT:-/tmp}/gpu_check.md
{
  echo "# GPU check $(date -u +%Y-%m-%dT%H:%MZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "nvidia-smi not found"
  "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
  echo
  echo "## CUDA tests"
  timeout 240 "$PYTHON" -m pytest -q -m cuda -p no:cacheprovider tests 2>&1 | tail -15
  echo "pytest exit status: ${PIPESTATUS[0]}"
  echo
  echo "## CPU vs GPU"
  timeout 300 "$PYTHON" -m benchmarks.bench_devices "$@" 2>&1
  echo "bench_devices exit status: ${PIPESTATUS[0]}"
} | tee "$out"
