#!/usr/bin/env python3
"""The libbpf coverage table: for each function libbpf exports, the Python API that does its job,
or why it is reachable only through ``bpf.libbpf()`` (the escape hatch).

    scripts/libbpf_coverage.py            writes docs/libbpf-coverage.rst
    scripts/libbpf_coverage.py --check    exits 1 when the page is stale or a function is unclassified

``tests/unit/test_libbpf_coverage.py`` runs the check and resolves every API named here, so a new
libbpf (a new row in the generated table) or a renamed method fails until it is classified.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "libbpf-coverage.rst"
sys.path.insert(0, str(ROOT))

from libbpf_py._libbpf_functions import FUNCTIONS, SOURCE_VERSION  # noqa: E402

# Why a function has no API of its own ("escape: <reason>"), or the API (names resolved by the test).
_SKELETON = "escape: a C skeleton's internals (bpftool gen skeleton); a Python skeleton uses the public API"
_BTF_WRITE = "escape: building BTF type by type in C; Btf.from_header() makes types from a C header"
_BTF_C = "escape: BTF editing in C; the package reads BTF in Python (Btf, Object.btf give ctypes types)"
_NOT_YET = "escape: not wrapped yet"
_OFFLOAD = "escape: device offload (no offload device to test against)"

RULES: List[Tuple[str, str]] = [  # (regex over the name, classification): the first match wins
    (r"^bpf_object__(open|attach|detach|load|destroy)_(sub)?skeleton$|^bpf_object__destroy_subskeleton$", _SKELETON),
    (r"^btf__add_", _BTF_WRITE),
    (r"^btf__(dedup|distill_base|relocate|permute|set_endianness|endianness|set_pointer_size|pointer_size|"
     r"align_of|resolve_size|resolve_type|base_btf|add_btf|set_fd|fd|load_into_kernel|get_raw_data|"
     r"name_by_offset|str_by_offset|find_str|type_by_id)$", _BTF_C),
    (r"^btf_ext__", "escape: .BTF.ext records in C; Program.line_info() reads the line info"),
    (r"^bpf_linker__", "link_objects()"),
    (r"^bpf_prog_linfo__", "Program.line_info()"),
]

EXPLICIT: Dict[str, str] = {
    # the library
    "libbpf_major_version": "libbpf_version()",
    "libbpf_minor_version": "libbpf_version()",
    "libbpf_version_string": "libbpf_version_string()",
    "libbpf_set_print": "escape: the package installs it: libbpf's messages go to the libbpf_py.libbpf logger",
    "libbpf_strerror": "LibbpfError",
    "libbpf_get_error": "escape: libbpf 0.x's error convention; every failure raises LibbpfError",
    "libbpf_set_strict_mode": "escape: libbpf 0.x's migration switch; 1.x is always strict",
    "libbpf_set_memlock_rlim": "escape: RLIMIT_MEMLOCK, which libbpf raises itself where the kernel needs it",
    "libbpf_num_possible_cpus": "possible_cpus()",
    "libbpf_register_prog_handler": "escape: custom section handlers are C callbacks inside libbpf's loader",
    "libbpf_unregister_prog_handler": "escape: custom section handlers are C callbacks inside libbpf's loader",
    "libbpf_attach_type_by_name": "Program.expected_attach_type, probe.can_attach()",
    "libbpf_prog_type_by_name": "Program.type, probe.can_attach()",
    "libbpf_bpf_attach_type_str": "AttachType",
    "libbpf_bpf_link_type_str": "LinkType",
    "libbpf_bpf_map_type_str": "MapType",
    "libbpf_bpf_prog_type_str": "ProgType",
    # feature probes and kernel BTF
    "libbpf_probe_bpf_prog_type": "probe.prog_type()",
    "libbpf_probe_bpf_map_type": "probe.map_type()",
    "libbpf_probe_bpf_helper": "probe.helper()",
    "libbpf_find_vmlinux_btf_id": "probe.btf_id()",
    "libbpf_find_kernel_btf": "Btf.vmlinux()",
    "btf__load_vmlinux_btf": "Btf.vmlinux()",
    "btf__load_module_btf": _NOT_YET + " (a kernel module's BTF: Btf.from_kernel_id() reads it by id)",
    "btf__load_from_kernel_by_id": "Btf.from_kernel_id()",
    "btf__load_from_kernel_by_id_split": "Btf.from_kernel_id()",
    "btf__new": "Btf.from_bytes()",
    "btf__new_split": "Btf.from_bytes()",
    "btf__raw_data": "Btf.raw_data()",
    "btf__find_by_name": "Btf.find()",
    "btf__find_by_name_kind": "Btf.find()",
    "btf__type_cnt": "Btf.type_count",
    "btf__free": "Btf.close()",
    "btf__new_empty": _BTF_WRITE,
    "btf__new_empty_split": _BTF_WRITE,
    "btf__parse": "Btf.from_file()",
    "btf__parse_split": "Btf.from_file()",
    "btf__parse_elf": "Btf.from_file()",
    "btf__parse_elf_split": "Btf.from_file()",
    "btf__parse_raw": "Btf.from_file()",
    "btf__parse_raw_split": "Btf.from_file()",
    "btf_dump__new": "Btf.dump_c()",
    "btf_dump__free": "Btf.dump_c()",
    "btf_dump__dump_type": "Btf.dump_c()",
    "btf_dump__emit_type_decl": "Btf.dump_c()",
    "btf_dump__dump_type_data": "escape: a value printed by its BTF type; ctypes types print their own values",
    "bpf_btf_get_fd_by_id": "Btf.from_kernel_id()",
    "bpf_btf_get_fd_by_id_opts": "Btf.from_kernel_id()",
    "bpf_btf_get_info_by_fd": _NOT_YET + " (a kernel BTF object's name and flags)",
    "bpf_btf_get_next_id": _NOT_YET + " (walking the kernel's BTF objects)",
    "bpf_btf_load": "escape: loading raw BTF by hand; libbpf loads an object's BTF itself",
    "bpf_token_create": "Token.create()",
    # objects
    "bpf_object__open": "Object.open()",
    "bpf_object__open_file": "Object.open()",
    "bpf_object__open_mem": "Object.open()",
    "bpf_object__prepare": _NOT_YET + " (libbpf 1.6's split of load: maps first)",
    "bpf_object__load": "Object.load()",
    "bpf_object__close": "Object.close()",
    "bpf_object__name": "Object.open()",
    "bpf_object__btf": "Object.btf",
    "bpf_object__btf_fd": "escape: the object's BTF as an fd; Object.btf gives its types",
    "bpf_object__token_fd": "Object.open()",
    "bpf_object__kversion": "escape: the kernel version old kprobe programs declared; libbpf fills it",
    "bpf_object__set_kversion": "escape: the kernel version old kprobe programs declared; libbpf fills it",
    "bpf_object__gen_loader": "escape: light skeletons (bpftool gen skeleton -L) record a loader program",
    "bpf_object__next_map": "Object.maps",
    "bpf_object__prev_map": "Object.maps",
    "bpf_object__find_map_by_name": "Object.maps",
    "bpf_object__find_map_fd_by_name": "Object.maps",
    "bpf_object__next_program": "Object.programs",
    "bpf_object__prev_program": "Object.programs",
    "bpf_object__find_program_by_name": "Object.programs",
    "bpf_object__pin": "PinByName",
    "bpf_object__unpin": "PinByName",
    "bpf_object__pin_maps": "PinByName, Map.pin()",
    "bpf_object__unpin_maps": "PinByName, Map.unpin()",
    "bpf_object__pin_programs": "Program.pin()",
    "bpf_object__unpin_programs": "Program.unpin()",
    # an object's maps
    "bpf_map__name": "Map.name",
    "bpf_map__fd": "Map.fd",
    "bpf_map__type": "Map.type",
    "bpf_map__set_type": "Map.type",
    "bpf_map__key_size": "Map.key_size",
    "bpf_map__set_key_size": "Map.key_size",
    "bpf_map__value_size": "Map.value_size",
    "bpf_map__set_value_size": "Map.value_size",
    "bpf_map__max_entries": "Map.max_entries",
    "bpf_map__set_max_entries": "Map.max_entries",
    "bpf_map__map_flags": "Map.flags",
    "bpf_map__set_map_flags": "Map.flags",
    "bpf_map__map_extra": "Map.map_extra",
    "bpf_map__set_map_extra": "Map.map_extra",
    "bpf_map__autocreate": "Map.autocreate",
    "bpf_map__set_autocreate": "Map.autocreate",
    "bpf_map__autoattach": _NOT_YET + " (a struct_ops map's auto-attach flag)",
    "bpf_map__set_autoattach": _NOT_YET + " (a struct_ops map's auto-attach flag)",
    "bpf_map__attach_struct_ops": "Map.attach_struct_ops()",
    "bpf_map__btf_key_type_id": "Map.btf_key_type_id",
    "bpf_map__btf_value_type_id": "Map.btf_value_type_id",
    "bpf_map__is_internal": "Map.is_internal",
    "bpf_map__inner_map": "Map.inner_map",
    "bpf_map__set_inner_map_fd": "Map.inner_map",
    "bpf_map__initial_value": "Map.initial_value",
    "bpf_map__set_initial_value": "Map.initial_value",
    "bpf_map__reuse_fd": "PinByName",
    "bpf_map__pin": "Map.pin()",
    "bpf_map__unpin": "Map.unpin()",
    "bpf_map__pin_path": "Map.pin_path",
    "bpf_map__get_pin_path": "Map.pin_path",
    "bpf_map__set_pin_path": "Map.pin_path",
    "bpf_map__is_pinned": "Map.pin_path",
    "bpf_map__numa_node": _NOT_YET + " (NUMA placement of a map)",
    "bpf_map__set_numa_node": _NOT_YET + " (NUMA placement of a map)",
    "bpf_map__ifindex": _OFFLOAD,
    "bpf_map__set_ifindex": _OFFLOAD,
    "bpf_map__exclusive_program": _NOT_YET + " (libbpf 1.7: a map only one program may use)",
    "bpf_map__set_exclusive_program": _NOT_YET + " (libbpf 1.7: a map only one program may use)",
    "bpf_map__lookup_elem": "Map.lookup()",
    "bpf_map__update_elem": "Map.update()",
    "bpf_map__delete_elem": "Map.delete()",
    "bpf_map__get_next_key": "Map.keys()",
    "bpf_map__lookup_and_delete_elem": "Map.lookup_and_delete()",
    # maps by fd
    "bpf_map_create": "Map.create()",
    "bpf_map_lookup_elem": "Map.lookup()",
    "bpf_map_lookup_elem_flags": "Map.lookup()",
    "bpf_map_update_elem": "Map.update()",
    "bpf_map_delete_elem": "Map.delete()",
    "bpf_map_delete_elem_flags": _NOT_YET + " (flags on delete)",
    "bpf_map_get_next_key": "Map.keys()",
    "bpf_map_lookup_and_delete_elem": "Map.lookup_and_delete()",
    "bpf_map_lookup_and_delete_elem_flags": "Map.lookup_and_delete()",
    "bpf_map_lookup_batch": "Map.lookup_batch()",
    "bpf_map_lookup_and_delete_batch": "Map.lookup_batch()",
    "bpf_map_update_batch": "Map.update_batch()",
    "bpf_map_delete_batch": "Map.delete_batch()",
    "bpf_map_freeze": "Map.freeze()",
    "bpf_map_get_fd_by_id": "Map.from_id()",
    "bpf_map_get_fd_by_id_opts": "Map.from_id()",
    "bpf_map_get_next_id": "Map.ids()",
    "bpf_map_get_info_by_fd": "Map.info()",
    # an object's programs
    "bpf_program__name": "Program.name",
    "bpf_program__section_name": "Program.section",
    "bpf_program__fd": "Program.fd",
    "bpf_program__type": "Program.type",
    "bpf_program__get_type": "Program.type",
    "bpf_program__set_type": "Program.type",
    "bpf_program__expected_attach_type": "Program.expected_attach_type",
    "bpf_program__get_expected_attach_type": "Program.expected_attach_type",
    "bpf_program__set_expected_attach_type": "Program.expected_attach_type",
    "bpf_program__flags": "Program.flags",
    "bpf_program__set_flags": "Program.flags",
    "bpf_program__autoload": "Program.autoload",
    "bpf_program__set_autoload": "Program.autoload",
    "bpf_program__autoattach": _NOT_YET + " (Object.attach_all() attaches what libbpf can attach)",
    "bpf_program__set_autoattach": _NOT_YET + " (Object.attach_all() attaches what libbpf can attach)",
    "bpf_program__insn_cnt": "Program.insn_count",
    "bpf_program__insns": "Program.insns",
    "bpf_program__set_insns": "Program.set_insns()",
    "bpf_program__line_info": "Program.line_info()",
    "bpf_program__line_info_cnt": "Program.line_info()",
    "bpf_program__func_info": _NOT_YET + " (libbpf 1.6: BTF func info records)",
    "bpf_program__func_info_cnt": _NOT_YET + " (libbpf 1.6: BTF func info records)",
    "bpf_program__log_buf": "VerifierError",
    "bpf_program__set_log_buf": "VerifierError",
    "bpf_program__log_level": "VerifierError",
    "bpf_program__set_log_level": "VerifierError",
    "bpf_program__set_attach_target": "Program.set_attach_target()",
    "bpf_program__set_ifindex": _OFFLOAD,
    "bpf_program__pin": "Program.pin()",
    "bpf_program__unpin": "Program.unpin()",
    "bpf_program__unload": "Object.close()",
    "bpf_program__assoc_struct_ops": _NOT_YET + " (libbpf 1.7)",
    # attaching
    "bpf_program__attach": "Program.attach()",
    "bpf_program__attach_trace": "Program.attach()",
    "bpf_program__attach_trace_opts": "Program.attach()",
    "bpf_program__attach_lsm": "Program.attach()",
    "bpf_program__attach_ksyscall": "Program.attach()",
    "bpf_program__attach_freplace": "Program.attach()",
    "bpf_program__attach_cgroup": "Program.attach_cgroup()",
    "bpf_program__attach_cgroup_opts": "Program.attach_cgroup()",
    "bpf_program__attach_netns": "Program.attach_netns()",
    "bpf_program__attach_iter": "Program.attach_iter()",
    "bpf_program__attach_kprobe": "Program.attach_kprobe()",
    "bpf_program__attach_kprobe_opts": "Program.attach_kprobe()",
    "bpf_program__attach_kprobe_multi_opts": "Program.attach_kprobe_multi()",
    "bpf_program__attach_uprobe": "Program.attach_uprobe()",
    "bpf_program__attach_uprobe_opts": "Program.attach_uprobe()",
    "bpf_program__attach_uprobe_multi": "Program.attach_uprobe_multi()",
    "bpf_program__attach_usdt": "Program.attach_usdt()",
    "bpf_program__attach_tracepoint": "Program.attach_tracepoint()",
    "bpf_program__attach_tracepoint_opts": "Program.attach_tracepoint()",
    "bpf_program__attach_raw_tracepoint": "Program.attach_raw_tracepoint()",
    "bpf_program__attach_raw_tracepoint_opts": "Program.attach_raw_tracepoint()",
    "bpf_program__attach_perf_event": "Program.attach_perf_event()",
    "bpf_program__attach_perf_event_opts": "Program.attach_perf_event()",
    "bpf_program__attach_xdp": "Program.attach_xdp()",
    "bpf_program__attach_tcx": "Program.attach_tc()",
    "bpf_program__attach_netkit": "Program.attach_netkit()",
    "bpf_program__attach_netfilter": "Program.attach_netfilter()",
    "bpf_program__attach_sockmap": "Program.attach_sockmap()",
    "bpf_raw_tracepoint_open": "Program.attach_raw_tracepoint()",
    "bpf_raw_tracepoint_open_opts": "Program.attach_raw_tracepoint()",
    "bpf_xdp_attach": "Program.attach_xdp()",
    "bpf_xdp_detach": "Link.detach()",
    "bpf_xdp_query": "query.xdp()",
    "bpf_xdp_query_id": "query.xdp()",
    "bpf_tc_hook_create": "Program.attach_tc()",
    "bpf_tc_hook_destroy": "Link.detach()",
    "bpf_tc_attach": "Program.attach_tc(), iproute2.attach_filter()",
    "bpf_tc_detach": "Link.detach(), iproute2.detach_filter()",
    "bpf_tc_query": "query.tc(), iproute2.filters()",
    "bpf_prog_attach": "Program.attach_sockmap()",
    "bpf_prog_attach_opts": "Program.attach_sockmap()",
    "bpf_prog_detach": "Link.detach()",
    "bpf_prog_detach2": "Link.detach()",
    "bpf_prog_detach_opts": "Link.detach()",
    "bpf_prog_query": "query.cgroup(), query.netns()",
    "bpf_prog_query_opts": "query.tc(), query.cgroup()",
    "bpf_task_fd_query": _NOT_YET + " (what a perf event fd of a task is attached to)",
    # links
    "bpf_link__fd": "Link.fd",
    "bpf_link__open": "Link.from_pinned()",
    "bpf_link__pin": "Link.pin()",
    "bpf_link__pin_path": "Link.pin_path",
    "bpf_link__unpin": "Link.unpin()",
    "bpf_link__detach": "Link.detach()",
    "bpf_link__disconnect": "Link.disconnect()",
    "bpf_link__destroy": "Link.close()",
    "bpf_link__update_program": "Link.update_program()",
    "bpf_link__update_map": _NOT_YET + " (replacing a struct_ops link's map)",
    "bpf_link_create": "Program.attach_tc(), Program.attach_cgroup()",
    "bpf_link_update": "Link.update_program()",
    "bpf_link_detach": "Link.detach()",
    "bpf_link_get_fd_by_id": "Link.from_id()",
    "bpf_link_get_fd_by_id_opts": "Link.from_id()",
    "bpf_link_get_next_id": "Link.ids()",
    "bpf_link_get_info_by_fd": "Link.info()",
    "bpf_iter_create": "Link.read()",
    # programs by fd
    "bpf_prog_load": "escape: a program from raw instructions; programs come from objects (Program.set_insns())",
    "bpf_prog_get_fd_by_id": "Program.from_id()",
    "bpf_prog_get_fd_by_id_opts": "Program.from_id()",
    "bpf_prog_get_next_id": "Program.ids()",
    "bpf_prog_get_info_by_fd": "Program.info()",
    "bpf_prog_test_run_opts": "Program.test_run()",
    "bpf_prog_bind_map": _NOT_YET + " (keeping a map alive with a program)",
    "bpf_prog_stream_read": _NOT_YET + " (libbpf 1.6: a program's BPF stream)",
    "bpf_prog_assoc_struct_ops": _NOT_YET + " (libbpf 1.7)",
    "bpf_enable_stats": "enable_stats()",
    # any object by fd
    "bpf_obj_get": "Map.from_pinned(), Program.from_pinned(), Link.from_pinned()",
    "bpf_obj_get_opts": "Map.from_pinned(), Program.from_pinned(), Link.from_pinned()",
    "bpf_obj_pin": "Map.pin(), Program.pin(), Link.pin()",
    "bpf_obj_pin_opts": "Map.pin(), Program.pin(), Link.pin()",
    "bpf_obj_get_info_by_fd": "Map.info(), Program.info(), Link.info()",
    # events
    "ring_buffer__new": "RingBuffer",
    "ring_buffer__add": "RingBuffer.add()",
    "ring_buffer__poll": "RingBuffer.poll()",
    "ring_buffer__consume": "RingBuffer.consume()",
    "ring_buffer__consume_n": "RingBuffer.consume()",
    "ring_buffer__epoll_fd": "RingBuffer.fileno()",
    "ring_buffer__free": "RingBuffer.close()",
    "ring_buffer__ring": _NOT_YET + " (one ring of a RingBuffer: its positions and size)",
    "ring__consume": _NOT_YET + " (one ring of a RingBuffer: its positions and size)",
    "ring__consume_n": _NOT_YET + " (one ring of a RingBuffer: its positions and size)",
    "ring__avail_data_size": _NOT_YET + " (one ring of a RingBuffer: its positions and size)",
    "ring__consumer_pos": _NOT_YET + " (one ring of a RingBuffer: its positions and size)",
    "ring__producer_pos": _NOT_YET + " (one ring of a RingBuffer: its positions and size)",
    "ring__size": _NOT_YET + " (one ring of a RingBuffer: its positions and size)",
    "ring__map_fd": _NOT_YET + " (one ring of a RingBuffer: its positions and size)",
    "user_ring_buffer__new": "UserRingBuffer",
    "user_ring_buffer__reserve": "UserRingBuffer.submit()",
    "user_ring_buffer__reserve_blocking": "UserRingBuffer.submit()",
    "user_ring_buffer__submit": "UserRingBuffer.submit()",
    "user_ring_buffer__discard": "UserRingBuffer.submit()",
    "user_ring_buffer__free": "UserRingBuffer.close()",
    "perf_buffer__new": "PerfBuffer",
    "perf_buffer__poll": "PerfBuffer.poll()",
    "perf_buffer__consume": "PerfBuffer.consume()",
    "perf_buffer__epoll_fd": "PerfBuffer.fileno()",
    "perf_buffer__free": "PerfBuffer.close()",
    "perf_buffer__new_raw": _NOT_YET + " (perf buffers of other event types)",
    "perf_buffer__buffer": _NOT_YET + " (one CPU's perf buffer; PerfBuffer.consume() reads them all)",
    "perf_buffer__buffer_cnt": _NOT_YET + " (one CPU's perf buffer; PerfBuffer.consume() reads them all)",
    "perf_buffer__buffer_fd": _NOT_YET + " (one CPU's perf buffer; PerfBuffer.consume() reads them all)",
    "perf_buffer__consume_buffer": _NOT_YET + " (one CPU's perf buffer; PerfBuffer.consume() reads them all)",
}


def classify(name: str) -> Optional[str]:
    """The API or escape reason for a libbpf function, None when unclassified."""
    if name in EXPLICIT:
        return EXPLICIT[name]
    for pattern, what in RULES:
        if re.search(pattern, name):
            return what
    return None


def api_names(classification: str) -> List[str]:
    """The dotted names a classification refers to ("Map.pin(), Link.pin()" -> ["Map.pin", "Link.pin"])."""
    if classification.startswith("escape:"):
        return []
    return [re.match(r"[\w.]+", part.strip()).group(0) for part in classification.split(",")]  # type: ignore


def render() -> str:
    rows = []
    for name in sorted(FUNCTIONS):
        what = classify(name)
        assert what is not None, name
        since = FUNCTIONS[name][3]
        if what.startswith("escape:"):
            python = "escape hatch only: " + what[len("escape:"):].strip()
        else:
            python = ", ".join(f":py:obj:`{n} <libbpf_py.{n}>`" if n[0].isupper() or "." not in n else f"``{n}``"
                               for n in api_names(what))
        rows.append((f"``{name}``", since, python))
    wrapped = sum(1 for name in FUNCTIONS if not classify(name).startswith("escape:"))  # type: ignore
    out = [
        ".. Generated by scripts/libbpf_coverage.py from libbpf_py/_libbpf_functions.py: do not edit.",
        "",
        "libbpf coverage",
        "===============",
        "",
        f"Every function libbpf {SOURCE_VERSION} exports ({len(FUNCTIONS)}), the version that introduced it, and",
        f"the Python API that does its job ({wrapped} of them), or why it is reachable only through",
        "``bpf.libbpf().<name>(...)``, which declares any of them from libbpf's own headers (see",
        ":doc:`programs` and the API reference). A test keeps this table complete: a new libbpf",
        "function fails it until it is classified here.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 35 10 55",
        "",
        "   * - libbpf function",
        "     - since",
        "     - Python",
    ]
    for name, since, python in rows:
        out += [f"   * - {name}", f"     - {since}", f"     - {python}"]
    return "\n".join(out) + "\n"


def main() -> int:
    unclassified = sorted(name for name in FUNCTIONS if classify(name) is None)
    if unclassified:
        print(f"unclassified libbpf functions: {', '.join(unclassified)}", file=sys.stderr)
        return 1
    page = render()
    if "--check" in sys.argv[1:]:
        if not PAGE.exists() or PAGE.read_text() != page:
            print(f"{PAGE.relative_to(ROOT)} is stale: run scripts/libbpf_coverage.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page)
    print(f"{PAGE.relative_to(ROOT)}: {len(FUNCTIONS)} functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
