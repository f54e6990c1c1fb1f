"""File descriptors with one owner, and what kind of BPF object an fd refers to."""

from __future__ import annotations

import os
from typing import Any, Optional

from .errors import InvalidValueError

_KIND_KEYS = (("map_type:", "map"), ("prog_type:", "prog"), ("link_type:", "link"))


def fd_kind(fd: int) -> Optional[str]:
    """'map', 'prog' or 'link' for a BPF fd (read from /proc/self/fdinfo), else None (also when
    ``fd`` is not open); OSError when fdinfo cannot be read (e.g. EMFILE: no fd left to read it)."""
    try:
        with open(f"/proc/self/fdinfo/{fd}") as info:
            for line in info:
                for key, kind in _KIND_KEYS:
                    if line.startswith(key):
                        return kind
    except FileNotFoundError:
        return None
    return None


def release_keeping_number(fd: int) -> bool:
    """Release the file ``fd`` refers to (the kernel object) but keep its number taken, by
    pointing it at a placeholder (an ``O_PATH`` descriptor of ``/``, on which every BPF command
    fails with EBADF): code that read the number before may still pass it, and must never reach
    a file that reuses it. The number itself is closed later, when nothing can pass it any more.
    False when no placeholder could be opened (EMFILE): ``fd`` is then left as it is."""
    try:
        placeholder = os.open("/", os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.dup2(placeholder, fd, inheritable=False)  # atomic: the number never refers to nothing
    finally:
        os.close(placeholder)
    return True


class OwnedFd:
    """An fd closed exactly once: by ``close()``, the end of a ``with`` block, or collection
    (a safety net) — unless ``disown()`` handed it over first."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int):
        if fd < 0:
            raise InvalidValueError(f"not a file descriptor: {fd}")
        self._fd = fd

    def fileno(self) -> int:
        if self._fd < 0:
            raise InvalidValueError("the fd is closed or was handed over")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def disown(self) -> int:
        """The fd, which the caller now owns (this object will not close it)."""
        fd = self.fileno()
        self._fd = -1
        return fd

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> OwnedFd:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<OwnedFd {self._fd if self._fd >= 0 else 'closed'}>"
