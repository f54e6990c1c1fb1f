"""The signature table against the libbpf that is loaded (no kernel needed)."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import libbpf_py as bpf
from libbpf_py import _libbpf
from libbpf_py._libbpf import CHECKED, GIL, LIBC, RAW, SIGNATURES, version_key

PACKAGE = Path(bpf.__file__).parent
# receiver.name (lib.f, lib.raw.f, lib.gil.f, libc().f), and names passed as strings (setters)
_USE = re.compile(r"\.(\w+)|\"(\w+)\"")
_RECEIVER = re.compile(r"(\w+)(?:\(\))?$")
_RECEIVERS = {"raw": RAW, "gil": GIL, "lib": CHECKED, "_lib": CHECKED, "libc": CHECKED}


def test_table_versions_agree_with_the_loaded_library():
    lib = _libbpf.lib()
    for name, sig in SIGNATURES.items():
        assert len(version_key(sig.since)) == 3, name
        if version_key(sig.since)[:2] <= lib.version:
            assert lib.has(name), f"{name} claims libbpf {sig.since} but {lib.version_string} lacks it"
    for name, sig in LIBC.items():
        assert sig.since == "" and _libbpf.libc().has(name), name


def test_each_convention_declares_its_own_way():
    lib = _libbpf.lib()
    fn = lib.bpf_map__max_entries
    assert fn is lib.bpf_map__max_entries  # cached: declared once
    assert fn.argtypes == SIGNATURES["bpf_map__max_entries"].argtypes and fn.errcheck is not None or \
        SIGNATURES["bpf_map__max_entries"].check is None
    for fast in (lib.raw.bpf_map_update_elem, lib.gil.bpf_map_lookup_elem):
        assert fast.argtypes is None and fast.restype is ctypes.c_int and fast.errcheck is None
    assert isinstance(lib.gil._handle, ctypes.PyDLL) and not isinstance(lib.raw._handle, ctypes.PyDLL)


def test_a_row_is_called_only_the_way_it_declares():
    lib = _libbpf.lib()
    with pytest.raises(AttributeError, match=r"declared to be called as lib.raw.bpf_map_update_batch"):
        lib.bpf_map_update_batch
    with pytest.raises(AttributeError, match=r"lib.bpf_object__load"):
        lib.gil.bpf_object__load
    with pytest.raises(AttributeError, match="not a libbpf function"):
        _libbpf.lib().bpf_not_in_the_table


def test_every_row_is_used_and_every_call_site_matches_its_row():
    """No row that nothing calls; no call through a convention its row does not allow."""
    used = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_libbpf.py":
            continue
        text = path.read_text()
        for match in _USE.finditer(text):
            name, string = match.groups()
            before = _RECEIVER.search(text, max(0, match.start() - 40), match.start())
            receiver = before.group(1) if before and name else None
            sig = SIGNATURES.get(name or string) or LIBC.get(name or string)
            if sig is None:
                continue
            used.add(name or string)
            how = _RECEIVERS.get(receiver)
            if how is not None:  # a receiver that names its convention (not a variable holding one)
                assert sig.how & how, f"{path.name}: {name} called through {receiver}"
    unused = (set(SIGNATURES) | set(LIBC)) - used - {"libbpf_major_version", "libbpf_minor_version",
                                                      "libbpf_version_string", "libbpf_set_print", "vsnprintf"}
    assert not unused, f"rows that nothing calls: {sorted(unused)}"


def test_missing_symbol_says_which_version_has_it(monkeypatch):
    lib = _libbpf.lib()
    monkeypatch.setitem(SIGNATURES, "bpf_future_function", _libbpf.Sig(ctypes.c_int, (), None, "9.9.0"))
    with pytest.raises(bpf.LibbpfFeatureError, match=r"bpf_future_function: needs libbpf >= 9\.9\.0") as exc:
        lib.bpf_future_function()
    assert exc.value.needs == "9.9.0" and exc.value.loaded == lib.version_string
    lib._checked.__dict__.pop("bpf_future_function", None)
    lib.__dict__.pop("bpf_future_function", None)


@pytest.mark.skipif(_libbpf.lib().version >= (1, 3), reason="the loaded libbpf has bpf_program__attach_tcx (1.3)")
def test_real_symbol_newer_than_the_loaded_library(monkeypatch):
    lib = _libbpf.lib()
    monkeypatch.setitem(SIGNATURES, "bpf_program__attach_tcx",
                        _libbpf.Sig(ctypes.c_void_p, (ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p), None, "1.3.0"))
    with pytest.raises(bpf.LibbpfFeatureError, match=r"needs libbpf >= 1\.3\.0"):
        lib.bpf_program__attach_tcx(None, 0, None)
    lib._checked.__dict__.pop("bpf_program__attach_tcx", None)
    lib.__dict__.pop("bpf_program__attach_tcx", None)


def test_version_comes_from_the_library():
    lib = _libbpf.lib()
    major = ctypes.CDLL(lib.path).libbpf_major_version
    major.restype = ctypes.c_uint32
    assert bpf.libbpf_version() == lib.version and bpf.libbpf_version()[0] == major()
    assert bpf.libbpf_version_string().startswith(f"v{lib.version[0]}.{lib.version[1]}")
    assert os.path.exists(bpf.library_path())


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def test_explicit_library_path_is_used_and_a_bad_one_explained():
    real = bpf.library_path()
    done = _run("import libbpf_py; print(libbpf_py.library_path())", LIBBPF_PY_LIBRARY=real)
    assert done.returncode == 0 and done.stdout.strip() == os.path.realpath(real)
    bad = _run("import libbpf_py; libbpf_py.libbpf_version()", LIBBPF_PY_LIBRARY="/nonexistent/libbpf.so.1")
    assert bad.returncode != 0
    assert "LIBBPF_PY_LIBRARY" in bad.stderr and "FileNotFoundError" in bad.stderr


def test_import_is_lazy():
    done = _run("import sys, libbpf_py; print('ctypes' in sys.modules, 'libbpf_py.object' in sys.modules)")
    assert done.stdout.split() == ["False", "False"]
