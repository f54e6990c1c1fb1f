"""Errors that say what happened: each case failed with a misleading error before."""

from __future__ import annotations

import errno
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import libbpf_py as bpf
from libbpf_py import MapType

ROOT = Path(__file__).resolve().parents[2]

EMFILE_CHILD = r"""
import json, os, resource, sys
import libbpf_py as bpf
data = open(sys.argv[1], "rb").read()
with bpf.Object.open(data):
    pass                                   # everything imported and libbpf loaded
held = []
while True:                                # fill every hole, so the limit counts free fds exactly
    fd = os.open("/dev/null", os.O_RDONLY)
    held.append(fd)
    if fd >= 64:
        break
os.close(held.pop())
out = []
for extra in range(12):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64 + extra, hard))
    try:
        with bpf.Object.open(data) as obj:
            obj.load()
        out.append("ok")
    except bpf.VerifierError as exc:
        out.append(f"VerifierError {exc.errno}")
    except OSError as exc:
        out.append(f"{type(exc).__name__} {exc.errno} {exc}")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
print(json.dumps(out))
"""


def test_running_out_of_fds_while_loading_a_program_is_not_a_verifier_error(bpf_obj):
    done = subprocess.run([sys.executable, "-c", EMFILE_CHILD, str(bpf_obj("no_maps"))], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout)
    assert not [o for o in outcomes if o.startswith("VerifierError")], outcomes
    assert any("could not be loaded after verification" in o for o in outcomes), outcomes  # the case was hit


def test_an_unprivileged_load_says_which_capability_it_needs(bpf_obj):
    if not os.path.exists("/usr/bin/python3") or subprocess.run(["which", "setpriv"]).returncode:
        pytest.skip("needs /usr/bin/python3 and setpriv to run a child as nobody")
    code = ("import libbpf_py as bpf, sys\n"
            "obj = bpf.Object.open(sys.argv[1])\n"
            "try:\n    obj.load()\nexcept PermissionError as exc:\n    print(exc)\n")
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                           code, str(bpf_obj("maps"))], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(bpf.__file__).parents[1])})  # the tested package
    assert done.returncode == 0, done.stderr
    assert "needs CAP_BPF" in done.stdout and "RLIMIT_MEMLOCK" not in done.stdout, done.stdout


@pytest.mark.parametrize("map_type, key_size", [(MapType.PROG_ARRAY, 4), (MapType.QUEUE, 0), (MapType.DEVMAP, 4)])
def test_batch_operations_are_refused_where_the_kernel_has_none(map_type, key_size):
    with bpf.Map.create(map_type, key_size, 4, 4) as m:
        for batch in (m.lookup_batch, lambda: m.update_batch([], []), lambda: m.delete_batch([])):
            with pytest.raises(OSError, match="have no batch operations") as exc:
                batch()
            assert exc.value.errno == errno.EOPNOTSUPP


def test_batch_sizes_and_ids_are_checked_before_c():
    with bpf.Map.create(MapType.HASH, 4, 4, 4) as m:
        with pytest.raises(ValueError, match="batch_size"):
            m.lookup_batch(batch_size=-5)
        with pytest.raises(ValueError, match="id"):
            bpf.Map.from_id(2 ** 32 + m.info().id)


def test_a_full_map_says_so():
    with bpf.Map.create(MapType.HASH, 4, 4, 2, key_type=int, value_type=int) as m:
        m[1] = m[2] = 0
        with pytest.raises(OSError, match=r"is full \(max_entries 2\)") as exc:
            m[3] = 0
        assert exc.value.errno == errno.E2BIG


def test_an_index_past_an_arrays_end_says_so_not_full():
    with bpf.Map.create(MapType.ARRAY, 4, 4, 2, key_type=int, value_type=int) as m:
        with pytest.raises(OSError, match=r"index is out of range \(max_entries 2: 0 to 1\)") as exc:
            m[2] = 0
        assert exc.value.errno == errno.E2BIG


def test_handles_refuse_pickling_clearly(bpf_obj):
    with bpf.Map.create(MapType.HASH, 4, 4, 2) as m:
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(m)
    with bpf.Object.open(bpf_obj("xdp_pass")) as obj:
        obj.load()
        for handle in (obj, obj.programs["xdp_count"]):
            with pytest.raises(TypeError, match="cannot be pickled"):
                pickle.dumps(handle)
