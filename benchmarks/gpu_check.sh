#!/usr/bin/env bash
# The CUDA device on one GPU machine, within 8 minutes (benchmarks/gpu_check.py says what it checks).
# Without a GPU it builds the CUDA programs only and says so. Output: benchmarks/results/gpu_check.json
# (compile-only: gpu_check_compile_only.json) and a table on stdout.
# Python: the project's .venv when there is one (make setup), else python3 with brian_dream's
# dependencies importable (a GPU machine without PyPI: benchmarks/gpu_wheels.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then
    PY=.venv/bin/python
else
    PY="${PYTHON:-python3}"
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1
exec timeout 480 "$PY" benchmarks/gpu_check.py "$@"
