// SPDX-License-Identifier: GPL-2.0
/* USDT programs on CPython's python:function__entry probe (arguments: file name, function
 * name, line): each sends the function's name, the process and the attachment's USDT cookie
 * to the ring buffer `calls`. p2_usdt_entry is attached by the test (attach_usdt);
 * p2_usdt_auto names its probe in its section, for attach() and attach_all(), and reports only
 * the process in target_tgid. p2_usdt_line does nothing: CPython 3.11 fires function__entry only
 * while its python:line probe (or a trace function) is enabled, and attaching it enables it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#define NAME_LEN 64

struct call {
	__u32 pid;
	__u32 line;
	__u64 cookie;
	char function[NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_tgid SEC(".maps");

static __always_inline int report(struct pt_regs *ctx, const char *function, int line)
{
	struct call *call = bpf_ringbuf_reserve(&calls, sizeof(*call), 0);

	if (!call)
		return 0;
	call->pid = bpf_get_current_pid_tgid() >> 32;
	call->line = line;
	call->cookie = bpf_usdt_cookie(ctx);
	if (bpf_probe_read_user_str(call->function, sizeof(call->function), function) < 0)
		call->function[0] = 0;
	bpf_ringbuf_submit(call, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(p2_usdt_entry, const char *file, const char *function, int line)
{
	return report(ctx, function, line);
}

SEC("usdt//usr/bin/python3.11:python:function__entry")
int BPF_USDT(p2_usdt_auto, const char *file, const char *function, int line)
{
	__u32 zero = 0;
	__u32 *tgid = bpf_map_lookup_elem(&target_tgid, &zero);

	if (!tgid || *tgid != bpf_get_current_pid_tgid() >> 32)
		return 0;
	return report(ctx, function, line);
}

SEC("usdt")
int p2_usdt_line(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
