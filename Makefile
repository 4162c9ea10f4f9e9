# The two README commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := plugins/text_t5 plugins/speech_soundstream plugins/semantic_magvit \
           plugins/flame_rvq plugins/synthetic_heads plugins/eval_metrics \
           plugins/video_walt plugins/perception plugins/prepare_mediapipe

.PHONY: setup demo test bench clean

$(BIN)/archon: pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e ".[test,plot]" $(addprefix -e ,$(PLUGINS))
	# mediapipe's wheel carries FaceMesh; its protobuf<5 pin clashes with grain, archon-perception pins the rest
	$(BIN)/pip install --quiet --no-deps mediapipe==0.10.14
	touch $(BIN)/archon

setup: $(BIN)/archon

demo: setup
	$(BIN)/archon demo

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/archon bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
