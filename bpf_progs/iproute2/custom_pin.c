// SPDX-License-Identifier: GPL-2.0
/*
 * Legacy tc object exercising the pinning field beyond the three built-in
 * scopes:
 *   map_custom   pinning = 5   (a custom id, expected in bpf_pinning)
 *   map_unknown  pinning = 77  (custom id that no database lists)
 *   map_global   PIN_GLOBAL_NS
 * Per run each map's entry 0 is incremented: map_custom by 1,
 * map_unknown by 2, map_global by 3. Returns TC_ACT_OK.
 */
#include "legacy_maps.h"

#define PIN_CUSTOM_5	5
#define PIN_CUSTOM_77	77

LEGACY_MAP(map_custom, BPF_MAP_TYPE_ARRAY, __u32, __u64, 1, PIN_CUSTOM_5);
LEGACY_MAP(map_unknown, BPF_MAP_TYPE_ARRAY, __u32, __u64, 1, PIN_CUSTOM_77);
LEGACY_MAP(map_global, BPF_MAP_TYPE_ARRAY, __u32, __u64, 1, PIN_GLOBAL_NS);

SEC("classifier")
int cls_custom_pin(struct __sk_buff *skb)
{
	legacy_count(&map_custom, 0, 1);
	legacy_count(&map_unknown, 0, 2);
	legacy_count(&map_global, 0, 3);
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
