"""Signals deferred across sections: a signal that arrives inside a finalizer's section reaches
the code the collection interrupted (an exception raised in the finalizer itself is lost)."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import signal, time, weakref
from libbpf_py import _signals

class Handle:
    pass

done = []

def finalizer():
    with _signals.deferred(in_finalizer=True):
        signal.raise_signal(signal.SIGINT)  # Ctrl-C while the finalizer releases something
        done.append("released")

handle = Handle()
weakref.finalize(handle, finalizer)
try:
    del handle  # collected here: the finalizer runs in this frame
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pass
    print("lost", done)
except KeyboardInterrupt:
    print("raised", done)
"""


def test_a_signal_inside_a_finalizer_reaches_the_interrupted_code_after_the_finalizer_finished():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "raised ['released']", done.stdout + done.stderr
    assert "Exception ignored" not in done.stderr
