"""A link libbpf made (``bpf_program__attach*``): its ``struct bpf_link`` owns the attachment,
whatever it is underneath (a kernel link, or a perf event for a legacy kprobe or tracepoint)."""

from __future__ import annotations

from typing import List, Optional

from .. import _libbpf, _signals
from .link import Link, _this_process


def _release(lib: _libbpf.Libbpf, state: List[Optional[int]], pid: int) -> None:
    """Destroy libbpf's link once (the finalizer): it closes the fd, which ends an attachment
    nothing else holds. A forked child leaves it alone: destroying would disable a perf event
    the parent still uses (the child's copy of the fd goes when the child exits)."""
    with _signals.deferred(in_finalizer=True):
        ptr, state[0] = state[0], None
        if ptr is not None and _this_process[0] == pid:
            lib.bpf_link__destroy(ptr)


class LibbpfLink(Link):
    """A Link holding libbpf's ``struct bpf_link *``."""

    _ptr: List[Optional[int]]

    @classmethod
    def _make(cls, ptr: int, program_name: str) -> "LibbpfLink":
        self = object.__new__(cls)
        self._ptr = [ptr]
        self._start(program_name, _release, _libbpf.lib(), self._ptr, _this_process[0])
        return self

    def _fd_now(self) -> int:
        ptr = self._ptr[0]
        assert ptr is not None  # (the finalizer clears it, and closed says so first)
        return int(self._lib.bpf_link__fd(ptr))

    def as_libbpf(self) -> Optional[int]:
        """libbpf's ``struct bpf_link *`` as an int: valid until this handle is closed."""
        with self._lock:
            self._current_fd()
            return self._ptr[0]
