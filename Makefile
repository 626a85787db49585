# Two commands a new user needs: `make demo` (the main job) and `make test`.
# Each creates the virtual environment when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mesti-installed

.PHONY: demo test bench clean-venv

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

clean-venv:
	rm -rf $(VENV)
