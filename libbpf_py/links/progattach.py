"""An attachment made with BPF_PROG_ATTACH (no kernel link): e.g. a sk_msg or sk_skb program on
a sockmap when libbpf has no ``bpf_program__attach_sockmap`` (before 1.5). Its handle holds its
own copies of the program's and the target's fds, and detaches exactly that program from that
target with BPF_PROG_DETACH (``bpf_prog_detach2``)."""

from __future__ import annotations

import errno
import os
from typing import List, NoReturn, Optional

from .. import _libbpf, _signals
from .._abi import AttachType, LinkType, enum_or_int
from ..errors import LibbpfError
from .link import Link, LinkInfo, _this_process


def _release(held: List[Optional[int]], attach_type: int, pid: int) -> None:
    """Detach once (the finalizer), then close the fds held; a forked child only closes its
    copies, and so does a handle that ``disconnect()`` let go (its third slot says so)."""
    with _signals.deferred(in_finalizer=True):
        prog_fd, target_fd, keep = held
        held[:] = [None, None, None]
        if prog_fd is None or target_fd is None:
            return
        try:
            if _this_process[0] == pid and not keep:
                try:
                    _libbpf.lib().bpf_prog_detach2(prog_fd, target_fd, attach_type)
                except LibbpfError as exc:
                    if exc.errno != errno.ENOENT:  # gone already (the map was emptied and freed, or detached)
                        raise
        finally:
            os.close(prog_fd)
            os.close(target_fd)


class ProgAttachment(Link):
    """A program attached to a target fd (a sockmap, ...) with BPF_PROG_ATTACH: no fd, no pin,
    no program update; ``detach()``, ``close()`` and dropping it detach the program."""

    _kind = "prog attachment"
    _held: List[Optional[int]]
    attach_type: AttachType | int
    prog_id: int

    @classmethod
    def _make(cls, program_name: str, prog_fd: int, target_fd: int, attach_type: int,
              prog_id: int) -> "ProgAttachment":
        """Attach ``prog_fd`` to ``target_fd``; the handle keeps duplicates of both until it detaches."""
        lib = _libbpf.lib()
        with _signals.deferred():
            lib.bpf_prog_attach(prog_fd, target_fd, attach_type, 0)
            held: List[Optional[int]] = []
            try:
                held.append(os.dup(prog_fd))
                held.append(os.dup(target_fd))
            except OSError:
                for fd in held:
                    os.close(fd)  # type: ignore[arg-type]
                lib.bpf_prog_detach2(prog_fd, target_fd, attach_type)
                raise
            held.append(None)  # (disconnect() marks it: keep the attachment)
            self = object.__new__(cls)
            self._held = held
            self.attach_type, self.prog_id = enum_or_int(AttachType, attach_type), prog_id
            self._start(program_name, _release, held, attach_type, _this_process[0])
        return self

    def _fd_now(self) -> NoReturn:
        raise LibbpfError.for_errno(errno.EOPNOTSUPP, f"the attachment of {self.program_name} was made with "
                                    "BPF_PROG_ATTACH (no kernel link): it has no fd, and cannot be pinned or updated")

    def info(self) -> LinkInfo:
        """Its program and attach type (no kernel link: type UNSPEC, id 0)."""
        with self._lock:
            if self.closed:
                super().info()  # (raises ClosedError)
            return LinkInfo(LinkType.UNSPEC, 0, self.prog_id, attach_type=self.attach_type)

    def detach(self) -> None:
        """Detach the program from its target now; safe to call twice."""
        with _signals.deferred(), self._lock:
            self._finalizer()

    def disconnect(self) -> None:
        """Release this handle and leave the program attached (until the target goes, or
        ``bpftool``/``bpf_prog_detach2`` removes it). Safe to call twice."""
        with _signals.deferred(), self._lock:
            if not self.closed:
                self._held[2] = 1
            self._finalizer()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"({getattr(self.attach_type, 'name', self.attach_type)}, no link)"
        return f"<Link of {self.program_name!r} {state}>"
