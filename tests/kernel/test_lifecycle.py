"""Maps, programs and objects across their lifecycle, where a review of the state types found
bugs: a signal's handler closing the object inside one of its own operations, two threads taking
the object's and a map's locks, a fork in the middle of a load, an object dropped while its map
is kept, and what bad input raises."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import libbpf_py as bpf

HANDLER_CLOSES_INSIDE = r"""
import os, signal, sys
import libbpf_py as bpf

operation, path = sys.argv[1], sys.argv[2]
obj = bpf.Object.open(path)
m = next(m for m in obj.maps.values() if m.pin_path)  # LIBBPF_PIN_BY_NAME: libbpf's pin path is read
signal.signal(signal.SIGUSR1, lambda *_: obj.close())
marker = {"pin_path": "bpf_map__pin_path(", "edit": "_apply(self._ptr", "btf": "btf__raw_data("}[operation]

def tracer(frame, event, arg):  # the handler runs at the bytecode before libbpf's call, as a signal's would
    if event == "call":
        return tracer if "libbpf_py" in frame.f_code.co_filename else None
    if event == "line":
        import linecache
        if marker in linecache.getline(frame.f_code.co_filename, frame.f_lineno):
            sys.settrace(None)
            frame.f_trace = None
            os.kill(os.getpid(), signal.SIGUSR1)
    return tracer

sys.settrace(tracer)
try:
    if operation == "pin_path":
        result = m.pin_path
    elif operation == "edit":
        m.max_entries = 64
        result = "edited"
    else:
        result = obj.btf["struct record"].__name__
except bpf.Error as exc:
    result = type(exc).__name__
sys.settrace(None)
print(obj.closed, result)
"""


@pytest.mark.parametrize("operation", ["pin_path", "edit", "btf"])
def test_a_handler_that_closes_the_object_inside_its_own_operation_frees_it_only_after(bpf_obj, operation):
    """libbpf's object is freed when that operation is done (freed memory filled by
    MALLOC_PERTURB_, so a read of it would show: it crashed, or answered garbage)."""
    env = {**os.environ, "MALLOC_PERTURB_": "165", "PYTHONPATH": str(Path(bpf.__file__).parent.parent)}
    path = bpf_obj("btf_values" if operation == "btf" else "pinned")
    if operation == "btf":  # (btf_values.o pins nothing: the handler needs no pin path there)
        code = HANDLER_CLOSES_INSIDE.replace("next(m for m in obj.maps.values() if m.pin_path)", "None")
    else:
        code = HANDLER_CLOSES_INSIDE
    done = subprocess.run([sys.executable, "-c", code, operation, str(path)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    closed, result = done.stdout.split()
    assert closed == "True"
    assert result in {"pin_path": ("/sys/fs/bpf/pinned_counts",), "edit": ("edited",),
                      "btf": ("record", "ClosedError")}[operation], result


def test_closing_the_object_while_another_thread_types_its_map_from_btf_never_deadlocks(bpf_obj):
    """The object's close takes its own lock, then each map's; typing a map from the object's
    BTF took the map's, then the object's. Now it asks the object after letting its map go."""
    for _ in range(50):
        obj = bpf.Object.open(bpf_obj("btf_values"))
        obj.btf
        m = obj.maps["records"]
        stop = threading.Event()

        def typer(m=m, stop=stop) -> None:
            while not stop.is_set():
                try:
                    m.key_type = "btf"
                except bpf.ClosedError:
                    return

        worker = threading.Thread(target=typer, daemon=True)
        worker.start()
        closer = threading.Thread(target=obj.close, daemon=True)
        closer.start()
        closer.join(10)
        stop.set()
        worker.join(10)
        assert not closer.is_alive() and not worker.is_alive(), "close() and key_type='btf' deadlocked"


def test_a_child_forked_during_another_threads_load_can_close_and_use_its_copy(bpf_obj):
    code = r"""
import os, sys, threading, warnings
import libbpf_py as bpf
from libbpf_py import hooks

entered, release = threading.Event(), threading.Event()

class Slow(hooks.ObjectHooks):
    def loaded(self, obj):  # the load holds the object's lock while this runs
        entered.set()
        release.wait(10)

obj = bpf.Object.open(sys.argv[1], hooks=[Slow()])
loader = threading.Thread(target=obj.load)
loader.start()
entered.wait(10)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    pid = os.fork()
if pid == 0:
    m = obj.maps["hash_map"]
    print(m.max_entries, flush=True)   # the item's lock: fresh in the child
    obj.close()                        # the object's lock: fresh too, and the load is over here
    os._exit(0 if obj.closed else 1)
_, status = os.waitpid(pid, 0)
release.set()
loader.join(10)
obj.close()
print(os.waitstatus_to_exitcode(status))
"""
    done = subprocess.run([sys.executable, "-c", code, str(bpf_obj("maps"))], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(bpf.__file__).parent.parent)}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "0", done.stdout


def test_a_map_kept_after_its_object_is_dropped_types_itself_from_the_kernels_btf(bpf_obj):
    import gc

    obj = bpf.Object.open(bpf_obj("btf_values"))
    obj.load()
    m = obj.maps["records"]
    del obj
    gc.collect()
    m.key_type = m.value_type = "btf"
    assert (m.key_type.__name__, m.value_type.__name__) == ("key", "record")
    del m  # (the fds go with the last item kept)
    unloaded = bpf.Object.open(bpf_obj("btf_values"))
    kept = unloaded.maps["records"]
    del unloaded
    gc.collect()
    with pytest.raises(bpf.ClosedError, match="dropped before it loaded"):
        kept.key_type = "btf"
    del kept
    gc.collect()


def test_only_a_maps_pin_path_is_set_before_load(bpf_obj, bpffs):
    with bpf.Object.open(bpf_obj("maps")) as obj:
        with pytest.raises(AttributeError, match="no setter|can.t set attribute"):  # (3.9 and 3.10: the latter)
            obj.programs["count_packets"].pin_path = str(bpffs / "p")
        obj.maps["hash_map"].pin_path = str(bpffs / "hash_map")
        assert obj.maps["hash_map"].pin_path == str(bpffs / "hash_map")


def test_bad_input_raises_the_packages_errors(bpf_obj, tmp_path):
    from libbpf_py.tools import compare

    with bpf.Object.open(bpf_obj("maps")) as obj:
        with pytest.raises(bpf.KeyNotFoundError, match="no map named 'missing'; there are 'array_map'"):
            obj.maps["missing"]
        with pytest.raises(bpf.KeyNotFoundError, match="no program named 'x'"):
            obj.programs["x"]
        with pytest.raises(bpf.InvalidTypeError, match="path must be a str"):
            obj.maps["hash_map"].pin_path = 123
        with pytest.raises(bpf.InvalidTypeError, match="a PerfBuffer reads a Map, not int"):
            bpf.PerfBuffer(5)
    with pytest.raises(bpf.KeyNotFoundError, match="no global variable named 'nope'"):
        with bpf.Object.open(bpf_obj("globals")) as obj:
            obj.globals["nope"]
    with pytest.raises(bpf.LibbpfError) as bad_fd:
        bpf.Map.from_fd(999)
    assert bad_fd.value.errno == 9  # EBADF
    with pytest.raises(bpf.InvalidTypeError, match="inner_map takes a live Map"):
        bpf.Map.create(bpf.MapType.ARRAY_OF_MAPS, 4, 4, 1, inner_map=5)
    with pytest.raises(bpf.InvalidTypeError, match="hooks takes"):
        bpf.Object.open(bpf_obj("maps"), hooks=5)
    with pytest.raises(bpf.InvalidTypeError, match="pinning takes a PinPolicy"):
        bpf.Object.open(bpf_obj("maps"), pinning=5)
    with pytest.raises(bpf.InvalidTypeError, match="pin root must be a str"):
        bpf.PinByName(5)
    with pytest.raises(bpf.LibbpfError, match="is a directory"):
        bpf.Object.open(tmp_path, compat="none", check_btf=False)
    with pytest.raises(FileNotFoundError) as missing:
        compare(str(tmp_path / "missing.o"))
    assert isinstance(missing.value, bpf.LibbpfError)
