"""The pin tree another user can reach (bpffs is often mode 1777): what the policy trusts, stale
temporaries of killed loaders, and errors that name the real cause."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
from support import load, pinned_map_id

import libbpf_py as bpf
from libbpf_py import MapType, PinByName

NOBODY = 65534


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_dead_loaders_are_removed_and_nothing_else(bpf_obj, bpffs):
    old = 1_000_000_000  # mtime far in the past: left over, not a live loader's
    stale, live, recent = (f"__libbpf_py_tmp_{dead_pid()}_pinned_counts", "__libbpf_py_tmp_1_pinned_counts",
                           f"__libbpf_py_tmp_{dead_pid()}_fresh")
    for name in (stale, live, recent):
        with bpf.Map.create(MapType.ARRAY, 4, 4, 1) as m:
            m.pin(bpffs / name)
    for name in (stale, live):
        os.utime(bpffs / name, (old, old))
    (bpffs / f"__libbpf_py_tmp_{dead_pid()}_a_directory").mkdir()  # a look-alike that is no pin
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs)):
        left = set(os.listdir(bpffs))
    assert stale not in left and {live, recent} <= left
    assert any(name.endswith("_a_directory") for name in left)


def test_a_root_directory_of_another_user_is_refused(bpf_obj, bpffs):
    (bpffs / "app").mkdir()
    os.chown(bpffs / "app", NOBODY, NOBODY)
    with pytest.raises(PermissionError, match="directory of uid 65534"):
        load(bpf_obj("pinned"), pinning=PinByName(bpffs / "app"))
    assert os.listdir(bpffs / "app") == []


def test_a_link_another_user_planted_is_not_followed(bpf_obj, bpffs, monkeypatch):
    (bpffs / "theirs").mkdir()
    os.symlink(bpffs / "theirs", bpffs / "tc")
    os.lchown(bpffs / "tc", NOBODY, NOBODY)
    monkeypatch.setenv("TC_BPF_MNT", str(bpffs))
    with pytest.raises(PermissionError, match="symbolic link of uid 65534"):
        load(bpf_obj("iproute2/global_ns"))
    assert os.listdir(bpffs / "theirs") == []
    os.unlink(bpffs / "tc")
    os.symlink(bpffs / "theirs", bpffs / "tc")  # the same link made by root is trusted
    with load(bpf_obj("iproute2/global_ns")):
        assert (bpffs / "theirs" / "globals" / "stats_global").exists()


def test_root_errors_name_the_real_cause(bpf_obj, bpffs):
    os.symlink(bpffs / "nowhere", bpffs / "dangling")
    with pytest.raises(FileNotFoundError, match="symbolic link to .*nowhere, which does not exist"):
        PinByName(bpffs / "dangling")
    with bpf.Map.create(MapType.ARRAY, 4, 4, 1) as m:
        m.pin(bpffs / "a_map")
        with pytest.raises(NotADirectoryError, match="not a directory"):
            PinByName(bpffs / "a_map")
        m.pin(bpffs / "tc")
    with pytest.raises(FileExistsError, match="tc is taken by something that is not a directory") as exc:
        load(bpf_obj("iproute2/global_ns"), bpf.iproute2.open, mnt=str(bpffs))
    assert exc.value.errno == errno.EEXIST
    assert pinned_map_id(bpffs / "tc") > 0  # untouched


def test_a_directory_others_may_write_without_the_sticky_bit_is_refused(bpf_obj, bpffs):
    (bpffs / "shared").mkdir()
    os.chmod(bpffs / "shared", 0o777)
    with pytest.raises(PermissionError, match="without the sticky bit"):
        load(bpf_obj("pinned"), pinning=PinByName(bpffs / "shared" / "app"))
    os.chmod(bpffs / "shared", 0o1777)   # as /sys/fs/bpf: others cannot move what root makes there
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs / "shared" / "app")):
        pass


def test_dotdot_in_a_link_is_resolved_as_the_kernel_does(bpf_obj, bpffs):
    (bpffs / "theirs" / "deep").mkdir(parents=True)
    os.chown(bpffs / "theirs", NOBODY, NOBODY)
    os.symlink(bpffs / "theirs" / "deep", bpffs / "hop")   # root's links...
    os.symlink("hop/..", bpffs / "pinroot")               # ...leading into another user's directory
    with pytest.raises(PermissionError, match="uid 65534"):
        load(bpf_obj("pinned"), pinning=PinByName(bpffs / "pinroot"))
    assert os.listdir(bpffs / "theirs") == ["deep"]


def test_a_link_planted_between_the_check_and_the_mkdir_is_refused(bpf_obj, bpffs, monkeypatch):
    from libbpf_py._bpffs import check_trusted as real_check
    from libbpf_py.pinning import session

    (bpffs / "theirs").mkdir()
    os.chown(bpffs / "theirs", NOBODY, NOBODY)

    def check_then_plant(path):
        real_check(path)
        if not os.path.lexists(bpffs / "app"):  # the attacker wins the race
            os.symlink(bpffs / "theirs", bpffs / "app")
            os.lchown(bpffs / "app", NOBODY, NOBODY)

    monkeypatch.setattr(session, "check_trusted", check_then_plant)
    with pytest.raises(PermissionError, match="symbolic link of uid 65534"):
        load(bpf_obj("pinned"), pinning=PinByName(bpffs / "app"))
    assert os.listdir(bpffs / "theirs") == []


def test_mount_true_through_another_users_link_makes_nothing(bpf_obj, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    os.chown(victim, NOBODY, NOBODY)
    os.symlink(victim, tmp_path / "via")
    os.lchown(tmp_path / "via", NOBODY, NOBODY)
    with pytest.raises(PermissionError, match="symbolic link of uid 65534"):
        load(bpf_obj("pinned"), pinning=PinByName(tmp_path / "via" / "pins", mount=True))
    assert os.listdir(victim) == [] and not os.path.ismount(victim / "pins")


def test_a_policy_reading_other_maps_does_not_deadlock_pin_path(bpf_obj, bpffs):
    import threading

    class ReadsSiblings(PinByName):
        def map_path(self, m, requested):
            for other in siblings:
                other.max_entries  # another map's attribute, while its own pin_path is asked for
            return super().map_path(m, requested)

    with bpf.Object.open(bpf_obj("pinned"), pinning=ReadsSiblings(bpffs, maps="all")) as obj:
        siblings = list(obj.maps.values())
        done = []

        def ask(m):
            for _ in range(2000):
                m.pin_path
            done.append(m.name)

        threads = [threading.Thread(target=ask, args=(m,), daemon=True) for m in siblings]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(done) == len(siblings)
