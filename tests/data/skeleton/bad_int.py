# expect: bad_int.py:7: error: Incompatible types in assignment (expression has type "str", variable has type "int")
"""A str assigned to an int global."""

import skel_all_skel

skel = skel_all_skel.open()
skel.rodata.threshold = "10"
