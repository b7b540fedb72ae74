"""GradBench's evals as plain NumPy objectives, differentiated by symdiff.

One module per eval (https://github.com/gradbench/gradbench, `evals/<name>`):
each holds the objective as a NumPy user writes it from the eval's
specification, and the functions the eval asks for (primal, gradient,
Jacobian, ...), computed with symdiff on the backend given by `backend`.
`tool.py` serves them over GradBench's JSON-lines protocol.
"""

EVALS = ("hello", "lse", "llsq", "det", "kmeans", "gmm", "ba", "ht", "lstm", "ode", "particle", "saddle")
