"""Debian's libbpf-tools, objects nobody here wrote: each tool is run, what it loaded is read from
the kernel, and its embedded object, loaded by libbpf_py as the tool loaded it, is compared
(program type, tag, translated length; every map's shape). Only tools this kernel lets run:
tracepoints, BTF and raw tracepoints, uprobes (not kprobes: no kprobe PMU; not fentry: refused)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from libbpf_py.tools.native import compare_native

TOOLS = Path("/usr/sbin")
pytestmark = pytest.mark.skipif(not (TOOLS / "execsnoop").exists(),
                                reason="Debian's libbpf-tools is not installed (apt-get install libbpf-tools)")

TABLE = Path(__file__).resolve().parents[2] / "docs" / "libbpf-tools.rst"


def table_rows() -> List[List[str]]:
    """The cells of docs/libbpf-tools.rst's table (the header row left out)."""
    rows: List[List[str]] = []
    for line in TABLE.read_text().splitlines():
        if line.startswith("   * - "):
            rows.append([line[7:]])
        elif line.startswith("     - ") and rows:
            rows[-1].append(line[7:])
    return [row for row in rows[1:] if len(row) == 5]  # (the tools' table, not the ports')


# what the table says runs here and loads the same: each claim checked again
SAME_HERE = [row[3].strip("`").split() for row in table_rows() if row[4] == "yes"]


# options the tools write into .rodata (the verifier then keeps other code): the same again
WITH_OPTIONS = [("opensnoop", "-x"), ("sigsnoop", "-x"), ("execsnoop", "-x"), ("runqlat", "-P"),
                ("syscount", "-L"), ("biolatency", "-D")]


@pytest.mark.parametrize("command", SAME_HERE, ids=lambda command: command[0])
def test_the_tool_and_libbpf_py_load_the_same(command, tracefs):
    report = compare_native(str(TOOLS / command[0]), command[1:])
    assert any(row.kind == "program" for row in report.rows), report
    assert report.same, [row for row in report.differences]


@pytest.mark.parametrize("tool, options", WITH_OPTIONS)
def test_with_options_the_same_again(tool, options, tracefs):
    report = compare_native(str(TOOLS / tool), [options])
    assert report.same, [row for row in report.differences]


def test_the_command_compares_an_executable_and_names_its_object(tracefs):
    done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", "compare", str(TOOLS / "sigsnoop"),
                           "--args=-x", "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tool"] == "native" and report["same"]
    assert {row["item"] for row in report["rows"] if row["kind"] == "program"} == {"sig_trace"}
    shown = subprocess.run([sys.executable, "-m", "libbpf_py.cli", "inspect", str(TOOLS / "sigsnoop")],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "embedded in /usr/sbin/sigsnoop: sigsnoop_bpf (offset" in shown.stdout


def test_a_tool_that_cannot_run_here_is_said_so(tracefs):
    if Path("/sys/bus/event_source/devices/kprobe").exists():
        pytest.skip("this kernel has a kprobe PMU: tcpconnect runs here")
    with pytest.raises(Exception, match=r"tcpconnect exited \(1\) before its BPF was read: failed to attach"):
        compare_native(str(TOOLS / "tcpconnect"))  # kprobes: this kernel has no kprobe PMU


def test_a_tool_that_exits_at_once_leaving_a_child_is_said_so_and_its_child_killed():
    """Its stderr is read without waiting (the child holds the pipe), and what is left of its
    session is killed: nothing of it outlives the comparison."""
    from libbpf_py.errors import LibbpfError
    from libbpf_py.tools.native import run_native

    marker = "313.75"  # (a sleep nobody else runs)
    with pytest.raises(LibbpfError, match=r"sh exited \(3\) before its BPF was read"):
        with run_native(["sh", "-c", f"sleep {marker} & exit 3"], timeout=10):
            pass
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    assert left.stdout == "", left.stdout
