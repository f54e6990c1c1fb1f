"""Run-time statistics of BPF programs (BPF_ENABLE_STATS): while a handle from
:func:`enable_stats` is open, the kernel counts each program's runs and the time they take
(``ProgInfo.run_cnt``, ``run_time_ns``). The counting costs every program a little, so it is
off unless someone holds such a handle (or ``kernel.bpf_stats_enabled`` is set)."""

from __future__ import annotations

import threading
from typing import Any

from . import _libbpf, _signals
from ._fd import OwnedFd
from .errors import ClosedError, InvalidValueError

BPF_STATS_RUN_TIME = 0  # enum bpf_stats_type (linux/bpf.h)
_STATS = {"run_time": BPF_STATS_RUN_TIME}


class Stats:
    """An open BPF_ENABLE_STATS handle: statistics stay on until it is closed (``close()``, the
    end of a ``with`` block, or its collection); other holders keep them on for themselves."""

    def __init__(self, fd: OwnedFd, kind: str):
        self._fd, self.kind = fd, kind
        self._lock = threading.Lock()

    @property
    def fd(self) -> int:
        """The handle's file descriptor (owned by it: do not close it)."""
        with self._lock:
            if self._fd.closed:
                raise ClosedError(f"the {self.kind} statistics handle is closed")
            return self._fd.fileno()

    @property
    def closed(self) -> bool:
        return self._fd.closed

    def close(self) -> None:
        """Stop holding the statistics on. Safe to call twice."""
        with _signals.deferred(), self._lock:
            self._fd.close()

    def __enter__(self) -> "Stats":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Stats {self.kind} {'closed' if self.closed else 'on'}>"


def enable_stats(kind: str = "run_time") -> Stats:
    """Turn on the kernel's run-time statistics of every BPF program for as long as the
    returned handle is open (``bpf_enable_stats(BPF_STATS_RUN_TIME)``); use it as a context
    manager: ``with bpf.enable_stats(): ...``. Needs CAP_SYS_ADMIN."""
    if kind not in _STATS:
        raise InvalidValueError(f"kind must be one of {', '.join(map(repr, _STATS))}, not {kind!r}")
    with _signals.deferred():
        return Stats(OwnedFd(_libbpf.lib().bpf_enable_stats(_STATS[kind])), kind)
