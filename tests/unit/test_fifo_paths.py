"""A path that names a FIFO (or a device) where a file is wanted: refused at once with what it
is, never a call that blocks for ever opening it (libbpf, clang, or the binding itself)."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path
from typing import Iterator

import pytest

import libbpf_py as bpf


@pytest.fixture
def fifo(tmp_path) -> Iterator[Path]:
    """A FIFO no one writes, and an alarm that fails the test (rather than hanging the run) if a call blocks on it."""
    path = tmp_path / "fifo"
    os.mkfifo(path)

    def blocked(signum, frame):
        raise AssertionError("blocked on the FIFO")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(20)
    try:
        yield path
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def refused(call, what: str = "a FIFO") -> bpf.LibbpfError:
    with pytest.raises(bpf.LibbpfError) as exc:
        call()
    assert exc.value.errno == errno.EINVAL and f"is {what}, not a" in str(exc.value), exc.value
    return exc.value


def test_an_object_path(fifo):
    refused(lambda: bpf.Object.open(fifo))
    refused(lambda: bpf.Object.open(fifo, compat="none", check_btf=False))  # (libbpf opens that one itself)
    refused(lambda: bpf.Object.open("/dev/null"), "a character device")
    with pytest.raises(bpf.LibbpfError) as exc:
        bpf.Object.open(fifo.parent)
    assert exc.value.errno == errno.EISDIR


def test_a_btf_file_and_a_header(fifo):
    refused(lambda: bpf.Btf.from_file(fifo))
    refused(lambda: bpf.Btf.from_header(fifo))


def test_the_linkers_output(fifo, bpf_obj):
    refused(lambda: bpf.link_objects([bpf_obj("link_main"), bpf_obj("link_helper")], output=fifo))
