/* A real struct_ops object (a minimal TCP congestion control): it must open and load, unlike a
 * STRUCT_OPS map declared in .maps. Built against this kernel's BTF (vmlinux.h from bpftool). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
char LICENSE[] SEC("license") = "GPL";
SEC("struct_ops/ssthresh")
__u32 BPF_PROG(mini_ssthresh, struct sock *sk) { return 10; }
SEC("struct_ops/cong_avoid")
void BPF_PROG(mini_cong_avoid, struct sock *sk, __u32 ack, __u32 acked) { }
SEC("struct_ops/undo_cwnd")
__u32 BPF_PROG(mini_undo_cwnd, struct sock *sk) { return 10; }
SEC(".struct_ops")
struct tcp_congestion_ops mini_cc = {
	.ssthresh = (void *)mini_ssthresh,
	.cong_avoid = (void *)mini_cong_avoid,
	.undo_cwnd = (void *)mini_undo_cwnd,
	.name = "lbpy_mini",
};
