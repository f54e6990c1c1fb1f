"""The ``libbpf-py`` command: which libbpf is used, what an object holds, run a program once."""

from __future__ import annotations

import argparse
import json
import sys

TYPE_CHECKING = False  # typing is imported by the type checker only (see _typing.py)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional


def _version(args: argparse.Namespace) -> int:
    import libbpf_py as bpf

    print(f"libbpf_py {bpf.__version__}")
    print(f"libbpf {bpf.libbpf_version_string()} ({bpf.library_path()})")
    return 0


def _describe(obj: Any) -> Dict[str, Any]:
    maps = [{"name": m.name, "type": getattr(m.type, "name", m.type), "key_size": m.key_size,
             "value_size": m.value_size, "max_entries": m.max_entries, "flags": m.flags}
            for m in obj.maps.values()]
    programs = [{"name": p.name, "section": p.section, "type": getattr(p.type, "name", p.type),
                 "instructions": p.insn_count} for p in obj.programs.values()]
    return {"object": obj.name, "maps": maps, "programs": programs}


def _inspect(args: argparse.Namespace) -> int:
    import libbpf_py as bpf

    with bpf.Object.open(args.object) as obj:
        described = _describe(obj)
    if args.json:
        json.dump(described, sys.stdout, indent=2)
        print()
        return 0
    print(f"object {described['object']}")
    for m in described["maps"]:
        print(f"  map {m['name']}: {m['type']} key {m['key_size']} value {m['value_size']} "
              f"max_entries {m['max_entries']} flags {m['flags']:#x}")
    for p in described["programs"]:
        print(f"  program {p['name']}: {p['type']} section {p['section']} ({p['instructions']} insns)")
    return 0


def _run(args: argparse.Namespace) -> int:
    import libbpf_py as bpf

    data = bytes.fromhex(args.data_hex) if args.data_hex else b""
    if args.data_file:
        with open(args.data_file, "rb") as f:
            data = f.read()
    # a test run pins nothing unless asked: pin_root= pins as the object's format says, under DIR
    options: Dict[str, Any] = {"pin_root": args.pin_root} if args.pin_root else {"pinning": bpf.PinPolicy()}
    with bpf.Object.open(args.object, **options) as obj:
        if args.program not in obj.programs:
            print(f"no program {args.program!r}; the object has {sorted(obj.programs)}", file=sys.stderr)
            return 2
        if obj.hooks:  # loaded as an old tool loads it (the shim chose the load set: tail calls too)
            obj.programs[args.program].autoload = True
        else:
            for name, prog in obj.programs.items():
                prog.autoload = name == args.program
        obj.load()
        result = obj.programs[args.program].test_run(data, repeat=args.repeat)
    print(json.dumps({"retval": result.retval, "duration_ns": result.duration_ns,
                      "data_out": result.data.hex()}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="libbpf-py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="libbpf_py's version and the libbpf it loads").set_defaults(func=_version)
    inspect = sub.add_parser("inspect", help="list an object's maps and programs without loading it")
    inspect.add_argument("object")
    inspect.add_argument("--json", action="store_true")
    inspect.set_defaults(func=_inspect)
    run = sub.add_parser("run", help="load one program of an object and run it with BPF_PROG_TEST_RUN")
    run.add_argument("object")
    run.add_argument("program")
    run.add_argument("--data-hex", help="packet bytes as hex")
    run.add_argument("--data-file", help="file holding the packet bytes")
    run.add_argument("--repeat", type=int, default=1)
    run.add_argument("--pin-root", metavar="DIR", help="pin maps as the object asks, under DIR (default: pin nothing)")
    run.set_defaults(func=_run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (OSError, ValueError) as exc:  # LibbpfError is an OSError
        print(f"libbpf-py: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
