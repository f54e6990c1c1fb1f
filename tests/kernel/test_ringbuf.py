"""RingBuffer against real ring buffer maps: bpf_progs/events.c submits numbered records when
run with BPF_PROG_TEST_RUN (config[0] records a run) and on each getpgid() of this process."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import gc
import os
import selectors
import signal
import threading
import time

import pytest
from support import Event, emit

import libbpf_py as bpf


def seqs(records) -> list:
    return [Event.from_buffer_copy(r).seq for r in records]


def test_poll_hands_each_record_once_in_order_as_bytes(events):
    got = []
    with bpf.RingBuffer(events.maps["events"], lambda r: got.append((type(r), bytes(r)))) as rb:
        emit(events, 7)
        assert rb.poll(5) == 7
        assert rb.consume() == 0 and rb.poll(0.05) == 0
    assert {kind for kind, _ in got} == {bytes}
    assert seqs(data for _, data in got) == list(range(7))
    assert all(Event.from_buffer_copy(data).value == 64 for _, data in got)


def test_records_decode_to_a_record_type_and_iterate_without_a_callback(events):
    with bpf.RingBuffer(events.maps["events"], record_type=Event) as rb:
        emit(events, 4)
        it = iter(rb)
        got = [next(it) for _ in range(4)]
    assert [type(e) for e in got] == [Event] * 4 and [e.seq for e in got] == [0, 1, 2, 3]


def test_drain_reads_every_record_in_one_pass_and_shares_the_position_with_poll(events):
    got = []
    with bpf.RingBuffer(events.maps["events"], lambda r: got.append(bytes(r))) as rb:
        emit(events, 3000 // 24)          # fills part of the ring
        drained = rb.drain()
        emit(events, 5)
        assert rb.consume() == 5
        emit(events, 2)
        drained += rb.drain()
        assert rb.drain() == [] and rb.consume() == 0
    assert seqs(drained) == list(range(125)) + [130, 131] and seqs(got) == list(range(125, 130))


def test_drain_reads_records_of_mixed_sizes_and_skips_discarded_ones_as_libbpf_does(events):
    """emit_mixed submits records of 8, 24 and 40 bytes in turn and discards every fourth: drain
    (read here) and consume (libbpf's walk) see the same records."""
    expected = [(seq, (8, 24, 40)[seq % 3]) for seq in range(30) if seq % 4 != 3]
    with bpf.RingBuffer(events.maps["events"]) as rb:
        emit(events, 30, "emit_mixed")
        drained = [(int.from_bytes(r[:4], "little"), len(r)) for r in rb.drain()]
        events.maps["config"][1] = 0
        emit(events, 30, "emit_mixed")
        rb.consume()  # through libbpf, queued
        walked = [(int.from_bytes(r[:4], "little"), len(r)) for r in rb.drain()]
    assert drained == walked == expected


def test_two_maps_each_with_its_callback(events):
    mine, theirs = [], []
    with bpf.RingBuffer(events.maps["events"], lambda r: mine.append(bytes(r))) as rb:
        rb.add(events.maps["other_events"], lambda r: theirs.append(bytes(r)))
        emit(events, 2)
        emit(events, 3, "emit_other")
        while len(mine) + len(theirs) < 5:
            rb.poll(5)
    assert seqs(mine) == [0, 1] and seqs(theirs) == [2, 3, 4]


def test_a_callback_that_raises_stops_the_poll_and_loses_nothing(events):
    got = []

    def callback(record):
        seq = Event.from_buffer_copy(record).seq
        got.append(seq)
        if seq == 2:
            raise ValueError("stop at 2")

    with bpf.RingBuffer(events.maps["events"], callback) as rb:
        emit(events, 6)
        with pytest.raises(ValueError, match="stop at 2"):
            rb.poll(5)
        assert got == [0, 1, 2]
        assert rb.consume() == 3
    assert got == [0, 1, 2, 3, 4, 5]  # each once


def test_a_keyboard_interrupt_in_a_callback_reaches_the_caller(events):
    calls = []

    def callback(record):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt

    with bpf.RingBuffer(events.maps["events"], callback) as rb:
        emit(events, 2)
        with pytest.raises(KeyboardInterrupt):
            rb.consume()
        assert rb.consume() == 1


def test_a_record_kept_after_its_callback_stays_its_own_after_the_ring_is_reused_and_closed(events):
    kept = []
    with bpf.RingBuffer(events.maps["events"], lambda r: kept.append(r) if len(kept) < 2 else None) as rb:
        emit(events, 2)
        rb.poll(5)
        for _ in range(4):  # 4 x 2048 x 24 bytes: the ring's memory holds later records now
            emit(events, 2048)
            rb.consume()
    assert seqs(kept) == [0, 1] and rb.closed  # a copy each: nothing of them was in the ring's mapping


def test_a_slow_consumer_sees_drops_counted_and_nothing_corrupted(events):
    with bpf.RingBuffer(events.maps["events"]) as rb:
        produced = 0
        for _ in range(4):
            emit(events, 4096)  # 4 x 4096 x 24 bytes into a 64 KiB ring: most are refused
            produced += 4096
        records = rb.drain()
    dropped = events.maps["drops"][0]
    numbers = seqs(records)
    assert dropped > 0 and len(records) + dropped == produced
    assert numbers == sorted(set(numbers))  # in order, none twice
    assert all(Event.from_buffer_copy(r).value == 64 for r in records)


def test_asyncio_awaits_the_epoll_fd(events):
    async def main():
        with bpf.RingBuffer(events.maps["events"], record_type=Event) as rb:
            assert await rb.poll_async(0.05) == 0
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, emit, events, 3)
            received = []
            async for record in rb:
                received.append(record.seq)
                if len(received) == 3:
                    break
            return received

    assert asyncio.run(main()) == [0, 1, 2]


def test_fileno_plugs_into_selectors(events):
    with bpf.RingBuffer(events.maps["events"], record_type=Event) as rb, selectors.DefaultSelector() as sel:
        sel.register(rb.fileno(), selectors.EVENT_READ)
        assert sel.select(0.05) == []
        emit(events, 1)
        assert len(sel.select(5)) == 1 and rb.consume() == 1


def test_a_real_syscall_tracepoint_streams_records(events, tracefs):
    with events.programs["getpgid_events"].attach(), bpf.RingBuffer(events.maps["events"], record_type=Event) as rb:
        for _ in range(3):
            os.getpgid(0)
        got = []
        while len(got) < 3:
            rb.poll(5)
            got += rb.drain()
    assert [e.value for e in got] == [0xFEED] * 3


def test_close_from_another_thread_ends_a_waiting_poll(events):
    rb = bpf.RingBuffer(events.maps["events"], lambda r: None)
    done = threading.Event()

    def wait():
        rb.poll()  # forever, until closed
        done.set()

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    rb.close()
    assert done.wait(5) and time.monotonic() - started < 2
    thread.join()
    assert rb.closed
    rb.close()  # twice
    with pytest.raises(bpf.ClosedError):
        rb.poll(0)


def test_a_callback_cannot_poll_again_but_may_close(events):
    errors = []

    def reenter(record):
        try:
            rb.consume()
        except RuntimeError as exc:
            errors.append(str(exc))
        rb.close()

    rb = bpf.RingBuffer(events.maps["events"], reenter)
    emit(events, 2)
    rb.consume()
    assert errors and "cannot poll or consume" in errors[0] and rb.closed


def test_a_signal_during_a_wait_runs_its_handler_and_the_wait_goes_on(events):
    seen = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: seen.append(1))
    try:
        with bpf.RingBuffer(events.maps["events"], lambda r: None) as rb:
            timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGUSR1))
            timer.start()
            started = time.monotonic()
            assert rb.poll(0.5) == 0
            assert seen == [1] and time.monotonic() - started >= 0.45
            timer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_refusals(events):
    with pytest.raises(TypeError, match="not RINGBUF"):
        bpf.RingBuffer(events.maps["config"])
    with pytest.raises(TypeError, match="ctypes type"):
        bpf.RingBuffer(events.maps["events"], record_type=int)
    with bpf.RingBuffer() as empty:
        with pytest.raises(ValueError, match="add"):
            empty.poll(0)
    with bpf.RingBuffer(events.maps["events"], lambda r: None) as rb:
        with pytest.raises(ValueError, match="timeout"):
            rb.poll(-1)
        with pytest.raises(TypeError, match="nothing is queued"):
            next(iter(rb))
        with pytest.raises(TypeError):
            __import__("pickle").dumps(rb)


def test_a_forked_child_cannot_use_the_parents_buffer(events):
    with bpf.RingBuffer(events.maps["events"], lambda r: None) as rb:
        pid = os.fork()
        if pid == 0:
            try:
                rb.poll(0)
            except RuntimeError:
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        emit(events, 1)
        assert rb.consume() == 1  # the parent's buffer still works


@pytest.mark.parametrize("kind", ["ring", "perf"])
def test_a_forked_child_closes_its_copy_at_once_while_a_parents_thread_polls(events, kind):
    """The child's copy of the lock is held by a thread it does not have: close() must not wait
    for it (it gave up after 1.5 s, closing nothing), and frees the child's copies only (the
    parent's poll goes on)."""
    import threading
    import warnings

    made = bpf.RingBuffer(events.maps["events"], lambda r: None) if kind == "ring" else \
        bpf.PerfBuffer(events.maps["perf_events"], lambda r: None)
    with made as buffer:
        poller = threading.Thread(target=lambda: buffer.poll(timeout=2), daemon=True)
        poller.start()
        time.sleep(0.3)  # the thread waits in libbpf, holding the buffer's lock
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # (fork with a thread running)
            pid = os.fork()
        if pid == 0:
            buffer.close()
            os._exit(0 if buffer.closed else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        poller.join()
        assert not buffer.closed


def test_records_decode_with_the_type_the_objects_btf_gives(events):
    record_type = events.btf["struct event"]
    events.btf.check("struct event", Event)  # the hand-written type agrees with BTF
    with bpf.RingBuffer(events.maps["events"], record_type=record_type) as rb:
        emit(events, 2)
        got = rb.drain()
    assert [type(r) for r in got] == [record_type] * 2 and [(r.seq, r.value) for r in got] == [(0, 64), (1, 64)]


def test_drain_goes_through_libbpf_where_python_has_no_memory_ordering(events, monkeypatch):
    """On machines other than x86-64, drain() lets libbpf walk the rings (its acquire/release
    loads and stores) and queues what its callbacks would have been given."""
    from libbpf_py import ringbuf

    monkeypatch.setattr(ringbuf, "_ORDERED", False)
    called = []
    with bpf.RingBuffer(events.maps["events"], called.append) as rb:
        emit(events, 4)
        assert seqs(rb.drain()) == [0, 1, 2, 3] and called == []
        emit(events, 1)
        assert rb.consume() == 1 and len(called) == 1  # the callback is back


def test_a_user_ring_buffer_feeds_the_program(events):
    with bpf.UserRingBuffer(events.maps["user_events"]) as user:
        for value in (5, 7, 30):
            user.submit(value.to_bytes(8, "little"))
        user.submit(Event(seq=1, cpu=2, value=0))  # any buffer: a ctypes structure too (its first 8 bytes: 1, 2)
        events.programs["take_user"].test_run(bytes(64))
        assert events.globals["user_count"] == 4 and events.globals["user_total"] == 42 + (2 << 32 | 1)
        with pytest.raises(ValueError, match="empty"):
            user.submit(b"")
        big = bytes(8000)
        with pytest.raises(OSError):
            user.submit(big)  # larger than the ring
        while True:  # fill it
            try:
                user.submit(bytes(64))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        started = time.monotonic()
        with pytest.raises(OSError):
            user.submit(bytes(64), timeout=0.3)  # waits for room that never comes
        assert time.monotonic() - started >= 0.28
        events.programs["take_user"].test_run(bytes(64))  # the program drains: room again
        user.submit(bytes(64))
    assert user.closed
    with pytest.raises(bpf.ClosedError):
        user.submit(b"x")
    with pytest.raises(TypeError, match="not USER_RINGBUF"):
        bpf.UserRingBuffer(events.maps["events"])


EXIT_WHILE_POLLING = """
import sys, threading, time
import libbpf_py as bpf
obj = bpf.Object.open(sys.argv[1])
obj.load()
obj.maps["config"].key_type = obj.maps["config"].value_type = int
rb = bpf.RingBuffer(obj.maps["events"], lambda r: None)
threading.Thread(target=rb.poll, daemon=True).start()
def produce():
    while True:
        obj.programs["emit"].test_run(bytes(64))
        time.sleep(0.0005)
threading.Thread(target=produce, daemon=True).start()
time.sleep(0.2)
"""


def test_the_process_exits_cleanly_while_a_daemon_thread_polls(bpf_obj):
    import subprocess
    import sys

    for _ in range(5):  # the interpreter's exit must not free the rings under libbpf's poll
        done = subprocess.run([sys.executable, "-c", EXIT_WHILE_POLLING, str(bpf_obj("events"))],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr


def test_a_raising_signal_handler_during_a_walk_loses_no_record(events):
    class Stop(Exception):
        pass

    def handler(*_):
        raise Stop

    got = []

    def slow(record):
        got.append(Event.from_buffer_copy(record).seq)
        for _ in range(200):
            pass

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        with bpf.RingBuffer(events.maps["events"], slow) as rb:
            raised = 0
            for _ in range(5):
                emit(events, 2500)
                timer = threading.Timer(0.003, os.kill, (os.getpid(), signal.SIGUSR1))
                timer.start()
                while True:
                    try:
                        if rb.consume() == 0 and not timer.is_alive() and rb.consume() == 0:
                            break
                    except Stop:
                        raised += 1
                timer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert raised == 5 and got == list(range(5 * 2500))  # raised from consume, every record once


def test_a_buffer_whose_callback_refers_to_it_is_collected(events):
    class Consumer:
        def __init__(self, m, kind):
            self.buffer = bpf.RingBuffer(m, self.on) if kind == "ring" else bpf.PerfBuffer(m, self.on)

        def on(self, record):
            pass

    before = len(os.listdir("/proc/self/fd"))
    for kind, name in (("ring", "events"), ("perf", "perf_events")):
        for _ in range(10):
            Consumer(events.maps[name], kind)
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


def test_closing_from_a_callback_leaves_the_next_records_in_the_ring(events):
    got = []

    def callback(record):
        got.append(Event.from_buffer_copy(record).seq)
        if len(got) == 3:
            rb.close()

    rb = bpf.RingBuffer(events.maps["events"], callback)
    emit(events, 10)
    rb.consume()
    with bpf.RingBuffer(events.maps["events"]) as again:
        assert got == [0, 1, 2] and seqs(again.drain()) == list(range(3, 10))


def test_a_drain_that_cannot_decode_its_records_loses_none(events):
    class Picky(ctypes.Structure):
        """Refuses to decode record 5 (records of any size decode otherwise)."""
        _fields_ = [("seq", ctypes.c_uint32), ("rest", ctypes.c_uint8 * 12)]

        @classmethod
        def from_buffer_copy(cls, source, offset=0):
            record = type(cls).from_buffer_copy(cls, source, offset)  # ctypes keeps it on the metaclass
            if record.seq == 5:
                raise ValueError("record 5 is refused")
            return record

    with bpf.RingBuffer(events.maps["events"], record_type=Picky) as rb:
        emit(events, 9, "emit_mixed")
        with pytest.raises(ValueError, match="record 5"):
            rb.drain()
    with bpf.RingBuffer(events.maps["events"]) as again:
        assert len(again.drain()) == 7  # 9 submitted, 2 discarded: all still there


def test_poll_async_ends_when_another_thread_closes_the_buffer(events):
    rb = bpf.RingBuffer(events.maps["events"], lambda r: None)

    async def main():
        threading.Timer(0.1, rb.close).start()
        started = time.monotonic()
        with pytest.raises(bpf.ClosedError):
            await rb.poll_async()
        return time.monotonic() - started

    assert asyncio.run(main()) < 2


def test_timeouts_are_finite_numbers(events):
    with bpf.RingBuffer(events.maps["events"], lambda r: None) as rb:
        for bad in (float("nan"), float("inf"), -1, True, "1"):
            with pytest.raises(ValueError, match="timeout"):
                rb.poll(bad)
    with bpf.UserRingBuffer(events.maps["user_events"]) as user:
        for bad in (float("nan"), float("inf"), -1, True, "1"):
            with pytest.raises(ValueError, match="timeout"):
                user.submit(b"12345678", timeout=bad)
    assert events.globals["user_count"] == 0  # nothing was written
    with pytest.raises(TypeError, match="with_size"):
        bpf.RingBuffer(events.maps["events"], with_size=1)


def test_consume_with_a_limit_needs_libbpf_1_5_and_stops_there(events):
    from libbpf_py import _libbpf

    with bpf.RingBuffer(events.maps["events"]) as rb:
        emit(events, 5)
        if not _libbpf.lib().has("ring_buffer__consume_n"):
            with pytest.raises(bpf.LibbpfFeatureError, match="needs libbpf >= 1.5.0") as exc:
                rb.consume(2)
            assert exc.value.function == "ring_buffer__consume_n"
            assert rb.consume() == 5  # nothing was taken by the refused call
            return
        assert rb.consume(2) == 2 and rb.consume() == 3
        with pytest.raises(ValueError, match="limit"):
            rb.consume(0)


@pytest.mark.parametrize("kind", ["ring", "perf"])
def test_iteration_ends_quietly_when_another_thread_closes_the_buffer(events, kind):
    """``for r in buffer`` and ``async for r in buffer`` both end, without an error, when another
    thread closes the buffer while they wait; a poll of the closed buffer still raises."""
    def make():
        if kind == "ring":
            return bpf.RingBuffer(events.maps["events"], record_type=Event)
        return bpf.PerfBuffer(events.maps["perf_events"], record_type=Event)

    buffer = make()
    threading.Timer(0.2, buffer.close).start()
    started = time.monotonic()
    assert list(buffer) == []
    assert time.monotonic() - started < 5

    async def main(buffer):
        threading.Timer(0.2, buffer.close).start()
        return [record async for record in buffer]

    buffer = make()
    started = time.monotonic()
    assert asyncio.run(main(buffer)) == []
    assert time.monotonic() - started < 5 and buffer.closed
    with pytest.raises(bpf.ClosedError):
        buffer.poll(0)


def test_close_from_another_thread_ends_a_submit_waiting_for_room(events):
    user = bpf.UserRingBuffer(events.maps["user_events"])
    while True:  # fill it
        try:
            user.submit(bytes(64))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            break
    outcome = []

    def wait_for_room():
        try:
            user.submit(bytes(64), timeout=None)  # the program never drains: waits until closed
            outcome.append("submitted")
        except bpf.ClosedError:
            outcome.append("closed")

    waiter = threading.Thread(target=wait_for_room, daemon=True)
    waiter.start()
    time.sleep(0.3)
    closer = threading.Thread(target=user.close, daemon=True)
    closer.start()
    closer.join(2)
    try:
        assert not closer.is_alive(), "close() did not return while a submit waited for room"
    finally:
        if closer.is_alive():  # let the waiting submit through, so that the close returns
            events.programs["take_user"].test_run(bytes(64))
        closer.join(5)
        waiter.join(5)
    assert outcome == ["closed"] and user.closed
