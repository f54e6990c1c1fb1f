"""An attachment netlink made, with no kernel link behind it: a cls_bpf filter (``tc filter
add ... bpf da``) or an XDP program attached the way ``ip link`` does. Its Link removes exactly
what was attached (if the place still holds that program), in the namespace it was made in."""

from __future__ import annotations

import errno
from typing import Callable, List, Optional

from .. import _signals
from ..errors import LibbpfError
from .link import Link, LinkInfo, _this_process


def _release(detacher: List[Optional[Callable[[], None]]], pid: int) -> None:
    """Remove the attachment once (the finalizer), unless disconnect() kept it or this is a
    forked child (the parent's filter is not the child's to remove)."""
    with _signals.deferred(in_finalizer=True):
        detach, detacher[0] = detacher[0], None
        if detach is not None and _this_process[0] == pid:
            detach()


class NetlinkAttachment(Link):
    """A Link for what netlink attached: no fd, no pin, no program update; ``detach()``,
    ``close()`` and dropping it remove the attachment, ``disconnect()`` leaves it in place.
    A cls_bpf filter's ``tc_handle`` and ``tc_priority`` say where it is."""

    _kind = "netlink attachment"
    _detacher: List[Optional[Callable[[], None]]]
    _describe: Optional[Callable[[], LinkInfo]]
    tc_handle: Optional[int]
    tc_priority: Optional[int]

    @classmethod
    def _make(cls, program_name: str, detacher: Callable[[], None], describe: Callable[[], LinkInfo],
              tc_handle: Optional[int] = None, tc_priority: Optional[int] = None) -> "NetlinkAttachment":
        self = object.__new__(cls)
        self._detacher, self._describe = [detacher], describe
        self.tc_handle, self.tc_priority = tc_handle, tc_priority
        self._start(program_name, _release, self._detacher, _this_process[0])
        return self

    def _fd_now(self) -> int:
        raise LibbpfError.for_errno(errno.EOPNOTSUPP, f"the attachment of {self.program_name} is no kernel link "
                                    "(netlink made it): it has no fd, and cannot be pinned or updated")

    def info(self) -> LinkInfo:
        """Its program and device."""
        with self._lock:
            describe = self._describe
            if self.closed or describe is None:
                return super().info()  # (raises ClosedError)
            return describe()

    def __repr__(self) -> str:
        if self.closed:
            return f"<Link of {self.program_name!r} closed>"
        return f"<Link of {self.program_name!r} (netlink, no kernel link)>"

    def detach(self) -> None:
        """Remove exactly what was attached (if the place still holds this program). Safe to call twice."""
        with _signals.deferred(), self._lock:
            self._finalizer()

    def disconnect(self) -> None:
        """Release this handle and leave the attachment in place (until ``tc filter del``,
        :func:`libbpf_py.iproute2.detach_filter`, or the device goes)."""
        with _signals.deferred(), self._lock:
            self._detacher[0] = None  # never run the detacher
            self._describe = None     # nor keep what it held (a network namespace)
            self._finalizer()
