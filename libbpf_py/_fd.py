"""File descriptors with one owner, and what kind of BPF object an fd refers to."""

from __future__ import annotations

import errno
import os
import stat
from typing import Any, Optional

from . import _signals
from .errors import InvalidValueError, LibbpfError

_KIND_KEYS = (("map_type:", "map"), ("prog_type:", "prog"), ("link_type:", "link"))
_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def open_path(path: bytes, what: str, function: Optional[str] = None, *, regular: bool = False) -> OwnedFd:
    """``path`` opened read-only, if it is a regular file or (unless ``regular``) a directory, else
    LibbpfError naming ``function``. Opened without blocking: a FIFO would hold the open for ever."""
    try:
        with _signals.deferred():  # (no KeyboardInterrupt between the open and the fd's owner)
            owned = OwnedFd(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
    except OSError as exc:
        raise LibbpfError.for_errno(exc.errno or errno.ENOENT, f"cannot open the {what} {os.fsdecode(path)}: "
                                    f"{exc.strerror}", function) from None
    try:
        _check_kind(os.fstat(owned.fileno()).st_mode, path, what, function, regular)
    except BaseException:
        owned.close()
        raise
    return owned


def read_file(path: bytes, what: str, function: Optional[str] = None, *, limit: int = -1) -> bytes:
    """The contents of the regular file ``path`` (its first ``limit`` bytes), else LibbpfError
    naming ``function``; opened without blocking (a FIFO would hold the open for ever), and
    owned by a file object from the open on (no Python finalizer runs for it)."""
    try:
        with _signals.deferred():
            f = open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb")
    except OSError as exc:
        raise LibbpfError.for_errno(exc.errno or errno.ENOENT, f"cannot open the {what} {os.fsdecode(path)}: "
                                    f"{exc.strerror}", function) from None
    with f:
        _check_kind(os.fstat(f.fileno()).st_mode, path, what, function, True)
        try:
            return f.read(limit)
        except OSError as exc:
            raise LibbpfError.for_errno(exc.errno or errno.EIO, f"cannot read the {what} {os.fsdecode(path)}: "
                                        f"{exc.strerror or exc}", function) from None


_NS_GET_NSTYPE, _CLONE_NEWNET = 0xB703, 0x40000000  # linux/nsfs.h, linux/sched.h


def check_namespace_file(fd: int, shown: str, function: Optional[str] = None) -> None:
    """LibbpfError unless ``fd`` is a network namespace's file (EINVAL, as the kernel's own
    answer, which would not say which argument it means; EBADF for an fd not open)."""
    import fcntl

    try:
        here = os.fstat(fd).st_dev
        try:
            on_nsfs = here == os.stat("/proc/self/ns/net").st_dev  # (no ioctl to a file of another kind)
        except OSError:
            on_nsfs = True  # no /proc (a chroot): the ioctl alone tells
        kind = fcntl.ioctl(fd, _NS_GET_NSTYPE) if on_nsfs else None
    except OSError as exc:
        if exc.errno == errno.EBADF:
            raise LibbpfError.for_errno(errno.EBADF, f"{shown}: {exc.strerror}", function) from None
        kind = None
    if kind != _CLONE_NEWNET:
        raise LibbpfError.for_errno(errno.EINVAL, f"{shown} is no network namespace (a /proc/PID/ns/net or "
                                    "/run/netns/NAME file)", function)


def check_regular(path: bytes, what: str, function: Optional[str] = None) -> None:
    """LibbpfError unless ``path`` is a regular file or missing (the C code it goes to then says
    so): C opens it itself, and would block for ever on a FIFO."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    _check_kind(mode, path, what, function, True)


def _check_kind(mode: int, path: bytes, what: str, function: Optional[str], regular: bool) -> None:
    if stat.S_ISREG(mode) or (stat.S_ISDIR(mode) and not regular):
        return
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "no regular file")
    raise LibbpfError.for_errno(errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL,
                                f"the {what} {os.fsdecode(path)} is {kind}, not a "
                                f"{'regular file' if regular else 'file or a directory'}", function)


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
