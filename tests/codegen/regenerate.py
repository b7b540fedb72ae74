"""Rewrite the golden generated sources: `python -m tests.codegen.regenerate`."""

from pathlib import Path

import symdiff as sd
from tests.api.test_smoke import logistic_loss, mlp_loss

GOLDEN = Path(__file__).parent / "golden"

if __name__ == "__main__":
    for name, function, wrt in [("logistic_grad.py", logistic_loss, 0), ("mlp_grad.py", mlp_loss, (0, 1, 2, 3))]:
        (GOLDEN / name).write_text(sd.emit(function, wrt=wrt).split("\n", 3)[3])
        print("wrote", GOLDEN / name)
