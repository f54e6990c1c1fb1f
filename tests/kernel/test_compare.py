"""libbpf_py.compare and `libbpf-py compare`: one object loaded by libbpf_py and by the native
tool (bpftool, tc), each into a bpffs of its own, and what the kernel holds compared. Nothing is
left behind: the scratch mounts and directories, the tc namespace, the programs and maps (only
those of the test's own processes count: see support.KernelObjects)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import KernelObjects, compare_leftovers, kernel_names

import libbpf_py as bpf
from libbpf_py.tools import compare

ROOT = Path(__file__).resolve().parents[2]
LEGACY_TC = Path(os.environ.get("LIBBPF_PY_LEGACY_TC", ROOT / "vendor/cache/iproute2-6.1.0-legacy/tc"))


def needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


COMPARED = ("maps", "pinned", "pinned_variant", "iproute2/tail_call")  # every object these tests compare


@pytest.fixture
def leaves_nothing(bpf_obj):
    """After the test, nothing is left of this process's compare runs or of the command runs
    recorded in the list it gets (support.compare_leftovers), nor any program or map of the
    compared objects that the test made."""
    made = KernelObjects(kernel_names(*(bpf_obj(name) for name in COMPARED)))
    runs = [os.getpid()]
    yield runs
    assert {pid: left for pid in runs for left in [compare_leftovers(pid)] if left} == {}
    # both sides' programs go with their bpffs and namespace (the kernel frees them a moment later)
    assert made.left() == []


def run_cli(argv: list, runs: list) -> subprocess.CompletedProcess:
    """``libbpf-py ARGV`` in a child whose pid goes into ``runs`` (what leaves_nothing checks)."""
    with subprocess.Popen([sys.executable, "-m", "libbpf_py.cli", *argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as child:
        runs.append(child.pid)
        stdout, stderr = child.communicate(timeout=120)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def test_an_object_loads_as_bpftool_loads_it(bpf_obj, leaves_nothing):
    needs("bpftool")
    report = compare(str(bpf_obj("maps")))
    assert report.tool == "bpftool" and report.same, report.differences
    items = {(row.kind, row.item) for row in report.rows}
    assert ("program", "count_packets") in items and len([i for i in items if i[0] == "map"]) == 6
    assert all(row.ours is not None and row.theirs is not None for row in report.rows if row.field == "type")
    tags = {row.ours for row in report.rows if row.field == "tag"}
    assert len(tags) == 1 and len(tags.pop()) == 16


def test_pin_by_name_maps_are_pinned_where_libbpf_pins_them_on_both_sides(bpf_obj, leaves_nothing):
    needs("bpftool")
    report = compare(str(bpf_obj("pinned")))
    pins = {row.item: (row.ours, row.theirs) for row in report.rows if row.field == "pin"}
    assert sorted(pins.values(), key=str) == [("pinned_counts", "pinned_counts"), (None, None)]
    assert report.same


def test_a_legacy_object_with_its_tail_calls_loads_as_iproute2s_tc_loads_it(bpf_obj, leaves_nothing):
    if not LEGACY_TC.exists():
        pytest.skip(f"{LEGACY_TC} is not built (run vendor/iproute2/build-legacy-tc)")
    report = compare(str(bpf_obj("iproute2/tail_call")), section="classifier", tc=str(LEGACY_TC))
    assert report.tool == "tc" and report.same, report.differences
    programs = [row.item for row in report.rows if row.kind == "program" and row.field == "type"]
    assert programs == ["classifier", "classifier map 0[0]", "classifier map 0[1]"]  # the entry and its tail calls
    pins = {row.ours for row in report.rows if row.field == "pin"}
    assert pins == {"tc/globals/jmp_table", "tc/globals/tail_hits"}
    assert report.names["program classifier"] == ("cls_entry", "")  # shown, not compared: tc names nothing


def test_a_difference_is_marked_and_the_command_exits_1(bpf_obj, leaves_nothing, tmp_path):
    """A tc that loads pinned_variant.o (pinned_counts of 128 entries) when asked for pinned.o
    (256): compare marks exactly that row, and the command exits 1."""
    needs("tc")
    wrapper = tmp_path / "tc"
    wrapper.write_text(f'#!/bin/sh\nfor a; do [ "$a" = "{bpf_obj("pinned")}" ] && a="{bpf_obj("pinned_variant")}"; '
                       'set -- "$@" "$a"; shift; done\nexec tc "$@"\n')
    wrapper.chmod(0o755)
    argv = ["compare", str(bpf_obj("pinned")), "--tool", "tc", "--sec", "tc", "--tc", str(wrapper)]
    done = run_cli([*argv, "--json"], leaves_nothing)
    if done.returncode == 1 and not done.stdout:
        pytest.skip(f"the system tc does not load BTF objects: {done.stderr.strip()}")
    report = json.loads(done.stdout)
    assert done.returncode == 1 and not report["same"]
    assert [(r["item"], r["field"], r["ours"], r["theirs"]) for r in report["rows"] if r["differs"]] == \
        [("tc map 0", "max_entries", 256, 128)]
    text = run_cli(argv, leaves_nothing).stdout
    assert "! map tc map 0 (pinned_counts)" in text and "max_entries 256 (tc: 128)" in text
    assert text.rstrip().endswith("1 difference")


def test_refusals(bpf_obj, leaves_nothing):
    with pytest.raises(ValueError, match="needs the section"):
        compare(str(bpf_obj("maps")), tool="tc")
    with pytest.raises(ValueError, match="tool must be"):
        compare(str(bpf_obj("maps")), tool="ip")
    with pytest.raises(FileNotFoundError, match="not an executable tc"):
        compare(str(bpf_obj("iproute2/tail_call")), section="classifier", tc="/nonexistent/tc")
    if shutil.which("tc"):
        with pytest.raises(bpf.LibbpfError, match="refuses legacy objects"):
            compare(str(bpf_obj("iproute2/tail_call")), section="classifier")


def sigint_after(monkeypatch, module, name, when=lambda *a, **k: True):
    """A real SIGINT to this process right after ``module.name`` returns (when ``when`` says)."""
    import signal

    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        if when(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(module, name, wrapper)


@pytest.mark.parametrize("point", ["mounted", "unmounted", "netns added"])
def test_ctrl_c_at_any_step_leaves_no_mount_directory_or_namespace(bpf_obj, monkeypatch, point, leaves_nothing):
    from libbpf_py import _bpffs
    from libbpf_py.tools import comparison

    if point == "mounted":
        sigint_after(monkeypatch, _bpffs, "mount_bpffs")
        run = lambda: compare(str(bpf_obj("pinned")))  # noqa: E731
    elif point == "unmounted":
        sigint_after(monkeypatch, _bpffs, "unmount")
        run = lambda: compare(str(bpf_obj("pinned")))  # noqa: E731
    else:
        if not LEGACY_TC.exists():
            pytest.skip(f"{LEGACY_TC} is not built")
        sigint_after(monkeypatch, comparison, "_run", lambda what, *a, **k: what == "ip netns add")
        run = lambda: compare(str(bpf_obj("iproute2/tail_call")), section="classifier",  # noqa: E731
                                  tc=str(LEGACY_TC))
    if point != "netns added":
        needs("bpftool")
    with pytest.raises(KeyboardInterrupt):
        run()
    assert compare_leftovers(os.getpid()) == {}
