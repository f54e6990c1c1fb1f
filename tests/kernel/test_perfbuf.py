"""PerfBuffer against a real perf event array: bpf_progs/events.c's emit_perf sends config[0]
numbered records with bpf_perf_event_output when run with BPF_PROG_TEST_RUN."""

from __future__ import annotations

import asyncio
import os

import pytest
from support import Event, emit

import libbpf_py as bpf


def test_each_record_once_in_order_with_the_kernels_padding(events):
    got = []
    with bpf.PerfBuffer(events.maps["perf_events"], got.append) as pb:
        emit(events, 5, "emit_perf")
        assert pb.poll(5) == 5 and pb.consume() == 0
    assert [len(r) for r in got] == [20] * 5  # 16 bytes sent, padded so the header stays aligned
    assert [Event.from_buffer_copy(r).seq for r in got] == [0, 1, 2, 3, 4]
    assert {Event.from_buffer_copy(r).value for r in got} == {0xBEEF}


def test_a_full_ring_drops_records_and_says_how_many(events):
    lost = []
    with bpf.PerfBuffer(events.maps["perf_events"], on_lost=lambda cpu, n: lost.append((cpu, n)), pages=1,
                        record_type=Event) as pb:
        emit(events, 1000, "emit_perf")  # a one-page ring holds about 128 of them
        first = pb.consume()
        emit(events, 1, "emit_perf")  # the kernel writes the lost count when there is room again
        second = pb.consume()
        records = list(pb._state.pending)
    assert first + second + pb.lost == 1001 and pb.lost > 0 and sum(n for _, n in lost) == pb.lost
    numbers = [e.seq for e in records]
    assert numbers == sorted(numbers) and numbers[-1] == 1000


def test_a_callback_that_raises_loses_nothing(events):
    got = []

    def callback(record):
        seq = Event.from_buffer_copy(record).seq
        got.append(seq)
        if seq == 1:
            raise ValueError("stop at 1")

    with bpf.PerfBuffer(events.maps["perf_events"], callback) as pb:
        emit(events, 5, "emit_perf")
        with pytest.raises(ValueError, match="stop at 1"):
            pb.consume()
        assert got == [0, 1]
        assert pb.consume() == 3  # the records that followed, held back, then delivered
    assert got == [0, 1, 2, 3, 4]


def test_iteration_and_asyncio(events):
    with bpf.PerfBuffer(events.maps["perf_events"], record_type=Event) as pb:
        emit(events, 2, "emit_perf")
        it = iter(pb)
        assert [next(it).seq for _ in range(2)] == [0, 1]

        async def main():
            assert await pb.poll_async(0.05) == 0
            asyncio.get_running_loop().call_later(0.05, emit, events, 1, "emit_perf")
            async for record in pb:
                return record.seq

        assert asyncio.run(main()) == 2


def test_refusals_and_close(events):
    with pytest.raises(TypeError, match="not PERF_EVENT_ARRAY"):
        bpf.PerfBuffer(events.maps["events"])
    with pytest.raises(ValueError, match="power of two"):
        bpf.PerfBuffer(events.maps["perf_events"], pages=3)
    pb = bpf.PerfBuffer(events.maps["perf_events"], lambda r: None)
    with pytest.raises(TypeError, match="nothing is queued"):
        next(iter(pb))
    pb.close()
    pb.close()
    with pytest.raises(bpf.ClosedError):
        pb.poll(0)


def test_a_forked_child_cannot_use_the_parents_buffer(events):
    with bpf.PerfBuffer(events.maps["perf_events"], lambda r: None) as pb:
        pid = os.fork()
        if pid == 0:
            try:
                pb.poll(0)
            except RuntimeError:
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        emit(events, 1, "emit_perf")
        assert pb.consume() == 1


def test_rings_too_large_for_libbpf_are_refused(events):
    for pages in (1 << 40, 1 << 52):
        with pytest.raises(ValueError, match="at most"):
            bpf.PerfBuffer(events.maps["perf_events"], pages=pages)


def test_pages_is_an_int_not_a_bool_nor_a_float(events):
    for pages in (True, False, 1.0, "8", None):
        with pytest.raises(ValueError, match="pages must be a power of two"):
            bpf.PerfBuffer(events.maps["perf_events"], pages=pages)
    with pytest.raises(TypeError, match="with_size"):
        bpf.PerfBuffer(events.maps["perf_events"], with_size="yes")
    with pytest.raises(TypeError, match="ctypes type"):
        bpf.PerfBuffer(events.maps["perf_events"], record_type=bytes)
