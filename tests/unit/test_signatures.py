"""The signature table against the libbpf that is loaded (no kernel needed)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

import libbpf_py as bpf
from libbpf_py import _libbpf
from libbpf_py._libbpf import HOT, SIGNATURES, version_key


def test_table_versions_agree_with_the_loaded_library():
    lib = _libbpf.lib()
    for name, sig in {**SIGNATURES, **HOT}.items():
        assert len(version_key(sig.since)) == 3, name
        if version_key(sig.since)[:2] <= lib.version:
            assert lib.has(name), f"{name} claims libbpf {sig.since} but {lib.version_string} lacks it"


def test_declared_once_with_argtypes_and_hot_paths_without():
    lib = _libbpf.lib()
    fn = lib.bpf_map__max_entries
    assert fn is lib.bpf_map__max_entries  # cached: declared once
    assert fn.argtypes == SIGNATURES["bpf_map__max_entries"].argtypes
    hot = lib.bpf_map_lookup_elem
    assert hot.argtypes is None and hot.restype is ctypes.c_int and hot.errcheck is None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="not declared"):
        _libbpf.lib().bpf_not_in_the_table


def test_missing_symbol_says_which_version_has_it(monkeypatch):
    lib = _libbpf.lib()
    monkeypatch.setitem(SIGNATURES, "bpf_future_function", _libbpf.Sig(ctypes.c_int, (), None, "9.9.0"))
    with pytest.raises(bpf.LibbpfFeatureError, match=r"bpf_future_function: needs libbpf >= 9\.9\.0") as exc:
        lib.bpf_future_function()
    assert exc.value.needs == "9.9.0" and exc.value.loaded == lib.version_string
    lib.__dict__.pop("bpf_future_function", None)


@pytest.mark.skipif(_libbpf.lib().version >= (1, 2), reason="the loaded libbpf has the 1.2 info helpers")
def test_real_symbol_newer_than_the_loaded_library():
    with pytest.raises(bpf.LibbpfFeatureError, match=r"needs libbpf >= 1\.2\.0"):
        _libbpf.lib().bpf_map_get_info_by_fd(0, None, None)


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
