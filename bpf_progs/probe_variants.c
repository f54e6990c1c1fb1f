// SPDX-License-Identifier: GPL-2.0
/* One program per way libbpf-tools attach a tracing tool (fentry, tp_btf, raw_tp, tp, kprobe,
 * kprobe.multi, uprobe, lsm...), each doing nothing: probe.can_attach is asked about each,
 * and its answer compared with loading (and attaching) that program alone. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NOTHING(sec, name) SEC(sec) int name(void *ctx) { return 0; }

NOTHING("fentry/do_unlinkat", v_fentry)
NOTHING("fexit/do_unlinkat", v_fexit)
NOTHING("fentry/no_such_function_here", v_fentry_missing)
NOTHING("lsm/file_open", v_lsm)
NOTHING("tp_btf/sched_switch", v_tp_btf)
NOTHING("tp_btf/no_such_tracepoint", v_tp_btf_missing)
NOTHING("raw_tp/sched_switch", v_raw_tp)
NOTHING("tp/syscalls/sys_enter_getpid", v_tp)
NOTHING("tp/syscalls/no_such_tracepoint", v_tp_missing)
NOTHING("kprobe/do_unlinkat", v_kprobe)
NOTHING("kretprobe/do_unlinkat", v_kretprobe)
NOTHING("kprobe.multi/do_unlinkat*", v_kprobe_multi)
NOTHING("uprobe", v_uprobe)
NOTHING("iter/bpf_map", v_iter)

SEC("xdp")
int v_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
