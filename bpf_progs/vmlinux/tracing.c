/* An iterator that needs the running kernel's types (vmlinux.h from bpftool): it prints the id
 * of every map, one a line. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/bpf_map")
int dump_map_ids(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;

	if (map)
		BPF_SEQ_PRINTF(ctx->meta->seq, "%u\n", map->id);
	return 0;
}
