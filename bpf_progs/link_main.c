// Linked with link_helper.c by tests/unit/test_linker.py: calls a function and reads a
// variable that only the other object defines.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int scale(int x);
extern volatile const int offset;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} hits SEC(".maps");

SEC("xdp")
int entry(struct xdp_md *ctx)
{
    __u32 key = 0;
    __u64 *count = bpf_map_lookup_elem(&hits, &key);

    if (count)
        __sync_fetch_and_add(count, 1);
    return scale(1) + offset;  /* 2 + 1: XDP_TX */
}

char _license[] SEC("license") = "GPL";
