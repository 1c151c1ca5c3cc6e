# Two commands do everything on a fresh machine:
#   make demo   installs into .venv and trains a small buggy model, then diagnoses it
#   make test   installs into .venv and runs the whole test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench bench-remedies clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[torch,tensorboard,test,html,png,browser,integrations]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lossdoctor demo

# The browser tests drive Debian's chromium (never `playwright install`); without apt they skip, except in CI.
chromium:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && \
	  { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	    $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || echo "chromium could not be installed: the browser tests will skip"; }

test: $(STAMP) chromium
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/large_log.py

bench-remedies: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/remedies.py --jobs 2

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
