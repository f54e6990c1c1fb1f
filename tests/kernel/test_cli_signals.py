"""SIGTERM and SIGHUP (what timeout(1), systemd and CI send) stop the libbpf-py command as SIGINT
does: at any point of compare (bpftool and tc), tc and attach, the command either undoes what it
made and exits 128 + the signal's number, or, when the signal comes once its result is out, has
finished (exit 0) and its work stands. An interrupted run leaves nothing: no scratch mount or
directory, no network namespace, no process, no pin, no filter, and no program or map of its own
in the kernel (support.KernelObjects: other processes on the machine load BPF meanwhile).

The points: a run without a signal counts the Python function returns of the command; then each
run sends itself the signal right after the k-th (a real signal, handled where the run stands),
for k spread over the whole command. And, as timeout(1) and systemd do, the whole process group
gets the signal after a delay: the tools the command runs (bpftool, tc, ip) get it too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import pytest
from support import KernelObjects, built_tool, compare_leftovers, kernel_names

import libbpf_py as bpf
from libbpf_py.tools.comparison import SCRATCH_PREFIX

ROOT = Path(__file__).resolve().parents[2]
LEGACY_TC = Path(os.environ.get("LIBBPF_PY_LEGACY_TC", ROOT / "vendor/cache/iproute2-6.1.0-legacy/tc"))

HARNESS = r"""
import os, signal, sys
point, signame, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
import libbpf_py.cli as cli, libbpf_py.tools, libbpf_py.iproute2  # imported before: the points are the command's
signum, returns = getattr(signal, signame), 0

def profile(frame, event, arg):
    global returns
    if event == "return" and frame.f_code is not cli.main.__code__:  # (after main: Python's own handling)
        returns += 1
        if returns == point:
            sys.setprofile(None)
            os.kill(os.getpid(), signum)

sys.setprofile(profile)
status = "-"
try:
    status = cli.main(argv)
finally:
    sys.setprofile(None)
    sys.stderr.write(f"\nRETURNS {returns} STATUS {status}\n")
sys.exit(status)
"""


class Run:
    """One command run, with what it printed and how it ended."""

    def __init__(self, child: subprocess.Popen, stdout: str, stderr: str):
        self.pid, self.returncode, self.stdout, self.stderr = child.pid, child.returncode, stdout, stderr
        ended = stderr.rsplit("RETURNS ", 1)[1].split() if "RETURNS " in stderr else []
        if child.returncode < 0 and ended and ended[2] != "-":
            self.returncode = int(ended[2])  # a group signal that came after the command returned

    @property
    def returns(self) -> int:
        return int(self.stderr.rsplit("RETURNS ", 1)[1].split()[0])

    def stopped(self, signum: int) -> bool:
        """Whether the signal stopped the command (True) or found it finished (False); any other
        ending fails the test."""
        if self.returncode == 0:
            return False
        if self.returncode == -signum:  # Python's own action: the signal came before main() or after it
            assert "RETURNS" not in self.stderr, self.stderr
            return not self.stdout  # after: the command had finished (and printed its result)
        assert self.returncode == 128 + signum, (self.returncode, self.stderr)
        why = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        assert f"libbpf-py: {why}" in self.stderr, self.stderr
        return True


def run(argv: List[str], point: int = 0, signame: str = "SIGTERM", env: Optional[dict] = None,
        prefix: Tuple[str, ...] = (), group_after: Optional[float] = None,
        started: Callable[[int], None] = lambda pid: None) -> Run:
    """``libbpf-py ARGV`` signalling itself after its ``point``-th function return (0: never), or,
    with ``group_after``, its whole process group signalled that many seconds after it starts."""
    command = [*prefix, sys.executable, "-c", HARNESS, str(point), signame, *argv]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          start_new_session=group_after is not None) as child:
        started(child.pid)
        if group_after is not None:
            try:
                child.wait(group_after)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, getattr(signal, signame))
        stdout, stderr = child.communicate(timeout=120)
    return Run(child, stdout, stderr)


def spread(total: int, count: int = 14) -> List[int]:
    """``count`` points spread over ``total`` function returns, and more near the end (where the
    command prints its result and lets its work stand)."""
    evenly = {max(1, total * k // (count + 1)) for k in range(1, count + 1)}
    return sorted(evenly | {total - back for back in (1, 2, 4, 8, 16, 32, 64, 128, 256) if back < total})


def pins(root: Path) -> List[str]:
    """The pins under ``root`` (directories, and bpffs' own files, are not pins)."""
    return sorted(str(Path(d, f).relative_to(root)) for d, _, files in os.walk(root) for f in files
                  if f not in ("maps.debug", "progs.debug"))


# compare ----------------------------------------------------------------------------------------

def compare_argv(bpf_obj, tool: str) -> List[str]:
    if tool == "bpftool":
        if subprocess.run(["which", "bpftool"], capture_output=True).returncode:
            pytest.skip("bpftool is not installed")
        return ["compare", str(bpf_obj("pinned"))]
    built_tool(LEGACY_TC, "vendor/iproute2/build-legacy-tc")
    return ["compare", str(bpf_obj("iproute2/tail_call")), "--sec", "classifier", "--tc", str(LEGACY_TC)]


def check_compare(bpf_obj, argv: List[str], signame: str, **how) -> bool:
    names = kernel_names(bpf_obj("pinned"), bpf_obj("iproute2/tail_call"))
    made = KernelObjects(names)
    scratch = os.path.join(os.path.realpath(tempfile.gettempdir()), SCRATCH_PREFIX)
    done = run(argv, signame=signame, started=lambda pid: made.own_mounts.add(f"{scratch}{pid}-"), **how)
    stopped = done.stopped(getattr(signal, signame))
    if not stopped:
        assert done.stdout.rstrip().endswith("same"), done.stdout
    assert compare_leftovers(done.pid) == {}
    assert made.left() == []
    return stopped


@pytest.mark.parametrize("tool", ["bpftool", "tc"])
def test_compare_stopped_at_any_point_leaves_nothing(bpf_obj, tool):
    argv = compare_argv(bpf_obj, tool)
    total = run(argv).returns
    outcomes = [check_compare(bpf_obj, argv, "SIGTERM", point=point) for point in spread(total)]
    assert any(outcomes), "no run was stopped"


@pytest.mark.parametrize("tool", ["bpftool", "tc"])
def test_compare_whose_process_group_is_stopped_leaves_nothing(bpf_obj, tool):
    """The tools the command runs are stopped with it, as timeout(1) stops a command's group."""
    argv = compare_argv(bpf_obj, tool)
    for delay in (0.15, 0.2, 0.25, 0.3, 0.35, 0.45):
        check_compare(bpf_obj, argv, "SIGTERM", group_after=delay)


@pytest.mark.parametrize("signame", ["SIGHUP", "SIGINT"])
def test_compare_stopped_by_sighup_or_sigint_leaves_nothing_either(bpf_obj, signame):
    argv = compare_argv(bpf_obj, "bpftool")
    total = run(argv).returns
    assert any([check_compare(bpf_obj, argv, signame, point=point) for point in spread(total, 5)])


def test_a_nohup_command_keeps_sighup_ignored(bpf_obj):
    argv = compare_argv(bpf_obj, "bpftool")
    done = run(argv, prefix=("nohup",), point=10, signame="SIGHUP")
    assert done.returncode == 0 and done.stdout.rstrip().endswith("same"), done.stderr


# attach -----------------------------------------------------------------------------------------

def test_attach_stopped_at_any_point_leaves_no_pin_and_no_link(bpf_obj, bpffs):
    link = bpffs / "link"
    argv = ["attach", "auto", f"{bpf_obj('attach')}:raw_tp_getpid", "--pin-link", str(link)]
    names = kernel_names(bpf_obj("attach"))
    total = run(argv).returns
    bpf.Link.from_pinned(link).detach()
    outcomes = []
    for point in spread(total, 16):
        made = KernelObjects(names, own_mounts=(str(bpffs),))
        links_before = set(bpf.Link.ids())
        done = run(argv, point=point)
        stopped = done.stopped(signal.SIGTERM)
        outcomes.append(stopped)
        if stopped:
            assert pins(bpffs) == []
        else:  # finished: its result is out and its pinned link stands
            assert pins(bpffs) == ["link"] and "type RAW_TRACEPOINT" in done.stdout
            with bpf.Link.from_pinned(link) as pinned:
                pinned.detach()
        assert made.left() == []
        assert not _new_links(links_before)
    assert any(outcomes) and not all(outcomes), outcomes  # both endings were exercised


def _new_links(before: set, seconds: float = 10.0) -> set:
    """Links that appeared since ``before`` and are still there after at most ``seconds`` (a
    pin's reference goes a moment after its unlink), whose program is one of this test's."""
    deadline = time.monotonic() + seconds
    while True:
        new = set()
        for link_id in set(bpf.Link.ids()) - before:
            try:
                with bpf.Link.from_id(link_id) as link, bpf.Program.from_id(link.info().prog_id) as program:
                    if program.info().name == "raw_tp_getpid":
                        new.add(link_id)
            except OSError:
                continue
        if not new or time.monotonic() > deadline:
            return new
        time.sleep(0.05)


# tc ---------------------------------------------------------------------------------------------

def bpf_filters(ns: str, dev: str) -> list:
    from support import inside

    with inside(ns):
        return list(bpf.iproute2.filters(dev, "ingress"))


def test_tc_stopped_at_any_point_leaves_no_filter_and_no_pin(bpf_obj, bpffs):
    from support import inside, needs_pyroute2, netns_pair

    needs_pyroute2()

    obj = bpf_obj("iproute2/tail_call")
    names = kernel_names(obj)
    env = {**os.environ, "TC_BPF_MNT": str(bpffs)}
    with netns_pair() as (_, (ns, dev)):
        argv = ["tc", str(obj), "--dev", dev, "--sec", "classifier"]
        prefix = ("nsenter", f"--net=/run/netns/{ns}")

        def clean(done: Run) -> None:
            with inside(ns):
                for found in bpf.iproute2.filters(dev, "ingress"):
                    bpf.iproute2.detach_filter(dev, "ingress", priority=found.priority, handle=found.handle)
            for pin in pins(bpffs):
                os.unlink(bpffs / pin)

        first = run(argv, env=env, prefix=prefix)
        assert first.returncode == 0, first.stderr
        clean(first)
        outcomes = []
        for point in spread(first.returns, 16):
            made = KernelObjects(names, own_mounts=(str(bpffs),), own_netns=(ns,))
            done = run(argv, point=point, env=env, prefix=prefix)
            stopped = done.stopped(signal.SIGTERM)
            outcomes.append(stopped)
            if stopped:
                assert bpf_filters(ns, dev) == [] and pins(bpffs) == [], done.stderr
            else:  # finished: its result is out, the filter and the pins it made stand
                assert len(bpf_filters(ns, dev)) == 1 and pins(bpffs) != [] and "prog_id" in done.stdout
                clean(done)
            assert made.left() == []
        assert any(outcomes) and not all(outcomes), outcomes
