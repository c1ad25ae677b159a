# recbook: the book, the notebooks and the package.
#   make book     build the website into _build/html (from stored outputs; offline)
#   make test     unit tests, nbval over every notebook, strict book build, browser check
#   make execute  re-run every notebook and store its outputs
#   make lab      open the notebooks in JupyterLab
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NOTEBOOKS := $(shell find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test unit nbval build-strict site-check execute lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-book: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[book]'
	touch $@

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[deep,test,book]'
	touch $@ $(VENV)/.installed-book

book: $(VENV)/.installed-book
	$(BIN)/jupyter-book build . --builder html
	@echo "The website is in _build/html/index.html"

# Each stage prints its wall time, so slow stages are easy to spot.
define timed
	@start=$$(date +%s); echo "=== $(1)"; $(2); rc=$$?; \
	echo "=== $(1): $$(( $$(date +%s) - start )) s"; exit $$rc
endef

test: $(VENV)/.installed-all
	$(call timed,unit tests,MPLBACKEND=Agg $(BIN)/pytest tests -q)
	$(call timed,nbval notebooks,$(BIN)/pytest -q -p no:cacheprovider --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg $(NOTEBOOKS))
	$(call timed,book build -W,rm -rf _build/html _build/.doctrees && $(BIN)/jupyter-book build . --builder html -W --keep-going)
	$(call timed,site check,$(BIN)/python tests/site/check_site.py _build/html)

execute: $(VENV)/.installed-all
	@for nb in $(NOTEBOOKS); do \
	  start=$$(date +%s); \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 \
	    --ExecutePreprocessor.kernel_name=python3 "$$nb" || exit 1; \
	  echo "$$nb: $$(( $$(date +%s) - start )) s"; \
	done

lab: $(VENV)/.installed-all
	$(BIN)/pip install --quiet -e '.[lab]'
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf _build
