# expect: bad_member.py:7: error: Incompatible types in assignment (expression has type "int", variable has type
"""An int where a structure's char array is."""

import skel_all_skel

skel = skel_all_skel.open()
skel.rodata.cfg.label = 5
