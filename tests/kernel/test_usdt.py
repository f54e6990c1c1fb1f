"""USDT: bpf_progs/vmlinux/p2_usdt.c on CPython's python:function__entry probe traces a child
python3.11 whose function names the test chose; the names come back through a ring buffer.

CPython 3.11 fires function__entry only while its python:line probe is enabled too (its
interpreter reaches the probe through the tracing path), so each test also attaches the
do-nothing p2_usdt_line to python:line of the child alone.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator, List, NamedTuple

import pytest

import libbpf_py as bpf

PYTHON = Path("/usr/bin/python3.11")
CHILD = """
import sys
print("ready", flush=True)
sys.stdin.readline()
def p2_alpha(x): return x
def p2_beta(x): return x
def p2_gamma(): return 1
list(map(p2_alpha, range(3)))
sorted([3, 1, 2], key=p2_beta)
p2_gamma()
"""
EXPECTED = {"p2_alpha": 3, "p2_beta": 3, "p2_gamma": 1}


class Call(NamedTuple):
    pid: int
    line: int
    cookie: int
    function: str


class _Call(ctypes.Structure):  # struct call of p2_usdt.c
    _fields_ = [("pid", ctypes.c_uint32), ("line", ctypes.c_uint32), ("cookie", ctypes.c_uint64),
                ("function", ctypes.c_char * 64)]


def has_probe(binary: Path, provider: bytes, name: bytes) -> bool:
    """Whether ``binary`` carries a SystemTap SDT note for ``provider:name``."""
    if not binary.exists():
        return False
    data = binary.read_bytes()
    return b".note.stapsdt" in data and provider + b"\0" + name + b"\0" in data


SYSTEM_USDT_H = Path("/usr/include/bpf/usdt.bpf.h")


def _new_arg_layout(header: Path) -> bool:
    return "BPF_USDT_ARG_SIB" in header.read_text()


def usdt_object(bpf_obj, workdir: Path) -> Path:
    """p2_usdt.o, built against a usdt.bpf.h whose argument layout the loaded libbpf shares.

    libbpf 1.7 changed the layout of its USDT argument specs (bit fields for SIB addressing
    moved ``reg_off`` and grew the spec): an object built with an older usdt.bpf.h (the
    system's) reads wrong arguments and cookies under libbpf >= 1.7, and the reverse. The test
    then rebuilds the object with the headers of the loaded libbpf's source tree, or skips.
    """
    if not has_probe(PYTHON, b"python", b"function__entry"):
        pytest.skip(f"{PYTHON} has no python:function__entry USDT note (CPython built without --with-dtrace)")
    built = bpf_obj("vmlinux/p2_usdt")
    if not SYSTEM_USDT_H.exists() or _new_arg_layout(SYSTEM_USDT_H) == (bpf.libbpf_version() >= (1, 7)):
        return built
    library = Path(bpf.libbpf().resolved_path())
    headers = next((parent / sub for parent in library.parents for sub in ("source/src", "src")
                    if (parent / sub / "usdt.bpf.h").exists()), None)
    if headers is None or _new_arg_layout(headers / "usdt.bpf.h") != (bpf.libbpf_version() >= (1, 7)):
        pytest.skip(f"the system's usdt.bpf.h and libbpf {bpf.libbpf_version()} lay USDT arguments out "
                    "differently (libbpf 1.7 changed it), and no usdt.bpf.h of the loaded libbpf was found")
    include = workdir / "include"
    include.mkdir()
    (include / "bpf").symlink_to(headers)
    source = Path(__file__).resolve().parents[2] / "bpf_progs" / "vmlinux" / "p2_usdt.c"
    out = workdir / "p2_usdt.o"
    subprocess.run(["clang-16", "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", f"-I{include}",
                    "-I/usr/include/x86_64-linux-gnu", f"-I{built.parent}", "-c", str(source), "-o", str(out)],
                   check=True)
    return out


@pytest.fixture
def usdt_obj(bpf_obj, tmp_path):
    with bpf.Object.open(usdt_object(bpf_obj, tmp_path)) as obj:
        obj.load()
        target = obj.maps["target_tgid"]
        target.key_type = target.value_type = int
        yield obj


@pytest.fixture
def child() -> Iterator[subprocess.Popen]:
    """A python3.11, started (its start-up's own calls are over), waiting for a line on stdin
    before it calls the functions of CHILD."""
    proc = subprocess.Popen([str(PYTHON), "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)


def run(proc: subprocess.Popen) -> None:
    proc.communicate(b"\n", timeout=60)
    assert proc.returncode == 0


def read_calls(obj) -> List[Call]:
    calls: List[Call] = []

    def record(data) -> None:
        raw = _Call.from_buffer_copy(bytes(data)[:ctypes.sizeof(_Call)])
        calls.append(Call(raw.pid, raw.line, raw.cookie, raw.function.decode()))

    with bpf.RingBuffer(obj.maps["calls"], record) as ring:
        ring.consume()
    return calls


def counted(calls: List[Call], pid: int) -> dict:
    names = [call.function for call in calls if call.pid == pid]
    return {name: names.count(name) for name in EXPECTED}


def attachments_of(program) -> int:
    """How many perf-event uprobes and links bpftool sees holding ``program``."""
    if shutil.which("bpftool") is None:
        pytest.skip("bpftool is not installed")
    prog_id = program.info().id
    found = 0
    for what in ("perf", "link"):
        out = subprocess.run(["bpftool", "-j", what], capture_output=True, text=True, check=True).stdout
        found += sum(1 for entry in json.loads(out or "[]") if entry.get("prog_id") == prog_id)
    return found


def test_attach_usdt_reports_the_functions_a_traced_process_calls(usdt_obj, child):
    program = usdt_obj.programs["p2_usdt_entry"]
    line = usdt_obj.programs["p2_usdt_line"].attach_usdt(PYTHON, "python", "line", pid=child.pid)
    link = program.attach_usdt(PYTHON, "python", "function__entry", pid=child.pid, cookie=0xC0FFEE)
    try:
        assert isinstance(link, bpf.Link)
        assert attachments_of(program) >= 1  # the kernel holds the probe's uprobe(s)
        run(child)
        calls = read_calls(usdt_obj)
    finally:
        link.detach()
        line.detach()
    assert counted(calls, child.pid) == EXPECTED
    mine = [call for call in calls if call.function in EXPECTED]
    assert {call.cookie for call in mine} == {0xC0FFEE}  # bpf_usdt_cookie()
    assert {call.line for call in mine if call.function == "p2_gamma"} == {7}  # the probe's third argument
    assert attachments_of(program) == 0
    link.detach()  # twice is harmless


def test_a_section_that_names_its_probe_attaches_with_attach_and_attach_all(usdt_obj, child):
    usdt_obj.maps["target_tgid"][0] = child.pid
    line = usdt_obj.programs["p2_usdt_line"].attach_usdt(PYTHON, "python", "line", pid=child.pid)
    links = usdt_obj.attach_all()  # SEC("usdt//usr/bin/python3.11:python:function__entry"); bare "usdt" names none
    try:
        assert [link.program_name for link in links] == ["p2_usdt_auto"]
        run(child)
    finally:
        for link in links:
            link.detach()
        line.detach()
    assert counted(read_calls(usdt_obj), child.pid) == EXPECTED
    with usdt_obj.programs["p2_usdt_auto"].attach() as link:
        assert "USDT" in repr(link)
    with pytest.raises(bpf.LibbpfError) as exc:
        usdt_obj.programs["p2_usdt_entry"].attach()  # "usdt" alone names no probe
    assert exc.value.errno == errno.EOPNOTSUPP


def test_a_usdt_link_has_no_fd_to_pin_or_describe(usdt_obj, bpffs):
    with usdt_obj.programs["p2_usdt_entry"].attach_usdt(PYTHON, "python", "function__entry", pid=os.getpid()) as link:
        for use in (lambda: link.fd, lambda: link.pin(bpffs / "usdt"), link.info):
            with pytest.raises(bpf.LibbpfError, match="no fd") as exc:
                use()
            assert exc.value.errno == errno.EOPNOTSUPP
    assert link.closed
    with pytest.raises(bpf.ClosedError):
        link.info()


def test_closing_the_object_first_ends_its_usdt_links_safely(bpf_obj, tmp_path):
    """libbpf's USDT link works on its object's USDT manager when destroyed: the object's close
    destroys it first (the other order wrote freed memory and aborted the process)."""
    obj = bpf.Object.open(usdt_object(bpf_obj, tmp_path))
    obj.load()
    program = obj.programs["p2_usdt_entry"]
    link = program.attach_usdt(PYTHON, "python", "function__entry", pid=os.getpid())
    kept = program.attach_usdt(PYTHON, "python", "function__entry", pid=os.getpid())
    prog_id = program.info().id
    obj.close()
    assert link.closed and kept.closed
    link.detach()
    del kept
    assert released(prog_id)  # nothing holds the program any more


def released(prog_id: int, patience: float = 10.0) -> bool:
    """Whether program ``prog_id`` is freed within ``patience`` seconds (the kernel releases a
    perf event's or uprobe-multi link's program after an RCU grace period)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            bpf.Program.from_id(prog_id).close()
        except OSError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_bad_usdt_arguments_are_refused(usdt_obj):
    program = usdt_obj.programs["p2_usdt_entry"]
    with pytest.raises(bpf.LibbpfError) as exc:
        program.attach_usdt(PYTHON, "python", "no_such_probe")
    assert exc.value.errno == errno.ENOENT
    with pytest.raises(bpf.LibbpfError):
        program.attach_usdt("/nonexistent/binary", "python", "function__entry")
    with pytest.raises(ValueError, match="cookie"):
        program.attach_usdt(PYTHON, "python", "function__entry", cookie=-1)
    with pytest.raises(ValueError, match="pid"):
        program.attach_usdt(PYTHON, "python", "function__entry", pid=-2)
    with pytest.raises(ValueError, match="NUL"):
        program.attach_usdt(PYTHON, "py\0thon", "function__entry")


def test_an_object_without_usdt_maps_is_told_what_it_lacks(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_cookies")) as obj:
        obj.load()
        with pytest.raises(bpf.LibbpfError) as exc:
            obj.programs["p2_uprobe_cookie"].attach_usdt(PYTHON, "python", "function__entry")
        assert exc.value.errno == errno.ESRCH and "<bpf/usdt.bpf.h>" in str(exc.value)
