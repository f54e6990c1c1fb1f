"""netkit: a tc program attached to the primary side of a netkit pair (Linux >= 6.7, libbpf >=
1.3). The test needs `ip link add ... type netkit` (iproute2 >= 6.7) and skips with the reason
where it fails."""

from __future__ import annotations

import subprocess

import pytest
from support import inside

import libbpf_py as bpf

DEV = "p2nk0"


@pytest.fixture
def netkit():
    ns = "lbpy_p2_netkit"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        made = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "ip", "link", "add", DEV, "type", "netkit"],
                              capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make a netkit device here: ip link add {DEV} type netkit: {made.stderr.strip()}")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.fixture
def program(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_insns")) as obj:
        p = obj.programs["p2_returns_one"]
        p.expected_attach_type = bpf.AttachType.NETKIT_PRIMARY  # what SEC("netkit/primary") says
        obj.load()
        yield p


def test_a_program_attaches_to_a_netkit_device(netkit, program):
    with inside(netkit):
        if bpf.libbpf_version() < (1, 3):
            with pytest.raises(bpf.LibbpfFeatureError):
                program.attach_netkit(DEV)
            return
        with program.attach_netkit(DEV) as link:
            info = link.info()
            assert info.type == bpf.LinkType.NETKIT and info.prog_id == program.info().id


def test_an_unknown_device_is_refused(program):
    with pytest.raises(bpf.LibbpfError, match="no network device"):
        program.attach_netkit("no-such-netkit0")
