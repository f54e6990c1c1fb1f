// A pinned-by-name DEVMAP: the kernel reports BPF_F_RDONLY_PROG on every device map, so a
// naive six-field check (libbpf before 1.7) never reuses the pin; the policy masks that flag.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tx_ports SEC(".maps");

SEC("xdp")
int xdp_redirect_port0(struct xdp_md *ctx)
{
	return bpf_redirect_map(&tx_ports, 0, XDP_PASS);
}
