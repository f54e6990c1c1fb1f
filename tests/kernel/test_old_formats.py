"""Objects written for libbpf 0.x and for samples/bpf's bpf_load.c (bpf_progs/old/, built with
and without -g), loaded as those loaders loaded them: what the kernel then holds (program
types, map types and flags, inner templates), what the programs do, and that nothing is pinned."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest
from support import built_tool

import libbpf_py as bpf
from libbpf_py import LegacyMapError, iproute2

VARIANTS = ["", "-nog"]
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("LIBBPF_PY_LIBBPF0_REFERENCE",
                                ROOT / "vendor/cache/libbpf-0.3-reference/ref_loader"))


@pytest.fixture(scope="module")
def reference():
    """libbpf 0.3's loader (vendor/libbpf0/build-reference): what it loads, as JSON."""
    built_tool(REFERENCE, "vendor/libbpf0/build-reference")

    def run(path) -> Optional[dict]:
        done = subprocess.run([str(REFERENCE), str(path)], capture_output=True, text=True, timeout=60)
        return json.loads(done.stdout) if done.returncode == 0 else None

    return run


def as_loaded(obj) -> dict:
    """What an Object loaded, in the reference loader's words."""
    programs = [{"name": name, "section": p.section, "type": int(p.info().type), "tag": p.info().tag,
                 "xlated_len": p.info().xlated_len} for name, p in obj.programs.items() if p.autoload]
    maps = [{"name": name, "type": int(m.info().type), "key_size": m.key_size, "value_size": m.value_size,
             "max_entries": m.max_entries, "flags": m.info().flags} for name, m in obj.maps.items()]
    return {"programs": programs, "maps": maps}


def in_any_order(loaded: dict) -> dict:
    return {kind: sorted(items, key=lambda item: item["name"]) for kind, items in loaded.items()}


@pytest.mark.parametrize("name", ["old/libbpf0_era", "old/libbpf0_era-nog", "old/libbpf0_tc", "old/libbpf0_tc-nog",
                                  "old/libbpf0_sections-nog"])  # (with -g, 0.3 fails to finalize its BTF: -ENOENT)
def test_a_libbpf0_object_loads_as_libbpf_0_3_loaded_it(bpf_obj, reference, name):
    """Program types, tags and translated lengths, map shapes and flags: the same as libbpf 0.3
    (Debian 11's), linked into a small C loader, gives the same object."""
    theirs = reference(bpf_obj(name))
    assert theirs is not None
    with bpf.Object.open(bpf_obj(name), compat="libbpf0") as obj:
        obj.load()
        assert in_any_order(as_loaded(obj)) == in_any_order(theirs)


def test_what_libbpf_0_3_refuses_the_libbpf0_reading_refuses(bpf_obj, reference):
    assert reference(bpf_obj("old/bpf_load_era")) is None  # "outer" has unrecognized, non-zero options
    with pytest.raises(LegacyMapError, match="non-zero options"):
        bpf.Object.open(bpf_obj("old/bpf_load_era"), compat="libbpf0")


def kernel_map(m) -> dict:
    """What bpftool says of a live map (the same facts as Map.info, from another reader)."""
    if shutil.which("bpftool") is None:
        info = m.info()
        return {"type": info.type.name.lower(), "flags": info.flags}
    done = subprocess.run(["bpftool", "-j", "map", "show", "id", str(m.info().id)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_libbpf0_object_loads_every_program_typed_by_its_section(bpf_obj, variant):
    with bpf.Object.open(bpf_obj(f"old/libbpf0_era{variant}")) as obj:
        assert [hook.reading for hook in obj.hooks] == ["libbpf0"]
        assert {name: (p.type, p.autoload) for name, p in obj.programs.items()} == {
            "xdp_count": (bpf.ProgType.XDP, True), "socket_count": (bpf.ProgType.SOCKET_FILTER, True),
            "kprobe_count": (bpf.ProgType.KPROBE, True), "cgroup_count": (bpf.ProgType.CGROUP_SKB, True)}
        obj.load()
        assert all(m.pin_path is None for m in obj.maps.values())
        assert kernel_map(obj.maps["lengths"])["flags"] == bpf.MapFlags.NO_PREALLOC
        assert kernel_map(obj.maps["counts"])["type"] == "array"
        obj.programs["xdp_count"].test_run(bytes(64))
        obj.programs["socket_count"].test_run(bytes(80), repeat=2)
        counts, lengths = obj.maps["counts"], obj.maps["lengths"]
        counts.key_type = counts.value_type = lengths.key_type = lengths.value_type = int
        assert [counts[i] for i in range(4)] == [1, 2, 0, 0]
        assert set(lengths.keys()) == {64, 80 - 14}  # a socket filter sees the packet past its Ethernet header


def test_when_two_loaders_would_load_it_differently_auto_says_which_to_choose(bpf_obj, bpffs):
    path = bpf_obj("old/libbpf0_tc")
    with pytest.raises(ValueError, match="pass compat= one of 'bpf_load', 'iproute2', 'libbpf0'"):
        bpf.Object.open(path)
    with bpf.Object.open(path, compat="libbpf0") as obj:
        obj.load()
        assert {n for n, p in obj.programs.items() if p.autoload} == {"xdp_count", "socket_count", "kprobe_count",
                                                                      "cgroup_count", "cls_count"}
        assert obj.programs["cls_count"].type == bpf.ProgType.SCHED_CLS
    with bpf.Object.open(path, compat="iproute2", pin_root=str(bpffs)) as obj:  # tc lays out its tree there
        obj.load()
        assert {n for n, p in obj.programs.items() if p.autoload} == {"cls_count"}


def takes_only_its_template(outer, inner, other_shape) -> None:
    """``inner`` (the template's shape) goes into slot 0 of the map-in-map ``outer``; a map of
    ``other_shape`` is refused (EINVAL)."""
    outer.key_type = int
    outer.update(0, inner.fd)
    with pytest.raises(OSError) as exc:
        outer.update(1, other_shape.fd)
    assert exc.value.errno == errno.EINVAL


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_bpf_load_object_takes_its_inner_template_and_numa_node(bpf_obj, variant):
    with bpf.Object.open(bpf_obj(f"old/bpf_load_era{variant}")) as obj:
        assert [hook.reading for hook in obj.hooks] == ["bpf_load"]
        assert {n: p.autoload for n, p in obj.programs.items()} == {
            "lookup_through_outer": True, "count_on_node": True, "not_for_bpf_load": False}  # lwt_in: skipped
        obj.load()
        assert kernel_map(obj.maps["on_node"])["flags"] == bpf.MapFlags.NUMA_NODE
        inner = obj.maps["inner_proto"]
        inner.key_type = inner.value_type = int
        inner[0] = 41
        with bpf.Map.create(bpf.MapType.ARRAY, 4, 8, 8) as other_shape:
            takes_only_its_template(obj.maps["outer"], inner, other_shape)
        obj.programs["lookup_through_outer"].test_run(bytes(64))
        counts = obj.maps["counts"]
        counts.key_type = counts.value_type = int
        assert counts[0] == 41
        assert all(m.pin_path is None for m in obj.maps.values())


def test_an_xdp_object_for_ip_link_loads_alike_through_iproute2_open(bpf_obj, bpffs):
    """``ip link set dev X xdp obj F sec xdp_prog`` reads the 28-byte definitions as bpf_elf_map
    (numa_node as pinning: 0, none) and loads that section as XDP; Object.open loads it the same."""
    path = bpf_obj("old/ip_xdp")
    with iproute2.open(path, "xdp", section="xdp_prog", mnt=str(bpffs)) as as_ip, bpf.Object.open(path) as auto:
        as_ip.load()
        auto.load()
        assert [hook.reading for hook in auto.hooks] == ["bpf_load"]
        mine, theirs = as_ip.programs["xdp_count_packets"].info(), auto.programs["xdp_count_packets"].info()
        assert (mine.type, mine.tag) == (theirs.type, theirs.tag) and mine.type == bpf.ProgType.XDP
        assert all(m.pin_path is None for m in as_ip.maps.values()) and all(m.pin_path is None
                                                                           for m in auto.maps.values())


def test_a_weak_map_and_a_static_program_are_bound_as_libbpf_0_x_bound_them(bpf_obj):
    with bpf.Object.open(bpf_obj("old/libbpf0_sections")) as obj:
        assert [hook.reading for hook in obj.hooks] == ["libbpf0"]
        obj.load()
        obj.programs["socket_static"].test_run(bytes(64))
        for name in ("hits", "spare", "weak_hits"):
            obj.maps[name].key_type = obj.maps[name].value_type = int
        assert obj.maps["weak_hits"][0] == 7 and obj.maps["spare"][0] == 0 and obj.maps["hits"][5] == 1


def test_a_section_libbpf_0_x_did_not_know_refuses_the_object(bpf_obj, tmp_path):
    data = bpf_obj("old/libbpf0_era").read_bytes().replace(b"xdp_prog\0", b"tc\0\0\0\0\0\0\0")  # a 1.x-only name
    path = tmp_path / "tc_section.o"
    path.write_bytes(data)
    with pytest.raises(LegacyMapError, match="no program type"):
        bpf.Object.open(path, compat="libbpf0")


@pytest.mark.parametrize("variant", VARIANTS)
def test_bpf_load_puts_socket_n_programs_into_the_last_prog_array(bpf_obj, variant):
    with bpf.Object.open(bpf_obj(f"old/bpf_load_tail{variant}")) as obj:
        assert [hook.reading for hook in obj.hooks] == ["bpf_load"]
        obj.load()
        assert obj.programs["entry"].test_run(bytes(64)).retval == 42  # through jmp_table[0]


def prog_array_ids(array) -> dict:
    """The program id at each filled slot of a live prog array."""
    with bpf.Map.from_fd(array.fd) as view:
        view.key_type = view.value_type = int
        return dict(view.items())


@pytest.mark.parametrize("variant", VARIANTS)
def test_auto_keeps_the_tail_calls_of_numbered_socket_sections_with_20_byte_definitions(bpf_obj, variant):
    """samples/bpf's sockex3 shape: libbpf 0.x's 20-byte struct, bpf_load.c's socket/N convention.
    auto takes bpf_load.c's reading and says why; libbpf 0.x's, asked for, leaves the slots empty."""
    path = bpf_obj(f"old/sockex3_shape{variant}")
    with bpf.Object.open(path) as obj:
        assert [(hook.reading, "socket/0" in hook.why) for hook in obj.hooks] == [("bpf_load", True)]
        obj.load()
        main, parse = obj.programs["main_prog"], obj.programs["parse_next"]
        assert prog_array_ids(obj.maps["jmp_table"]) == {0: main.info().id, 1: parse.info().id}
        assert main.test_run(bytes(64)).retval == 42  # through jmp_table[1]
        hits = obj.maps["hits"]
        hits.key_type = hits.value_type = int
        assert hits[1] == 1
    with bpf.Object.open(path, compat="libbpf0") as obj:
        obj.load()
        assert prog_array_ids(obj.maps["jmp_table"]) == {}
        assert obj.programs["main_prog"].test_run(bytes(64)).retval == 1  # the slot is empty


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_map_in_map_libbpf_0_x_cannot_create_leaves_bpf_load_as_the_reading(bpf_obj, reference, variant):
    """map_perf_test's shape: 28-byte definitions whose inner template comes first (inner_map_idx 0:
    nothing non-zero past 20 bytes). libbpf 0.3 itself fails to create the outer map."""
    path = bpf_obj(f"old/map_in_map_first{variant}")
    if variant:
        assert reference(path) is None
    with bpf.Object.open(path) as obj:
        assert [(hook.reading, hook.why) for hook in obj.hooks] == [("bpf_load", "the only reading that fits")]
        assert {n: p.autoload for n, p in obj.programs.items()} == {"stress_lru": True, "lookup_inner": True}
        obj.load()
        assert kernel_map(obj.maps["inner_lru"])["flags"] == bpf.MapFlags.NUMA_NODE
        with bpf.Map.create(bpf.MapType.LRU_HASH, 4, 8, 16, flags=bpf.MapFlags.NUMA_NODE) as inner, \
                bpf.Map.create(bpf.MapType.HASH, 4, 8, 16) as other_shape:
            inner.key_type = inner.value_type = int
            inner[0] = 99
            takes_only_its_template(obj.maps["array_of_lru"], inner, other_shape)
            obj.programs["lookup_inner"].test_run(bytes(64))
        counts = obj.maps["counts"]
        counts.key_type = counts.value_type = int
        assert counts[0] == 99


@pytest.mark.parametrize("name", ["old/sockex3_shape-nog", "old/libbpf0_no_maps-nog"])
def test_libbpf0_readings_of_the_new_shapes_match_libbpf_0_3(bpf_obj, reference, name):
    theirs = reference(bpf_obj(name))
    assert theirs is not None
    with bpf.Object.open(bpf_obj(name), compat="libbpf0") as obj:
        obj.load()
        assert in_any_order(as_loaded(obj)) == in_any_order(theirs)


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_object_without_maps_loads_as_libbpf_0_x_typed_it(bpf_obj, variant):
    with bpf.Object.open(bpf_obj(f"old/libbpf0_no_maps{variant}"), compat="libbpf0") as obj:
        obj.load()
        assert obj.programs["drop_all"].test_run(bytes(64)).retval == 1  # XDP_DROP
        assert obj.programs["keep_all"].info().type == bpf.ProgType.SOCKET_FILTER


@pytest.mark.parametrize("variant", VARIANTS)
def test_bpf_load_reading_loads_calls_and_global_data_bpf_load_c_refused(bpf_obj, variant):
    """What the shim loads beyond its era's loader (docs/old-formats.rst's differences): a BPF-to-BPF call,
    and libbpf 1.x's internal maps for .bss and .rodata, which bpf_load.c never made."""
    with pytest.raises(ValueError, match="sections loaded: bpf_load: 'socket_calls' .*libbpf0: 'lwt_xmit'"):
        bpf.Object.open(bpf_obj(f"old/bpf_load_calls{variant}"))
    with bpf.Object.open(bpf_obj(f"old/bpf_load_calls{variant}"), compat="bpf_load") as obj:
        assert {n: p.autoload for n, p in obj.programs.items()} == {"classify": True, "skipped": False}
        obj.load()
        assert obj.programs["classify"].test_run(bytes(64)).retval == 2 * 50  # past the Ethernet header
        bss = next(m for name, m in obj.maps.items() if name.endswith(".bss"))
        bss.key_type = bss.value_type = int  # (without -g there is no BTF to read `calls` by name)
        assert bss[0] == 1
        internal = sorted(name.split(".", 1)[1] for name in obj.maps if "." in name)
        assert internal == ["bss", "rodata"] and all(m.pin_path is None for m in obj.maps.values())


@pytest.mark.parametrize("variant", VARIANTS)
def test_string_literals_load_where_libbpf_0_3_refused_them(bpf_obj, reference, variant):
    """libbpf 0.3 skips '.rodata.str1.1' and refuses the program relocated against it; libbpf
    1.x makes an internal map of it (docs/old-formats.rst's differences), for a program bpf_load.c skips too."""
    path = bpf_obj(f"old/strings_rodata{variant}")
    assert reference(path) is None
    with bpf.Object.open(path, compat="libbpf0") as obj:
        obj.load()
        assert obj.programs["trace_length"].info().type == bpf.ProgType.LWT_XMIT
        assert obj.maps[".rodata.str1.1"].pin_path is None
    with bpf.Object.open(path, compat="bpf_load") as obj:
        assert not obj.programs["trace_length"].autoload
        obj.load()
        assert ".rodata.str1.1" in obj.maps  # made although no loaded program reads it
        obj.programs["mark"].test_run(bytes(64))
        marks = obj.maps["marks"]
        marks.key_type = marks.value_type = int
        assert marks[0] == 7
