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
