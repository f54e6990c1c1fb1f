"""The libbpf-py command against the kernel, in a private mount namespace whose /sys/fs/bpf is
a fresh bpffs: what the command leaves on the real bpffs path is what a user would find."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PACKET = "00" * 64


def in_private_bpffs(*commands: str) -> str:
    """Run shell ``commands`` where /sys/fs/bpf is a new bpffs; print what it holds afterwards."""
    script = " && ".join(["mount -t bpf bpf /sys/fs/bpf", *commands,
                          "echo TREE", "cd /sys/fs/bpf", "find . -mindepth 1 | sort"])
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def tree(output: str) -> set:
    listed = output.split("TREE\n", 1)[1].split()
    return {entry[2:] for entry in listed} - {"maps.debug", "progs.debug"}


@pytest.mark.parametrize("name, program", [("pinned", "pin_count"), ("iproute2/global_ns", "cls_main")])
def test_run_pins_nothing_unless_asked(bpf_obj, name, program):
    cli = f"{sys.executable} -m libbpf_py.cli run {bpf_obj(name)} {program} --data-hex {PACKET}"
    output = in_private_bpffs(cli)
    assert json.loads(output.split("\n", 1)[0])["retval"] is not None
    assert tree(output) == set()


def test_run_pins_under_the_root_it_is_given(bpf_obj):
    run = f"{sys.executable} -m libbpf_py.cli run {{}} {{}} --data-hex {PACKET} --pin-root /sys/fs/bpf/mine"
    output = in_private_bpffs("mkdir /sys/fs/bpf/mine", run.format(bpf_obj("pinned"), "pin_count"),
                              run.format(bpf_obj("iproute2/global_ns"), "cls_main"))
    found = tree(output)
    assert "mine/pinned_counts" in found and "mine/not_pinned" not in found    # as LIBBPF_PIN_BY_NAME asks
    assert {"mine/tc/globals", "mine/xdp", "mine/ip"} <= found                  # tc's layout, under the root
    assert any(entry.startswith("mine/tc/globals/") for entry in found)
    assert all(entry.startswith("mine") for entry in found)


def cli(*args: str) -> dict:
    """``libbpf-py ARGS --json`` in this process's namespaces, its JSON answer."""
    done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", *args, "--json"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_load_pins_programs_and_maps_like_bpftool_loadall(bpf_obj, bpffs):
    loaded = cli("load", str(bpf_obj("attach")), "--pin-dir", str(bpffs / "attach"), "--pin-maps")
    names = {p["name"] for p in loaded["programs"]}
    assert "raw_tp_getpid" in names and (bpffs / "attach" / "raw_tp_getpid").exists()
    assert {m["name"] for m in loaded["maps"]} == {"counts", "target_tgid"}
    assert (bpffs / "attach" / "maps" / "counts").exists()


def test_attach_pins_a_link_that_outlives_the_command_and_detach_ends_it(bpf_obj, bpffs):
    import os

    import libbpf_py as bpf

    cli("load", str(bpf_obj("attach")), "--pin-dir", str(bpffs / "a"), "--pin-maps")
    attached = cli("attach", "auto", f"{bpf_obj('attach')}:raw_tp_getpid", "--pin-link", str(bpffs / "link"))
    assert attached["type"] == "RAW_TRACEPOINT" and attached["pinned"] == str(bpffs / "link")
    assert attached["id"] in {record["id"] for record in cli("link", "show")}
    # the command is gone: the pinned link is still there
    with bpf.Link.from_pinned(bpffs / "link") as link:
        assert link.info().id == attached["id"]
    detached = cli("detach", str(bpffs / "link"))
    assert detached["detached"] and not (bpffs / "link").exists()
    assert attached["id"] not in {record["id"] for record in cli("link", "show")}
    assert os.path.exists(bpffs / "a" / "raw_tp_getpid")


def test_attach_xdp_from_a_pinned_program(bpf_obj, bpffs):
    from support import inside, needs_pyroute2, netns_pair

    needs_pyroute2()

    cli("load", str(bpf_obj("attach")), "--pin-dir", str(bpffs / "a"))
    with netns_pair() as (_, (ns_rx, dev_rx)):
        done = subprocess.run(["nsenter", f"--net=/run/netns/{ns_rx}", sys.executable, "-m", "libbpf_py.cli",
                               "attach", "xdp", str(bpffs / "a" / "xdp_drop_udp"), "--dev", dev_rx, "--pin-link",
                               str(bpffs / "xdp_link"), "--json"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        record = json.loads(done.stdout)
        with inside(ns_rx):
            import socket

            assert record["type"] == "XDP" and record["ifindex"] == socket.if_nametoindex(dev_rx)
        cli("detach", str(bpffs / "xdp_link"))


def test_cli_errors_are_one_line(bpffs):
    done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", "detach", str(bpffs / "nothing")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and done.stderr.startswith("libbpf-py:")


def test_a_load_that_fails_midway_leaves_no_pins(bpf_obj, bpffs):
    (bpffs / "a").mkdir()
    (bpffs / "a" / "raw_tp_getpid_other").mkdir()  # in the way of one program's pin
    done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", "load", str(bpf_obj("attach")), "--pin-dir",
                           str(bpffs / "a")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert [p.name for p in (bpffs / "a").iterdir()] == ["raw_tp_getpid_other"]


@pytest.mark.parametrize("args", [["attach", "auto", "OBJ:no_such_program"], ["attach", "auto", "OBJ:"],
                                  ["load", "OBJ", "--pin-dir", "DIR", "--type", "bogus"]])
def test_bad_arguments_are_one_line_errors(bpf_obj, bpffs, args):
    argv = [a.replace("OBJ", str(bpf_obj("attach"))).replace("DIR", str(bpffs / "d")) for a in args]
    done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and done.stderr.startswith("libbpf-py:"), done.stderr


def fail(*args: str) -> str:
    """``libbpf-py ARGS`` that must fail with one line on stderr; that line."""
    done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and done.stderr.startswith("libbpf-py:"), done
    return done.stderr


@pytest.fixture
def filled(bpf_obj, bpffs):
    """btf_values.o loaded with its maps pinned (underscores for dots, as bpftool), its program run once."""
    import libbpf_py as bpf

    loaded = cli("load", str(bpf_obj("btf_values")), "--pin-dir", str(bpffs / "v"), "--pin-maps")
    with bpf.Program.from_pinned(bpffs / "v" / "fill") as program:
        assert program.test_run(bytes(64)).retval == 0
    return loaded, bpffs / "v"


def test_show_pinned_names_each_pin_with_what_the_kernel_holds(filled):
    loaded, root = filled
    shown = {record["pin"]: record for record in cli("show", "--pinned", str(root))}
    program = shown[str(root / "fill")]
    assert program["kind"] == "prog" and program["type"] == "SCHED_CLS" and program["id"] == loaded["programs"][0]["id"]
    maps = {m["name"]: m for m in loaded["maps"]}
    assert shown[str(root / "maps" / "records")]["id"] == maps["records"]["id"]
    rodata = [m for m in maps.values() if m["name"].endswith(".rodata")][0]
    assert rodata["pinned"] == str(root / "maps" / rodata["name"].replace(".", "_"))  # as bpftool pins it
    assert set(program["map_ids"]) == {m["id"] for m in maps.values()}


def test_show_lists_the_kernels_programs_and_maps(filled):
    loaded, _ = filled
    shown = cli("show")
    assert loaded["programs"][0]["id"] in {p["id"] for p in shown["programs"]}
    assert {m["id"] for m in loaded["maps"]} <= {m["id"] for m in shown["maps"]}


def bpftool_formatted(pin) -> list:
    done = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", str(pin)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [entry["formatted"] for entry in json.loads(done.stdout)]


def as_bpftool_prints(value, bits=None):
    """Our decoding as bpftool writes it: anonymous members nested under "", bitfields unsigned hex."""
    if isinstance(value, dict):
        out = {k: as_bpftool_prints(v, {"small": 3, "negative": 5, "flag": 1}.get(k)) for k, v in value.items()}
        union = {k: out.pop(k) for k in ("as_u32", "as_bytes") if k in out}
        return {**out, "": union} if union else out
    if isinstance(value, list):
        return [as_bpftool_prints(v) for v in value]
    if bits:
        return hex(value & ((1 << bits) - 1))
    return value


def test_map_dump_decodes_as_bpftool_does(filled):
    pytest.importorskip("shutil").which("bpftool") or pytest.skip("bpftool is not installed")
    _, root = filled
    records = cli("map", "dump", str(root / "maps" / "records"))
    assert records[0]["value"]["negative"] == -7 and records[0]["value"]["color"] == "BLUE"
    theirs = bpftool_formatted(root / "maps" / "records")
    assert [{"key": r["key"], "value": as_bpftool_prints(r["value"])} for r in records] == theirs
    per_cpu = cli("map", "dump", str(root / "maps" / "per_cpu"))
    assert [{"key": r["key"], "values": [{"cpu": i, "value": v} for i, v in enumerate(r["value"])]}
            for r in per_cpu] == bpftool_formatted(root / "maps" / "per_cpu")


def test_map_update_lookup_delete_by_json_and_by_hex(filled):
    _, root = filled
    records = str(root / "maps" / "records")
    key = '{"ifindex": 2, "port": 443, "proto": 17}'
    cli("map", "update", records, key, '{"name": "udp", "color": "GREEN", "negative": -1, "counts": [9]}',
        "--flags", "noexist")
    found = cli("map", "lookup", records, key)[0]
    assert found["key"] == {"ifindex": 2, "port": 443, "proto": 17, "pad": 0}
    assert (found["value"]["name"], found["value"]["color"], found["value"]["negative"]) == ("udp", "GREEN", -1)
    assert found["value"]["counts"] == [9, 0, 0]
    assert "File exists" in fail("map", "update", records, key, "{}", "--flags", "noexist")
    hex_key = "02000000 bb01 11 00"
    assert cli("map", "lookup", records, hex_key, "--hex")[0]["key"] == "02 00 00 00 bb 01 11 00"
    assert cli("map", "delete", records, key)[0]["deleted"]
    assert "no element" in fail("map", "lookup", records, key)
    assert "no member 'bogus'" in fail("map", "lookup", records, '{"bogus": 1}')
    assert "8 bytes" in fail("map", "lookup", records, "01", "--hex")


def test_map_by_id_and_per_cpu_update(filled):
    loaded, root = filled
    per_cpu_id = {m["name"]: m["id"] for m in loaded["maps"]}["per_cpu"]
    cli("map", "update", str(per_cpu_id), "1", "-5")
    assert cli("map", "lookup", str(per_cpu_id), "1")[0]["value"] == [-5] * len(cli("map", "dump", str(per_cpu_id))[0]
                                                                             ["value"])


def test_attach_tracepoint_kprobe_and_cgroup_by_name(bpf_obj, bpffs, tracefs, cgroup):
    import os

    obj = str(bpf_obj("attach"))
    tp = cli("attach", "tracepoint", f"{obj}:tp_getppid", "--tp", "syscalls:sys_enter_getppid", "--pin-link",
             str(bpffs / "tp"))
    assert tp["type"] == "PERF_EVENT" and (bpffs / "tp").exists()
    cli("detach", str(bpffs / "tp"))
    cg = cli("attach", "cgroup", f"{obj}:cgroup_egress", "--cgroup", str(cgroup), "--pin-link", str(bpffs / "cg"))
    assert cg["type"] == "CGROUP" and cg["attach_type"] == "CGROUP_INET_EGRESS"
    assert cg["cgroup_id"] == os.stat(cgroup).st_ino
    cli("detach", str(bpffs / "cg"))
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        return
    assert "bpf_program__attach_kprobe" in fail("attach", "kprobe", f"{obj}:raw_tp_getpid", "--func",
                                                "do_sys_openat2")
    assert "needs --func" in fail_usage("attach", "kprobe", f"{obj}:raw_tp_getpid")


def fail_usage(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done
    return done.stderr


def test_map_dump_of_global_data_shows_variables_by_name(bpf_obj, bpffs):
    cli("load", str(bpf_obj("globals")), "--pin-dir", str(bpffs / "g"), "--pin-maps")
    maps = {p.name.split("_", 1)[1]: p for p in (bpffs / "g" / "maps").iterdir()}
    assert cli("map", "dump", str(maps["rodata"]))[0]["value"] == {
        "threshold": 10, "settings": {"limit": 100, "offset": -5, "label": "base", "mode": "MODE_ALL"}}
    assert cli("map", "dump", str(maps["data"]))[0]["value"] == {"step": 1, "current_mode": "MODE_COUNT"}


def test_maps_without_keys_and_hostile_input_are_one_line_errors(bpf_obj, bpffs):
    cli("load", str(bpf_obj("maps")), "--pin-dir", str(bpffs / "m"), "--pin-maps")
    assert "queue" in fail("map", "dump", str(bpffs / "m" / "maps" / "queue")).lower()
    cli("load", str(bpf_obj("btf_values")), "--pin-dir", str(bpffs / "v"), "--pin-maps")
    records = str(bpffs / "v" / "maps" / "records")
    fail("map", "update", records, "[" * 100000, "{}")
    assert "no element with key" in fail("map", "delete", records, '{"ifindex": 9}')
    assert "signed 32 bits" in fail("map", "update", records, "{}", '{"delta": 0, "color": 2147483648}')
    assert "not a directory" in fail("show", "--pinned", str(bpffs / "nothing"))
    assert "not on a bpffs" in fail("show", "--pinned", "/tmp")


def test_tc_with_a_missing_device_loads_and_pins_nothing(bpf_obj, bpffs):
    import os

    done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", "tc", str(bpf_obj("iproute2/global_ns")), "--dev",
                           "nosuch0", "--sec", "classifier"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TC_BPF_MNT": str(bpffs)})
    assert done.returncode == 1 and "nosuch0" in done.stderr and done.stderr.count("\n") == 1
    assert not (bpffs / "tc" / "globals").exists() or list((bpffs / "tc" / "globals").iterdir()) == []
