"""Facts about the BPF filesystem: is a path on one, where is its mount, mounting one, and
the per-mount lock that serialises loads which pin there."""

from __future__ import annotations

import _thread
import ctypes
import errno
import os
import stat
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Tuple, Union

from . import _log
from ._checks import c_path
from ._libbpf import libc
from .errors import LibbpfError

if TYPE_CHECKING:
    PathLike = Union[str, "os.PathLike[str]"]


log = _log.Logger("libbpf_py.pinning")

BPF_FS_MAGIC = 0xCAFE4A11
MOUNT_HINT = "mount -t bpf bpf /sys/fs/bpf"
KERNEL_FILES = frozenset({"maps.debug", "progs.debug"})  # what a new bpffs instance holds
_STATFS_SIZE = 256  # struct statfs is 120 bytes on 64-bit Linux; f_type comes first
_MNT_DETACH, _UMOUNT_NOFOLLOW = 2, 8


def filesystem_type(path: PathLike) -> int:
    """statfs(2) f_type of ``path`` (OSError when it cannot be read)."""
    buf = ctypes.create_string_buffer(_STATFS_SIZE)
    libc().statfs(c_path(path), buf)
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


def is_bpffs(path: PathLike) -> bool:
    try:
        return filesystem_type(path) == BPF_FS_MAGIC
    except OSError:
        return False


def missing_dirs(path: str) -> Tuple[List[str], str]:
    """(the directories of ``path`` that do not exist, outermost first; the nearest that does)."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing[::-1], path


def existing_ancestor(path: str) -> str:
    return missing_dirs(path)[1]


def mount_point(path: str) -> str:
    """The mount point of the filesystem holding ``path`` (or its nearest existing ancestor)."""
    path = os.path.realpath(existing_ancestor(path))
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def not_bpffs_hint(path: PathLike) -> str:
    """'; DIR is not on a BPF filesystem (...)' when the directory of ``path`` exists off bpffs, else ''."""
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(directory) or is_bpffs(directory):
        return ""
    return f"; {directory} is not on a BPF filesystem (`{MOUNT_HINT}`)"


def check_root(root: PathLike, *, mount: bool = False) -> str:
    """The absolute pin root, after checking it is (or, with ``mount``, will be) a directory on bpffs."""
    root = os.path.abspath(os.fsdecode(c_path(root, "pin root")))  # (a NUL byte, or no path at all: refused)
    if os.path.islink(root) and not os.path.exists(root):
        raise LibbpfError.for_errno(errno.ENOENT, f"pin root {root} is a symbolic link to {os.readlink(root)}, "
                                    "which does not exist")
    if os.path.exists(root) and not os.path.isdir(root):
        raise LibbpfError.for_errno(errno.ENOTDIR, f"pin root {root} exists and is not a directory (a pinned "
                                    "map or program?)")
    if not is_bpffs(existing_ancestor(root)) and not mount:
        raise LibbpfError.for_errno(
            errno.EINVAL, f"pin root {root} is not on a BPF filesystem (bpffs); mount one with "
            f"`{MOUNT_HINT}` (or `mount -t bpf bpf {root}`), or pass mount=True", "statfs")
    return root


def _untrusted_dir(st: os.stat_result) -> Optional[str]:
    """Why a directory could let another user move what is made in it, or None."""
    if st.st_uid not in (0, os.geteuid()):
        return f"is a directory of uid {st.st_uid}: its owner could move the pins made there"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        return "is a directory others may write without the sticky bit: they could move the pins made there"
    return None


def check_trusted(path: str) -> None:
    """Refuse a path that another user could redirect (bpffs is often mode 1777): every directory
    and symbolic link on the way, from ``/``, must belong to root or to this process's user, and
    no directory may be writable by others without the sticky bit; links are followed only then,
    component by component (``..`` as the kernel resolves it). The last component (a pin) may be
    anyone's. What does not exist yet is made by the load, and checked again then (``make_dir``)."""
    parts = (path if os.path.isabs(path) else os.path.join(os.getcwd(), path)).split(os.sep)
    current, hops = os.sep, 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            return  # what is missing will be made by this load, as this user (or refused then)
        if stat.S_ISLNK(st.st_mode):
            if st.st_uid not in (0, os.geteuid()):
                raise LibbpfError.for_errno(errno.EPERM, f"{candidate} is a symbolic link of uid {st.st_uid}: a "
                                            "pin path must not pass through another user's link")
            hops += 1
            if hops > 40:
                raise LibbpfError.for_errno(errno.ELOOP, f"too many symbolic links under {path}")
            target = os.readlink(candidate)
            if os.path.isabs(target):
                current = os.sep
            parts = target.split(os.sep) + parts
            continue
        why = _untrusted_dir(st) if stat.S_ISDIR(st.st_mode) and any(p not in ("", ".") for p in parts) else None
        if why:
            raise LibbpfError.for_errno(errno.EPERM, f"{candidate} {why}")
        current = candidate


def make_dir(path: str) -> bool:
    """``mkdir`` (mode 0700) of one trusted directory: True when this call made it. An entry that
    appears there meanwhile must be a real directory passing :func:`check_trusted`'s rules."""
    try:
        os.mkdir(path, 0o700)
        return True
    except FileExistsError:
        pass
    check_trusted(os.path.join(path, "x"))  # the entry, and where a trusted link leads
    if not os.path.isdir(path):
        raise LibbpfError.for_errno(errno.EEXIST, f"{path} is taken by something that is not a directory (a "
                                    "pinned map or program?)")
    return False


def mount_bpffs(path: str) -> None:
    """Mount a bpffs instance on the directory ``path``, as iproute2 does when none is found."""
    try:
        libc().mount(b"bpf", c_path(path), b"bpf", 0, b"mode=0700")
    except OSError as exc:
        raise LibbpfError.for_errno(exc.errno or errno.EIO, f"cannot mount bpffs on {path}: {exc.strerror}",
                                    "mount") from None
    log.info("mounted bpffs on %s", path)


def unmount(path: str, lazy: bool = False) -> None:
    """Unmount ``path``; a failure is logged, not raised (this only ever undoes our own mount)."""
    try:
        libc().umount2(c_path(path), (_MNT_DETACH if lazy else 0) | _UMOUNT_NOFOLLOW)  # never through a link
    except OSError as exc:
        log.warning("could not unmount %s: %s", path, exc.strerror)


def holds_only_kernel_files(mount: str) -> bool:
    """Whether a bpffs mount is as the kernel made it (only maps.debug, progs.debug)."""
    try:
        return set(os.listdir(mount)) <= KERNEL_FILES
    except OSError:
        return False


class MountLock:
    """One flock of a mount point per process, shared by its threads and re-entrant for the
    thread that holds it (a load started from an after-load hook must not wait for itself).
    Forked children start without any: the parent's become inert in the child (they must not
    keep the parent's flock alive, nor close an fd number the child has reused since)."""

    _registry: Dict[str, MountLock] = {}
    _registry_lock = _thread.allocate_lock()

    def __init__(self, path: str):
        self.path = path
        self.thread_lock = _thread.RLock()
        self.fd: Optional[int] = None
        self.depth = 0
        self.inert = False

    @classmethod
    def at(cls, point: str) -> MountLock:
        """The lock of the mount point ``point``."""
        with cls._registry_lock:
            return cls._registry.setdefault(point, cls(point))

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock (FileNotFoundError when the mount point is gone meanwhile); without
        ``blocking``, False when another thread or process holds it."""
        if not self.thread_lock.acquire(blocking):
            return False
        try:
            if self.depth == 0:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    import fcntl  # here: most processes never lock a mount (~0.2 ms to import)
                    fcntl.flock(self.fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BaseException as exc:
                    fd, self.fd = self.fd, None
                    os.close(fd)
                    if isinstance(exc, BlockingIOError):
                        self.thread_lock.release()
                        return False
                    raise
            self.depth += 1
        except BaseException:
            self.thread_lock.release()
            raise
        return True

    def owned(self) -> bool:
        """Whether the calling thread holds this lock."""
        return self.depth > 0 and self.thread_lock._is_owned()  # type: ignore[attr-defined]

    def same_mount(self) -> bool:
        """Whether the held fd is on the filesystem mounted at ``path`` now (not one unmounted meanwhile)."""
        try:
            return self.fd is not None and os.fstat(self.fd).st_dev == os.stat(self.path).st_dev
        except OSError:
            return False

    def release(self) -> None:
        if self.inert:
            return
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing releases the flock
        self.thread_lock.release()

    @classmethod
    def forget_in_child(cls) -> None:
        for lock in cls._registry.values():
            if lock.fd is not None:
                os.close(lock.fd)
            lock.fd, lock.depth, lock.inert = None, 0, True
        cls._registry = {}
        cls._registry_lock = _thread.allocate_lock()


os.register_at_fork(after_in_child=MountLock.forget_in_child)


def lock_mounts(paths: Iterable[str], attempts: int = 16) -> List[MountLock]:
    """Hold the lock of every mount that holds one of ``paths``, the caller releasing each.

    Locks are taken in one global order (sorted mount points), so two loaders never wait for
    each other; a mount that changed while we waited (another loader's rollback unmounted it,
    maybe mounting another there) is resolved again. A load nested in another (from a hook)
    that would take a lock out of that order only tries it: EDEADLK rather than a deadlock.
    """
    paths = list(paths)
    for _ in range(attempts):
        points = sorted({mount_point(p) for p in paths})
        mine = [lock.path for lock in list(MountLock._registry.values()) if lock.owned()]
        held: List[MountLock] = []
        try:
            for point in points:
                lock = MountLock.at(point)
                out_of_order = not lock.owned() and any(other > point for other in mine)
                if not lock.acquire(blocking=not out_of_order):
                    raise LibbpfError.for_errno(
                        errno.EDEADLK, f"a load started inside another (from a hook) needs the lock of {point} while "
                        f"holding that of {max(mine)}, which another loader may want in the other order", "flock")
                held.append(lock)
            if sorted({mount_point(p) for p in paths}) == points and all(lock.same_mount() for lock in held):
                return held
        except FileNotFoundError:
            pass  # the mount point went away while we waited
        except BaseException:
            release_all(held)
            raise
        release_all(held)
    raise LibbpfError.for_errno(errno.EAGAIN, f"the mounts holding {', '.join(paths)} kept changing")


def release_all(locks: List[MountLock]) -> None:
    while locks:
        locks.pop().release()
