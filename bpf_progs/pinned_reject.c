// Pinned-by-name maps next to a program the verifier rejects: a failed load must remove
// the pins it made and leave pre-existing ones alone.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_counts SEC(".maps");	/* same definition as in pinned.c */

/* a hash, not an array: recent verifiers know an in-bounds array lookup is never NULL */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} reject_fresh SEC(".maps");

SEC("tc")
int rejected(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&reject_fresh, &key);
	__u64 *w = bpf_map_lookup_elem(&pinned_counts, &key);

	return *v + (w ? *w : 0);	/* no NULL check on v: rejected */
}
