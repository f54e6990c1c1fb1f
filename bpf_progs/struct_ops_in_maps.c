/* A map of type STRUCT_OPS declared in .maps, not .struct_ops: libbpf (1.1 to 1.4 at least) crashes
 * loading it; libbpf_py refuses it at open. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_STRUCT_OPS); __uint(key_size, 4); __uint(value_size, 4); __uint(max_entries, 1); } ops_in_maps SEC(".maps");
SEC("tc") int noop(struct __sk_buff *skb) { return 0; }
char LICENSE[] SEC("license") = "GPL";
