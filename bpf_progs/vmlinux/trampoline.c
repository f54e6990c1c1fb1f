/* Programs that attach through BPF trampolines or kprobe-multi, by section (Program.attach()):
 * fentry, fexit, fmod_ret, LSM, kprobe.multi. Each counts calls made by the process whose tgid
 * is in target_tgid[0]: [0] fentry getpgid, [1] fexit getpgid, [2] fmod_ret, [3] lsm file_open,
 * [4] kprobe.multi. A kernel may refuse some of these (the tests skip then, saying why). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_tgid SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u32 zero = 0, *tgid = bpf_map_lookup_elem(&target_tgid, &zero);
	__u64 *v;

	if (!tgid || (bpf_get_current_pid_tgid() >> 32) != *tgid)
		return;
	v = bpf_map_lookup_elem(&hits, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("fentry/__x64_sys_getpgid")
int BPF_PROG(fentry_getpgid)
{
	count(0);
	return 0;
}

SEC("fexit/__x64_sys_getpgid")
int BPF_PROG(fexit_getpgid)
{
	count(1);
	return 0;
}

SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(fmod_ret_test, int a, int *b, int ret)
{
	count(2);
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	count(3);
	return 0;
}

SEC("kprobe.multi/__x64_sys_getpgi*")
int kprobe_multi_getpgid(struct pt_regs *ctx)
{
	count(4);
	return 0;
}
