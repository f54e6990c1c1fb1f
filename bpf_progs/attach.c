// SPDX-License-Identifier: GPL-2.0
/* Programs for the attach tests: one per hook, each counting what it saw in `counts`
 * (indexes below), filtered to the test's own process where the hook sees every process. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define DROP_PORT 4242
#define TC_MARK 0x1ee7 /* what tc_count_udp writes into skb->mark: the receiving socket sees it */
#define NR_GETPID 39 /* x86-64 */

enum { XDP_DROPPED, XDP_PASSED, RAW_TP_GETPID, TP_GETPPID, CGROUP_EGRESS, RAW_TP_OTHER, CGROUP_OTHER, TC_UDP, TC_UDP_OTHER, UPROBE_GETPID, SK_LOOKUP, NR_COUNTS };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_COUNTS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_tgid SEC(".maps");

static __always_inline void count(__u32 index)
{
	__u64 *value = bpf_map_lookup_elem(&counts, &index);

	if (value)
		__sync_fetch_and_add(value, 1);
}

static __always_inline int is_target(void)
{
	__u32 zero = 0;
	__u32 *tgid = bpf_map_lookup_elem(&target_tgid, &zero);

	return tgid && *tgid == bpf_get_current_pid_tgid() >> 32;
}

SEC("xdp")
int xdp_drop_udp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = (void *)ip + sizeof(*ip);

	if ((void *)(udp + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP) && ip->ihl == 5 &&
	    ip->protocol == IPPROTO_UDP && udp->dest == bpf_htons(DROP_PORT)) {
		count(XDP_DROPPED);
		return XDP_DROP;
	}
	count(XDP_PASSED);
	return XDP_PASS;
}

SEC("raw_tp/sys_enter")
int raw_tp_getpid(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] == NR_GETPID && is_target())
		count(RAW_TP_GETPID);
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_tp_getpid_other(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] == NR_GETPID && is_target())
		count(RAW_TP_OTHER);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	if (is_target())
		count(TP_GETPPID);
	return 0;
}

SEC("cgroup_skb/egress")
int cgroup_egress(struct __sk_buff *skb)
{
	count(CGROUP_EGRESS);
	return 1; /* let it through */
}

SEC("cgroup_skb/egress")
int cgroup_egress_other(struct __sk_buff *skb)
{
	count(CGROUP_OTHER);
	return 1;
}

static __always_inline int is_udp_to_drop_port(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = (void *)ip + sizeof(*ip);

	return (void *)(udp + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP) && ip->ihl == 5 &&
	       ip->protocol == IPPROTO_UDP && udp->dest == bpf_htons(DROP_PORT);
}

SEC("tc")
int tc_count_udp(struct __sk_buff *skb)
{
	if (is_udp_to_drop_port(skb)) {
		count(TC_UDP);
		skb->mark = TC_MARK;
	}
	return -1; /* TC_ACT_UNSPEC (tcx: TCX_NEXT): the next program runs too */
}

SEC("tc")
int tc_count_udp_other(struct __sk_buff *skb)
{
	if (is_udp_to_drop_port(skb))
		count(TC_UDP_OTHER);
	return -1;
}

SEC("uprobe")
int uprobe_getpid(void *ctx)
{
	if (is_target())
		count(UPROBE_GETPID);
	return 0;
}

SEC("sk_lookup")
int count_sk_lookup(struct bpf_sk_lookup *ctx)
{
	count(SK_LOOKUP);
	return 1; /* SK_PASS: the kernel's own lookup goes on */
}

char LICENSE[] SEC("license") = "GPL";
