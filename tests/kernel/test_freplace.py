"""freplace: bpf_progs/p2_freplace.c's p2_replacement (an extension program) replaces the
global function p2_pick of a loaded p2_target; BPF_PROG_TEST_RUN of the target returns the
replacement's 7 while the link lives and p2_pick's 1 after detach. Kernels that refuse
extension programs (as this one refuses fentry) make the test skip with the kernel's error."""

from __future__ import annotations

import errno

import pytest

import libbpf_py as bpf

PACKET = bytes(64)


@pytest.fixture
def target(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_freplace")) as obj:
        obj.programs["p2_replacement"].autoload = False
        obj.load()
        yield obj.programs["p2_target"]


@pytest.fixture
def extension(bpf_obj):
    with bpf.Object.open(bpf_obj("p2_freplace")) as obj:
        obj.programs["p2_target"].autoload = False
        yield obj


def load_extension(extension) -> None:
    try:
        extension.load()
    except PermissionError as exc:
        pytest.skip(f"this kernel refuses extension (freplace) programs even as root, as it refuses fentry: {exc}")


def test_an_extension_replaces_the_targets_function_while_attached(target, extension):
    assert target.test_run(PACKET).retval == 1
    replacement = extension.programs["p2_replacement"]
    replacement.set_attach_target(target, "p2_pick")
    load_extension(extension)
    assert replacement.info().type == bpf.ProgType.EXT
    with replacement.attach() as link:  # the target set before load
        assert link.info().type == bpf.LinkType.TRACING
        assert target.test_run(PACKET).retval == 7
    assert target.test_run(PACKET).retval == 1
    link = replacement.attach_freplace(target, "p2_pick")
    try:
        assert target.test_run(PACKET).retval == 7
    finally:
        link.detach()
    assert target.test_run(PACKET).retval == 1


def test_the_target_fd_is_kept_until_load(bpf_obj, extension):
    """The object keeps its own fd of the target: the target's object may close before the load."""
    with bpf.Object.open(bpf_obj("p2_freplace")) as other:
        other.programs["p2_replacement"].autoload = False
        other.load()
        extension.programs["p2_replacement"].set_attach_target(other.programs["p2_target"], "p2_pick")
    load_extension(extension)
    assert extension.programs["p2_replacement"].info().type == bpf.ProgType.EXT


def test_set_attach_target_is_checked(target, extension):
    replacement = extension.programs["p2_replacement"]
    with pytest.raises(bpf.LibbpfError) as exc:
        replacement.set_attach_target(target, "no_such_function")  # libbpf looks it up in the target's BTF
    assert exc.value.errno in (errno.ENOENT, errno.ESRCH)
    with pytest.raises(ValueError):
        replacement.set_attach_target(-1, "p2_pick")
    with pytest.raises(ValueError, match="NUL"):
        replacement.set_attach_target(target, "p2\0pick")
    with pytest.raises(bpf.LibbpfError) as exc:
        target.set_attach_target(None, "p2_pick")  # its object is loaded: too late
    assert exc.value.errno == errno.EBUSY
    with pytest.raises(bpf.LibbpfError) as exc:
        replacement.attach_freplace(target, "p2_pick")  # not loaded
    assert exc.value.errno == errno.EBADF
