"""What maps and programs share: one owner, an object's handle before load, an fd after.

A map or program from an :class:`~libbpf_py.Object` holds libbpf's handle (editable until
load) and, once loaded, an fd that belongs to the object. One opened from a pin, an id or
an fd owns that fd and closes it exactly once: in ``close()``, at the end of a ``with``
block, or through a finalizer kept only as a safety net.
"""

from __future__ import annotations

import _thread
import contextlib
import errno
import os
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Generic,
    Iterator,
    List,
    NoReturn,
    Optional,
    Protocol,
    Type,
    TypeVar,
    Union,
)

from . import _libbpf, _signals
from ._bpffs import not_bpffs_hint
from ._checks import c_path, check_uint
from ._fd import OwnedFd, fd_kind, release_keeping_number
from .errors import ClosedError, InvalidTypeError, InvalidValueError, LibbpfError
from .info import kernel_ids

if TYPE_CHECKING:
    PathLike = Union[str, "os.PathLike[str]"]


class KernelInfo(Protocol):
    """What the kernel reports for a map or program (MapInfo, ProgInfo): at least these."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...


class Owner(Protocol):
    """What a map or program needs of the Object it comes from."""

    _failed: bool

    @property
    def loaded(self) -> bool: ...

    @property
    def btf(self) -> Any: ...  # its BTF's ctypes types (btf_ctypes.Types)

    def _edit(self, kind: str, name: str, setter: str, value: Any) -> None: ...

    _pinning: Any

    def _planned_pin_path(self, m: Any) -> Optional[str]: ...

    def _set_pin_path(self, m: Any, path: Optional[PathLike]) -> None: ...


_Info = TypeVar("_Info", bound=KernelInfo)
_H = TypeVar("_H", bound="BpfHandle[Any]")


class BpfHandle(Generic[_Info]):
    """Base of :class:`~libbpf_py.Map` and :class:`~libbpf_py.Program`."""

    _kind = "object"         # for messages and edits: "map", "program"
    _fd_kind = ""            # what /proc/self/fdinfo says: "map", "prog"
    _skipped = ""            # why an object's item has no fd after load
    _fd_by_id = ""           # libbpf's function from an id to an fd

    # Set by _blank (instances are made there, not by __init__):
    _lib: _libbpf.Libbpf
    _handle: Optional[int]        # libbpf's struct bpf_map / bpf_program while the object is open
    _owner_ref: Optional[weakref.ReferenceType[Any]]  # the Object it came from (weak: no reference cycle)
    _keeper: Optional[object]     # what keeps the fd open: the Object's core, or a standalone fd's _FdKeeper
                                  # (operations in flight hold it, so the fd's number is never reused
                                  # under them); None once a standalone handle is closed
    _item_name: Optional[str]     # the name of this map or program in its object (None: standalone)
    _static: Optional[_Info]      # kernel info of an adopted fd (standalone ones only)
    _fdbox: List[int]             # the fd, in a list that hot-path closures share (-1 once closed)
    _closed: bool
    _pinned_at: Optional[str]
    _lock: _thread.RLock        # held while the fd is in use; close() takes it too

    def __init__(self) -> None:
        raise InvalidTypeError(f"{type(self).__name__} objects come from Object.{self._kind}s or the from_* "
                               "constructors")

    @classmethod
    def _blank(cls: Type[_H]) -> _H:
        self = object.__new__(cls)
        self._lib = _libbpf.lib()
        self._handle = None
        self._owner_ref = None
        self._keeper = None
        self._item_name = None
        self._static = None
        self._fdbox = [-1]
        self._closed = False
        self._pinned_at = None
        self._lock = _thread.RLock()
        _live_handles.add(self)
        return self

    @classmethod
    def _of_object(cls: Type[_H], owner: Owner, core: Any, handle: int, name: str) -> _H:
        self = cls._blank()
        self._owner_ref, self._keeper, self._handle, self._item_name = weakref.ref(owner), core, handle, name
        core.boxes.append(self._fdbox)  # the core sets it to -1 before it frees libbpf's object
        return self

    @property
    def _owner(self) -> Optional[Owner]:
        """The Object this came from, while it exists."""
        ref = self._owner_ref
        return None if ref is None else ref()

    @classmethod
    def _adopt(cls: Type[_H], open_fd: Callable[[], int], function: str) -> _H:
        """Own the fd ``open_fd()`` returns, which must refer to the right kind of BPF object
        (closed here if not); a signal arriving meanwhile cannot leak it."""
        with _signals.deferred() as signals:
            fd = open_fd()
            kind = fd_kind(fd)
            if kind != cls._fd_kind:
                os.close(fd)
                raise LibbpfError.for_errno(errno.EINVAL, f"not a BPF {cls._kind} (a {kind or 'non-BPF'} object)",
                                            function)
            self = cls._blank()
            self._fd = fd
            self._keeper = _FdKeeper(self._fdbox, fd)
            try:
                self._static = self._read_info(fd)
                self._adopted()
                signals.run_noted()
            except BaseException:
                self.close()
                raise
        return self

    @classmethod
    def from_pinned(cls: Type[_H], path: PathLike) -> _H:
        """Open the map or program pinned at ``path`` on bpffs."""
        encoded = c_path(path)

        def get() -> int:
            try:
                return int(_libbpf.lib().bpf_obj_get(encoded))
            except LibbpfError as exc:
                raise _about_path(exc, path, "open the pin") from None

        self = cls._adopt(get, "bpf_obj_get")
        self._pinned_at = os.fspath(path)
        return self

    @classmethod
    def ids(cls) -> List[int]:
        """The ids of every map (or program) in the kernel now, ascending."""
        return kernel_ids(cls._fd_kind)

    @classmethod
    def from_id(cls: Type[_H], kernel_id: int) -> _H:
        """Open a map or program by its kernel id."""
        check_uint(kernel_id, 32, "id")
        return cls._adopt(lambda: int(getattr(_libbpf.lib(), cls._fd_by_id)(kernel_id)), cls._fd_by_id)

    @property
    def _fd(self) -> int:
        return self._fdbox[0]

    @_fd.setter
    def _fd(self, fd: int) -> None:
        self._fdbox[0] = fd

    def _read_info(self, fd: int) -> _Info:
        raise NotImplementedError

    def _adopted(self) -> None:
        """Hook: the handle now owns a live fd."""

    # state -----------------------------------------------------------------------------------

    def _described(self) -> Optional[int]:
        """libbpf's handle for an object's item, None for a standalone one; raises when closed."""
        if self._closed:
            raise ClosedError(f"{self._kind} {self._display_name()} is closed")
        return self._handle

    def _display_name(self) -> str:
        if self._item_name is not None:
            return repr(self._item_name)
        if self._static is not None:
            return repr(self._static.name)
        return "(unnamed)"

    def _edit(self, setter: str, value: Any) -> None:
        if self._described() is None or self._item_name is None:
            raise LibbpfError.for_errno(errno.EBUSY, f"{self._kind} {self._display_name()} is live: its "
                                        "definition can only be changed on an object's map before load()", setter)
        owner = self._owner
        if owner is None:
            if self._fd >= 0:
                raise LibbpfError.for_errno(errno.EBUSY, f"{self._kind} {self._display_name()} is loaded: its "
                                            "definition can only be changed before load()", setter)
            raise ClosedError(f"{self._kind} {self._display_name()} came from an Object that was dropped")
        owner._edit(self._kind, self._item_name, setter, value)

    def _bind(self, fd: int) -> None:
        """Called by the owning object after load: live on ``fd``, or -1 when not loaded."""
        self._fd = fd

    def _invalidate(self) -> None:
        """Called when the owning object closes: waits for an operation in flight on another thread."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        """Forget the fd and libbpf's handle (the caller holds the lock)."""
        self._fd = -1
        self._handle = None
        self._closed = True

    def _reset_after_fork(self) -> None:
        """In a forked child: a lock held by another thread of the parent would never be released."""
        self._lock = _thread.RLock()

    def _in_use_here(self) -> bool:
        """Whether this thread is inside an operation on the fd (a signal handler or hook runs in it)."""
        return bool(self._lock._is_owned())  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def _handle_in_use(self) -> Iterator[Optional[int]]:
        """libbpf's handle (None for a standalone handle), kept valid while the body reads it:
        the owning Object's close() waits for this lock."""
        with self._lock:
            yield self._described()

    @contextlib.contextmanager
    def _fd_in_use(self) -> Iterator[int]:
        """The fd, held open (close() from another thread waits) while the body uses it; a close
        from this thread meanwhile (a signal handler) leaves the number reserved until the end."""
        with self._lock:
            keeper = self._keeper  # held by this frame: the number stays taken while the body runs
            yield self.fd
            del keeper

    def _raise_unusable(self) -> NoReturn:
        self._described()
        name = f"{self._kind} {self._display_name()}"
        owner = self._owner
        if owner is None and self._item_name is not None and self._fd < 0:
            raise ClosedError(f"{name} came from an Object that was dropped before it loaded")
        if owner is not None and owner._failed:
            raise LibbpfError.for_errno(errno.EBADF, f"{name} is unusable: the object's load failed (open it again)")
        if owner is not None and not owner.loaded:
            raise LibbpfError.for_errno(errno.EBADF, f"{name} is not loaded yet: call load()")
        raise LibbpfError.for_errno(errno.EBADF, f"{name} {self._skipped}")

    def as_libbpf(self) -> Optional[int]:
        """libbpf's ``struct bpf_map *`` / ``struct bpf_program *`` as an int (None for a map or
        program opened from a pin, an id or an fd): valid while its Object is open."""
        return self._described()

    @property
    def fd(self) -> int:
        """The file descriptor (owned by this handle or its object: do not close it)."""
        if self._fd < 0:
            self._raise_unusable()
        return self._fd

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close an fd this handle owns: the kernel object is released now; the fd's number
        is closed once no operation in flight (and no closure taken from a map) can pass it.
        An object's maps and programs close with the object."""
        keeper = self._keeper
        if isinstance(keeper, _FdKeeper):
            with _signals.deferred(), self._lock:
                self._drop()
                self._keeper = None
                keeper.retire()
                del keeper  # the last holder closes the number here, signals still deferred

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # pins ------------------------------------------------------------------------------------

    @property
    def pin_path(self) -> Optional[str]:
        """Where this is known to be pinned (opened from, or pinned by this process)."""
        self._described()
        return self._pinned_at

    def pin(self, path: PathLike) -> None:
        """Pin the live map or program at ``path`` on bpffs."""
        try:
            with self._fd_in_use() as fd:
                self._lib.bpf_obj_pin(fd, c_path(path))
        except LibbpfError as exc:
            raise _about_path(exc, path, "pin") from None
        self._pinned_at = os.fspath(path)

    def unpin(self, path: Optional[PathLike] = None) -> None:
        """Remove the pin at ``path`` (default: ``pin_path``), which must hold this very object."""
        target = self.pin_path if path is None else os.fspath(path)
        if target is None:
            raise InvalidValueError(f"this {self._kind} has no known pin; pass the path")
        with self._fd_in_use() as fd:
            mine = self._read_info(fd).id
        unlink_own_pin(target, mine, self._fd_kind, self._read_info, self._kind)
        if target == self._pinned_at:
            self._pinned_at = None


def unlink_own_pin(target: str, own_id: int, fd_kind_name: str, read_info: Callable[[int], Any], what: str) -> None:
    """Remove the pin at ``target`` only when it holds the BPF ``fd_kind_name`` of id ``own_id``
    (EINVAL otherwise: another object's pin is never removed, nor a symlink someone made to it)."""
    if os.path.islink(target):
        raise LibbpfError.for_errno(errno.EINVAL, f"{target} is a symlink, not a pin; not removed")
    with OwnedFd(_libbpf.lib().bpf_obj_get(c_path(target))) as other:  # only BPF pins open
        theirs = read_info(other.fileno()).id if fd_kind(other.fileno()) == fd_kind_name else None
    if theirs != own_id:
        raise LibbpfError.for_errno(errno.EINVAL, f"{target} does not hold this {what}; not removed")
    os.unlink(target)


def _close_fd(box: List[int], fd: int) -> None:
    """The keeper's finalizer (it may run at any collection: a signal meanwhile is raised after)."""
    with _signals.deferred(in_finalizer=True):
        box[0] = -1  # operations that still hold the box see a closed handle, never a reused number
        os.close(fd)


class _FdKeeper:
    """A standalone fd, shared through ``box`` (-1 once closed). Whatever may pass its number
    to C holds the keeper: the handle, an operation in flight, a closure taken from a map.
    ``retire()`` releases the kernel object at once (the handle's close); the number itself is
    closed when the last holder goes, so it is never reused under one of them."""

    __slots__ = ("box", "fd", "retired", "close", "__weakref__")

    def __init__(self, box: List[int], fd: int):
        self.box, self.fd, self.retired = box, fd, False
        self.close = weakref.finalize(self, _close_fd, box, fd)

    @classmethod
    def duplicate(cls, fd: int) -> "_FdKeeper":
        """A keeper of its own for a copy of ``fd`` (an fd this process does not own, e.g. libbpf's)."""
        copy = os.dup(fd)
        return cls([copy], copy)

    def retire(self) -> None:
        """Say closed (box -1) and release the kernel object, keeping the number (see
        ``release_keeping_number``; when that fails, the object is released with the number)."""
        if not self.retired:
            self.retired = True
            self.box[0] = -1
            release_keeping_number(self.fd)


_live_handles: weakref.WeakSet[BpfHandle[Any]] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for handle in list(_live_handles):
        handle._reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def definition(getter: str, setter: Optional[str] = None, *, live: Callable[[Any], Any],
               convert: Optional[Callable[[Any], Any]] = None, check: Optional[Callable[[Any], Any]] = None,
               doc: str = "") -> property:
    """An attribute of a map or program: for an object's, read from libbpf's description with
    ``getter`` (and, with ``setter``, editable before load, each value passed through ``check``);
    for a standalone one, ``live(kernel_info)``."""

    def fget(self: BpfHandle[Any]) -> Any:
        with self._handle_in_use() as handle:
            if handle is None:
                return live(self._static)
            value = getattr(self._lib, getter)(handle)
        return value if convert is None else convert(value)

    def fset(self: BpfHandle[Any], value: Any) -> None:
        assert setter is not None  # the property has no setter otherwise
        self._edit(setter, value if check is None else check(value))

    return property(fget, fset if setter else None, doc=doc)


def _about_path(exc: LibbpfError, path: PathLike, action: str) -> LibbpfError:
    """``exc`` naming the path, and saying so when the path is not on bpffs."""
    return exc.with_detail(f"cannot {action} at {os.fspath(path)}: {exc.detail}{not_bpffs_hint(path)}")
