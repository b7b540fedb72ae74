"""symdiff's version, in a leaf module so that any layer can read it.

The package root re-exports it as `symdiff.__version__`; code inside the package
(the Numba cache key, generated module headers, `symdiff --version`) imports it
from here, since importing the root from below would loop back through api.
Imports nothing. Keep it equal to `version` in pyproject.toml.
"""

__version__ = "0.1.0"
