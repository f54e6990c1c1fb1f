"""The legacy-maps rewrite and the ELF/BTF layer under it: pure, no kernel needed.

libbpf's open (which needs no privileges) is the oracle for "libbpf 1.x accepts the result".
"""

from __future__ import annotations

import struct

import pytest

import libbpf_py as bpf
from libbpf_py import ElfError, LegacyMapError
from libbpf_py.compat import rewrite
from libbpf_py.compat.definitions import FIELDS, read_maps
from libbpf_py.compat.iproute2 import inserted_inner_maps, tail_call_section
from libbpf_py.elf import Btf, ElfFile
from libbpf_py.elf import btf as B

LEGACY = ["global_ns", "object_ns", "custom_pin", "map_in_map", "tail_call", "short_stride", "kv_annotated",
          "xdp_prog", "action", "reject"]
ALL_BUILDS = [f"{name}{suffix}" for name in LEGACY for suffix in ("", "-nog")]


@pytest.fixture
def legacy(bpf_obj):
    return lambda name: bpf_obj(f"iproute2/{name}").read_bytes()


def open_rewritten(data: bytes, name: str = "legacy"):
    new, maps = rewrite(data)
    return bpf.Object.open(new, name=name, compat="none"), maps


@pytest.mark.parametrize("name", ALL_BUILDS)
def test_libbpf_opens_every_rewritten_object_with_the_legacy_definitions(legacy, name):
    data = legacy(name)
    with pytest.raises(bpf.LibbpfError):  # what libbpf 1.x says about the original
        bpf.Object.open(data, compat="none")
    obj, maps = open_rewritten(data)
    with obj:
        assert [m.name for m in maps] == [n for n in obj.maps if not obj.maps[n].is_internal]
        for m in maps:
            live = obj.maps[m.name]
            value_size = 4 if m.type in (12, 13) else m.size_value  # map-in-map values are ids
            assert (int(live.type), live.key_size, live.value_size, live.max_entries, live.flags) == \
                (m.type, m.size_key, value_size, m.max_elem, m.flags), m.name


def test_every_field_is_described(legacy):
    _, maps = rewrite(legacy("map_in_map"))
    table = {m.name: m.definition for m in maps}
    assert table == {
        "mim_outer_arr": (12, 4, 4, 4, 0, 0, 2, 11, 0),
        "mim_outer_hash": (13, 4, 4, 4, 0, 0, 2, 13, 0),
        "mim_outer_skip": (12, 4, 4, 4, 0, 0, 0, 12, 0),
        "mim_inner_a": (2, 4, 8, 4, 0, 11, 0, 0, 1),
        "mim_inner_b": (2, 4, 8, 4, 0, 12, 0, 0, 0xFFFFFFFF),
        "mim_inner_h": (2, 4, 8, 4, 0, 13, 0, 0, 2),
    }
    assert len(FIELDS) == 9 and [m.index for m in maps] == [0, 1, 2, 3, 4, 5]


def test_short_stride_bpf_map_def_is_zero_filled(legacy):
    _, maps = rewrite(legacy("short_stride"))
    assert [(m.name, m.definition) for m in maps] == [
        ("ss_array", (2, 4, 8, 2, 0, 0, 0, 0, 0)),
        ("ss_hash", (1, 4, 8, 16, 0, 0, 0, 0, 0)),
        ("ss_hash_np", (1, 4, 4, 8, 1, 0, 0, 0, 0)),
    ]


def test_objects_without_legacy_maps_are_returned_unchanged(bpf_obj):
    data = bpf_obj("maps").read_bytes()
    assert rewrite(data) == (data, [])


def test_rewrite_is_deterministic(legacy):
    data = legacy("tail_call")
    assert rewrite(data) == rewrite(data)


def test_existing_btf_keeps_every_type_id_and_string(legacy):
    data = legacy("kv_annotated")
    before = ElfFile.parse(data)
    after = ElfFile.parse(rewrite(data)[0])
    old = Btf.parse(before.section(".BTF").data, before.byteorder)
    new = Btf.parse(after.section(".BTF").data, after.byteorder)
    assert bytes(new.strings[:len(old.strings)]) == bytes(old.strings)      # offsets still valid
    changed = [i for i, (a, b) in enumerate(zip(old.types, new.types), 1) if a != b]
    kinds = {old.get(i).kind for i in changed}
    assert kinds <= {B.VAR, B.DATASEC}  # only the map VARs and the renamed DATASEC
    assert after.section(".BTF.ext").data == before.section(".BTF.ext").data


def test_btf_round_trip_is_byte_identical(legacy):
    elf = ElfFile.parse(legacy("global_ns"))
    raw = elf.section(".BTF").data
    assert Btf.parse(raw, elf.byteorder).to_bytes() == raw


def test_kv_annotation_types_are_kept(legacy):
    obj, _ = open_rewritten(legacy("kv_annotated"))
    with obj:
        elf = ElfFile.parse(rewrite(legacy("kv_annotated"))[0])
        btf = Btf.parse(elf.section(".BTF").data, elf.byteorder)
        kv = obj.maps["kv_map"]
        key_id = kv.btf_key_type_id
        value_id = kv.btf_value_type_id
        assert btf.name(btf.get(key_id)) == "flow_key" and btf.name(btf.get(value_id)) == "flow_val"


def test_object_without_btf_gets_one(legacy):
    before = ElfFile.parse(legacy("global_ns-nog"))
    assert before.section(".BTF") is None
    after = ElfFile.parse(rewrite(legacy("global_ns-nog"))[0])
    btf = Btf.parse(after.section(".BTF").data, after.byteorder)
    assert btf.find(".maps", B.DATASEC) is not None
    assert after.section(".maps") is not None and after.section("maps") is None


def test_the_elf_layer_round_trips(legacy):
    data = legacy("tail_call")
    elf = ElfFile.parse(data)
    again = ElfFile.parse(elf.to_bytes())
    assert [(s.name, s.type, s.flags, s.data) for s in again.sections] == \
        [(s.name, s.type, s.flags, s.data) for s in elf.sections]
    assert again.symbols() == elf.symbols()


# numbers up to 2**32 - 1, strides and iproute2's refusals, on synthesized variants --------------

def with_maps(data: bytes, entries, stride: int, names=None) -> bytes:
    """``data`` (an object with legacy maps) with its maps section replaced by ``entries``."""
    elf = ElfFile.parse(data)
    maps = elf.section("maps")
    shndx = elf.index_of(maps)
    fmt = "<" + "I" * (stride // 4)
    maps.data = b"".join(struct.pack(fmt, *(list(e) + [0] * 9)[: stride // 4]) for e in entries)
    symbols = elf.symbols()
    mine = [i for i, s in enumerate(symbols) if s.shndx == shndx]
    for k, i in enumerate(mine):
        symbols[i] = symbols[i]._replace(value=k * stride if k < len(entries) else 0, size=stride)
    elf.set_symbols(symbols)
    return elf.to_bytes()


def test_u32_values_survive(legacy):
    big = (2, 4, 8, 0xFFFFFFFF, bpf.MapFlags.MMAPABLE, 0, 0, 0, 0)
    data = with_maps(legacy("object_ns-nog"), [big, (1, 4, 8, 0xFFFFFFFE, 1)], 36)
    obj, maps = open_rewritten(data)
    with obj:
        assert maps[0].max_elem == 0xFFFFFFFF and obj.maps["stats_obj"].max_entries == 0xFFFFFFFF
        assert obj.maps["scratch"].max_entries == 0xFFFFFFFE and obj.maps["scratch"].flags == 1


@pytest.mark.parametrize("stride", [16, 20, 24, 28, 32, 36])
def test_strides_from_16_to_36_are_accepted(legacy, stride):
    entries = [(2, 4, 8, 4, 0, 7, 2, 0, 0), (1, 4, 8, 8, 0, 0, 0, 0, 0)]
    _, maps = rewrite(with_maps(legacy("object_ns-nog"), entries, stride))
    kept = stride // 4
    assert [m.definition for m in maps] == [tuple((list(e)[:kept] + [0] * 9)[:9]) for e in entries]


@pytest.mark.parametrize("stride, reason", [(12, "too small"), (40, "future version")])
def test_strides_iproute2_refuses(legacy, stride, reason):
    with pytest.raises(LegacyMapError, match=reason):
        rewrite(with_maps(legacy("object_ns-nog"), [(2, 4, 8, 4), (1, 4, 8, 8)], stride))


def test_inconsistent_symbols_are_refused(legacy):
    elf = ElfFile.parse(legacy("object_ns-nog"))
    elf.section("maps").data += bytes(2)   # 74 bytes: not a multiple of 4
    with pytest.raises(LegacyMapError, match="multiple"):
        rewrite(elf.to_bytes())
    elf = ElfFile.parse(legacy("object_ns-nog"))
    symbols = elf.symbols()
    i = next(i for i, s in enumerate(symbols) if s.name == "scratch")
    symbols[i] = symbols[i]._replace(value=40)
    elf.set_symbols(symbols)
    with pytest.raises(LegacyMapError, match="no map symbol at offset 36"):
        rewrite(elf.to_bytes())


def test_missing_inner_map_is_refused(legacy):
    data = legacy("map_in_map-nog")
    elf = ElfFile.parse(data)
    _, maps = read_maps(elf)
    entries = [m.definition for m in maps]
    entries[0] = entries[0][:7] + (99,) + entries[0][8:]  # an inner_id nobody has
    with pytest.raises(LegacyMapError, match="inner map with ID 99 not found"):
        rewrite(with_maps(data, entries, 36))


def test_malformed_input_is_a_value_error(legacy):
    for bad in (b"", b"\x7fELF" + bytes(60), legacy("global_ns")[:300]):
        with pytest.raises(ElfError):
            rewrite(bad)


# after-load rules --------------------------------------------------------------------------------

def test_tail_call_section_names_are_read_as_iproute2_reads_them():
    """sscanf("%i/%i"): prefixes 0x and 0, a sign, blanks, and whatever follows is ignored."""
    assert tail_call_section("42/0") == (42, 0)
    assert tail_call_section("0x2a/010") == (42, 8)
    assert tail_call_section("42/1/v2") == (42, 1) and tail_call_section("42/2_fast") == (42, 2)
    assert tail_call_section("-1/0") == (0xFFFFFFFF, 0) and tail_call_section(" 7/ 3") == (7, 3)
    for name in ("classifier", "prog", "42/", "/1", "4a/0", "08/1"):
        assert tail_call_section(name) is None


def test_pinning_database_is_read_as_iproute2_reads_it():
    from libbpf_py.compat import parse_pinning_db

    text = "# comment\n\n  5foo/bar\n09 reserved\n-1 neg\n\t6 six # trailing\n6 again\nbroken line\n7 lost\n"
    assert parse_pinning_db(text) == {5: "foo/bar", 0xFFFFFFFF: "neg", 6: "again"}


def test_inner_maps_go_to_every_matching_outer_unless_idx_is_minus_one(legacy):
    _, maps = rewrite(legacy("map_in_map"))
    assert [(o.name, i.name, i.inner_idx) for o, i in inserted_inner_maps(maps)] == [
        ("mim_outer_arr", "mim_inner_a", 1), ("mim_outer_hash", "mim_inner_h", 2)]


def test_corrupted_objects_only_ever_raise_elf_errors(legacy):
    """A small deterministic fuzz: flipped bytes and truncations give ElfError or a result."""
    import random

    rng = random.Random(20261125)
    sources = [legacy(name) for name in ("map_in_map", "kv_annotated", "short_stride-nog", "tail_call")]
    for _ in range(1500):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            del data[rng.randrange(len(data)):]
        try:
            rewrite(bytes(data))
        except ElfError:
            pass


def test_program_sections_get_the_global_function_libbpf_needs(legacy):
    from libbpf_py.elf.file import STT_FUNC, STT_NOTYPE

    data = legacy("global_ns-nog")
    elf = ElfFile.parse(data)
    symbols = elf.symbols()
    main = next(i for i, s in enumerate(symbols) if s.name == "cls_main")
    symbols[main] = symbols[main].with_info(symbols[main].bind, STT_NOTYPE)   # as hand-written assembly
    elf.set_symbols(symbols)
    obj, _ = open_rewritten(elf.to_bytes())
    with obj:
        assert list(obj.programs) == ["cls_main"] and obj.programs["cls_main"].section == "classifier"
    symbols[main] = symbols[main]._replace(name="", st_name=0)           # no symbol at all at the start
    elf.set_symbols(symbols)
    new, _ = rewrite(elf.to_bytes())
    added = [s for s in ElfFile.parse(new).symbols() if s.name == "prog_classifier"]
    assert len(added) == 1 and added[0].type == STT_FUNC and added[0].value == 0


def test_legacy_and_btf_maps_together_are_refused_clearly(legacy, bpf_obj):
    elf = ElfFile.parse(legacy("global_ns-nog"))
    elf.add_section(".maps", 1, bytes(8))
    with pytest.raises(LegacyMapError, match="both a legacy 'maps' section and BTF-defined '.maps'"):
        rewrite(elf.to_bytes())


def test_struct_ops_definitions_are_refused_before_libbpf_sees_them(legacy):
    data = with_maps(legacy("object_ns-nog"), [(26, 4, 8, 1), (1, 4, 8, 8)], 36)
    with pytest.raises(LegacyMapError, match="STRUCT_OPS"):
        rewrite(data)
    with pytest.raises(LegacyMapError, match="STRUCT_OPS"):
        bpf.Object.open(data)


def test_two_definitions_with_one_name_are_refused(legacy):
    elf = ElfFile.parse(legacy("object_ns-nog"))
    symbols = elf.symbols()
    shndx = elf.index_of(elf.section("maps"))
    mine = [i for i, s in enumerate(symbols) if s.shndx == shndx]
    symbols[mine[1]] = symbols[mine[1]]._replace(name=symbols[mine[0]].name, st_name=symbols[mine[0]].st_name)
    elf.set_symbols(symbols)
    with pytest.raises(LegacyMapError, match="two map definitions are named"):
        rewrite(elf.to_bytes())


def test_crafted_btf_chains_raise_elf_errors_not_recursion_errors():
    btf = Btf("little")
    u8 = btf.add_int("unsigned char", 1)
    index = btf.add_int("__ARRAY_SIZE_TYPE__", 4)
    deep = u8
    for _ in range(5000):
        deep = btf.add_array(deep, index, 2)
    assert btf.size_of(deep) == 2 ** 5000  # a valid chain: walked without recursion
    loop = btf.add_array(0, index, 1)
    btf.get(loop).tail = struct.pack("<III", loop, index, 1)  # an array of itself
    with pytest.raises(ElfError, match="contains itself"):
        btf.size_of(loop)


def test_scan_uint_reads_what_scanf_i_reads():
    """The hand-written reader (no ``re`` at import) against the pattern of scanf's %i."""
    import random
    import re

    from libbpf_py.compat.iproute2_pins import scan_uint

    pattern = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")

    def by_pattern(text: str, pos: int):
        found = pattern.match(text, pos)
        if found is None:
            return None
        digits = found.group(2)
        base = 16 if digits[:2] in ("0x", "0X") else 8 if digits.startswith("0") else 10
        value = int(digits[2:] if base == 16 else digits, base)
        return (-value if found.group(1) == "-" else value) & 0xFFFFFFFF, found.end()

    assert scan_uint("  -1/x") == (0xFFFFFFFF, 4) and scan_uint("0x1fz") == (0x1F, 4)
    assert scan_uint("0x") == (0, 1) and scan_uint("089") == (0, 1) and scan_uint("+") is None
    rng = random.Random(7)
    for _ in range(20000):
        text = "".join(rng.choice(" \t+-0123456789xXafgAF/\u00a0z") for _ in range(rng.randint(0, 8)))
        pos = rng.randint(0, len(text))
        assert scan_uint(text, pos) == by_pattern(text, pos), (text, pos)
