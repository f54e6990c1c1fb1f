// SPDX-License-Identifier: GPL-2.0
/* pinned.c with a smaller pinned_counts: an object that loads differently, for compare's tests. */
#define PINNED_ENTRIES 128
#include "pinned.c"
