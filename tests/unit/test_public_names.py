"""The package's public surface: every name the README and the documentation use resolves, in a
fresh interpreter, and every public name is in the API reference."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import libbpf_py as bpf
from libbpf_py import _abi

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# `bpf.X` and `bpf.X.Y` where bpf is the package (not libbpf.so or bpf_progs/)
_README_NAME = re.compile(r"(?<![\w/.])bpf((?:\.[A-Za-z_]\w*)+)")
# the modules whose __all__ is the public surface, each documented in docs/api/
PUBLIC_MODULES = ("libbpf_py", "libbpf_py.compat", "libbpf_py.iproute2", "libbpf_py.tools", "libbpf_py.elf",
                  "libbpf_py.query", "libbpf_py.probe", "libbpf_py.tracing")
_MODULE_DIRECTIVE = re.compile(r"^\.\. (?:auto)?(?:current)?module:: *([\w.]+) *$", re.M)
_OBJECT_DIRECTIVE = re.compile(r"^\.\. (?:auto)?(class|function|data|exception|attribute|method):: *([\w.]+)", re.M)


def pages() -> list:
    """The README and every page of docs/ (only the README where the tree has no docs/)."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.rst"))]


def readme_names() -> set:
    return {match.group(1)[1:] for page in pages() for match in _README_NAME.finditer(page.read_text())}


def test_every_name_the_readme_and_the_pages_use_resolves_in_a_fresh_interpreter():
    names = sorted(readme_names())
    assert "iproute2.open" in names and "Object.open" in names  # the pattern reads the README and the pages
    code = ("import json, sys, libbpf_py as bpf\n"
            "missing = []\n"
            "for dotted in json.loads(sys.argv[1]):\n"
            "    value = bpf\n"
            "    try:\n"
            "        for part in dotted.split('.'):\n"
            "            value = getattr(value, part)\n"
            "    except AttributeError as exc:\n"
            "        missing.append(f'{dotted}: {exc}')\n"
            "print(json.dumps(missing))\n")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(names)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_subpackages_resolve_without_a_prior_import():
    done = subprocess.run([sys.executable, "-c", "import libbpf_py as bpf; print(bpf.iproute2.open.__module__, "
                           "bpf.elf.ElfFile.__name__, bpf.ElfError.__name__, bpf.LegacyMapError.__name__)"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1:] == ["ElfFile", "ElfError", "LegacyMapError"]


def test_one_table_drives_all_dir_and_the_type_checking_imports():
    public = bpf._PUBLIC
    assert set(bpf.__all__) == set(public) | set(bpf._EAGER)
    assert dir(bpf) == bpf.__all__
    update_flags = {"BPF_ANY", "BPF_NOEXIST", "BPF_EXIST", "BPF_F_LOCK"}  # element operations' flags, by libbpf's names
    assert update_flags <= set(dir(bpf)), update_flags - set(dir(bpf))
    map_flags = {name for name in vars(_abi) if name.startswith("BPF_F_")} - update_flags
    assert not map_flags & set(dir(bpf)), "map flags have one name: bpf.MapFlags.X"
    assert all(getattr(bpf.MapFlags, name[len("BPF_F_"):]) == getattr(_abi, name) for name in map_flags
               if hasattr(bpf.MapFlags, name[len("BPF_F_"):]))
    tree = ast.parse(Path(bpf.__file__).read_text())  # the package under test, installed or not
    block = next(node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") ==
                 "TYPE_CHECKING")
    imported = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name}: re-export as `import X as X`"
                imported[alias.name] = node.module or alias.name
    assert imported == public
    for name, module in public.items():
        assert getattr(bpf, name) is not None, name
        assert module in ("elf", "iproute2", "_abi", "_libbpf") or module.isidentifier()


def test_help_never_shows_the_environment(monkeypatch):
    import pkgutil
    import pydoc

    secret = "libbpf-py-secret-7f3a9"
    monkeypatch.setenv("LIBBPF_PY_TEST_SECRET", secret)
    modules = [info.name for info in pkgutil.walk_packages(bpf.__path__, "libbpf_py.")]
    assert "libbpf_py.compat.iproute2_pins" in modules
    for name in modules:
        text = pydoc.render_doc(__import__(name, fromlist=["_"]), renderer=pydoc.plaintext)
        assert secret not in text, f"help({name}) shows the process environment"


@pytest.mark.skipif(sys.version_info < (3, 10), reason="X | None in annotations evaluates from Python 3.10")
def test_public_records_are_named_tuples_whose_type_hints_evaluate():
    """The records are typing's NamedTuples: tools that read their hints can."""
    import inspect
    import pickle
    import typing

    for record in (bpf.MapSpec, bpf.Difference, bpf.MapInfo, bpf.ProgInfo, bpf.TestRunResult):
        hints = typing.get_type_hints(record)
        assert list(hints) == list(record._fields), record
        assert list(inspect.signature(record).parameters) == list(record._fields)
    spec = bpf.MapSpec(bpf.MapType.HASH, 4, 8, 16, 0)
    assert pickle.loads(pickle.dumps(spec)) == spec and isinstance(spec, tuple)
    assert spec._replace(max_entries=32).max_entries == 32 and spec._asdict()["inner"] is None


def documented_names() -> dict:
    """{dotted name: page} of every module and object the API reference documents, each under the
    module its page's last ``module``/``currentmodule``/``automodule`` directive names."""
    found = {}
    for page in sorted((DOCS / "api").glob("*.rst")):
        text = page.read_text()
        events = sorted([(m.start(), "module", m.group(1)) for m in _MODULE_DIRECTIVE.finditer(text)] +
                        [(m.start(), "object", m.group(2)) for m in _OBJECT_DIRECTIVE.finditer(text)])
        module = None
        for _, kind, name in events:
            if kind == "module":
                module = name
                found[name] = page.name
            else:
                assert module is not None, f"{page.name}: {name} documented before any module directive"
                found[f"{module}.{name}"] = page.name
    return found


def public_names() -> set:
    names = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names |= {f"{module_name}.{name}" for name in module.__all__}
    return names


@pytest.fixture
def documented():
    if not (DOCS / "api").is_dir():
        pytest.skip("no docs/ in this tree (the installed-wheel run copies the tests and the README only)")
    return documented_names()


def test_every_public_name_is_in_the_api_reference(documented):
    """Each name of libbpf_py.__all__, and of compat's, iproute2's, tools' and elf's, has its entry
    (autodoc'd under the name a program uses: libbpf_py.Object, not libbpf_py.object.Object)."""
    assert "libbpf_py.Object" in documented and "libbpf_py.iproute2.open" in documented  # the reader reads
    missing = sorted(public_names() - set(documented))
    assert not missing, f"add these to docs/api/: {missing}"


def test_every_name_the_api_reference_documents_exists(documented):
    """A renamed or removed name leaves no stale entry (a hand-written ``.. data::`` included)."""
    stale = []
    for dotted in documented:
        if dotted in PUBLIC_MODULES:
            continue
        module_name, _, name = dotted.rpartition(".")
        assert module_name in PUBLIC_MODULES, f"{dotted}: documented under a module that is not public"
        if not hasattr(importlib.import_module(module_name), name):
            stale.append(dotted)
    assert not stale, f"no longer in the package: {stale}"
