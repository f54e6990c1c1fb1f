# expect: bad_map.py:8: error: "Maps" has no attribute "counters"
"""A map the object does not have."""

import skel_all_skel

skel = skel_all_skel.open()
skel.load()
print(skel.maps.counters)
