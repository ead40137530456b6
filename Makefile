# The two commands a newcomer needs: `make demo` (the yesno recipe end to end) and `make test`.
# Each creates .venv when missing and installs the project into it; the second run is quick.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The read-only corpus mirror beside the repository, when there is one.
ASR_CORPORA ?= $(shell test -d ../shared/corpora && cd ../shared/corpora && pwd)
export ASR_CORPORA

.PHONY: install demo test bench bench-deploy bench-peers clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: install
	PATH="$(abspath $(BIN)):$$PATH" egs/yesno/run.sh

test: install
	$(BIN)/python -m pytest -q --durations=15 tests

# The benchmark suite (docs/benchmarks.md): bench/results.json and a table, in about 5 minutes on 2 cores;
# BENCH_ARGS=--update-doc also writes the tables into docs/benchmarks.md.
BENCH_THREADS ?= 2
bench: install
	$(BIN)/python -m bench.run --threads $(BENCH_THREADS) $(BENCH_ARGS)

# Deployment figures (docs/deploy.md): PyTorch and ONNX Runtime, fp32 and int8, side by side (bench/deploy.py);
# needs a trained model (egs/an4/run.sh --unit char) and a data dir with wav.scp and text.
DEPLOY_MODEL ?= egs/an4/exp/model
DEPLOY_DATA ?= egs/an4/data/dev
bench-deploy: install
	$(BIN)/python -m bench.deploy --model $(DEPLOY_MODEL) --data $(DEPLOY_DATA) --threads 1,2 --out bench/deploy.json

# asr train vs SpeechBrain on AN4, alternated (docs/benchmarks.md); installs SpeechBrain into bench/peers/.venv.
# Not part of test or CI; about 30 minutes on 2 idle cores (PEERS_ARGS="--runs 1 --epochs 1" for a short one).
bench-peers: install
	$(BIN)/python -m bench.peers.run --threads $(BENCH_THREADS) $(PEERS_ARGS)

clean:
	rm -rf egs/*/data egs/*/exp egs/*/mfcc egs/*/fbank bench/work
