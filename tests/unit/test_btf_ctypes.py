"""ctypes types made from BTF (btf_ctypes), on BTF built here and on what clang wrote for
bpf_progs/btf_values.c: layouts that match the compiler's byte for byte."""

from __future__ import annotations

import ctypes
import struct

import pytest

from libbpf_py.btf_ctypes import BtfTypeError, MissingTypeError, Types
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
    assert "Types.check" in message


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
