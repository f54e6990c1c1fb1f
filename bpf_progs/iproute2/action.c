// SPDX-License-Identifier: GPL-2.0
/*
 * Legacy tc action object (default section "action", SCHED_ACT).
 * Per run: act_stats[0] += 1, act_stats[1] += skb->len.
 * Returns TC_ACT_OK (0).
 */
#include "legacy_maps.h"

/* [0] packets, [1] bytes, [2..3] unused */
LEGACY_MAP(act_stats, BPF_MAP_TYPE_ARRAY, __u32, __u64, 4, PIN_OBJECT_NS);

SEC("action")
int act_main(struct __sk_buff *skb)
{
	legacy_count(&act_stats, 0, 1);
	legacy_count(&act_stats, 1, skb->len);
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
