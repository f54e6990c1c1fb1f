// SPDX-License-Identifier: GPL-2.0
/* events.c with a 16 MiB ring: room for the streaming benchmark's bursts. */
#define EVENTS_RING_SIZE (1 << 24)
#include "events.c"
