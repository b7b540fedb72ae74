"""autograd's `misc` helpers, so autograd programs run with their imports changed to symdiff's.

`flatten` turns a pytree of arrays into one vector and back; `optimizers`
holds `sgd`, `rmsprop` and `adam`, which take a gradient function of
`(params, iteration)` and parameters of any pytree structure.
"""

from symdiff.misc.flatten import flatten, flatten_func

__all__ = ["flatten", "flatten_func"]
