"""Sockmaps: bpf_progs/p2_sockmap.c's sk_msg program, attached to a sockmap holding one end of a
TCP connection over loopback, counts that end's messages while attached and not after detach;
libbpf >= 1.5 makes a kernel link, older ones BPF_PROG_ATTACH (bpftool sees the difference)."""

from __future__ import annotations

import errno
import json
import shutil
import socket
import subprocess
from typing import Iterator, Tuple

import pytest

import libbpf_py as bpf
from libbpf_py.links import ProgAttachment


@pytest.fixture
def sock_obj(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_sockmap")) as obj:
        obj.load()
        for m in obj.maps.values():
            m.key_type = m.value_type = int
        yield obj


@pytest.fixture
def connection() -> Iterator[Tuple[socket.socket, socket.socket]]:
    """A TCP connection over loopback: (client, server side)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with client, server:
        yield client, server


def exchange(client: socket.socket, server: socket.socket, messages: int) -> None:
    for n in range(messages):
        payload = b"message %d" % n
        client.sendall(payload)
        got = b""
        while len(got) < len(payload):
            got += server.recv(64)
        assert got == payload  # SK_PASS: delivered as sent


def attached_to_map(program, sockmap) -> bool:
    """Whether bpftool sees ``program`` attached to ``sockmap`` (a sockmap link, or
    BPF_PROG_ATTACH's attachment that `bpftool prog show` cannot show: then by the link list)."""
    prog_id = program.info().id
    links = json.loads(subprocess.run(["bpftool", "-j", "link"], capture_output=True, text=True,
                                      check=True).stdout or "[]")
    return any(entry.get("prog_id") == prog_id for entry in links)


def test_an_sk_msg_program_counts_while_attached(sock_obj, connection):
    client, server = connection
    program, sockmap = sock_obj.programs["p2_msg_count"], sock_obj.maps["socks"]
    link = program.attach_sockmap(sockmap)
    sockmap[0] = client.fileno()  # (a socket takes the map's programs when it is added)
    try:
        exchange(client, server, 3)
        if bpf.libbpf_version() >= (1, 5):
            info = link.info()
            assert info.type == bpf.LinkType.SOCKMAP and info.prog_id == program.info().id
            if shutil.which("bpftool"):
                assert attached_to_map(program, sockmap)
        else:
            assert isinstance(link, ProgAttachment)
            assert link.info().attach_type == bpf.AttachType.SK_MSG_VERDICT
    finally:
        link.detach()
    assert sock_obj.maps["msg_counts"][0] == 3
    assert sock_obj.maps["msg_counts"][1] == sum(len(b"message %d" % n) for n in range(3))
    del sockmap[0]  # a socket keeps the programs it took when added (detach or not), until removed
    sockmap[0] = client.fileno()
    exchange(client, server, 2)
    assert sock_obj.maps["msg_counts"][0] == 3
    link.detach()  # twice is harmless


def test_bpf_prog_attach_works_on_every_libbpf(sock_obj, connection):
    """Through BPF_PROG_ATTACH (what libbpf < 1.5 offers): a Link without fd that detaches."""
    client, server = connection
    program, sockmap = sock_obj.programs["p2_msg_count"], sock_obj.maps["socks"]
    with program.attach_sockmap(sockmap.fd, attach_type=bpf.AttachType.SK_MSG_VERDICT) as link:
        sockmap[0] = client.fileno()
        assert isinstance(link, ProgAttachment)
        with pytest.raises(bpf.LibbpfError) as exc:
            link.fd
        assert exc.value.errno == errno.EOPNOTSUPP
        exchange(client, server, 2)
    del sockmap[0]
    sockmap[0] = client.fileno()  # added again: the map has no program any more
    exchange(client, server, 2)
    assert sock_obj.maps["msg_counts"][0] == 2


def test_sockmap_arguments_are_checked(sock_obj, bpffs):
    program = sock_obj.programs["p2_msg_count"]
    with pytest.raises(TypeError):
        program.attach_sockmap("socks")
    with pytest.raises(ValueError):
        program.attach_sockmap(-1)
    program.pin(bpffs / "prog")
    with bpf.Program.from_pinned(bpffs / "prog") as pinned, pytest.raises(ValueError, match="attach_type"):
        pinned.attach_sockmap(sock_obj.maps["socks"])
