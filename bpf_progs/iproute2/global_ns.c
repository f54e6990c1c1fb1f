// SPDX-License-Identifier: GPL-2.0
/*
 * Legacy tc object, PIN_GLOBAL_NS maps only. Meant for a real cls_bpf
 * direct-action filter on a veth: every packet bumps stats_global[0] by 1
 * and stats_global[1] by skb->len, and seen_len[skb->len] by 1; it marks
 * the packet (skb->mark = 0x1ee7: a receiving socket sees it).
 * Verdict is always TC_ACT_OK (0).
 */
#include "legacy_maps.h"

/* [0] packets, [1] bytes */
LEGACY_MAP(stats_global, BPF_MAP_TYPE_ARRAY, __u32, __u64, 2, PIN_GLOBAL_NS);
/* skb->len -> number of packets seen with that length */
LEGACY_MAP(seen_len, BPF_MAP_TYPE_HASH, __u32, __u64, 64, PIN_GLOBAL_NS);

SEC("classifier")
int cls_main(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	legacy_count(&stats_global, 0, 1);
	legacy_count(&stats_global, 1, len);
	legacy_hash_count(&seen_len, len, 1);
	skb->mark = 0x1ee7;
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
