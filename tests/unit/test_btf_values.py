"""Values read and written through BTF (btf_values), on the BTF clang wrote for
bpf_progs/btf_values.c: every shape a map key or value takes, and refusals that name the problem."""

from __future__ import annotations

import struct

import pytest

from libbpf_py.btf_values import decode, encode
from libbpf_py.elf import btf as btf_kinds
from libbpf_py.elf.btf import Btf, Type
from libbpf_py.elf.file import ElfFile


@pytest.fixture(scope="module")
def btf(bpf_obj) -> Btf:
    elf = ElfFile.parse(bpf_obj("btf_values").read_bytes())
    return Btf.parse(elf.section(".BTF").data, elf.byteorder)


def struct_id(btf: Btf, name: str) -> int:
    found = btf.find(name, btf_kinds.STRUCT)
    assert found
    return found


RECORD = {"name": "tc", "color": "BLUE", "small": 5, "negative": -7, "flag": 1, "ok": True,
          "points": [{"x": -1, "y": 2}, {"x": 3, "y": -4}], "as_u32": 0x01020304, "as_bytes": [4, 3, 2, 1],
          "delta": -9, "counts": [1, 2, 3]}


def test_a_record_round_trips_and_lays_out_as_the_compiler_did(btf):
    record = struct_id(btf, "record")
    data = encode(btf, record, RECORD)
    assert len(data) == btf.size_of(record) == 64
    assert data[:3] == b"tc\0" and struct.unpack_from("<i", data, 12)[0] == -3       # char[12], enum BLUE
    assert struct.unpack_from("<hhhh", data, 20) == (-1, 2, 3, -4)
    assert struct.unpack_from("<Iq", data, 28) == (0x01020304, -9)
    assert decode(btf, record, data) == RECORD


def test_bitfields_keep_their_neighbours(btf):
    record = struct_id(btf, "record")
    data = encode(btf, record, {"small": 7, "negative": -16, "flag": 1})
    assert decode(btf, record, data) | {} == {**decode(btf, record, bytes(64)), "small": 7, "negative": -16,
                                              "flag": 1}
    data = encode(btf, record, {"negative": 15})
    assert decode(btf, record, data)["small"] == 0 and decode(btf, record, data)["negative"] == 15


def test_enums_take_names_or_numbers_and_unknown_numbers_stay_numbers(btf):
    record = struct_id(btf, "record")
    assert decode(btf, record, encode(btf, record, {"color": 2}))["color"] == "GREEN"
    data = bytearray(64)
    struct.pack_into("<i", data, 12, 42)
    assert decode(btf, record, bytes(data))["color"] == 42


@pytest.mark.parametrize("value, words", [
    ({"nope": 1}, "no member 'nope'"),
    ({"color": "PURPLE"}, "no enumerator 'PURPLE'"),
    ({"small": 8}, r"does not fit in small \(unsigned 3 bits: 0 to 7\)"),
    ({"small": -1}, "does not fit in small"),
    ({"negative": 16}, r"signed 5 bits: -16 to 15"),
    ({"delta": 1 << 63}, "signed 64 bits"),
    ({"ok": 2}, "bool"),
    ({"name": "a name far too long"}, r"longer than its char\[12\]"),
    ({"counts": [1, 2, 3, 4]}, "at most 3 items"),
    ({"delta": "x"}, "expected an integer"),
    ([1], "expected a dict"),
])
def test_values_that_do_not_fit_are_refused_by_name(btf, value, words):
    with pytest.raises(ValueError, match=words):
        encode(btf, struct_id(btf, "record"), value)


def test_too_few_bytes_are_refused(btf):
    with pytest.raises(ValueError, match="too few"):
        decode(btf, struct_id(btf, "record"), bytes(10))


def test_a_type_that_contains_itself_is_refused_not_recursed():
    btf = Btf("little")
    u32 = btf.add_int("u32", 4)
    loop = btf.add_struct("loop", [("x", u32, 0)], 4)
    member_name = struct.unpack_from("<I", btf.types[loop - 1].tail)[0]
    btf.types[loop - 1].tail = struct.pack("<III", member_name, loop, 0)  # x is a loop itself
    with pytest.raises(ValueError, match="nest deeper"):
        decode(btf, loop, bytes(4))


def test_a_section_of_globals_reads_and_writes_by_variable_name():
    btf = Btf("little")
    u32 = btf.add_int("u32", 4)
    s16 = btf.add_int("s16", 2, signed=True)
    a, b = btf.add_var("a", u32), btf.add_var("b", s16)
    section = btf.add_datasec(".data", [(a, 0, 4), (b, 4, 2)], 8)
    data = encode(btf, section, {"a": 7, "b": -2})
    assert data == struct.pack("<Ih", 7, -2) + bytes(2)
    assert decode(btf, section, data) == {"a": 7, "b": -2}
    with pytest.raises(ValueError, match="no variable 'c'"):
        encode(btf, section, {"c": 1})


def test_floats_take_numbers_that_fit():
    btf = Btf("little")
    f32 = btf.add(Type(btf.add_string("float"), btf_kinds.FLOAT << 24, 4))
    assert decode(btf, f32, encode(btf, f32, 1.5)) == 1.5
    for bad, words in ((1e39, "does not fit"), ({}, "expected a number"), ("1.5", "expected a number"),
                       (True, "expected a number")):
        with pytest.raises(ValueError, match=words):
            encode(btf, f32, bad)


def test_an_array_of_empty_structs_is_refused_not_built():
    btf = Btf("little")
    u32 = btf.add_int("u32", 4)
    empty = btf.add_struct("empty", [], 0)
    many = btf.add_array(empty, u32, 0xFFFFFFFF)
    holder = btf.add_struct("holder", [("x", u32, 0), ("e", many, 32)], 4)
    with pytest.raises(ValueError, match="more members than its bytes"):
        decode(btf, holder, bytes(4))


def char_array(length: int) -> "tuple[Btf, int]":
    btf = Btf("little")
    char = btf.add(Type(btf.add_string("char"), btf_kinds.INT << 24, 1, struct.pack("<I", 1 << 24 | 8)))
    return btf, btf.add_array(char, btf.add_int("u32", 4), length)


@pytest.mark.parametrize("raw, shown", [
    (b"tc\0\0\0\0", "tc"),                 # a C string and NULs: text, as bpftool shows it
    (b"abcdef", "abcdef"),                 # no NUL at all: still all of it
    (b"caf\xc3\xa9\0", "caf\u00e9"),
    (b"a\0b\0\0\0", [97, 0, 98, 0, 0, 0]),  # bytes after the first NUL: a str would lose them
    (b"\xff\0\0\0\0\0", [-1, 0, 0, 0, 0, 0]),  # not UTF-8 (a signed char, as clang's char is)
])
def test_a_char_array_reads_as_text_only_when_no_byte_is_lost(raw, shown):
    btf, array = char_array(6)
    assert decode(btf, array, raw) == shown
    assert encode(btf, array, shown) == raw  # what was read writes back the same bytes


def test_a_type_larger_than_any_map_value_is_refused_before_allocating():
    btf = Btf("little")
    u64 = btf.add_int("u64", 8)
    huge = btf.add_array(btf.add_array(u64, u64, 1 << 20), u64, 1 << 20)  # 8 TB
    with pytest.raises(ValueError, match="8796093022208 bytes: more than a map's key or value holds"):
        encode(btf, huge, [])


def test_overlapping_bitfields_and_a_struct_lifted_many_times_cost_no_more_than_their_bytes():
    btf = Btf("little")
    u8 = btf.add_int("u8", 1)
    bits = btf.add_struct("bits", [(f"b{i}", u8, 1 << 24) for i in range(1000)], 1)  # 1000 one-bit fields at bit 0
    btf.types[bits - 1].info = btf_kinds.info_word(btf_kinds.STRUCT, 1000, kind_flag=1)
    with pytest.raises(ValueError, match="overlapping bitfields"):
        decode(btf, btf.add_array(bits, u8, 1000), bytes(1000))  # a million values from 1000 bytes
    wide = btf.add_struct("", [(f"m{i}", u8, 8 * i) for i in range(1000)], 1000)
    many = btf.add_struct("many", [("", wide, 0)] * 1000, 1000)
    btf.types[many - 1].info = btf_kinds.info_word(btf_kinds.UNION, 1000)
    with pytest.raises(ValueError, match="more members than its bytes can hold"):
        encode(btf, many, {"m0": 1})  # each anonymous copy would list its 1000 names
    flags = btf.add_struct("flags", [(f"f{i}", u8, 1 << 24 | i) for i in range(8)], 1)  # what a byte holds
    btf.types[flags - 1].info = btf_kinds.info_word(btf_kinds.STRUCT, 8, kind_flag=1)
    assert list(decode(btf, btf.add_array(flags, u8, 1000), b"\x81" * 1000)[999].values()) == [1, 0, 0, 0, 0, 0, 0, 1]


def test_a_type_the_map_does_not_have_is_refused_before_any_allocation():
    """A 4 GiB - 1 array claimed by a few bytes of BTF, for a map whose values have 8 bytes: refused
    by size, with no 4 GiB buffer made (the address space is limited here to prove it)."""
    import subprocess
    import sys

    child = """
import resource
from libbpf_py.btf_values import encode
from libbpf_py.elf.btf import Btf
btf = Btf("little")
u8 = btf.add_int("u8", 1)
big = btf.add_array(u8, u8, (1 << 32) - 1)
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
try:
    encode(Btf.parse(btf.to_bytes(), "little"), big, [1], 8)
except ValueError as exc:
    print(exc)
"""
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "BTF type 2 is 4294967295 bytes, the map's have 8", done.stderr
