"""Signals deferred across sections: a signal that arrives while a finalizer's section releases
something waits until the release is done, then its handler runs (once)."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import signal, weakref
from libbpf_py import _signals

class Handle:
    pass

seen = []
signal.signal(signal.SIGUSR1, lambda signum, frame: seen.append("handler"))

def finalizer():
    with _signals.deferred(in_finalizer=True):
        signal.raise_signal(signal.SIGUSR1)  # arrives while the finalizer releases something
        signal.raise_signal(signal.SIGUSR1)  # twice: its handler runs once
        seen.append("released")

handle = Handle()
weakref.finalize(handle, finalizer)
del handle  # the last reference: the finalizer runs here
print(seen, signal.getsignal(signal.SIGUSR1) is not None)
"""


def test_a_signal_inside_a_finalizers_section_runs_its_handler_once_after_the_release():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['released', 'handler'] True", done.stdout + done.stderr


INSTALL_INTERRUPTED = r"""
import signal
from libbpf_py import _signals

def mine(signum, frame):
    pass

for name in ("SIGTERM", "SIGHUP", "SIGUSR1"):
    signal.signal(getattr(signal, name), mine)

calls = [0]
real_set = _signals.set_handler

def set_handler(signum, handler):  # Ctrl-C arrives while the section swaps its handlers in
    calls[0] += 1
    if calls[0] == 3:
        raise KeyboardInterrupt
    return real_set(signum, handler)

_signals.set_handler = set_handler
try:
    with _signals.deferred():
        pass
except KeyboardInterrupt:
    pass
_signals.set_handler = real_set
print(sorted(name for name in ("SIGTERM", "SIGHUP", "SIGUSR1") if signal.getsignal(getattr(signal, name)) is not mine))
"""


def test_a_section_interrupted_while_it_installs_puts_every_handler_back():
    done = subprocess.run([sys.executable, "-c", INSTALL_INTERRUPTED], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
