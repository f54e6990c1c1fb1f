/* A TCP congestion control written as struct_ops, registered with Map.attach_struct_ops():
 * additive growth of one segment per ACKed round, half the window on loss. It counts the
 * connections it initialised and the packets ACKed under it, so that a test can tell that
 * the kernel ran it. q3_cc_link.c builds the same algorithm as a `.struct_ops.link` map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#ifndef Q3_CC_NAME
#define Q3_CC_NAME "lbpy_q3cc"
#define Q3_CC_SECTION ".struct_ops"
#define Q3_CC_MAP q3_cc
#endif

__u64 q3_inits = 0;  /* connections that started with this algorithm */
__u64 q3_acked = 0;  /* packets ACKed while it ran */

/* the kernel hands these callbacks a struct sock that is a tcp_sock (bpf_tcp_ca promotes it) */
static __always_inline struct tcp_sock *as_tcp(struct sock *sk)
{
	return (struct tcp_sock *)sk;
}

SEC("struct_ops")
void BPF_PROG(q3_init, struct sock *sk)
{
	__sync_fetch_and_add(&q3_inits, 1);
}

SEC("struct_ops")
__u32 BPF_PROG(q3_ssthresh, struct sock *sk)
{
	__u32 half = as_tcp(sk)->snd_cwnd >> 1;

	return half > 2 ? half : 2;
}

SEC("struct_ops")
void BPF_PROG(q3_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = as_tcp(sk);

	if (tp->snd_cwnd < tp->snd_ssthresh) {  /* slow start: one segment per segment ACKed */
		tp->snd_cwnd += acked;
	} else if (++tp->snd_cwnd_cnt >= tp->snd_cwnd) {  /* then one per window */
		tp->snd_cwnd_cnt = 0;
		tp->snd_cwnd += 1;
	}
	if (tp->snd_cwnd > tp->snd_cwnd_clamp)
		tp->snd_cwnd = tp->snd_cwnd_clamp;
}

SEC("struct_ops")
void BPF_PROG(q3_pkts_acked, struct sock *sk, const struct ack_sample *sample)
{
	__sync_fetch_and_add(&q3_acked, sample->pkts_acked);
}

SEC("struct_ops")
__u32 BPF_PROG(q3_undo_cwnd, struct sock *sk)
{
	return as_tcp(sk)->snd_cwnd;
}

SEC(Q3_CC_SECTION)
struct tcp_congestion_ops Q3_CC_MAP = {
	.init = (void *)q3_init,
	.ssthresh = (void *)q3_ssthresh,
	.cong_avoid = (void *)q3_cong_avoid,
	.pkts_acked = (void *)q3_pkts_acked,
	.undo_cwnd = (void *)q3_undo_cwnd,
	.name = Q3_CC_NAME,
};
