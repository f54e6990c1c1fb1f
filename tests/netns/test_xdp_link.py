"""Real packets through an XDP link: a program attached by device name in the receiving
namespace drops one UDP port and counts; detached, the traffic flows again."""

from __future__ import annotations

import errno
import socket

import pytest
from support import inside, needs_pyroute2, netns_pair

import libbpf_py as bpf
from libbpf_py import LinkType

needs_pyroute2(module_level=True)

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
                assert "XDP hook is taken" in str(exc.value)


TC_UDP, TC_UDP_OTHER = 7, 8  # bpf_progs/attach.c's counts


TC_MARK = 0x1EE7  # what tc_count_udp writes into skb->mark
SO_RCVMARK, SO_MARK = 75, 36  # socket(7): deliver each datagram's mark as a SO_MARK message (Linux 5.19)


def send_udp(ns_tx: str, ns_rx: str, count: int) -> list:
    """``count`` datagrams to the port the tc programs count, all received (each arrival says
    the ingress hook has run on it); the skb mark each arrived with."""
    marks = []
    with udp_socket(ns_rx, DROP_PORT) as rx, udp_socket(ns_tx) as tx:
        rx.setsockopt(socket.SOL_SOCKET, SO_RCVMARK, 1)
        for i in range(count):
            tx.sendto(b"%d" % i, (RX, DROP_PORT))
        for _ in range(count):
            _, ancillary, _, _ = rx.recvmsg(64, socket.CMSG_SPACE(4))
            marks.append(next((int.from_bytes(data[:4], "little") for level, kind, data in ancillary
                               if (level, kind) == (socket.SOL_SOCKET, SO_MARK)), 0))
    return marks


@pytest.mark.parametrize("mode", ["cls_bpf", None])
def test_a_tc_attachment_counts_real_packets_and_detaches_only_itself(bpf_obj, pair, mode):
    (ns_tx, _), (ns_rx, dev_rx) = pair
    with bpf.Object.open(bpf_obj("attach")) as obj:
        obj.load()
        counts = obj.maps["counts"]
        counts.key_type = counts.value_type = int
        with inside(ns_rx):
            first = obj.programs["tc_count_udp"].attach_tc(dev_rx, "ingress", mode=mode)
            second = obj.programs["tc_count_udp_other"].attach_tc(dev_rx, "ingress", mode=mode)
        assert first.info().prog_id == obj.programs["tc_count_udp"].info().id
        assert send_udp(ns_tx, ns_rx, 4) == [TC_MARK] * 4  # the first program marks what it counts
        assert (counts[TC_UDP], counts[TC_UDP_OTHER]) == (4, 4)
        first.detach()  # from the root namespace: the attachment knows its device
        assert send_udp(ns_tx, ns_rx, 3) == [0] * 3
        assert (counts[TC_UDP], counts[TC_UDP_OTHER]) == (4, 7)
        second.close()  # nothing pins it: it detaches too
        send_udp(ns_tx, ns_rx, 2)
        assert (counts[TC_UDP], counts[TC_UDP_OTHER]) == (4, 7)


def test_tcx_links_on_every_libbpf(bpf_obj, pair):
    """tcx is made with BPF_LINK_CREATE, which any libbpf 1.x passes through (libbpf's own
    bpf_program__attach_tcx came in 1.3): it needs only the kernel (6.6)."""
    (ns_tx, _), (ns_rx, dev_rx) = pair
    with bpf.Object.open(bpf_obj("attach")) as obj:
        obj.load()
        counts = obj.maps["counts"]
        counts.key_type = counts.value_type = int
        program = obj.programs["tc_count_udp"]
        with inside(ns_rx):
            with pytest.raises(ValueError, match="cls_bpf's"):
                program.attach_tc(dev_rx, mode="tcx", priority=3)
            try:
                link = program.attach_tc(dev_rx, mode="tcx")
            except bpf.LibbpfError as exc:
                pytest.skip(f"this kernel has no tcx: {exc}")
        with link:
            info = link.info()
            assert info.type == LinkType.TCX and info.attach_type == bpf.AttachType.TCX_INGRESS
            send_udp(ns_tx, ns_rx, 3)
            assert counts[TC_UDP] == 3


def ip_link_show(ns: str, dev: str) -> str:
    import re
    import subprocess

    done = subprocess.run(["ip", "-n", ns, "link", "show", "dev", dev], capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    head = re.sub(r"^\d+: \S+", "N: DEV", lines[0])  # the index and names differ
    return "\n".join([head] + [re.sub(r" id \d+", " id N", line) for line in lines[2:]])  # not the MAC


@pytest.mark.parametrize("mode", ["xdpgeneric", None])
def test_iproute2_attach_xdp_leaves_what_ip_link_set_xdp_leaves(bpf_obj, pair, mode):
    """The same program, attached by `ip link set dev X xdp... obj F sec S` on one end and by
    iproute2.attach_xdp on the other: `ip link show` reports both alike; the Link removes ours."""
    import subprocess

    from libbpf_py import iproute2

    (ns_tx, dev_tx), (ns_rx, dev_rx) = pair
    obj_path = bpf_obj("attach")
    # ip (libbpf-based) lays out its pin tree on /sys/fs/bpf: give it a private one there
    command = f"mount -t bpf bpf /sys/fs/bpf && exec nsenter --net=/run/netns/{ns_tx} ip link set dev {dev_tx} " \
              f"{mode or 'xdp'} obj {obj_path} sec xdp"
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", command],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with bpf.Object.open(obj_path) as obj:
        obj.load()
        program = obj.programs["xdp_drop_udp"]
        with inside(ns_rx):
            link = iproute2.attach_xdp(dev_rx, program, mode=mode)
            with pytest.raises(bpf.LibbpfError) as exc:  # ip refuses a second program without -force
                iproute2.attach_xdp(dev_rx, program, mode=mode)
            assert exc.value.errno == errno.EBUSY
        assert ip_link_show(ns_rx, dev_rx) == ip_link_show(ns_tx, dev_tx)
        assert link.info().prog_id == program.info().id
        link.detach()  # from the root namespace
        assert "prog/xdp" not in ip_link_show(ns_rx, dev_rx)


def test_attach_filter_finds_a_free_priority_and_detaches_what_it_added(bpf_obj, pair):
    from libbpf_py import iproute2

    (_, _), (ns_rx, dev_rx) = pair
    with bpf.Object.open(bpf_obj("attach")) as obj:
        obj.load()
        first, second = obj.programs["tc_count_udp"], obj.programs["tc_count_udp_other"]
        with inside(ns_rx):
            at_one = iproute2.attach_filter(dev_rx, "ingress", first, object_name="attach.o", section="tc",
                                            priority=1)
            chosen = iproute2.attach_filter(dev_rx, "ingress", second, object_name="attach.o", section="tc")
        assert at_one.tc_priority == 1 and 1 < chosen.tc_priority <= 0xC000
        assert "netlink" in repr(chosen)
        assert chosen.info().prog_id == second.info().id
        chosen.detach()
        assert at_one.info().prog_id == first.info().id and chosen.closed
        at_one.detach()


SK_LOOKUP = 10  # bpf_progs/attach.c's counts


def test_an_sk_lookup_program_on_a_namespace_sees_its_connections(bpf_obj, pair):
    """attach_netns on a namespace by its /run/netns path: each datagram delivered there is
    looked up through the program; the Link reports the namespace and detaches from any other."""
    import os

    (ns_tx, _), (ns_rx, _) = pair
    with bpf.Object.open(bpf_obj("attach")) as obj:
        obj.load()
        counts = obj.maps["counts"]
        counts.key_type = counts.value_type = int
        with obj.programs["count_sk_lookup"].attach_netns(f"/run/netns/{ns_rx}") as link:
            info = link.info()
            assert info.type == LinkType.NETNS and info.attach_type == bpf.AttachType.SK_LOOKUP
            assert info.netns_ino == os.stat(f"/run/netns/{ns_rx}").st_ino
            with udp_socket(ns_rx, OPEN_PORT) as rx, udp_socket(ns_tx) as tx:
                for i in range(3):
                    tx.sendto(b"%d" % i, (RX, OPEN_PORT))
                    rx.recv(16)
            assert counts[SK_LOOKUP] == 3
        with udp_socket(ns_rx, OPEN_PORT) as rx, udp_socket(ns_tx) as tx:  # detached: not looked up through it
            tx.sendto(b"x", (RX, OPEN_PORT))
            rx.recv(16)
        assert counts[SK_LOOKUP] == 3


def test_a_legacy_classifier_attached_as_tc_does_counts_and_marks_real_packets(bpf_obj, pair, new_bpffs):
    """iproute2/global_ns.o loaded by the shim (its maps pinned under tc/globals) and attached with
    iproute2.attach_filter: the datagrams arrive marked by it and counted in its pinned maps; once
    the Link is detached they arrive unmarked."""
    from libbpf_py import iproute2

    (ns_tx, _), (ns_rx, dev_rx) = pair
    mnt = new_bpffs()
    with iproute2.open(bpf_obj("iproute2/global_ns"), mnt=str(mnt)) as obj:
        obj.load()
        with inside(ns_rx):
            link = iproute2.attach_filter(dev_rx, "ingress", obj.programs["cls_main"],
                                          object_name=str(bpf_obj("iproute2/global_ns")), section="classifier")
        with link:
            assert send_udp(ns_tx, ns_rx, 6) == [TC_MARK] * 6
        assert send_udp(ns_tx, ns_rx, 2) == [0] * 2
    with bpf.Map.from_pinned(mnt / "tc" / "globals" / "seen_len") as seen:
        seen.key_type = seen.value_type = int
        udp_frame = 14 + 20 + 8 + 1  # each datagram carries one digit
        assert seen[udp_frame] == 6
