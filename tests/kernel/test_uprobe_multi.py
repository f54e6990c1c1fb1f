"""uprobe-multi: bpf_progs/p2_uprobe_multi.c, attached through one link to several functions of
a tiny C program the test compiles (with its symbol table), counts the calls of a run of it per
cookie (libbpf >= 1.3 and a kernel with uprobe-multi links; libbpf 1.1 raises
LibbpfFeatureError).

libbpf (1.5 to 1.7) fails symbols= on a binary without .symtab (a stripped library) with ENOENT,
though it found them in .dynsym: its elf_resolve_syms_offsets returns the -ENOENT of the missing
section. Patterns work there."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import libbpf_py as bpf


@pytest.fixture
def multi(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_uprobe_multi")) as obj:
        program = obj.programs["p2_uprobe_multi"]
        if bpf.libbpf_version() < (1, 3):  # no SEC("uprobe.multi") before libbpf 1.3: say what it is
            program.type, program.expected_attach_type = bpf.ProgType.KPROBE, bpf.AttachType.TRACE_UPROBE_MULTI
        obj.load()
        for m in obj.maps.values():
            m.key_type = m.value_type = int
        obj.maps["target_tgid"][0] = os.getpid()
        yield obj


TOOL = r"""
#include <stdio.h>
__attribute__((noinline)) int p2_one(int x) { return x + 1; }
__attribute__((noinline)) int p2_two(int x) { return x + 2; }
__attribute__((noinline)) int p2_three(int x) { return x + 3; }
int main(void) {
    int total = 0;
    getchar();  /* wait until the test has attached */
    for (int i = 0; i < 3; i++) total += p2_one(i);
    for (int i = 0; i < 2; i++) total += p2_two(i);
    total += p2_three(0);
    return total == 0;
}
"""


@pytest.fixture(scope="module")
def tool(tmp_path_factory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang-16")
    if compiler is None:
        pytest.skip("no C compiler to build the traced program")
    workdir = tmp_path_factory.mktemp("uprobe_multi")
    (workdir / "tool.c").write_text(TOOL)
    subprocess.run([compiler, "-O1", "-o", str(workdir / "tool"), str(workdir / "tool.c")], check=True)
    return workdir / "tool"


def run_tool(tool: Path, multi, attach) -> dict:
    """Start ``tool``, attach (``attach(pid)`` returns the Link), let it run, and return the counts."""
    proc = subprocess.Popen([str(tool)], stdin=subprocess.PIPE)
    try:
        multi.maps["target_tgid"][0] = proc.pid
        with attach(proc.pid):
            proc.communicate(b"\n", timeout=60)
            return dict(multi.maps["hits"].items())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def libc_path() -> str:
    return next(line.split()[-1] for line in open("/proc/self/maps") if "/libc.so" in line)


def test_one_link_counts_each_symbol_under_its_cookie(multi, tool):
    program = multi.programs["p2_uprobe_multi"]
    symbols, cookies = ["p2_one", "p2_two", "p2_three"], [11, 22, 33]
    if bpf.libbpf_version() < (1, 3):
        with pytest.raises(bpf.LibbpfFeatureError, match="1.3"):
            program.attach_uprobe_multi(tool, symbols=symbols, cookies=cookies)
        return
    seen = []

    def attach(pid: int):
        try:
            link = program.attach_uprobe_multi(tool, symbols=symbols, cookies=cookies, pid=pid)
        except bpf.LibbpfError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                pytest.skip(f"this kernel has no uprobe-multi links: {exc}")
            raise
        seen.append(link.info().type)
        return link

    assert run_tool(tool, multi, attach) == {11: 3, 22: 2, 33: 1}
    assert seen == [bpf.LinkType.UPROBE_MULTI]


def test_a_pattern_attaches_to_every_matching_symbol(multi, tool):
    if bpf.libbpf_version() < (1, 3):
        pytest.skip("libbpf < 1.3 has no bpf_program__attach_uprobe_multi")
    program = multi.programs["p2_uprobe_multi"]
    counted = run_tool(tool, multi, lambda pid: program.attach_uprobe_multi(tool, "p2_t*", pid=pid))
    assert counted == {0: 3}  # p2_two and p2_three, no cookies
    with program.attach_uprobe_multi(libc_path(), "getppi*", pid=os.getpid()):  # a stripped library
        multi.maps["target_tgid"][0] = os.getpid()
        multi.maps["hits"].clear()
        os.getppid()
        assert dict(multi.maps["hits"].items()) == {0: 1}


def test_uprobe_multi_arguments_are_checked_before_c(multi):
    program = multi.programs["p2_uprobe_multi"]
    for kwargs in ({}, {"symbols": ["a"], "offsets": [1]}, {"symbols": "getpid"}, {"symbols": []},
                   {"symbols": ["a", "b"], "cookies": [1]}, {"offsets": [-1]}, {"symbols": ["a"], "pid": -5},
                   {"symbols": ["a"], "cookies": [1 << 64]}):
        with pytest.raises(ValueError):
            program.attach_uprobe_multi("/bin/true", **kwargs)
