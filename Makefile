# imcsim: set-up, run, test. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
IMCSIM := $(VENV)/bin/imcsim
STAMP  := $(VENV)/.installed
OUT    ?= reports/default
# make test runs on every core (pytest-xdist; tests/conftest.py says why --dist loadscope and why in file order);
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

.PHONY: help install run test test-fast bench lint docs clean distclean

help:
	@echo "make run    - set up .venv and run the built-in default study into $(OUT)/"
	@echo "make test   - set up .venv and run the whole test suite on every core (TEST_WORKERS=0: one process)"
	@echo "make bench  - speed and memory benchmarks (JSON on stdout)"
	@echo "make lint   - ruff"
	@echo "make docs   - regenerate docs/study-reference.md from the pydantic models (after adding a field)"
	@echo "make clean  - remove build output, caches and generated reports (keeps .venv)"
	@echo "make distclean - clean, and remove .venv"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-install when the dependency list changes.
$(STAMP): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev,onnx,cluster]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(IMCSIM) run --default --out $(OUT)

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b" >&2; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check imcsim tests benchmarks

docs: $(STAMP)
	$(IMCSIM) schema --reference docs/study-reference.md

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
	find reports -mindepth 1 ! -name .gitkeep -exec rm -rf {} + 2>/dev/null || true

distclean: clean
	rm -rf $(VENV)
