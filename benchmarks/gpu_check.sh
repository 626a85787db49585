#!/usr/bin/env bash
# The GPU check as one command for a bare CUDA machine, from the repository alone:
#
#     bash benchmarks/gpu_check.sh OUT        (or: make gpu-check OUT=...)
#
# 1. finds a Python whose torch sees a CUDA device and keeps it (the machine's own CUDA
#    torch); where none does but a GPU is there, installs requirements/dev.lock into .venv;
#    installs only the packages that Python lacks (pins from the lock, torch untouched) and,
#    where that is impossible (no network), says which are missing and stops;
# 2. runs benchmarks/gpu_check.py: the CUDA tests (pytest -m cuda), then the training engines
#    and the encoders measured side by side, within one time budget (under 9 minutes on one
#    H100/H200 in all), writing OUT/gpu_check.json and OUT/gpu_check.md (always whole).
#
# Without a CUDA device it says so and runs the same steps with tiny settings on the CPU.
# PYTHON=... picks the interpreter; GPU_CHECK_BUDGET=... the seconds for the whole command
# (default 520); extra arguments go to gpu_check.py (--cpu: the fallback even on a GPU).
set -euo pipefail
export PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
START=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET:-520}
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ -z "$1" ] || [ "${1#-}" != "$1" ]; then
    echo "usage: bash benchmarks/gpu_check.sh OUT [--cpu]" >&2
    exit 2
fi
OUT=$1
shift

say() { printf '[gpu-check %3ds] %s\n' "$(( $(date +%s) - START ))" "$*"; }

# What mesti and its tests import, as module=pip-name (pins come from the lock).
MODULES="torch=torch torchvision=torchvision numpy=numpy cv2=opencv-contrib-python-headless pandas=pandas
openpyxl=openpyxl typer=typer rich=rich matplotlib=matplotlib PIL=pillow yaml=PyYAML skimage=scikit-image
sklearn=scikit-learn pytest=pytest"

candidates() {
    [ -n "${PYTHON:-}" ] && echo "$PYTHON"
    [ -x .venv/bin/python ] && echo .venv/bin/python
    command -v python3 || true
    command -v python || true
}

torch_state() {  # cuda, cpu (torch without a device) or none
    "$1" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")' 2>/dev/null || echo none
}

missing_modules() {
    "$1" - "$MODULES" <<'EOF'
import importlib.util, sys
pairs = [p.split("=") for p in sys.argv[1].split()]
print(" ".join(f"{m}={n}" for m, n in pairs if importlib.util.find_spec(m) is None))
EOF
}

install_lock() {  # a fresh .venv from the whole lock (torch included)
    local base
    base=$(command -v python3 || command -v python || true)
    [ -n "$base" ] || { say "error: no python3 on this machine"; exit 3; }
    say "setting up .venv from requirements/dev.lock (torch included)"
    "$base" -m venv .venv && .venv/bin/python -m pip install -q --timeout 20 --retries 1 -r requirements/dev.lock || {
        say "error: could not install requirements/dev.lock into .venv (no network?); install torch with CUDA and the"
        say "       packages of requirements/dev.lock, then run again with PYTHON=/path/to/python"
        exit 3
    }
    PY=.venv/bin/python
}

PY=""
for c in $(candidates); do
    if [ "$(torch_state "$c")" = cuda ]; then PY=$c; break; fi
done
if [ -n "$PY" ]; then
    say "using $PY: $("$PY" -c 'import torch; print(f"torch {torch.__version__} (CUDA {torch.version.cuda}) on {torch.cuda.get_device_name(0)}")') (kept as it is)"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    say "a GPU is here ($(nvidia-smi -L | head -n 1)) but no Python's torch sees it"
    install_lock
else
    say "no CUDA device found: the CPU fallback will run, with tiny settings"
    for c in $(candidates); do
        if [ "$(torch_state "$c")" != none ]; then PY=$c; break; fi
    done
    [ -n "$PY" ] || install_lock
    say "using $PY: torch $("$PY" -c 'import torch; print(torch.__version__)')"
fi

MISSING=$(missing_modules "$PY")
if [ -n "$MISSING" ]; then
    NAMES=""
    for pair in $MISSING; do NAMES="$NAMES ${pair#*=}"; done
    say "missing Python packages:$NAMES; installing them (pins from requirements/dev.lock, torch left as it is)"
    CONSTRAINTS=$(mktemp)
    grep -viE '^(#|torch==|torchvision==|nvidia-|cuda-|triton==)' requirements/dev.lock > "$CONSTRAINTS" || true
    if [ "$("$PY" -c 'import sys; print(sys.prefix != sys.base_prefix)')" = True ]; then
        TARGET=$PY  # a virtual environment: install into it
    else  # a system Python: a venv on top of it that sees its packages (its torch included)
        "$PY" -m venv --system-site-packages .venv-gpu-check
        TARGET=.venv-gpu-check/bin/python
    fi
    # shellcheck disable=SC2086
    if "$TARGET" -m pip install -q --timeout 20 --retries 1 -c "$CONSTRAINTS" $NAMES; then
        PY=$TARGET
    else
        say "error: could not install:$NAMES (no network?). Install them (versions in requirements/dev.lock) and run again."
        rm -f "$CONSTRAINTS"
        exit 3
    fi
    rm -f "$CONSTRAINTS"
    MISSING=$(missing_modules "$PY")
    [ -z "$MISSING" ] || { say "error: still missing after installing: $MISSING"; exit 3; }
fi

LEFT=$(( BUDGET - ($(date +%s) - START) ))
say "set-up done; $LEFT s left for the check"
PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" benchmarks/gpu_check.py "$OUT" --budget "$LEFT" \
    --command "bash benchmarks/gpu_check.sh OUT" "$@"
