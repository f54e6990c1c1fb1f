# One command each: `make demo` (install what is missing, build, run the demo) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: all setup deps venv bpf tools demo check test test-unit test-installed test-pythons test-deb dist bench lint type docs fuzz clean

all: bpf

setup: deps venv

deps:
	./scripts/bootstrap

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lint,type,netlink,dist,docs]'
	touch $@

bpf:
	$(MAKE) -C bpf_progs

# The sdist and the py3-none-any wheel, built without network (the build backends are in the venv).
dist: setup
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist

# The suite against the installed wheel (not the source tree), in a fresh venv of the system's
# Python; then again as an unprivileged user, as a distribution's build runs it.
test-installed: dist bpf tools
	./scripts/test-installed

# The Debian package (debian/): built offline, lintian-clean, installed with apt, smoke-tested.
test-deb:
	./scripts/test-deb

# The suite under Python 3.9 (the oldest supported) and 3.13, where they are on PATH.
test-pythons: bpf tools
	./scripts/test-pythons

demo: setup bpf
	$(PY) examples/demo.py

# Test tools, cached in vendor/cache/: a tc with iproute2's legacy loader and libbpf 0.3 as a
# reference loader (parity tests), and the other libbpf builds: Debian's binaries of
# vendor/libbpf/manifest and, built here from Debian's sources, those of vendor/libbpf/sources. Without network they are skipped here
# (the tests then skip too, or fail under LIBBPF_PY_REQUIRE_KERNEL=1).
# Under LIBBPF_PY_REQUIRE_KERNEL=1 (CI) a tool that cannot be built fails the run: the matrix
# never shrinks unnoticed.
IGNORE := $(if $(filter 1,$(LIBBPF_PY_REQUIRE_KERNEL)),,-)
tools:
	$(IGNORE)./vendor/iproute2/build-legacy-tc > /dev/null
	$(IGNORE)./vendor/libbpf0/build-reference > /dev/null
	$(IGNORE)./vendor/libbpf/fetch > vendor/cache/libbpf-builds.txt
	$(IGNORE)./vendor/libbpf/build-sources >> vendor/cache/libbpf-builds.txt

# The whole suite, on the system's libbpf and then on every fetched libbpf build, the slow soak
# included (`pytest -m "not slow"` leaves it out). Kernel tests skip (with the reason) when
# unprivileged, and netlink tests when pyroute2 (the netlink extra, which setup installs) is
# missing, unless LIBBPF_PY_REQUIRE_KERNEL=1, which CI sets so that a skip cannot hide a broken
# machine.
test: setup bpf tools
	$(PY) -m pytest tests
	@for lib in $$(cat vendor/cache/libbpf-builds.txt 2>/dev/null); do \
		echo "== the suite on $$lib"; \
		LIBBPF_PY_LIBRARY=$$lib $(PY) -m pytest -q tests || exit 1; \
	done

test-unit: venv bpf
	$(PY) -m pytest tests/unit

# Map operations against native C, the ctypes floor and the peers; whole processes; open+load+close;
# attach+detach pairs.
bench: setup bpf
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/bench_maps.py
	$(PY) bench/bench_startup.py
	$(PY) bench/bench_iproute2.py
	$(PY) bench/bench_attach.py
	$(PY) bench/bench_events.py

lint: venv
	$(PY) -m ruff check libbpf_py tests examples bench scripts

type: venv
	$(PY) -m mypy libbpf_py

# The documentation (docs/): the guide pages and the API reference made from the docstrings, as
# HTML in docs/_build/html. Offline (Sphinx comes with the docs extra, which setup installs), and
# a warning fails the build.
docs: venv
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# Mutation fuzzing of Object.open+load, iproute2.open+load and iproute2.rewrite, each input in a
# forked child, in a private bpffs (root). CI runs the bounded default; the long campaign is
# `make fuzz FUZZ_INPUTS=100000` (figures in docs/reliability.rst).
FUZZ_INPUTS ?= 2000
FUZZ_SEED ?= 0
fuzz: venv bpf
	@mnt=$$(mktemp -d /tmp/libbpf_py-fuzz-XXXXXX); \
	trap 'umount $$mnt 2>/dev/null; rmdir $$mnt' EXIT; trap 'exit 130' INT TERM; \
	mount -t bpf bpf $$mnt || exit 1; status=0; \
	for target in rewrite open iproute2; do \
		$(PY) fuzz/fuzz.py --target $$target --inputs $(FUZZ_INPUTS) --seed $(FUZZ_SEED) --bpffs $$mnt || status=1; \
	done; exit $$status

# What CI runs: lint and type checks, the documentation, the whole suite, a bounded fuzz run.
check: lint type docs test fuzz

clean:
	$(MAKE) -C bpf_progs clean
	rm -rf $(VENV) .pytest_cache docs/_build
