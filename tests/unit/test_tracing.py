"""libbpf_py.tracing: what a tool's user space prints, as libbpf-tools prints it."""

from __future__ import annotations

import io

from libbpf_py.tracing import log2_bucket, print_log2_hist

# runqlat 1 1 (Debian's libbpf-tools 0.26), as it printed on this project's test machine
RUNQLAT = """\
     usecs               : count    distribution
         0 -> 1          : 0        |                                        |
         2 -> 3          : 4        |***                                     |
         4 -> 7          : 4        |***                                     |
         8 -> 15         : 19       |***************                         |
        16 -> 31         : 48       |****************************************|
        32 -> 63         : 3        |**                                      |
        64 -> 127        : 1        |                                        |
"""


def printed(*args) -> str:
    out = io.StringIO()
    print_log2_hist(*args, file=out)
    return out.getvalue()


def test_a_log2_histogram_is_printed_as_libbpf_tools_prints_it():
    assert printed([0, 4, 4, 19, 48, 3, 1, 0, 0], "usecs") == RUNQLAT


def test_an_empty_histogram_prints_nothing_and_a_long_one_is_wider():
    assert printed([0] * 30, "usecs") == ""
    wide = printed([1] + [0] * 33 + [2], "nsecs").splitlines()
    assert wide[0] == " " * 15 + "nsecs".ljust(29) + " : count    distribution"
    assert wide[1] == f"{0:>20} -> {1:<20} : {1:<8} |{'*' * 10}{' ' * 10}|"
    assert len(wide) == 36


def test_log2_buckets_are_the_bpf_side_s():
    assert [log2_bucket(v) for v in (0, 1, 2, 3, 4, 7, 8, 1023, 1024)] == [0, 0, 1, 1, 2, 2, 3, 9, 10]
