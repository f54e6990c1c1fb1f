"""What kind of BPF object a file descriptor refers to."""

from __future__ import annotations

from typing import Optional

_KIND_KEYS = (("map_type:", "map"), ("prog_type:", "prog"), ("link_type:", "link"))


def fd_kind(fd: int) -> Optional[str]:
    """'map', 'prog' or 'link' for a BPF fd (read from /proc/self/fdinfo), else None."""
    try:
        with open(f"/proc/self/fdinfo/{fd}") as info:
            for line in info:
                for key, kind in _KIND_KEYS:
                    if line.startswith(key):
                        return kind
    except OSError:
        return None
    return None
