"""The interface every kind of link shares: what the kernel reports of a link, its lifetime, its pins."""

from __future__ import annotations

import _thread
import ctypes
import errno
import os
import sys
import time
import warnings
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional

from .. import _abi, _libbpf, _signals
from .._abi import AttachType, LinkType, enum_or_int
from .._checks import c_path, check_uint
from .._fd import OwnedFd, fd_kind
from .._handle import _about_path, unlink_own_pin
from ..errors import NOT_SUPPORTED_ERRNOS, ClosedError, InvalidTypeError, InvalidValueError, LibbpfError
from ..info import kernel_ids

if TYPE_CHECKING:
    from .._handle import PathLike


class NetfilterHook(NamedTuple):
    """Where a netfilter link sits: NFPROTO_* family, NF_INET_* hook, priority, flags."""

    pf: int
    hook: int
    priority: int
    flags: int


class LinkInfo(NamedTuple):
    """What the kernel reports for a link: its type, id, program, and the hook it holds."""

    type: LinkType | int  # (annotations readable by typing.get_type_hints without typing's names)
    id: int
    prog_id: int
    ifindex: int | None = None                   # XDP, tcx
    cgroup_id: int | None = None                 # cgroup
    netns_ino: int | None = None                 # netns (sk_lookup, flow dissector)
    attach_type: AttachType | int | None = None  # cgroup, netns, tracing, tcx
    netfilter: NetfilterHook | None = None       # netfilter


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
    elif kind == LinkType.NETFILTER:
        extra["netfilter"] = NetfilterHook(u32(0), u32(4), int.from_bytes(hook[8:12], sys.byteorder, signed=True),
                                           u32(12))
    elif kind == LinkType.TRACING:
        extra["attach_type"] = enum_or_int(AttachType, u32(0))
    return LinkInfo(enum_or_int(LinkType, kind), info.id, info.prog_id, **extra)


_this_process = [os.getpid()]  # kept by fork, not asked of the kernel at each release (getpid is a syscall)
_live_links: weakref.WeakSet[Link] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """In a forked child: this process's id, and fresh locks (one held by another thread of the
    parent would never be released)."""
    _this_process[0] = os.getpid()
    for link in list(_live_links):
        link._lock = _thread.RLock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Link:
    """A program attached to a hook (see :mod:`libbpf_py.links` for its lifetime and pins). One
    class per kind of attachment does what differs: :class:`FdLink` (a kernel link's fd, below),
    :class:`~.LibbpfLink` (libbpf's ``struct bpf_link``) and :class:`~.NetlinkAttachment` (what
    netlink attached, without a kernel link)."""

    _kind = "link"
    # Set by _start (instances are made by each kind's constructor, not by __init__):
    _lib: _libbpf.Libbpf
    _finalizer: weakref.finalize[Any, Any]   # releases what the kind holds (once)
    _lock: Any                   # an RLock: operations and close, one thread at a time
    _pins: List[str]             # where this link is known to be pinned (opened from, or pinned here), latest last
    _unpinned_by_detach: List[str]  # the pins detach() dealt with (removed, or found gone or taken): unpin() after
    _link_id: Optional[int]      # the kernel link's id, read once known (to check pins after close)
    program_name: str            # the program's name, for messages

    def __init__(self) -> None:
        raise InvalidTypeError("Links come from Program.attach*() or Link.from_pinned()")

    def _start(self, program_name: str, release: Callable[..., None], *state: Any) -> None:
        self._lib = _libbpf.lib()
        self._finalizer = weakref.finalize(self, release, *state)
        self._lock = _thread.RLock()
        self._pins, self._unpinned_by_detach, self._link_id = [], [], None
        self.program_name = program_name
        _live_links.add(self)

    @classmethod
    def from_id(cls, link_id: int) -> "Link":
        """Open a link by its kernel id; closing this handle leaves it attached to whoever holds it."""
        check_uint(link_id, 32, "id")
        with _signals.deferred():
            return FdLink._make(OwnedFd(_libbpf.lib().bpf_link_get_fd_by_id(link_id)), "")

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
            self = FdLink._make(fd, "")
            self._link_id = link_info(fd.fileno()).id
            self._pins.append(os.fspath(path))
        return self

    # state -----------------------------------------------------------------------------------

    def _current_fd(self) -> int:
        """The link's fd (the caller holds the lock); ClosedError once released."""
        if self.closed:
            raise ClosedError(f"the link of {self.program_name or 'a program'} is closed")
        return self._fd_now()

    def _fd_now(self) -> int:
        """The fd of the kind's live handle."""
        raise NotImplementedError

    @property
    def fd(self) -> int:
        """The link's file descriptor (owned by this handle: do not close it)."""
        with self._lock:
            return self._current_fd()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    @property
    def pin_path(self) -> Optional[str]:
        """Where this link is known to be pinned (opened from, or pinned by this handle; the
        latest pin when there are several); it stays known after ``close()``."""
        pins = self._pins
        return pins[-1] if pins else None

    def as_libbpf(self) -> Optional[int]:
        """libbpf's ``struct bpf_link *`` as an int (None for a link opened from a pin or made
        from an fd): valid until this handle is closed."""
        with self._lock:
            self._current_fd()
            return None

    def info(self) -> LinkInfo:
        """The link as the kernel reports it."""
        with self._lock:
            return link_info(self._current_fd())

    def __repr__(self) -> str:
        if self.closed:
            return f"<Link of {self.program_name!r} closed>"
        pinned = f" pinned at {self.pin_path}" if self._pins else ""
        return f"<Link of {self.program_name!r} fd={self.fd}{pinned}>"

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise InvalidTypeError("a Link is a handle on a kernel object and cannot be pickled: pin it and pass the path")

    # lifetime --------------------------------------------------------------------------------

    def close(self) -> None:
        """Release this handle: a pinned link stays attached, an unpinned one detaches (unless
        another process holds it). Safe to call twice."""
        with _signals.deferred(), self._lock:
            self._finalizer()

    def detach(self) -> None:
        """End the attachment now, remove the pins of it this handle knows (only while they hold
        this very link), and release the handle; a link still held elsewhere afterwards is a
        :class:`RuntimeWarning`. Safe to call twice; the guide's "programs and attaching" page
        says how each kind of link detaches."""
        with _signals.deferred(), self._lock:
            if self.closed:
                if not self._pins:
                    return  # detached (or closed unpinned) already, maybe by another thread
                self._detach_through_pins()
            else:
                fd = self._current_fd()
                if self._link_id is None and fd_kind(fd) == "link":  # (a perf event's "link" has no id)
                    self._link_id = link_info(fd).id
                self._detach_fd(fd)
            knew_pins = bool(self._pins)
            failure = self._remove_known_pins()
            self._finalizer()
        # outside the section: a signal is not held while the pins' release is awaited; without
        # pins the last fd's close frees the link at once, so one look tells
        self._warn_if_still_held(patience=2.0 if knew_pins else 0.0)
        if failure is not None:
            raise failure

    def _detach_fd(self, fd: int) -> None:
        """BPF_LINK_DETACH where the link's type has it (a no-op for the other types)."""
        if fd_kind(fd) != "link":
            return
        try:
            self._lib.bpf_link_detach(fd)
        except LibbpfError as exc:
            if exc.errno not in NOT_SUPPORTED_ERRNOS:  # no LINK_DETACH for its type
                raise

    def _detach_through_pins(self) -> None:
        """Detach a closed handle's link through the first known pin that still holds it."""
        for path in self._pins:
            try:
                pinned = OwnedFd(self._lib.bpf_obj_get(c_path(path)))
            except (LibbpfError, OSError):
                continue  # gone, or not a BPF pin any more
            with pinned:
                fd = pinned.fileno()
                if fd_kind(fd) == "link" and link_info(fd).id == self._link_id:
                    self._detach_fd(fd)
                    return

    def _remove_known_pins(self) -> Optional[OSError]:
        """Remove each known pin that still holds this link; forget those removed, gone or taken
        by another object. The first unexpected failure is returned (that pin stays known)."""
        failure: Optional[OSError] = None
        kept: List[str] = []
        for path in self._pins:
            try:
                unlink_own_pin(path, self._own_id(), "link", link_info, "link")
            except LibbpfError:
                pass  # gone, or holding another object now: not this link's pin any more
            except OSError as exc:  # the unlink itself failed
                failure = failure or exc
                kept.append(path)
                continue
            self._unpinned_by_detach.append(path)
        self._pins = kept
        return failure

    def _warn_if_still_held(self, patience: float = 2.0) -> None:
        """Warn when the link outlives this detach: someone else holds it (see detach). A pin's
        reference is dropped a moment after its unlink (bpffs frees the inode after an RCU grace
        period), so the link is given ``patience`` seconds to go before it counts as held."""
        link_id = self._link_id
        if link_id is None:
            return
        deadline, pause = time.monotonic() + patience, 0.001
        while True:
            try:
                held = OwnedFd(self._lib.bpf_link_get_fd_by_id(link_id))
            except LibbpfError:
                return  # gone: nothing holds it
            with held:
                info = link_info(held.fileno())
            if time.monotonic() >= deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        program = repr(self.program_name) if self.program_name else f"program id {info.prog_id}"
        warnings.warn(f"link {link_id} of {program} ({getattr(info.type, 'name', info.type)}) was detached and its "
                      "known pins removed, but it is still held elsewhere (another process, or a pin this handle "
                      "does not know): find its pins with `libbpf-py show --pinned DIR`", RuntimeWarning, stacklevel=3)

    def disconnect(self) -> None:
        """Release this handle and leave the attachment in place: what tc and ip do when they
        exit. A filter or an XDP program attached through netlink (no kernel link) stays until
        removed by other means (``tc filter del``, :func:`iproute2.detach_filter`); a kernel link
        is released as by :meth:`close` (it stays while pinned or held elsewhere). Safe to call
        twice."""
        with _signals.deferred(), self._lock:
            self._finalizer()

    # pins ------------------------------------------------------------------------------------

    def pin(self, path: PathLike) -> None:
        """Pin the link at ``path`` on bpffs: it stays attached after this handle and this
        process are gone, until the pin is removed and the last holder closes it."""
        encoded = c_path(path)
        with _signals.deferred(), self._lock:  # a pin made is always recorded (detach removes it)
            fd = self._current_fd()
            own_id = self._link_id if self._link_id is not None else link_info(fd).id
            try:
                self._lib.bpf_obj_pin(fd, encoded)
            except LibbpfError as exc:
                raise _about_path(exc, path, "pin") from None
            self._link_id = own_id
            self._pins.append(os.fspath(path))

    def unpin(self, path: Optional[PathLike] = None) -> None:
        """Remove the pin at ``path`` (default: ``pin_path``), which must hold this very link
        (EINVAL otherwise: another object's pin is never removed). Works on a closed handle
        that knows its link's pin; after ``detach()``, which removed the known pins, there is
        nothing left to do."""
        with _signals.deferred(), self._lock:
            if path is None and not self._pins:
                if self._unpinned_by_detach:
                    return
                raise InvalidValueError("this link has no known pin; pass the path")
            target = self._pins[-1] if path is None else os.fspath(path)
            if target in self._unpinned_by_detach and not os.path.lexists(target):
                return
            unlink_own_pin(target, self._own_id(), "link", link_info, "link")
            self._pins = [known for known in self._pins if known != target]

    def _own_id(self) -> int:
        """The link's id: read from the fd while open, else the one read when its pin became known."""
        if self._link_id is None:
            self._link_id = link_info(self._current_fd()).id
        return self._link_id

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


def _release_fd(fd: OwnedFd) -> None:
    fd.close()  # (in a forked child too: only the child's copy)


class FdLink(Link):
    """A kernel link on an fd of its own: made with BPF_LINK_CREATE (tcx, cgroup, netns and XDP
    links of ``Program.attach_*``), or opened from a pin or an id."""

    _owned: OwnedFd

    @classmethod
    def _make(cls, fd: OwnedFd, program_name: str) -> "FdLink":
        self = object.__new__(cls)
        self._owned = fd
        self._start(program_name, _release_fd, fd)
        return self

    def _fd_now(self) -> int:
        return self._owned.fileno()
