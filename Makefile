# Everything a fresh machine needs: `make demo` runs the main job on the bundled samples,
# `make test` runs the tests. Both create .venv in the project root first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[torch,test,eval,ray]'
	touch $@

demo: $(VENV)/.installed
	$(PY) cli.py resize samples -o out/demo --scale 0.5 --method lanczos --overwrite
	$(PY) cli.py resize samples/manga -o out/demo/manga --scale 0.5 --screentone --overwrite
	@echo "wrote out/demo/"

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) bench/resample.py

clean:
	rm -rf out .pytest_cache
