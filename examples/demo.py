"""A tour of libbpf_py: load a real object, use its maps, run its programs in the kernel.

Run as root after `make -C bpf_progs` (or just `make demo`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import libbpf_py as bpf

BUILD = Path(__file__).resolve().parent.parent / "bpf_progs" / "build"


def main() -> int:
    print(f"libbpf_py {bpf.__version__} on libbpf {bpf.libbpf_version_string()} ({bpf.library_path()})")

    with bpf.Object.open(BUILD / "maps.o") as obj:
        print(f"\nopened {obj.name}.o: {len(obj.maps)} maps, programs {list(obj.programs)}")
        obj.maps["hash_map"].max_entries = 4096  # edit the definition before load
        obj.load()
        for name in ("hash_map", "array_map", "queue"):
            info = obj.maps[name].info()
            print(f"  {name}: id {info.id}, {info.type.name}, max_entries {info.max_entries}")

        counts, totals = obj.maps["hash_map"], obj.maps["array_map"]
        for m in (counts, totals, obj.maps["queue"]):
            m.key_type = m.value_type = int
        counts[1000] = 41                                  # update from Python
        print(f"\nhash_map[1000] set from Python: {counts[1000]}")

        prog = obj.programs["count_packets"]
        for size in (64, 64, 128):
            result = prog.test_run(bytes(size))            # BPF_PROG_TEST_RUN
            print(f"count_packets on a {size}-byte packet: retval {result.retval}, {result.duration_ns} ns")
        print(f"  array_map: packets {totals[0]}, bytes {totals[1]}")
        print(f"  hash_map (packet length -> count): {dict(counts.items())}")
        print(f"  queue, popped in order: {[obj.maps['queue'].pop() for _ in range(3)]}")

    with bpf.Object.open(BUILD / "xdp_pass.o") as obj:
        obj.load()
        prog, stats = obj.programs["xdp_count"], obj.maps["xdp_stats"]
        stats.key_type = stats.value_type = int
        verdicts = {1: "XDP_DROP", 2: "XDP_PASS"}
        for packet in (bytes(60), b"\xff" + bytes(59)):
            retval = prog.test_run(packet).retval
            print(f"\nxdp_count on a packet starting {packet[:1].hex()}: {verdicts.get(retval, retval)}")
        print(f"  xdp_stats: packets {stats[0]}, bytes {stats[1]}; program tag {prog.info().tag}")

    with bpf.Object.open(BUILD / "verifier_reject.o") as obj:
        try:
            obj.load()
        except bpf.VerifierError as exc:
            print(f"\nverifier_reject.o was refused as expected: {exc.strerror}")
            print("  " + "\n  ".join(exc.log.strip().splitlines()[-2:]))

    # pins go to a private bpffs, mounted for the demo and gone afterwards
    mnt = tempfile.mkdtemp(prefix="libbpf_py-demo-")
    subprocess.run(["mount", "-t", "bpf", "bpf", mnt], check=True)
    try:
        pinning_and_legacy(Path(mnt))
    finally:
        subprocess.run(["umount", mnt], check=False)
        os.rmdir(mnt)
    return 0


def pinning_and_legacy(mnt: Path) -> None:
    policy = bpf.PinByName(mnt / "app")
    for attempt in (1, 2):
        with bpf.Object.open(BUILD / "pinned.o", pinning=policy) as obj:
            obj.load()
            counts = obj.maps["pinned_counts"]
            print(f"\npinned.o, load {attempt}: pinned_counts is map id {counts.info().id} at {counts.pin_path}"
                  + (" (reused)" if "pinned_counts" in obj.reused_maps else " (created)"))

    os.environ["TC_BPF_MNT"] = str(mnt)  # where tc's own layout goes, as with tc
    with bpf.Object.open(BUILD / "iproute2" / "global_ns.o") as obj:  # a legacy tc object
        obj.load()
        prog = obj.programs["cls_main"]
        print(f"\nlegacy tc object global_ns.o: program {prog.name} ({prog.info().type.name}), maps "
              + ", ".join(f"{m.name} -> {os.path.relpath(m.pin_path, mnt)}" for m in obj.maps.values()))
        for size in (60, 90):
            prog.test_run(bytes(size))
        stats = obj.maps["stats_global"]
        stats.key_type = stats.value_type = int
        print(f"  after two packets: stats_global = packets {stats[0]}, bytes {stats[1]}")


if __name__ == "__main__":
    sys.exit(main())
