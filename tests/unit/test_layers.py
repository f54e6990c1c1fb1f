"""The package's layers: every import points down (type-only imports included), and nothing
imports in a circle. A new module must be given a layer here.

Each entry is a module or subpackage of libbpf_py; modules of a subpackage may import each
other (without a cycle), anything else only from a lower layer.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

import libbpf_py

PACKAGE = Path(libbpf_py.__file__).parent

LAYERS = [
    ("_abi", "_signals", "_version", "_libbpf_functions", "_syscalls"),  # nothing else of the package (generated)
    ("spec",),                                      # map shapes and their differences
    ("errors",),                                    # every exception (name spec's Difference)
    ("_checks", "_codec", "_fd", "elf"),            # argument checks, codecs, owned fds; ELF and BTF
    ("_log", "btf_ctypes"),                         # libbpf's print callback; BTF types
    ("_events",),                                   # what ring and perf buffers share
    ("_libbpf",),                                   # the one door to C
    ("_bpffs", "info", "token", "btf", "stats", "embedded"),  # bpffs; kernel reports; tokens; BTF; stats; in binaries
    ("_handle", "btf_values"),                      # what maps and programs share; values read through BTF
    ("links",),                                     # attachments (programs make them)
    ("netdev",),                                    # devices, clsact hooks, netlink attachments
    ("maps", "programs"),
    ("pinning", "hooks", "ringbuf", "perfbuf", "variables", "probe"),  # pins; hooks; buffers; globals; probes
    ("compat",),                                    # every old format: read, rewritten, its loader's semantics
    ("object",),
    ("iproute2", "linker"),                         # tc and ip as commands; libbpf's static linker
    ("query", "tracing"),                           # what is attached to a hook; what a tracing tool's user space needs
    ("tools",),                                     # compare with native tools; whatever is pinned, opened
    ("skeleton",),                                  # typed Python modules for objects (libbpf-py gen skeleton)
    ("cli",),
    ("__init__",),                                  # the public names
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def modules() -> Iterator[Tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield ".".join(parts), path


def imported(name: str, path: Path) -> Iterator[Tuple[str, int]]:
    """(module of the package, line) for every import statement in the file, at any depth."""
    package = name.split(".")[:-1]  # "pinning.session" and "pinning.__init__" -> ["pinning"]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("libbpf_py."):
                    yield alias.name[len("libbpf_py."):], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith("libbpf_py."):
                    yield node.module[len("libbpf_py."):], node.lineno
                continue
            base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
            if node.module:
                yield ".".join([*base, node.module]), node.lineno
            else:
                for alias in node.names:
                    yield ".".join([*base, alias.name]), node.lineno


def unit(module: str) -> str:
    return module.split(".")[0]


def test_every_module_has_a_layer():
    missing = {unit(name) for name, _ in modules()} - set(RANK)
    assert not missing, f"give these a layer in tests/unit/test_layers.py: {sorted(missing)}"


def test_imports_point_down():
    upward = []
    for name, path in modules():
        for target, line in imported(name, path):
            if unit(target) == unit(name):
                continue  # inside one subpackage (checked for cycles below)
            if RANK[unit(target)] >= RANK[unit(name)]:
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {target} "
                              f"(layer {RANK[unit(target)]}, not below {RANK[unit(name)]})")
    assert not upward, "\n".join(upward)


def test_no_import_circles():
    graph: Dict[str, Set[str]] = {}
    for name, path in modules():
        module = name[:-len(".__init__")] if name.endswith(".__init__") else name
        graph.setdefault(module, set()).update(target for target, _ in imported(name, path))
    state: Dict[str, int] = {}

    def visit(node: str, trail: Tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, "import circle: " + " -> ".join((*trail, node))
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if target in graph:
                visit(target, (*trail, node))
        state[node] = 2

    for module in sorted(graph):
        visit(module, ())
