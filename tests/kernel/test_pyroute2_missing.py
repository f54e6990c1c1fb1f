"""Without pyroute2 (an optional dependency: the `netlink` extra), the tests that need netlink
are skipped with the reason, and under LIBBPF_PY_REQUIRE_KERNEL=1 (CI) they fail with it: a
missing dependency must not hide tests there. Checked by running them with pyroute2 hidden."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
HIDDEN = "raise ModuleNotFoundError(\"No module named 'pyroute2' (hidden)\", name='pyroute2')\n"  # as if not installed
NEEDING_NETLINK = [  # one of each way a test reaches pyroute2
    "netns/test_xdp_link.py",                                                   # the module needs it
    "kernel/test_links.py::test_a_child_of_a_cls_bpf_holder_leaves_the_filter_alone",    # the test asks for it
    "netns/test_parity_tc.py::test_attach_filter_leaves_what_tc_filter_add_leaves",      # through support.inside
]


def run_without_pyroute2(tmp_path: Path, require: bool) -> subprocess.CompletedProcess:
    hidden = tmp_path / "hide" / "pyroute2"
    hidden.mkdir(parents=True, exist_ok=True)
    (hidden / "__init__.py").write_text(HIDDEN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden.parent), os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "400"}  # (summary lines whole)
    env.pop("LIBBPF_PY_REQUIRE_KERNEL", None)
    if require:
        env["LIBBPF_PY_REQUIRE_KERNEL"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsfE", "-p", "no:cacheprovider",
                           "--continue-on-collection-errors",
                           *(str(TESTS / test) for test in NEEDING_NETLINK)],
                          cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=600)


def test_without_pyroute2_netlink_tests_are_skipped_with_the_reason(tmp_path):
    done = run_without_pyroute2(tmp_path, require=False)
    assert done.returncode == 0, done.stdout[-3000:]
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped and all("pyroute2 is not installed" in line and "libbpf-py[netlink]" in line for line in skipped)
    assert sum(int(re.match(r"SKIPPED \[(\d+)\]", line).group(1)) for line in skipped) == len(NEEDING_NETLINK)
    assert re.match(rf"{len(NEEDING_NETLINK)} skipped in ", done.stdout.splitlines()[-1]), done.stdout[-3000:]


def test_without_pyroute2_netlink_tests_fail_under_require_kernel(tmp_path):
    done = run_without_pyroute2(tmp_path, require=True)
    assert done.returncode != 0
    assert done.stdout.count("LIBBPF_PY_REQUIRE_KERNEL=1 but pyroute2 is not installed") >= len(NEEDING_NETLINK), \
        done.stdout[-3000:]
    assert "passed" not in done.stdout.splitlines()[-1]


def test_pyroute2_is_here(tmp_path):
    """This run itself has it (`make setup` installs the netlink extra): nothing above was hidden
    by accident."""
    if os.environ.get("LIBBPF_PY_REQUIRE_KERNEL") != "1":
        pytest.importorskip("pyroute2")
    import pyroute2  # noqa: F401
