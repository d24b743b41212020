#!/usr/bin/env bash
# Create .venv with Python 3.12 and install brian_dream with its test extras.
#
# brian2cuda 1.0b1 pins brian2==2.10.1, which needs Python 3.12; the machine's
# default python3 may be older, so look for a 3.12 interpreter explicitly.
# Set PYTHON=/path/to/python3.12 to choose one yourself.
set -euo pipefail
cd "$(dirname "$0")/.."

is_312() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
    local candidates=()
    [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
    candidates+=(python3.12)
    local root
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for p in "$root"/versions/3.12*/bin/python3.12; do [ -x "$p" ] && candidates+=("$p"); done
    candidates+=(/usr/bin/python3.12 /usr/local/bin/python3.12 python3)
    for c in "${candidates[@]}"; do
        if is_312 "$c"; then command -v "$c" || echo "$c"; return 0; fi
    done
    return 1
}

if [ -x .venv/bin/python ] && is_312 .venv/bin/python && [ .venv/.installed -nt pyproject.toml ]; then
    exit 0
fi

if ! PY="$(find_python)"; then
    echo "setup: no Python 3.12 found (brian2 2.10.1 + brian2cuda 1.0b1 need it)." >&2
    echo "setup: install one (e.g. 'pyenv install 3.12' or 'apt-get install python3.12-venv') or set PYTHON=/path/to/python3.12" >&2
    exit 1
fi
echo "setup: using $PY ($("$PY" --version 2>&1))"
rm -rf .venv
"$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# [cuda] brings cuRAND, so that the CUDA build tests run wherever nvcc is installed; [pixels]
# scikit-learn, so that the autoencoder tests run
.venv/bin/python -m pip install --quiet -e ".[test,cuda,pixels]"
touch .venv/.installed
echo "setup: ready (.venv)"
