"""The libbpf-py command against the kernel, in a private mount namespace whose /sys/fs/bpf is
a fresh bpffs: what the command leaves on the real bpffs path is what a user would find."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PACKET = "00" * 64


def in_private_bpffs(*commands: str) -> str:
    """Run shell ``commands`` where /sys/fs/bpf is a new bpffs; print what it holds afterwards."""
    script = " && ".join(["mount -t bpf bpf /sys/fs/bpf", *commands,
                          "echo TREE", "cd /sys/fs/bpf", "find . -mindepth 1 | sort"])
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def tree(output: str) -> set:
    listed = output.split("TREE\n", 1)[1].split()
    return {entry[2:] for entry in listed} - {"maps.debug", "progs.debug"}


@pytest.mark.parametrize("name, program", [("pinned", "pin_count"), ("iproute2/global_ns", "cls_main")])
def test_run_pins_nothing_unless_asked(bpf_obj, name, program):
    cli = f"{sys.executable} -m libbpf_py.cli run {bpf_obj(name)} {program} --data-hex {PACKET}"
    output = in_private_bpffs(cli)
    assert json.loads(output.split("\n", 1)[0])["retval"] is not None
    assert tree(output) == set()


def test_run_pins_under_the_root_it_is_given(bpf_obj):
    run = f"{sys.executable} -m libbpf_py.cli run {{}} {{}} --data-hex {PACKET} --pin-root /sys/fs/bpf/mine"
    output = in_private_bpffs("mkdir /sys/fs/bpf/mine", run.format(bpf_obj("pinned"), "pin_count"),
                              run.format(bpf_obj("iproute2/global_ns"), "cls_main"))
    found = tree(output)
    assert "mine/pinned_counts" in found and "mine/not_pinned" not in found    # as LIBBPF_PIN_BY_NAME asks
    assert {"mine/tc/globals", "mine/xdp", "mine/ip"} <= found                  # tc's layout, under the root
    assert any(entry.startswith("mine/tc/globals/") for entry in found)
    assert all(entry.startswith("mine") for entry in found)
