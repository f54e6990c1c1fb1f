/* SPDX-License-Identifier: GPL-2.0 */
/* struct bpf_map_def as samples/bpf/bpf_load.h declared it: libbpf 0.x's five fields, then the
 * inner template's map index (for map-in-maps) and a NUMA node (with BPF_F_NUMA_NODE). */
#ifndef BPF_LOAD_MAP_DEF_H
#define BPF_LOAD_MAP_DEF_H

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
	unsigned int inner_map_idx;
	unsigned int numa_node;
};

#endif
