"""Signal handlers deferred across sections that must finish, or be undone, as a whole.

Python runs a signal's handler between any two bytecodes of the main thread, so Ctrl-C can
raise KeyboardInterrupt after libbpf created and pinned maps but before the code that
records them runs. Inside ``deferred()``, the Python handlers of the usual signals are
replaced by a recorder. At a point where the section can still undo its work, it calls
``run_noted()``: the real handlers of the signals that arrived run there (still deferred
for what comes after), and the section undoes itself only if one of them raised. The
signals that arrive after that run when the section ends. Only the outermost section
installs and delivers; nested ones share it. Other threads never run signal handlers, so
there the section does nothing.
"""

from __future__ import annotations

import _thread
import contextlib
import os
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

try:  # the C module itself: signal's wrappers convert every number to an enum (~1 µs a call)
    import _signal as _os_signals  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - an interpreter without CPython's _signal
    import signal as _os_signals

getsignal, raise_signal, set_handler = _os_signals.getsignal, _os_signals.raise_signal, _os_signals.signal


_DEFERRED = tuple(getattr(_os_signals, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGALRM", "SIGUSR1",
                                                           "SIGUSR2", "SIGINT") if hasattr(_os_signals, name))
_state = _thread._local()


class Deferred:
    """The signals noted while a section runs."""

    def __init__(self) -> None:
        self.caught: List[int] = []
        self._saved: Dict[int, Callable[[int, Any], Any]] = {}

    @property
    def interrupted(self) -> bool:
        return bool(self.caught)

    def _note(self, signum: int, frame: Any) -> None:
        self.caught.append(signum)

    def _install(self) -> None:
        for signum in _DEFERRED:
            handler = getsignal(signum)
            if callable(handler):
                self._saved[signum] = handler
                set_handler(signum, self._note)

    def _installed(self) -> bool:
        """Whether this section's recorder is in place (else it ended, or never began: stale)."""
        return any(getsignal(signum) == self._note for signum in self._saved)

    def run_noted(self) -> None:
        """Run the real handlers of the signals noted so far (each once, in the order they came),
        still deferring what comes next; the first exception a handler raises is raised after
        all have run."""
        first = self._run_noted()
        if first is not None:
            raise first

    def _run_noted(self) -> Optional[BaseException]:
        first: Optional[BaseException] = None
        while self.caught:
            caught, self.caught = self.caught, []
            for signum in dict.fromkeys(caught):
                handler = self._saved.get(signum)
                if handler is None:
                    continue
                try:
                    handler(signum, None)
                except BaseException as exc:  # every handler runs; the first error wins
                    first = first or exc
        return first

    def _restore(self) -> None:
        """Put every saved handler back (SIGINT last), unless the section's code installed its own."""
        for signum, handler in list(self._saved.items()):
            if getsignal(signum) == self._note:
                set_handler(signum, handler)

    def _end(self) -> None:
        """Run the handlers of what was noted, put the real ones back, then run those of what came
        in between: a signal noted first is handled first (the exit status is the first's)."""
        first = self._run_noted()
        try:
            self._restore()
        finally:
            first = first or self._run_noted()
            if first is not None:
                raise first


class _Inert(Deferred):
    """A section outside the main thread: nothing is deferred there."""

    def _install(self) -> None:
        pass


@contextlib.contextmanager
def deferred(*, in_finalizer: bool = False) -> Iterator[Deferred]:
    """Defer signal handlers for the body (in the main thread; nested sections share the outer one).

    ``in_finalizer``: the body runs from a finalizer (garbage collection, or the last reference
    dropped). The handlers of the signals noted run as the section ends, once the body's work
    is done, but still inside the finalizer: an exception one raises (KeyboardInterrupt) is
    printed and lost there, as Python does with any exception in a finalizer.
    """
    outer = getattr(_state, "current", None)
    if outer is not None and outer._installed():
        yield outer
        return
    section = Deferred()
    try:  # from here on, whatever _install swapped is put back, even if a signal interrupts it
        _state.current = section
        try:
            section._install()
            inert = False
        except ValueError:  # not the main thread (of the main interpreter): handlers never run there
            inert = True
        yield _Inert() if inert else section  # outside the except: the body's errors carry no context
    finally:
        _state.current = None
        if in_finalizer:
            section._restore()
            for signum in dict.fromkeys(section.caught):
                raise_signal(signum)
        else:
            section._end()


def _after_fork_in_child() -> None:
    """A child forked inside a section (from a hook) gets the real handlers back."""
    section = getattr(_state, "current", None)
    if section is not None:
        _state.current = None
        with contextlib.suppress(Exception):
            section._restore()
        section.caught = []


os.register_at_fork(after_in_child=_after_fork_in_child)


class Stopped(KeyboardInterrupt):
    """Raised by the handler :func:`stopping_on` installs: a signal (SIGTERM, SIGHUP) asked the
    process to stop. A KeyboardInterrupt, so that every path that undoes an interrupted step
    for Ctrl-C undoes it for these too."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


STOPPING = tuple(getattr(_os_signals, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(_os_signals, name))


@contextlib.contextmanager
def stopping_on(signums: Iterable[int] = STOPPING, received: Optional[List[int]] = None) -> Iterator[List[int]]:
    """For the body, each of ``signums`` raises :class:`Stopped` where the process stands (SIGINT:
    KeyboardInterrupt, as Python's own handler) instead of killing it on the spot, so that it
    unwinds and undoes what it made; only the first is raised. A signal the process inherited as
    ignored (``nohup``) stays ignored, and SIGINT keeps a handler the application set. Yields the
    signals received (``received``, or a new list), in order: the first gives the exit status,
    128 + its number (also when a ctypes callback turned the exception into a plain
    KeyboardInterrupt). Main thread only."""
    if received is None:
        received = []

    def stop(signum: int, frame: Any) -> None:
        assert received is not None
        received.append(signum)
        if len(received) == 1:  # the process is stopping: a repeat (timeout(1) signals the child, then
            # its group; Ctrl-C, then a kill) must not interrupt the undoing the first one started
            raise KeyboardInterrupt() if signum == _os_signals.SIGINT else Stopped(signum)

    saved: Dict[int, Any] = {}
    try:
        for signum in signums:
            previous = getsignal(signum)
            if previous == _os_signals.SIG_IGN or (signum == _os_signals.SIGINT
                                                    and previous is not _os_signals.default_int_handler):
                continue
            saved[signum] = previous
            set_handler(signum, stop)
        yield received
    finally:
        for signum, previous in saved.items():
            set_handler(signum, previous if previous is not None else _os_signals.SIG_DFL)
