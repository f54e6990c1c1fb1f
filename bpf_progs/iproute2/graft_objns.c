// SPDX-License-Identifier: GPL-2.0
/* A section "aaa" with maps of its own pinned by its load (object and global namespaces): a
 * graft whose load pins these maps, then fails to graft (loaded as XDP, into a prog array of
 * classifiers), must leave none of them. */
#include "legacy_maps.h"

LEGACY_MAP(own_counts, BPF_MAP_TYPE_ARRAY, __u32, __u64, 1, PIN_OBJECT_NS);
LEGACY_MAP(own_global, BPF_MAP_TYPE_ARRAY, __u32, __u64, 1, PIN_GLOBAL_NS);

SEC("aaa")
int cls_aaa(struct __sk_buff *skb)
{
	legacy_count(&own_counts, 0, 1);
	legacy_count(&own_global, 0, 1);
	return 42;
}

char __license[] SEC("license") = "GPL";
