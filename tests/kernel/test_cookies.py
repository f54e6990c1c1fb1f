"""BPF cookies: bpf_progs/p2_cookies.c counts, per bpf_get_attach_cookie(), what the test's own
process does at each hook; each attachment's cookie comes back as the key it counted under."""

from __future__ import annotations

import ctypes
import mmap
import os

import pytest

import libbpf_py as bpf


@pytest.fixture
def cookies(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_cookies")) as obj:
        obj.load()
        for m in obj.maps.values():
            m.key_type = m.value_type = int
        obj.maps["target_tgid"][0] = os.getpid()
        yield obj


def hits(obj) -> dict:
    return dict(obj.maps["hits"].items())


def libc_path() -> str:
    return next(line.split()[-1] for line in open("/proc/self/maps") if "/libc.so" in line)


def test_each_uprobe_counts_under_its_own_cookie(cookies):
    program = cookies.programs["p2_uprobe_cookie"]
    libc = libc_path()
    with program.attach_uprobe(libc, "getpid", pid=os.getpid(), cookie=0x1111) as first, \
            program.attach_uprobe(libc, "getppid", pid=os.getpid(), cookie=(1 << 64) - 1) as second:
        cookies.maps["hits"].clear()  # (attaching may call getpid itself)
        for _ in range(3):
            os.getpid()
        for _ in range(2):
            os.getppid()
        counted = hits(cookies)
        assert first.info().type == second.info().type == bpf.LinkType.PERF_EVENT
    os.getpid()  # detached: not counted
    assert counted == {0x1111: 3, (1 << 64) - 1: 2} == hits(cookies)


def test_a_tracepoint_counts_under_its_cookie(cookies, tracefs):
    program = cookies.programs["p2_tp_cookie"]
    with program.attach_tracepoint("syscalls", "sys_enter_getppid", cookie=7), \
            program.attach_tracepoint("syscalls", "sys_enter_getpid", cookie=8):
        cookies.maps["hits"].clear()
        for _ in range(4):
            os.getppid()
        os.getpid()
        counted = hits(cookies)
    os.getpid()
    assert counted == {7: 4, 8: 1} == hits(cookies)


class PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr, its first 64 bytes (PERF_ATTR_SIZE_VER0)."""

    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("config", ctypes.c_uint64),
                ("sample_period", ctypes.c_uint64), ("sample_type", ctypes.c_uint64),
                ("read_format", ctypes.c_uint64), ("flags", ctypes.c_uint64), ("wakeup_events", ctypes.c_uint32),
                ("bp_type", ctypes.c_uint32), ("config1", ctypes.c_uint64)]


PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS, DISABLED = 1, 2, 1
SYS_PERF_EVENT_OPEN = 298  # x86-64


def page_fault_event() -> int:
    """A perf event that samples every page fault of this thread (created disabled: libbpf enables it)."""
    if os.uname().machine != "x86_64":
        pytest.skip("the perf_event_open syscall number is x86-64's")
    attr = PerfEventAttr(type=PERF_TYPE_SOFTWARE, size=ctypes.sizeof(PerfEventAttr),
                         config=PERF_COUNT_SW_PAGE_FAULTS, sample_period=1, flags=DISABLED)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(SYS_PERF_EVENT_OPEN, ctypes.byref(attr), 0, -1, -1, 8)  # PERF_FLAG_FD_CLOEXEC
    if fd < 0:
        err = ctypes.get_errno()
        pytest.skip(f"perf_event_open refused a software event: {os.strerror(err)}")
    return fd


def fault_pages(count: int) -> None:
    with mmap.mmap(-1, count * mmap.PAGESIZE) as memory:
        for page in range(count):
            memory[page * mmap.PAGESIZE] = 1  # first touch of each page: one fault


def test_a_perf_event_counts_under_its_cookie(cookies):
    fd = page_fault_event()
    try:
        with cookies.programs["p2_perf_cookie"].attach_perf_event(fd, cookie=0xABCDEF) as link:
            assert link.info().type == bpf.LinkType.PERF_EVENT
            fault_pages(16)
        os.fstat(fd)  # still the caller's
    finally:
        os.close(fd)
    counted = hits(cookies)
    assert set(counted) == {0xABCDEF}
    assert counted[0xABCDEF] >= 16  # (the interpreter may fault on pages of its own meanwhile)


def test_a_kprobe_with_a_cookie_says_clearly_why_it_cannot_attach(cookies, tracefs):
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has a kprobe PMU: kprobes attach here")
    with pytest.raises(bpf.LibbpfError) as exc:
        cookies.programs["p2_kprobe_cookie"].attach_kprobe("do_sys_openat2", cookie=5)
    assert exc.value.function == "bpf_program__attach_kprobe_opts"
    assert exc.value.errno != 0 and os.strerror(exc.value.errno) in str(exc.value)


def test_cookies_are_checked_before_c(cookies, tracefs):
    for attach in (lambda c: cookies.programs["p2_uprobe_cookie"].attach_uprobe(libc_path(), "getpid", cookie=c),
                   lambda c: cookies.programs["p2_tp_cookie"].attach_tracepoint("syscalls", "sys_enter_getpid",
                                                                                 cookie=c),
                   lambda c: cookies.programs["p2_perf_cookie"].attach_perf_event(0, cookie=c),
                   lambda c: cookies.programs["p2_kprobe_cookie"].attach_kprobe("do_sys_openat2", cookie=c)):
        for bad in (-1, 1 << 64, True, "1"):
            with pytest.raises(ValueError, match="cookie"):
                attach(bad)


def test_a_fifo_as_the_probed_binary_is_refused_without_blocking(cookies, tmp_path):
    """libbpf opens a binary's path as it is: a FIFO there would block the attach for ever."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    program = cookies.programs["p2_uprobe_cookie"]
    for attach in (lambda: program.attach_uprobe(fifo, "getpid"), lambda: program.attach_usdt(fifo, "p", "n")):
        with pytest.raises(bpf.LibbpfError, match="is a FIFO, not a regular file"):
            attach()
