"""ctypes types made from BTF (btf_ctypes), on BTF built here and on what clang wrote for
bpf_progs/btf_values.c: layouts that match the compiler's byte for byte."""

from __future__ import annotations

import ctypes
import os
import struct
import sys

import pytest

import libbpf_py as bpf
from libbpf_py import BtfTypeError, MissingTypeError
from libbpf_py.btf_ctypes import Chars, Types
from libbpf_py.elf import btf as kinds
from libbpf_py.elf.btf import Btf, Type, info_word
from libbpf_py.elf.file import ElfFile


@pytest.fixture(scope="module")
def compiled(bpf_obj) -> Types:
    elf = ElfFile.parse(bpf_obj("btf_values").read_bytes())
    return Types(Btf.parse(elf.section(".BTF").data, elf.byteorder))


def test_a_struct_with_bitfields_an_anonymous_union_and_arrays_lays_out_as_clang_did(compiled):
    record = compiled["struct record"]
    assert ctypes.sizeof(record) == 64
    r = record()
    r.name, r.color, r.small, r.negative, r.flag, r.ok = b"tc", -3, 5, -7, 1, True
    r.points[1].y, r.as_u32, r.delta, r.counts[2] = -4, 0x01020304, -9, 3
    raw = bytes(r)
    assert raw[:3] == b"tc\0" and struct.unpack_from("<i", raw, 12)[0] == -3
    assert raw[16] & 0x07 == 5 and ((raw[16] >> 3) | (raw[17] & 0x0) << 5) == 0x19  # -7 in 5 bits
    assert raw[18] == 1 and struct.unpack_from("<h", raw, 26)[0] == -4
    assert struct.unpack_from("<Iq", raw, 28) == (0x01020304, -9) and list(r.as_bytes) == [4, 3, 2, 1]
    again = record.from_buffer_copy(raw)
    assert (again.small, again.negative, again.flag, again.ok) == (5, -7, 1, True)
    with pytest.raises(ValueError, match="3-bit"):
        again.small = 8


def build(members, size, kind=kinds.STRUCT) -> Types:
    """A BTF with u8, u16, u32, s64 and one struct (or union) of ``members`` (name, type, bit offset)."""
    btf = Btf("little")
    u8, u16, u32 = btf.add_int("u8", 1), btf.add_int("u16", 2), btf.add_int("u32", 4)
    s64 = btf.add_int("s64", 8, signed=True)
    ids = {"u8": u8, "u16": u16, "u32": u32, "s64": s64}
    record = btf.add_struct("thing", [(n, ids[t], off) for n, t, off in members], size)
    if kind == kinds.UNION:
        btf.types[record - 1].info = info_word(kinds.UNION, len(members))
    return Types(btf)


def test_a_packed_struct_is_placed_member_by_member():
    types = build([("a", "u8", 0), ("b", "u32", 8), ("c", "s64", 40)], 13)  # __attribute__((packed))
    thing = types["struct thing"]
    assert ctypes.sizeof(thing) == 13 and (thing.b.offset, thing.c.offset) == (1, 5)


def test_an_over_aligned_struct_keeps_its_size():
    types = build([("a", "u8", 0), ("b", "u16", 64)], 16)  # aligned(16), b at 8
    thing = types["struct thing"]
    assert ctypes.sizeof(thing) == 16 and thing.b.offset == 8


def test_a_union_has_every_member_at_zero():
    types = build([("a", "u8", 0), ("b", "s64", 0)], 8, kinds.UNION)
    thing = types["union thing"]
    value = thing()
    value.b = -1
    assert ctypes.sizeof(thing) == 8 and value.a == 255


def test_overlapping_members_in_a_struct_are_refused():
    with pytest.raises(BtfTypeError, match="layout"):
        build([("a", "u32", 0), ("b", "u32", 16)], 8)["struct thing"]


def test_a_forward_declaration_and_void_have_no_ctypes_form():
    btf = Btf("little")
    fwd = btf.add(Type(btf.add_string("later"), info_word(kinds.FWD), 0))
    with pytest.raises(BtfTypeError, match="forward declaration"):
        Types(btf).of(fwd)
    with pytest.raises(BtfTypeError, match="void"):
        Types(btf).of(0)


@pytest.mark.parametrize("member", ["u32", "u8[2]"])
def test_a_member_with_no_name_that_is_no_record_is_refused_by_name(member):
    btf = Btf("little")
    u8, u32 = btf.add_int("u8", 1), btf.add_int("u32", 4)
    inner = u32 if member == "u32" else btf.add_array(u8, u32, 2)
    holder = btf.add_struct("holder", [("", inner, 0)], 4)
    with pytest.raises(BtfTypeError, match="struct holder has a member with no name that is no struct or union"):
        Types(btf).of(holder)


def test_deep_nesting_is_refused_not_recursed():
    btf = Btf("little")
    inner = btf.add_int("u8", 1)
    for _ in range(100):
        inner = btf.add_array(inner, inner, 1)
    with pytest.raises(BtfTypeError, match="nest deeper"):
        Types(btf).of(inner)


def test_check_names_the_first_member_that_differs(compiled):
    class Key(ctypes.Structure):
        _fields_ = [("ifindex", ctypes.c_uint32), ("port", ctypes.c_uint16), ("proto", ctypes.c_uint8),
                    ("pad", ctypes.c_uint8)]

    class Short(ctypes.Structure):
        _fields_ = [("ifindex", ctypes.c_uint32), ("port", ctypes.c_uint16)]

    compiled.check("struct key", Key)
    with pytest.raises(BtfTypeError, match="member 'proto' .* is missing"):
        compiled.check("struct key", Short)


def with_chars() -> Types:
    """A BTF with ``struct outer { u32 id; struct { char tag[8]; u32 n; }; char name[8]; }`` and
    ``union either { char text[4]; u32 word; }``."""
    btf = Btf("little")
    char = btf.add(Type(btf.add_string("char"), info_word(kinds.INT), 1, struct.pack("<I", kinds.INT_SIGNED << 24 | 8)))
    u32 = btf.add_int("u32", 4)
    eight, four = btf.add_array(char, u32, 8), btf.add_array(char, u32, 4)
    inner = btf.add_struct("", [("tag", eight, 0), ("n", u32, 64)], 12)
    btf.add_struct("outer", [("id", u32, 0), ("", inner, 32), ("name", eight, 128)], 24)
    either = btf.add_struct("either", [("text", four, 0), ("word", u32, 0)], 4)
    btf.types[either - 1].info = info_word(kinds.UNION, 2)
    return Types(btf)


OUTER = struct.pack("<I", 1) + b"ab\0cdefg" + struct.pack("<I", 2) + b"x\0yz\0\0\0w"


def test_a_char_array_member_reads_all_its_bytes_and_its_c_string_on_request():
    outer = with_chars()["struct outer"]
    value = outer.from_buffer_copy(OUTER)
    assert (value.id, value.n) == (1, 2)
    assert value.name == b"x\0yz\0\0\0w" and isinstance(value.name, Chars)  # not cut at the first NUL
    assert value.tag == b"ab\0cdefg"  # a member of an anonymous struct, read as the outer struct's
    assert (value.name.value, value.name.raw, value.tag.text) == (b"x", b"x\0yz\0\0\0w", "ab")
    assert Chars(b"\xff\xfeok\0z").text == "\\xff\\xfeok"  # undecodable bytes as escapes, never an error
    assert outer.__name__ == "outer" and outer(id=3, name=b"hi").name == b"hi" + bytes(6)
    either = with_chars()["union either"].from_buffer_copy(b"a\0bc")
    assert either.text == b"a\0bc" and either.word == int.from_bytes(b"a\0bc", "little")


def test_a_struct_keeps_its_name_when_an_anonymous_member_has_bitfields():
    btf = Btf("little")
    u32 = btf.add_int("u32", 4)
    bits = btf.add_struct("", [("lo", u32, 4 << 24 | 0), ("hi", u32, 4 << 24 | 4)], 4)
    btf.types[bits - 1].info = info_word(kinds.STRUCT, 2, kind_flag=1)
    btf.add_struct("flags", [("", bits, 0)], 4)
    flags = Types(btf)["struct flags"]
    value = flags.from_buffer_copy(b"\x21\0\0\0")
    assert flags.__name__ == "flags" and (value.lo, value.hi) == (1, 2)


def test_a_char_array_member_takes_bytes_up_to_its_length_and_zero_fills_the_rest():
    outer = with_chars()["struct outer"]
    value = outer.from_buffer_copy(OUTER)
    value.name = b"Q"
    value.tag = bytearray(b"12345678")
    assert bytes(value) == struct.pack("<I", 1) + b"12345678" + struct.pack("<I", 2) + b"Q" + bytes(7)
    value.name = (ctypes.c_char * 8)(*b"x\0y")  # a ctypes char array, as ctypes itself takes
    assert value.name == b"x\0y" + bytes(5)
    with pytest.raises(ValueError, match="name holds 8 bytes, not 9"):
        value.name = b"123456789"
    with pytest.raises(TypeError, match=r"name is a char\[8\]: it takes bytes, not str"):
        value.name = "text"
    with pytest.raises(TypeError, match="not int"):
        value.name = 8  # (bytes(8) would be eight NULs)
    assert value.name == b"x\0y" + bytes(5)  # refused writes changed nothing


def test_a_global_char_array_reads_all_its_bytes_from_its_section():
    btf = Btf("little")
    char = btf.add(Type(btf.add_string("char"), info_word(kinds.INT), 1, struct.pack("<I", kinds.INT_SIGNED << 24 | 8)))
    comm = btf.add_var("comm", btf.add_array(char, btf.add_int("u32", 4), 6))
    btf.add_datasec(".bss", [(comm, 0, 6)], 6)
    section = Types(btf)[".bss"].from_buffer_copy(b"sh\0\0-x")
    assert section.comm == b"sh\0\0-x" and section.comm.value == b"sh"


def test_a_struct_of_char_arrays_is_checked_against_what_a_user_wrote_with_c_char():
    types = with_chars()

    class Mine(ctypes.Structure):
        _fields_ = [("id", ctypes.c_uint32), ("inner", ctypes.c_uint8 * 12), ("name", ctypes.c_char * 8)]

    class Short(ctypes.Structure):
        _fields_ = [("id", ctypes.c_uint32), ("inner", ctypes.c_uint8 * 12), ("name", ctypes.c_char * 4)]

    types.check("struct outer", Mine)
    types.check("struct outer", types["struct outer"])
    with pytest.raises(BtfTypeError, match="member 'name' is at offset 16 with 4 bytes; BTF has offset 16 with 8"):
        types.check("struct outer", Short)


def test_an_array_of_structs_and_a_two_dimensional_char_array_keep_every_byte():
    btf = Btf("little")
    char = btf.add(Type(btf.add_string("char"), info_word(kinds.INT), 1, struct.pack("<I", kinds.INT_CHAR << 24 | 8)))
    u32 = btf.add_int("u32", 4)
    word = btf.add_array(char, u32, 4)
    rows = btf.add_array(word, u32, 2)
    holder = btf.add_struct("holder", [("w", word, 0), ("rows", rows, 32)], 12)
    pair = btf.add_array(holder, u32, 2)
    value = Types(btf).of(pair).from_buffer_copy(b"a\0bcd\0ef\0\0\0g" + bytes(12))
    assert value[0].w == b"a\0bc" and value[0].rows[0].raw == b"d\0ef" and value[0].rows[1].value == b""
    assert value[0].rows[1].raw == b"\0\0\0g"


def test_a_missing_type_says_why_clang_dropped_it_and_what_to_do(bpf_obj):
    elf = ElfFile.parse(bpf_obj("btf_void_record").read_bytes())
    types = Types(Btf.parse(elf.section(".BTF").data, elf.byteorder))
    assert ctypes.sizeof(types["struct kept_event"]) == 20  # a global names it
    with pytest.raises(KeyError) as missing:
        types["struct lost_event"]  # reached only through the void * of bpf_ringbuf_reserve
    assert isinstance(missing.value, MissingTypeError)
    message = str(missing.value)
    assert message.startswith("no type 'struct lost_event' in this BTF: ") and "\n" not in message
    assert "only through void *" in message and "`struct lost_event *unused;`" in message
    assert "Btf.from_header" in message  # the remedy for a record only a header declares


def test_an_array_of_many_empty_structs_is_refused_before_ctypes_allocates():
    btf = Btf("little")
    u32 = btf.add_int("u32", 4)
    empty = btf.add_struct("empty", [], 0)
    many = btf.add_array(empty, u32, 1 << 30)
    holder = btf.add_struct("holder", [("x", u32, 0), ("e", many, 32)], 4)
    few = btf.add_array(empty, u32, 64)
    fine = btf.add_struct("fine", [("x", u32, 0), ("e", few, 32)], 4)
    with pytest.raises(BtfTypeError, match=f"BTF type {many}: an array of 1073741824 elements of no size"):
        Types(btf).of(many)
    with pytest.raises(BtfTypeError, match="elements of no size"):  # ctypes would want 8 GB for it (a small struct)
        Types(btf).of(holder)
    assert ctypes.sizeof(Types(btf).of(fine)) == 4


def test_one_struct_lifted_many_times_is_refused_before_ctypes_makes_each_copy():
    btf = Btf("little")
    u8 = btf.add_int("u8", 1)
    wide = btf.add_struct("", [(f"m{i}", u8, 8 * i) for i in range(1000)], 1000)
    many = btf.add_struct("many", [("", wide, 0)] * 1000, 1000)  # 24 KB: a million members to make
    btf.types[many - 1].info = info_word(kinds.UNION, 1000)
    with pytest.raises(BtfTypeError, match=f"BTF type {many}: its anonymous members would make more members than"):
        Types(btf).of(many)
    few = btf.add_struct("few", [("", wide, 0)] * 2, 1000)
    btf.types[few - 1].info = info_word(kinds.UNION, 2)
    assert Types(btf)["union few"].m999.offset == 999


@pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="this kernel has no BTF")
def test_every_struct_and_union_of_the_running_kernel_is_made_within_the_budget():
    with open("/sys/kernel/btf/vmlinux", "rb") as kernel:
        btf = Btf.parse(kernel.read(), sys.byteorder)
    types = Types(btf)
    records = [i for i, t in enumerate(btf.types, 1) if t.kind in (kinds.STRUCT, kinds.UNION)]
    for type_id in records:
        types.of(type_id)
    assert len(records) > 1000


def test_in_says_whether_a_type_is_there(bpf_obj):
    with bpf.Object.open(bpf_obj("events")) as obj:
        assert "struct event" in obj.btf and "struct no_such" not in obj.btf and 3 not in obj.btf
