"""Pin primitives: replace a pin atomically, remove one quietly, read what one holds."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from .. import _libbpf
from .._checks import c_path
from .._fd import OwnedFd
from ..errors import InvalidValueError
from ..info import map_info

if TYPE_CHECKING:
    from ..maps import Map


TEMPORARY_PREFIX = "__libbpf_py_tmp_"  # bpffs allows no '.' in names: a prefix marks them instead


def temporary_name(path: str) -> str:
    return os.path.join(os.path.dirname(path), f"{TEMPORARY_PREFIX}{os.getpid()}_{os.path.basename(path)[:200]}")


def temporary_owner(name: str) -> Optional[int]:
    """The pid in a temporary pin name, or None when ``name`` is not one."""
    if not name.startswith(TEMPORARY_PREFIX):
        return None
    pid = name[len(TEMPORARY_PREFIX):].split("_", 1)[0]
    return int(pid) if pid.isdigit() else None


def pin_over(fd: int, path: str) -> None:
    """Pin ``fd`` at ``path``, atomically replacing what is there (bpffs supports rename)."""
    temporary = temporary_name(path)
    unlink_quietly(temporary)
    _libbpf.lib().bpf_obj_pin(fd, c_path(temporary))
    try:
        os.rename(temporary, path)
    except BaseException:
        unlink_quietly(temporary)
        raise


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def pinned_map_id(path: str) -> int:
    """The id of the map pinned at ``path``, or -1 when there is none."""
    try:
        pinned = OwnedFd(_libbpf.lib().bpf_obj_get(c_path(path)))
    except OSError:
        return -1
    with pinned:
        try:
            return map_info(pinned.fileno()).id
        except OSError:
            return -1


def live_map_id(m: Map) -> int:
    """The kernel id of a live map, or -2 when it has none (closed, not created)."""
    try:
        return m.info().id
    except (OSError, ValueError):
        return -2


def refuse_shared_paths(destinations: List[Tuple[str, str]]) -> None:
    """Two maps (or a map and a program) sent to one path would silently become one."""
    seen: Dict[str, str] = {}
    for what, path in destinations:
        if path in seen:
            raise InvalidValueError(f"{seen[path]} and {what} would both be pinned at {path}")
        seen[path] = what
