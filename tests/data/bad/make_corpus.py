#!/usr/bin/env python3
"""Write the corpus of malformed objects in this directory, from the built test objects.

Each case is ``<name>.o`` plus a row of ``expected.json``: the entry point (``open``: Object.open
with the BTF check on; ``rewrite``: compat.rewrite; ``load``: open then load, needs the
kernel), the exception class it must raise (or "ok") and a pattern its message must match.
The objects are committed; run this again (from the repository root, after ``make -C
bpf_progs``) only to add cases, and review the diff of expected.json.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Callable, Dict, List

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
BUILD = ROOT / "bpf_progs" / "build"
sys.path.insert(0, str(ROOT))

from libbpf_py.elf import Btf, ElfFile  # noqa: E402
from libbpf_py.elf import btf as B  # noqa: E402


def built(name: str) -> bytes:
    return (BUILD / f"{name}.o").read_bytes()


def edit_btf(data: bytes, change: Callable[[Btf], None]) -> bytes:
    elf = ElfFile.parse(data)
    section = elf.section(".BTF")
    btf = Btf.parse(section.data, elf.byteorder)
    change(btf)
    section.data = btf.to_bytes()
    return elf.to_bytes()


def first(btf: Btf, kind: int) -> B.Type:
    return next(t for t in btf.types if t.kind == kind)


def edit_legacy(data: bytes, entries: List[tuple], stride: int = 36) -> bytes:
    elf = ElfFile.parse(data)
    maps = elf.section("maps")
    shndx = elf.index_of(maps)
    maps.data = b"".join(struct.pack("<" + "I" * (stride // 4), *(list(e) + [0] * 9)[: stride // 4])
                         for e in entries)
    symbols = elf.symbols()
    mine = [i for i, s in enumerate(symbols) if s.shndx == shndx]
    for k, i in enumerate(mine):
        symbols[i] = symbols[i]._replace(value=k * stride, size=stride)
    elf.set_symbols(symbols)
    return elf.to_bytes()


def symbol_value(data: bytes, name: str, value: int) -> bytes:
    elf = ElfFile.parse(data)
    symbols = [sym._replace(value=value) if sym.name == name else sym for sym in elf.symbols()]
    elf.set_symbols(symbols)
    return elf.to_bytes()


def same_name(data: bytes) -> bytes:
    elf = ElfFile.parse(data)
    symbols = elf.symbols()
    shndx = elf.index_of(elf.section("maps"))
    mine = [i for i, s in enumerate(symbols) if s.shndx == shndx]
    symbols[mine[1]] = symbols[mine[1]]._replace(name=symbols[mine[0]].name, st_name=symbols[mine[0]].st_name)
    elf.set_symbols(symbols)
    return elf.to_bytes()


def patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def section_header(data: bytes, index: int) -> int:
    return struct.unpack_from("<Q", data, 40)[0] + 64 * index


def section_size(data: bytes, name: str, size: int) -> bytes:
    """``data`` with the header of section ``name`` claiming ``size`` bytes (sh_size)."""
    index = ElfFile.parse(data).sections_named()[name]
    return patch(data, section_header(data, index) + 32, "<Q", size)


def cases() -> Dict[str, dict]:
    maps, legacy, struct_ops = built("maps"), built("iproute2/global_ns"), built("vmlinux/struct_ops")
    legacy_nog = built("iproute2/object_ns-nog")
    shnum = struct.unpack_from("<H", maps, 60)[0]

    def var_type(btf: Btf) -> None:
        first(btf, B.VAR).size_or_type = 999

    def member_type(btf: Btf) -> None:
        t = first(btf, B.STRUCT)
        t.tail = t.tail[:4] + struct.pack("<I", 777) + t.tail[8:]

    def name_offset(btf: Btf) -> None:
        btf.types[0].name_off = 1 << 20

    def func_not_proto(btf: Btf) -> None:
        first(btf, B.FUNC).size_or_type = 1

    def unknown_kind(btf: Btf) -> None:
        btf.types[0].info = B.info_word(25)

    def struct_ops_offset_wraps(btf: Btf) -> None:  # libbpf's 32-bit bound check wraps: it copies from 4 GB away
        t = next(t for t in btf.types if t.kind == B.DATASEC and btf.name(t) == ".struct_ops")
        var, _, _ = struct.unpack_from("<III", t.tail, 0)
        t.tail = struct.pack("<III", var, 0xFFFFFF80, 192) + t.tail[12:]

    def struct_ops_member_past_end(btf: Btf) -> None:  # libbpf 1.4 copies the member from past the struct
        ops = next(i for i, t in enumerate(btf.types, 1) if t.kind == B.STRUCT and btf.name(t) == "tcp_congestion_ops")
        t = btf.get(ops)
        members = [struct.unpack_from("<III", t.tail, 12 * i) for i in range(t.vlen)]
        k = next(i for i, (name_off, _, _) in enumerate(members) if btf.name(B.Type(name_off, 0, 0)) == "name")
        name_off, member_type, _ = members[k]
        t.tail = t.tail[:12 * k] + struct.pack("<III", name_off, member_type, 0xF0000000) + t.tail[12 * k + 12:]

    def struct_ops_bitfield(btf: Btf) -> None:  # libbpf 1.4 reads 2**28 bytes away before refusing it
        ops = next(i for i, t in enumerate(btf.types, 1) if t.kind == B.STRUCT and btf.name(t) == "tcp_congestion_ops")
        t = btf.get(ops)
        t.info |= 1 << 31  # kind_flag: offsets carry a bitfield size in their top byte
        members = [struct.unpack_from("<III", t.tail, 12 * i) for i in range(t.vlen)]
        k = next(i for i, (name_off, _, _) in enumerate(members) if btf.name(B.Type(name_off, 0, 0)) == "flags")
        name_off, member_type, bits = members[k]
        t.tail = t.tail[:12 * k] + struct.pack("<III", name_off, member_type, bits | 0x7F << 24) + t.tail[12 * k + 12:]

    def struct_ops_member_of_var_array(btf: Btf) -> None:  # libbpf sizes ARRAY[VAR] through the VAR
        ops = next(i for i, t in enumerate(btf.types, 1) if t.kind == B.STRUCT and btf.name(t) == "tcp_congestion_ops")
        var = next(i for i, t in enumerate(btf.types, 1) if t.kind == B.VAR)
        index = next(i for i, t in enumerate(btf.types, 1) if t.kind == B.INT and t.size_or_type == 4)
        big = btf.add_array(var, index, 0x400000)
        t = btf.get(ops)
        members = [struct.unpack_from("<III", t.tail, 12 * i) for i in range(t.vlen)]
        name_off, _, _ = members[-1]
        t.tail = t.tail[:-12] + struct.pack("<III", name_off, big, (t.size_or_type - 4) * 8)

    def typedef_loop(btf: Btf) -> None:  # a map's VAR -> typedef A -> typedef B -> A: libbpf loops for ever
        a = len(btf.types) + 1
        btf.add(B.Type(btf.add_string("loop_a"), B.info_word(B.TYPEDEF), a + 1))
        btf.add(B.Type(btf.add_string("loop_b"), B.info_word(B.TYPEDEF), a))
        first(btf, B.VAR).size_or_type = a

    return {
        "truncated_header": dict(data=maps[:40], entry="open", raises="ElfError", match="not an ELF file"),
        "truncated_sections": dict(data=maps[: len(maps) // 2], entry="open", raises="ElfError",
                                   match="section header table is missing or outside the file"),
        "huge_alignment": dict(data=patch(maps, section_header(maps, 3) + 48, "<Q", 1 << 50), entry="open",
                               raises="ElfError", match="invalid alignment"),
        "section_past_end": dict(data=patch(maps, section_header(maps, 3) + 24, "<Q", 1 << 40), entry="rewrite",
                                 raises="ElfError", match="outside the file"),
        "name_table_index": dict(data=patch(maps, 62, "<H", shnum + 5), entry="rewrite", raises="ElfError",
                                 match="section name table index"),
        "btf_var_type_past_end": dict(data=edit_btf(maps, var_type), entry="open", raises="BtfError",
                                      match=r"\(VAR\): type refers to type id 999"),
        "btf_member_past_end": dict(data=edit_btf(maps, member_type), entry="open", raises="BtfError",
                                    match=r"\(STRUCT\): member 0 refers to type id 777"),
        "btf_name_offset": dict(data=edit_btf(maps, name_offset), entry="open", raises="BtfError",
                                match=r"\[1\]: BTF name offset 1048576 is outside"),
        "btf_func_not_proto": dict(data=edit_btf(maps, func_not_proto), entry="open", raises="BtfError",
                                   match="not a FUNC_PROTO"),
        "btf_unknown_kind": dict(data=edit_btf(maps, unknown_kind), entry="open", raises="BtfError",
                                 match=r"\[1\]: unknown kind 25"),
        "btf_struct_ops_offset_wraps": dict(data=edit_btf(struct_ops, struct_ops_offset_wraps), entry="open",
                                            raises="BtfError", match="lies past the end of its section"),
        "btf_struct_ops_member_past_end": dict(data=edit_btf(struct_ops, struct_ops_member_past_end), entry="open",
                                               raises="BtfError", match="member 'name' lies past the end"),
        "struct_ops_symbol_outside": dict(data=symbol_value(struct_ops, "mini_cc", 0xFFFFFF80), entry="open",
                                          raises="BtfError", match="'mini_cc' .* lies outside its section"),
        "btf_struct_ops_bitfield": dict(data=edit_btf(struct_ops, struct_ops_bitfield), entry="open",
                                        raises="BtfError", match="is a bitfield"),
        "btf_struct_ops_var_array": dict(data=edit_btf(struct_ops, struct_ops_member_of_var_array), entry="open",
                                         raises="BtfError", match="lies past the end of the struct"),
        "btf_typedef_loop": dict(data=edit_btf(maps, typedef_loop), entry="open", raises="BtfError",
                                 match="contains itself"),
        "struct_ops_in_maps": dict(data=built("struct_ops_in_maps"), entry="open", raises="ElfError",
                                   match="not declared in a .struct_ops section"),
        "legacy_struct_ops": dict(data=edit_legacy(legacy_nog, [(26, 4, 8, 1), (1, 4, 8, 8)]), entry="rewrite",
                                  raises="LegacyMapError", match="STRUCT_OPS"),
        "legacy_same_name": dict(data=same_name(legacy_nog), entry="rewrite", raises="LegacyMapError",
                                 match="two map definitions are named"),
        "legacy_stride_12": dict(data=edit_legacy(legacy_nog, [(2, 4, 8, 4), (1, 4, 8, 8)], stride=12),
                                 entry="rewrite", raises="LegacyMapError", match="too small"),
        "legacy_absurd_sizes": dict(data=edit_legacy(legacy_nog, [(1, 0xFFFFFFF0, 0xFFFFFFF0, 0xFFFFFFFF),
                                                                  (1, 4, 8, 8)]),
                                    entry="load", raises="LibbpfError", match="failed to create|Argument list|"
                                    "Cannot allocate|Invalid argument"),
        "legacy_not_utf8": dict(data=legacy.replace(b"stats_global\0", b"stats_gl\xffbal\0"), entry="rewrite",
                                raises="ok", match=""),
        "bss_size_past_32_bits": dict(data=section_size(built("globals"), ".bss", 0xC4F1485C399A451A),  # fuzzed
                                      entry="open", raises="ElfError",
                                      match=r"section \d+ \('\.bss'\) claims 14191203461761746202 bytes, more "
                                      "than the 32 bits"),
        "bss_size_at_32_bits": dict(data=section_size(built("globals"), ".bss", 0xFFFFFFF8), entry="load",
                                    raises="LibbpfError", match="failed to create|Argument list too long|E2BIG"),
        "not_elf": dict(data=b"\x7fELF" + bytes(60), entry="rewrite", raises="ElfError", match=""),
    }


# Inputs the fuzzer found (fuzz/fuzz.py), committed as they were: libbpf 1.1.2 crashed opening them.
FOUND = {
    "fuzz_align_and_btf_name_1": dict(entry="open", raises="ElfError", match="invalid alignment"),
    "fuzz_align_and_btf_name_2": dict(entry="open", raises="ElfError", match="invalid alignment"),
}


def main() -> None:
    expected = dict(FOUND)
    for name, case in cases().items():
        (HERE / f"{name}.o").write_bytes(case.pop("data"))
        expected[name] = case
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(expected)} cases to {HERE}")


if __name__ == "__main__":
    main()
