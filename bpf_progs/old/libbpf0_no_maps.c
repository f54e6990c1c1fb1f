// SPDX-License-Identifier: GPL-2.0
/* Written for libbpf 0.x, with no maps at all: "socket1" and "xdp_drop" are program types by
 * 0.x's section prefixes (libbpf 1.x knows neither name). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket1")
int keep_all(struct __sk_buff *skb)
{
	return -1;
}

SEC("xdp_drop")
int drop_all(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
