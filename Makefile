# One command each: `make demo` (install what is missing, build, run the demo) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: all setup deps venv bpf demo test test-unit bench lint clean

all: bpf

setup: deps venv

deps:
	./scripts/bootstrap

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lint,netlink]'
	touch $@

bpf:
	$(MAKE) -C bpf_progs

demo: setup bpf
	$(PY) examples/demo.py

# The whole suite. Kernel tests skip (with the reason) when unprivileged, unless
# LIBBPF_PY_REQUIRE_KERNEL=1, which CI sets so that a skip cannot hide a broken machine.
test: setup bpf
	$(PY) -m pytest tests

test-unit: venv bpf
	$(PY) -m pytest tests/unit

bench: setup bpf
	$(PY) bench/bench_maps.py

lint: venv
	$(PY) -m ruff check libbpf_py tests examples bench

clean:
	$(MAKE) -C bpf_progs clean
	rm -rf $(VENV) .pytest_cache
