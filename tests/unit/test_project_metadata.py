"""The package's metadata points at no other project: it has no public home of its own yet, so
it has no URLs at all (a link to libbpf or iproute2 would read as this project's home)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def tables(text: str) -> list:
    return re.findall(r"^\[([^\]]+)\]\s*$", text, flags=re.MULTILINE)


def test_pyproject_has_no_urls_table_and_no_url():
    text = PYPROJECT.read_text()
    assert "project.urls" not in tables(text)
    assert not re.search(r"https?://", text), "pyproject.toml must not point at another project"


ROOT = PYPROJECT.parent


def test_the_soak_is_marked_slow_and_make_test_still_runs_it():
    import subprocess
    import sys

    soak = "tests/kernel/test_soak.py"
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m",
                           "slow", soak], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "test_thousands_of_cycles" in done.stdout, done.stdout + done.stderr
    if not (ROOT / "Makefile").exists():
        pytest.skip("no Makefile here: the suite runs from a copy of the tests (the installed-package run)")
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert recipe and "pytest tests" in recipe.group(1)
    assert not re.search(r"pytest\b[^\n]*\s-m\s", recipe.group(1)), "make test must not deselect by marker"
