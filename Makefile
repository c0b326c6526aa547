# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv and install the package from pyproject.toml; nothing else is needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO   := demo-output

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	# Spark (tests/test_spark.py) needs a Java runtime: Debian's, only when none is there.
	command -v java >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    default-jre-headless) || echo "no Java runtime: the Spark test will be skipped"
	# Optuna on PostgreSQL (tests/modeling/test_scale.py starts a throwaway server):
	# Debian's, only when none is there.
	(command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1) \
	    || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
	    || echo "no PostgreSQL server: its tests will be skipped"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m eihpredict.demo --out $(DEMO)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info .pytest_cache .ruff_cache
