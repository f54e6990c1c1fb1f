// The other half of link_main.c: the function and the variable it uses.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

volatile const int offset = 1;

__attribute__((noinline)) int scale(int x)
{
    return x * 2;
}
