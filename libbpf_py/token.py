"""BPF tokens: BPF for an unprivileged user namespace, as a privileged process delegated it.

A privileged process configures a bpffs instance, created for a user namespace, with the mount
options ``delegate_cmds``, ``delegate_maps``, ``delegate_progs`` and ``delegate_attachs``. Inside
that user namespace, BPF_TOKEN_CREATE on the root of that bpffs gives a token: an fd that bpf()
commands (map creation, BTF and program loads) take in place of capabilities in the initial user
namespace, for what the options allow (kernel >= 6.9, libbpf >= 1.4).
"""

from __future__ import annotations

import _thread
import contextlib
import ctypes
import errno
import os
import weakref
from ctypes import Structure, c_size_t, c_uint32
from typing import TYPE_CHECKING, Any, FrozenSet, Iterator, NamedTuple, Optional, Union

from . import _libbpf, _signals
from ._abi import AttachType, MapType, ProgType, enum_or_int
from ._checks import c_path, check_uint
from ._fd import OwnedFd, release_keeping_number
from .errors import ClosedError, InvalidTypeError, LibbpfError, LibbpfFeatureError

if TYPE_CHECKING:
    PathLike = Union[str, bytes, "os.PathLike[str]"]

__all__ = ["Token", "TokenDelegation"]


class BpfTokenCreateOpts(Structure):
    """libbpf's ``struct bpf_token_create_opts`` (bpf/bpf.h, libbpf >= 1.4)."""

    _fields_ = [("sz", c_size_t), ("flags", c_uint32)]


# Why the kernel refuses BPF_TOKEN_CREATE (kernel/bpf/token.c, 6.9 and later).
_REFUSALS = {
    errno.EINVAL: "{where} is not the root directory of a bpffs instance (or the kernel, older than 6.9, has no "
                  "BPF tokens)",
    errno.EPERM: "a token is created only inside the user namespace the bpffs instance was created in (by "
                 "fsopen(\"bpf\")), with CAP_BPF there: {where} belongs to another user namespace",
    errno.EOPNOTSUPP: "no token is made in the initial user namespace, where a process's own capabilities apply "
                      "({where})",
    errno.ENOENT: "the bpffs instance at {where} delegates nothing: it was mounted without delegate_cmds, "
                  "delegate_maps, delegate_progs or delegate_attachs",
}


class TokenDelegation(NamedTuple):
    """What a token allows, as the kernel reports it: for each kind, ``None`` when any is allowed,
    else the allowed ones (bpf() command numbers; MapType, ProgType, AttachType members, or ints
    for what this package does not name)."""

    commands: Optional[FrozenSet[int]]
    map_types: Optional[FrozenSet[Union[MapType, int]]]
    prog_types: Optional[FrozenSet[Union[ProgType, int]]]
    attach_types: Optional[FrozenSet[Union[AttachType, int]]]


_FDINFO_KEYS = {"allowed_cmds": ("commands", None), "allowed_maps": ("map_types", MapType),
                "allowed_progs": ("prog_types", ProgType), "allowed_attachs": ("attach_types", AttachType)}


def _members(mask_text: str, kind: Any) -> Optional[FrozenSet[Any]]:
    """'any' -> None; '0x...' -> the numbers of its set bits (as ``kind``'s members where known)."""
    if mask_text == "any":
        return None
    mask = int(mask_text, 0)
    bits = (bit for bit in range(mask.bit_length()) if mask >> bit & 1)
    return frozenset(bits if kind is None else (enum_or_int(kind, bit) for bit in bits))


def _open_bpffs(bpffs: Union[bytes, int]) -> OwnedFd:
    """A readable fd on the directory ``bpffs`` names (an encoded path, or an fd of it, e.g.
    fsmount's ``O_PATH`` one, which bpf() does not take)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        if isinstance(bpffs, int):
            return OwnedFd(os.open(".", flags, dir_fd=bpffs))  # reopened: the caller keeps its own fd
        return OwnedFd(os.open(bpffs, flags))
    except OSError as exc:
        what = f"fd {bpffs} as a directory" if isinstance(bpffs, int) else os.fsdecode(bpffs)
        raise LibbpfError.for_errno(exc.errno or errno.EBADF, f"cannot open {what}: {exc.strerror}", "open") from None


_live_tokens: weakref.WeakSet[Token] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """In a forked child: fresh locks (one held by another thread of the parent would never be
    released) and no operation in flight; the child's copy of the fd is its own to close."""
    for token in list(_live_tokens):
        token._lock = _thread.RLock()
        token._users = 0
        if token._retired:
            token._finalizer()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Token:
    """A BPF token (BPF_TOKEN_CREATE), made with :meth:`create`; its :attr:`fd` is what libbpf's
    ``token_fd`` options take. Closed by :meth:`close` (safe twice, and from another thread: it
    waits for an operation in flight), at the end of a ``with`` block, or when collected."""

    _owned: OwnedFd
    _finalizer: weakref.finalize[Any, Any]  # closes the fd, once
    _lock: Any                              # an RLock: operations on the fd and close, one thread at a time
    _users: int                             # operations of the locking thread using the fd now
    _retired: bool                          # closed inside such an operation: the fd's number is kept until it ends
    where: str                              # the bpffs it came from (a path, or "fd N")

    def __init__(self) -> None:
        raise InvalidTypeError("use Token.create(bpffs)")

    @classmethod
    def create(cls, bpffs: Union[PathLike, int]) -> "Token":
        """A token from the delegated bpffs instance ``bpffs``: the path of its root, or an fd of
        it (not taken over: the caller still closes its own). Needs libbpf >= 1.4 and a kernel
        with BPF tokens, and must run in the user namespace the bpffs instance was created in."""
        if isinstance(bpffs, bool) or not isinstance(bpffs, (int, str, bytes, os.PathLike)):
            raise InvalidTypeError(f"bpffs takes a path or an fd, not {type(bpffs).__name__}")
        source: Union[bytes, int]
        if isinstance(bpffs, int):
            check_uint(bpffs, 31, "bpffs (an fd)")
            source, where = bpffs, f"fd {bpffs}"
        else:
            source = c_path(bpffs, "bpffs")
            where = os.fsdecode(source)
        lib = _libbpf.lib()
        if lib.version < (1, 4):  # (before anything is opened)
            raise LibbpfFeatureError("bpf_token_create", "1.4.0", lib.version_string)
        opts = BpfTokenCreateOpts(sz=ctypes.sizeof(BpfTokenCreateOpts))
        with _signals.deferred():  # a signal meanwhile cannot leak the token's fd
            with _open_bpffs(source) as root:
                try:
                    fd = OwnedFd(lib.bpf_token_create(root.fileno(), ctypes.addressof(opts)))
                except LibbpfError as exc:
                    refusal = _REFUSALS.get(exc.errno)
                    if refusal is None:
                        raise
                    raise exc.with_detail(f"{exc.detail}: {refusal.format(where=where)}") from None
            self = object.__new__(cls)
            self._owned = fd
            self._finalizer = weakref.finalize(self, fd.close)
            self._lock = _thread.RLock()
            self._users, self._retired = 0, False
            self.where = where
            _live_tokens.add(self)
        return self

    @property
    def closed(self) -> bool:
        return self._retired or not self._finalizer.alive

    def _current_fd(self) -> int:
        if self.closed:
            raise ClosedError(f"the BPF token from {self.where} is closed")
        return self._owned.fileno()

    @property
    def fd(self) -> int:
        """The token's file descriptor (owned by this Token: do not close it)."""
        with self._lock:
            return self._current_fd()

    @contextlib.contextmanager
    def _fd_in_use(self) -> Iterator[int]:
        """The fd, held open while the body passes it to C: close() from another thread waits;
        from this thread (a signal's handler) it releases the token but keeps the number taken
        until the body ends."""
        with self._lock:
            fd = self._current_fd()
            self._users += 1
            try:
                yield fd
            finally:
                self._users = max(self._users - 1, 0)  # (a fork inside the operation reset it in the child)
                if not self._users and self._retired:
                    self._finalizer()

    def delegated(self) -> TokenDelegation:
        """What the token allows (read from /proc/self/fdinfo)."""
        with self._fd_in_use() as fd:
            with open(f"/proc/self/fdinfo/{fd}") as info:
                lines = info.read().splitlines()
        found = {}
        for line in lines:
            key, _, value = line.partition(":")
            if key in _FDINFO_KEYS:
                field, kind = _FDINFO_KEYS[key]
                found[field] = _members(value.strip(), kind)
        if len(found) != len(_FDINFO_KEYS):
            raise LibbpfError.for_errno(errno.EINVAL, f"/proc/self/fdinfo/{fd} does not show a BPF token")
        return TokenDelegation(**found)

    def close(self) -> None:
        """Release the token. Safe to call twice."""
        with _signals.deferred(), self._lock:
            if not self._users:
                self._finalizer()
            elif not self.closed:  # inside an operation of this thread: it keeps the number until it ends
                self._retired = True
                if not release_keeping_number(self._owned.fileno()):
                    self._finalizer()

    def __enter__(self) -> "Token":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise InvalidTypeError("a Token is a file descriptor and cannot be pickled: pass its fd over a Unix socket "
                               "(SCM_RIGHTS), or the bpffs path")

    def __repr__(self) -> str:
        if self.closed:
            return f"<Token from {self.where} closed>"
        return f"<Token from {self.where} fd={self._owned.fileno()}>"
