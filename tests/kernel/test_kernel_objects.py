"""support.KernelObjects: the programs and maps a test made, told apart from what other
processes on the machine load meanwhile (a machine-wide count fails whenever they do)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

import pytest
from support import KernelObjects, kernel_names

import libbpf_py as bpf

HOLDER = r"""
import os, sys, time
import libbpf_py as bpf
how, path, where = sys.argv[1], sys.argv[2], sys.argv[3]
obj = bpf.Object.open(path)
obj.load()
if how == "pin":  # pinned on a bpffs of its own (in the shared mount namespace), then the process goes
    obj.programs["count_packets"].pin(os.path.join(where, "count_packets"))
    obj.close()
    sys.exit(0)
if how == "private":  # pinned on a bpffs only its own mount namespace has (unshare --mount), fds closed
    import subprocess
    subprocess.run(["mount", "-t", "bpf", "bpf", os.path.join(where, "mnt")], check=True)
    obj.programs["count_packets"].pin(os.path.join(where, "mnt", "count_packets"))
    obj.close()
nameless = bpf.Map.create(bpf.MapType.ARRAY, 4, 4, 1)   # no name, as iproute2's legacy loader makes them
with open(os.path.join(where, "ready.tmp"), "w") as ready:
    ready.write(str(os.getpid()))
os.rename(os.path.join(where, "ready.tmp"), os.path.join(where, "ready"))
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(where, "stop")) and time.monotonic() < deadline:
    time.sleep(0.02)                                      # holds both until told to stop
"""


def unrelated(*args: str, private: bool = False) -> None:
    """HOLDER ARGS in a process that is not this one's descendant (setsid -f: its parent exits),
    as any other process on the machine; ``private``: in a mount namespace of its own."""
    mine = ["unshare", "--mount", "--propagation", "private"] if private else []
    subprocess.run(["setsid", "-f", *mine, sys.executable, "-c", HOLDER, *args], check=True, timeout=60)


def held_while(how: str, path, private: bool = False):
    """A context: HOLDER ``how`` running in an unrelated process, until the block ends."""
    import contextlib

    @contextlib.contextmanager
    def holding():
        with tempfile.TemporaryDirectory(prefix="libbpf_py-holder-") as where:
            os.mkdir(os.path.join(where, "mnt"))
            unrelated(how, str(path), where, private=private)
            wait_for(os.path.join(where, "ready"))
            with open(os.path.join(where, "ready")) as ready:
                holder = int(ready.read())
            try:
                yield
            finally:
                open(os.path.join(where, "stop"), "w").close()
                wait_until_gone(holder)

    return holding()


def wait_for(path, seconds: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def wait_until_gone(pid: int, seconds: float = 60.0) -> None:
    """Until process ``pid`` has exited (a zombie its new parent has not reaped yet counts)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except FileNotFoundError:
            return
        assert time.monotonic() < deadline, f"process {pid} is still running"
        time.sleep(0.02)


@pytest.fixture
def maps_names(bpf_obj):
    return kernel_names(bpf_obj("maps"))


def test_what_another_process_holds_is_not_the_tests(bpf_obj, maps_names):
    """Another process loads the test's own object (same names) and a nameless map, and holds
    them: the machine's counts grow, the test's do not."""
    made = KernelObjects(maps_names)
    before = set(bpf.Program.ids())
    with held_while("hold", bpf_obj("maps")):
        assert not set(bpf.Program.ids()) <= before  # what a machine-wide count saw
        assert made.left(seconds=0) == []


def test_what_another_process_pinned_in_its_own_mount_namespace_is_not_the_tests(bpf_obj, maps_names):
    made = KernelObjects(maps_names)
    with held_while("private", bpf_obj("maps"), private=True):
        assert made.left(seconds=0) == []


def test_what_another_process_pinned_on_its_own_bpffs_is_not_the_tests(bpf_obj, maps_names, new_bpffs):
    theirs = new_bpffs()
    made = KernelObjects(maps_names)
    unrelated("pin", str(bpf_obj("maps")), str(theirs))
    wait_for(theirs / "count_packets")
    assert made.left(seconds=0) == []
    os.unlink(theirs / "count_packets")


def test_what_the_test_leaves_is_found_also_where_no_path_leads(bpf_obj, maps_names):
    """A program pinned on a bpffs that was then detached (umount -l) while something still
    holds the mount: no mount table shows it, no fd of a process holds the program, and it is
    the test's."""
    mnt = tempfile.mkdtemp(prefix="libbpf_py-bpffs-")
    subprocess.run(["mount", "-t", "bpf", "bpf", mnt], check=True)
    made = KernelObjects(maps_names, own_mounts=(mnt,))  # (its bpffs instance stays the test's once detached)
    keeper = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)  # keeps the detached mount alive
    try:
        with bpf.Object.open(bpf_obj("maps")) as obj:
            obj.load()
            obj.programs["count_packets"].pin(os.path.join(mnt, "count_packets"))
            program_id = obj.programs["count_packets"].info().id
        subprocess.run(["umount", "-l", mnt], check=True)
        left = made.left(seconds=0.5)
        assert f"prog {program_id} count_packets" in left  # and the maps it uses
        assert all(entry.split()[0] in ("prog", "map") and entry.split()[2] in maps_names for entry in left)
    finally:
        os.close(keeper)  # the mount, its pin and the program go
        os.rmdir(mnt)
    assert made.left() == []


def test_what_the_test_pins_on_its_own_bpffs_or_holds_is_the_tests(bpf_obj, maps_names, bpffs):
    """Also when another process's copied mount namespace (unshare --mount, as a test beside
    this one makes) shows the test's bpffs again: that is still the test's pin."""
    made = KernelObjects(maps_names, own_mounts=(str(bpffs),))
    with bpf.Object.open(bpf_obj("maps")) as obj:
        obj.load()
        obj.maps["hash_map"].pin(bpffs / "hash_map")
        map_id = obj.maps["hash_map"].info().id
    started = subprocess.run(["sh", "-c", "unshare --mount --propagation private sleep 60 >/dev/null 2>&1 & echo $!"],
                             capture_output=True, text=True, check=True)  # (not a child of ours: sh exits)
    copy = int(started.stdout)
    try:
        wait_for_namespace(copy)
        assert f"map {map_id} hash_map" in made.left(seconds=0.5)
    finally:
        os.kill(copy, signal.SIGKILL)
    os.unlink(bpffs / "hash_map")
    assert made.left() == []


def wait_for_namespace(pid: int) -> None:
    """Until ``pid`` runs in a mount namespace of its own."""
    import time

    deadline = time.monotonic() + 10
    while os.stat(f"/proc/{pid}/ns/mnt").st_ino == os.stat("/proc/self/ns/mnt").st_ino:
        assert time.monotonic() < deadline, "unshare did not start"
        time.sleep(0.01)


def test_new_entries_on_sys_fs_bpf_count_only_when_a_test_could_have_made_them(bpf_obj, bpffs, monkeypatch):
    """conftest's check of the host's /sys/fs/bpf (here a private bpffs in its place): what
    another program pins there is its own; iproute2's layout and pins named as the test
    objects' programs and maps are the tests'."""
    import conftest

    monkeypatch.setattr(conftest, "SYS_BPF", bpffs)
    foreign = bpf.Map.create(bpf.MapType.ARRAY, 4, 4, 1, name="not_a_test_map")
    ours = bpf.Map.create(bpf.MapType.ARRAY, 4, 4, 1, name="hash_map")  # as bpf_progs/maps.c names one
    with foreign, ours:
        foreign.pin(bpffs / "someone_elses")
        ours.pin(bpffs / "left_by_a_test")
        (bpffs / "tc" / "globals").mkdir(parents=True)
        (bpffs / "daemon").mkdir()
        entries = {"someone_elses", "left_by_a_test", "tc", "tc/globals", "daemon"}
        assert conftest._made_by_tests(entries) == ["left_by_a_test", "tc", "tc/globals"]
        foreign.unpin()
        ours.unpin()


def test_looking_for_what_is_left_never_keeps_a_prog_array_from_being_freed(bpf_obj):
    """A prog array whose last user reference just went is cleared by the kernel later; opening
    it by id meanwhile (BPF_MAP_GET_FD_BY_ID takes a user reference) makes it clear twice, and
    on this kernel the map is then never freed. KernelObjects reads map names through an
    iterator instead: prog arrays released while it looks are all freed."""
    import threading

    obj_path = bpf_obj("iproute2/tail_call")
    made = KernelObjects(kernel_names(obj_path))
    stop = threading.Event()

    def look() -> None:
        while not stop.is_set():
            made._candidates()

    looker = threading.Thread(target=look)
    looker.start()
    try:
        for _ in range(30):
            with bpf.Object.open(obj_path, pinning=bpf.PinPolicy()) as obj:
                obj.load()
    finally:
        stop.set()
        looker.join(60)
    assert made.left() == []
