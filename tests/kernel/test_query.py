"""libbpf_py.query: what is attached to XDP, tc, cgroup and netns hooks, whoever attached it
(ip, tc, bpftool, or the binding), compared with what the native tools report of the same
hooks: `bpftool -j net show`, `bpftool -j cgroup show`, `tc -j filter show`, `ip -j link show`.
Devices are veth ends in namespaces of the test's own; cgroups are under a cgroup2 mount the
test makes."""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, List

import pytest
from support import inside, needs_pyroute2, netns_pair

import libbpf_py as bpf
from libbpf_py import AttachType, query

needs_pyroute2(module_level=True)

EGRESS = AttachType.CGROUP_INET_EGRESS
TCX_LINK_IDS = bpf.libbpf().version >= (1, 3)  # libbpf 1.3 asks the kernel for tcx's link ids and revision


@pytest.fixture
def q3(bpf_obj) -> Iterator[bpf.Object]:
    with bpf.Object.open(bpf_obj("q3_query")) as obj:
        obj.load()
        yield obj


@pytest.fixture
def pair():
    with netns_pair() as namespaces:
        yield namespaces


@pytest.fixture
def cgroup2() -> Iterator[Path]:
    """A cgroup v2 mount of the test's own, with a new cgroup in it: removed and unmounted after."""
    mnt = Path(tempfile.mkdtemp(prefix="libbpf_py-cgroup2-"))
    done = subprocess.run(["mount", "-t", "cgroup2", "none", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"cannot mount cgroup2: {done.stderr.strip()}")
    group = Path(tempfile.mkdtemp(prefix="lbpy_q3_", dir=mnt))
    try:
        yield group
    finally:
        for child in sorted(group.glob("*/"), reverse=True):
            if (child / "cgroup.procs").exists():
                child.rmdir()
        group.rmdir()
        if subprocess.run(["umount", str(mnt)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)
        mnt.rmdir()


def tool(ns: str, *argv: str) -> str:
    """A native tool's output, run in network namespace ``ns`` (nsenter: /sys stays the host's)."""
    done = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def with_private_bpffs(ns: str, command: str) -> None:
    """Run ``command`` (ip or tc loading an object) in ``ns`` with a bpffs of its own on
    /sys/fs/bpf: libbpf-based iproute2 may lay out pins there, and they vanish with it."""
    script = f"mount -t bpf bpf /sys/fs/bpf && exec nsenter --net=/run/netns/{ns} {command}"
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def bpftool_net(ns: str, dev: str) -> dict:
    return json.loads(tool(ns, "bpftool", "-j", "net", "show", "dev", dev))[0]


def bpftool_flow_dissector(ns: str) -> List[int]:
    """The flow dissector ids bpftool reports in ``ns`` (bpftool 7.1 prints `["id":N]`, not JSON)."""
    return [int(n) for n in re.findall(r'"id":(\d+)', tool(ns, "bpftool", "-j", "net", "show").split(
        '"flow_dissector"')[1])]


# XDP ------------------------------------------------------------------------------------------

def test_xdp_attached_by_ip_and_by_the_binding_as_bpftool_and_ip_report_it(bpf_obj, q3, pair):
    (ns_tx, dev_tx), (ns_rx, dev_rx) = pair
    program = q3.programs["q3_xdp"]
    with inside(ns_tx):
        assert query.xdp(dev_tx) == query.XdpQuery("none", 0, 0, 0, 0, ())
    with_private_bpffs(ns_tx, f"ip link set dev {dev_tx} xdpgeneric obj {bpf_obj('q3_query')} sec xdp")
    with inside(ns_rx):
        link = program.attach_xdp(dev_rx, mode="skb")
    try:
        with inside(ns_tx):
            by_ip = query.xdp(dev_tx)
        with inside(ns_rx):
            by_binding = query.xdp(dev_rx)
        for ns, dev, found in ((ns_tx, dev_tx, by_ip), (ns_rx, dev_rx, by_binding)):
            with inside(ns):
                ifindex = socket.if_nametoindex(dev)
            assert bpftool_net(ns, dev)["xdp"] == [{"devname": dev, "ifindex": ifindex, "mode": "generic",
                                                    "id": found.skb_prog_id}]
            ip = json.loads(tool(ns, "ip", "-j", "link", "show", "dev", dev))[0]["xdp"]
            assert ip["mode"] == 2 and ip["prog"]["id"] == found.prog_id == found.skb_prog_id  # 2: XDP_ATTACHED_SKB
            assert found.mode == "skb" and found.drv_prog_id == found.hw_prog_id == 0
        assert by_binding.prog_id == program.info().id
        assert by_ip.link_ids == ()  # ip attaches through netlink: no link
        assert by_binding.link_ids == (link.info().id,)
    finally:
        link.detach()
    with inside(ns_rx):
        assert query.xdp(dev_rx).mode == "none"


def test_xdp_in_driver_mode_by_ip_and_by_the_binding(bpf_obj, q3, pair):
    (ns_tx, dev_tx), (ns_rx, dev_rx) = pair
    with_private_bpffs(ns_tx, f"ip link set dev {dev_tx} xdpdrv obj {bpf_obj('q3_query')} sec xdp")  # veth has it
    program = q3.programs["q3_xdp"]
    with inside(ns_rx):
        link = program.attach_xdp(dev_rx, mode="drv")
        try:
            by_binding = query.xdp(dev_rx)
            with pytest.raises(bpf.LibbpfError) as both:  # generic and native XDP cannot share a device
                program.attach_xdp(dev_rx, mode="skb")
            assert both.value.errno == errno.EEXIST
            assert query.xdp(dev_rx) == by_binding
            reported_rx = bpftool_net(ns_rx, dev_rx)["xdp"]
            link_id = link.info().id
        finally:
            link.detach()
    with inside(ns_tx):
        by_ip = query.xdp(dev_tx)
    assert by_binding == query.XdpQuery("drv", program.info().id, 0, program.info().id, 0, (link_id,))
    assert by_ip.mode == "drv" and by_ip.prog_id == by_ip.drv_prog_id != 0 and by_ip.link_ids == ()
    assert [(e["mode"], e["id"]) for e in reported_rx] == [("driver", by_binding.drv_prog_id)]
    assert [(e["mode"], e["id"]) for e in bpftool_net(ns_tx, dev_tx)["xdp"]] == [("driver", by_ip.drv_prog_id)]
    ip = json.loads(tool(ns_tx, "ip", "-j", "link", "show", "dev", dev_tx))[0]["xdp"]
    assert ip["mode"] == 1 and ip["prog"]["id"] == by_ip.prog_id  # 1: XDP_ATTACHED_DRV


# tc -------------------------------------------------------------------------------------------

def test_tc_lists_tcx_links_and_cls_bpf_filters_as_tc_and_bpftool_report_them(bpf_obj, q3, pair):
    (ns_tx, dev_tx), _ = pair
    with inside(ns_tx):
        empty = query.tc(dev_tx)
    assert empty.tcx == () and empty.filters == ()
    assert "clsact" not in tool(ns_tx, "tc", "qdisc", "show", "dev", dev_tx)  # a query makes no qdisc
    with_private_bpffs(ns_tx, f"sh -c 'tc qdisc add dev {dev_tx} clsact && tc filter add dev {dev_tx} ingress "
                              f"pref 7 bpf da obj {bpf_obj('q3_query')} sec tc'")
    first, second = q3.programs["q3_tc"], q3.programs["q3_tc_other"]
    with inside(ns_tx):
        links = [first.attach_tc(dev_tx, "ingress", mode="tcx"), second.attach_tc(dev_tx, "ingress", mode="tcx")]
        links.append(second.attach_tc(dev_tx, "ingress", mode="cls_bpf", priority=9, handle=3))
        try:
            found = query.tc(dev_tx, "ingress")
            egress = query.tc(dev_tx, "egress")
            link_ids = [link.info().id for link in links[:2]]
            shown = [f for f in json.loads(tool(ns_tx, "tc", "-j", "filter", "show", "dev", dev_tx, "ingress"))
                     if "options" in f]
            bpftool_tc = {entry["id"] for entry in bpftool_net(ns_tx, dev_tx)["tc"]
                          if entry["kind"] == "clsact/ingress"}
        finally:
            for link in links:
                link.detach()
        after = query.tc(dev_tx, "ingress")
    assert [p.prog_id for p in found.tcx] == [first.info().id, second.info().id]  # in the order they run
    if TCX_LINK_IDS:
        assert [p.link_id for p in found.tcx] == link_ids
        assert isinstance(found.revision, int) and after.revision is not None and after.revision > found.revision
    else:
        assert [p.link_id for p in found.tcx] == [None, None] and found.revision is None
    assert [(f.priority, f.handle, f.prog_id, f.direct_action) for f in found.filters] == [
        (f["pref"], int(f["options"]["handle"], 16), f["options"]["prog"]["id"], f["options"].get("direct-action",
                                                                                                   False))
        for f in shown]
    assert found.filters[0].priority == 7 and found.filters[0].name == "q3_query.o:[tc]"
    assert (found.filters[1].priority, found.filters[1].handle) == (9, 3)
    assert bpftool_tc == {f.prog_id for f in found.filters}  # (bpftool 7.1 lists no tcx)
    assert egress.tcx == () and egress.filters == ()
    assert after.tcx == () and [f.priority for f in after.filters] == [7]  # tc's own filter stays


# cgroups --------------------------------------------------------------------------------------

def bpftool_cgroup(path: Path) -> List[dict]:
    done = subprocess.run(["bpftool", "-j", "cgroup", "show", str(path)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout or "[]")


def bpftool_cgroup_attach(path: Path, prog_id: int, *flags: str) -> None:
    subprocess.run(["bpftool", "cgroup", "attach", str(path), "egress", "id", str(prog_id), *flags], check=True)


def bpftool_cgroup_detach(path: Path, prog_id: int) -> None:
    subprocess.run(["bpftool", "cgroup", "detach", str(path), "egress", "id", str(prog_id)], check=False)


def test_cgroup_programs_of_bpftool_and_of_links_as_bpftool_reports_them(q3, cgroup2):
    empty = query.cgroup(cgroup2, EGRESS)
    assert empty.programs == () and empty.attach_flags == 0
    ours, theirs = q3.programs["q3_cgroup"], q3.programs["q3_cgroup_other"]
    link = ours.attach_cgroup(cgroup2)  # a link attaches with BPF_F_ALLOW_MULTI
    bpftool_cgroup_attach(cgroup2, theirs.info().id, "multi")
    try:
        found = query.cgroup(cgroup2, EGRESS)
        directory = os.open(cgroup2, os.O_RDONLY)  # (an fd works as well as the path)
        try:
            assert query.cgroup(directory, EGRESS) == found
        finally:
            os.close(directory)
        shown = bpftool_cgroup(cgroup2)
        link_id = link.info().id
    finally:
        bpftool_cgroup_detach(cgroup2, theirs.info().id)
        link.detach()
    assert found.multi and not found.override
    assert [p.prog_id for p in found.programs] == [entry["id"] for entry in shown] == [ours.info().id,
                                                                                        theirs.info().id]
    assert {entry["attach_flags"] for entry in shown} == {"multi"}
    assert [p.link_id for p in found.programs] == [link_id, 0]  # bpftool attaches without a link
    assert query.cgroup(cgroup2, EGRESS).programs == ()


def test_cgroup_attach_flags_override_and_exclusive(q3, cgroup2):
    program = q3.programs["q3_cgroup"]
    prog_id = program.info().id
    for flags, expected, label in ((("override",), 1, "override"), ((), 0, "")):
        bpftool_cgroup_attach(cgroup2, prog_id, *flags)
        try:
            found = query.cgroup(cgroup2, EGRESS)
            shown = bpftool_cgroup(cgroup2)
        finally:
            bpftool_cgroup_detach(cgroup2, prog_id)
        assert found.attach_flags == expected and found.override == bool(expected) and not found.multi
        assert [p.prog_id for p in found.programs] == [prog_id] and found.programs[0].link_id == 0
        assert [entry["id"] for entry in shown] == [prog_id]
        assert shown[0].get("attach_flags", "") == label


def test_effective_cgroup_programs_include_the_parents_with_their_links(q3, cgroup2):
    child = cgroup2 / "child"
    child.mkdir()
    parent_program, child_program = q3.programs["q3_cgroup"], q3.programs["q3_cgroup_other"]
    parent_link = parent_program.attach_cgroup(cgroup2)
    bpftool_cgroup_attach(child, child_program.info().id, "multi")
    try:
        own = query.cgroup(child, EGRESS)
        effective = query.cgroup(child, EGRESS, effective=True)
        shown = json.loads(subprocess.run(["bpftool", "-j", "cgroup", "show", str(child), "effective"],
                                          capture_output=True, text=True, check=True).stdout)
        parent_link_id = parent_link.info().id
    finally:
        bpftool_cgroup_detach(child, child_program.info().id)
        parent_link.detach()
    assert [p.prog_id for p in own.programs] == [child_program.info().id]
    assert sorted(p.prog_id for p in effective.programs) == sorted(entry["id"] for entry in shown) == sorted(
        [parent_program.info().id, child_program.info().id])
    links = {p.prog_id: p.link_id for p in effective.programs}
    assert links == {parent_program.info().id: parent_link_id, child_program.info().id: 0}


# network namespaces ---------------------------------------------------------------------------

def test_netns_sk_lookup_and_flow_dissector_programs_with_their_links(q3, pair):
    (ns_tx, _), (ns_rx, _) = pair
    here, there = f"/run/netns/{ns_rx}", f"/run/netns/{ns_tx}"
    assert query.netns(here, AttachType.SK_LOOKUP) == query.NetnsQuery(())
    lookups = [q3.programs["q3_sk_lookup"].attach_netns(here), q3.programs["q3_sk_lookup_other"].attach_netns(here)]
    dissector = q3.programs["q3_flow_dissector"]
    links = lookups + [dissector.attach_netns(here)]
    prog_id = dissector.info().id
    tool(ns_tx, "bpftool", "prog", "attach", "id", str(prog_id), "flow_dissector")  # BPF_PROG_ATTACH: no link
    try:
        sk_lookup = query.netns(here, AttachType.SK_LOOKUP)
        flow = query.netns(here, AttachType.FLOW_DISSECTOR)
        other = os.open(there, os.O_RDONLY)
        try:
            by_bpftool = query.netns(other, AttachType.FLOW_DISSECTOR)
        finally:
            os.close(other)
        expected = [(link.info().prog_id, link.info().id) for link in links]
        assert bpftool_flow_dissector(ns_rx) == [prog_id] and bpftool_flow_dissector(ns_tx) == [prog_id]
    finally:
        tool(ns_tx, "bpftool", "prog", "detach", "id", str(prog_id), "flow_dissector")
        for link in links:
            link.detach()
    assert [tuple(p) for p in sk_lookup.programs] == expected[:2]  # in the order they run
    assert [tuple(p) for p in flow.programs] == expected[2:]
    assert by_bpftool.programs == (query.AttachedProgram(prog_id, 0),)
    assert query.netns(here, AttachType.SK_LOOKUP).programs == ()


# arguments ------------------------------------------------------------------------------------

def test_bad_arguments_are_refused_before_the_kernel(cgroup2):
    with pytest.raises(bpf.InvalidValueError):
        query.tc("lo", "sideways")
    with pytest.raises(bpf.InvalidValueError, match="FLOW_DISSECTOR and SK_LOOKUP"):
        query.netns("/proc/self/ns/net", EGRESS)
    with pytest.raises(bpf.InvalidTypeError):
        query.cgroup(cgroup2, "egress")  # type: ignore[arg-type]
    with pytest.raises(bpf.InvalidTypeError):
        query.cgroup(1.5, EGRESS)  # type: ignore[arg-type]
    with pytest.raises(bpf.LibbpfError) as missing:
        query.cgroup(cgroup2 / "nothing", EGRESS)
    assert missing.value.errno == errno.ENOENT
    with pytest.raises(bpf.LibbpfError) as no_device:
        query.xdp("lbpy_no_such_dev")
    assert no_device.value.errno == errno.ENODEV
    with pytest.raises(bpf.InvalidValueError):
        query.xdp(-1)
    with pytest.raises(bpf.LibbpfError) as device:  # opened without blocking, and refused
        query.cgroup(os.devnull, EGRESS)
    assert device.value.errno == errno.EINVAL and "is a character device" in str(device.value)
    with pytest.raises(bpf.LibbpfError) as no_index:
        query.xdp(2**31 - 1)  # no device has it: not "nothing attached"
    assert no_index.value.errno == errno.ENODEV and "ifindex 2147483647" in str(no_index.value)


def test_a_file_of_another_kind_is_named_as_no_cgroup_or_namespace(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("")
    for call, what, number in ((lambda: query.cgroup(plain, EGRESS), "cgroup", errno.EBADF),
                               (lambda: query.netns(plain, AttachType.SK_LOOKUP), "network namespace", errno.EINVAL)):
        with pytest.raises(bpf.LibbpfError) as exc:  # (the kernel's errno for each)
            call()
        assert exc.value.errno == number and f"{plain} is no {what}" in str(exc.value)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(bpf.LibbpfError, match="is a FIFO"):
        query.netns(fifo, AttachType.SK_LOOKUP)
    with pytest.raises(bpf.LibbpfError, match="is no network namespace"):  # another kind of namespace
        query.netns("/proc/self/ns/mnt", AttachType.SK_LOOKUP)
    closed = os.open(plain, os.O_RDONLY)
    os.close(closed)
    with pytest.raises(bpf.LibbpfError) as exc:
        query.netns(closed, AttachType.SK_LOOKUP)
    assert exc.value.errno == errno.EBADF
