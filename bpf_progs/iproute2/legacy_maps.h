/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Map declarations in the legacy iproute2 (tc / ip) object format.
 *
 * Legacy maps are plain global variables placed in an ELF section called
 * "maps"; the loader walks that section in fixed-size strides and reads one
 * descriptor per stride. Nothing here relies on BTF-defined ".maps".
 *
 * Written for the libbpf_py test suite; only the binary layout and the
 * numeric constants follow the iproute2 contract.
 */
#ifndef LIBBPF_PY_LEGACY_MAPS_H
#define LIBBPF_PY_LEGACY_MAPS_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Full iproute2 descriptor: nine 32-bit words, 36 bytes, no padding. */
struct bpf_elf_map {
	__u32 type;		/* enum bpf_map_type */
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;		/* map_flags for BPF_MAP_CREATE */
	__u32 id;		/* object-local id: tail calls, map-in-map */
	__u32 pinning;		/* PIN_* below, or a custom id */
	__u32 inner_id;		/* outer map: id of its template inner map */
	__u32 inner_idx;	/* inner map: outer slot to fill, or NO_SLOT */
};

_Static_assert(sizeof(struct bpf_elf_map) == 36, "bpf_elf_map must be 36 bytes");

/*
 * The older samples/libbpf descriptor (struct bpf_map_def layout): five
 * words, 20 bytes. A loader accepting it treats the missing trailing
 * fields (id, pinning, inner_id, inner_idx) as zero.
 */
struct legacy_map_def {
	__u32 type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	__u32 map_flags;
};

_Static_assert(sizeof(struct legacy_map_def) == 20, "legacy_map_def must be 20 bytes");

/* Values of bpf_elf_map.pinning. Anything else names a custom subtree. */
#define PIN_NONE	0
#define PIN_OBJECT_NS	1
#define PIN_GLOBAL_NS	2

/* bpf_elf_map.inner_idx: template only, do not insert into any outer. */
#define INNER_IDX_NONE	0xFFFFFFFFu

/* Section attribute for a legacy map descriptor; "used" keeps it emitted. */
#define LEGACY_MAP_SEC	__attribute__((section("maps"), used))

/*
 * LEGACY_MAP(name, type, ktype, vtype, entries, pin, ...) defines a global
 * struct bpf_elf_map in "maps". Extra designated initialisers (.id, .flags,
 * .inner_id, .inner_idx) can be appended.
 */
#define LEGACY_MAP(_name, _type, _ktype, _vtype, _entries, _pin, ...)	\
	struct bpf_elf_map LEGACY_MAP_SEC _name = {			\
		.type = (_type),					\
		.size_key = sizeof(_ktype),				\
		.size_value = sizeof(_vtype),				\
		.max_elem = (_entries),					\
		.pinning = (_pin),					\
		__VA_ARGS__						\
	}

/*
 * Key/value type annotation for map _name: an otherwise unused global whose
 * type pairs the two types, placed in ".maps.<name>" so that the type (and
 * thus key and value) ends up in BTF under a recognisable name.
 */
#define LEGACY_KV_ANNOTATE(_name, _ktype, _vtype)			\
	struct ____btf_map_##_name {					\
		_ktype key;						\
		_vtype value;						\
	};								\
	struct ____btf_map_##_name					\
	__attribute__((section(".maps." #_name), used))			\
		____btf_map_##_name

/* Classic tc verdicts (linux/pkt_cls.h), kept local to avoid the include. */
#ifndef TC_ACT_OK
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
#endif

/* Increment a u64 slot of an ARRAY/HASH map that must already exist. */
static __always_inline void legacy_count(void *map, __u32 key, __u64 delta)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, delta);
}

/* Increment a u64 in a HASH map, creating the entry when missing. */
static __always_inline void legacy_hash_count(void *map, __u32 key, __u64 delta)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v) {
		__sync_fetch_and_add(v, delta);
	} else {
		__u64 init = delta;

		bpf_map_update_elem(map, &key, &init, BPF_NOEXIST);
	}
}

#endif /* LIBBPF_PY_LEGACY_MAPS_H */
