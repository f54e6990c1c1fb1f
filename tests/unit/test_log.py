"""The package's loggers: ``logging`` reached only once imported; records name their real site."""

from __future__ import annotations

import logging

from libbpf_py import _log


def test_a_record_names_the_file_function_and_line_that_logged_it(caplog):
    log = _log.Logger("libbpf_py.test")
    caplog.set_level(logging.DEBUG, logger="libbpf_py.test")

    def somewhere() -> None:
        log.warning("through a helper %d", 1)
        log.log(logging.INFO, "directly")

    somewhere()
    sites = [(r.filename, r.funcName, r.getMessage()) for r in caplog.records if r.name == "libbpf_py.test"]
    assert sites == [("test_log.py", "somewhere", "through a helper 1"), ("test_log.py", "somewhere", "directly")]


def test_an_open_without_listeners_prints_nothing_and_still_fails_in_libbpfs_words(bpf_obj):
    """Nobody listens (logging never imported): libbpf's ~100 lines of an open reach no Python
    callback, and a refused object is opened again to say why in libbpf's words."""
    import subprocess
    import sys

    code = ("import sys, libbpf_py as bpf\n"
            "from libbpf_py import _log\n"
            "bpf.Object.open(sys.argv[1]).close()\n"
            "try:\n"
            "    bpf.Object.open(sys.argv[2], compat='none')\n"
            "except bpf.LibbpfError as exc:\n"
            "    print(exc.warnings[-1])\n"
            "print('logging' in sys.modules, _log._Printer.silent, len(_log._Printer.quiet), "
            "len(_log._Printer.captures))\n")
    import os
    from pathlib import Path

    import libbpf_py

    where = str(Path(libbpf_py.__file__).parents[1])  # -S drops site-packages: find the tested package
    done = subprocess.run([sys.executable, "-S", "-c", code, str(bpf_obj("maps")), str(bpf_obj("iproute2/tail_call"))],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": where})
    assert done.returncode == 0, done.stderr
    detail, state = done.stdout.strip().splitlines()
    assert "legacy map definitions in 'maps' section are not supported" in detail
    assert state == "False False 0 0"


def test_a_capture_in_any_thread_keeps_libbpfs_lines_coming_during_a_quiet_section():
    import threading

    _log._Printer.update()  # the set_print of the loaded libbpf is in place (any earlier use)
    with _log.quiet():
        assert _log._Printer.silent or _log._Printer.set_print is None
        entered, leave = threading.Event(), threading.Event()

        def capture() -> None:
            with _log.captured():
                entered.set()
                leave.wait(10)

        worker = threading.Thread(target=capture)
        worker.start()
        entered.wait(10)
        assert not _log._Printer.silent  # the other thread's capture turned the callback back on
        leave.set()
        worker.join()
        assert _log._Printer.silent or _log._Printer.set_print is None
    assert not _log._Printer.silent and not _log._Printer.quiet and not _log._Printer.captures


def test_a_quiet_section_that_an_exception_ends_early_is_forgotten():
    """An exception (a signal's handler) between a section counting itself in and its cleanup
    leaves nothing behind: the section is held by its frame only, and goes with it."""
    token = _log._Section()  # what a section counts itself in with, before its try
    _log._Printer.quiet.add(token)
    _log._Printer.update()
    assert _log._Printer.quiet
    del token  # the frame unwound by the exception
    _log._Printer.update()  # the next section
    assert not _log._Printer.quiet and not _log._Printer.silent


def test_a_child_forked_inside_a_quiet_section_has_libbpfs_lines_and_a_free_lock():
    import os

    with _log.quiet():
        with _log._Printer.lock:  # as if another thread were inside update() at the fork
            pid = os.fork()
            if pid == 0:
                ok = not _log._Printer.quiet and not _log._Printer.silent and _log._Printer.lock.acquire(False)
                os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
