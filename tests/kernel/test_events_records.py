"""Records of any size, and records a callback keeps: bpf_progs/events_sizes.c sends records of
the sizes listed in its `sizes` map (a prefix of `template`, as execsnoop trims its arguments)
to a ring buffer and a perf event array; bpf_progs/events.c sends fixed 16-byte records."""

from __future__ import annotations

import ctypes
import pickle
import struct

import pytest
from support import Event, emit

import libbpf_py as bpf

FULL = 7720  # sizeof(struct sized_event)
SIZES = [52, FULL, 8, 100, FULL - 1]


class Head(ctypes.Structure):
    """The first 16 bytes of struct sized_event: a type shorter than every record."""
    _fields_ = [("seq", ctypes.c_uint32), ("size", ctypes.c_uint32), ("payload", ctypes.c_uint8 * 8)]


def payload_byte(i: int) -> int:
    return i % 251 + 1  # never 0: a zero byte in a decoded record is the missing tail


@pytest.fixture
def sized(bpf_obj):
    with bpf.Object.open(bpf_obj("events_sizes")) as obj:
        obj.load()
        for name in ("template", "sizes"):
            obj.maps[name].key_type = int
        obj.maps["sizes"].value_type = int
        obj.maps["template"][0] = bytes(8) + bytes(payload_byte(i) for i in range(FULL - 8))
        yield obj


def send(obj, sizes=SIZES) -> None:
    for i in range(8):
        obj.maps["sizes"][i] = sizes[i] if i < len(sizes) else 0
    obj.programs["emit_sized"].test_run(bytes(64))


def sent(seq: int, size: int) -> bytes:
    """The bytes the program sent as record ``seq`` of ``size`` bytes."""
    return struct.pack("=II", seq, size) + bytes(payload_byte(i) for i in range(size - 8))


def check_decoded(record, size: int, seq: int, sent_size: int, record_type) -> None:
    """``record`` is record ``seq``: what was sent, then zero up to the type's size."""
    raw = bytes(record)
    assert type(record) is record_type and len(raw) == ctypes.sizeof(record_type)
    assert (record.seq, record.size) == (seq, sent_size)
    shown = min(sent_size, len(raw))
    assert raw[:shown] == sent(seq, sent_size)[:shown]
    past = min(max(size, shown), len(raw))
    assert raw[past:] == bytes(len(raw) - past)  # past the record: zero


def test_ring_records_shorter_than_their_type_decode_with_a_zero_tail_and_say_their_size(sized):
    record_type = sized.btf["struct sized_event"]
    assert ctypes.sizeof(record_type) == FULL
    got = []
    with bpf.RingBuffer(sized.maps["sized_ring"], lambda r, n: got.append((r, n)), record_type=record_type,
                        with_size=True) as rb:
        send(sized)
        assert rb.consume() == len(SIZES)
        send(sized)
        drained = rb.drain()
    for records in (got, drained):
        assert [n for _, n in records] == SIZES  # the ring keeps each record's own size
        for seq, (record, n) in enumerate(records):
            check_decoded(record, n, seq, SIZES[seq], record_type)


def test_ring_records_decode_queued_and_without_their_size(sized):
    record_type = sized.btf["struct sized_event"]
    plain = []
    with bpf.RingBuffer(sized.maps["sized_ring"], plain.append, record_type=record_type) as rb:
        send(sized)
        rb.poll(5)
    with bpf.RingBuffer(sized.maps["sized_ring"], record_type=record_type, with_size=True) as rb:
        send(sized)
        it = iter(rb)
        queued = [next(it) for _ in SIZES]
    assert [r.seq for r in plain] == list(range(len(SIZES)))
    for seq, record in enumerate(plain):
        check_decoded(record, SIZES[seq], seq, SIZES[seq], record_type)
    assert [n for _, n in queued] == SIZES and [r.seq for r, _ in queued] == list(range(len(SIZES)))


def test_ring_records_longer_than_their_type_decode_their_first_bytes(sized):
    got = []
    with bpf.RingBuffer(sized.maps["sized_ring"], lambda r, n: got.append((r, n)), record_type=Head,
                        with_size=True) as rb:
        send(sized, [FULL, 16, 9])
        rb.consume()
    assert [n for _, n in got] == [FULL, 16, 9]
    for seq, (record, n) in enumerate(got):
        check_decoded(record, n, seq, n, Head)


def test_ring_bytes_records_with_their_size(sized):
    got = []
    with bpf.RingBuffer(sized.maps["sized_ring"], lambda r, n: got.append((r, n)), with_size=True) as rb:
        send(sized)
        rb.consume()
        send(sized)
        drained = rb.drain()
    for records in (got, drained):
        assert [(r, n) for r, n in records] == [(sent(seq, n), n) for seq, n in enumerate(SIZES)]


def test_perf_records_shorter_than_their_type_decode_with_a_zero_tail_and_say_their_size(sized):
    """bcc's execsnoop case: PerfBuffer(m, record_type=<the BTF struct>) and a 52-byte record."""
    record_type = sized.btf["struct sized_event"]
    got = []
    with bpf.PerfBuffer(sized.maps["sized_perf"], lambda r, n: got.append((r, n)), record_type=record_type,
                        with_size=True) as pb:
        send(sized)
        assert pb.consume() == len(SIZES)
    with bpf.PerfBuffer(sized.maps["sized_perf"], record_type=record_type, with_size=True) as pb:
        send(sized)
        pb.consume()
        it = iter(pb)
        queued = [next(it) for _ in SIZES]
    plain = []
    with bpf.PerfBuffer(sized.maps["sized_perf"], plain.append, record_type=record_type) as pb:
        send(sized)
        pb.consume()
    for records in (got, queued):
        for seq, (record, n) in enumerate(records):
            wanted = SIZES[seq]
            assert wanted <= n <= wanted + 7 and (n + 4) % 8 == 0  # the kernel's padding, in the size
            check_decoded(record, n, seq, wanted, record_type)
    assert [r.seq for r in plain] == list(range(len(SIZES)))
    for seq, record in enumerate(plain):
        check_decoded(record, SIZES[seq] + 7, seq, SIZES[seq], record_type)


def test_perf_records_longer_than_their_type_decode_their_first_bytes(sized):
    got = []
    with bpf.PerfBuffer(sized.maps["sized_perf"], lambda r, n: got.append((r, n)), record_type=Head,
                        with_size=True) as pb:
        send(sized, [FULL, 16])
        pb.consume()
    assert [n for _, n in got] == [FULL + 4, 20]  # padded so that the 4-byte size and the record end on 8
    for seq, (record, n) in enumerate(got):
        check_decoded(record, n, seq, (FULL, 16)[seq], Head)


def test_a_held_back_perf_record_reaches_the_callback_with_its_size(sized):
    got = []

    def callback(record, size):
        got.append((record.seq, size))
        if record.seq == 0:
            raise ValueError("stop at 0")

    with bpf.PerfBuffer(sized.maps["sized_perf"], callback, record_type=Head, with_size=True) as pb:
        send(sized, [16, 52, 8])
        with pytest.raises(ValueError, match="stop at 0"):
            pb.consume()
        assert pb.consume() == 2  # held back behind the exception, then handed over as (record, size)
    assert got == [(0, 20), (1, 52), (2, 12)]





def test_a_callback_may_keep_buffers_exported_from_its_records_and_they_never_change(events):
    """struct.iter_unpack and pickle.PickleBuffer hold the record's buffer after the callback:
    delivered without an error, and what they read stays the record's even after the ring's
    memory has been reused by many later records."""
    kept = []

    def keep(record):
        if len(kept) < 3:
            kept.append((struct.iter_unpack("=IIQ", record), pickle.PickleBuffer(record), memoryview(record)))

    with bpf.RingBuffer(events.maps["events"], keep) as rb:
        emit(events, 3)
        assert rb.poll(5) == 3
        for _ in range(6):  # 6 x 2048 x 24 bytes: the 64 KiB ring is written over several times
            emit(events, 2048)
            assert rb.consume() == 2048
    assert [next(unpacked)[0] for unpacked, _, _ in kept] == [0, 1, 2]
    assert [Event.from_buffer_copy(buffer.raw()).seq for _, buffer, _ in kept] == [0, 1, 2]
    assert [Event.from_buffer_copy(view).value for _, _, view in kept] == [64, 64, 64]
