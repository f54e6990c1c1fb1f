// SPDX-License-Identifier: GPL-2.0
/* Small programs for the statistics, instructions and line-info tests. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} p2_runs SEC(".maps");

/* returns 1: two instructions (r0 = 1; exit), which the insns test replaces */
SEC("tc")
int p2_returns_one(struct __sk_buff *skb)
{
	return 1;
}

/* counts its runs: a few source lines, for the line-info test */
SEC("tc")
int p2_counts_runs(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *runs = bpf_map_lookup_elem(&p2_runs, &zero);

	if (!runs)
		return 0;
	__sync_fetch_and_add(runs, 1);
	return skb->len > 100 ? 2 : 3;
}

char LICENSE[] SEC("license") = "GPL";
