# expect: bad_prog.py:7: error: "Progs" has no attribute "handle"
"""A program the object does not have."""

import skel_all_skel

skel = skel_all_skel.open()
skel.progs.handle.test_run(bytes(64))
