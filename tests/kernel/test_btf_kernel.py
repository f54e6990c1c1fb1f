"""bpf.Btf on the kernel's BTF: vmlinux, kernel BTF objects, files and split BTF, compared with
bpftool on the same BTF (its raw dump for ids, sizes and offsets; its `format c` for dump_c),
and a ring buffer record typed from a header (Btf.from_header) read after a real run."""

from __future__ import annotations

import ctypes
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import libbpf_py as bpf
from libbpf_py.btf import Btf, find_clang
from libbpf_py.btf_ctypes import Chars
from libbpf_py.errors import (
    ClosedError,
    ElfError,
    InvalidTypeError,
    LibbpfError,
    LibbpfFeatureError,
    MissingBtfError,
    MissingDependencyError,
    MissingTypeError,
)
from libbpf_py.info import btf_bytes

VMLINUX = Path("/sys/kernel/btf/vmlinux")
HEADER = Path(__file__).resolve().parent.parent / "data" / "probe_events.h"

pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason=f"{VMLINUX} is missing (no CONFIG_DEBUG_INFO_BTF)")


def bpftool(*args: str) -> str:
    return subprocess.run(["bpftool", *args], capture_output=True, text=True, check=True).stdout


class RawDump:
    """`bpftool btf dump ... format raw`, read: each type's kind, name and size, and members."""

    def __init__(self, text: str):
        self.types: Dict[int, Tuple[str, str, str]] = {}
        self.members: Dict[int, List[Tuple[str, int, int]]] = {}  # (name, bit offset, bitfield bits)
        self.first: Dict[Tuple[str, str], int] = {}
        current = 0
        for line in text.splitlines():
            head = re.match(r"\[(\d+)\] (\w+) '([^']*)'(.*)", line)
            if head:
                current = int(head.group(1))
                kind, name = head.group(2), "" if head.group(3) == "(anon)" else head.group(3)
                self.types[current] = (kind, name, head.group(4))
                self.first.setdefault((kind, name), current)
                continue
            member = re.match(r"\t'([^']*)' type_id=\d+ bits_offset=(\d+)(?: bitfield_size=(\d+))?", line)
            if member:
                self.members.setdefault(current, []).append(
                    ("" if member.group(1) == "(anon)" else member.group(1), int(member.group(2)),
                     int(member.group(3) or 0)))
            enumerator = re.match(r"\t'([^']*)' val=(-?\d+)", line)
            if enumerator:
                self.members.setdefault(current, []).append((enumerator.group(1), int(enumerator.group(2)), 0))

    def size(self, type_id: int) -> int:
        return int(re.search(r"size=(\d+)", self.types[type_id][2]).group(1))


@pytest.fixture(scope="module")
def raw_vmlinux() -> RawDump:
    return RawDump(bpftool("btf", "dump", "file", str(VMLINUX)))


@pytest.fixture(scope="module")
def vmlinux():
    btf = Btf.vmlinux()
    yield btf
    btf.close()


def test_vmlinux_has_bpftools_ids_and_counts(vmlinux, raw_vmlinux):
    assert vmlinux.type_count == max(raw_vmlinux.types)
    for kind, name, key in (("STRUCT", "task_struct", "struct task_struct"), ("UNION", "bpf_attr", "union bpf_attr"),
                            ("ENUM", "bpf_func_id", "enum bpf_func_id"), ("TYPEDEF", "u64", "u64"),
                            ("INT", "int", "int"), ("TYPEDEF", "btf_trace_sched_switch", "btf_trace_sched_switch")):
        assert vmlinux.find(key) == raw_vmlinux.first[(kind, name)], key
        assert key in vmlinux
    assert "struct no_such_struct_here" not in vmlinux
    with pytest.raises(MissingTypeError, match="no type 'struct no_such_struct_here' in the kernel's BTF"):
        vmlinux["struct no_such_struct_here"]


@pytest.mark.parametrize("name", ["task_struct", "sk_buff", "file", "bpf_map", "xdp_buff"])
def test_a_kernel_struct_as_ctypes_has_bpftools_size_and_member_offsets(vmlinux, raw_vmlinux, name):
    type_id = raw_vmlinux.first[("STRUCT", name)]
    record = vmlinux[f"struct {name}"]
    assert ctypes.sizeof(record) == raw_vmlinux.size(type_id)
    storage = getattr(record, "_storage_", record)
    bitfields = {b[0]: (b[1], b[2]) for b in getattr(record, "_bitfields_", ())}
    checked = 0
    for member, bit_offset, bits in raw_vmlinux.members[type_id]:
        if not member:
            continue  # an anonymous member: its fields are the outer type's in ctypes, as in C
        if bits:
            assert bitfields[member] == (bit_offset, bits), member
        else:
            assert getattr(storage, member).offset * 8 == bit_offset, member
        checked += 1
    assert checked > 5


def test_enumerators_are_bpftools_values(vmlinux, raw_vmlinux):
    type_id = raw_vmlinux.first[("ENUM", "bpf_func_id")]
    expected = {name: value for name, value, _ in raw_vmlinux.members[type_id]}
    assert vmlinux.enumerators("enum bpf_func_id") == expected
    assert expected["BPF_FUNC_map_lookup_elem"] == 1
    with pytest.raises(InvalidTypeError, match="no enum"):
        vmlinux.enumerators("struct task_struct")


def test_type_names_are_listed_once_each_in_id_order(vmlinux, raw_vmlinux):
    names = list(vmlinux)
    assert len(names) == len(set(names))
    assert names.index("struct task_struct") < names.index("struct sk_buff")
    prefixes = {"STRUCT": "struct ", "UNION": "union ", "ENUM": "enum ", "ENUM64": "enum ", "TYPEDEF": "", "INT": "",
                "FLOAT": ""}
    expected = {prefixes[kind] + name for kind, name, _ in raw_vmlinux.types.values() if kind in prefixes and name}
    assert set(names) == expected


# dump_c ------------------------------------------------------------------------------------------
#
# bpftool's `format c` is libbpf's btf_dump wrapped in its own lines (the __VMLINUX_H__ guard and
# the preserve_access_index pragma), which dump_c writes too. bpftool carries its own copy of
# libbpf, and btf_dump's output changed between libbpf releases; where the loaded libbpf is not
# bpftool's, a line differs only in one of these ways (seen with bpftool 7.1 against libbpf
# 1.1-1.7): a function prototype of no parameters written `()` instead of `(void)` (libbpf
# before 1.5), and a one-byte enum's `__attribute__((mode(byte)))` (libbpf 1.5 on).

_MODE_BYTE = " __attribute__((mode(byte)))"


def known_difference(ours: str, theirs: str) -> bool:
    for a, b in ((ours, theirs), (theirs, ours)):
        if a.replace("()", "(void)") == b or a.replace(_MODE_BYTE, "") == b:
            return True
    return False


def assert_same_c(ours: str, theirs: str) -> None:
    ours_lines, their_lines = ours.splitlines(), theirs.splitlines()
    assert len(ours_lines) == len(their_lines)
    unexplained = [(n, a, b) for n, (a, b) in enumerate(zip(ours_lines, their_lines), 1)
                   if a != b and not known_difference(a, b)]
    assert not unexplained, unexplained[:5]


def test_dump_c_is_bpftools_format_c(vmlinux):
    ours = vmlinux.dump_c()
    theirs = bpftool("btf", "dump", "file", str(VMLINUX), "format", "c")
    assert ours.startswith("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n")
    assert ours.endswith("#endif /* __VMLINUX_H__ */\n")
    assert_same_c(ours, theirs)


def test_dump_c_of_vmlinux_compiles_for_bpf(vmlinux, tmp_path):
    try:
        clang = find_clang()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    (tmp_path / "vmlinux.h").write_text(vmlinux.dump_c())
    source = tmp_path / "use.c"
    source.write_text('#include "vmlinux.h"\nint pid_of(struct task_struct *t) { return t->pid; }\n'
                      "unsigned long len_of(struct sk_buff *skb) { return skb->len; }\n")
    subprocess.run([clang, "-target", "bpf", "-O2", "-g", "-c", str(source), "-o", str(tmp_path / "use.o")],
                   check=True, capture_output=True)
    with Btf.from_file(tmp_path / "use.o") as used:  # CO-RE's records: task_struct as vmlinux has it
        assert ctypes.sizeof(used["struct task_struct"]) == ctypes.sizeof(vmlinux["struct task_struct"])


def test_dump_c_of_some_types_writes_them_and_what_they_need(vmlinux, tmp_path):
    text = vmlinux.dump_c(["struct list_head", "enum bpf_map_type"], header=False)
    assert not text.startswith("#ifndef") and "struct list_head {\n" in text and "enum bpf_map_type {\n" in text
    assert "struct task_struct {" not in text
    cached = vmlinux.dump_c(["struct rb_root_cached"], header=False)
    assert 0 <= cached.index("struct rb_root {") < cached.index("struct rb_root_cached {")  # what it needs, first
    with pytest.raises(MissingTypeError):
        vmlinux.dump_c(["struct no_such_struct_here"])


# other sources ---------------------------------------------------------------------------------------

def vmlinux_kernel_id() -> int:
    for entry in json.loads(bpftool("-j", "btf", "show")):
        if entry.get("kernel") and entry.get("name") == "vmlinux":
            return int(entry["id"])
    pytest.skip("bpftool lists no vmlinux BTF object")


def test_from_kernel_id_reads_vmlinux_and_a_loaded_objects_btf(vmlinux, bpf_obj):
    with Btf.from_kernel_id(vmlinux_kernel_id()) as by_id:
        assert by_id.type_count == vmlinux.type_count
        assert by_id.raw_data() == vmlinux.raw_data()
    with bpf.Object.open(bpf_obj("probe_header")) as obj:
        obj.load()
        btf_id = obj.programs["emit"].info().btf_id
        assert btf_id
        with Btf.from_kernel_id(btf_id) as loaded:
            obj.btf.check("struct open_event", loaded["struct open_event"])
            assert_same_c(loaded.dump_c(), bpftool("btf", "dump", "id", str(btf_id), "format", "c"))
            assert loaded.raw_data() == btf_bytes(btf_id)  # what the kernel reports, read by the package
    with pytest.raises(FileNotFoundError, match="no BTF object with id"):
        Btf.from_kernel_id(0xFFFFFFF0)


def test_from_file_reads_raw_btf_and_an_object(vmlinux, bpf_obj):
    with Btf.from_file(VMLINUX) as from_sysfs:
        assert from_sysfs.raw_data() == vmlinux.raw_data()
    with Btf.from_file(bpf_obj("probe_header")) as from_object, bpf.Object.open(bpf_obj("probe_header")) as obj:
        obj.btf.check("struct open_event", from_object["struct open_event"])
        assert "struct exit_event" not in from_object


def test_from_file_refuses_what_is_no_btf(tmp_path, bpf_obj):
    with pytest.raises(FileNotFoundError):
        Btf.from_file(tmp_path / "absent")
    with pytest.raises(IsADirectoryError):
        Btf.from_file(tmp_path)
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x7fELF" + bytes(60) + b"not btf at all" * 10)
    with pytest.raises(LibbpfError, match="junk"):
        Btf.from_file(junk)
    try:
        clang = find_clang()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    source = tmp_path / "nodebug.c"
    source.write_text("int x = 1;\n")
    subprocess.run([clang, "-target", "bpf", "-O2", "-c", str(source), "-o", str(tmp_path / "nodebug.o")],
                   check=True)
    with pytest.raises(MissingBtfError, match="no BTF"):
        Btf.from_file(tmp_path / "nodebug.o")


def test_a_record_typed_from_its_header_reads_what_the_program_wrote(bpf_obj):
    """The remedy for a record reached only through void *: its header's BTF."""
    try:
        find_clang()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    with Btf.from_header(HEADER) as header, bpf.Object.open(bpf_obj("probe_header")) as obj:
        with pytest.raises(MissingTypeError):
            obj.btf["struct exit_event"]
        record_type = header["struct exit_event"]
        obj.load()
        got = []
        with bpf.RingBuffer(obj.maps["exits"], got.append, record_type=record_type) as ring:
            assert obj.programs["emit"].test_run(bytes(64)).retval == 0
            assert ring.consume() == 1
    (event,) = got
    assert (event.start_ns, event.exit_ns, event.pid, event.ppid, event.sig, event.exit_code) == \
        (0x1122334455667788, 42, 1234, 1, -9, 0x7F00)
    assert isinstance(event.comm, Chars) and event.comm == b"probe\0tail\0\0\0\0\0z" and event.comm.value == b"probe"
    assert (event.ids.uid, event.ids.gid, event.flags, event.cpu) == (1000, 100, 0xA5, 3)


# split BTF (what a kernel module's BTF is: its types continue vmlinux's) --------------------------------

def split_btf_bytes(base: Btf) -> bytes:
    """Raw split BTF over ``base`` made with libbpf's writer: struct split_thing { struct list_head
    node; int value; } whose member types are the base's."""
    lib = bpf.libbpf()
    split = lib.btf__new_empty_split(base.as_libbpf())
    try:
        lib.btf__add_struct(split, b"split_thing", 24)
        lib.btf__add_field(split, b"node", base.find("struct list_head"), 0, 0)
        lib.btf__add_field(split, b"value", base.find("int"), 128, 0)
        size = ctypes.c_uint32()
        address = lib.btf__raw_data(split, ctypes.byref(size))
        return ctypes.string_at(address, size.value)
    finally:
        lib.btf__free(split)


def check_split(split: Btf, base_count: int, list_head: int) -> None:
    thing = split["struct split_thing"]
    assert split.find("struct split_thing") == base_count + 1
    assert split.find("struct list_head") == list_head  # the base's types are the split's too
    assert (ctypes.sizeof(thing), thing.node.offset, thing.value.offset) == (24, 0, 16)
    assert thing.node.size == 16
    assert "struct split_thing {\n\tstruct list_head node;\n\tint value;\n};" in split.dump_c(
        ["struct split_thing"], header=False)


def test_a_split_btf_sees_its_bases_types_and_keeps_the_base_alive(tmp_path):
    base = Btf.vmlinux()
    count, list_head = base.type_count, base.find("struct list_head")
    raw = split_btf_bytes(base)
    path = tmp_path / "split.btf"
    path.write_bytes(raw)
    split = Btf.from_file(path, base=base)
    base.close()  # the split BTF reads the base's memory: it stays until the split is closed
    with pytest.raises(ClosedError):
        base.find("int")
    check_split(split, count, list_head)
    split.close()
    with pytest.raises(LibbpfError):
        Btf.from_file(path)  # without its base: its types point at ids it lacks


def test_split_btf_from_bytes_needs_libbpf_1_4():
    with Btf.vmlinux() as base:
        raw = split_btf_bytes(base)
        if bpf.libbpf().version < (1, 4):
            with pytest.raises(LibbpfFeatureError, match="btf__new_split"):
                Btf.from_bytes(raw, base=base)
            return
        with Btf.from_bytes(raw, base=base) as split:
            check_split(split, base.type_count, base.find("struct list_head"))


# the handle ------------------------------------------------------------------------------------------

def test_closed_twice_and_used_after_close_raises_clearly():
    btf = Btf.vmlinux()
    assert repr(btf) == "<Btf the kernel's BTF>"
    btf.close()
    btf.close()
    assert btf.closed and repr(btf).endswith(" closed>")
    for use in (lambda: btf["int"], lambda: btf.find("int"), btf.dump_c, btf.raw_data, btf.as_libbpf,
                lambda: btf.type_count, lambda: list(btf)):
        with pytest.raises(ClosedError, match="the kernel's BTF is closed"):
            use()
    with pytest.raises(ClosedError):
        with btf:
            pass
    with pytest.raises(InvalidTypeError, match="Btf.vmlinux"):
        Btf()


def test_close_from_another_thread_waits_for_a_dump_in_progress(monkeypatch):
    import libbpf_py.btf as btf_module

    writing = threading.Event()
    real = btf_module._renderer

    def noting_renderer():
        render = real()

        def first(fmt, args):
            writing.set()  # btf_dump is writing: the dump holds the BTF
            return render(fmt, args)
        return first

    monkeypatch.setattr(btf_module, "_renderer", noting_renderer)
    btf = Btf.vmlinux()
    result: List[str] = []
    dumping = threading.Thread(target=lambda: result.append(btf.dump_c()))
    dumping.start()
    assert writing.wait(30)
    btf.close()  # waits for the dump to end before libbpf's memory goes
    assert btf.closed
    dumping.join(30)
    assert len(result) == 1 and result[0].endswith("#endif /* __VMLINUX_H__ */\n")


def test_a_btf_cannot_be_pickled():
    import pickle

    with Btf.vmlinux() as btf, pytest.raises(InvalidTypeError, match="cannot be pickled"):
        pickle.dumps(btf)


def test_crafted_raw_btf_is_refused_before_libbpf_follows_its_ids(tmp_path):
    """A type pointing at an id past the table (libbpf 1.1 would read past its types)."""
    import struct

    types = struct.pack("<III", 0, 2 << 24, 77)  # [1] PTR -> 77: no such type
    strings = b"\0"
    raw = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) + types + strings
    # libbpf 1.3 on refuses it itself; before, the package's validator does
    refused = ElfError if bpf.libbpf().version < (1, 3) else (ElfError, LibbpfError)
    with pytest.raises(refused, match="BTF from bytes|btf__new"):
        Btf.from_bytes(raw)
    path = tmp_path / "crafted.btf"
    path.write_bytes(raw)
    with pytest.raises(refused, match="crafted.btf"):
        Btf.from_file(path)


def test_ctrl_c_during_a_dump_is_raised_and_nothing_half_written_returned():
    """SIGINT at a random moment of vmlinux's dump_c: KeyboardInterrupt, after a whole type (a
    signal raised in btf_dump's printf callback would be lost, and its text with it)."""
    child = subprocess.run([sys.executable, "-c", """
import os, random, signal, threading
from libbpf_py.btf import Btf
whole = Btf.vmlinux().dump_c()
for _ in range(8):
    timer = threading.Timer(random.uniform(0.05, 0.6), os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        text = Btf.vmlinux().dump_c()
        assert text == whole, "a dump returned text that is not whole"
    except KeyboardInterrupt:
        pass
    timer.join()
noted = []
signal.signal(signal.SIGUSR1, lambda signum, frame: noted.append(signum))  # a handler that returns
timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1))
timer.start()
assert Btf.vmlinux().dump_c() == whole and noted == [signal.SIGUSR1], "the dump stopped, or the handler did not run"
timer.join()
print("ok")
"""], capture_output=True, text=True, timeout=300)
    assert child.returncode == 0 and child.stdout.strip() == "ok", child.stderr
    assert "Exception ignored" not in child.stderr
