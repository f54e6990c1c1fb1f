"""A USDT attachment libbpf made (``bpf_program__attach_usdt``): one ``struct bpf_link`` over
several uprobes (one per call site and process, or one uprobe-multi link), with no fd of its own."""

from __future__ import annotations

import errno
import weakref
from typing import Any, List, NoReturn

from .. import _signals
from ..errors import LibbpfError
from .libbpf import LibbpfLink
from .link import LinkInfo


class _DetachFirst(List[int]):
    """Sits among the fd boxes an object's core sets to -1 just before it frees libbpf's object:
    that moment destroys the USDT link first, since libbpf's USDT link works on its object's
    USDT manager when destroyed (after the object's close it would write freed memory)."""

    def __init__(self, link: "UsdtLink"):
        super().__init__([0])
        self._link = weakref.ref(link)

    def __setitem__(self, index: Any, value: Any) -> None:
        link = self._link()
        if link is not None:
            with link._lock:  # (a detach in flight on another thread ends first)
                link._finalizer()


class UsdtLink(LibbpfLink):
    """A USDT probe's attachment: ``detach()``, ``close()``, dropping it, and closing its
    program's Object remove every uprobe libbpf placed for it. It has no fd (libbpf's link gives
    none: its ``bpf_link__fd`` reads 0), so it cannot be pinned, updated or described by the
    kernel."""

    _kind = "USDT attachment"
    _core: object

    @classmethod
    def _make_in(cls, ptr: int, program_name: str, core: Any) -> "UsdtLink":
        """The link of libbpf's USDT attachment ``ptr``, tied to its object's ``core``: it keeps
        the core (so libbpf's object) alive, and the object's close destroys it first."""
        self = cls._make(ptr, program_name)
        assert isinstance(self, UsdtLink)
        self._core = core
        core.boxes.append(_DetachFirst(self))
        return self

    def _fd_now(self) -> NoReturn:
        raise LibbpfError.for_errno(errno.EOPNOTSUPP, f"the USDT attachment of {self.program_name} is several "
                                    "uprobes behind one libbpf link: it has no fd, and cannot be pinned or updated")

    def info(self) -> LinkInfo:
        """Not available: no one kernel link stands for a USDT attachment (EOPNOTSUPP)."""
        with self._lock:
            if self.closed:
                self._current_fd()  # (raises ClosedError)
            self._fd_now()

    def detach(self) -> None:
        """Remove every uprobe of the attachment now; safe to call twice."""
        with _signals.deferred(), self._lock:
            self._finalizer()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "(USDT, no fd)"
        return f"<Link of {self.program_name!r} {state}>"
