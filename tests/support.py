"""Small helpers shared by the privileged tests (importable because tests/ holds conftest.py)."""

from __future__ import annotations

from pathlib import Path

import libbpf_py as bpf


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
