"""examples/tools/: Python ports of Debian's libbpf-tools, each run beside the native tool on one
workload and compared: events line by line where the output is deterministic, histogram totals
where it is not. The workload waits until both tools say they trace, then runs, then both stop."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Sequence, Tuple

import pytest

TOOLS = Path("/usr/sbin")
PORTS = Path(__file__).resolve().parents[2] / "examples" / "tools"
pytestmark = pytest.mark.skipif(not (TOOLS / "runqlat").exists(),
                                reason="Debian's libbpf-tools is not installed (apt-get install libbpf-tools)")


def _started(argv: Sequence[str]) -> subprocess.Popen:
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _wait_for(process: subprocess.Popen, pattern: str, timeout: float = 30.0) -> bytes:
    """What ``process`` printed up to the first line matching ``pattern``."""
    seen = b""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while not re.search(pattern.encode(), seen):
        left = deadline - time.monotonic()
        if left <= 0 or process.poll() is not None and not select.select([process.stdout], [], [], 0)[0]:
            raise AssertionError(f"{process.args} did not print {pattern!r}: {seen!r} "
                                 f"{process.stderr.read() if process.poll() is not None else b''!r}")
        if select.select([process.stdout], [], [], min(left, 0.1))[0]:
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                continue
            seen += chunk
    return seen


def side_by_side(native: Sequence[str], port: Sequence[str], ready: str, workload: str,
                 pid_args: Sequence[str] = ()) -> Tuple[str, str, int]:
    """Both tools' whole output for one run of ``workload`` (Python code, run once both print
    ``ready``), and the workload's pid; ``pid_args`` (with ``{pid}``) give each tool that pid."""
    work = subprocess.Popen([sys.executable, "-c", f"import sys; print('up', flush=True); sys.stdin.readline()\n"
                             f"{workload}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert work.stdout is not None and work.stdout.readline() == b"up\n"  # started, and waiting: no event yet
    args = [arg.format(pid=work.pid) for arg in pid_args]
    tools = [_started(["stdbuf", "-oL", str(TOOLS / native[0]), *native[1:], *args]),  # (line-buffered: a pipe)
             _started([sys.executable, "-u", str(PORTS / f"{port[0]}.py"), *port[1:], *args])]
    try:
        heads = [_wait_for(tool, ready) for tool in tools]
        assert work.stdin is not None
        work.stdin.write(b"go\n")
        work.stdin.close()
        assert work.wait(60) == 0
        time.sleep(0.2)
        outputs = []
        for tool, head in zip(tools, heads):
            os.killpg(tool.pid, signal.SIGINT)
            rest, errors = tool.communicate(timeout=30)
            assert tool.returncode == 0, errors
            outputs.append((head + rest).decode())
        return outputs[0], outputs[1], work.pid
    finally:
        for process in (*tools, work):
            if process.poll() is None:
                process.kill()
                process.wait()


def histogram_counts(text: str) -> List[int]:
    return [int(count) for count in re.findall(r"^\s*\d+ -> \d+\s*: (\d+)", text, re.M)]


SLEEPS = "import time\nfor _ in range(300):\n    time.sleep(0.001)"
# switched out while still runnable (what on-CPU time counts): yields to a busy child on one CPU
YIELDS = """import os, signal
os.sched_setaffinity(0, {0})
child = os.fork()
if child == 0:
    while True:
        pass
for _ in range(300):
    os.sched_yield()
os.kill(child, signal.SIGKILL)
os.waitpid(child, 0)
"""


@pytest.mark.parametrize("tool, ready, options", [
    ("runqlat", "Tracing run queue latency", []), ("runqlat", "Tracing run queue latency", ["-m"]),
    ("runqlat", "Tracing run queue latency", ["-P"]), ("runqlat", "Tracing run queue latency", ["-T", "-L"]),
    ("cpudist", "Tracing on-CPU time", []), ("cpudist", "Tracing on-CPU time", ["-P"]),
    ("cpudist", "Tracing off-CPU time", ["-O", "-m", "-T"])])
def test_histograms(tool, ready, options, tracefs):
    """runqlat and cpudist of the workload's pid: the same histogram totals, the same layout."""
    workload = YIELDS if tool == "cpudist" and "-O" not in options else SLEEPS
    native, port, _ = side_by_side([tool, *options], [tool, *options], ready, workload, ["-p", "{pid}"])
    assert sum(histogram_counts(native)) >= 50  # (one a sleep; a yield that switched)
    assert sum(histogram_counts(port)) == sum(histogram_counts(native)), (native, port)
    shape = re.compile(r"^(\s*(u|m)secs\s+: count|pid = |tid = |\d\d:\d\d:\d\d)", re.M)
    assert [m.group(1)[:5] for m in shape.finditer(port)] == [m.group(1)[:5] for m in shape.finditer(native)]


EXECS = """import subprocess
for argv in (["/bin/true", "a", 'b"c', ""], ["/bin/true", *map(str, range(25))], ["/nonexistent/x"], ["/bin/echo"]):
    try:
        subprocess.run(argv, stdout=subprocess.DEVNULL)
    except OSError:
        pass
"""


def children_of(text: str, pid: int) -> List[str]:
    """execsnoop's event lines of the processes ``pid`` started (its PPID column)."""
    return [line for line in text.splitlines() if re.search(rf"^\S+\s+\d+\s+{pid}\s", line)]


@pytest.mark.parametrize("options", [[], ["-x"], ["-q", "-x"], ["--max-args", "5"], ["-n", "true"]])
def test_execsnoop(options, tracefs):
    native, port, pid = side_by_side(["execsnoop", *options], ["execsnoop", *options], "PCOMM", EXECS)
    assert port.splitlines()[0] == native.splitlines()[0]  # the header
    assert children_of(native, pid), native
    assert children_of(port, pid) == children_of(native, pid)


SIGNALS = """import os, signal, subprocess
child = subprocess.Popen(["sleep", "30"])
os.kill(child.pid, 0)
os.kill(child.pid, signal.SIGTERM)
child.wait()
for target in (child.pid, 1 << 22):  # gone by now, and never was: ESRCH
    try:
        os.kill(target, signal.SIGUSR1)
    except OSError:
        pass
"""


def sent_by(text: str, pid: int) -> List[str]:
    """sigsnoop's lines of signals ``pid`` sent, the time column left out."""
    return [line[9:] for line in text.splitlines() if re.match(rf"^\S+ {pid}\s", line)]


@pytest.mark.parametrize("options", [[], ["-k"], ["-x", "-k"], ["-n"], ["-s", "15"]])
def test_sigsnoop(options, tracefs):
    native, port, pid = side_by_side(["sigsnoop", *options], ["sigsnoop", *options], "TIME", SIGNALS)
    assert port.splitlines()[0] == native.splitlines()[0]
    assert sent_by(native, pid), native
    assert sent_by(port, pid) == sent_by(native, pid)


CALLS = """import os
for _ in range(1000):
    os.getppid()
for _ in range(300):
    try:
        os.close(1 << 20)
    except OSError:
        pass
"""


def rows(text: str) -> List[str]:
    """syscount's table rows (not its time lines nor headers), in no particular order."""
    return sorted(line for line in text.splitlines() if re.match(r"^\S+\s+(\S+\s+)?\d+(\s+[\d.]+)?$", line)
                  and not line.startswith("["))


@pytest.mark.parametrize("options", [[], ["-x"], ["-e", "EBADF"], ["-P"]])
def test_syscount(options, tracefs):
    native, port, pid = side_by_side(["syscount", "-T", "100", *options], ["syscount", "-T", "100", *options],
                                     "Tracing syscalls", CALLS, ["-p", "{pid}"])
    assert [line for line in port.splitlines() if "COUNT" in line] == \
        [line for line in native.splitlines() if "COUNT" in line]
    assert rows(native), native
    assert rows(port) == rows(native), (native, port)
    if not options:
        assert re.search(r"^getppid\s+1000$", native, re.M)


LOOKUPS = """import socket
for name in ("localhost", "localhost", "127.0.0.1"):
    socket.getaddrinfo(name, 80)
socket.gethostbyname("localhost")
"""


def lookups_of(text: str, pid: int) -> List[Tuple[str, ...]]:
    """gethostlatency's (pid, comm, host) of ``pid``'s lookups: time and latency left out."""
    found = [line.split() for line in text.splitlines()]
    return [(cells[1], cells[2], cells[4]) for cells in found if len(cells) == 5 and cells[1] == str(pid)]


@pytest.mark.parametrize("options", [[], ["-p", "{pid}"]])
def test_gethostlatency(options, tracefs):
    native, port, pid = side_by_side(["gethostlatency"], ["gethostlatency"], "LATms", LOOKUPS, options)
    assert port.splitlines()[0] == native.splitlines()[0]
    assert len(lookups_of(native, pid)) == 4, native
    assert lookups_of(port, pid) == lookups_of(native, pid)


DISK = """import os, tempfile
with tempfile.NamedTemporaryFile(dir="/var/tmp") as f:
    for _ in range(20):
        f.write(os.urandom(1 << 16))
        f.flush()
        os.fsync(f.fileno())
"""


def totals(text: str) -> dict:
    """The (name, total) rows of softirqs' or hardirqs' table."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+(\d+)$", text, re.M)}


@pytest.mark.parametrize("tool, options", [("softirqs", []), ("softirqs", ["-N"]), ("hardirqs", []),
                                           ("hardirqs", ["-C"])])
def test_irq_totals(tool, options, tracefs):
    """System-wide tools: no pid to filter by, so the totals differ by what happened in between;
    the table's layout is the native's, and every row the native counted often, the port has."""
    native, port, _ = side_by_side([tool, *options], [tool, *options], "Tracing", DISK)
    header = [line for line in native.splitlines() if "TOTAL_" in line]
    assert header and [line for line in port.splitlines() if "TOTAL_" in line] == header
    frequent = {name for name, total in totals(native).items() if total >= 20}
    assert frequent <= set(totals(port)), (native, port)


DIRECT_IO = """import mmap, os
with open("/proc/self/comm", "w") as comm:
    comm.write("portwork")  # the name both tools trace
buffer = mmap.mmap(-1, 1 << 16)  # (page-aligned, as O_DIRECT wants)
fd = os.open("/var/tmp/libbpf_py-portwork-%d" % os.getpid(), os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
try:
    for i in range(30):
        os.pwrite(fd, buffer, i << 16)  # in this process's context: its comm, 64 KiB each
finally:
    os.close(fd)
    os.unlink("/var/tmp/libbpf_py-portwork-%d" % os.getpid())
"""


@pytest.mark.parametrize("options", [[], ["-T"]])
def test_bitesize(options, tracefs):
    native, port, _ = side_by_side(["bitesize", "-c", "portwork", *options], ["bitesize", "-c", "portwork", *options],
                                   "Tracing block device I/O", DIRECT_IO)
    untimed = [re.sub(r"^\d\d:\d\d:\d\d\s*$", "TIME", line) for line in native.splitlines()]
    assert "Process Name = portwork" in untimed and sum(histogram_counts(native)) >= 30, native
    assert [re.sub(r"^\d\d:\d\d:\d\d\s*$", "TIME", line) for line in port.splitlines()] == untimed


@pytest.mark.parametrize("options", [[], ["-T"]])
def test_biopattern(options, tracefs):
    """System-wide, per disk: the same header and the same disks (the counts differ by what else
    wrote meanwhile)."""
    native, port, _ = side_by_side(["biopattern", *options], ["biopattern", *options], "DISK", DIRECT_IO)
    lines = [native.splitlines(), port.splitlines()]
    assert lines[1][:2] == lines[0][:2]
    disks = [{row.split()[-5] for row in found[2:] if row.strip()} for found in lines]
    assert disks[0] and disks[1] == disks[0], (native, port)


def test_a_port_started_with_sigint_ignored_still_stops_on_it(tracefs):
    """A background job of a script starts with SIGINT ignored; the C tools install their own
    handler, and so do the ports."""
    port = subprocess.Popen([sys.executable, "-u", str(PORTS / "execsnoop.py")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        _wait_for(port, "PCOMM")
        os.kill(port.pid, signal.SIGINT)
        assert port.wait(20) == 0
    finally:
        if port.poll() is None:
            port.kill()
            port.wait()


def test_set_cgroup_puts_the_cgroup_in_slot_0_and_keeps_no_fd(cgroup):
    import libbpf_py as bpf
    from libbpf_py.tracing import set_cgroup

    with bpf.Map.create(bpf.MapType.CGROUP_ARRAY, 4, 4, 1) as cgroups:
        before = len(os.listdir("/proc/self/fd"))
        set_cgroup(cgroups, str(cgroup))
        assert len(os.listdir("/proc/self/fd")) == before
        with pytest.raises(bpf.LibbpfError):
            set_cgroup(cgroups, str(cgroup / "missing"))
