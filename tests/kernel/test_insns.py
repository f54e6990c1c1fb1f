"""A program's instructions: read before and after load (libbpf's), from a pin (the kernel's
translated ones), and replaced before load with hand-assembled ones that test_run then runs (not a program with
relocations: libbpf would apply them to the new instructions)."""

from __future__ import annotations

import errno
import struct

import pytest

import libbpf_py as bpf

PACKET = bytes(64)


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One struct bpf_insn (little-endian x86-64 layout: registers in one byte, dst low)."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


BPF_ALU64_MOV_K, BPF_EXIT = 0xB7, 0x95
RETURN_TWO = insn(BPF_ALU64_MOV_K, dst=0, imm=2) + insn(BPF_EXIT)   # r0 = 2; exit
RETURN_ONE = insn(BPF_ALU64_MOV_K, dst=0, imm=1) + insn(BPF_EXIT)


@pytest.fixture
def obj(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_insns")) as obj:
        yield obj


def test_insns_are_readable_before_and_after_load(obj):
    program = obj.programs["p2_returns_one"]
    assert program.insns == RETURN_ONE  # what clang emitted for `return 1;`
    assert program.insn_count == 2
    obj.load()
    assert program.insns == RETURN_ONE
    assert program.test_run(PACKET).retval == 1


def test_set_insns_replaces_what_loads(obj):
    program = obj.programs["p2_returns_one"]
    program.set_insns(RETURN_TWO)
    assert program.insns == RETURN_TWO
    obj.load()
    assert program.test_run(PACKET).retval == 2
    assert program.insns == RETURN_TWO
    with pytest.raises(bpf.LibbpfError) as exc:
        program.set_insns(RETURN_ONE)  # loaded: too late
    assert exc.value.errno == errno.EBUSY


def test_a_pinned_program_shows_the_kernels_translated_insns(obj, bpffs):
    obj.load()
    program = obj.programs["p2_returns_one"]
    program.pin(bpffs / "prog")
    with bpf.Program.from_pinned(bpffs / "prog") as pinned:
        assert pinned.insns == RETURN_ONE  # nothing for the verifier to rewrite here
        with pytest.raises(bpf.LibbpfError) as exc:
            pinned.set_insns(RETURN_TWO)
        assert exc.value.errno == errno.EBUSY
    with pytest.raises(bpf.ClosedError):
        pinned.insns


def test_bad_insns_are_refused_before_c(obj):
    program = obj.programs["p2_returns_one"]
    for bad in (b"", b"\0" * 12, "r0 = 2"):
        with pytest.raises((ValueError, TypeError)):
            program.set_insns(bad)
    obj.close()
    with pytest.raises(bpf.ClosedError):
        program.set_insns(RETURN_TWO)
    with pytest.raises(bpf.ClosedError):
        program.insns


def test_a_program_with_relocations_keeps_its_instructions(obj):
    """libbpf applies a program's relocations at load at their offsets, in whatever instructions
    are there then (past the end of shorter ones): set_insns refuses such a program, unchanged."""
    program = obj.programs["p2_counts_runs"]  # reads a map: its lookup is relocated
    before = program.insns
    with pytest.raises(bpf.InvalidValueError, match=r"'p2_counts_runs': it has 1 relocation"):
        program.set_insns(RETURN_TWO)
    assert program.insns == before
    obj.load()
    assert program.test_run(PACKET).retval == 3  # the program as compiled (a 64-byte packet: 3)
    assert obj.maps["p2_runs"][0] == struct.pack("<Q", 1)


def test_co_re_relocations_and_line_info_past_the_end_are_refused_too(obj, bpf_obj):
    """What .BTF.ext says of the old instructions: a CO-RE relocation libbpf would write into the
    new ones, line info the kernel would refuse past their end. The same length passes."""
    with pytest.raises(bpf.InvalidValueError, match=r"'p2_core_offset': it has 1 CO-RE relocation"):
        obj.programs["p2_core_offset"].set_insns(RETURN_TWO)
    computes = obj.programs["p2_computes"]
    with pytest.raises(bpf.InvalidValueError, match=r"line or function info .* past the new 2"):
        computes.set_insns(RETURN_TWO)
    padded = RETURN_TWO[:8] + insn(BPF_ALU64_MOV_K, dst=1, imm=0) * (computes.insn_count - 2) + RETURN_TWO[8:]
    computes.set_insns(padded)  # as long as before: its line info still names instructions it has
    obj.load()
    assert computes.test_run(PACKET).retval == 2
    with bpf.Object.open(bpf_obj("p2_insns"), compat="none", check_btf=False) as unchecked:
        with pytest.raises(bpf.InvalidValueError, match="keeps no bytes to count its relocations in"):
            unchecked.programs["p2_returns_one"].set_insns(RETURN_TWO)
