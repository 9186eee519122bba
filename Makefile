# The two commands a newcomer needs: `make demo` (main job) and `make test` (test suite).
# Both create the virtual environment on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
RASD := $(VENV)/bin/rasd
RUN := runs/quickstart
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test corpus bench clean

# Each command installs what it needs: `make demo` the training extra, `make test` everything the
# tests touch (ONNX, the service and Ray, pytest, setuptools for the wheel test). Both start from
# the pinned CPU torch.
EXTRAS_demo := train
EXTRAS_test := train,onnx,vectors,serve,ray,dev

$(VENV)/.torch:
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU wheel of torch; an unpinned torch would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	touch $@

$(VENV)/.installed-%: pyproject.toml $(VENV)/.torch
	$(PY) -m pip install -q -e ".[$(EXTRAS_$*)]"
	touch $@

setup: $(VENV)/.installed-test

demo: $(VENV)/.installed-demo
	$(RASD) build-default-model --corpus data/conflict-ar/train.jsonl --output models/default-encoder
	$(RASD) train --config configs/quickstart.yaml
	$(RASD) evaluate --model $(RUN)/model --data data/conflict-ar/test.jsonl --out $(RUN)/eval
	$(RASD) extract --model $(RUN)/model data/sample/article.jsonl -o $(RUN)/sample-events.csv --print -q
	@echo "event records: $(RUN)/sample-events.csv"
	@echo "HTML evaluation report: $(RUN)/eval/report.html"

test: $(VENV)/.installed-test
	$(PY) -m pytest -q

corpus: $(VENV)/.installed-demo
	$(RASD) build-corpus --markup data/conflict-ar/markup --out data/conflict-ar --card data/README.md

clean:
	rm -rf runs models
