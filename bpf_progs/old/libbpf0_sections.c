// SPDX-License-Identifier: GPL-2.0
/* Section names libbpf 0.3 typed by its own table, where libbpf 1.x reads some differently or
 * not at all, a static program function (0.x loaded it), and a weak map (0.x bound it): each
 * program writes its number into hits[number]; weak_hits is written by socket_static. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "libbpf0_map_def.h"

struct bpf_map_def SEC("maps") hits = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 8,
};

struct bpf_map_def SEC("maps") spare = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

struct bpf_map_def SEC("maps") __attribute__((weak)) weak_hits = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

static __always_inline void hit(__u32 number)
{
	__u64 one = 1;

	bpf_map_update_elem(&hits, &number, &one, BPF_ANY);
}

SEC("xdp_devmap/egress")
int devmap_egress(struct xdp_md *ctx)
{
	hit(0);
	return XDP_PASS;
}

SEC("sk_lookup/x")
int lookup(struct bpf_sk_lookup *ctx)
{
	hit(1);
	return SK_PASS;
}

SEC("cgroup/post_bind4x")
int post_bind(struct bpf_sock *sk)
{
	hit(2);
	return 1;
}

SEC("sk_reuseport/migrate")
int migrate(struct sk_reuseport_md *md)
{
	hit(3);
	return SK_PASS;
}

SEC("xdp.frags")
int frags(struct xdp_md *ctx)
{
	hit(4);
	return XDP_PASS;
}

SEC("socket1")
static int socket_static(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 seven = 7;

	hit(5);
	bpf_map_update_elem(&weak_hits, &zero, &seven, BPF_ANY);
	return 0;
}

char _license[] SEC("license") = "GPL";
