# Everything starts from nothing but Python: each target creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean bench browser-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@$(BIN)/checker scan fixtures/demo --no-cache || test $$? -eq 1

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The HTML report in a real headless browser (needs Debian's chromium and chromium-driver).
browser-check: $(STAMP)
	$(BIN)/python tests/browser_check.py

clean:
	rm -rf $(VENV) .checker_cache build *.egg-info

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)
