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

torch_state() {  # "cuda VERSION on GPU", "cpu VERSION" (torch without a device) or "none"
    "$1" -c 'import torch
print(f"cuda {torch.__version__} (CUDA {torch.version.cuda}) on {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else f"cpu {torch.__version__}")' 2>/dev/null || echo none
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
CPU_PY=""  # the first Python with a torch, for the CPU fallback
for c in $(candidates); do
    state=$(torch_state "$c")
    if [ "${state%% *}" = cuda ]; then PY=$c; say "using $PY: torch ${state#cuda } (kept as it is)"; break; fi
    if [ "${state%% *}" = cpu ] && [ -z "$CPU_PY" ]; then CPU_PY=$c; CPU_TORCH=${state#cpu }; fi
done
if [ -n "$PY" ]; then
    :
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    say "a GPU is here ($(nvidia-smi -L | head -n 1)) but no Python's torch sees it"
    install_lock
else
    say "no CUDA device found: the CPU fallback will run, with tiny settings"
    if [ -n "$CPU_PY" ]; then
        PY=$CPU_PY
        say "using $PY: torch $CPU_TORCH"
    else
        install_lock
    fi
fi

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    say "error: $PY is Python $("$PY" -c 'import platform; print(platform.python_version())'); mesti needs 3.11 or later"
    exit 3
fi
MISSING=$(missing_modules "$PY")
if [ -n "$MISSING" ]; then
    NAMES=""
    TORCHVISION=""
    for pair in $MISSING; do
        case ${pair#*=} in
            torchvision) TORCHVISION=$("$PY" -c 'import torch; v = torch.__version__.split("+")[0].split("."); print(f"torchvision==0.{int(v[1]) + 15}.*")') ;;
            *) NAMES="$NAMES ${pair#*=}" ;;
        esac
    done
    say "missing Python packages:$NAMES $TORCHVISION; installing them (pins from requirements/dev.lock; torch and numpy left as they are)"
    CONSTRAINTS=$(mktemp)
    grep -viE '^(#|torch==|torchvision==|numpy==|nvidia-|cuda-|triton==)' requirements/dev.lock > "$CONSTRAINTS" || true
    if [ "$("$PY" -c 'import sys; print(sys.prefix != sys.base_prefix)')" = True ]; then
        TARGET=$PY  # a virtual environment: install into it
    else  # a system Python: a venv on top of it that sees its packages (its torch included)
        "$PY" -m venv --system-site-packages .venv-gpu-check
        TARGET=.venv-gpu-check/bin/python
    fi
    OK=1
    if [ -n "$TORCHVISION" ]; then  # the release made for this torch, without pulling another torch
        "$TARGET" -m pip install -q --timeout 20 --retries 1 --no-deps "$TORCHVISION" || OK=""
    fi
    if [ -n "$OK" ] && [ -n "$NAMES" ]; then
        # shellcheck disable=SC2086
        "$TARGET" -m pip install -q --timeout 20 --retries 1 -c "$CONSTRAINTS" $NAMES || OK=""
    fi
    rm -f "$CONSTRAINTS"
    if [ -z "$OK" ]; then
        say "error: could not install:$NAMES $TORCHVISION (no network?)."
        say "       Install them (versions in requirements/dev.lock) into $PY and run again."
        exit 3
    fi
    PY=$TARGET
    MISSING=$(missing_modules "$PY")
    [ -z "$MISSING" ] || { say "error: still missing after installing: $MISSING"; exit 3; }
fi

LEFT=$(( BUDGET - ($(date +%s) - START) ))
say "set-up done; $LEFT s left for the check"
PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" benchmarks/gpu_check.py "$OUT" --budget "$LEFT" \
    --command "bash benchmarks/gpu_check.sh OUT" "$@"
