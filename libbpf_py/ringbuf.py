"""Ring buffers: the records BPF programs submit to ``BPF_MAP_TYPE_RINGBUF`` maps, in user space.

Two ways to read, on one consumer position, never at the same time (a lock orders them):

- **through libbpf** (``poll``, ``consume``, iteration, asyncio): libbpf's ``ring_buffer``
  walks the ring and calls back into Python once per record. The record is handed over as
  ``bytes`` copied from this object's own read-only mapping of the ring: the callback may keep
  it, or anything made from it (``struct.iter_unpack``, ``numpy.frombuffer``), for as long as
  it likes; the ring's memory, reused by later records, is never handed out.
- **in one pass** (``drain``): the ring is read here, from that mapping, without a callback per
  record, and the records come back as a list of bytes. The kernel's ordering rules are met by
  x86-64's memory model; on other machines ``drain`` goes through libbpf instead.

With ``record_type``, each record is decoded as that ctypes type whatever its size: a record
shorter than the type (a program that trims a variable-length tail) has its missing tail zero,
a longer one is decoded by its first bytes. With ``with_size=True`` the callback is called as
``callback(record, size)``, and queued or drained records come as ``(record, size)`` pairs:
``size`` is the record's own size, as the program submitted it.

A callback's exception stops the poll and is raised by it; the record it was given counts as
delivered (libbpf moves past it), the later ones stay for the next poll. Waiting releases the
GIL; a blocking poll wakes every quarter second to see whether another thread closed the
buffer, and a signal's handler runs as soon as the wait is interrupted.
"""

from __future__ import annotations

import _thread
import ctypes
import errno
import mmap
import os
import struct
import sys
import time
import weakref
from typing import Any, Callable, List, Optional, Tuple

from . import _abi, _libbpf, _signals
from ._abi import MapType
from ._events import EventBuffer, EventState, check_flag, check_timeout, decode, decode_all, record_type_size
from ._fd import OwnedFd
from .errors import ClosedError, InvalidTypeError, InvalidValueError, LibbpfError, UsageError
from .maps import Map, map_of_type

_PAGE = mmap.PAGESIZE
_LENGTH = ~(_abi.RINGBUF_BUSY_BIT | _abi.RINGBUF_DISCARD_BIT) & 0xFFFFFFFF
_WORD = struct.Struct("=I")
_HEADER = _WORD.unpack_from
_WAIT = 0.25  # seconds: the longest wait in C for room in a user ring buffer
_ORDERED = sys.byteorder == "little" and os.uname().machine in ("x86_64", "amd64")


class _Ring:
    """One ring buffer map: a duplicate of its fd and this object's own mappings of it."""

    def __init__(self, m: Map, record_type: Any, with_size: bool):
        self.type_size = record_type_size(record_type)
        self.sized = check_flag(with_size, "with_size")
        info = map_of_type(m, MapType.RINGBUF, "a RingBuffer")
        self.name, self.record_type = info.name, record_type
        self.callback: Optional[Callable[..., Any]] = None  # the user's, set only while a poll runs
        self.rewind_to: Optional[int] = None  # a record not handed over (the buffer was closing): start again here
        self.size = info.max_entries
        self.mask = self.size - 1
        with m._fd_in_use() as fd:
            self.fd = OwnedFd(os.dup(fd))
        try:
            self.consumer_map = mmap.mmap(self.fd.fileno(), _PAGE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            self.data_map = mmap.mmap(self.fd.fileno(), _PAGE + 2 * self.size, mmap.MAP_SHARED, mmap.PROT_READ,
                                      offset=_PAGE)  # the data pages twice: a record never wraps
        except BaseException:
            self.release()
            raise
        self.consumer = memoryview(self.consumer_map).cast("Q")
        self.producer = memoryview(self.data_map)[:8].cast("Q")
        self.end = len(self.data_map)
        self.distance = -self.end  # libbpf's address of a byte minus ours: learnt from the first record

    def locate(self, data: int, size: int) -> int:
        """Where in our mapping the record libbpf hands over at ``data`` starts, or -1. libbpf
        stores its consumer position after each record, so while it calls back for one, that
        position is still the record's header: found there (the header says its size), the
        distance between libbpf's mapping and ours holds for every later record."""
        start = _PAGE + (self.consumer[0] & self.mask) + _abi.RINGBUF_HDR_SZ
        if _HEADER(self.data_map, start - _abi.RINGBUF_HDR_SZ)[0] & _LENGTH != size:
            return -1
        if (data - start) % _PAGE:  # both mappings start on a page: this is not the record
            return -1
        self.distance = data - start
        return start

    def copied(self, address: int, size: int) -> bytes:
        """The record libbpf hands over at ``address``: from our mapping where it is found
        there (learning the distance), else copied from libbpf's pointer."""
        start = self.locate(address, size)
        if start < 0:
            return ctypes.string_at(address, size)
        return self.data_map[start:start + size]

    def decoded(self, records: List[bytes]) -> List[Any]:
        """Drained records as this ring hands them over: bytes or ``record_type``, paired with
        their sizes under ``with_size``."""
        decoded = records if self.record_type is None else decode_all(self.record_type, self.type_size, records)
        return list(zip(decoded, map(len, records))) if self.sized else decoded

    def release(self) -> None:
        for name in ("consumer", "producer"):
            view = getattr(self, name, None)
            if view is not None:
                view.release()
        for name in ("consumer_map", "data_map"):
            mapping = getattr(self, name, None)
            if mapping is not None:
                try:
                    mapping.close()
                except BufferError:  # (none is handed out) a view still exported: it goes with the view
                    pass
        self.fd.close()


class _State(EventState):
    """The rings, each with the C callback libbpf calls for its records."""

    def __init__(self) -> None:
        super().__init__(_libbpf.lib())
        self.rings: List[_Ring] = []
        self.samples: List[Any] = []  # each ring's C callback, kept alive while libbpf may call it

    def sample_of(self, ring: _Ring) -> Any:
        """libbpf's sample callback for ``ring``: the record at ``address`` of libbpf's mapping
        is at ``address - ring.distance`` in ours. Made for the ring, so that the common cases
        (bytes, or a record exactly ``record_type``'s size) run as few steps as they can."""
        state, end, pending, mapping = self, ring.end, self.pending, ring.data_map
        record_type, type_size, sized = ring.record_type, ring.type_size, ring.sized
        from_copy = None if record_type is None else record_type.from_buffer_copy

        def sample(ctx: Optional[int], address: int, size: int) -> int:
            if state.closing:  # libbpf stops here, past this record: _disarm puts it back
                if ring.rewind_to is None:
                    ring.rewind_to = ring.consumer[0]  # still this record's header (see locate)
                return -1
            try:
                start = address - ring.distance
                if not 0 <= start < end:  # the first record (or one not found in our mapping)
                    raw = ring.copied(address, size)
                    record = raw if from_copy is None else decode(record_type, type_size, raw)
                elif from_copy is None:
                    record = mapping[start:start + size]  # bytes: the callback may keep it
                elif size >= type_size:
                    record = from_copy(mapping, start)
                else:  # shorter than the type: its tail zero
                    record = decode(record_type, type_size, mapping[start:start + size])
                callback = ring.callback  # read each time: drain() through libbpf queues for a while
                if callback is None:
                    pending.append((record, size) if sized else record)
                elif sized:
                    callback(record, size)
                else:
                    callback(record)
                return 0
            except BaseException as exc:  # raised again by the poll; libbpf moves past this record
                state.keep(exc)
                return -1

        made = _abi.RINGBUF_SAMPLE_FN(sample)
        self.samples.append(made)
        return made

    def release(self) -> None:
        """Free libbpf's ring_buffer and our mappings (the finalizer; once). In a forked child
        only this process's copies go: libbpf's epoll set is the parent's too."""
        with _signals.deferred(in_finalizer=True):
            ptr, self.ptr = self.ptr, None
            if ptr is not None and self.pid == os.getpid():
                self.lib.ring_buffer__free(ptr)
            for ring in self.rings:
                ring.release()
            self.rings = []
            self.samples = []


class RingBuffer(EventBuffer):
    """Records from one or more ring buffer maps. ``callback(record)`` gets each record of its
    map as ``bytes``, or decoded as ``record_type`` (a ctypes type; a record of another size
    decodes too: see the module's docstring); a map added without a callback queues its records
    for iteration. ``with_size=True``: ``callback(record, size)``, and ``(record, size)``
    pairs queued, with each record's own size."""

    _kind = "RingBuffer"
    _state: _State

    def __init__(self, map: Optional[Map] = None, callback: Optional[Callable[..., Any]] = None, *,
                 record_type: Any = None, with_size: bool = False):
        self._start(_State())
        self._callbacks: List[Optional[Callable[..., Any]]] = []  # each ring's (see _arm)
        if map is not None:
            self.add(map, callback, record_type=record_type, with_size=with_size)

    def add(self, map: Map, callback: Optional[Callable[..., Any]] = None, *, record_type: Any = None,
            with_size: bool = False) -> None:
        """Also read the ring buffer ``map`` (with its own ``callback``, ``record_type`` and
        ``with_size``)."""
        with self._lock, _signals.deferred():  # a handler that closes this buffer runs after, not between
            state = self._usable()
            ring = _Ring(map, record_type, with_size)
            state.rings.append(ring)
            self._callbacks.append(callback)
            sample = state.sample_of(ring)
            try:
                if state.ptr is None:
                    state.ptr = state.lib.ring_buffer__new(ring.fd.fileno(), sample, None, None)
                else:
                    state.lib.ring_buffer__add(state.ptr, ring.fd.fileno(), sample, None)
            except BaseException:
                state.rings.pop()
                state.samples.pop()
                self._callbacks.pop()
                ring.release()
                raise

    def _arm(self, state: _State) -> None:
        for ring, callback in zip(state.rings, self._callbacks):
            ring.callback = callback

    def _disarm(self, state: _State) -> None:
        for ring in state.rings:
            ring.callback = None
            if ring.rewind_to is not None:  # the record libbpf moved past without handing it over
                ring.consumer[0], ring.rewind_to = ring.rewind_to, None

    def _poll_once(self, state: _State, milliseconds: int) -> int:
        return self._checked(state, state.lib.ring_buffer__poll(state.ptr, milliseconds), "ring_buffer__poll")

    def _consume_all(self, state: _State) -> int:
        return self._checked(state, state.lib.ring_buffer__consume(state.ptr), "ring_buffer__consume")

    def _consume_some(self, state: _State, limit: int) -> int:
        return self._checked(state, state.lib.ring_buffer__consume_n(state.ptr, limit), "ring_buffer__consume_n")

    def _epoll_fd(self, state: _State) -> int:
        return int(state.lib.ring_buffer__epoll_fd(state.ptr))

    def _queues(self) -> bool:
        return not self._callbacks or any(callback is None for callback in self._callbacks)

    def drain(self) -> List[Any]:
        """Every record there now, from every map, as a list (bytes, or ``record_type``; as
        ``(record, size)`` for a map added ``with_size``): read here in one pass, no callback
        per record. Records already queued come first; maps with a callback give theirs here
        too, not to the callback. The rings' positions move only once every record is read and
        decoded: a decoding error loses nothing."""

        def read(state: _State, signals: Any) -> List[Any]:
            if not _ORDERED:  # no portable acquire/release from Python: let libbpf walk the rings
                return self._drain_through_libbpf(state)
            out = list(state.pending)
            positions = []
            for ring in state.rings:
                records, position = _read_ring(ring)
                out += ring.decoded(records)
                positions.append(position)
            for ring, position in zip(state.rings, positions):  # signals are deferred: all or none
                ring.consumer[0] = position
            state.pending.clear()
            return out

        return list(self._run(read))

    def _drain_through_libbpf(self, state: _State) -> List[Any]:
        for ring in state.rings:
            ring.callback = None  # queued instead (armed again by the next poll)
        self._consume_all(state)
        out = list(state.pending)
        state.pending.clear()
        return out


def _read_ring(ring: _Ring) -> Tuple[List[bytes], int]:
    """The records of one ring, read from our mapping (x86-64: plain loads are acquire loads
    and plain stores release stores), and the consumer position past them (for the caller to
    store).

    What is there is copied out once; a run of records of one size (the usual case: one
    struct per event) is cut out of the copy without reading each header on its own."""
    consumer = ring.consumer[0]
    available = ring.producer[0] - consumer
    if available <= 0:
        return [], consumer
    at = _PAGE + (consumer & ring.mask)
    chunk = ring.data_map[at:at + available]  # the data pages are mapped twice: never wraps
    records: List[bytes] = []
    done = 0
    first = _HEADER(chunk, 0)[0]
    if not first & (_abi.RINGBUF_BUSY_BIT | _abi.RINGBUF_DISCARD_BIT):
        size, stride = first, (first + 15) & ~7
        count = available // stride
        headers = memoryview(chunk).cast("I")[:count * stride // 4:stride // 4]
        got, expected = headers.tobytes(), _WORD.pack(size) * count
        headers.release()
        same = count
        if got != expected:  # the run ends early (a record of another size, or one still reserved)
            low, same = 0, count - 1
            while low < same:  # the longest run of equal headers: slices compared at C speed
                middle = (low + same + 1) // 2
                if got[:4 * middle] == expected[:4 * middle]:
                    low = middle
                else:
                    same = middle - 1
        records = [chunk[i + 8:i + 8 + size] for i in range(0, same * stride, stride)]
        done = same * stride
    while done < available:  # records of other sizes, discarded ones, or a reserved one
        length = _HEADER(chunk, done)[0]
        if length & _abi.RINGBUF_BUSY_BIT:
            break  # reserved, not yet submitted: this and what follows wait for the next drain
        size = length & _LENGTH
        if not length & _abi.RINGBUF_DISCARD_BIT:
            records.append(chunk[done + 8:done + 8 + size])
        done += (size + 15) & ~7  # the 8-byte header, the record rounded up to 8
    return records, consumer + done


class UserRingBuffer:
    """Records this process writes into a ``BPF_MAP_TYPE_USER_RINGBUF`` map, for a program to
    take with ``bpf_user_ringbuf_drain()`` (libbpf >= 1.1, kernel >= 6.1). One writer at a
    time (a lock); a record is reserved and submitted with signals deferred in between, so an
    interrupt never leaves a reservation that would block the program's drain. A wait for room
    lasts a quarter second at most in C: a close from another thread is answered then."""

    def __init__(self, map: Map):
        info = map_of_type(map, MapType.USER_RINGBUF, "a UserRingBuffer")
        self._lib = _libbpf.lib()
        self._lock = _thread.RLock()  # reentrant: a signal handler of the writing thread may close
        self._closing = False         # close() asked, maybe while a submit waits in another thread
        self._pid = os.getpid()
        self._ring_size = info.max_entries
        box: List[Optional[int]] = [None]
        with _signals.deferred(), map._fd_in_use() as fd:
            box[0] = self._lib.user_ring_buffer__new(fd, None)  # libbpf keeps its own mappings, not fd
        self._box = box
        self._finalizer = weakref.finalize(self, _free_user_ring, self._lib, box, self._pid)
        self._finalizer.atexit = False  # type: ignore[misc]  # the process is ending: no free at exit

    @property
    def max_record_size(self) -> int:
        """The largest record the ring takes: its size less the 8-byte header (records are
        rounded up to 8 bytes)."""
        return min(self._ring_size - _abi.RINGBUF_HDR_SZ, _LENGTH)

    def submit(self, record: Any, *, timeout: Optional[float] = 0) -> None:
        """Write one record (bytes, or anything with the buffer protocol, e.g. a ctypes
        structure). With the ring full: ``timeout=0`` raises at once (ENOSPC), a number of
        seconds waits that long for the program to make room, None waits as long as it takes
        (a close from another thread ends the wait: ClosedError). A record larger than
        ``max_record_size`` is refused (E2BIG) before any of it is read."""
        check_timeout(timeout)
        with memoryview(record) as view, view.cast("B") as data:
            size = data.nbytes
            if not size:
                raise InvalidValueError("a record cannot be empty")
            if size > self.max_record_size:  # (libbpf takes the size as 32 bits: 2**32 + 16 would be 16)
                raise LibbpfError.for_errno(errno.E2BIG, f"a record of {size} bytes does not fit this ring of "
                                            f"{self._ring_size} bytes (at most {self.max_record_size} a record)")
            raw = data.tobytes()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                ptr = self._writable()
                left = _WAIT if deadline is None else min(_WAIT, deadline - time.monotonic())
                try:
                    with _signals.deferred():  # a signal waits at most one slice of the wait
                        if left <= 0:
                            sample = self._lib.user_ring_buffer__reserve(ptr, size)
                        else:
                            sample = self._lib.user_ring_buffer__reserve_blocking(ptr, size,
                                                                                  max(1, int(left * 1000)))
                        ctypes.memmove(sample, raw, size)
                        self._lib.user_ring_buffer__submit(ptr, sample)
                    return
                except OSError as exc:
                    out_of_time = deadline is not None and time.monotonic() >= deadline
                    if exc.errno not in (errno.ENOSPC, errno.ETIMEDOUT) or left <= 0 or out_of_time:
                        raise

    def _writable(self) -> int:
        """libbpf's buffer, unless closed (or closing) or in a forked child."""
        ptr = self._box[0]
        if ptr is None or self._closing:
            raise ClosedError("this UserRingBuffer is closed")
        if self._pid != os.getpid():
            raise UsageError("a UserRingBuffer cannot be used in a forked child")
        return ptr

    def close(self) -> None:
        """Free libbpf's buffer; safe to call twice. A submit waiting for room in another thread
        gives up (ClosedError) within a quarter second, and the buffer is freed then."""
        self._closing = True
        if self._pid != os.getpid():  # a forked child: the lock may be a copy held by a parent's thread
            self._finalizer()
            return
        with self._lock:
            self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> "UserRingBuffer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise InvalidTypeError("a UserRingBuffer cannot be pickled")


def _free_user_ring(lib: Any, box: List[Optional[int]], pid: int) -> None:
    with _signals.deferred(in_finalizer=True):
        ptr, box[0] = box[0], None
        if ptr is not None and pid == os.getpid():
            lib.user_ring_buffer__free(ptr)
