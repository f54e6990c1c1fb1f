"""Real packets: a legacy classifier loaded through the shim, attached with pyroute2 as a cls_bpf
direct-action filter on a veth, counts frames sent from another network namespace."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess

import pytest
from support import in_namespace, inside, needs_pyroute2, netns_pair

import libbpf_py as bpf

pyroute2 = needs_pyroute2(module_level=True)

TC_H_INGRESS_PARENT = "ffff:fff2"  # clsact's ingress hook
FRAME_LEN = 60


@pytest.fixture
def veth_pair():
    """Two namespaces joined by a veth pair, deleted by name afterwards."""
    with netns_pair() as pair:
        yield pair


ETHERTYPE = 0x88B5  # IEEE "local experimental": nothing else in the namespaces sends it


def receiver(ns: str, dev: str) -> socket.socket:
    """A packet socket for our ethertype on ``dev``: the kernel hands it each frame only after
    tc's ingress hook ran on it (type-specific taps come after sch_handle_ingress), so receiving
    a frame is the event that says the classifier has seen it."""
    with inside(ns):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
        sock.bind((dev, ETHERTYPE))
    sock.settimeout(30)  # bounds a failure, not a wait: each recv returns as its frame arrives
    return sock


def send_frames(ns: str, dev: str, count: int) -> None:
    frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + ETHERTYPE.to_bytes(2, "big") + bytes(FRAME_LEN - 14)
    with inside(ns), socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((dev, 0))
        for _ in range(count):
            sock.send(frame)


def bpftool_dump(path) -> dict:
    done = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", str(path)], capture_output=True, text=True,
                          check=True)
    return {int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little"):
            int.from_bytes(bytes(int(b, 16) for b in e["value"]), "little") for e in json.loads(done.stdout)}


@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed")
def test_legacy_classifier_counts_real_packets(bpf_obj, bpffs, monkeypatch, veth_pair):
    monkeypatch.setenv("TC_BPF_MNT", str(bpffs))
    (ns_tx, dev_tx), (ns_rx, dev_rx) = veth_pair
    with bpf.Object.open(bpf_obj("iproute2/global_ns")) as obj:
        obj.load()
        prog = obj.programs["cls_main"]

        def attach(ipr):
            index = ipr.link_lookup(ifname=dev_rx)[0]
            ipr.tc("add", "clsact", index)
            ipr.tc("add-filter", "bpf", index, ":1", fd=prog.fd, name="cls_main", parent=TC_H_INGRESS_PARENT,
                   classid=1, direct_action=True)
            return [f.get_attr("TCA_KIND") for f in ipr.get_filters(index=index, parent=TC_H_INGRESS_PARENT)]

        assert "bpf" in in_namespace(ns_rx, attach)
    # the object is closed: the filter keeps the program, the pins keep the maps
    with receiver(ns_rx, dev_rx) as sock:
        send_frames(ns_tx, dev_tx, 25)
        received = [len(sock.recv(2048)) for _ in range(25)]
    assert received == [FRAME_LEN] * 25
    stats = bpffs / "tc" / "globals" / "stats_global"
    assert bpftool_dump(stats) == {0: 25, 1: 25 * FRAME_LEN}
    assert bpftool_dump(bpffs / "tc" / "globals" / "seen_len") == {FRAME_LEN: 25}
