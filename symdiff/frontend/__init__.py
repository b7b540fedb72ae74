"""Frontend: Python source -> Wengert list (`symdiff.ir`)."""

from symdiff.frontend.lower import lower_function

__all__ = ["lower_function"]
