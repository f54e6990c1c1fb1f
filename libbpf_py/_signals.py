"""Signal handlers deferred across sections that must finish, or be undone, as a whole.

Python runs a signal's handler between any two bytecodes of the main thread, so Ctrl-C can
raise KeyboardInterrupt after libbpf created and pinned maps but before the code that
records them runs. Inside ``deferred()``, the Python handlers of the usual signals are
replaced by one that only notes the signal; the section checks ``interrupted`` where it can
still undo its work, and the real handlers run (KeyboardInterrupt is raised) once, when the
section ends. Other threads never run signal handlers, so there it does nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Callable, Dict, Iterator, List

_DEFERRED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGALRM",
                                                     "SIGUSR1", "SIGUSR2") if hasattr(signal, name))
_state = threading.local()


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
            handler = signal.getsignal(signum)
            if callable(handler):
                self._saved[signum] = handler
                signal.signal(signum, self._note)

    def deliver(self) -> None:
        """Put the handlers back and run those of the signals noted (KeyboardInterrupt for Ctrl-C)."""
        saved, self._saved = self._saved, {}
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        caught, self.caught = self.caught, []
        for signum in dict.fromkeys(caught):  # each signal once, in order of arrival
            saved[signum](signum, None)


@contextlib.contextmanager
def deferred() -> Iterator[Deferred]:
    """Defer signal handlers for the body (in the main thread; nested sections share one)."""
    outer = getattr(_state, "current", None)
    if outer is not None or threading.current_thread() is not threading.main_thread():
        yield outer if outer is not None else Deferred()
        return
    section = _state.current = Deferred()
    try:
        section._install()
        yield section
    finally:
        _state.current = None
        section.deliver()
