# The two commands of the README: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.recsearch-installed
# torch first, pinned: a bare `torch` requirement would pull a CUDA build of several GB.
TORCH := torch==2.13.0

.PHONY: install demo test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml requirements/constraints.txt | $(PY)
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -c requirements/constraints.txt -e ".[postgres,lightgbm]" --group test
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(PY) -m recsearch.demo

test: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest

# DeepCTR-Torch is the training-speed reference; it goes into .bench-deps, never into .venv.
bench: $(STAMP)
	test -d .bench-deps/deepctr_torch || $(PIP) install --quiet --no-deps --target .bench-deps \
		deepctr-torch==0.3.0
	OMP_WAIT_POLICY=PASSIVE $(PY) -m bench $(BENCH)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
