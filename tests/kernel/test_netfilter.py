"""Netfilter: bpf_progs/vmlinux/p2_netfilter.c, attached to IPv4 input in one of two network
namespaces joined by a veth pair, drops the UDP datagrams sent to port 4242 from the other: they
are lost while the link lives and arrive again after detach(); other ports pass all along."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from typing import Optional

import pytest
from support import inside, netns_pair

import libbpf_py as bpf
from libbpf_py.links import NetfilterHook

DROP_PORT, OTHER_PORT = 4242, 4243
NFPROTO_IPV4, NF_INET_LOCAL_IN = 2, 1


@pytest.fixture
def nf_obj(bpf_obj):
    with bpf.Object.open(bpf_obj("vmlinux/p2_netfilter")) as obj:
        program = obj.programs["p2_nf_drop_udp"]
        if bpf.libbpf_version() < (1, 3):  # libbpf < 1.3 knows no SEC("netfilter"): say what it is
            program.type, program.expected_attach_type = bpf.ProgType.NETFILTER, bpf.AttachType.NETFILTER
        try:
            obj.load()
        except bpf.LibbpfError as exc:
            pytest.skip(f"this kernel refuses a netfilter program (Linux >= 6.4 has them): {exc}")
        verdicts = obj.maps["verdicts"]
        verdicts.key_type = verdicts.value_type = int
        yield obj


@pytest.fixture
def pair():
    with netns_pair(("10.99.7.1/24", "10.99.7.2/24")) as ((ns_tx, _), (ns_rx, _)):
        with inside(ns_rx):
            receivers = {}
            for port in (DROP_PORT, OTHER_PORT):
                receivers[port] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                receivers[port].bind(("10.99.7.2", port))
        with inside(ns_tx):
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            yield ns_tx, ns_rx, sender, receivers
        finally:
            sender.close()
            for receiver in receivers.values():
                receiver.close()


def delivered(sender: socket.socket, receiver: socket.socket, port: int, payload: bytes,
              wait: float = 0.3) -> Optional[bytes]:
    """``payload`` if it arrived within ``wait`` seconds, else None (a late warm-up datagram is skipped)."""
    sender.sendto(payload, ("10.99.7.2", port))
    receiver.settimeout(wait)
    try:
        while True:
            got = receiver.recv(64)
            if got == payload:
                return got
    except socket.timeout:
        return None


def warm_up(sender: socket.socket, receiver: socket.socket, port: int) -> None:
    """Until one datagram arrives: the link comes up and ARP resolves (the first ones may be lost)."""
    for _ in range(20):
        if delivered(sender, receiver, port, b"warm-up", wait=0.5) == b"warm-up":
            return
    pytest.fail("no datagram crossed the veth pair before the program was attached")


def test_a_netfilter_link_drops_while_it_lives(nf_obj, pair):
    _, ns_rx, sender, receivers = pair
    program = nf_obj.programs["p2_nf_drop_udp"]
    if bpf.libbpf_version() < (1, 3):
        with inside(ns_rx), pytest.raises(bpf.LibbpfFeatureError, match="1.3"):
            program.attach_netfilter("ipv4", "input", -100)
        return
    warm_up(sender, receivers[DROP_PORT], DROP_PORT)
    with inside(ns_rx):  # a netfilter link hooks the caller's network namespace
        link = program.attach_netfilter("ipv4", "input", -100)
    try:
        info = link.info()
        assert info.type == bpf.LinkType.NETFILTER and info.prog_id == program.info().id
        assert info.netfilter == NetfilterHook(NFPROTO_IPV4, NF_INET_LOCAL_IN, -100, 0)
        if shutil.which("bpftool"):
            shown = json.loads(subprocess.run(["bpftool", "-j", "link", "show", "id", str(info.id)],
                                              capture_output=True, text=True, check=True).stdout)
            assert shown["prog_id"] == info.prog_id and shown["type"] in (bpf.LinkType.NETFILTER, "netfilter")
            assert shown.get("pf", NFPROTO_IPV4) == NFPROTO_IPV4  # (bpftool >= 7.3 names the hook too)
        for n in range(3):
            assert delivered(sender, receivers[DROP_PORT], DROP_PORT, b"drop%d" % n) is None
        assert delivered(sender, receivers[OTHER_PORT], OTHER_PORT, b"other", wait=5) == b"other"
    finally:
        link.detach()
    assert delivered(sender, receivers[DROP_PORT], DROP_PORT, b"after", wait=5) == b"after"
    assert dict(nf_obj.maps["verdicts"].items()) == {0: 3, 1: 1}  # dropped, passed


def test_netfilter_arguments_are_checked_before_c(nf_obj):
    program = nf_obj.programs["p2_nf_drop_udp"]
    for args in (("ipv5", "input", 0), ("ipv4", "inbound", 0), ("ipv4", "input", 1 << 31), (-1, 1, 0),
                 ("ipv4", "input", True)):
        with pytest.raises(ValueError):
            program.attach_netfilter(*args)
