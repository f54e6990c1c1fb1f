// SPDX-License-Identifier: GPL-2.0
/* libbpf0_era.c with a "classifier" program: libbpf 0.x and tc would load it differently. */
#define WITH_CLASSIFIER
#include "libbpf0_era.c"
