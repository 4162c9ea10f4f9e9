# The two README commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := plugins/text_t5 plugins/speech_soundstream plugins/semantic_magvit \
           plugins/flame_rvq plugins/synthetic_heads plugins/eval_metrics \
           plugins/video_walt plugins/perception plugins/prepare_mediapipe plugins/paper

.PHONY: setup demo test bench clean

$(BIN)/archon: pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e ".[test,plot]" $(addprefix -e ,$(PLUGINS))
	# mediapipe's wheel carries FaceMesh; its protobuf<5 pin clashes with grain, archon-perception pins the rest
	$(BIN)/pip install --quiet --no-deps mediapipe==0.10.14
	# DNSMOS and the GE2E speaker encoder (torch 2.13.0 CPU: +1.15 GB, 73 s here) are extras; CI runs them
	$(BIN)/pip install --quiet -e "plugins/perception[quality,speaker]"
	touch $(BIN)/archon

setup: $(BIN)/archon

demo: setup
	$(BIN)/archon demo

# the lint and type gate first ([tool.ruff], [tool.mypy] in pyproject.toml; seconds), then the tests
test: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/archon bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
