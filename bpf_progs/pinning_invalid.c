// A map whose pinning attribute is neither LIBBPF_PIN_NONE nor LIBBPF_PIN_BY_NAME:
// libbpf refuses the object at open with EINVAL.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, 2);
} bad_pinning SEC(".maps");

SEC("tc")
int uses_bad_pinning(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&bad_pinning, &key);

	return v ? 0 : 1;
}
