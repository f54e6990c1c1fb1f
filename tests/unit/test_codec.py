"""Keys and values to bytes and back (no kernel needed)."""

from __future__ import annotations

import ctypes
import sys

import pytest

from libbpf_py._codec import Codec, PerCpuCodec, Slot


class Pair(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint32)]


def test_ints_are_packed_to_the_size_in_host_order():
    assert Codec(4).encode(1) == (1).to_bytes(4, "little")
    assert Codec(3).encode(0xABCDEF) == bytes([0xEF, 0xCD, 0xAB])
    assert Codec(8, int).decode(Codec(8).encode(2**64 - 1)) == 2**64 - 1
    for bad in (-1, 2**32):
        with pytest.raises(ValueError, match="does not fit in 4"):
            Codec(4, what="key").encode(bad)


def test_bytes_and_ctypes_must_have_the_exact_size():
    codec = Codec(8, what="value")
    assert codec.encode(bytearray(8)) == bytes(8)
    assert codec.encode(Pair(1, 2)) == bytes(Pair(1, 2))
    assert codec.encode(memoryview(b"12345678")) == b"12345678"
    with pytest.raises(ValueError, match="value must be 8 bytes, got 4"):
        codec.encode(ctypes.c_uint32(1))
    for wrong in ("12345678", 1.5, None, object()):
        with pytest.raises(TypeError):
            codec.encode(wrong)


def test_a_bool_is_the_int_it_equals_as_in_array_and_struct():
    """Batch operations pack with array.array, which takes bools as 0 and 1: one element
    is encoded the same way, so both paths accept the same keys."""
    assert Codec(4, what="key").encode(True) == (1).to_bytes(4, sys.byteorder)
    assert Codec(4, what="key").encode(False) == bytes(4)


def test_decoding_to_the_chosen_type():
    raw = bytes(Pair(5, 6))
    assert Codec(8).decode(raw) == raw
    assert Codec(8, int).decode(raw) == 5 + (6 << 32)
    pair = Codec(8, Pair).decode(raw)
    assert (pair.a, pair.b) == (5, 6)
    assert Codec(4, int).decode_many(bytes(range(8)), 2) == [0x03020100, 0x07060504]
    assert Codec(3, int).decode_many(bytes(range(6)), 2) == [0x020100, 0x050403]


def test_type_must_match_the_size():
    with pytest.raises(ValueError, match="Pair is 8 bytes, the map's value is 4"):
        Codec(4, Pair)
    with pytest.raises(TypeError):
        Codec(4, str)


def test_slot_reuses_one_buffer():
    slot = Slot(Codec(4, int, "key"))
    address = slot.ptr.value
    slot.store(7)
    assert slot.load() == 7 and bytes(slot.view) == (7).to_bytes(4, "little")
    slot.store(b"\x01\x00\x00\x00")
    assert slot.load() == 1 and slot.ptr.value == address
    with pytest.raises(ValueError):
        slot.store(2**32)


def test_keyless_slot_is_null_and_takes_only_none():
    slot = Slot(Codec(0, bytes, "key"))
    assert slot.ptr.value is None
    slot.store(None)
    with pytest.raises(ValueError, match="no keys"):
        slot.store(1)


def test_percpu_values_pad_each_cpu_to_8_bytes():
    codec = PerCpuCodec(Codec(4, int), 3)
    raw = codec.encode([1, 2, 3])
    assert len(raw) == 24 and raw[:8] == (1).to_bytes(4, "little") + bytes(4)
    assert codec.decode(raw) == [1, 2, 3]
    assert codec.decode_many(raw + codec.encode([4, 5, 6]), 2) == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(ValueError, match="needs 3 entries"):
        codec.encode([1, 2])
    with pytest.raises(TypeError):
        codec.encode(1)
