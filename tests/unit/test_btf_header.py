"""Btf.from_header: a C header's types compiled by clang into BTF, as ctypes types.

The header (tests/data/probe_events.h) declares records as libbpf-tools headers do, one of them
reached by its BPF program (bpf_progs/probe_header.c) only through void *. Layouts are checked
against clang's own record layout dump and against the object's BTF."""

from __future__ import annotations

import ctypes
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

import libbpf_py as bpf
from libbpf_py.btf import Btf, HeaderCompileError, declared_types, find_clang
from libbpf_py.errors import Error, MissingDependencyError, MissingTypeError

DATA = Path(__file__).resolve().parent.parent / "data"
HEADER = DATA / "probe_events.h"


def clang_or_skip() -> str:
    try:
        return find_clang()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def header_btf():
    clang_or_skip()
    btf = Btf.from_header(HEADER)
    yield btf
    btf.close()


def clang_layout(clang: str, spelling: str) -> dict:
    """clang's own layout of a record of the header: its size, and each top-level member's byte
    offset or (bit offset, bits), from -fdump-record-layouts-complete."""
    out = subprocess.run([clang, "-target", "bpf", "-fsyntax-only", "-Xclang", "-fdump-record-layouts-complete",
                          *multiarch(), "-include", "linux/types.h", "-x", "c", str(HEADER)],
                         capture_output=True, text=True, check=True).stdout
    block = out[out.index(f"| {spelling}\n"):]
    block = block[:block.index("[sizeof=") + 40]
    members = {}
    for line in block.splitlines()[1:]:
        match = re.match(r"\s*(\d+)(?::(\d+)-(\d+))? \|   (?! )(.*) (\w+)$", line)
        if match:
            byte, first, last, _type, name = match.groups()
            members[name] = int(byte) if first is None else (8 * int(byte) + int(first), int(last) - int(first) + 1)
    size = int(re.search(r"\[sizeof=(\d+)", block).group(1))
    return {"size": size, "members": members}


def multiarch():
    import sysconfig

    arch = sysconfig.get_config_var("MULTIARCH")
    return [f"-I/usr/include/{arch}"] if arch and os.path.isdir(f"/usr/include/{arch}") else []


def ctypes_layout(ctype) -> dict:
    """The same view of a ctypes type made from BTF (an anonymous member's fields, which ctypes
    lifts into the outer type, are left out, as clang's dump shows them inside the member)."""
    storage = getattr(ctype, "_storage_", ctype)
    members = {}
    for name, *_ in storage._fields_:
        if not name.startswith("@"):
            members[name] = getattr(storage, name).offset
    for name, bit_offset, bits, _signed in getattr(ctype, "_bitfields_", ()):
        members[name] = (bit_offset, bits)
    return {"size": ctypes.sizeof(ctype), "members": members}


def test_a_record_reached_only_through_void_pointer_is_in_the_headers_btf_laid_out_as_clang_does(
        header_btf, bpf_obj):
    with bpf.Object.open(bpf_obj("probe_header")) as obj:
        with pytest.raises(MissingTypeError):
            obj.btf["struct exit_event"]
    record = header_btf["struct exit_event"]
    expected = clang_layout(find_clang(), "struct exit_event")
    assert ctypes_layout(record) == expected
    assert expected["size"] == 64 and expected["members"]["cpu"] == 58  # (what the layout holds, said once)


def test_a_record_the_object_keeps_has_the_objects_layout_bitfields_and_anonymous_union_included(
        header_btf, bpf_obj):
    from_header = header_btf["struct open_event"]
    with bpf.Object.open(bpf_obj("probe_header")) as obj:
        from_object = obj.btf["struct open_event"]
        obj.btf.check("struct open_event", from_header)  # every member's offset and size, and the size
    assert ctypes_layout(from_header) == ctypes_layout(from_object)
    clang = clang_layout(find_clang(), "struct open_event")
    ours = ctypes_layout(from_header)
    assert ours["size"] == clang["size"] == 280
    assert ours["members"] == clang["members"]
    assert (from_header.uid.offset, from_header.small.offset) == (16, 16)  # the anonymous union's, lifted


def test_every_type_the_header_declares_reaches_btf_used_or_not(header_btf):
    names = set(header_btf)
    declared = {"struct exit_event", "struct open_event", "enum exit_kind", "union exit_status",
                "exit_totals_t", "exit_time_t"}
    assert declared <= names
    assert "struct probe_ids" in names                     # of the included header, used by exit_event
    assert "struct probe_unused_common" not in names       # of the included header, used by nobody
    assert "struct never_defined" not in header_btf        # declared, never defined: no struct
    assert header_btf.enumerators("enum exit_kind") == {"EXIT_NORMAL": 0, "EXIT_SIGNALED": 1, "EXIT_DUMPED": 0x80}
    assert ctypes.sizeof(header_btf["exit_totals_t"]) == 16
    assert header_btf["exit_time_t"] is ctypes.c_uint64
    assert ctypes.sizeof(header_btf["union exit_status"]) == 4
    with pytest.raises(MissingTypeError, match="the header itself declares"):
        header_btf["struct probe_unused_common"]


def test_the_headers_btf_written_as_c_compiles_into_the_same_layouts(header_btf, tmp_path):
    text = header_btf.dump_c(header=False)
    assert "struct exit_event {" in text and "__libbpf_py_type_" not in text  # the naming globals are no types
    again = tmp_path / "again.h"
    again.write_text(text)
    with Btf.from_header(again, prelude=()) as round_trip:
        for name in ("struct exit_event", "struct open_event", "union exit_status", "exit_totals_t"):
            assert ctypes_layout(round_trip[name]) == ctypes_layout(header_btf[name]), name


def test_a_prelude_such_as_vmlinux_h_gives_the_types_a_header_written_against_it_uses(tmp_path, bpf_obj):
    vmlinux_h = Path(str(bpf_obj("vmlinux/tracing"))).parent / "vmlinux.h"
    if not vmlinux_h.exists():
        pytest.skip(f"{vmlinux_h} is not built (make -C bpf_progs)")
    clang_or_skip()
    header = tmp_path / "task_event.h"
    header.write_text("struct task_event { pid_t pid; struct list_head node; u64 ts; bool on_cpu; };\n")
    with pytest.raises(HeaderCompileError, match="unknown type name 'pid_t'"):
        Btf.from_header(header)  # linux/types.h has no pid_t
    with Btf.from_header(header, [vmlinux_h.parent], prelude=("vmlinux.h",)) as btf:
        assert list(btf)[0] == "struct task_event"
        event = btf["struct task_event"]
        assert (event.node.offset, event.ts.offset, event.on_cpu.offset, ctypes.sizeof(event)) == (8, 24, 32, 40)
        assert "struct task_struct" not in btf  # vmlinux.h's types come along only where used


def test_a_header_that_does_not_compile_raises_with_clangs_diagnostics(tmp_path):
    clang_or_skip()
    bad = tmp_path / "bad.h"
    bad.write_text("struct broken {\n\tint a;\n\tundeclared_t b;\n};\n")
    with pytest.raises(HeaderCompileError) as raised:
        Btf.from_header(bad)
    exc = raised.value
    assert isinstance(exc, Error) and isinstance(exc, ValueError)
    assert "bad.h:3:2: error: unknown type name 'undeclared_t'" in exc.diagnostics
    assert exc.diagnostics.strip() in str(exc) and str(bad) in str(exc)
    assert exc.command[0] == find_clang()


def test_a_missing_clang_is_a_missing_dependency(tmp_path):
    with pytest.raises(MissingDependencyError, match="'/nonexistent/clang-99' is not found.*apt install clang"):
        Btf.from_header(HEADER, clang="/nonexistent/clang-99")
    with pytest.raises(MissingDependencyError):
        Btf.from_header(HEADER, clang=str(tmp_path / "no-clang"))


def test_a_missing_header_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such header"):
        Btf.from_header(tmp_path / "absent.h")


def fake_tool(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_without_a_plain_clang_the_newest_versioned_one_on_path_is_used(tmp_path, monkeypatch):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    fake_tool(old, "clang-9")
    newest = fake_tool(new, "clang-17")
    fake_tool(old, "clang-16")
    monkeypatch.delenv("CLANG", raising=False)
    monkeypatch.setenv("PATH", f"{old}{os.pathsep}{new}")
    assert find_clang() == str(newest)
    plain = fake_tool(new, "clang")
    assert find_clang() == str(plain)
    monkeypatch.setenv("CLANG", "clang-9")
    assert find_clang() == str(old / "clang-9")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CLANG")
    with pytest.raises(MissingDependencyError, match="no clang on PATH"):
        find_clang()


def test_declarations_are_the_headers_own_even_where_clang_names_their_file_once(tmp_path):
    """clang's JSON names a location's file only where it changes: a declaration after one of
    another file (an #include in the middle) is found by following every location in order."""
    clang = clang_or_skip()
    inner = tmp_path / "inner.h"
    inner.write_text("struct from_inner { int a; };\ntypedef int inner_t;\n")
    header = tmp_path / "outer.h"
    header.write_text('struct first { int a; };\n#include "inner.h"\nenum second { S };\n'
                      "typedef struct { int x; } third_t;\nstruct first *not_a_type;\nunion fourth { int a; };\n"
                      "struct fwd;\n")
    ast = subprocess.run([clang, "-target", "bpf", "-fsyntax-only", "-Xclang", "-ast-dump=json", "-x", "c",
                          str(header)], capture_output=True, text=True, check=True).stdout
    import json

    assert declared_types(json.loads(ast), str(header)) == ["struct first", "enum second", "third_t",
                                                            "union fourth"]
    assert declared_types(json.loads(ast), str(inner)) == ["struct from_inner", "inner_t"]


def test_the_header_is_compiled_without_files_left_behind(tmp_path, monkeypatch):
    clang_or_skip()
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with Btf.from_header(HEADER) as btf:
        assert "struct exit_event" in btf
    assert list(tmp_path.iterdir()) == []

