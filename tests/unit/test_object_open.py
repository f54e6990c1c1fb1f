"""Opening objects needs no privileges: inspection, edits, argument checks, bad input."""

from __future__ import annotations

import logging

import pytest

import libbpf_py as bpf
from libbpf_py import MapType, ProgType


def test_inspect_maps_and_programs(bpf_obj):
    with bpf.Object.open(bpf_obj("maps")) as obj:
        assert obj.name == "maps" and not obj.loaded
        assert {"hash_map", "array_map", "percpu_hash", "percpu_array", "lru_hash", "queue", "stack", "events",
                "struct_map", "outer_map"} <= set(obj.maps)
        h = obj.maps["hash_map"]
        assert (h.type, h.key_size, h.value_size, h.max_entries, h.flags) == (MapType.HASH, 4, 8, 1024, 0)
        assert obj.maps["queue"].key_size == 0 and obj.maps["percpu_array"].is_percpu
        assert obj.maps["outer_map"].inner_map.max_entries == 8 and h.inner_map is None
        prog = obj.programs["count_packets"]
        assert prog.section == "tc" and prog.type == ProgType.SCHED_CLS and prog.autoload


def test_edits_before_load_read_back(bpf_obj):
    with bpf.Object.open(bpf_obj("maps")) as obj:
        h = obj.maps["hash_map"]
        h.max_entries, h.value_size, h.flags, h.type = 10, 16, 1, MapType.LRU_HASH
        h.autocreate = False
        assert (h.max_entries, h.value_size, h.flags, h.type, h.autocreate) == (10, 16, 1, MapType.LRU_HASH, False)
        prog = obj.programs["count_packets"]
        prog.autoload = False
        prog.type = ProgType.SCHED_ACT
        assert (prog.autoload, prog.type) == (False, ProgType.SCHED_ACT)


def test_live_operations_before_load_explain_themselves(bpf_obj):
    with bpf.Object.open(bpf_obj("maps")) as obj:
        with pytest.raises(OSError, match="not loaded yet"):
            obj.maps["hash_map"].lookup(0)
        with pytest.raises(OSError, match="not loaded yet"):
            obj.programs["count_packets"].test_run(b"")
        with pytest.raises(ValueError):
            obj.maps["hash_map"].value_type = ctypes_uint32()


def ctypes_uint32():
    import ctypes

    return ctypes.c_uint32  # 4 bytes, the map's values are 8


def test_closed_object_refuses_everything(bpf_obj):
    obj = bpf.Object.open(bpf_obj("maps"))
    h = obj.maps["hash_map"]
    obj.close()
    with pytest.raises(bpf.ClosedError):
        obj.programs
    with pytest.raises(bpf.ClosedError):
        h.max_entries = 3
    with pytest.raises(bpf.ClosedError):
        h.name


def test_bad_input_is_a_python_exception(bpf_obj, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="libbpf_py.libbpf")
    with pytest.raises(bpf.LibbpfError):
        bpf.Object.open(b"not an ELF file at all")
    assert any(r.name == "libbpf_py.libbpf" for r in caplog.records)  # libbpf's own words, via logging
    with pytest.raises(bpf.LibbpfError):   # libbpf's refusal
        bpf.Object.open(bpf_obj("maps").read_bytes()[:200], check_btf=False)
    with pytest.raises(bpf.ElfError, match="section header table"):   # the package's own, first
        bpf.Object.open(bpf_obj("maps").read_bytes()[:200], check_btf=True)
    with pytest.raises(FileNotFoundError):
        bpf.Object.open(tmp_path / "missing.o")
    with pytest.raises(OSError, match="invalid pinning value 2"):   # libbpf's reason, in the exception
        bpf.Object.open(bpf_obj("pinning_invalid"))
    with pytest.raises(ValueError, match="empty"):
        bpf.Object.open(b"")
    with pytest.raises(ValueError, match="log_size"):
        bpf.Object.open(bpf_obj("maps"), log_size=1)
    with pytest.raises(TypeError):
        bpf.Map()


def test_definition_setters_refuse_values_that_would_wrap(bpf_obj):
    with bpf.Object.open(bpf_obj("maps")) as obj:
        h = obj.maps["hash_map"]
        for field, bad in (("max_entries", 2**32 + 5), ("value_size", -8), ("flags", 1.5), ("map_extra", 2**64)):
            with pytest.raises(ValueError, match=field):
                setattr(h, field, bad)
        assert (h.max_entries, h.value_size) == (1024, 8)


def test_bytes_get_a_stable_documented_name(bpf_obj):
    data = bpf_obj("maps").read_bytes()
    names = []
    for _ in range(2):
        with bpf.Object.open(data) as obj:
            names.append(obj.name)
    assert names == ["object", "object"]
    with bpf.Object.open(data, name="mine") as obj:
        assert obj.name == "mine"
    with bpf.Object.open(bpf_obj("maps")) as obj:
        assert obj.name == "maps"


def test_nul_bytes_in_paths_are_refused_before_c_cuts_them(bpf_obj, tmp_path):
    with pytest.raises(ValueError, match="NUL"):
        bpf.Object.open(str(bpf_obj("maps")) + "\0x", compat="none")
    with pytest.raises(ValueError, match="NUL"):
        bpf.Object.open(bpf_obj("maps"), pin_root="/sys/fs/bpf/a\0b")
    with pytest.raises(ValueError, match="NUL"):
        bpf.Map.from_pinned("/sys/fs/bpf/x\0y")
    with bpf.Object.open(bpf_obj("pinned")) as obj:
        with pytest.raises(ValueError, match="NUL"):
            obj.maps["pinned_counts"].pin_path = "/sys/fs/bpf/a\0b"
    with bpf.Object.open(bpf_obj("pinned"), pinning=bpf.PinPolicy()) as obj:
        with pytest.raises(ValueError, match="NUL"):
            obj.maps["pinned_counts"].pin_path = "/sys/fs/bpf/a\0b/c"


def _renamed(data: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and data.count(old + b"\0") >= 1
    return data.replace(old + b"\0", new + b"\0")


def test_names_that_are_not_utf8_are_kept_as_surrogates(bpf_obj):
    """libbpf takes any bytes as a name; so does the binding, and gives them back unchanged."""
    data = _renamed(bpf_obj("iproute2/global_ns-nog").read_bytes(), b"stats_global", b"stats_gl\xffbal")
    with bpf.Object.open(data) as obj:
        name = "stats_gl\udcffbal"
        assert name in obj.maps and obj.maps[name].name == name
    new_data, maps = bpf.compat.rewrite(data)
    assert [m.name for m in maps if m.name.startswith("stats")] == [name]
    assert b"stats_gl\xffbal\0" in new_data


def test_struct_ops_maps_outside_struct_ops_sections_are_refused_at_open(bpf_obj):
    """libbpf crashes loading a STRUCT_OPS map it did not read from .struct_ops."""
    with pytest.raises(bpf.ElfError, match="not declared in a .struct_ops section"):
        bpf.Object.open(bpf_obj("struct_ops_in_maps"))


def test_no_map_changes_to_or_from_struct_ops(bpf_obj):
    with bpf.Object.open(bpf_obj("maps")) as obj:
        with pytest.raises(ValueError, match="STRUCT_OPS"):
            obj.maps["hash_map"].type = MapType.STRUCT_OPS
        assert obj.maps["hash_map"].type == MapType.HASH
    with bpf.Object.open(bpf_obj("vmlinux/struct_ops")) as obj:   # a real one opens
        assert obj.maps["mini_cc"].type == MapType.STRUCT_OPS
        with pytest.raises(ValueError, match="STRUCT_OPS"):
            obj.maps["mini_cc"].type = MapType.HASH


@pytest.mark.parametrize("source", [1, True, 0, None, 2.5])
def test_only_paths_and_bytes_are_opened(source):
    with pytest.raises(TypeError, match="from a path or its bytes"):
        bpf.Object.open(source)


def test_the_old_formats_are_imported_only_for_an_old_object(bpf_obj):
    """Object.open reads the section headers; the compat package comes in only when they show a
    legacy maps section (or a reading is named), and its rewrite reuses that one parse."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, libbpf_py as bpf\n"
            "bpf.Object.open(sys.argv[1]).close()\n"
            "print('libbpf_py.compat' in sys.modules)\n"
            "bpf.Object.open(sys.argv[2]).close()\n"
            "print('libbpf_py.compat' in sys.modules)\n")
    env = {"PYTHONPATH": str(Path(bpf.__file__).parent.parent)}
    done = subprocess.run([sys.executable, "-c", code, str(bpf_obj("xdp_pass")), str(bpf_obj("old/libbpf0_era"))],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


def test_a_legacy_object_is_parsed_once(bpf_obj, monkeypatch):
    from libbpf_py.elf.file import ElfFile

    parses = []
    real = ElfFile.parse.__func__

    def counted(cls, data, **options):
        parses.append(options.get("headers_only", False))
        return real(cls, data, **options)

    monkeypatch.setattr(ElfFile, "parse", classmethod(counted))
    with bpf.Object.open(bpf_obj("iproute2/tail_call")) as obj:
        assert [hook.reading for hook in obj.hooks] == ["iproute2"]
    assert parses == [True]  # the quick look, completed for the rewrite
