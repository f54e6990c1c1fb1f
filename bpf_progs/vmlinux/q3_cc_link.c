/* q3_cc.c's congestion control as a `.struct_ops.link` map (libbpf >= 1.2, kernel >= 6.4):
 * registered through a kernel link of its own, which outlives the object and can be pinned. */
#define Q3_CC_NAME "lbpy_q3ccl"
#define Q3_CC_SECTION ".struct_ops.link"
#define Q3_CC_MAP q3_cc_link
#include "q3_cc.c"
