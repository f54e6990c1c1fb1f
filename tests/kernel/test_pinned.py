"""open_pinned and walk_pinned: whatever is pinned (map, program, link), opened as its own kind."""

from __future__ import annotations

import pytest

import libbpf_py as bpf
from libbpf_py.tools import open_pinned, walk_pinned


def test_each_kind_opens_as_itself_and_the_walk_lists_every_pin(bpf_obj, bpffs):
    with bpf.Object.open(bpf_obj("attach")) as obj:
        obj.load()
        obj.maps["counts"].pin(bpffs / "m")
        (bpffs / "sub").mkdir()
        obj.programs["raw_tp_getpid"].pin(bpffs / "sub" / "p")
        with obj.programs["raw_tp_getpid"].attach() as link:
            link.pin(bpffs / "sub" / "l")
            for name, cls in (("m", bpf.Map), ("sub/p", bpf.Program), ("sub/l", bpf.Link)):
                with open_pinned(bpffs / name) as handle:
                    assert isinstance(handle, cls)
            walked = [(path, kind, handle.info().id) for path, kind, handle in walk_pinned(bpffs)]
            assert walked == [(str(bpffs / "m"), "map", obj.maps["counts"].info().id),
                              (str(bpffs / "sub" / "l"), "link", link.info().id),
                              (str(bpffs / "sub" / "p"), "prog", obj.programs["raw_tp_getpid"].info().id)]
            link.unpin()
        (bpffs / "m").unlink()
        (bpffs / "sub" / "p").unlink()


def test_what_is_not_a_pin_is_refused_and_skipped(bpffs, tmp_path):
    with pytest.raises(OSError):
        open_pinned(bpffs / "maps.debug")  # bpffs' own file: not a pin
    with pytest.raises(OSError):
        open_pinned(tmp_path)
    assert list(walk_pinned(bpffs)) == []
