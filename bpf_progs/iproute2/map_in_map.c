// SPDX-License-Identifier: GPL-2.0
/*
 * Legacy tc object with map-in-map descriptors.
 *
 * Ids chosen (object-local, only the inner templates need one):
 *   name             type            id  pinning        inner_id  inner_idx
 *   mim_outer_arr    ARRAY_OF_MAPS    0  PIN_GLOBAL_NS  11        0
 *   mim_outer_hash   HASH_OF_MAPS     0  PIN_GLOBAL_NS  13        0
 *   mim_outer_skip   ARRAY_OF_MAPS    0  PIN_NONE       12        0
 *   mim_inner_a      ARRAY u32->u64  11  PIN_NONE        0        1
 *   mim_inner_b      ARRAY u32->u64  12  PIN_NONE        0        0xFFFFFFFF
 *   mim_inner_h      ARRAY u32->u64  13  PIN_NONE        0        2
 *
 * Expected loader behaviour: mim_outer_arr is created with mim_inner_a as
 * its inner template and gets mim_inner_a stored in slot 1; mim_outer_hash
 * uses mim_inner_h as template and gets it stored under key 2. mim_inner_b
 * is the template of mim_outer_skip, but its inner_idx says "do not insert":
 * mim_outer_skip stays empty. Outer maps come first in the section on purpose,
 * so a loader cannot rely on inner maps preceding their outers.
 *
 * Per run: if mim_outer_arr[1] holds a map, its entry 0 += 1 (that is
 * mim_inner_a[0]); if mim_outer_hash[2] holds a map, its entry 0 += 1
 * (mim_inner_h[0]). Return value: bit 0 set when the array slot was
 * found, bit 1 set when the hash key was found (3 when fully wired).
 */
#include "legacy_maps.h"

#define ID_INNER_A	11
#define ID_INNER_B	12
#define ID_INNER_H	13

LEGACY_MAP(mim_outer_arr, BPF_MAP_TYPE_ARRAY_OF_MAPS, __u32, __u32, 4,
	   PIN_GLOBAL_NS, .inner_id = ID_INNER_A);
LEGACY_MAP(mim_outer_hash, BPF_MAP_TYPE_HASH_OF_MAPS, __u32, __u32, 4,
	   PIN_GLOBAL_NS, .inner_id = ID_INNER_H);
LEGACY_MAP(mim_outer_skip, BPF_MAP_TYPE_ARRAY_OF_MAPS, __u32, __u32, 4,
	   PIN_NONE, .inner_id = ID_INNER_B);
LEGACY_MAP(mim_inner_a, BPF_MAP_TYPE_ARRAY, __u32, __u64, 4, PIN_NONE,
	   .id = ID_INNER_A, .inner_idx = 1);
LEGACY_MAP(mim_inner_b, BPF_MAP_TYPE_ARRAY, __u32, __u64, 4, PIN_NONE,
	   .id = ID_INNER_B, .inner_idx = INNER_IDX_NONE);
LEGACY_MAP(mim_inner_h, BPF_MAP_TYPE_ARRAY, __u32, __u64, 4, PIN_NONE,
	   .id = ID_INNER_H, .inner_idx = 2);

SEC("classifier")
int cls_map_in_map(struct __sk_buff *skb)
{
	__u32 arr_slot = 1, hash_key = 2;
	void *inner;
	int found = 0;

	inner = bpf_map_lookup_elem(&mim_outer_arr, &arr_slot);
	if (inner) {
		legacy_count(inner, 0, 1);
		found |= 1;
	}

	inner = bpf_map_lookup_elem(&mim_outer_hash, &hash_key);
	if (inner) {
		legacy_count(inner, 0, 1);
		found |= 2;
	}
	return found;
}

char __license[] SEC("license") = "GPL";
