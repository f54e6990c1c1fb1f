// SPDX-License-Identifier: GPL-2.0
/* Programs that count each attachment's BPF cookie (bpf_get_attach_cookie): one map, `hits`,
 * from cookie to the number of runs; only the test's process (target_tgid) is counted. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_tgid SEC(".maps");

static __always_inline void count_cookie(void *ctx)
{
	__u32 zero = 0;
	__u32 *tgid = bpf_map_lookup_elem(&target_tgid, &zero);
	__u64 cookie, one = 1, *value;

	if (!tgid || *tgid != bpf_get_current_pid_tgid() >> 32)
		return;
	cookie = bpf_get_attach_cookie(ctx);
	value = bpf_map_lookup_elem(&hits, &cookie);
	if (value)
		__sync_fetch_and_add(value, 1);
	else
		bpf_map_update_elem(&hits, &cookie, &one, BPF_NOEXIST);
}

SEC("uprobe")
int p2_uprobe_cookie(void *ctx)
{
	count_cookie(ctx);
	return 0;
}

SEC("tracepoint")
int p2_tp_cookie(void *ctx)
{
	count_cookie(ctx);
	return 0;
}

SEC("perf_event")
int p2_perf_cookie(void *ctx)
{
	count_cookie(ctx);
	return 0;
}

SEC("kprobe")
int p2_kprobe_cookie(void *ctx)
{
	count_cookie(ctx);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
