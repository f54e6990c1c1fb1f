// SPDX-License-Identifier: GPL-2.0
/*
 * Legacy tc object mixing an object-scoped pinned map (PIN_OBJECT_NS) with
 * an unpinned one (PIN_NONE). Per run: stats_obj[0] += 1,
 * stats_obj[1] += skb->len, scratch[skb->len & 7] += 1. Returns TC_ACT_OK.
 */
#include "legacy_maps.h"

LEGACY_MAP(stats_obj, BPF_MAP_TYPE_ARRAY, __u32, __u64, 4, PIN_OBJECT_NS);
LEGACY_MAP(scratch, BPF_MAP_TYPE_HASH, __u32, __u64, 8, PIN_NONE);

SEC("classifier")
int cls_object_ns(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	legacy_count(&stats_obj, 0, 1);
	legacy_count(&stats_obj, 1, len);
	legacy_hash_count(&scratch, len & 7, 1);
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
