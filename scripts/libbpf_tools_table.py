#!/usr/bin/env python3
"""Write docs/libbpf-tools.rst: each of Debian's libbpf-tools, whether its embedded object opens,
and whether the tool runs on this machine and loads what libbpf_py loads (libbpf_py.tools.native).

    sudo .venv/bin/python scripts/libbpf_tools_table.py   (tracefs mounted: /sys/kernel/tracing)

It runs every tool for a moment, as root. tests/kernel/test_libbpf_tools.py checks every "yes" of
the table's last column again; tests/unit/test_embedded.py that the table names every tool.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import libbpf_py as bpf  # noqa: E402
from libbpf_py.tools.native import compare_native  # noqa: E402

TOOLS = Path("/usr/sbin")
OUTPUT = ROOT / "docs" / "libbpf-tools.rst"
LIBC = next(line.split()[-1] for line in open("/proc/self/maps") if "/libc.so" in line)
ARGS = {"funclatency": [f"{LIBC}:getpid"]}  # what a tool needs to run at all (a uprobe: no kprobe here)


def tools() -> Dict[str, Tuple[Path, List[str]]]:
    """Tool name -> (its binary, the other names that link to it)."""
    found: Dict[str, Tuple[Path, List[str]]] = {}
    for path in sorted(TOOLS.iterdir()):
        if path.is_file() and not path.is_symlink() and bpf.embedded_objects(path):
            found[path.name] = (path, [])
    for path in sorted(TOOLS.iterdir()):
        if path.is_symlink() and os.readlink(path) in found:
            found[os.readlink(path)][1].append(path.name)
    return found


def why(sections: List[str], said: str) -> str:
    """Why a tool does not run here, from its programs' kinds and its last words."""
    kinds = {section.split("/")[0] for section in sections}
    if "attach" in said and kinds & {"kprobe", "kretprobe"}:
        return "attaches kprobes: this kernel has no kprobe PMU"
    if kinds & {"fentry", "fexit"} and "load" in said:
        return "fentry/fexit: this kernel refuses them (EPERM)"
    return f"the tool says: {said}"


def row(name: str, binary: Path) -> List[str]:
    found = bpf.embedded_object(binary)
    try:
        with bpf.Object.open(found.data, name=found.name) as obj:
            sections = [p.section or "" for p in obj.programs.values()]
            opens = f"yes ({len(obj.programs)} programs, {len(obj.maps)} maps)"
    except bpf.Error as exc:
        return [name, found.name, f"no: {exc}", "", "-"]
    args = ARGS.get(name, [])
    try:
        report = compare_native(str(binary), args, timeout=10)
    except bpf.Error as exc:
        said = str(exc).split(": ", 1)[-1].split("before its BPF was read: ")[-1]
        return [name, found.name, opens, "", f"does not run here: {why(sections, said)}"]
    ran = f"``{' '.join([name, *args])}``"
    return [name, found.name, opens, ran, "yes" if report.same else f"no: {len(report.differences)} differences"]


def main() -> int:
    rows = []
    for name, (binary, aliases) in tools().items():
        cells = row(name, binary)
        if aliases:
            cells[0] += f" ({', '.join(aliases)})"
        rows.append(cells)
        print(" | ".join(cells), flush=True)
    kernel = platform.release()
    text = [
        "Debian's libbpf-tools",
        "=====================",
        "",
        "Debian's ``libbpf-tools`` package (0.26, bookworm) installs BCC's libbpf tools: C programs built",
        "on libbpf skeletons, each with its BPF object compiled in. ``libbpf_py.embedded_objects()`` finds",
        "those objects; ``libbpf-py compare /usr/sbin/TOOL`` runs the tool, reads what it loaded from the",
        "kernel, stops it, loads its object with libbpf_py as the tool loaded it (the programs it chose,",
        "the maps it made and their sizes, its ``.rodata``) and compares both (:doc:`comparing`).",
        "",
        f"Measured on Linux {kernel} with scripts/libbpf_tools_table.py. *Same as native*: every program's",
        "type, tag and translated length, and every map's shape, equal; the test suite checks each \"yes\"",
        "again (``tests/kernel/test_libbpf_tools.py``). A tool that does not run here is left out of that",
        "column, with why; *Run here as* is the command each was compared with.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 14 14 18 20 34",
        "",
        "   * - Tool",
        "     - Object",
        "     - Opens",
        "     - Run here as",
        "     - Same as native",
    ]
    for cells in rows:
        text.append(f"   * - {cells[0]}")
        text += [f"     - {cell or '-'}" for cell in cells[1:]]
    ports = sorted((ROOT / "examples" / "tools").glob("*.py"))
    text += [
        "",
        "Python ports",
        "------------",
        "",
        "``examples/tools/`` holds Python ports of some of these tools: each opens the object embedded in",
        "the installed binary (:func:`libbpf_py.embedded_object`), sets the same ``.rodata`` from the same",
        "options, and prints what the C tool prints, with :mod:`libbpf_py.tracing` for what libbpf-tools'",
        "helpers give C (histograms, system call names). ``tests/kernel/test_tool_ports.py`` runs each beside",
        "the native tool on one workload, started and waiting before either attaches: events line by line",
        "where the output is deterministic, histogram totals where the workload's pid (or comm) filters",
        "them, the layout and the rows the native counted often where a tool is system-wide.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - Port",
        "     - Lines",
    ]
    for port in ports:
        text += [f"   * - ``examples/tools/{port.name}``", f"     - {len(port.read_text().splitlines())}"]
    OUTPUT.write_text("\n".join(text) + "\n")
    print(f"{OUTPUT.relative_to(ROOT)}: {len(rows)} tools")
    return 0


if __name__ == "__main__":
    sys.exit(main())
