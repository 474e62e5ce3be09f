# The two commands of the quick start:
#   make run    set up (a C compiler too), index the sample archive in data/, serve it on http://127.0.0.1:8000
#   make test   set up (Python packages, Debian's chromium and nginx for the browser and proxy tests), lint, run
#               every test; while editing, make test-fast: no browser, no server, no process (under a minute).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= var/index
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast setup compiler browser lint bench bench-setup scale clean

# analysis/_native.c: pip compiles it (the compiled loops of a build); edited, it is compiled again.
$(BIN)/finsearch: pyproject.toml analysis/_native.c | compiler
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup: $(BIN)/finsearch

run: setup
	$(BIN)/finsearch index data/posts --index $(INDEX)
	$(BIN)/finsearch serve --index $(INDEX) --host $(HOST) --port $(PORT)

# A C compiler and Python's headers let pip compile a build's loops (analysis/native.py); without
# them the install still succeeds and builds run the loops' Python forms, slower, with a warning.
COMPILER_PACKAGES := gcc python3-dev
compiler:
	@command -v cc >/dev/null 2>&1 && \
	  [ -f "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(COMPILER_PACKAGES) >/dev/null || \
	  echo "make: no C compiler: builds will run the Python forms of their compiled loops" >&2; }

# Debian's chromium drives the browser tests (Playwright never downloads a browser here);
# a CJK font makes the screenshots legible; Debian's nginx runs deploy/'s proxy config in the
# front-door tests.
BROWSER_PACKAGES := chromium chromium-driver fonts-wqy-microhei nginx
browser:
	@dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; }

# Static checks, run first by `make test` (and so by CI); `make lint` alone for developers.
# mypy and the import contract need the installed layout (finsearch.search is search/ …): a tree
# of links gives it that (folders copied, files linked: the contract's graph walks real folders).
TYPECHECK := build/typecheck
STAGES := analysis storage indexer search webui
lint: setup
	$(BIN)/ruff check $(STAGES) finsearch tests benchmarks
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/finsearch
	ln -s $(CURDIR)/finsearch/*.py $(TYPECHECK)/finsearch/
	for stage in $(STAGES); do cp -rs $(CURDIR)/$$stage $(TYPECHECK)/finsearch/$$stage; done
	cd $(TYPECHECK) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p finsearch
	cd $(TYPECHECK) && $(CURDIR)/$(BIN)/lint-imports --no-cache --no-logo $(CURDIR)/pyproject.toml

# pytest exits 5 when it collected no tests: a failure, said as such.
test: setup browser lint
	@$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$status

# The edit-run loop: every test not marked browser, server or slow (tests/conftest.py says which are),
# a test file at a time on each of two processes (a file's fixtures are made once; make test stays in
# one process: one server and one browser for the run); its ten slowest are listed, so a test that
# has grown slow shows (PYTEST_ARGS="-x -k …" to narrow it).
# Its temporary files go to a folder of its own, emptied at the start of the next run: in the shared
# /tmp/pytest-of-$USER, pytest deletes the older runs' folders (full runs' are large) at the end of each run.
FAST_TESTS := not browser and not server and not slow
test-fast: setup
	@mkdir -p build  # pytest makes --basetemp itself, not its parent (a fresh checkout has no build/)
	$(BIN)/python -m pytest -m "$(FAST_TESTS)" -n 2 --dist loadfile --durations=10 --basetemp=build/test-fast \
	  $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m benchmarks.run --corpus all

# The scale benchmark's extra packages (tantivy, its peer); the tests' install stays without them.
bench-setup: setup
	$(BIN)/pip install --quiet -e ".[test,bench]"

# 100k, 250k and 1M posts against tantivy+jieba (hours: see benchmarks/README.md, "Scale").
scale: bench-setup
	$(BIN)/python -m benchmarks.scale

clean:
	rm -rf $(VENV) var test-artifacts build
