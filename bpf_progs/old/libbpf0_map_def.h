/* SPDX-License-Identifier: GPL-2.0 */
/* struct bpf_map_def as libbpf 0.x's bpf_helpers.h declared it (20 bytes). */
#ifndef LIBBPF0_MAP_DEF_H
#define LIBBPF0_MAP_DEF_H

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

#endif
