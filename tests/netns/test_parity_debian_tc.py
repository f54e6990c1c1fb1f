"""BTF objects as Debian's tc loads them (iproute2 built with libbpf, lib/bpf_libbpf.c): its
pin_root_path is <mnt>/tc/globals, so LIBBPF_PIN_BY_NAME maps are pinned and reused there, and
only the chosen section's program loads. iproute2.open does the same; pins made by either are
reused by the other (the system tc, in a network namespace made for the test)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

import libbpf_py as bpf
from libbpf_py import iproute2
from libbpf_py.tools import compare


def system_tc_loads_btf_objects() -> bool:
    done = subprocess.run(["tc", "-V"], capture_output=True, text=True)
    return done.returncode == 0 and "libbpf" in done.stdout


pytestmark = pytest.mark.skipif(shutil.which("tc") is None or not system_tc_loads_btf_objects(),
                                reason="the system tc is not built with libbpf (it cannot load BTF objects)")


@pytest.fixture
def netns():
    name = f"lbpy_dtc_{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def debian_tc(ns: str, mnt, obj, section: str = "tc") -> int:
    """tc filter add dev lo ingress bpf da obj OBJ sec SECTION, with TC_BPF_MNT=mnt; the program's id."""
    env = {**os.environ, "TC_BPF_MNT": str(mnt)}
    enter = ["nsenter", f"--net=/run/netns/{ns}", "tc"]
    subprocess.run([*enter, "qdisc", "replace", "dev", "lo", "clsact"], check=True, env=env)
    done = subprocess.run([*enter, "filter", "add", "dev", "lo", "ingress", "bpf", "da", "obj", str(obj), "sec",
                           section], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([*enter, "filter", "show", "dev", "lo", "ingress"], capture_output=True, text=True,
                           check=True).stdout
    return int(re.findall(r"\bid (\d+)", shown)[-1])


def pinned_id(path) -> int:
    with bpf.Map.from_pinned(path) as m:
        return m.info().id


def test_shim_reuses_what_debian_tc_pinned(bpf_obj, netns, bpffs):
    prog_id = debian_tc(netns, bpffs, bpf_obj("pinned"))
    theirs = pinned_id(bpffs / "tc" / "globals" / "pinned_counts")
    with bpf.Program.from_id(prog_id) as program:
        assert theirs in program.info().map_ids
    with iproute2.open(bpf_obj("pinned"), section="tc", mnt=str(bpffs)) as obj:
        obj.load()
        assert obj.reused_maps == frozenset({"pinned_counts"})
        assert obj.maps["pinned_counts"].info().id == theirs
        assert obj.maps["not_pinned"].pin_path is None
        assert [name for name, p in obj.programs.items() if p.autoload] == ["pin_count"]


def test_debian_tc_reuses_what_the_shim_pinned(bpf_obj, netns, bpffs):
    with iproute2.open(bpf_obj("pinned"), section="tc", mnt=str(bpffs)) as obj:
        obj.load()
        ours = obj.maps["pinned_counts"].info().id
    assert sorted(p.name for p in (bpffs / "tc" / "globals").iterdir()) == ["pinned_counts"]
    assert {"tc", "xdp", "ip"} <= {p.name for p in bpffs.iterdir()}
    prog_id = debian_tc(netns, bpffs, bpf_obj("pinned"))
    with bpf.Program.from_id(prog_id) as program:
        assert ours in program.info().map_ids  # Debian's tc took our pin
    assert pinned_id(bpffs / "tc" / "globals" / "pinned_counts") == ours


def test_compare_with_debian_tc_finds_the_same_load(bpf_obj):
    report = compare(str(bpf_obj("pinned")), tool="tc", section="tc")
    assert report.same, report.differences
    assert {row.ours for row in report.rows if row.field == "pin"} == {None, "tc/globals/pinned_counts"}
