"""symdiff: source-to-source differentiation of plain NumPy-style Python.

`@symdiff.grad` reads a function's source, lowers it to a Wengert list, walks
it backwards through a table of derivative rules and emits an ordinary Python
gradient function you can read (`.source`), save (`symdiff.emit`) and
differentiate again.
"""

from symdiff.api import emit, grad, value_and_grad, vjp
from symdiff.errors import SymdiffError
from symdiff.higher import elementwise_grad, hessian, hvp, jacobian, jvp
from symdiff.ir.schedules import Binomial, checkpointed
from symdiff.rules.registry import register_derivative
from symdiff.sparse import sparse_hessian, sparse_jacobian
from symdiff.version import __version__ as __version__  # re-exported: symdiff.__version__

hessian_vector_product = hvp  # autograd's name, with the same arguments: (f, wrt)(*args, v)

__all__ = [
    "Binomial",
    "SymdiffError",
    "checkpointed",
    "elementwise_grad",
    "emit",
    "grad",
    "hessian",
    "hessian_vector_product",
    "hvp",
    "jacobian",
    "jvp",
    "register_derivative",
    "sparse_hessian",
    "sparse_jacobian",
    "value_and_grad",
    "vjp",
]
