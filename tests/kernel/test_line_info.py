"""Source lines: a loaded program's line info (from the kernel, checked against the source
file, bpftool and, on libbpf >= 1.6, libbpf's own records), and the source line a
VerifierError names."""

from __future__ import annotations

import ctypes
import errno
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import libbpf_py as bpf
from libbpf_py.errors import SourceLine, last_source_line

SOURCE = Path(__file__).resolve().parents[2] / "bpf_progs" / "p2_insns.c"


@pytest.fixture
def loaded(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_insns")) as obj:
        obj.load()
        yield obj


def test_line_info_quotes_the_source_file(loaded):
    records = loaded.programs["p2_counts_runs"].line_info()
    lines = SOURCE.read_text().splitlines()
    quoted = [r for r in records if r.line]
    assert quoted and records[0].insn_off == 0
    assert [r.insn_off for r in records] == sorted(r.insn_off for r in records)
    for record in quoted:
        assert Path(record.file).name == "p2_insns.c"
        assert record.source == lines[record.line - 1]  # the text BTF carries is the file's line
    assert any("__sync_fetch_and_add(runs, 1);" in r.source for r in quoted)
    first = lines.index("int p2_counts_runs(struct __sk_buff *skb)") + 1
    assert {r.line for r in quoted} <= set(range(first, first + 11))


def test_line_info_matches_bpftool(loaded):
    if shutil.which("bpftool") is None:
        pytest.skip("bpftool is not installed")
    program = loaded.programs["p2_counts_runs"]
    out = subprocess.run(["bpftool", "-j", "prog", "dump", "xlated", "id", str(program.info().id), "linum"],
                         capture_output=True, text=True, check=True).stdout
    theirs = [(entry["line_num"], entry["src"].strip()) for entry in json.loads(out)
              if "line_num" in entry and entry["line_num"]]
    ours = [(r.line, r.source.strip()) for r in program.line_info() if r.line]
    assert ours == theirs


class _BpfLineInfo(ctypes.Structure):
    _fields_ = [("insn_off", ctypes.c_uint32), ("file_name_off", ctypes.c_uint32), ("line_off", ctypes.c_uint32),
                ("line_col", ctypes.c_uint32)]


def test_line_info_agrees_with_libbpfs_records(loaded):
    lib = bpf.libbpf()
    program = loaded.programs["p2_counts_runs"]
    if lib.version < (1, 6):
        with pytest.raises(bpf.LibbpfFeatureError):
            lib.bpf_program__line_info(program.as_libbpf())
        pytest.skip(f"libbpf {lib.version_string} has no bpf_program__line_info (1.6)")
    count = lib.bpf_program__line_info_cnt(program.as_libbpf())
    records = ctypes.cast(lib.bpf_program__line_info(program.as_libbpf()), ctypes.POINTER(_BpfLineInfo))
    libbpfs = [(records[i].line_col >> 10, records[i].line_col & 0x3FF) for i in range(count)]
    assert libbpfs == [(r.line, r.column) for r in program.line_info()]


def test_a_pinned_program_has_the_same_line_info(loaded, bpffs):
    program = loaded.programs["p2_counts_runs"]
    program.pin(bpffs / "prog")
    with bpf.Program.from_pinned(bpffs / "prog") as pinned:
        assert pinned.line_info() == program.line_info()


def test_line_info_needs_a_loaded_program(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_insns")) as obj:
        with pytest.raises(bpf.LibbpfError, match="not loaded") as exc:
            obj.programs["p2_counts_runs"].line_info()
        assert exc.value.errno == errno.EBADF


def test_a_verifier_error_names_the_source_line_it_stopped_at(bpf_obj):
    with pytest.raises(bpf.VerifierError) as exc:
        with bpf.Object.open(bpf_obj("verifier_reject")) as obj:
            obj.load()
    source = exc.value.source
    assert source is not None and source.file is not None
    assert Path(source.file).name == "verifier_reject.c"
    lines = (SOURCE.parent / "verifier_reject.c").read_text().splitlines()
    assert lines[source.line - 1].strip() == source.text
    assert source.text.startswith("return *val ? 1 : 0;")  # the unchecked dereference
    assert f"at {source}" in str(exc.value)


def test_source_lines_are_read_from_both_log_formats():
    new = "0: (b7) r1 = 0\n; x = 1; @ prog.c:7\n;  @ prog.c:0\n1: (79) r1 = *(u64 *)(r0 +0)\nR0 invalid mem\n"
    assert last_source_line(new) == SourceLine("prog.c", 7, "x = 1;")
    old = "; int f(void *ctx)\n0: (b7) r0 = 0\n; return *p;\n1: (79) r0 = *(u64 *)(r1 +0)\nR1 invalid\n"
    assert last_source_line(old) == SourceLine(None, 0, "return *p;")
    assert str(last_source_line(old)) == "return *p;"
    assert last_source_line("0: (95) exit\nR0 !read_ok\n") is None
