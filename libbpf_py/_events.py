"""What ring buffers and perf buffers share: a libbpf buffer polled through an epoll fd, whose
callbacks run in the polling thread.

One poll at a time (a lock); a callback may not poll its own buffer again, but may close it. A
wait in C lasts a quarter second at most, so a close from another thread takes effect then and
a signal's handler runs as soon as the wait is interrupted (libbpf returns -EINTR); the wait
then goes on for the rest of its time. A callback's exception is kept and raised by the poll.
After fork, the child may not use its copy (libbpf's epoll set is shared with the parent)."""

from __future__ import annotations

import _thread
import collections
import ctypes
import errno
import math
import numbers
import os
import time
import weakref
from typing import Any, AsyncIterator, Callable, Deque, Iterator, List, Optional

from . import _signals
from .errors import ClosedError, InvalidTypeError, InvalidValueError, LibbpfError, UsageError

_SLICE = 0.25  # seconds: the longest wait in C (a close from another thread is seen then)
_SIZE_T_MAX = (1 << 64) - 1


def record_type_size(record_type: Any) -> int:
    """The size of ``record_type`` (0 for None: records stay bytes); TypeError when it is not
    a ctypes type."""
    if record_type is None:
        return 0
    try:
        size = ctypes.sizeof(record_type)
    except TypeError:
        size = -1
    if size < 0 or not isinstance(record_type, type) or not hasattr(record_type, "from_buffer_copy"):
        raise InvalidTypeError(f"record_type must be a ctypes type (it decodes each record with from_buffer_copy), "
                               f"not {record_type!r}")
    return size


def check_flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidTypeError(f"{what} must be True or False, not {value!r}")
    return value


def decode(record_type: Any, type_size: int, raw: bytes) -> Any:
    """One record as ``record_type``: a record shorter than the type is decoded with its
    missing tail zero, a longer one by its first ``type_size`` bytes."""
    if len(raw) < type_size:
        raw = raw + bytes(type_size - len(raw))
    return record_type.from_buffer_copy(raw)


def decode_all(record_type: Any, type_size: int, raws: List[bytes]) -> List[Any]:
    """``decode`` of each record; a run where every record is long enough costs no check."""
    copy = record_type.from_buffer_copy
    try:
        return [copy(raw) for raw in raws]
    except ValueError:  # some record shorter than the type
        return [decode(record_type, type_size, raw) for raw in raws]


class EventState:
    """What the C callbacks and the finalizer share: never the buffer object itself, so that it
    can be collected (its finalizer then frees libbpf's buffer)."""

    def __init__(self, lib: Any):
        self.lib = lib
        self.ptr: Optional[int] = None
        self.pending: Deque[Any] = collections.deque()  # records queued for iteration
        self.error: Optional[BaseException] = None      # the first exception of a callback
        self.closing = False                            # close() was asked: no record handed over
        self.pid = os.getpid()

    def keep(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc

    def release(self) -> None:
        raise NotImplementedError


class EventBuffer:
    """The poll/consume/fileno/iteration/asyncio face of a libbpf event buffer."""

    _kind = "event buffer"
    _state: EventState

    def _start(self, state: EventState) -> None:
        self._state = state
        self._lock = _thread.RLock()
        self._busy = False      # a poll or consume runs (a callback that polls again is refused)
        self._closing = False   # close() asked, maybe from another thread while a poll waits
        self._finalizer = weakref.finalize(self, state.release)
        # not at exit: a daemon thread may still be inside libbpf's poll, reading the rings (the
        # process is ending: its memory and fds go with it)
        self._finalizer.atexit = False  # type: ignore[misc]  # (a property the stubs miss)

    def _arm(self, state: Any) -> None:
        """Before a poll or consume: give the C callbacks the user's callbacks. They are held by
        this object only in between, never by the state the finalizer keeps (a callback that
        refers to its buffer would keep it alive forever)."""

    def _disarm(self, state: Any) -> None:
        """After a poll or consume (also one that raised)."""

    # what each kind of buffer calls in libbpf
    def _poll_once(self, state: Any, milliseconds: int) -> int:
        raise NotImplementedError

    def _consume_all(self, state: Any) -> int:
        raise NotImplementedError

    def _epoll_fd(self, state: Any) -> int:
        raise NotImplementedError

    def _queues(self) -> bool:
        """Whether some records are queued for iteration (not all go to callbacks)."""
        raise NotImplementedError

    def _usable(self) -> Any:
        state = self._state
        if self._closing or not self._finalizer.alive:
            raise ClosedError(f"this {self._kind} is closed")
        if state.pid != os.getpid():
            raise UsageError(f"a {self._kind} cannot be used in a forked child (its epoll set is the parent's)")
        return state

    def _run(self, operation: Callable[[Any, Any], Any]) -> Any:
        """``operation(state, signals)`` with the lock held, the callbacks armed and signals
        deferred (a handler would otherwise run at the start of a C callback, where ctypes
        prints and drops what it raises): the operation calls ``signals.run_noted()`` between
        its calls into C, and the handlers of signals still noted run as it ends."""
        with self._lock:
            state = self._usable()
            if state.ptr is None:
                raise InvalidValueError(f"this {self._kind} reads no map yet: add() one")
            if self._busy:
                raise UsageError(f"a {self._kind} callback cannot poll or consume the same {self._kind}")
            self._busy = True
            try:
                with _signals.deferred() as signals:
                    self._arm(state)
                    try:
                        return operation(state, signals)
                    finally:
                        self._disarm(state)
            finally:
                self._busy = False
                if self._closing:
                    self._finalizer()

    @staticmethod
    def _checked(state: EventState, result: int, function: str) -> int:
        error, state.error = state.error, None
        if error is not None:
            raise error
        if result < 0 and state.closing:
            return 0
        if result < 0 and result != -errno.EINTR:
            raise LibbpfError.for_errno(-result, None, function)
        return max(result, 0)

    def poll(self, timeout: Optional[float] = None) -> int:
        """Wait up to ``timeout`` seconds (None: until a record comes) for records, and handle
        all that are there; returns how many (0 when the time ran out)."""
        check_timeout(timeout)

        def wait(state: Any, signals: Any) -> int:
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = _SLICE if deadline is None else max(0.0, min(_SLICE, deadline - time.monotonic()))
                done = self._poll_once(state, int(left * 1000))
                signals.run_noted()  # an interrupted wait (EINTR) comes back here: the handler runs now
                if done > 0 or self._closing or (deadline is not None and time.monotonic() >= deadline):
                    return done

        return int(self._run(wait))

    def consume(self, limit: Optional[int] = None) -> int:
        """Handle every record there now (at most ``limit``: where libbpf can stop there),
        without waiting; returns how many."""
        if limit is None:
            return int(self._run(lambda state, signals: self._consume_all(state)))
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _SIZE_T_MAX:
            raise InvalidValueError(f"limit must be a positive int (at most 2**64 - 1), not {limit!r}")
        return int(self._run(lambda state, signals: self._consume_some(state, limit)))

    def _consume_some(self, state: Any, limit: int) -> int:
        raise NotImplementedError

    def fileno(self) -> int:
        """libbpf's epoll fd: readable when a record waits (for ``selectors`` and event loops)."""
        with self._lock:
            state = self._usable()
            if state.ptr is None:
                raise InvalidValueError(f"this {self._kind} reads no map yet: add() one")
            return self._epoll_fd(state)

    def __iter__(self) -> Iterator[Any]:
        """The queued records (those without a callback), waiting for more as needed."""
        if not self._queues():
            raise InvalidTypeError(f"every record of this {self._kind} goes to a callback: nothing is queued to "
                                   "iterate")
        pending = self._state.pending
        while True:
            while pending:
                yield pending.popleft()
            if self._ended():
                return  # closed (maybe from another thread): the iteration ends
            try:
                self.poll()
            except ClosedError:
                if self._ended():
                    return  # closed by another thread just before this poll: the same quiet end
                raise  # a callback's own ClosedError

    async def poll_async(self, timeout: Optional[float] = None) -> int:
        """As :meth:`poll`, awaiting the epoll fd in the running event loop (no thread)."""
        import asyncio

        check_timeout(timeout)
        handled = self.consume()
        if handled:
            return handled
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:  # in slices: a close from another thread is seen (the epoll fd never fires then)
            left = _SLICE if deadline is None else min(_SLICE, deadline - loop.time())
            if left <= 0:
                return 0
            ready = loop.create_future()
            fd = self.fileno()  # ClosedError once closed

            def readable(ready: Any = ready) -> None:
                if not ready.done():
                    ready.set_result(None)

            loop.add_reader(fd, readable)
            try:
                await asyncio.wait_for(ready, left)
            except asyncio.TimeoutError:
                continue
            finally:
                loop.remove_reader(fd)
            return self.consume()

    async def __aiter__(self) -> AsyncIterator[Any]:
        """As iteration, awaiting records in the running event loop; a close (from any thread)
        ends it quietly, as it ends ``for record in buffer``."""
        pending = self._state.pending
        while True:
            while pending:
                yield pending.popleft()
            if self._ended():
                return
            try:
                await self.poll_async()
            except ClosedError:
                if self._ended():
                    return  # closed by another thread while the loop awaited the epoll fd
                raise

    def _ended(self) -> bool:
        """Whether close() was asked (iteration ends then)."""
        return self._closing or self.closed

    def close(self) -> None:
        """Free the buffer; a poll waiting in another thread returns first, and a callback that
        closes it gets no further record. Safe to call twice. When a callback of another
        thread's poll runs for more than a second, the buffer is freed as that poll returns."""
        self._closing = self._state.closing = True
        if self._state.pid != os.getpid():  # a forked child: its lock may be a copy a parent's thread held
            self._finalizer()  # (frees this process's copies only)
            return
        if self._lock.acquire(blocking=False) or self._lock.acquire(timeout=2 * _SLICE + 1):
            try:
                if not self._busy:  # else the poll that runs (a callback called close) frees it on return
                    self._finalizer()
            finally:
                self._lock.release()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise InvalidTypeError(f"a {self._kind} cannot be pickled")


def check_timeout(timeout: Any) -> None:
    """A finite number of seconds >= 0, or None; a bool is refused (a mistaken flag)."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not (
            math.isfinite(timeout) and float(timeout) >= 0):
        raise InvalidValueError("timeout must be a number of seconds >= 0 (None waits as long as it takes), "
                                f"not {timeout!r}")
