# xmiri developer commands.  Everything installs itself into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.xmiri-installed

.PHONY: demo test docs bench clean

$(STAMP): setup.cfg setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e ".[test,docs,examples]"
	touch $(STAMP)

demo: $(STAMP)  ## simulate a small exposure, reduce it, write out/*.nc and out/*.png
	$(BIN)/xmiri demo --output-dir out

test: $(STAMP)  ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest

docs: $(STAMP)  ## build the Sphinx docs, warnings as errors
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)  ## benchmark against ExoTiC-MIRI; writes benchmarks/RESULTS.md
	$(BIN)/python benchmarks/bench.py --write benchmarks/RESULTS.md

clean:
	rm -rf out docs/_build .pytest_cache
