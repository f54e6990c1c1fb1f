"""The coverage table classifies every libbpf function, names APIs that exist, and is current in
the documentation (source checkouts only: the script and docs/ are not installed)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import libbpf_py as bpf

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "libbpf_coverage.py"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="not a source checkout (scripts/ is not installed)")


def _coverage():
    spec = importlib.util.spec_from_file_location("libbpf_coverage", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_libbpf_function_is_classified_and_the_page_is_current():
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_every_api_the_table_names_exists():
    coverage = _coverage()
    missing = []
    for name in coverage.FUNCTIONS:
        for dotted in coverage.api_names(coverage.classify(name)):
            value = bpf
            try:
                for part in dotted.split("."):
                    value = getattr(value, part)
            except AttributeError:
                missing.append(f"{name}: {dotted}")
    assert not missing, missing
