"""libbpf_py.tracing: what a tool's user space prints, as libbpf-tools prints it."""

from __future__ import annotations

import io

from libbpf_py.tracing import log2_bucket, print_log2_hist

# runqlat 1 1 (Debian's libbpf-tools 0.26), as it printed on this project's test machine
RUNQLAT = """\
     usecs               : count    distribution
         0 -> 1          : 0        |                                        |
         2 -> 3          : 4        |***                                     |
         4 -> 7          : 4        |***                                     |
         8 -> 15         : 19       |***************                         |
        16 -> 31         : 48       |****************************************|
        32 -> 63         : 3        |**                                      |
        64 -> 127        : 1        |                                        |
"""


def printed(*args) -> str:
    out = io.StringIO()
    print_log2_hist(*args, file=out)
    return out.getvalue()


def test_a_log2_histogram_is_printed_as_libbpf_tools_prints_it():
    assert printed([0, 4, 4, 19, 48, 3, 1, 0, 0], "usecs") == RUNQLAT


def test_an_empty_histogram_prints_nothing_and_a_long_one_is_wider():
    assert printed([0] * 30, "usecs") == ""
    wide = printed([1] + [0] * 33 + [2], "nsecs").splitlines()
    assert wide[0] == " " * 15 + "nsecs".ljust(29) + " : count    distribution"
    assert wide[1] == f"{0:>20} -> {1:<20} : {1:<8} |{'*' * 10}{' ' * 10}|"
    assert len(wide) == 36


def test_log2_buckets_are_the_bpf_side_s():
    assert [log2_bucket(v) for v in (0, 1, 2, 3, 4, 7, 8, 1023, 1024)] == [0, 0, 1, 1, 2, 2, 3, 9, 10]


def test_syscall_names_are_the_kernel_s_and_libbpf_tools_agrees():
    import os
    import subprocess
    from pathlib import Path

    import pytest

    from libbpf_py.tracing import errno_name, syscall_name, syscall_number

    if os.uname().machine != "x86_64":
        pytest.skip("the syscall table is x86-64's")
    assert (syscall_name(0), syscall_name(59), syscall_name(435)) == ("read", "execve", "clone3")
    assert syscall_name(100000) == "[unknown: 100000]" and syscall_number("openat") == 257
    assert (errno_name(2), errno_name(-13), errno_name(4095)) == ("ENOENT", "EACCES", "4095")
    syscount = Path("/usr/sbin/syscount")
    if syscount.exists():  # Debian's libbpf-tools: its own table (older) agrees with ours where it has one
        listed = subprocess.run([str(syscount), "-l"], capture_output=True, text=True, timeout=30).stdout
        pairs = [line.split(": ") for line in listed.splitlines() if ": " in line]
        assert len(pairs) > 300
        assert all(syscall_name(int(number)) == name for number, name in pairs)


def test_the_syscall_table_is_what_the_generator_makes_of_the_header(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import pytest

    from libbpf_py import _syscalls

    script = Path(__file__).resolve().parents[2] / "scripts" / "gen_syscalls.py"
    header = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
    if not script.exists() or not header.exists():
        pytest.skip("not a source checkout, or no linux-libc-dev headers")
    made = tmp_path / "_syscalls.py"
    done = subprocess.run([sys.executable, str(script), str(header), "-o", str(made)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert made.read_text() == Path(_syscalls.__file__).read_text()


def test_kernel_symbols_resolve_an_address_to_the_symbol_it_lies_in():
    import os

    import pytest

    from libbpf_py.tracing import KernelSymbols, ksym

    table = {}
    with open("/proc/kallsyms") as kallsyms:
        for line in kallsyms:
            address, _, name = line.split()[:3]
            table.setdefault(name, int(address, 16))
    if not table.get("schedule"):
        pytest.skip("/proc/kallsyms shows no addresses here (unprivileged)" if os.geteuid() else "no schedule")
    symbols = KernelSymbols.load()
    start = table["schedule"]
    assert symbols.resolve(start).address == start and symbols.resolve(start + 1).address == start
    assert ksym(start + 4, offset=True).endswith("+0x4")
    assert symbols.resolve(0) is None and ksym(0) == "[unknown]"


def test_intervals_yield_each_time_and_once_more_on_ctrl_c(monkeypatch):
    import time

    from libbpf_py.tracing import intervals, poll_until_interrupted

    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    assert len(list(intervals(2, 3))) == 3 and slept == [2, 2, 2]

    def interrupted(seconds):
        if len(slept) == 4:
            raise KeyboardInterrupt
        slept.append(seconds)

    monkeypatch.setattr(time, "sleep", interrupted)
    assert len(list(intervals(1, 10))) == 2  # one wait, then Ctrl-C in the next: a last summary

    class Events:
        polls = 0

        def poll(self, timeout):
            self.polls += 1
            if self.polls == 3:
                raise KeyboardInterrupt

    events = Events()
    poll_until_interrupted(events)
    assert events.polls == 3
