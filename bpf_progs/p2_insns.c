// SPDX-License-Identifier: GPL-2.0
/* Small programs for the statistics, instructions and line-info tests. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

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

/* no relocation, but line info over several instructions: set_insns may not make it shorter */
SEC("tc")
int p2_computes(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	len = len * 3 + 1;
	return len & 7;
}

/* a CO-RE relocation (the field's offset, fixed up at load): set_insns refuses it */
SEC("tc")
int p2_core_offset(struct __sk_buff *skb)
{
	return bpf_core_field_offset(skb->mark) ? 2 : 1;
}

char LICENSE[] SEC("license") = "GPL";
