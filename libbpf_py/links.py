"""Links: a program attached to a hook for as long as its :class:`Link` (or a pin of it) lives.

A Link comes from one of ``Program.attach*`` or from :meth:`Link.from_pinned`. It owns its
attachment: ``detach()`` ends it now; ``close()`` (or the end of a ``with`` block) releases the
handle, which ends an attachment nothing else holds, while a pinned link stays attached (also
after the process exits). A Link dropped without either is released as ``close()`` releases it
(libbpf's rule: an unpinned link detaches).
"""

from __future__ import annotations

import _thread
import ctypes
import errno
import os
import sys
import weakref

from . import _abi, _libbpf, _signals
from ._abi import AttachType, LinkType, enum_or_int
from ._checks import c_path, check_uint
from ._fd import OwnedFd, fd_kind
from ._handle import _about_path, unlink_own_pin
from .errors import NOT_SUPPORTED_ERRNOS, ClosedError, LibbpfError
from .info import kernel_ids

TYPE_CHECKING = False  # typing is imported by the type checker only (see _typing.py)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, NamedTuple, Optional

    from ._handle import PathLike
else:
    from ._typing import NamedTuple


class LinkInfo(NamedTuple):
    """What the kernel reports for a link: its type, id, program, and the hook it holds."""

    type: LinkType | int  # (annotations readable by typing.get_type_hints without typing's names)
    id: int
    prog_id: int
    ifindex: int | None = None                   # XDP, tcx
    cgroup_id: int | None = None                 # cgroup
    netns_ino: int | None = None                 # netns (sk_lookup, flow dissector)
    attach_type: AttachType | int | None = None  # cgroup, netns, tracing, tcx


def link_info(fd: int) -> LinkInfo:
    """Read a link's info from the kernel."""
    info = _abi.BpfLinkInfo()
    size = ctypes.c_uint32(ctypes.sizeof(info))
    _libbpf.lib().bpf_obj_get_info_by_fd(fd, ctypes.addressof(info), ctypes.byref(size))
    hook = bytes(info.union)  # the per-type union, laid out as in struct bpf_link_info

    def u32(offset: int) -> int:
        return int.from_bytes(hook[offset:offset + 4], sys.byteorder)

    kind = info.type
    extra: Dict[str, Any] = {}
    if kind in (LinkType.XDP, LinkType.TCX):
        extra["ifindex"] = u32(0)  # then, for tcx, its attach type
        if kind == LinkType.TCX:
            extra["attach_type"] = enum_or_int(AttachType, u32(4))
    elif kind == LinkType.CGROUP:
        extra["cgroup_id"] = int.from_bytes(hook[0:8], sys.byteorder)
        extra["attach_type"] = enum_or_int(AttachType, u32(8))
    elif kind == LinkType.NETNS:
        extra["netns_ino"], extra["attach_type"] = u32(0), enum_or_int(AttachType, u32(4))
    elif kind == LinkType.TRACING:
        extra["attach_type"] = enum_or_int(AttachType, u32(0))
    return LinkInfo(enum_or_int(LinkType, kind), info.id, info.prog_id, **extra)


_this_process = [os.getpid()]  # kept by fork, not asked of the kernel at each release (getpid is a syscall)
os.register_at_fork(after_in_child=lambda: _this_process.__setitem__(0, os.getpid()))


def _release(lib: _libbpf.Libbpf, state: List[Any], pid: int) -> None:
    """Release a link handle once (its finalizer): libbpf's ``bpf_link``, a link fd, or the
    detacher of an attachment the kernel keeps without a link (a cls_bpf filter). In a forked
    child only the child's copy of an fd is closed: libbpf's destroy would disable a perf event
    the parent still uses, and a detacher would remove the parent's filter."""
    with _signals.deferred(in_finalizer=True):
        ptr, fd, detacher = state
        state[:] = [None, None, None]
        if _this_process[0] != pid:
            if fd is not None:
                fd.close()
        elif ptr is not None:
            lib.bpf_link__destroy(ptr)  # closes its fd: ends an attachment nothing else holds
        elif fd is not None:
            fd.close()
        elif detacher is not None:
            detacher()


class Link:
    """A program attached to a hook (see the module's docstring for its lifetime)."""

    # Set by _make (instances are made there, not by __init__):
    _lib: _libbpf.Libbpf
    _state: List[Any]            # [libbpf's struct bpf_link *, a link's OwnedFd, or a detacher]: one is set
    _finalizer: weakref.finalize[Any, Any]
    _lock: Any                   # an RLock: operations and close, one thread at a time
    _pinned_at: Optional[str]
    _describe: Optional[Callable[[], LinkInfo]]  # the info of an attachment without a kernel link
    program_name: str            # the program's name, for messages
    tc_handle: Optional[int] = None    # a cls_bpf filter's handle and priority (attach_tc)
    tc_priority: Optional[int] = None

    def __init__(self) -> None:
        raise TypeError("Links come from Program.attach*() or Link.from_pinned()")

    @classmethod
    def _make(cls, ptr: Optional[int], fd: Optional[OwnedFd], program_name: str,
              detacher: Optional[Callable[[], None]] = None, info: Optional[Callable[[], LinkInfo]] = None) -> "Link":
        """A Link owning libbpf's ``ptr``, a link ``fd``, or (no link in the kernel) an attachment
        that ``detacher`` removes and ``info`` describes."""
        self = object.__new__(cls)
        self._lib = _libbpf.lib()
        self._state = [ptr, fd, detacher]
        self._describe = info
        self._finalizer = weakref.finalize(self, _release, self._lib, self._state, _this_process[0])
        self._lock = _thread.RLock()
        self._pinned_at = None
        self.program_name = program_name
        return self

    @classmethod
    def from_id(cls, link_id: int) -> "Link":
        """Open a link by its kernel id; closing this handle leaves it attached to whoever holds it."""
        check_uint(link_id, 32, "id")
        with _signals.deferred():
            return cls._make(None, OwnedFd(_libbpf.lib().bpf_link_get_fd_by_id(link_id)), "")

    @staticmethod
    def ids() -> List[int]:
        """The ids of every link in the kernel now (BPF_LINK_GET_NEXT_ID)."""
        return kernel_ids("link")

    @classmethod
    def from_pinned(cls, path: PathLike) -> "Link":
        """Open the link pinned at ``path``; closing this handle leaves it attached."""
        encoded = c_path(path)
        with _signals.deferred():
            try:
                fd = OwnedFd(_libbpf.lib().bpf_obj_get(encoded))
            except LibbpfError as exc:
                raise _about_path(exc, path, "open the pin") from None
            kind = fd_kind(fd.fileno())
            if kind != "link":
                fd.close()
                raise LibbpfError.for_errno(errno.EINVAL, f"{os.fspath(path)} holds a BPF {kind}, not a link",
                                            "bpf_obj_get")
            self = cls._make(None, fd, "")
            self._pinned_at = os.fspath(path)
        return self

    # state -----------------------------------------------------------------------------------

    def _current_fd(self) -> int:
        """The link's fd (the caller holds the lock); ClosedError once released."""
        ptr, fd, detacher = self._state
        if ptr is not None:
            return int(self._lib.bpf_link__fd(ptr))
        if fd is not None:
            return fd.fileno()
        if detacher is not None:
            raise LibbpfError.for_errno(errno.EOPNOTSUPP, f"the attachment of {self.program_name} is no kernel link "
                                        "(a cls_bpf filter): it has no fd, and cannot be pinned or updated")
        raise ClosedError(f"the link of {self.program_name or 'a program'} is closed")

    @property
    def fd(self) -> int:
        """The link's file descriptor (owned by this handle: do not close it)."""
        with self._lock:
            return self._current_fd()

    @property
    def closed(self) -> bool:
        return self._state == [None, None, None]

    @property
    def pin_path(self) -> Optional[str]:
        """Where this link is known to be pinned (opened from, or pinned by this handle)."""
        return self._pinned_at

    def as_libbpf(self) -> Optional[int]:
        """libbpf's ``struct bpf_link *`` as an int (None for a link opened from a pin or made
        from an fd): valid until this handle is closed."""
        with self._lock:
            self._current_fd()
            return self._state[0]

    def info(self) -> LinkInfo:
        """The link as the kernel reports it (for a cls_bpf filter: its program and device)."""
        with self._lock:
            if self._state[2] is not None and self._describe is not None:
                return self._describe()
            return link_info(self._current_fd())

    def __repr__(self) -> str:
        if self.closed:
            return f"<Link of {self.program_name!r} closed>"
        if self._state[2] is not None:
            return f"<Link of {self.program_name!r} (netlink, no kernel link)>"
        pinned = f" pinned at {self._pinned_at}" if self._pinned_at else ""
        return f"<Link of {self.program_name!r} fd={self.fd}{pinned}>"

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise TypeError("a Link is a handle on a kernel object and cannot be pickled: pin it and pass the path")

    # lifetime --------------------------------------------------------------------------------

    def close(self) -> None:
        """Release this handle: a pinned link stays attached, an unpinned one detaches (unless
        another process holds it). Safe to call twice."""
        with _signals.deferred(), self._lock:
            self._finalizer()

    def detach(self) -> None:
        """End the attachment now and release this handle; a pin this handle made is removed.

        Where the kernel can detach a link for every holder (BPF_LINK_DETACH: XDP, cgroup,
        netns, tcx... links) it does, also when the link is pinned or held elsewhere; for the
        other kinds (tracepoints, kprobes, fentry...) releasing this handle and its pin ends the
        attachment unless another process still holds it."""
        with _signals.deferred(), self._lock:
            if self.closed:
                return  # detached (or closed) already, maybe by another thread
            if self._state[2] is not None:  # no kernel link: releasing removes exactly what was attached
                self._finalizer()
                return
            fd = self._current_fd()
            if fd_kind(fd) == "link":
                try:
                    self._lib.bpf_link_detach(fd)
                except LibbpfError as exc:
                    if exc.errno not in NOT_SUPPORTED_ERRNOS:  # no LINK_DETACH for its type
                        raise
            pinned, self._pinned_at = self._pinned_at, None
            if pinned is not None and self._made_pin:
                try:
                    os.unlink(pinned)
                except FileNotFoundError:
                    pass
            self._finalizer()

    _made_pin = False

    def disconnect(self) -> None:
        """Release this handle and leave the attachment in place: what tc and ip do when they
        exit. A filter or an XDP program attached through netlink (no kernel link) stays until
        removed by other means (``tc filter del``, :func:`iproute2.detach_filter`); a kernel link
        is released as by :meth:`close` (it stays while pinned or held elsewhere). Safe to call
        twice."""
        with _signals.deferred(), self._lock:
            self._state[2] = None   # never run the detacher
            self._describe = None   # nor keep what it held (a network namespace)
            self._finalizer()

    # pins ------------------------------------------------------------------------------------

    def pin(self, path: PathLike) -> None:
        """Pin the link at ``path`` on bpffs: it stays attached after this handle and this
        process are gone, until the pin is removed and the last holder closes it."""
        encoded = c_path(path)
        with _signals.deferred(), self._lock:  # a pin made is always recorded (detach removes it)
            try:
                self._lib.bpf_obj_pin(self._current_fd(), encoded)
            except LibbpfError as exc:
                raise _about_path(exc, path, "pin") from None
            self._pinned_at, self._made_pin = os.fspath(path), True

    def unpin(self, path: Optional[PathLike] = None) -> None:
        """Remove the pin at ``path`` (default: ``pin_path``), which must hold this very link."""
        target = self._pinned_at if path is None else os.fspath(path)
        if target is None:
            raise ValueError("this link has no known pin; pass the path")
        with self._lock:
            mine = link_info(self._current_fd()).id
        unlink_own_pin(target, mine, "link", link_info, "link")
        if target == self._pinned_at:
            self._pinned_at, self._made_pin = None, False

    def read(self) -> bytes:
        """Run an iterator link (``Program.attach_iter``) once and return all it wrote."""
        with self._lock:
            link_fd = self._current_fd()
            with _signals.deferred():
                reader = OwnedFd(self._lib.bpf_iter_create(link_fd))
        chunks: List[bytes] = []
        with reader:
            while True:
                chunk = os.read(reader.fileno(), 1 << 16)  # the kernel runs the program as this reads
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)

    def update_program(self, program: Any) -> None:
        """Attach ``program`` (a loaded Program of the same type) in place of the link's program,
        atomically (BPF_LINK_UPDATE)."""
        with self._lock, program._fd_in_use() as prog_fd:
            fd = self._current_fd()
            try:
                self._lib.bpf_link_update(fd, prog_fd, None)
            except LibbpfError as exc:
                if exc.errno == errno.EINVAL and fd_kind(fd) == "link":
                    kind = link_info(fd).type
                    raise exc.with_detail(f"{exc.detail}: the kernel refused {program.name!r} for this "
                                          f"{getattr(kind, 'name', kind)} link: the new program needs the same "
                                          "type and attach type, and only cgroup, XDP, netns, iter and tcx links "
                                          "can change program at all") from None
                raise
        self.program_name = program.name
