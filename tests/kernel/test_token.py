"""BPF tokens end to end: a child in a user namespace of its own, without capabilities in the
initial one, loads and runs BPF through a bpffs instance this (privileged) process configured to
delegate it (see tests/token_support.py for the scaffolding). Kernel >= 6.9 and libbpf >= 1.4;
skipped, with the reason, elsewhere."""

from __future__ import annotations

import errno
import os
from typing import Any, Dict

import pytest
from token_support import NoTokens, run_delegated

import libbpf_py as bpf
from libbpf_py.token import Token

XDP_DROP, XDP_PASS = 1, 2
ANY = {"commands": None, "map_types": None, "prog_types": None, "attach_types": None}


@pytest.fixture(scope="module")
def xdp_pass(bpf_obj) -> str:
    """bpf_progs' xdp_pass.o (an XDP program counting packets in an ARRAY map); skips when the
    loaded libbpf has no BPF tokens."""
    path = str(bpf_obj("xdp_pass"))
    try:
        bpf.Object.open(path, token_path="/").close()  # refused before libbpf sees it when too old
    except bpf.LibbpfFeatureError as exc:
        pytest.skip(f"BPF tokens need libbpf >= 1.4: {exc}")
    return path


def delegated(scenario: str, delegation: Any = None, **args: Any) -> Dict[str, Any]:
    try:
        return run_delegated(scenario, delegation, **args)
    except NoTokens as exc:
        pytest.skip(str(exc))


def refused(outcome: Dict[str, Any], err: int) -> str:
    """The message of an outcome that raised a LibbpfError with ``err``."""
    assert "raised" in outcome, f"expected errno {err}, got {outcome}"
    assert "LibbpfError" in outcome["raised"] and outcome["errno"] == err, outcome
    return outcome["message"]


@pytest.fixture(scope="module")
def report(xdp_pass) -> Dict[str, Any]:
    """What the child saw under a bpffs delegating everything."""
    return delegated("load", obj=xdp_pass)


def test_without_the_token_the_child_may_not_load(report):
    assert int(report["cap_eff"], 16)  # all capabilities, in its own user namespace only
    for case in ("without_token", "without_token_implicit"):  # (implicit: libbpf's try of /sys/fs/bpf)
        assert "PermissionError" in report[case]["raised"]
        refused(report[case], errno.EPERM)
    refused(report["map_without_token"], errno.EPERM)


def test_with_token_path_the_child_loads_and_runs_a_program(report):
    loaded = report["with_token"]
    assert "value" in loaded, loaded
    result = loaded["value"]
    assert result["prog_type"] == bpf.ProgType.XDP
    assert (result["dropped"], result["passed"]) == (XDP_DROP, XDP_PASS)  # a first byte of 0xff is dropped
    assert result["stats"] == [2, 64 + 64 + 1000]  # two runs of 64 bytes, and the child's own update
    if bpf.libbpf().version >= (1, 5):
        assert result["object_token_fd"] > 0  # libbpf made its object's token from the path


@pytest.mark.parametrize("source", ["token_from_dir", "token_from_mount_fd"])
def test_a_token_from_the_bpffs_creates_a_map(report, source):
    made = report[source]
    assert "value" in made, made
    token = made["value"]
    assert token["fd"] >= 0 and "fd=" in token["repr"]
    assert "allowed_cmds:\tany" in token["fdinfo"]  # the kernel's own view of the fd: a token
    assert token["delegated"] == ANY
    assert (token["map"]["type"], token["map"]["value"]) == (bpf.MapType.ARRAY, 42)


def test_a_token_is_closed_once(report):
    assert report["closed_twice"] is True
    assert "ClosedError" in report["fd_after_close"]["raised"]


def test_the_hosts_bpffs_gives_the_child_no_token(report):
    message = refused(report["token_from_host_bpffs"], errno.EPERM)
    assert "user namespace" in message


def test_a_token_allows_only_what_the_bpffs_delegates(xdp_pass):
    # A program type is allowed with its expected attach type. libbpf's load first loads a trivial
    # SOCKET_FILTER program (bpf_object__probe_loading, attach type 0: cgroup_inet_ingress); libbpf
    # gives SEC("xdp") the attach type BPF_XDP. BPF_PROG_TEST_RUN needs no delegation.
    seen = delegated("restricted", {"delegate_cmds": "map_create:prog_load:btf_load", "delegate_maps": "array",
                                    "delegate_progs": "xdp:socket_filter",
                                    "delegate_attachs": "cgroup_inet_ingress:xdp"}, obj=xdp_pass)
    assert seen["load"] == {"value": {"retval": XDP_PASS}}
    assert seen["delegated"] == {"commands": [0, 5, 18],  # BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_BTF_LOAD
                                 "map_types": [bpf.MapType.ARRAY], "prog_types": [bpf.ProgType.SOCKET_FILTER,
                                                                                  bpf.ProgType.XDP],
                                 "attach_types": [bpf.AttachType.CGROUP_INET_INGRESS, bpf.AttachType.XDP]}
    assert seen["delegated_names"]["prog_types"] == ["SOCKET_FILTER", "XDP"]
    assert seen["array"]["value"]["type"] == bpf.MapType.ARRAY
    refused(seen["hash"], errno.EPERM)


def test_a_bpffs_that_delegates_nothing_gives_no_token(xdp_pass):
    seen = delegated("undelegated", {}, obj=xdp_pass)
    assert "delegates nothing" in refused(seen["token"], errno.ENOENT)
    refused(seen["load"], errno.ENOENT)  # a token_path given must give a token


def test_a_token_outlives_its_operations_forks_and_threads(xdp_pass):
    seen = delegated("lifetime")
    # another thread's close() waited for the operation in flight, which still used the token
    assert seen["closed_during_operation"] is False
    assert seen["map_during_operation"]["value"]["value"] == 42
    assert seen["closed_after_operation"] is True
    # closed from the operation's own thread (a signal's handler): released, its number kept until the end
    assert seen["same_thread_closed"] is True
    assert seen["number_while_closed"] == "/"
    refused(seen["map_with_released_token"], errno.EBADF)
    assert seen["number_after_operation"] is False
    # a forked child closes its own copy only
    assert seen["forked_child_exit"] == 0
    assert seen["map_after_fork"]["value"]["value"] == 42
    assert "InvalidTypeError" in seen["pickled"]["raised"]
    assert seen["collected_closes"] is True


# in this (privileged) process: what Token.create refuses before and at the kernel ---------------------

@pytest.mark.parametrize("bad, error", [(3.5, bpf.InvalidTypeError), (True, bpf.InvalidTypeError),
                                        (None, bpf.InvalidTypeError), (-1, bpf.InvalidValueError),
                                        (1 << 40, bpf.InvalidValueError),
                                        ("a\0b", bpf.InvalidValueError)])
def test_token_create_refuses_bad_arguments(bad, error):
    with pytest.raises(error):
        Token.create(bad)


def test_a_token_is_made_only_by_create():
    with pytest.raises(bpf.InvalidTypeError, match="Token.create"):
        Token()


def test_the_initial_user_namespace_has_no_tokens(xdp_pass, bpffs):
    with pytest.raises(bpf.LibbpfError) as refusal:
        Token.create(bpffs)
    assert refusal.value.errno == errno.EOPNOTSUPP and "initial user namespace" in str(refusal.value)


def test_a_token_comes_from_the_root_of_a_bpffs(xdp_pass, bpffs, tmp_path):
    (bpffs / "sub").mkdir()
    for where in (tmp_path, bpffs / "sub"):
        with pytest.raises(bpf.LibbpfError) as refusal:
            Token.create(where)
        assert refusal.value.errno == errno.EINVAL and "root directory of a bpffs" in str(refusal.value)
    with pytest.raises(FileNotFoundError) as missing:
        Token.create(tmp_path / "missing")
    assert isinstance(missing.value, bpf.LibbpfError) and "missing" in str(missing.value)
    fd = os.open(tmp_path / "file", os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        with pytest.raises(NotADirectoryError) as not_dir:
            Token.create(fd)
        assert isinstance(not_dir.value, bpf.LibbpfError) and f"fd {fd}" in str(not_dir.value)
    finally:
        os.close(fd)


def test_an_older_libbpf_is_refused_before_anything_is_opened():
    lib = bpf.libbpf()
    if lib.version >= (1, 4):
        pytest.skip(f"libbpf {lib.version_string} has BPF tokens")
    with pytest.raises(bpf.LibbpfFeatureError, match="1.4"):
        Token.create("/does/not/exist")
