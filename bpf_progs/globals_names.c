// SPDX-License-Identifier: GPL-2.0
/* Global variables whose names ctypes or the binding might trip on: names like the binding's
 * own padding, a name ctypes gives a method, bitfields inside an anonymous union, .kconfig. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <stdbool.h>

__u32 _bits_used = 3;
__u64 _pad_count = 7;
__u32 normal = 1;

struct flags {
	union {
		struct {
			__u32 lo : 4, hi : 4;
		};
		__u32 raw;
	};
};
struct flags fl = { .raw = 0x21 };

extern int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;

__u32 from_buffer_copy SEC(".rodata.odd") = 5;

SEC("tc")
int sum(struct __sk_buff *skb)
{
	normal += _bits_used + _pad_count + fl.lo + from_buffer_copy;
	return LINUX_KERNEL_VERSION > 0 && CONFIG_BPF_SYSCALL;
}

char LICENSE[] SEC("license") = "GPL";
