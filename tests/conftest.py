"""Shared fixtures: where the built BPF objects are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BPF_BUILD = Path(os.environ.get("LIBBPF_PY_BPF_BUILD", ROOT / "bpf_progs" / "build"))


@pytest.fixture(scope="session")
def bpf_obj():
    """Path of a built object in bpf_progs/build (skips when bpf_progs was not built)."""

    def find(name: str) -> Path:
        path = BPF_BUILD / f"{name}.o"
        if not path.exists():
            pytest.skip(f"{path} is not built (run `make -C bpf_progs`)")
        return path

    return find
