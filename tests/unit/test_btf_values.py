"""Values read and written through BTF (btf_values), on the BTF clang wrote for
bpf_progs/btf_values.c: every shape a map key or value takes, and refusals that name the problem."""

from __future__ import annotations

import struct

import pytest

from libbpf_py.btf_values import decode, encode
from libbpf_py.elf import btf as btf_kinds
from libbpf_py.elf.btf import Btf
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
    ({"small": 8}, "does not fit in the 3 bits"),
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
