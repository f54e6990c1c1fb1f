"""_signals.stopping_on, which the libbpf-py command runs under: SIGTERM and SIGHUP raise
Stopped once where the process stands (a repeat, as timeout(1) sends to the child and then to
its group, does not cut the undoing short), a signal inherited as ignored stays ignored, and
the previous handlers come back."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import os, signal, sys
from libbpf_py import _signals

if sys.argv[1] == "nohup":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
seen = []
try:
    with _signals.stopping_on() as received:
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            os.kill(os.getpid(), signal.SIGTERM)
            seen.append("not stopped")
        except _signals.Stopped as exc:
            seen.append(f"stopped by {exc.signum}")
            os.kill(os.getpid(), signal.SIGTERM)   # a repeat while undoing
            seen.append("undone")
        seen.append(list(received))
except KeyboardInterrupt:
    seen.append("raised again")
seen.append(all(signal.getsignal(s) == handler for s, handler in before.items()))
print(seen)
"""


def run(mode: str) -> str:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_first_stop_signal_raises_once_and_the_handlers_come_back():
    assert run("plain") == "['stopped by 1', 'undone', [1, 15], True]"


def test_a_signal_inherited_as_ignored_stays_ignored():
    assert run("nohup") == "['stopped by 15', 'undone', [15, 15], True]"


INTERRUPT_THEN_KILL = r"""
import os, signal
from libbpf_py import _signals

seen = []
with _signals.stopping_on() as received:
    try:
        os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C
        seen.append("not interrupted")
    except _signals.Stopped:
        seen.append("stopped")
    except KeyboardInterrupt:
        seen.append("interrupted")
        os.kill(os.getpid(), signal.SIGTERM)  # then a kill, while undoing: no second exception
        seen.append("undone")
    seen.append(list(received))
seen.append(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
print(seen)
"""


def test_ctrl_c_then_sigterm_keeps_the_first_signal_as_the_reason():
    """The exit status is the first signal's: Ctrl-C (130), also when a SIGTERM follows it."""
    done = subprocess.run([sys.executable, "-c", INTERRUPT_THEN_KILL], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['interrupted', 'undone', [2, 15], True]"


ARRIVING_AS_HANDLERS_COME_BACK = r"""
import os, signal
from libbpf_py import _signals

restore = _signals.Deferred._restore
def restore_then_sigterm(self):  # a SIGTERM arriving in the moment the real handlers are back
    restore(self)
    os.kill(os.getpid(), signal.SIGTERM)
_signals.Deferred._restore = restore_then_sigterm

seen = []
with _signals.stopping_on() as received:
    try:
        with _signals.deferred():
            os.kill(os.getpid(), signal.SIGINT)  # noted: its handler runs as the section ends
    except KeyboardInterrupt as exc:
        seen.append(type(exc).__name__)
    seen.append(list(received))
print(seen)
"""


def test_a_signal_noted_in_a_section_is_handled_before_one_arriving_as_it_ends():
    done = subprocess.run([sys.executable, "-c", ARRIVING_AS_HANDLERS_COME_BACK], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['KeyboardInterrupt', [2, 15]]"
