"""Perf buffers: what BPF programs send with ``bpf_perf_event_output`` to a
``BPF_MAP_TYPE_PERF_EVENT_ARRAY`` map, one ring per CPU, read through libbpf's ``perf_buffer``.

Each record comes as bytes (a copy: libbpf may hand over its own scratch copy of a record that
wraps around the ring), or decoded as ``record_type`` whatever its size (a record shorter than
the type has its missing tail zero, a longer one is decoded by its first bytes); the kernel pads
a record's size so that its header stays 8-byte aligned, so a record may be up to 7 bytes longer
than what the program sent (those bytes are not cleared: their content is unspecified). With
``with_size=True``, ``on_sample(record, size)`` gets the record's size as the kernel gives it
(padding included), and queued records come as ``(record, size)`` pairs. Records the kernel
dropped because a ring was full are counted per CPU and reported to ``on_lost(cpu, count)``,
and added up in :attr:`PerfBuffer.lost`.

libbpf's perf callbacks cannot stop its walk: once a callback raised, the records that follow
in the same poll are queued, not lost, and handed to the callback at the next poll (before
waiting), after the exception has been raised.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from typing import Any, Callable, Dict, Optional

from . import _abi, _libbpf, _signals
from ._abi import MapType
from ._events import EventBuffer, EventState, check_flag, decode, record_type_size
from .errors import InvalidValueError
from .maps import Map, map_of_type

_MAX_RING = 1 << 30  # bytes per CPU: libbpf's size arithmetic overflows far above


class _State(EventState):
    def __init__(self, queued: bool, record_type: Any, type_size: int, sized: bool):
        super().__init__(_libbpf.lib())
        self.queued, self.record_type, self.type_size, self.sized = queued, record_type, type_size, sized
        # the user's callbacks, set only while a poll runs (see EventBuffer._arm)
        self.on_sample: Optional[Callable[..., Any]] = None
        self.on_lost: Optional[Callable[[int, int], Any]] = None
        self.lost: Dict[int, int] = {}  # cpu -> records the kernel dropped
        self.held = False               # a callback raised: later records wait in pending
        self.handled = 0                # records handed over or queued (libbpf counts rings, not records)
        self.sample: Any = _abi.PERFBUF_SAMPLE_FN(self.on_record_fn())
        self.lost_fn: Any = _abi.PERFBUF_LOST_FN(self.on_lost_records)

    def on_record_fn(self) -> Callable[[Optional[int], int, int, int], None]:
        """libbpf's sample callback, made once over locals, so that a record (bytes, or one of
        ``record_type``'s size) runs as few steps as it can."""
        state, pending, string_at = self, self.pending, ctypes.string_at
        record_type, type_size, sized, queued = self.record_type, self.type_size, self.sized, self.queued
        from_copy = None if record_type is None else record_type.from_buffer_copy

        def on_record(ctx: Optional[int], cpu: int, data: int, size: int) -> None:
            if state.closing:
                return
            try:
                raw = string_at(data, size)
                state.handled += 1
                if from_copy is None:
                    record = raw
                elif size >= type_size:
                    record = from_copy(raw)
                else:  # shorter than the type: its tail zero
                    record = decode(record_type, type_size, raw)
                on_sample = state.on_sample
                if queued or on_sample is None or state.held:
                    pending.append((record, size) if sized else record)
                elif sized:
                    on_sample(record, size)
                else:
                    on_sample(record)
            except BaseException as exc:
                state.keep(exc)
                state.held = True

        return on_record

    def on_lost_records(self, ctx: Optional[int], cpu: int, count: int) -> None:
        self.lost[cpu] = self.lost.get(cpu, 0) + count
        if self.on_lost is not None and not self.held:
            try:
                self.on_lost(cpu, count)
            except BaseException as exc:
                self.keep(exc)
                self.held = True

    def release(self) -> None:
        with _signals.deferred(in_finalizer=True):
            ptr, self.ptr = self.ptr, None
            if ptr is not None and self.pid == os.getpid():
                self.lib.perf_buffer__free(ptr)  # closes its per-CPU perf events and rings
            self.sample = self.lost_fn = None


class PerfBuffer(EventBuffer):
    """The records of a perf event array map: ``on_sample(record)`` for each (without it they are
    queued for iteration), ``on_lost(cpu, count)`` for records the kernel dropped; ``pages`` is
    each CPU's ring size in pages (a power of two); ``record_type`` and ``with_size`` as the
    module's docstring says."""

    _kind = "PerfBuffer"
    _state: _State

    def __init__(self, map: Map, on_sample: Optional[Callable[..., Any]] = None,
                 on_lost: Optional[Callable[[int, int], Any]] = None, *, pages: int = 8, record_type: Any = None,
                 with_size: bool = False):
        if isinstance(pages, bool) or not isinstance(pages, int) or pages < 1 or pages & (pages - 1) or \
                pages * mmap.PAGESIZE > _MAX_RING:
            raise InvalidValueError(f"pages must be a power of two (an int), each CPU's ring at most {_MAX_RING >> 20} "
                                    f"MiB, not {pages!r}")
        type_size = record_type_size(record_type)
        check_flag(with_size, "with_size")
        map_of_type(map, MapType.PERF_EVENT_ARRAY, "a PerfBuffer")
        state = _State(on_sample is None, record_type, type_size, with_size)
        self._start(state)
        self._on_sample, self._on_lost = on_sample, on_lost
        opts = _abi.new_opts(_abi.PerfBufferOpts)
        with _signals.deferred(), map._fd_in_use() as fd:  # libbpf keeps no use of fd after this
            state.ptr = state.lib.perf_buffer__new(fd, pages, state.sample, state.lost_fn, None,
                                                   ctypes.addressof(opts))

    @property
    def lost(self) -> int:
        """Records the kernel dropped (all CPUs) since this buffer was made."""
        return sum(self._state.lost.values())

    def _deliver_held(self, state: _State) -> int:
        """Records queued behind a callback's exception go to the callback first."""
        if not state.held:
            return 0
        state.held = False
        delivered = 0
        if state.on_sample is not None:
            while state.pending and not state.held:
                record = state.pending.popleft()
                try:
                    if state.sized:
                        state.on_sample(*record)
                    else:
                        state.on_sample(record)
                except BaseException:
                    state.held = True
                    raise
                delivered += 1
        return delivered

    def _arm(self, state: _State) -> None:
        state.on_sample, state.on_lost = self._on_sample, self._on_lost

    def _disarm(self, state: _State) -> None:
        state.on_sample = state.on_lost = None

    def _poll_once(self, state: _State, milliseconds: int) -> int:
        held = self._deliver_held(state)
        if held:
            return held
        before = state.handled
        self._checked(state, state.lib.perf_buffer__poll(state.ptr, milliseconds), "perf_buffer__poll")
        return state.handled - before

    def _consume_all(self, state: _State) -> int:
        held = self._deliver_held(state)
        before = state.handled
        self._checked(state, state.lib.perf_buffer__consume(state.ptr), "perf_buffer__consume")
        return held + state.handled - before

    def _consume_some(self, state: _State, limit: int) -> int:
        raise InvalidValueError("libbpf's perf buffer has no bounded consume: consume() takes every record")

    def _epoll_fd(self, state: _State) -> int:
        return int(state.lib.perf_buffer__epoll_fd(state.ptr))

    def _queues(self) -> bool:
        return self._on_sample is None
