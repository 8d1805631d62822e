# The two commands of the README: `make study` and `make test`.
# Both create .venv on first use (pip, CPU torch 2.13.0), register the `arsr` Jupyter kernel
# inside it and initialise DVC where needed; later runs find everything in place.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.arsr-installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONUNBUFFERED := 1
# matplotlib's font list of this environment's own fonts: a list that another install of the same
# matplotlib version wrote into ~/.cache/matplotlib (e.g. one without its bundled fonts) made every
# report print "findfont: Font family ['STIXGeneral'] not found"
export MPLCONFIGDIR := $(CURDIR)/$(VENV)/mplconfig

.PHONY: study test setup clean-study lab replication

study: setup
	$(PY) -m arsr.study.check
	dvc repro

# The study on more dataset seeds as DVC experiments, one at a time (about an hour each on 2 cores),
# then reports/replication.html (README, "Replication across dataset seeds").
REPLICATION_SEEDS ?= 1 2
replication: study
	$(PY) -m arsr.study.replicate run --seeds $(REPLICATION_SEEDS)
	$(PY) -m arsr.study.replicate report

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest

# JupyterLab refuses to start as root unless told; containers often run as root.
lab: setup
	jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root,)

setup: $(STAMP) .dvc/config

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23.2"
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name arsr --display-name "Python (arsr)" >/dev/null
	@touch $@

.dvc/config:
	dvc init --quiet $(if $(wildcard .git),,--no-scm)
	dvc config core.analytics false
	dvc config cache.type reflink,hardlink,copy

# Remove what the study produced (DVC outputs and reports), keeping the environment.
clean-study:
	rm -rf data/interim data/models reports dvc.lock
