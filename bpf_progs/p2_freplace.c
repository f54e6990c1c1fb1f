// SPDX-License-Identifier: GPL-2.0
/* freplace: p2_target returns what its global function p2_pick returns (1); p2_replacement, an
 * extension program (SEC("freplace/p2_pick")), replaces p2_pick and returns 7. Both need BTF
 * (-g): the kernel matches the replacement's signature against the target's. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__attribute__((noinline)) int p2_pick(struct __sk_buff *skb)
{
	return skb->len ? 1 : 0;
}

SEC("tc")
int p2_target(struct __sk_buff *skb)
{
	return p2_pick(skb);
}

SEC("freplace/p2_pick")
int p2_replacement(struct __sk_buff *skb)
{
	return 7;
}

char LICENSE[] SEC("license") = "GPL";
