// SPDX-License-Identifier: GPL-2.0
/* Programs for the query tests (tests/kernel/test_query.py): two of each hook that takes
 * several, none doing anything but letting traffic through; what is asked is where they are. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int q3_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int q3_tc(struct __sk_buff *skb)
{
	return -1; /* TC_ACT_UNSPEC (tcx: TCX_NEXT) */
}

SEC("tc")
int q3_tc_other(struct __sk_buff *skb)
{
	return -1;
}

SEC("cgroup_skb/egress")
int q3_cgroup(struct __sk_buff *skb)
{
	return 1; /* let it through */
}

SEC("cgroup_skb/egress")
int q3_cgroup_other(struct __sk_buff *skb)
{
	return 1;
}

SEC("sk_lookup")
int q3_sk_lookup(struct bpf_sk_lookup *ctx)
{
	return SK_PASS; /* the kernel's own lookup goes on */
}

SEC("sk_lookup")
int q3_sk_lookup_other(struct bpf_sk_lookup *ctx)
{
	return SK_PASS;
}

SEC("flow_dissector")
int q3_flow_dissector(struct __sk_buff *skb)
{
	return BPF_FLOW_DISSECTOR_CONTINUE; /* the kernel's own dissector goes on */
}

char LICENSE[] SEC("license") = "GPL";
