# Two commands do all set-up on a fresh Debian machine with Python 3.11:
#   make repro   install everything, then run the whole DVC pipeline on the embedded default
#   make test    install everything, then run the test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= python3

.PHONY: install repro test clean-venv

install: $(STAMP)

# Re-runs only when the dependency list or this file changes.
$(STAMP): pyproject.toml Makefile scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip "setuptools<81" wheel
	# torch first, by exact pin: the CPU wheel; a looser requirement would pull a multi-GB CUDA build
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" dvc repro

test: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" python -m pytest

clean-venv:
	rm -rf $(VENV)
