"""The package's metadata points at no other project: it has no public home of its own yet, so
it has no URLs at all (a link to libbpf or iproute2 would read as this project's home)."""

from __future__ import annotations

import re
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def tables(text: str) -> list:
    return re.findall(r"^\[([^\]]+)\]\s*$", text, flags=re.MULTILINE)


def test_pyproject_has_no_urls_table_and_no_url():
    text = PYPROJECT.read_text()
    assert "project.urls" not in tables(text)
    assert not re.search(r"https?://", text), "pyproject.toml must not point at another project"
