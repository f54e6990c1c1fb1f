// SPDX-License-Identifier: GPL-2.0
/* A netfilter program (attached with BPF_LINK_CREATE, kernel >= 6.4): drops IPv4 UDP datagrams
 * to port 4242 and counts what it dropped and let pass in `verdicts`. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define DROP_PORT 4242
#define NF_DROP 0
#define NF_ACCEPT 1
#define IPPROTO_UDP_ 17

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset, void *buffer__opt,
			      __u32 buffer__szk) __ksym;

enum { DROPPED, PASSED, NR_VERDICTS };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_VERDICTS);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

static __always_inline int verdict(__u32 which)
{
	__u64 *value = bpf_map_lookup_elem(&verdicts, &which);

	if (value)
		__sync_fetch_and_add(value, 1);
	return which == DROPPED ? NF_DROP : NF_ACCEPT;
}

SEC("netfilter")
int p2_nf_drop_udp(struct bpf_nf_ctx *ctx)
{
	struct { struct iphdr ip; struct udphdr udp; } buffer, *headers;
	struct bpf_dynptr packet;

	if (bpf_dynptr_from_skb((struct __sk_buff *)ctx->skb, 0, &packet))
		return NF_ACCEPT;
	headers = bpf_dynptr_slice(&packet, 0, &buffer, sizeof(buffer));
	if (!headers || headers->ip.ihl != 5 || headers->ip.protocol != IPPROTO_UDP_)
		return NF_ACCEPT;
	if (headers->udp.dest == bpf_htons(DROP_PORT))
		return verdict(DROPPED);
	return verdict(PASSED);
}

char LICENSE[] SEC("license") = "GPL";
