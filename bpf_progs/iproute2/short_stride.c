// SPDX-License-Identifier: GPL-2.0
/*
 * Legacy tc object whose "maps" section uses the short 20-byte descriptor
 * (struct bpf_map_def layout: type, key_size, value_size, max_entries,
 * map_flags). Three maps -> "maps" is 60 bytes, stride 20; id, pinning,
 * inner_id and inner_idx are absent and must read as 0 (PIN_NONE).
 *
 *   ss_array     ARRAY u32->u64, 2 entries, flags 0
 *   ss_hash      HASH  u32->u64, 16 entries, flags 0
 *   ss_hash_np   HASH  u32->u32, 8 entries, flags BPF_F_NO_PREALLOC (1)
 *
 * Per run: ss_array[0] += 1, ss_array[1] += skb->len,
 * ss_hash[skb->len & 15] += 1, ss_hash_np[7] = skb->len.
 * Returns TC_ACT_OK.
 */
#include "legacy_maps.h"

struct legacy_map_def LEGACY_MAP_SEC ss_array = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 2,
};

struct legacy_map_def LEGACY_MAP_SEC ss_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
};

struct legacy_map_def LEGACY_MAP_SEC ss_hash_np = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 8,
	.map_flags = BPF_F_NO_PREALLOC,
};

SEC("classifier")
int cls_short_stride(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	__u32 k7 = 7;

	legacy_count(&ss_array, 0, 1);
	legacy_count(&ss_array, 1, len);
	legacy_hash_count(&ss_hash, len & 15, 1);
	bpf_map_update_elem(&ss_hash_np, &k7, &len, BPF_ANY);
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
