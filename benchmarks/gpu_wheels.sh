#!/usr/bin/env bash
# Wheels the GPU machine lacks, into .whl/ (run here, where pip can reach PyPI; the device
# machine cannot). Its image already holds numpy, scipy, matplotlib, pyyaml, tqdm, cython,
# jinja2, sympy, pyparsing, cloudpickle and nvidia-curand; these are the rest of what
# `brian-dream train --device cuda` imports. Then, on the GPU machine (device README):
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
#   bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl \
    brian2==2.10.1 brian2cuda==1.0b1 gymnasium==1.4.0 ale-py==0.12.1 farama-notifications
du -sh .whl
