"""The binding and bpftool (native libbpf) load the same objects the same way."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

import libbpf_py as bpf

pytestmark = pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed")


def bpftool(*args: str):
    done = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout) if done.stdout.strip() else None


# pinned.o is left out: its LIBBPF_PIN_BY_NAME map would make bpftool pin under /sys/fs/bpf
# (bpftool has no pin-root option); pin parity belongs to the pinning tests.
@pytest.mark.parametrize("name", ["maps", "xdp_pass", "tc_rewrite"])
def test_loadall_matches_the_binding(bpf_obj, bpffs, name):
    progs, maps = bpffs / "progs", bpffs / "maps"
    path = bpf_obj(name)
    subprocess.run(["bpftool", "prog", "loadall", str(path), str(progs), "pinmaps", str(maps)],
                   check=True, capture_output=True)
    try:
        with bpf.Object.open(path) as obj:
            obj.load()
            for map_name, m in obj.maps.items():
                native = bpftool("map", "show", "pinned", str(maps / map_name))
                ours = m.info()
                assert native["type"] == ours.type.name.lower(), map_name
                assert (native["bytes_key"], native["bytes_value"], native["max_entries"], native["flags"]) == \
                    (ours.key_size, ours.value_size, ours.max_entries, ours.flags), map_name
                assert native["name"] == ours.name
            for prog_name, p in obj.programs.items():
                native = bpftool("prog", "show", "pinned", str(progs / prog_name))
                ours = p.info()
                assert native["tag"] == ours.tag, prog_name
                assert native["type"] == _bpftool_prog_type(ours.type)
                assert native["bytes_xlated"] == ours.xlated_len
                # the program bpftool loaded runs the same through the binding's handle
                with bpf.Program.from_pinned(progs / prog_name) as theirs:
                    data = bytes(64)
                    assert theirs.test_run(data).retval == p.test_run(data).retval
    finally:
        shutil.rmtree(progs, ignore_errors=True)
        shutil.rmtree(maps, ignore_errors=True)


def _bpftool_prog_type(prog_type) -> str:
    return {"SCHED_CLS": "sched_cls", "XDP": "xdp"}.get(prog_type.name, prog_type.name.lower())
