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


def test_temporaries_of_dead_loaders_are_removed_and_live_ones_kept(bpf_obj, bpffs):
    stale, live = f"__libbpf_py_tmp_{dead_pid()}_pinned_counts", "__libbpf_py_tmp_1_pinned_counts"
    for name in (stale, live):
        with bpf.Map.create(MapType.ARRAY, 4, 4, 1) as m:
            m.pin(bpffs / name)
    with load(bpf_obj("pinned"), pinning=PinByName(bpffs)):
        assert not (bpffs / stale).exists() and (bpffs / live).exists()


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
