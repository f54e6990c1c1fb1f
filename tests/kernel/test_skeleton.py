"""Generated skeletons loaded for real: the same maps and programs as the object opened the usual
way, globals written through the skeleton seen by the program (BPF_PROG_TEST_RUN) and what the
program writes read back through it, auto-attach, and the lifecycle (load, close, ClosedError)."""

from __future__ import annotations

import importlib.util
import os
import uuid
from pathlib import Path
from types import ModuleType

import pytest

import libbpf_py as bpf
from libbpf_py.skeleton import generate


def skeleton_of(path: Path, directory: Path) -> ModuleType:
    """The skeleton generated for the object at ``path``, written to ``directory`` and imported."""
    module_path = directory / f"{path.stem}_skel.py"
    module_path.write_text(generate(path))
    spec = importlib.util.spec_from_file_location(f"{path.stem}_skel_{uuid.uuid4().hex}", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def skel_all(bpf_obj, tmp_path) -> ModuleType:
    return skeleton_of(bpf_obj("skel_all"), tmp_path)


def run(skel) -> int:
    return skel.progs.run.test_run(bytes(64)).retval


@pytest.mark.parametrize("name", ["skel_all", "globals", "maps", "events"])
def test_a_loaded_skeleton_has_the_maps_and_programs_of_the_object_loaded_the_usual_way(bpf_obj, tmp_path, name):
    module = skeleton_of(bpf_obj(name), tmp_path)
    with module.open_and_load() as skel, bpf.Object.open(bpf_obj(name)) as obj:
        obj.load()
        assert skel.loaded and list(skel.obj.maps) == list(obj.maps)
        for m in obj.maps.values():
            mine = skel.obj.maps[m.name]
            assert mine.info().spec == m.info().spec and mine.info().name == m.info().name
        assert list(skel.obj.programs) == list(obj.programs)
        for p in obj.programs.values():
            mine, info = skel.obj.programs[p.name].info(), p.info()
            assert (mine.type, mine.name, mine.tag) == (info.type, info.name, info.tag)


def test_every_named_map_and_program_is_the_objects(skel_all):
    with skel_all.open_and_load() as skel:
        pairs = [(skel.maps.class_, "class"), (skel.maps.class__, "class_"), (skel.maps._obj_, "_obj"),
                 (skel.maps.x__secret, "__secret"), (skel.progs.run, "run"), (skel.progs.def_, "def"),
                 (skel.progs.lambda_, "lambda")]
        for item, name in pairs:
            assert item.name == name and item.fd >= 0
        assert skel.maps.x__secret.info().type == bpf.MapType.RINGBUF
        assert skel.maps.bss.info().spec.value_size == len(bytes(skel.obj.globals.section(".bss")))


def test_globals_written_before_load_are_what_the_program_sees(skel_all):
    with skel_all.open() as skel:
        skel.rodata.threshold = 77
        skel.rodata.cfg = {"offset": -9, "label": b"a\0b"}
        skel.rodata.cfg.limit = 5      # in place: load() writes it back
        skel.rodata.cfg.inner.x = 9
        skel.rodata.greeting = "hey"
        skel.data.step = 3
        skel.data.tag = b"abcd"
        skel.data.from_ = {"from": 10, "to": 30}
        skel.data._touched_ = 1
        skel.data_extra.extra_count = 10
        skel.load()
        assert run(skel) == 1
        cfg = skel.bss.seen_cfg
        assert (skel.bss.counter, skel.bss.seen_threshold, skel.bss.seen_span) == (3, 77, 21)
        assert (cfg.limit, cfg.offset, cfg.label, cfg.inner.x, cfg.inner.y, cfg.low) == (5, -9, b"a\0b\0\0\0", 9, 2, 3)
        assert (skel.bss.seen_tag, skel.bss.seen_greeting) == (b"abcd\0", b"hey\0\0\0\0\0")
        assert skel.data_extra.extra_count == 12  # + extra_step (2)


def test_live_writes_reach_the_program_and_its_writes_read_back(skel_all):
    with skel_all.open_and_load() as skel:
        run(skel)
        skel.data.step = 10
        skel.data.enabled = False
        assert run(skel) == 0
        assert skel.bss.counter == 11 and list(skel.bss.hist) == [0, 1, 0, 0]
        skel.bss.hist[3] = 7  # the map's memory itself
        skel.bss.hist = [5]
        assert list(skel.obj.globals["hist"]) == [5, 0, 0, 0]
        assert skel.maps.class_[0] == (2).to_bytes(8, "little")  # counted by run() in the map named `class`
        assert skel.kconfig.LINUX_KERNEL_VERSION > 0
        with pytest.raises(bpf.ReadOnlyError):
            skel.rodata.threshold = 1
        with pytest.raises(bpf.ReadOnlyError):
            skel.rodata_extra.extra_step = 1
        assert skel.rodata.threshold == 10


def test_attach_attaches_what_libbpf_can_and_close_detaches(skel_all, tracefs):
    with skel_all.open_and_load() as skel:
        skel.bss.target_tgid = os.getpid()
        links = skel.attach()
        assert len(links) == 1 and skel.links == links  # def (a tracepoint); run (tc) and lambda (xdp) are not
        for _ in range(3):
            os.getppid()
        assert skel.bss.getppid_calls == 3
        skel.detach()
        os.getppid()
        assert skel.bss.getppid_calls == 3 and skel.links == []
        skel.attach()
    assert skel.closed and skel.links == []


def test_the_lifecycle_is_the_objects(skel_all):
    skel = skel_all.open()
    assert not skel.loaded and skel.load() is skel and skel.loaded
    with pytest.raises(bpf.LibbpfError, match="already loaded"):
        skel.load()
    skel.close()
    for get in (lambda: skel.maps.bss, lambda: skel.progs.run, lambda: skel.bss.counter, lambda: skel.attach()):
        with pytest.raises(bpf.ClosedError):
            get()


def test_a_failed_open_and_load_closes_the_object(skel_all, monkeypatch):
    opened = []
    original = skel_all.Skeleton.__init__

    def keep(self, obj):
        opened.append(obj)
        original(self, obj)

    monkeypatch.setattr(skel_all.Skeleton, "__init__", keep)
    with pytest.raises(bpf.InvalidValueError):
        skel_all.open_and_load(log_size=1 << 25)  # refused by Object.open: nothing opened
    assert opened == []
    monkeypatch.setattr(bpf.Object, "load", lambda self: (_ for _ in ()).throw(bpf.UsageError("stop")))
    with pytest.raises(bpf.UsageError, match="stop"):
        skel_all.open_and_load()
    assert opened and opened[0].closed


def test_globals_read_through_the_skeleton_are_the_usual_objects(bpf_obj, tmp_path):
    module = skeleton_of(bpf_obj("globals"), tmp_path)
    sections = {".data": "data", ".rodata": "rodata", ".data.custom": "data_custom", ".rodata.custom": "rodata_custom",
                ".bss": "bss"}
    settings = {"label": "xy", "limit": 2}
    with module.open() as skel, bpf.Object.open(bpf_obj("globals")) as obj:
        skel.rodata.threshold, skel.data.step, skel.rodata.settings = 4, 3, settings  # through the skeleton
        obj.globals.update(threshold=4, step=3, settings=settings)                     # by name
        skel.load()
        obj.load()
        for program in (skel.progs.tick, obj.programs["tick"]):
            for _ in range(3):
                program.test_run(bytes(64))
        assert set(obj.globals.sections) == set(sections)
        seen = []
        for section, attribute in sections.items():
            names = [n for n in vars(type(getattr(skel, attribute))) if not n.startswith("_")]
            for name in names:
                assert hasattr(obj.globals.section(section), name)
                mine, theirs = getattr(getattr(skel, attribute), name), obj.globals[name]
                assert (mine if isinstance(mine, int) else bytes(mine)) == \
                    (theirs if isinstance(theirs, int) else bytes(theirs)), name
            seen += names
        assert sorted(seen) == sorted(obj.globals)
        assert skel.bss.packets == 3 and skel.bss.last.label == b"xy\0\0\0\0" and skel.bss.seen_threshold == 4
