// SPDX-License-Identifier: GPL-2.0
/*
 * Tail-call sections named the ways iproute2's sscanf("%i/%i") still reads:
 *   "42/1/v2" and "42/2_fast" -> jt42 (id 42) keys 1 and 2 (the rest of the name is ignored)
 *   "0/3"                     -> jt0, whose id is the default 0
 *   "7/0"                     -> jt7a, the FIRST prog array with id 7 (jt7b stays empty)
 */
#include "legacy_maps.h"

LEGACY_MAP(jt42, BPF_MAP_TYPE_PROG_ARRAY, __u32, __u32, 4, PIN_GLOBAL_NS, .id = 42);
LEGACY_MAP(jt0, BPF_MAP_TYPE_PROG_ARRAY, __u32, __u32, 4, PIN_GLOBAL_NS);
LEGACY_MAP(jt7a, BPF_MAP_TYPE_PROG_ARRAY, __u32, __u32, 4, PIN_GLOBAL_NS, .id = 7);
LEGACY_MAP(jt7b, BPF_MAP_TYPE_PROG_ARRAY, __u32, __u32, 4, PIN_GLOBAL_NS, .id = 7);

SEC("classifier")
int cls_names(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jt42, 1);
	return TC_ACT_OK;
}

SEC("42/1/v2")
int t_slash(struct __sk_buff *skb) { return 21; }

SEC("42/2_fast")
int t_suffix(struct __sk_buff *skb) { return 22; }

SEC("0/3")
int t_id0(struct __sk_buff *skb) { return 3; }

SEC("7/0")
int t_dup(struct __sk_buff *skb) { return 7; }

char __license[] SEC("license") = "GPL";
