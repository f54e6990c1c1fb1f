"""The corpus cases that only the kernel refuses (tests/data/bad), and every case opened with
the defaults of the loaded libbpf in a child process: none may crash it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import BAD, BAD_EXPECTED, check_bad_object


@pytest.mark.parametrize("name", sorted(n for n, c in BAD_EXPECTED.items() if c["entry"] == "load"))
def test_malformed_object_at_load(name):
    check_bad_object(name)


CHILD = r"""
import sys, libbpf_py as bpf
data = open(sys.argv[1], "rb").read()
try:
    with bpf.Object.open(data, pinning=bpf.PinPolicy()) as obj:
        obj.load()
except (OSError, ValueError, TypeError):
    pass
"""


@pytest.mark.parametrize("name", sorted(BAD_EXPECTED))
def test_no_malformed_object_crashes_the_process(name):
    done = subprocess.run([sys.executable, "-c", CHILD, str(BAD / f"{name}.o")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
