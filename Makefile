# make demo : create .venv, install i2i, run the offline demo (about 2-3 minutes on a CPU)
# make test : create .venv, install i2i with test extras, run ruff and the test suite
#             (installs Debian's chromium for the web page test: make browser)
# make bench-serve : the translation server's throughput and latency with and without batching
# make fuzz : the long fault-injection and fuzz variants (docs/reliability.md)
# make long : learning runs of minutes (e.g. the cgan run that must beat chance)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.14.1 torchvision==0.29.1

BROWSER ?= /usr/bin/chromium

.PHONY: demo test lint pytest fuzz long bench bench-serve browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet -e examples/i2i-example-plugin
	touch $@

demo: $(VENV)/.installed
	$(BIN)/i2i demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# the page test drives a real headless chromium; a missing one fails it under make
browser:
	@test -x $(BROWSER) || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

pytest: $(VENV)/.installed-test browser
	I2I_REQUIRE_BROWSER=1 I2I_CHROMIUM=$(BROWSER) $(BIN)/python -m pytest

test: lint pytest

# long fault-injection and fuzz variants (kill -9 / SIGTERM at random moments, Hypothesis);
# under 10 minutes on 2 CPU cores; I2I_FUZZ_SEED=N replays the printed kill seed
fuzz: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m fuzz tests/fuzz

# learning runs of minutes (about 3.5 minutes on 2 CPU cores), kept out of make test's budget
long: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m long tests

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/train_step.py --model cyclegan --size 128 --steps 4
	$(BIN)/python benchmarks/train_step.py --model cyclegan --size 128 --steps 4 --precision bf16
	$(BIN)/python benchmarks/train_step.py --model pix2pix --size 256 --steps 4
	$(BIN)/python benchmarks/train_step.py --model pix2pix --size 256 --steps 4 --precision bf16
	$(BIN)/python benchmarks/train_step.py --model spade --size 256 --steps 4
	$(BIN)/python benchmarks/train_step.py --model spade --size 256 --steps 4 --precision bf16
	$(BIN)/python benchmarks/train_step.py --model srgan --size 128 --steps 4
	$(BIN)/python benchmarks/train_step.py --model srgan --size 128 --steps 4 --precision bf16

bench-serve: $(VENV)/.installed-test
	$(BIN)/python benchmarks/serve.py

clean:
	rm -rf $(VENV) demo runs .pytest_cache
