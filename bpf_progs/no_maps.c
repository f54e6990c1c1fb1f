/* Two programs and no map: loading it needs one fd per program (and BTF), so a test can run out
 * of fds exactly while a program that passed the verifier is being loaded. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int pass_one(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int pass_two(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
