"""Run-time statistics: while ``bpf.enable_stats()`` is held the kernel counts each run of a
program (``ProgInfo.run_cnt``, ``run_time_ns``); BPF_PROG_TEST_RUN's runs count like any other."""

from __future__ import annotations

from pathlib import Path

import pytest

import libbpf_py as bpf
from libbpf_py.stats import enable_stats

STATS_SYSCTL = Path("/proc/sys/kernel/bpf_stats_enabled")
PACKET = bytes(14) + bytes(50)


def stats_on_elsewhere() -> bool:
    """Whether statistics are on without this test through the sysctl (another process's
    handle does not show there)."""
    return STATS_SYSCTL.exists() and STATS_SYSCTL.read_text().strip() != "0"


@pytest.fixture
def program(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_insns")) as obj:
        obj.load()
        yield obj.programs["p2_returns_one"]


def test_runs_are_counted_while_stats_are_enabled_and_not_after(program):
    before = program.info()
    with enable_stats() as stats:
        assert not stats.closed and stats.fd >= 0
        for _ in range(5):
            assert program.test_run(PACKET).retval == 1
        program.test_run(PACKET, repeat=7)
        during = program.info()
    assert stats.closed
    assert during.run_cnt - before.run_cnt == 12
    assert during.run_time_ns > before.run_time_ns
    assert during.recursion_misses == 0
    assert during.verified_insns > 0
    if stats_on_elsewhere():
        pytest.skip("statistics are on without this test (kernel.bpf_stats_enabled=1): runs outside "
                    "enable_stats() are counted too")
    for _ in range(5):
        program.test_run(PACKET)
    after = program.info()
    assert after.run_cnt == during.run_cnt and after.run_time_ns == during.run_time_ns


def test_stats_handles_nest_and_close_twice(program):
    outer = enable_stats()
    inner = enable_stats()
    inner.close()
    inner.close()
    before = program.info().run_cnt
    program.test_run(PACKET, repeat=3)
    assert program.info().run_cnt - before == 3  # the outer handle keeps them on
    outer.close()
    with pytest.raises(bpf.ClosedError):
        outer.fd
    assert "closed" in repr(outer)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        enable_stats("cycles")
