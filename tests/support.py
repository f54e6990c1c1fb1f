"""Small helpers shared by the privileged tests (importable because tests/ holds conftest.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import libbpf_py as bpf

BAD = Path(__file__).resolve().parent / "data" / "bad"  # the corpus of malformed objects
BAD_EXPECTED = json.loads((BAD / "expected.json").read_text())


def load(src, opener=None, **options):
    """Open and load an object; on failure close it before re-raising (no fd outlives a test)."""
    obj = (opener or bpf.Object.open)(src, **options)
    try:
        obj.load()
    except BaseException:
        obj.close()
        raise
    return obj


def pinned_map_id(path) -> int:
    with bpf.Map.from_pinned(path) as m:
        return m.info().id


def pin_tree(root: Path) -> set:
    """Every entry below a bpffs mount, relative, without the kernel's own debug files."""
    return {str(p.relative_to(root)) for p in Path(root).rglob("*")} - {"maps.debug", "progs.debug"}


def check_bad_object(name: str) -> None:
    """Run a corpus case through its entry point; it raises what expected.json says."""
    case = BAD_EXPECTED[name]
    data = (BAD / f"{name}.o").read_bytes()

    def run() -> None:
        if case["entry"] == "rewrite":
            bpf.iproute2.rewrite(data)
        elif case["entry"] == "open":
            with bpf.Object.open(data, check_btf=True):
                pass
        else:
            with bpf.Object.open(data, pinning=bpf.PinPolicy()) as obj:
                obj.load()

    if case["raises"] == "ok":
        run()
        return
    with pytest.raises(Exception) as exc:
        run()
    assert type(exc.value).__name__.split("[")[0] == case["raises"], repr(exc.value)
    assert re.search(case["match"], str(exc.value)), str(exc.value)
