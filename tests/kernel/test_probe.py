"""bpf.probe against bpftool and against what really loads and attaches.

prog_type, map_type and helper answer as `bpftool feature probe kernel` does for the same items
(its helper lists differ only where its libbpf takes the kernel's refusal for support: checked
against the kernel's own words); tracepoint answers as tracefs does; btf_id finds what
bpftool's dump of vmlinux holds; can_attach says of each program of bpf_progs/probe_variants.c
what loading and attaching that program alone does, in words that name the cause."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, Set

import pytest

import libbpf_py as bpf
from libbpf_py import probe
from libbpf_py._abi import AttachType, MapType, ProgType
from libbpf_py.btf import Btf
from libbpf_py.errors import InvalidTypeError, InvalidValueError, KeyNotFoundError, LibbpfError

VMLINUX = Path("/sys/kernel/btf/vmlinux")
needs_btf = pytest.mark.skipif(not VMLINUX.exists(), reason=f"{VMLINUX} is missing (no CONFIG_DEBUG_INFO_BTF)")


def bpftool(*args: str) -> str:
    return subprocess.run(["bpftool", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def features() -> dict:
    return json.loads(bpftool("-j", "feature", "probe", "kernel"))


def named(cls, key: str, suffix: str):
    return cls[re.fullmatch(rf"have_(\w+)_{suffix}", key).group(1).upper()]


def test_program_types_are_bpftools(features):
    assert len(features["program_types"]) > 20
    for key, have in features["program_types"].items():
        kind = named(ProgType, key, "prog_type")
        assert probe.prog_type(kind) is have, kind
        assert probe.prog_type(int(kind)) is have and probe.prog_type(kind.name.lower()) is have


def test_map_types_are_bpftools(features):
    assert len(features["map_types"]) > 20
    for key, have in features["map_types"].items():
        kind = named(MapType, key, "map_type")
        assert probe.map_type(kind) is have, kind
        assert probe.map_type(int(kind)) is have and probe.map_type(kind.name) is have


# helpers -----------------------------------------------------------------------------------------
#
# bpftool probes each helper but three (which write to the kernel's log) with the libbpf it
# carries. A libbpf before 1.5 takes "program of this type cannot use helper", what kernels 6.x
# answer, for support: where probe.helper says no and bpftool yes, the kernel's own words must be
# that refusal. A program of each type is set up as libbpf's probe sets it up (its facts).

NOT_PROBED_BY_BPFTOOL = {"bpf_trace_printk", "bpf_trace_vprintk", "bpf_probe_write_user"}
NEEDS_A_TARGET = {ProgType.TRACING, ProgType.EXT, ProgType.LSM, ProgType.STRUCT_OPS}
SETUP = {ProgType.CGROUP_SOCK_ADDR: (AttachType.CGROUP_INET4_CONNECT, 0),
         ProgType.CGROUP_SOCKOPT: (AttachType.CGROUP_GETSOCKOPT, 0), ProgType.SK_LOOKUP: (AttachType.SK_LOOKUP, 0),
         ProgType.LIRC_MODE2: (AttachType.LIRC_MODE2, 0), ProgType.SYSCALL: (0, 1 << 4)}


def kernel_refuses(kind: ProgType, helper_id: int) -> bool:
    """Whether the verifier refuses a call of ``helper_id`` in a program of ``kind``, in its words."""
    opts = probe.BpfProgLoadOpts(sz=ctypes.sizeof(probe.BpfProgLoadOpts))
    opts.expected_attach_type, opts.prog_flags = SETUP.get(kind, (0, 0))
    log = ctypes.create_string_buffer(1 << 16)
    opts.log_level, opts.log_size, opts.log_buf = 1, len(log), ctypes.addressof(log)
    insns = bytes((0x85, 0, 0, 0)) + helper_id.to_bytes(4, "little") + bytes((0x95,)) + bytes(7)
    try:
        fd = bpf.libbpf().bpf_prog_load(kind, b"t", b"GPL", insns, 2, ctypes.byref(opts))
    except LibbpfError:
        text = log.value.decode()
        return "cannot use helper" in text or "unknown func" in text or "invalid func" in text
    os.close(fd)
    return False


def test_helpers_are_bpftools_but_where_the_kernel_refuses_them_in_its_newer_words(features):
    lists: Dict[str, Set[str]] = {key[:-len("_available_helpers")]: set(names)
                                  for key, names in features["helpers"].items()}
    universe = set().union(*lists.values()) - NOT_PROBED_BY_BPFTOOL
    assert len(universe) > 100
    for type_name, theirs in lists.items():
        kind = ProgType[type_name.upper()]
        if kind in NEEDS_A_TARGET:
            assert not theirs
            if probe.prog_type(kind):
                with pytest.raises(LibbpfError, match="cannot probe"):
                    probe.helper(kind, "bpf_map_lookup_elem")
            else:
                assert probe.helper(kind, "bpf_map_lookup_elem") is False
            continue
        ours = {name for name in universe if probe.helper(kind, name)}
        assert ours <= theirs, (kind, sorted(ours - theirs))
        if not probe.prog_type(kind):
            assert not ours and not theirs, kind
            continue
        for name in theirs - ours:
            assert kernel_refuses(kind, probe.helper_id(name)), (kind, name)
        for name in sorted(ours)[:10]:
            assert not kernel_refuses(kind, probe.helper_id(name)), (kind, name)


def test_a_helper_by_name_or_id_from_the_kernels_enum(features):
    names = set().union(*map(set, features["helpers"].values()))
    for name in names:
        helper_id = probe.helper_id(name)
        assert probe.helper_id(name[len("bpf_"):]) == probe.helper_id("BPF_FUNC_" + name[len("bpf_"):]) == helper_id
    assert probe.helper_id("bpf_map_lookup_elem") == 1
    assert probe.helper(ProgType.XDP, "bpf_xdp_adjust_head") is probe.helper(ProgType.XDP, 44) is True
    assert probe.helper(ProgType.SOCKET_FILTER, "bpf_xdp_adjust_head") is False
    with pytest.raises(KeyNotFoundError, match="no BPF helper named 'bpf_no_such_helper'"):
        probe.helper(ProgType.XDP, "bpf_no_such_helper")


# tracepoints --------------------------------------------------------------------------------------

def test_tracepoints_are_what_tracefs_lists(tracefs):
    events = tracefs / "events"
    checked = 0
    for category in sorted(p for p in events.iterdir() if p.is_dir())[:40]:
        for name in sorted(p.name for p in category.iterdir() if p.is_dir())[:3]:
            assert probe.tracepoint(category.name, name), (category.name, name)
            checked += 1
        assert not probe.tracepoint(category.name, "no_such_tracepoint")
    assert checked > 20
    assert probe.tracepoint("syscalls", "sys_enter_getpid") is (events / "syscalls" / "sys_enter_getpid").is_dir()
    assert not probe.tracepoint("no_such_category", "sched_switch")


def in_a_mount_namespace_without_tracefs(code: str) -> subprocess.CompletedProcess:
    """``code`` run by Python in a private mount namespace where tracefs (and debugfs, whose
    tracing directory would mount it again) is unmounted: the host's mounts stay as they are."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is missing")
    script = ("umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; "
              f'exec "{sys.executable}" -c "$0"')
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, code],
                          capture_output=True, text=True, timeout=120)


def test_without_tracefs_a_tracepoint_is_unknown_not_false():
    done = in_a_mount_namespace_without_tracefs(
        "import libbpf_py.probe as p\n"
        "v = p.can_attach('tp/sched/sched_switch'); print(v.ok, v.reason)\n"
        "print(p.raw_tracepoint('sched_switch'))\n"
        "p.tracepoint('sched', 'sched_switch')\n")
    out, err = done.stdout.splitlines(), done.stderr
    assert done.returncode == 1 and "FileNotFoundError" in err and "tracefs is not mounted" in err, err
    assert out[0].startswith("False tp/sched/sched_switch: tracefs is not mounted"), out
    assert out[1] == str(VMLINUX.exists())  # answered from BTF, without tracefs


@needs_btf
def test_raw_tracepoints_are_the_kernels_btf_trace_types():
    with Btf.vmlinux() as btf:
        names = [name[len("btf_trace_"):] for name in btf if name.startswith("btf_trace_")]
    assert len(names) > 100
    for name in names[:50]:
        assert probe.raw_tracepoint(name)
    assert not probe.raw_tracepoint("no_such_tracepoint")
    assert not probe.raw_tracepoint("sys_enter_getpid")  # a syscall's tracefs event is no raw tracepoint


# btf_id ----------------------------------------------------------------------------------------------

@needs_btf
def test_btf_ids_are_those_of_bpftools_dump_of_vmlinux():
    raw = bpftool("btf", "dump", "file", str(VMLINUX))

    def first(kind: str, name: str) -> int:
        return int(re.search(rf"^\[(\d+)\] {kind} '{name}'", raw, re.M).group(1))

    assert probe.btf_id("do_unlinkat", AttachType.TRACE_FENTRY) == first("FUNC", "do_unlinkat")
    assert probe.btf_id("do_unlinkat", "trace_fexit") == first("FUNC", "do_unlinkat")
    assert probe.btf_id("sched_switch", AttachType.TRACE_RAW_TP) == first("TYPEDEF", "btf_trace_sched_switch")
    assert probe.btf_id("file_open", AttachType.LSM_MAC) == first("FUNC", "bpf_lsm_file_open")
    assert probe.btf_id("bpf_map", int(AttachType.TRACE_ITER)) == first("FUNC", "bpf_iter_bpf_map")
    with pytest.raises(KeyNotFoundError, match="no function no_such_function_here in the kernel's BTF"):
        probe.btf_id("no_such_function_here", AttachType.TRACE_FENTRY)
    with pytest.raises(KeyNotFoundError, match=r"no tracepoint \(typedef btf_trace_nope\)"):
        probe.btf_id("nope", AttachType.TRACE_RAW_TP)


# can_attach against loading and attaching ------------------------------------------------------------

def libc_path() -> str:
    with open("/proc/self/maps") as maps:
        for line in maps:
            if "/libc.so" in line or "/libc-" in line:
                return line.split()[-1]
    pytest.skip("no libc mapped in this process")


ATTACH: Dict[str, Callable[[bpf.Program], object]] = {
    "v_xdp": lambda p: None,  # (its hook is a device: loading is what is asked)
    "v_uprobe": lambda p: p.attach_uprobe(libc_path(), "getpid"),
    "v_iter": lambda p: p.attach_iter(),
}


def really_attaches(path: Path, name: str) -> "tuple[bool, str]":
    """Whether the program ``name`` of ``path``, loaded alone, attaches (and the error if not)."""
    with bpf.Object.open(path) as obj:
        for program in obj.programs.values():
            program.autoload = program.name == name
        try:
            obj.load()
        except bpf.Error as exc:
            return False, f"load: {type(exc).__name__}: {exc}"
        try:
            link = ATTACH.get(name, lambda p: p.attach())(obj.programs[name])
        except bpf.Error as exc:
            return False, f"attach: {type(exc).__name__}: {exc}"
        if link is not None:
            link.close()
        return True, ""


@needs_btf
def test_can_attach_says_what_loading_and_attaching_each_variant_does(bpf_obj, tracefs):
    path = bpf_obj("probe_variants")
    with bpf.Object.open(path) as obj:
        verdicts = {name: probe.can_attach(program) for name, program in obj.programs.items()}
        sections = {name: program.section for name, program in obj.programs.items()}
        for name, program in obj.programs.items():
            assert probe.can_attach(program.section) == verdicts[name], name  # the section says as much
    assert len(verdicts) == 15
    for name, verdict in verdicts.items():
        attached, error = really_attaches(path, name)
        assert bool(verdict) is attached, (name, verdict, error)
        assert verdict.reason.startswith(sections[name].rstrip("*")), (name, verdict)
        if error.startswith("load: ") and "PermissionError" in error:  # fentry, lsm on this machine
            assert "Operation not permitted (EPERM)" in verdict.reason, (name, verdict)
    if not (Path(probe.PMU_DIR) / "kprobe").exists():
        for name in ("v_kprobe", "v_kretprobe"):
            assert "no kprobe PMU" in verdicts[name].reason and not verdicts[name]
    assert "no function no_such_function_here in the kernel's BTF" in verdicts["v_fentry_missing"].reason
    assert "no tracepoint syscalls:no_such_tracepoint" in verdicts["v_tp_missing"].reason
    assert verdicts["v_tp"] and verdicts["v_tp_btf"] and verdicts["v_raw_tp"] and verdicts["v_xdp"]


def test_can_attach_refuses_what_names_no_section(bpf_obj):
    with pytest.raises(InvalidValueError, match="knows no section 'no_such_kind/x'"):
        probe.can_attach("no_such_kind/x")
    with pytest.raises(InvalidTypeError, match="a Program or a section name"):
        probe.can_attach(42)
    with bpf.Object.open(bpf_obj("probe_variants")) as obj:
        for program in obj.programs.values():
            program.autoload = program.name == "v_xdp"
        obj.load()
        with bpf.Program.from_id(obj.programs["v_xdp"].info().id) as by_id:
            with pytest.raises(InvalidTypeError, match="has no section"):
                probe.can_attach(by_id)


def test_a_section_without_a_target_is_answered_for_its_kind():
    assert "names no target" in probe.can_attach("fentry").reason and not probe.can_attach("fentry")
    assert probe.can_attach("xdp") and "loads xdp programs" in probe.can_attach("xdp").reason
    uprobe = probe.can_attach("uprobe")
    assert bool(uprobe) is (Path(probe.PMU_DIR) / "uprobe").exists()
