"""libbpf's static linker through link(): the bytes bpftool's linker writes, and clear refusals
(no kernel needed)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import libbpf_py as bpf
from libbpf_py.linker import link, link_objects

PARTS = ("link_main", "link_helper")


def _bpftool_libbpf() -> tuple:
    done = subprocess.run(["bpftool", "version"], capture_output=True, text=True, timeout=30)
    found = re.search(r"using libbpf v(\d+)\.(\d+)", done.stdout)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed")
def test_the_linked_object_is_what_bpftool_gen_object_writes(bpf_obj, tmp_path):
    parts = [bpf_obj(name) for name in PARTS]
    ours = link(parts)
    subprocess.run(["bpftool", "gen", "object", str(tmp_path / "theirs.o"), *map(str, parts)], check=True,
                   capture_output=True, timeout=60)
    theirs = (tmp_path / "theirs.o").read_bytes()
    if _bpftool_libbpf() == bpf.libbpf_version():  # the same linker: the same bytes
        assert ours == theirs
    else:  # another libbpf version may order strings differently: the same sections and symbols
        from libbpf_py.elf.file import ElfFile

        mine, other = ElfFile.parse(ours), ElfFile.parse(theirs)
        assert sorted(s.name for s in mine.sections) == sorted(s.name for s in other.sections)
        assert sorted(s.name for s in mine.symbols()) == sorted(s.name for s in other.symbols())


def test_the_order_of_objects_is_kept_and_bytes_or_paths_alike(bpf_obj):
    parts = [bpf_obj(name) for name in PARTS]
    assert link(parts) == link([p.read_bytes() for p in parts])
    assert link(parts) != link(parts[::-1])  # a different layout, as the C linker makes it


def test_a_symbol_defined_twice_is_refused_in_libbpfs_words(bpf_obj):
    helper = bpf_obj("link_helper")
    with pytest.raises(bpf.LibbpfError) as exc:
        link([helper, helper])
    assert exc.value.function == "bpf_linker__add_file"
    assert "conflicting non-weak symbol" in str(exc.value) and "(scale)" in str(exc.value)
    assert str(helper) in str(exc.value)  # the file as the caller named it


def test_bad_input_is_refused_before_libbpf_reads_it(bpf_obj, tmp_path):
    with pytest.raises(bpf.InvalidTypeError):
        link(str(bpf_obj("link_main")))  # one path, not a list of them
    with pytest.raises(bpf.InvalidValueError):
        link([])
    with pytest.raises(bpf.ElfError, match="object 1 of the list is not an ELF file"):
        link([bpf_obj("link_main"), b"not an object"])
    (tmp_path / "text.o").write_text("hello")
    with pytest.raises(bpf.ElfError, match="text.o is not an ELF file"):
        link([tmp_path / "text.o"])
    with pytest.raises(bpf.ElfError, match="object 0 of the list is malformed"):
        link([bpf_obj("link_main").read_bytes()[:200]])
    with pytest.raises(FileNotFoundError):
        link([tmp_path / "missing.o"])


def test_an_unresolved_extern_is_refused_at_open_naming_it(bpf_obj):
    with pytest.raises(bpf.LibbpfError, match="extern 'scale'"):
        link_objects([bpf_obj("link_main")], name="half")
