"""struct_ops through Map.attach_struct_ops(): a TCP congestion control written in BPF
(bpf_progs/vmlinux/q3_cc.c) is selectable by name while its Link lives, runs for a real TCP
connection inside a network namespace of the test's own, and is gone after detach.

`SEC(".struct_ops")` registers through the map (no kernel link); `SEC(".struct_ops.link")`
(libbpf >= 1.2) through a kernel link that outlives the object."""

from __future__ import annotations

import errno
import gc
import json
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Iterator, List

import pytest
from support import inside, needs_pyroute2

import libbpf_py as bpf
from libbpf_py import LinkType

CC, CC_LINK = b"lbpy_q3cc", b"lbpy_q3ccl"  # the algorithms' names in q3_cc.c and q3_cc_link.c
AVAILABLE = "/proc/sys/net/ipv4/tcp_available_congestion_control"
TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)
PAYLOAD = 1 << 20


def built(name: str) -> Path:
    path = Path(__file__).resolve().parents[2] / "bpf_progs" / "build" / "vmlinux" / f"{name}.o"
    if not path.exists():
        pytest.skip(f"{path} is not built (make -C bpf_progs; it needs /sys/kernel/btf/vmlinux and bpftool)")
    return path


def link_maps_supported() -> bool:
    return bpf.libbpf().version >= (1, 2)  # libbpf 1.2 knows SEC(".struct_ops.link")


@pytest.fixture
def netns() -> Iterator[str]:
    """A network namespace of the test's own with its loopback up, deleted by name afterwards."""
    needs_pyroute2()
    from pyroute2 import IPRoute
    from pyroute2 import netns as pyroute2_netns

    name = f"lbpy_q3cc_{os.getpid()}"
    pyroute2_netns.create(name)
    try:
        with inside(name), IPRoute() as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        yield name
    finally:
        pyroute2_netns.remove(name)


@pytest.fixture(autouse=True)
def nothing_left_registered() -> Iterator[None]:
    """A `.struct_ops` registration outlives the process that made it: one a failing test left is
    unregistered here (by its map's name, which only these tests use), and the test fails."""
    yield
    left = [entry for entry in bpftool_struct_ops() if entry.get("name") in ("q3_cc", "q3_cc_link")
            and entry.get("kernel_struct_ops") == "tcp_congestion_ops"]
    names = set(available())
    if not names & {CC.decode(), CC_LINK.decode()}:
        return
    for entry in left:
        subprocess.run(["bpftool", "struct_ops", "unregister", "id", str(entry["id"])], capture_output=True)
    pytest.fail(f"the test left {sorted(names & {CC.decode(), CC_LINK.decode()})} registered", pytrace=False)


@pytest.fixture
def cc_obj() -> Iterator[bpf.Object]:
    with bpf.Object.open(built("q3_cc")) as obj:
        obj.load()
        yield obj


def available(ns: str = "") -> List[str]:
    """The kernel's registered congestion controls, read from inside ``ns`` when given."""
    if not ns:
        with open(AVAILABLE) as listing:
            return listing.read().split()
    done = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "cat", AVAILABLE], capture_output=True,
                          text=True, check=True)
    return done.stdout.split()


def select(ns: str, name: bytes) -> bytes:
    """Make a TCP socket in ``ns``, select ``name`` on it, and return what the kernel reports it uses."""
    with inside(ns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, name)
        return sock.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0")


def transfer(ns: str, name: bytes) -> bytes:
    """Send PAYLOAD bytes over a real TCP connection on ``ns``'s loopback, the sender using the
    algorithm ``name``; returns the algorithm the connected socket reports."""
    with inside(ns):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    received = []
    with server, client:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(30)  # bounds a failure only

        def receive() -> None:
            peer, _ = server.accept()
            with peer:
                peer.settimeout(30)
                total = 0
                while total < PAYLOAD:
                    chunk = peer.recv(1 << 16)
                    if not chunk:
                        break
                    total += len(chunk)
                received.append(total)

        reader = threading.Thread(target=receive)
        reader.start()
        try:
            client.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, name)
            client.settimeout(30)
            client.connect(server.getsockname())
            used = client.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0")
            client.sendall(b"x" * PAYLOAD)
            client.shutdown(socket.SHUT_WR)
        finally:
            reader.join(60)
    assert received == [PAYLOAD]
    return used


def bpftool_struct_ops() -> List[dict]:
    done = subprocess.run(["bpftool", "-j", "struct_ops", "show"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"bpftool struct_ops show failed: {done.stderr.strip()}")
    return json.loads(done.stdout or "[]")


def assert_unselectable(ns: str, name: bytes) -> None:
    with pytest.raises(OSError) as exc:
        select(ns, name)
    assert exc.value.errno == errno.ENOENT


def test_a_bpf_congestion_control_runs_for_a_real_connection_while_its_link_lives(cc_obj, netns):
    ops = cc_obj.maps["q3_cc"]
    assert ops.type == bpf.MapType.STRUCT_OPS
    assert CC.decode() not in available()
    assert_unselectable(netns, CC)
    link = ops.attach_struct_ops()
    try:
        assert isinstance(link, bpf.Link)
        assert CC.decode() in available() and CC.decode() in available(netns)  # one list for every namespace
        assert ops.info().id in {entry["id"] for entry in bpftool_struct_ops()
                                 if entry.get("kernel_struct_ops") == "tcp_congestion_ops"}
        assert select(netns, CC) == CC
        assert cc_obj.globals["q3_inits"] == 0
        assert transfer(netns, CC) == CC
        assert cc_obj.globals["q3_inits"] >= 1  # the client's connection started with it
        assert cc_obj.globals["q3_acked"] > 0   # and its ACKs ran through it
    finally:
        link.detach()
    assert CC.decode() not in available()
    assert_unselectable(netns, CC)
    link.detach()  # twice: nothing more to do
    assert link.closed


def test_a_map_registration_has_no_kernel_link_and_ends_with_its_object(netns):
    obj = bpf.Object.open(built("q3_cc"))
    try:
        obj.load()
        ops = obj.maps["q3_cc"]
        map_id = ops.info().id
        link = ops.attach_struct_ops()
        with pytest.raises(bpf.LibbpfError) as busy:
            ops.attach_struct_ops()  # registered already
        assert busy.value.errno == errno.EBUSY
        with pytest.raises(bpf.LibbpfError) as no_link:
            link.info()
        assert no_link.value.errno == errno.EOPNOTSUPP and "struct_ops.link" in str(no_link.value)
        with pytest.raises(bpf.LibbpfError) as no_pin:
            link.pin("/sys/fs/bpf/never_made")
        assert no_pin.value.errno == errno.EOPNOTSUPP
        assert select(netns, CC) == CC
    finally:
        obj.close()  # the registration passes the object's map fd: it ends first
    assert link.closed
    assert CC.decode() not in available()
    assert_unselectable(netns, CC)
    assert map_id not in {entry["id"] for entry in bpftool_struct_ops()}
    link.detach()  # after the object closed: nothing left to do, and no stale fd passed
    link.close()


def test_a_map_registration_keeps_the_map_open_while_the_link_lives(netns):
    obj = bpf.Object.open(built("q3_cc"))
    obj.load()
    link = obj.maps["q3_cc"].attach_struct_ops()
    del obj  # dropped without close(): the Link keeps what it registered through
    gc.collect()
    assert select(netns, CC) == CC
    link.detach()
    assert_unselectable(netns, CC)


def test_what_cannot_register_is_refused_before_libbpf(cc_obj):
    with pytest.raises(bpf.InvalidTypeError, match="not STRUCT_OPS"):
        cc_obj.maps["q3_cc.bss"].attach_struct_ops()
    with bpf.Map.from_id(cc_obj.maps["q3_cc"].info().id) as standalone:
        with pytest.raises(bpf.InvalidTypeError, match="from its Object"):
            standalone.attach_struct_ops()
    with bpf.Object.open(built("q3_cc")) as unloaded:
        with pytest.raises(bpf.Error):
            unloaded.maps["q3_cc"].attach_struct_ops()
    closed = cc_obj.maps["q3_cc"]
    cc_obj.close()
    with pytest.raises(bpf.ClosedError):
        closed.attach_struct_ops()


def test_a_struct_ops_link_map_registers_through_a_kernel_link_that_outlives_its_object(netns, bpffs):
    path = built("q3_cc_link")
    if not link_maps_supported():
        # libbpf < 1.2 does not know the section: no map comes of it, and its programs cannot load
        with bpf.Object.open(path) as obj:
            assert "q3_cc_link" not in obj.maps
            with pytest.raises(bpf.LibbpfError):
                obj.load()
        pytest.skip(f"libbpf {bpf.libbpf().version_string} has no SEC(\".struct_ops.link\") (1.2 has)")
    with bpf.Object.open(path) as obj:
        obj.load()
        ops = obj.maps["q3_cc_link"]
        assert ops.flags & bpf.MapFlags.LINK  # libbpf marks the map BPF_F_LINK
        link = ops.attach_struct_ops()
        info = link.info()
        assert info.type == LinkType.STRUCT_OPS and info.id > 0
        with bpf.Link.from_id(info.id) as same:  # a handle of its own: closing it leaves the registration
            assert same.info().type == LinkType.STRUCT_OPS
        link.pin(bpffs / "cc")
        assert transfer(netns, CC_LINK) == CC_LINK
        assert obj.globals["q3_inits"] >= 1 and obj.globals["q3_acked"] > 0
    assert not link.closed and select(netns, CC_LINK) == CC_LINK  # the link outlives the object
    assert info.id in bpf.Link.ids()
    link.detach()  # removes the pin it made, and ends the registration
    assert not (bpffs / "cc").exists()
    assert CC_LINK.decode() not in available()
    assert_unselectable(netns, CC_LINK)
    link.detach()


def test_a_pinned_struct_ops_link_keeps_the_algorithm_after_its_handle_closes(netns, bpffs):
    if not link_maps_supported():
        pytest.skip(f"libbpf {bpf.libbpf().version_string} has no SEC(\".struct_ops.link\") (1.2 has)")
    with bpf.Object.open(built("q3_cc_link")) as obj:
        obj.load()
        link = obj.maps["q3_cc_link"].attach_struct_ops()
        link.pin(bpffs / "cc")
        link.close()
    assert select(netns, CC_LINK) == CC_LINK
    again = bpf.Link.from_pinned(bpffs / "cc")
    assert again.info().type == LinkType.STRUCT_OPS
    again.detach()
    assert_unselectable(netns, CC_LINK)


def test_a_detach_after_the_object_closed_never_reaches_a_map_that_reuses_the_fd(netns):
    obj = bpf.Object.open(built("q3_cc"))
    obj.load()
    link = obj.maps["q3_cc"].attach_struct_ops()
    number = link.fd  # the object's map fd: libbpf's link passes it
    obj.close()
    with bpf.Map.create(bpf.MapType.HASH, 4, 4, 4) as other:  # the lowest free number: likely the same one
        other[b"\0\0\0\0"] = b"keep"
        link.detach()
        link.close()
        assert other[b"\0\0\0\0"] == b"keep", f"fd {number} reused by {other.fd}: its key 0 was deleted"
    assert_unselectable(netns, CC)


def test_closing_the_object_and_detaching_from_two_threads_unregisters_once(netns):
    for _ in range(5):
        obj = bpf.Object.open(built("q3_cc"))
        obj.load()
        link = obj.maps["q3_cc"].attach_struct_ops()
        errors: List[BaseException] = []

        def run(action, errors: List[BaseException] = errors) -> None:
            try:
                action()
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(action,)) for action in (obj.close, link.detach)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == [] and link.closed
        assert_unselectable(netns, CC)
