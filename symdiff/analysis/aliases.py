"""Which ops may hand back their first operand's memory: what in-place writes must look out for.

An element write runs in place only where no other name still sees the
array's memory (codegen/layout.py), and a row read out of an array is copied
where it outlives a write into that array (optimize/copies.py); both follow
memory along these ops.
"""

from __future__ import annotations

ELEMENT_READS = frozenset({"getitem", "written_values"})  # `a[index]`: a view, or a scalar copy of one element
VIEWS = ELEMENT_READS | {"reshape", "transpose", "swapaxes", "ravel", "squeeze", "expand_dims", "broadcast_to", "flip"}
PASSED_ON = frozenset({"sum_to", "axis_slice"})  # may return their operand itself, unchanged
