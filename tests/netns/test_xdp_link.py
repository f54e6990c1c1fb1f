"""Real packets through an XDP link: a program attached by device name in the receiving
namespace drops one UDP port and counts; detached, the traffic flows again."""

from __future__ import annotations

import errno
import socket

import pytest
from support import inside, netns_pair

import libbpf_py as bpf
from libbpf_py import LinkType

pytest.importorskip("pyroute2", reason="pyroute2 is needed for netlink (pip install libbpf-py[netlink])")

XDP_DROPPED, XDP_PASSED = 0, 1  # bpf_progs/attach.c's counts
DROP_PORT, OPEN_PORT = 4242, 4243
TX, RX = "10.99.0.1", "10.99.0.2"


@pytest.fixture
def pair():
    with netns_pair((f"{TX}/24", f"{RX}/24")) as namespaces:
        yield namespaces


def udp_socket(ns: str, port: int = 0) -> socket.socket:
    with inside(ns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if port:
        sock.bind((RX, port))
    sock.settimeout(30)  # bounds a failure, not a wait: each recv returns as its datagram arrives
    return sock


def exchange(ns_tx: str, ns_rx: str, count: int) -> tuple:
    """Send ``count`` datagrams to the dropped port, then ``count`` to the open one; return what
    each port received (the open port's arrivals say every earlier datagram was seen)."""
    with udp_socket(ns_rx, DROP_PORT) as dropped, udp_socket(ns_rx, OPEN_PORT) as open_, udp_socket(ns_tx) as tx:
        for port in (DROP_PORT, OPEN_PORT):
            for i in range(count):
                tx.sendto(f"{port}:{i}".encode(), (RX, port))
        arrived = [open_.recv(64) for _ in range(count)]
        dropped.setblocking(False)
        through = []
        try:
            while True:
                through.append(dropped.recv(64))
        except BlockingIOError:
            pass
    return through, arrived


def test_an_xdp_link_drops_real_packets_until_detached(bpf_obj, pair):
    (ns_tx, _), (ns_rx, dev_rx) = pair
    with bpf.Object.open(bpf_obj("attach")) as obj:
        obj.load()
        counts = obj.maps["counts"]
        counts.key_type = counts.value_type = int
        with inside(ns_rx):  # a device name is looked up in the caller's namespace
            link = obj.programs["xdp_drop_udp"].attach_xdp(dev_rx)
            ifindex = socket.if_nametoindex(dev_rx)
        info = link.info()
        assert info.type == LinkType.XDP and info.ifindex == ifindex
        through, arrived = exchange(ns_tx, ns_rx, 5)
        assert through == [] and len(arrived) == 5
        assert counts[XDP_DROPPED] == 5 and counts[XDP_PASSED] >= 5
        link.detach()  # from this namespace: the link knows its device
        through, arrived = exchange(ns_tx, ns_rx, 5)
        assert len(through) == 5 and len(arrived) == 5
        assert counts[XDP_DROPPED] == 5


def test_xdp_modes_and_a_second_link_on_the_same_device(bpf_obj, pair):
    (_, _), (ns_rx, dev_rx) = pair
    with bpf.Object.open(bpf_obj("attach")) as obj:
        obj.load()
        program = obj.programs["xdp_drop_udp"]
        with inside(ns_rx):
            with program.attach_xdp(dev_rx, mode="skb") as link:
                assert link.info().type == LinkType.XDP
                with pytest.raises(bpf.LibbpfError) as exc:
                    program.attach_xdp(dev_rx, mode="skb")
                assert exc.value.errno in (errno.EBUSY, errno.EEXIST)
                assert "holds the device" in str(exc.value) or "attached there" in str(exc.value)
