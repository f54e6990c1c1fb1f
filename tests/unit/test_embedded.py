"""BPF objects embedded in executables (a libbpf skeleton's ELF image): found by their ELF header,
measured by their section headers, named as bpftool's skeleton names them; Debian's libbpf-tools
(when installed) as the corpus nobody here wrote."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import libbpf_py as bpf

TOOLS = Path("/usr/sbin")
EXECSNOOP = TOOLS / "execsnoop"
needs_libbpf_tools = pytest.mark.skipif(not EXECSNOOP.exists(),
                                        reason="Debian's libbpf-tools is not installed (apt-get install libbpf-tools)")


def host(*parts: bytes) -> bytes:
    """An executable's stand-in: the parts one after another."""
    return b"".join(parts)


def test_objects_inside_other_bytes_are_found_whole_and_named_after_their_source(bpf_obj, tmp_path):
    maps, events = bpf_obj("maps").read_bytes(), bpf_obj("events").read_bytes()
    fake = b"\x7fELF" + bytes(60)  # a header of nothing: no object
    data = host(b"#!junk" * 100, maps, fake, b"\0" * 7, events, b"tail")
    path = tmp_path / "tool"
    path.write_bytes(data)
    found = bpf.embedded_objects(path)
    assert [(o.name, o.offset, o.data) for o in found] == [
        ("maps", 600, maps), ("events", 600 + len(maps) + len(fake) + 7, events)]
    assert bpf.embedded_objects(data) == found  # the file's bytes do as well as its path
    with bpf.Object.open(found[1].data, name=found[1].name) as obj:
        assert obj.name == "events" and "events" in obj.maps
    assert bpf.embedded_object(path, "events") == found[1]
    with pytest.raises(bpf.KeyNotFoundError, match=r"embeds 2 BPF objects \(maps, events\): name the one"):
        bpf.embedded_object(path)


def test_a_file_without_objects_and_truncated_images(bpf_obj, tmp_path):
    maps = bpf_obj("maps").read_bytes()
    assert bpf.embedded_objects(host(b"x" * 10, maps[:-100])) == []  # its section headers are cut off
    assert bpf.embedded_objects(b"") == []
    path = tmp_path / "plain"
    path.write_bytes(b"nothing here")
    with pytest.raises(bpf.LibbpfError) as exc:
        bpf.embedded_object(path)
    assert exc.value.errno == errno.ENOENT and "embeds no BPF object" in str(exc.value)
    with pytest.raises(bpf.LibbpfError) as missing:
        bpf.embedded_objects(tmp_path / "missing")
    assert missing.value.errno == errno.ENOENT


@needs_libbpf_tools
def test_every_libbpf_tools_binary_embeds_one_object_named_after_its_tool():
    binaries = sorted(p for p in TOOLS.iterdir() if not p.is_symlink() and p.is_file() and
                      os.access(p, os.X_OK))
    named = {}
    for binary in binaries:
        found = bpf.embedded_objects(binary)
        if found:
            assert len(found) == 1, binary
            named[binary.name] = found[0].name
            assert found[0].name.encode() + b"\0" in binary.read_bytes()  # the skeleton's own name string
    assert len(named) >= 52, sorted(named)
    assert all(name == f"{tool}_bpf" for tool, name in named.items()), named


@needs_libbpf_tools
def test_every_embedded_object_opens_with_its_programs_and_maps():
    """libbpf opens each (the BTF check included) as the tool's own skeleton names it."""
    opened = 0
    for binary in sorted(p for p in TOOLS.iterdir() if not p.is_symlink() and p.is_file()):
        for found in bpf.embedded_objects(binary):
            with bpf.Object.open(found.data, name=found.name) as obj:
                assert obj.programs and obj.maps, binary
                assert obj.name == found.name[:15]  # (libbpf keeps 15 bytes of it, as for the tool)
            opened += 1
    assert opened >= 52


@needs_libbpf_tools
def test_the_docs_table_names_every_tool_and_its_object():
    table = (Path(__file__).resolve().parents[2] / "docs" / "libbpf-tools.rst").read_text()
    for binary in sorted(p for p in TOOLS.iterdir() if not p.is_symlink() and p.is_file()):
        for found in bpf.embedded_objects(binary):
            assert f"   * - {binary.name}" in table and f"     - {found.name}\n" in table, binary.name


def test_fake_headers_made_to_cost_are_refused_not_scanned_for_minutes():
    """Each fake header names a section header table of 65535 entries (the format's most), its
    own count over one shared table: past a budget of entries read, the file is refused."""
    import struct

    from libbpf_py.elf.embedded import _SCAN_BUDGET

    count = _SCAN_BUDGET // 65000 + 2
    table_at = 64 * count
    headers = b"".join(b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack(
        "<HHIQQQIHHHHHH", 1, 247, 1, 0, 0, table_at - 64 * i, 0, 64, 0, 0, 64, 65535 - i, 1) for i in range(count))
    with pytest.raises(bpf.ElfError, match="section headers to read"):
        bpf.embedded_objects(headers + bytes(64 * 65535))
