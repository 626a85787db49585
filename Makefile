# Two commands a new user needs: `make demo` (the main job) and `make test`.
# Each creates the virtual environment when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mesti-installed

.PHONY: demo test bench docs gpu-check system-deps clean-venv

$(STAMP): pyproject.toml requirements/dev.lock requirements/face.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.lock
	$(PY) -m pip install -q --no-deps -r requirements/face.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m mesti demo --out demo_out

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/encoders.py

# docs/cli.md, the reference of every command, regenerated from the program (a test fails when stale).
docs: $(STAMP)
	$(PY) -m mesti.cli.reference --out docs/cli.md

# On a CUDA machine: the CUDA tests and the engine/encoder measurements, under 9 minutes on one
# H100/H200; it keeps the machine's own CUDA torch (see benchmarks/gpu_check.sh).
gpu-check:
	@test -n "$(OUT)" || { echo "usage: make gpu-check OUT=folder" >&2; exit 2; }
	bash benchmarks/gpu_check.sh "$(OUT)"

# Distribution packages the tests use when present (Debian): a headless browser for the HTML
# report. Installs what is missing, as root; elsewhere it says what to install and goes on.
SYSTEM_PACKAGES := $(shell grep -v '^\#' requirements/system.txt)
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "system packages present: $(SYSTEM_PACKAGES)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; } || \
	  echo "could not install: $$missing (tests that need them are skipped)"; \
	else echo "not installed: $$missing (tests that need them are skipped; see requirements/system.txt)"; fi

clean-venv:
	rm -rf $(VENV)
