// SPDX-License-Identifier: GPL-2.0
/*
 * Legacy tc object whose program the verifier rejects: a load through the shim must
 * remove the pins it made (tc's legacy loader would leave them) and keep pre-existing ones.
 *   seen_len      HASH u32->u64, PIN_GLOBAL_NS (the same map as global_ns.o's)
 *   reject_fresh  HASH u32->u64, PIN_GLOBAL_NS
 */
#include "legacy_maps.h"

LEGACY_MAP(seen_len, BPF_MAP_TYPE_HASH, __u32, __u64, 64, PIN_GLOBAL_NS);
LEGACY_MAP(reject_fresh, BPF_MAP_TYPE_HASH, __u32, __u64, 8, PIN_GLOBAL_NS);

SEC("classifier")
int cls_reject(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *fresh = bpf_map_lookup_elem(&reject_fresh, &key);
	__u64 *seen = bpf_map_lookup_elem(&seen_len, &key);

	return *fresh + (seen ? *seen : 0);	/* no NULL check on fresh: rejected */
}

char __license[] SEC("license") = "GPL";
