"""The libbpf-py command (inspect needs no privileges; run is a kernel test below)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from libbpf_py.cli import main


def test_version(capsys):
    import os

    assert main(["version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("libbpf_py ") and "libbpf v1." in out and f"kernel Linux {os.uname().release}" in out
    assert main(["version", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["libbpf"].startswith("v1.") and record["libbpf_path"] and record["kernel"].startswith("Linux ")


def test_inspect_lists_maps_and_programs(bpf_obj, capsys):
    assert main(["inspect", str(bpf_obj("xdp_pass")), "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["maps"] == [{"name": "xdp_stats", "type": "ARRAY", "key_size": 4, "value_size": 8,
                                  "max_entries": 2, "flags": 0, "pin": None}]
    assert described["programs"][0]["name"] == "xdp_count" and described["programs"][0]["type"] == "XDP"


def test_inspect_a_legacy_object_shows_the_rewritten_maps(bpf_obj, capsys):
    assert main(["inspect", str(bpf_obj("iproute2/tail_call"))]) == 0
    out = capsys.readouterr().out
    assert "map jmp_table: PROG_ARRAY key 4 value 4 max_entries 4" in out and "section 42/0" in out


def test_inspect_type_reads_a_legacy_object_as_that_command_and_shows_its_pins(bpf_obj, capsys, monkeypatch):
    monkeypatch.setenv("TC_BPF_MNT", "/sys/fs/bpf")
    assert main(["inspect", str(bpf_obj("iproute2/xdp_prog")), "--type", "xdp", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["reading"] == "iproute2"
    assert [(m["name"], m["pin"]) for m in described["maps"]] == [("xdp_stats", "/sys/fs/bpf/xdp/globals/xdp_stats")]
    assert [(p["name"], p["type"], p["loads"]) for p in described["programs"]] == [("xdp_main", "XDP", True)]
    assert main(["inspect", str(bpf_obj("iproute2/tail_call"))]) == 0
    assert "tail_orphan: UNSPEC section 43/0 (12 insns) (not loaded)" in capsys.readouterr().out


def test_every_compat_reading_is_an_option(bpf_obj, capsys):
    assert main(["inspect", str(bpf_obj("old/libbpf0_tc")), "--compat", "libbpf0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reading"] == "libbpf0"
    assert main(["inspect", str(bpf_obj("old/libbpf0_tc"))]) == 1  # two readings differ: it says which to pass
    assert "pass compat= one of 'bpf_load', 'iproute2', 'libbpf0'" in capsys.readouterr().err
    assert main(["inspect", str(bpf_obj("old/sockex3_shape")), "--json"]) == 0  # auto chose, and says why
    described = json.loads(capsys.readouterr().out)
    assert described["reading"] == "bpf_load" and described["why"].startswith("sections ['socket/0', 'socket/1']")
    assert main(["inspect", str(bpf_obj("old/sockex3_shape"))]) == 0
    assert "  reading: sections ['socket/0', 'socket/1'] are bpf_load.c's tail calls" in capsys.readouterr().out
    assert main(["inspect", str(bpf_obj("old/libbpf0_tc"))]) == 1
    assert "pass compat= one of 'bpf_load', 'iproute2', 'libbpf0'" in capsys.readouterr().err


def test_errors_are_one_line_and_exit_1(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("libbpf-py: ") and "No such file" in err


def test_the_console_script_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "inspect" in done.stdout


def test_gen_skeleton_writes_the_module_generate_makes(bpf_obj, tmp_path, capsys):
    from libbpf_py.skeleton import generate

    out = tmp_path / "globals_skel.py"
    assert main(["gen", "skeleton", str(bpf_obj("globals")), "-o", str(out)]) == 0
    assert out.read_text() == generate(bpf_obj("globals"), module_name="globals_skel")
    compile(out.read_text(), str(out), "exec")
    assert [p.name for p in tmp_path.iterdir()] == ["globals_skel.py"]  # no temporary file left
    assert main(["gen", "skeleton", str(bpf_obj("globals"))]) == 0  # to standard output
    assert capsys.readouterr().out == generate(bpf_obj("globals"))
    assert main(["gen", "skeleton", str(tmp_path / "missing.o"), "-o", str(tmp_path / "x.py")]) == 1
    assert not (tmp_path / "x.py").exists()


def test_btf_dump_writes_what_btf_dump_c_writes(bpf_obj, tmp_path, capsys):
    from libbpf_py import Btf

    out = tmp_path / "maps.h"
    assert main(["btf", "dump", str(bpf_obj("maps")), "-o", str(out)]) == 0
    with Btf.from_file(bpf_obj("maps")) as btf:
        assert out.read_text() == btf.dump_c()
    if os.path.exists("/sys/kernel/btf/vmlinux"):
        capsys.readouterr()
        assert main(["btf", "dump", "--vmlinux", "--type", "struct list_head", "--no-header"]) == 0
        with Btf.vmlinux() as btf:
            assert capsys.readouterr().out == btf.dump_c(["struct list_head"], header=False)
    assert main(["btf", "dump", str(bpf_obj("maps")), "--type", "struct nope"]) == 1
    capsys.readouterr()
    assert main(["btf", "dump"]) == 1 and "give a FILE or --vmlinux" in capsys.readouterr().err
    assert main(["btf", "dump", str(tmp_path / "missing.o")]) == 1


def test_a_closed_standard_output_is_said_not_a_traceback(bpf_obj):
    child = subprocess.run([sys.executable, "-m", "libbpf_py.cli", "btf", "dump", str(bpf_obj("maps"))],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: os.close(1), timeout=60)
    assert child.returncode == 1 and "standard output is closed" in child.stderr, child.stderr
    assert "Traceback" not in child.stderr


def test_an_output_path_is_written_through_never_replaced_by_another_kind(bpf_obj, tmp_path):
    obj = str(bpf_obj("maps"))
    target, link, existing = tmp_path / "target.h", tmp_path / "link.h", tmp_path / "existing.h"
    target.write_text("old")
    link.symlink_to(target)
    existing.write_text("old")
    existing.chmod(0o640)
    assert main(["btf", "dump", obj, "-o", str(link)]) == 0
    assert link.is_symlink() and target.read_text().startswith("#ifndef __VMLINUX_H__")
    assert main(["btf", "dump", obj, "-o", str(existing)]) == 0
    assert existing.stat().st_mode & 0o777 == 0o640 and existing.read_text().startswith("#ifndef")
    assert main(["btf", "dump", obj, "-o", str(tmp_path)]) == 1  # a directory
    if os.geteuid() == 0:  # a device stays a device: written into, as a shell's > writes
        device = tmp_path / "null"
        subprocess.run(["mknod", "-m", "666", str(device), "c", "1", "3"], check=True)
        assert main(["btf", "dump", obj, "-o", str(device)]) == 0
        assert device.is_char_device()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".libbpf-py-")) == []


def test_dev_stdout_is_the_fd_itself_and_a_hard_link_stays_one(bpf_obj, tmp_path):
    obj = str(bpf_obj("maps"))
    log = tmp_path / "log.txt"
    log.write_text("PREVIOUS\n")
    with open(log, "a") as appended:  # as `>> log.txt` opens it
        done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", "btf", "dump", obj, "-o", "/dev/stdout"],
                              stdout=appended, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert log.read_text().startswith("PREVIOUS\n#ifndef __VMLINUX_H__")
    link = tmp_path / "out"
    link.symlink_to("/dev/stdout")
    for named in (str(link), "//dev/stdout"):  # the same fd, however it is named
        log.write_text("PREVIOUS\n")
        with open(log, "a") as appended:
            done = subprocess.run([sys.executable, "-m", "libbpf_py.cli", "btf", "dump", obj, "-o", named],
                                  stdout=appended, stderr=subprocess.PIPE, text=True, timeout=60)
        assert done.returncode == 0 and log.read_text().startswith("PREVIOUS\n#ifndef"), (named, done.stderr)
    assert main(["btf", "dump", obj, "-o", "/dev/fd/99999999999999999999"]) == 1
    piped = subprocess.run([sys.executable, "-m", "libbpf_py.cli", "btf", "dump", obj, "-o", "/dev/stdout"],
                           capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and piped.stdout.startswith("#ifndef __VMLINUX_H__"), piped.stderr
    first, second = tmp_path / "first.h", tmp_path / "second.h"
    first.write_text("old")
    os.link(first, second)
    assert main(["btf", "dump", obj, "-o", str(first)]) == 0
    assert second.read_text().startswith("#ifndef") and os.path.samefile(first, second)
