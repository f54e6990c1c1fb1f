// SPDX-License-Identifier: GPL-2.0
/* Maps whose keys and values have every shape BTF describes (signed ints, enums, bitfields,
 * char arrays, nested structs, anonymous unions, arrays of structs, bool), for the decoder of
 * `libbpf-py map dump` and its tests; a syscall-free program fills one entry. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum color { RED = 1, GREEN = 2, BLUE = -3 };

struct point {
	__s16 x;
	__s16 y;
};

struct record {
	char name[12];
	enum color color;
	unsigned int small : 3;
	int negative : 5;
	unsigned int flag : 1;
	_Bool ok;
	struct point points[2];
	union {
		__u32 as_u32;
		__u8 as_bytes[4];
	};
	__s64 delta;
	__u64 counts[3];
};

struct key {
	__u32 ifindex;
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, struct key);
	__type(value, struct record);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __s32);
} per_cpu SEC(".maps");

SEC("tc")
int fill(struct __sk_buff *skb)
{
	struct key k = { .ifindex = 1, .port = 80, .proto = 6 };
	struct record r = {
		.name = "tc", .color = BLUE, .small = 5, .negative = -7, .flag = 1, .ok = 1,
		.points = { { -1, 2 }, { 3, -4 } }, .as_u32 = 0x01020304, .delta = -9, .counts = { 1, 2, 3 },
	};
	__u32 zero = 0;
	__s32 *v = bpf_map_lookup_elem(&per_cpu, &zero);

	if (v)
		*v -= 1;
	bpf_map_update_elem(&records, &k, &r, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
