/* SPDX-License-Identifier: GPL-2.0 */
/* Included by probe_events.h: its types reach BTF where that header's types use them. */
#ifndef PROBE_EVENTS_COMMON_H
#define PROBE_EVENTS_COMMON_H

struct probe_ids {
	__u32 uid;
	__u32 gid;
};

struct probe_unused_common {
	__u64 never_used;
};

#endif /* PROBE_EVENTS_COMMON_H */
