"""Links: programs attached to real hooks, observed through what they count when the test makes
the syscalls they watch; detached, closed, dropped, pinned across a killed process, updated."""

from __future__ import annotations

import errno
import gc
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

import libbpf_py as bpf
from libbpf_py import AttachType, LinkType

# indexes of bpf_progs/attach.c's `counts`
XDP_DROPPED, XDP_PASSED, RAW_TP_GETPID, TP_GETPPID, CGROUP_EGRESS, RAW_TP_OTHER, CGROUP_OTHER = range(7)
UPROBE_GETPID = 9


@pytest.fixture
def attach_obj(bpf_obj):
    """bpf_progs/attach.o, loaded, its programs watching this process only."""
    with bpf.Object.open(bpf_obj("attach")) as obj:
        obj.load()
        for m in obj.maps.values():
            m.key_type = m.value_type = int
        obj.maps["target_tgid"][0] = os.getpid()
        yield obj


def counted(obj, index: int) -> int:
    return obj.maps["counts"][index]


def getpids(n: int = 5) -> None:
    for _ in range(n):
        os.getpid()  # not cached by the C library: each is a syscall


def test_attach_follows_the_section_and_detach_ends_it(attach_obj):
    program = attach_obj.programs["raw_tp_getpid"]
    link = program.attach()
    getpids()
    assert counted(attach_obj, RAW_TP_GETPID) == 5
    info = link.info()
    assert info.type == LinkType.RAW_TRACEPOINT and info.prog_id == program.info().id
    link.detach()
    getpids()
    assert counted(attach_obj, RAW_TP_GETPID) == 5
    assert link.closed
    with pytest.raises(bpf.ClosedError):
        link.fd
    link.close()  # twice is harmless


def test_closing_or_dropping_an_unpinned_link_detaches(attach_obj):
    program = attach_obj.programs["raw_tp_getpid"]
    with program.attach():
        getpids(3)
    getpids(3)
    assert counted(attach_obj, RAW_TP_GETPID) == 3
    link = program.attach()
    getpids(2)
    del link  # dropped without detach() or pin(): released, as libbpf does
    gc.collect()
    getpids(2)
    assert counted(attach_obj, RAW_TP_GETPID) == 5


def test_a_pinned_link_stays_attached_after_its_handle_closes(attach_obj, bpffs):
    path = bpffs / "raw_tp_link"
    link = attach_obj.programs["raw_tp_getpid"].attach()
    link.pin(path)
    assert link.pin_path == str(path)
    link_id = link.info().id
    link.close()
    getpids(4)
    assert counted(attach_obj, RAW_TP_GETPID) == 4
    again = bpf.Link.from_pinned(path)
    assert again.info().id == link_id
    again.unpin()
    assert not path.exists()
    again.close()  # the last holder: the attachment ends
    assert link_gone(link_id)
    getpids(4)
    assert counted(attach_obj, RAW_TP_GETPID) == 4


def test_detach_removes_the_pin_this_handle_made(attach_obj, bpffs):
    path = bpffs / "made_here"
    link = attach_obj.programs["raw_tp_getpid"].attach()
    link.pin(path)
    link.detach()
    assert not path.exists()
    getpids(2)
    assert counted(attach_obj, RAW_TP_GETPID) == 0


KILLED = r"""
import os, signal, sys
import libbpf_py as bpf
obj = bpf.Object.open(sys.argv[1])
obj.load()
for name in ("counts", "target_tgid"):
    obj.maps[name].pin(os.path.join(sys.argv[2], name))
obj.programs["raw_tp_getpid"].attach().pin(os.path.join(sys.argv[2], "link"))
os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind runs
"""


def test_a_pinned_link_keeps_its_program_attached_after_its_process_is_killed(bpf_obj, bpffs):
    done = subprocess.run([sys.executable, "-c", KILLED, str(bpf_obj("attach")), str(bpffs)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    counts = bpf.Map.from_pinned(bpffs / "counts")
    target = bpf.Map.from_pinned(bpffs / "target_tgid")
    try:
        for m in (counts, target):
            m.key_type = m.value_type = int
        target[0] = os.getpid()
        getpids(3)
        assert counts[RAW_TP_GETPID] == 3  # counted by the program the killed process attached
        with bpf.Link.from_pinned(bpffs / "link") as link:
            assert link.info().type == LinkType.RAW_TRACEPOINT
            link_id = link.info().id
            link.unpin()
        assert link_gone(link_id)
        getpids(3)
        assert counts[RAW_TP_GETPID] == 3
    finally:
        counts.close()
        target.close()


def test_update_program_swaps_the_program_in_place(attach_obj, cgroup):
    with attach_obj.programs["cgroup_egress"].attach_cgroup(cgroup) as link:
        send_from(cgroup, 2)
        link.update_program(attach_obj.programs["cgroup_egress_other"])
        assert link.info().prog_id == attach_obj.programs["cgroup_egress_other"].info().id
        send_from(cgroup, 3)
    assert (counted(attach_obj, CGROUP_EGRESS), counted(attach_obj, CGROUP_OTHER)) == (2, 3)


def test_a_link_type_that_keeps_its_program_says_so(attach_obj):
    with attach_obj.programs["raw_tp_getpid"].attach() as link:
        with pytest.raises(bpf.LibbpfError, match="can change program at all") as exc:
            link.update_program(attach_obj.programs["raw_tp_getpid_other"])
    assert exc.value.errno == errno.EINVAL


def test_attach_all_attaches_what_names_its_hook(attach_obj, tracefs):
    links = attach_obj.attach_all()
    try:
        assert sorted(link.program_name for link in links) == ["raw_tp_getpid", "raw_tp_getpid_other", "tp_getppid"]
        getpids(1)
        os.getppid()
        assert [counted(attach_obj, i) for i in (RAW_TP_GETPID, RAW_TP_OTHER, TP_GETPPID)] == [1, 1, 1]
    finally:
        for link in links:
            link.detach()


def test_a_tracepoint_counts_the_syscall_it_names(attach_obj, tracefs):
    with attach_obj.programs["tp_getppid"].attach_tracepoint("syscalls", "sys_enter_getppid") as link:
        for _ in range(3):
            os.getppid()
        assert link.info().type == LinkType.PERF_EVENT
    os.getppid()
    assert counted(attach_obj, TP_GETPPID) == 3


def test_a_tracepoint_without_tracefs_says_how_to_mount_it(attach_obj, monkeypatch):
    from libbpf_py import programs

    monkeypatch.setattr(programs, "TRACEFS", ("/nonexistent/tracing",))
    with pytest.raises(bpf.LibbpfError, match="mount -t tracefs") as exc:
        attach_obj.programs["tp_getppid"].attach_tracepoint("syscalls", "sys_enter_getppid")
    assert exc.value.errno == errno.ENOENT


def test_a_kprobe_without_a_kprobe_pmu_is_a_clear_oserror(attach_obj, tracefs):
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has a kprobe PMU: kprobes attach here")
    with pytest.raises(OSError) as exc:
        attach_obj.programs["raw_tp_getpid"].attach_kprobe("do_sys_openat2")
    assert "bpf_program__attach_kprobe" in str(exc.value)


SENDER = ("import os, socket, sys; open(sys.argv[1], 'w').write(str(os.getpid()));"
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
          "[s.sendto(b'x', ('127.0.0.1', 9)) for _ in range(int(sys.argv[2]))]")


def send_from(cgroup: Path, packets: int) -> None:
    """Send ``packets`` UDP datagrams from a process that moves itself into ``cgroup`` first."""
    subprocess.run([sys.executable, "-c", SENDER, str(cgroup / "cgroup.procs"), str(packets)], check=True,
                   timeout=60)


def test_a_cgroup_program_counts_the_packets_of_a_process_in_its_cgroup(attach_obj, cgroup):
    with attach_obj.programs["cgroup_egress"].attach_cgroup(cgroup) as link:
        info = link.info()
        assert info.type == LinkType.CGROUP and info.attach_type == AttachType.CGROUP_INET_EGRESS
        assert info.cgroup_id == os.stat(cgroup).st_ino
        send_from(cgroup, 3)
        assert counted(attach_obj, CGROUP_EGRESS) == 3
    send_from(cgroup, 3)
    assert counted(attach_obj, CGROUP_EGRESS) == 3


def test_bad_arguments_are_refused_before_c(attach_obj):
    program = attach_obj.programs["xdp_drop_udp"]
    with pytest.raises(ValueError, match="mode"):
        program.attach_xdp("lo", mode="fast")
    with pytest.raises(bpf.LibbpfError, match="no network device") as exc:
        program.attach_xdp("no-such-device0")
    assert exc.value.errno == errno.ENODEV
    with pytest.raises(TypeError):
        program.attach_xdp(1.5)
    with pytest.raises(bpf.LibbpfError) as exc:
        program.attach()  # an xdp section names no hook
    assert exc.value.errno == errno.EOPNOTSUPP
    with pytest.raises(TypeError):
        bpf.Link()


def test_a_standalone_program_attaches_with_attach_xdp_only(attach_obj, bpffs):
    attach_obj.programs["raw_tp_getpid"].pin(bpffs / "prog")
    with bpf.Program.from_pinned(bpffs / "prog") as program:
        with pytest.raises(TypeError, match="from its Object"):
            program.attach()


def test_escape_hatches_give_libbpfs_pointers(attach_obj):
    lib = bpf.libbpf()
    m = attach_obj.maps["counts"]
    assert lib.bpf_map__fd(m.as_libbpf()) == m.fd
    assert lib.bpf_object__name(attach_obj.as_libbpf()) == b"attach"
    program = attach_obj.programs["raw_tp_getpid"]
    with program.attach() as link:
        assert lib.bpf_link__fd(link.as_libbpf()) == link.fd


def test_a_forked_child_dropping_its_copy_leaves_the_parents_attachments(attach_obj, cgroup):
    """A child's copies are released as copies: no detacher runs, no perf event is disabled."""
    link = attach_obj.programs["raw_tp_getpid"].attach()
    pid = os.fork()
    if pid == 0:
        try:
            link.close()  # the child's handle only
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    getpids(2)
    assert counted(attach_obj, RAW_TP_GETPID) == 2  # still attached in the parent
    link.detach()
    link.detach()  # twice, or after another thread's: nothing to do


def test_a_child_of_a_cls_bpf_holder_leaves_the_filter_alone(attach_obj):
    """The detacher of a cls_bpf filter runs in the process that attached it only."""
    from support import inside, needs_pyroute2, netns_pair

    needs_pyroute2()

    with netns_pair() as (_, (ns_rx, dev_rx)):
        with inside(ns_rx):
            link = attach_obj.programs["tc_count_udp"].attach_tc(dev_rx, mode="cls_bpf")
        pid = os.fork()
        if pid == 0:
            try:
                del link
                gc.collect()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert link.info().prog_id == attach_obj.programs["tc_count_udp"].info().id  # still there
        link.detach()
        assert link.closed


def test_a_uprobe_counts_the_library_function_this_process_calls(attach_obj):
    libc = next(line.split()[-1] for line in open("/proc/self/maps") if "/libc.so" in line)
    program = attach_obj.programs["uprobe_getpid"]
    with program.attach_uprobe(libc, "getpid", pid=os.getpid()) as link:
        getpids(4)  # os.getpid() calls the C library's getpid()
        assert counted(attach_obj, UPROBE_GETPID) == 4
        assert link.info().type == LinkType.PERF_EVENT
    getpids(2)
    assert counted(attach_obj, UPROBE_GETPID) == 4
    with pytest.raises(ValueError, match="symbol, or its offset"):
        program.attach_uprobe(libc)
    with pytest.raises(bpf.LibbpfError):
        program.attach_uprobe(libc, "no_such_function_here")


def test_an_iterator_link_reads_what_its_program_writes(bpf_obj):
    """iter/bpf_map prints every map's id: a map made here is among them, each read a new run."""
    path = Path(bpf_obj("vmlinux/tracing"))
    with bpf.Object.open(path) as obj, bpf.Map.create(bpf.MapType.ARRAY, 4, 4, 1) as mine:
        obj.load()
        with obj.programs["dump_map_ids"].attach_iter() as link:
            assert link.info().type == LinkType.ITER
            first = [int(word) for word in link.read().split()]
            assert mine.info().id in first
            assert [int(word) for word in link.read().split()] == first  # a second run, the same maps


def kernel_config(option: str) -> Optional[bool]:
    """Whether the running kernel was built with ``option`` (None: its config is not readable)."""
    import gzip

    try:
        with gzip.open("/proc/config.gz", "rt") as config:
            return any(line.startswith(f"{option}=y") for line in config)
    except OSError:
        return None


@pytest.fixture
def trampoline(bpf_obj):
    """bpf_progs/vmlinux/trampoline.o opened (not loaded): fentry, fexit, fmod_ret, LSM, kprobe.multi."""
    with bpf.Object.open(bpf_obj("vmlinux/trampoline")) as obj:
        yield obj


def load_only(obj, name: str):
    for other, program in obj.programs.items():
        program.autoload = other == name
    obj.load()
    obj.maps["target_tgid"].key_type = obj.maps["target_tgid"].value_type = int
    obj.maps["target_tgid"][0] = os.getpid()
    obj.maps["hits"].key_type = obj.maps["hits"].value_type = int
    return obj.programs[name]


def test_kprobe_multi_counts_the_functions_it_matches_or_says_the_kernel_lacks_it(trampoline, tracefs):
    program = load_only(trampoline, "kprobe_multi_getpgid")
    if kernel_config("CONFIG_FPROBE") is False:
        with pytest.raises(OSError, match="CONFIG_FPROBE") as exc:
            program.attach_kprobe_multi(symbols=["__x64_sys_getpgid"])
        assert exc.value.errno == errno.EOPNOTSUPP
        # a pattern: libbpf < 1.2 matches it in /proc/kallsyms and gets the same refusal; later ones
        # read tracefs' available_filter_functions_addrs first, which this machine may refuse (EPERM)
        for attach in (lambda: program.attach_kprobe_multi("__x64_sys_getpgi*"), program.attach):
            with pytest.raises(OSError) as exc:
                attach()
            assert exc.value.errno in (errno.EOPNOTSUPP, errno.EPERM)
            if exc.value.errno == errno.EOPNOTSUPP:
                assert "CONFIG_FPROBE" in str(exc.value)
        return
    for link in (program.attach_kprobe_multi("__x64_sys_getpgi*"), program.attach_kprobe_multi(
            symbols=["__x64_sys_getpgid"])):
        with link:
            before = trampoline.maps["hits"][4]
            for _ in range(3):
                os.getpgid(0)
            assert trampoline.maps["hits"][4] == before + 3


def test_kprobe_multi_arguments_are_checked_before_libbpf(trampoline):
    program = load_only(trampoline, "kprobe_multi_getpgid")
    for args, kwargs in (((), {}), (("x",), {"symbols": ["y"]}), ((), {"symbols": "getpgid"}), ((), {"symbols": []}),
                         ((), {"symbols": iter([])}), ((), {"symbols": [1]}), (("a\0b",), {})):
        with pytest.raises(ValueError):
            program.attach_kprobe_multi(*args, **kwargs)


@pytest.mark.parametrize("name, slot", [("fentry_getpgid", 0), ("fexit_getpgid", 1), ("fmod_ret_test", 2),
                                        ("lsm_file_open", 3)])
def test_trampoline_programs_attach_through_their_section(bpf_obj, trampoline, name, slot, tmp_path):
    try:
        program = load_only(trampoline, name)
    except PermissionError as exc:
        # so does bpftool (libbpf from C) with the same object: the kernel refuses, not the binding
        theirs = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 'mount -t bpf bpf /sys/fs/bpf && bpftool prog loadall "$0" /sys/fs/bpf/t',
                                 str(bpf_obj("vmlinux/trampoline"))], capture_output=True, text=True)
        assert theirs.returncode != 0 and "permission" in theirs.stderr.lower(), theirs.stderr
        pytest.skip(f"this kernel refuses to load {name} even as root (errno {exc.errno} at BPF_PROG_LOAD; "
                    "bpftool fails the same way)")
    with program.attach() as link:
        assert link.info().type == bpf.LinkType.TRACING or name.startswith("lsm")
        if slot == 2:
            program.test_run()  # BPF_PROG_TEST_RUN of a tracing program calls bpf_modify_return_test
        elif slot == 3:
            (tmp_path / "f").write_text("x")
            for _ in range(3):
                (tmp_path / "f").read_text()
        else:
            for _ in range(3):
                os.getpgid(0)
        assert trampoline.maps["hits"][slot] >= (1 if slot == 2 else 3)


def test_disconnect_of_a_kernel_link_keeps_no_fd(attach_obj):
    def link_fds() -> int:
        return sum(os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:bpf_link" for fd in os.listdir("/proc/self/fd")
                   if os.path.exists(f"/proc/self/fd/{fd}"))

    before = link_fds()
    link = attach_obj.programs["raw_tp_getpid"].attach()
    assert link_fds() == before + 1
    link.disconnect()
    link.disconnect()
    assert link_fds() == before and link.closed


# pins in every order: unpin() follows detach() and close(); a pin that is no longer this link's
# is never removed; a link that outlives its detach is said --------------------------------------

def link_gone(link_id: int, seconds: float = 10.0) -> bool:
    """Whether the link ``link_id`` is gone from the kernel within ``seconds`` (a pin's reference
    is dropped a moment after its unlink: bpffs frees the inode after an RCU grace period)."""
    import time

    deadline = time.monotonic() + seconds
    while link_id in bpf.Link.ids():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def pinned_raw_tp(attach_obj, path: Path) -> int:
    """A raw tracepoint link pinned at ``path`` by a handle closed since; its id."""
    with attach_obj.programs["raw_tp_getpid"].attach() as link:
        link.pin(path)
        return link.info().id


def test_from_pinned_then_detach_then_unpin_leaves_no_pin_and_no_link(attach_obj, bpffs):
    """The issue's order: the pin goes with the detach, and unpin() after it has nothing left to do."""
    path = bpffs / "link"
    link_id = pinned_raw_tp(attach_obj, path)
    link = bpf.Link.from_pinned(path)
    link.detach()
    assert not path.exists() and link.closed
    assert link_id not in bpf.Link.ids()  # detach returns once the link is gone
    link.unpin()
    link.unpin(path)
    getpids(3)
    assert counted(attach_obj, RAW_TP_GETPID) == 0


def test_detach_of_a_pinned_cgroup_link_leaves_no_defunct_pin(attach_obj, cgroup, bpffs):
    """A link type the kernel detaches for every holder: the pin would hold a defunct link."""
    path = bpffs / "cg"
    with attach_obj.programs["cgroup_egress"].attach_cgroup(cgroup) as link:
        link.pin(path)
        link_id = link.info().id
    again = bpf.Link.from_pinned(path)
    send_from(cgroup, 2)
    again.detach()
    send_from(cgroup, 2)
    assert counted(attach_obj, CGROUP_EGRESS) == 2
    assert not path.exists() and link_id not in bpf.Link.ids()
    again.unpin()


@pytest.mark.parametrize("order", ["pin detach unpin", "pin unpin detach", "pin close unpin", "pin close detach",
                                   "pin close detach unpin", "pin detach detach unpin"])
def test_every_order_of_pin_unpin_close_detach_ends_with_no_pin_and_no_attachment(attach_obj, bpffs, order):
    path = bpffs / "link"
    link = attach_obj.programs["raw_tp_getpid"].attach()
    link_id = link.info().id
    for step in order.split():
        if step == "pin":
            link.pin(path)
            assert link.pin_path == str(path)
        else:
            getattr(link, step)()
        if step == "close":
            getpids(2)  # a pinned link stays attached after its handle closes
            assert counted(attach_obj, RAW_TP_GETPID) == 2 and path.exists()
    link.close()
    assert not path.exists()
    assert link_gone(link_id)
    before = counted(attach_obj, RAW_TP_GETPID)
    getpids(3)
    assert counted(attach_obj, RAW_TP_GETPID) == before


def test_unpin_after_close_removes_the_pin_and_ends_the_attachment(attach_obj, bpffs):
    path = bpffs / "link"
    link = attach_obj.programs["raw_tp_getpid"].attach()
    link.pin(path)
    link_id = link.info().id
    link.close()
    assert link.pin_path == str(path)  # still known after close
    link.unpin()
    assert not path.exists() and link_gone(link_id) and link.pin_path is None
    with pytest.raises(ValueError, match="no known pin"):
        link.unpin()  # unpinned by unpin(), not by a detach: nothing known any more


def test_a_pin_replaced_by_another_link_is_neither_removed_nor_detached(attach_obj, bpffs):
    path = bpffs / "link"
    first = attach_obj.programs["raw_tp_getpid"].attach()
    first.pin(path)
    first_id = first.info().id
    with bpf.Link.from_pinned(path) as other_handle:  # as another process would: remove it, pin another link
        other_handle.unpin()
    with attach_obj.programs["raw_tp_getpid_other"].attach() as second:
        second.pin(path)
        second_id = second.info().id
    with pytest.raises(bpf.LibbpfError, match="does not hold this link") as exc:
        first.unpin()
    assert exc.value.errno == errno.EINVAL and path.exists()
    first.detach()
    assert path.exists() and first_id not in bpf.Link.ids()
    with bpf.Link.from_pinned(path) as second_again:
        assert second_again.info().id == second_id  # untouched: still attached, still pinned
        getpids(2)
        assert counted(attach_obj, RAW_TP_OTHER) == 2
        second_again.detach()
    assert not path.exists()


def test_a_pin_replaced_by_a_map_or_removed_by_another_is_left_to_its_owner(attach_obj, bpffs):
    path, removed = bpffs / "link", bpffs / "removed"
    taken = attach_obj.programs["raw_tp_getpid"].attach()
    taken.pin(path)
    gone = attach_obj.programs["raw_tp_getpid_other"].attach()
    gone.pin(removed)
    os.unlink(path)
    attach_obj.maps["counts"].pin(path)  # the path now holds a map
    os.unlink(removed)
    taken.detach()
    gone.detach()
    gone.unpin()  # detach found its pin gone: nothing to do
    with bpf.Map.from_pinned(path) as m:
        assert m.info().id == attach_obj.maps["counts"].info().id
    attach_obj.maps["counts"].unpin()


def test_a_link_still_held_after_its_detach_is_reported(attach_obj, bpffs):
    """Pinned twice, the handle knowing one pin: the detach removes that one and warns that the
    link lives on (a raw tracepoint stays attached while the other pin holds it)."""
    known, unknown = bpffs / "known", bpffs / "unknown"
    link_id = pinned_raw_tp(attach_obj, known)
    with bpf.Link.from_pinned(known) as other:  # another process, say, pins it again
        other.pin(unknown)
    with bpf.Link.from_pinned(known) as link:
        with pytest.warns(RuntimeWarning, match=f"link {link_id} .*still held elsewhere"):
            link.detach()
    assert not known.exists() and unknown.exists()
    getpids(2)
    assert counted(attach_obj, RAW_TP_GETPID) == 2  # still attached through the pin it did not know
    with bpf.Link.from_pinned(unknown) as last:
        last.detach()
    assert not unknown.exists() and link_id not in bpf.Link.ids()


def test_unpin_of_a_closed_handle_that_never_knew_a_pin_says_so(attach_obj, bpffs):
    link = attach_obj.programs["raw_tp_getpid"].attach()
    link.close()
    with pytest.raises(ValueError, match="no known pin"):
        link.unpin()
    with pytest.raises(bpf.ClosedError):
        link.unpin(bpffs / "anything")
    link.detach()  # closed and unpinned: nothing to do


def test_a_handle_that_knows_no_pin_still_reports_a_link_held_elsewhere(attach_obj, bpffs):
    """The link was never pinned through this handle; another pinned it: detach() cannot end a
    raw tracepoint for that holder, and says so instead of leaving it attached silently."""
    link = attach_obj.programs["raw_tp_getpid"].attach()
    link_id = link.info().id
    with bpf.Link.from_id(link_id) as theirs:
        theirs.pin(bpffs / "theirs")
    with pytest.warns(RuntimeWarning, match=f"link {link_id} of 'raw_tp_getpid' .*still held elsewhere"):
        link.detach()
    assert (bpffs / "theirs").exists()  # not this handle's pin: left to its owner
    os.unlink(bpffs / "theirs")
    assert link_gone(link_id)


def test_an_unshared_link_detaches_without_a_warning(attach_obj):
    import warnings

    link = attach_obj.programs["raw_tp_getpid"].attach()
    link_id = link.info().id
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        link.detach()
    assert link_id not in bpf.Link.ids()


def test_a_symlink_to_the_links_pin_is_not_removed(attach_obj, bpffs, tmp_path):
    """Someone's symlink that resolves to this link's pin is theirs: unpin() refuses it."""
    link_id = pinned_raw_tp(attach_obj, bpffs / "pin")
    alias = tmp_path / "alias"
    alias.symlink_to(bpffs / "pin")
    with bpf.Link.from_pinned(bpffs / "pin") as link:
        with pytest.raises(OSError, match="is a symlink, not a pin"):
            link.unpin(alias)
        assert alias.is_symlink()
        link.detach()
    assert not (bpffs / "pin").exists() and link_gone(link_id)


def test_the_cli_says_when_a_detached_link_is_still_held(attach_obj, bpffs, capsys):
    from libbpf_py.cli import main

    link_id = pinned_raw_tp(attach_obj, bpffs / "mine")
    with bpf.Link.from_pinned(bpffs / "mine") as other:
        other.pin(bpffs / "other")
    assert main(["detach", str(bpffs / "mine")]) == 1
    out, err = capsys.readouterr()
    assert "detached no" in out and not (bpffs / "mine").exists()
    assert err.count("\n") == 1 and err.startswith(f"libbpf-py: link {link_id} of program id ")
    os.unlink(bpffs / "other")
    assert link_gone(link_id)


def test_each_kind_of_attachment_is_its_own_class(attach_obj, bpffs):
    """One interface, one class per kind: libbpf's link, a kernel link's fd, a netlink attachment."""
    from libbpf_py.links import FdLink, LibbpfLink, NetlinkAttachment

    with attach_obj.programs["raw_tp_getpid"].attach() as made:
        assert type(made) is LibbpfLink and made.as_libbpf() and not hasattr(made, "tc_handle")
        made.pin(bpffs / "pinned")
        with bpf.Link.from_pinned(bpffs / "pinned") as opened:
            assert type(opened) is FdLink and opened.as_libbpf() is None
            assert opened.info().id == made.info().id
        made.unpin()
    assert issubclass(NetlinkAttachment, bpf.Link) and "tc_handle" in NetlinkAttachment.__annotations__
