// SPDX-License-Identifier: GPL-2.0
/*
 * Legacy tc object whose map carries key/value types in BTF through a
 * ".maps.kv_map" annotation (struct ____btf_map_kv_map { key; value; }).
 *
 *   kv_map  HASH struct flow_key -> struct flow_val, 16 entries,
 *           PIN_GLOBAL_NS (size_key 8, size_value 16)
 *
 * Per run, under the constant key {saddr 0x0a000001, daddr 0x0a000002}
 * (host order, stored as-is): packets += 1, bytes += skb->len; the entry
 * is created on the first run. Returns TC_ACT_OK.
 */
#include "legacy_maps.h"

struct flow_key {
	__u32 saddr;
	__u32 daddr;
};

struct flow_val {
	__u64 packets;
	__u64 bytes;
};

LEGACY_MAP(kv_map, BPF_MAP_TYPE_HASH, struct flow_key, struct flow_val, 16,
	   PIN_GLOBAL_NS);
LEGACY_KV_ANNOTATE(kv_map, struct flow_key, struct flow_val);

SEC("classifier")
int cls_kv(struct __sk_buff *skb)
{
	struct flow_key key = { .saddr = 0x0a000001, .daddr = 0x0a000002 };
	struct flow_val *val;

	val = bpf_map_lookup_elem(&kv_map, &key);
	if (val) {
		__sync_fetch_and_add(&val->packets, 1);
		__sync_fetch_and_add(&val->bytes, skb->len);
	} else {
		struct flow_val init = { .packets = 1, .bytes = skb->len };

		bpf_map_update_elem(&kv_map, &key, &init, BPF_NOEXIST);
	}
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
