# Dunwell: `make run` starts the local stack, `make test` runs every check. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
STAGE ?= prod
AWS_DEFAULT_REGION ?= eu-west-1
export AWS_DEFAULT_REGION

.PHONY: install run test lint typecheck unit integration e2e package bench admin-key clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Dunwell needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip<26.3"
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m chalicelib.local

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy app.py chalicelib

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

# Packages the Lambdas and merges infra/resources.yaml into one SAM template in build/STAGE/.
package: $(STAMP)
	rm -rf build/$(STAGE)
	$(BIN)/chalice package --stage $(STAGE) --merge-template infra/resources.yaml build/$(STAGE)
	$(BIN)/cfn-lint build/$(STAGE)/sam.yaml

# All benches; a quick dunning one: make bench BENCH_ARGS="--only dunning --dunning-big 20000 --dunning-small 2000"
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The first admin key for a deployed stage (see README): prints the secret once.
admin-key: $(STAMP)
	$(BIN)/python -m chalicelib.cli create-api-key --name "$(NAME)" --role admin

clean:
	rm -rf build .dunwell .pytest_cache .mypy_cache .ruff_cache
