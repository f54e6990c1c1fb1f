"""What maps and programs share: a public handle whose lifecycle is a state of its own type.

A map or program is in one of four states, each a small class the handle delegates to, so no
method of the handle asks which state it is in:

- :class:`Definition`: an item of an unloaded object, described by libbpf (readable, editable
  through its object, which it reaches only through the narrow :class:`ObjectSide`);
- :class:`InObject`: live after its object's load, on the object's fd (borrowed), libbpf's
  description still readable;
- :class:`Standalone`: live on an fd of its own (from a pin, an id, an fd, or created), closed
  exactly once: in ``close()``, at the end of a ``with`` block, or by a finalizer kept only as a
  safety net;
- :class:`Gone`: closed, or never made live (not created, not loaded, its load failed), with the
  reason any use raises.

The fd itself lives in a one-item list (the box) that hot-path closures share: -1 once gone.
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
from .errors import ClosedError, Error, InvalidTypeError, InvalidValueError, LibbpfError
from .info import kernel_ids

if TYPE_CHECKING:  # (the protocols and type variables exist for the type checker only)
    PathLike = Union[str, "os.PathLike[str]"]

    class KernelInfo(Protocol):
        """What the kernel reports for a map or program (MapInfo, ProgInfo): at least these."""

        @property
        def id(self) -> int: ...

        @property
        def name(self) -> str: ...


    class ObjectSide(Protocol):
        """What an unloaded object's map or program asks of its object: its edits, its pins, why it
        has no fd yet and its BTF (the Object's own state stays its own)."""

        def edit(self, kind: str, name: str, setter: str, value: Any) -> None: ...

        def planned_pin_path(self, kind: str, name: str) -> Optional[str]: ...

        def set_pin_path(self, kind: str, name: str, path: Optional[PathLike]) -> None: ...

        def not_live(self, what: str) -> Error: ...

        @property
        def btf(self) -> Any: ...


    _H = TypeVar("_H", bound="BpfHandle")


# the states ---------------------------------------------------------------------------------

class State:
    """How a map or program answers while in this state (the handle passes itself as ``item``)."""

    __slots__ = ()
    keeper: Optional[object] = None  # what keeps the fd's number taken while an operation passes it
    of_object = False                # an object's item: it closes with its object
    closed = False

    def name(self, item: BpfHandle) -> Optional[str]:
        raise NotImplementedError

    def libbpf_handle(self, item: BpfHandle) -> Optional[int]:
        """libbpf's ``struct bpf_map *`` / ``struct bpf_program *``, None for a standalone one."""
        raise NotImplementedError

    def read(self, item: BpfHandle, described: Callable[[int], Any], live: Callable[[Any], Any]) -> Any:
        """An attribute: ``described(libbpf's handle)`` for an object's item, ``live(kernel info)``
        for a standalone one."""
        raise NotImplementedError

    def own_keeper(self) -> Optional[_FdKeeper]:
        """The keeper of an fd this handle owns (None: the fd is its object's)."""
        return None

    def edit(self, item: BpfHandle, setter: str, value: Any) -> None:
        raise LibbpfError.for_errno(errno.EBUSY, f"{item._kind} {item._display_name()} is live: its definition can "
                                    "only be changed on an object's map before load()", setter)

    def side(self) -> Optional[ObjectSide]:
        """The object it belongs to, while it exists (None: standalone, or dropped)."""
        return None

    def set_pin_path(self, item: BpfHandle, path: Optional[PathLike]) -> None:
        self.edit(item, "bpf_map__set_pin_path", path)  # refused but before load: a live map is pinned with pin()

    def pin_path(self, item: BpfHandle) -> Optional[str]:
        return item._pinned_at

    def bound(self, missing: Optional[str]) -> State:
        """The state its object's load leaves it in (``missing``: why it has no fd)."""
        raise AssertionError("only an unloaded object's item is bound, at its object's load")

    def no_fd(self, item: BpfHandle) -> NoReturn:
        """Raise why there is no fd."""
        raise ClosedError(f"{item._kind} {item._display_name()} is closed")

    def close(self, item: BpfHandle) -> None:
        if self.of_object:
            raise InvalidTypeError(f"{item._kind} {item._display_name()} belongs to its Object and closes with it "
                                   f"(obj.close()); {item._own_handle_hint} gives a handle of its own")


class Definition(State):
    """An item of an unloaded object."""

    __slots__ = ("_side", "core", "handle", "item_name")
    of_object = True

    def __init__(self, side: weakref.ReferenceType[ObjectSide], core: object, handle: int, name: str):
        self._side = side  # (weak: the object holds its items)
        self.core = core  # keeps libbpf's object (and so ``handle``) while this item exists
        self.handle = handle
        self.item_name = name

    @property
    def keeper(self) -> object:  # type: ignore[override]
        return self.core

    def name(self, item: BpfHandle) -> str:
        return self.item_name

    def libbpf_handle(self, item: BpfHandle) -> Optional[int]:
        return self.handle

    def read(self, item: BpfHandle, described: Callable[[int], Any], live: Callable[[Any], Any]) -> Any:
        return described(self.handle)

    def side(self) -> Optional[ObjectSide]:
        return self._side()

    def _live_side(self, item: BpfHandle) -> ObjectSide:
        side = self.side()
        if side is None:
            raise ClosedError(f"{item._kind} {item._display_name()} came from an Object that was dropped")
        return side

    def edit(self, item: BpfHandle, setter: str, value: Any) -> None:
        self._live_side(item).edit(item._kind, self.item_name, setter, value)

    def set_pin_path(self, item: BpfHandle, path: Optional[PathLike]) -> None:
        self._live_side(item).set_pin_path(item._kind, self.item_name, path)

    def pin_path(self, item: BpfHandle) -> Optional[str]:
        side = self.side()
        if item._pinned_at is not None or side is None:
            return item._pinned_at
        return side.planned_pin_path(item._kind, self.item_name)

    def bound(self, missing: Optional[str]) -> State:
        return InObject(self._side, self.core, self.handle, self.item_name, missing)

    def no_fd(self, item: BpfHandle) -> NoReturn:
        side = self.side()
        if side is None:
            raise ClosedError(f"{item._kind} {item._display_name()} came from an Object that was dropped before it "
                              "loaded")
        raise side.not_live(f"{item._kind} {item._display_name()}")


class InObject(Definition):
    """An item of a loaded object: live on the object's fd (borrowed), or, when ``missing`` says
    why, without one (not created, not loaded, its load failed); libbpf's description stays
    readable while the object is open."""

    __slots__ = ("missing",)

    def __init__(self, side: weakref.ReferenceType[ObjectSide], core: object, handle: int, name: str,
                 missing: Optional[str] = None):
        self._side, self.core, self.handle, self.item_name, self.missing = side, core, handle, name, missing

    def edit(self, item: BpfHandle, setter: str, value: Any) -> None:
        raise LibbpfError.for_errno(errno.EBUSY, f"{item._kind} {item._display_name()} "
                                    f"{self.missing or 'is loaded'}: its definition can only be changed before its "
                                    "object's load()", setter)

    def set_pin_path(self, item: BpfHandle, path: Optional[PathLike]) -> None:
        self.edit(item, "bpf_map__set_pin_path", path)

    def bound(self, missing: Optional[str]) -> State:
        return super().bound(missing)  # (a failed load unbinds what it bound: the same, without an fd)

    def no_fd(self, item: BpfHandle) -> NoReturn:
        if self.missing is None:  # it had one: its object's libbpf state was freed (the process is ending)
            raise ClosedError(f"{item._kind} {item._display_name()} is closed")
        raise LibbpfError.for_errno(errno.EBADF, f"{item._kind} {item._display_name()} {self.missing}")


class Standalone(State):
    """A live map or program on an fd of its own."""

    __slots__ = ("keeper", "info")
    keeper: _FdKeeper

    def __init__(self, keeper: _FdKeeper):
        self.keeper = keeper
        self.info: Any = None  # what the kernel reported when it was opened (set once read)

    def name(self, item: BpfHandle) -> Optional[str]:
        return None if self.info is None else str(self.info.name)

    def libbpf_handle(self, item: BpfHandle) -> Optional[int]:
        return None

    def read(self, item: BpfHandle, described: Callable[[int], Any], live: Callable[[Any], Any]) -> Any:
        return live(self.info)

    def own_keeper(self) -> Optional[_FdKeeper]:
        return self.keeper

    def close(self, item: BpfHandle) -> None:
        keeper = self.keeper
        with _signals.deferred(), item._lock:
            item._drop(Gone(self.name(item), of_object=False))
            keeper.retire()
            del keeper  # the last holder closes the number here, signals still deferred


class Gone(State):
    """Closed (by itself, or with its object): every use raises ClosedError."""

    __slots__ = ("item_name", "of_object")
    closed = True

    def __init__(self, name: Optional[str], of_object: bool):
        self.item_name, self.of_object = name, of_object

    def _raise(self, item: BpfHandle) -> NoReturn:
        raise ClosedError(f"{item._kind} {item._display_name()} is closed")

    def name(self, item: BpfHandle) -> Optional[str]:
        return self.item_name

    def libbpf_handle(self, item: BpfHandle) -> Optional[int]:
        self._raise(item)

    def read(self, item: BpfHandle, described: Callable[[int], Any], live: Callable[[Any], Any]) -> Any:
        self._raise(item)

    def edit(self, item: BpfHandle, setter: str, value: Any) -> None:
        self._raise(item)

    def no_fd(self, item: BpfHandle) -> NoReturn:
        self._raise(item)


# the handle ---------------------------------------------------------------------------------

class BpfHandle:
    """Base of :class:`~libbpf_py.Map` and :class:`~libbpf_py.Program`: the public handle, whose
    state (above) answers for it."""

    _kind = "object"         # for messages and edits: "map", "program"
    _fd_kind = ""            # what /proc/self/fdinfo says: "map", "prog"
    _fd_by_id = ""           # libbpf's function from an id to an fd
    _own_handle_hint = ""    # how to get a handle of its own, for messages

    # Set by _blank (instances are made there, not by __init__):
    _lib: _libbpf.Libbpf
    _state: State
    _fdbox: List[int]             # the fd, in a list that hot-path closures share (-1 once gone)
    _pinned_at: Optional[str]
    _lock: _thread.RLock          # held while the fd is in use; close() takes it too

    def __init__(self) -> None:
        raise InvalidTypeError(f"{type(self).__name__} objects come from Object.{self._kind}s or the from_* "
                               "constructors")

    @classmethod
    def _blank(cls: Type[_H], state: State) -> _H:
        self = object.__new__(cls)
        self._lib = _libbpf.lib()
        self._state = state
        self._fdbox = [-1]
        self._pinned_at = None
        self._lock = _thread.RLock()
        _live_handles.add(self)
        return self

    @classmethod
    def _of_object(cls: Type[_H], side: ObjectSide, core: Any, handle: int, name: str) -> _H:
        self = cls._blank(Definition(weakref.ref(side), core, handle, name))
        core.boxes.append(self._fdbox)  # the core sets it to -1 before it frees libbpf's object
        return self

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
            self = cls._blank(Gone(None, of_object=False))
            self._fdbox[0] = fd
            state = self._state = Standalone(_FdKeeper(self._fdbox, fd))
            try:
                state.info = self._read_info(fd)
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

    def _read_info(self, fd: int) -> Any:
        raise NotImplementedError

    def _adopted(self) -> None:
        """Hook: the handle now owns a live fd."""

    # state -----------------------------------------------------------------------------------

    def _read(self, described: Callable[[int], Any], live: Callable[[Any], Any]) -> Any:
        """What the state answers (see :meth:`State.read`), with the lock held: an Object's close
        waits, so libbpf's description stays valid while ``described`` reads it."""
        with self._lock:
            return self._state.read(self, described, live)

    def _described(self) -> Optional[int]:
        """libbpf's handle for an object's item, None for a standalone one; raises when closed."""
        return self._state.libbpf_handle(self)

    def _display_name(self) -> str:
        name = self._state.name(self)
        return "(unnamed)" if name is None else repr(name)

    def _edit(self, setter: str, value: Any) -> None:
        self._state.edit(self, setter, value)

    def _bind(self, fd: int, missing: str) -> None:
        """Called by the owning object at load: live on ``fd``, or -1 (``missing`` says why)."""
        self._state = self._state.bound(None if fd >= 0 else missing)
        self._fdbox[0] = fd

    def _invalidate(self) -> None:
        """Called when the owning object closes: waits for an operation in flight on another thread."""
        with self._lock:
            self._drop(Gone(self._state.name(self), of_object=True))

    def _drop(self, state: State) -> None:
        """Forget the fd (the caller holds the lock)."""
        self._fdbox[0] = -1
        self._state = state

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
            keeper = self._state.keeper  # held by this frame: the number stays taken while the body runs
            yield self.fd
            del keeper

    def _raise_unusable(self) -> NoReturn:
        self._state.no_fd(self)

    def as_libbpf(self) -> Optional[int]:
        """libbpf's ``struct bpf_map *`` / ``struct bpf_program *`` as an int (None for a map or
        program opened from a pin, an id or an fd): valid while its Object is open."""
        return self._described()

    @property
    def fd(self) -> int:
        """The file descriptor (owned by this handle or its object: do not close it)."""
        fd = self._fdbox[0]
        if fd < 0:
            self._state.no_fd(self)
        return fd

    @property
    def closed(self) -> bool:
        return self._state.closed

    def close(self) -> None:
        """Close an fd this handle owns: the kernel object is released now; the fd's number is
        closed once no operation in flight (and no closure taken from a map) can pass it. An
        object's map or program closes with its object: closing it alone raises TypeError
        (open a handle of its own: ``Map.from_fd(m.fd)``, ``Program.from_id(p.info().id)``)."""
        self._state.close(self)

    def __enter__(self: _H) -> _H:
        if self._state.of_object:
            raise InvalidTypeError(f"{self._kind} {self._display_name()} belongs to its Object: `with` the Object, "
                                   f"not its {self._kind}")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # pins ------------------------------------------------------------------------------------

    @property
    def pin_path(self) -> Optional[str]:
        """Where this is pinned (opened from, or pinned by this process), or for an object's
        item, where its load will pin it or pinned it."""
        with self._lock:
            state = self._state
            state.libbpf_handle(self)  # (raises once closed)
        return state.pin_path(self)  # (a pin policy's code runs without the lock)

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


_live_handles: weakref.WeakSet[BpfHandle] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for handle in list(_live_handles):
        handle._reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def definition(getter: str, setter: Optional[str] = None, *, live: Callable[[Any], Any],
               convert: Optional[Callable[[Any], Any]] = None, check: Optional[Callable[[Any], Any]] = None,
               doc: str = "") -> property:
    """An attribute of a map or program: read by its state (libbpf's ``getter`` on an object's
    item, ``live(kernel_info)`` on a standalone one) and, with ``setter``, editable before its
    object loads (each value passed through ``check``)."""

    def fget(self: BpfHandle) -> Any:
        value = self._read(lambda handle: getattr(self._lib, getter)(handle), live)
        return value if convert is None else convert(value)

    def fset(self: BpfHandle, value: Any) -> None:
        assert setter is not None  # the property has no setter otherwise
        self._edit(setter, value if check is None else check(value))

    return property(fget, fset if setter else None, doc=doc)


def _about_path(exc: LibbpfError, path: PathLike, action: str) -> LibbpfError:
    """``exc`` naming the path, and saying so when the path is not on bpffs."""
    return exc.with_detail(f"cannot {action} at {os.fspath(path)}: {exc.detail}{not_bpffs_hint(path)}")
