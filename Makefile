# Two commands do all set-up on a fresh Debian machine with Python 3.11:
#   make repro   install everything, then run the whole DVC pipeline on the embedded default
#   make test    install everything, then run the test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= python3
UV_VERSION := 0.13.9
# Python writes the bytecode of each module the first time a command imports it (about 3,000 of the 16,000 files
# installed: 14 s once, against 43 s for compiling them all at install); kept on even where the caller's shell turns
# it off, or every stage would compile its imports again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install repro test clean-venv

install: $(STAMP)

# Re-runs only when the dependency list or this file changes.
$(STAMP): pyproject.toml Makefile scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip "setuptools<81" wheel
	# torch first, by exact pin: the CPU wheel; a looser requirement would pull a multi-GB CUDA build
	$(PY) -m pip install -q --disable-pip-version-check --no-compile torch==2.13.0
	# the rest with uv: the same pins, resolved and installed several times faster than pip (it keeps that torch)
	$(PY) -m pip install -q --disable-pip-version-check --no-compile uv==$(UV_VERSION)
	$(PY) -m uv pip install --python $(PY) --quiet -e ".[dev]"
	touch $(STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" dvc repro
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ifdsed compare

test: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" python -m pytest

clean-venv:
	rm -rf $(VENV)

# The paper's scale, for a machine with a GPU: the paper's set sizes, 20 seeds, Lin et al.'s 160-filter encoder
# and 44.1 kHz features (500 frames per clip). One DVC experiment; add -S model.ifd=... for the other variants.
PAPER_SCALE := -S data.sample_rate=44100 -S soundbank.clips_per_class=200 -S soundbank.backgrounds=40 \
	-S synth.train_clips=6373 -S synth.test_clips=1000 \
	-S realworld.weak_clips=1578 -S realworld.validation_clips=288 -S realworld.test_clips=880 \
	-S features.sample_rate=44100 -S features.n_fft=2048 -S features.window=0.04 -S features.hop=0.02 \
	-S features.fmax=22050.0 -S 'model.channels=[160,160,160]' \
	-S train.epochs=30 -S train.lr_decay=0.8 -S train.lr_decay_every=10 \
	-S 'train.seeds=[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]'

.PHONY: paper-scale
paper-scale: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" dvc exp run -n paper-scale $(PAPER_SCALE)
