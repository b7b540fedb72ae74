"""Everyday Python that symdiff differentiates as it is written (the coverage issue).

Loops over lists, tuples, array rows, zip and enumerate; nested functions,
lambdas and closures; print lines. tests/frontend/test_python_forms.py checks
each against finite differences on both CPU backends.
"""

import functools

import numpy as np


def over_list(x):
    total = 0.0
    for c in [1.0, 2.0, 3.0]:
        total = total + c * np.sum(x**2)
    return total


def over_tuple_of_pairs(x):
    params = ((x, 2.0 * x), (x * x, 1.0))
    total = 0.0
    for w, b in params:
        total = total + np.sum(w * b)
    return total


def over_rows(x):
    total = 0.0
    for row in x:
        total = total + np.sum(np.tanh(row) * row)
    return total


def over_zip(x, w):
    total = 0.0
    for a, b in zip(x, w):
        total = total + a * b * a
    return total


def over_zip_of_list_and_rows(x):
    total = 0.0
    for c, row in zip([1.0, -2.0], x):
        total = total + c * np.sum(row**3)
    return total


def over_enumerate(x):
    total = 0.0
    for i, v in enumerate(x):
        total = total + i * v * v
    return total


def over_reversed_list(x):
    h = x
    for scale in reversed([0.5, 2.0, 3.0]):
        h = np.sin(h * scale)
    return np.sum(h)


def last_row_after_loop(x):
    row = x[0]
    for row in x:
        pass
    return np.sum(row * row)


def with_lambda(x):
    square = lambda v: v * v
    return np.sum(square(x) + square(2.0 * x))


def with_closure(x, w):
    scale = 3.0 * w

    def layer(h):
        return np.tanh(h * scale)

    return np.sum(layer(layer(x)))


def late_binding(x):
    k = 1.0
    times_k = lambda v: v * k
    k = 2.0  # a closure reads the variable when it is called
    return np.sum(times_k(x))


def passes_a_function(x):
    def twice(g, v):
        return g(v) + g(2.0 * v)

    return np.sum(twice(lambda u: np.sin(u), x))


def printing(x):
    print("value of x:", x)
    return np.sum(x * x)


def make_loss(data):
    def loss(w):
        return np.sum((data @ w) ** 2)

    return loss


closure_loss = make_loss(np.array([[1.0, 2.0], [3.0, -1.0]]))
lambda_loss = lambda w, b: np.sum(np.tanh(w) * b)


def list_comprehension(x):
    parts = [np.sin(x * k) for k in range(3)]
    return np.sum(np.stack(parts)) + sum(np.sum(p * p) for p in parts)


def comprehension_with_condition(x):
    return np.sum(np.array([x[i] * x[i] for i in range(4) if i % 2 == 0]))


def nested_generators(x):
    return sum(x[i] * x[j] for i in range(3) for j in range(i))


def comprehension_over_params(params, x):
    norms = [np.sum(w**2) for w, b in params]
    return sum(norms) + max(np.sum(b) for w, b in params) + np.sum(x)


def data_dependent_filter(x):
    return sum(v for v in [x[0], x[1]] if v > 0)


def _make_square_loss():
    def loss(x):
        return np.sum(x * x)

    return loss


square_loss = _make_square_loss()


def loss(x):  # the same name as the function it calls: not recursion
    return square_loss(x) + np.sum(x.copy())


def list_filled_by_append(x):
    out = []
    for i in range(3):
        out.append(x * i)
    return np.sum(out)


def composite_on_numba(x):
    return np.sum(np.kron(x, x) * 2.0)  # np.kron is a composite that Numba does not lower


def with_break(x):
    total = 0.0
    for i in range(10):
        x = x * 0.5
        if x < 0.1:
            break
        total = total + x * x
    return total


def with_continue(x):
    total = 0.0
    for i in range(len(x)):
        if x[i] < 0:
            continue
        total = total + x[i] ** 2
    return total


def while_with_break(x):
    k = 0
    while k < 100:
        x = np.sin(x) + x
        k = k + 1
        if x > 3.0:
            break
    return x * k


def return_inside_loop(x):
    for i in range(5):
        x = x * 1.5
        if x > 2.0:
            return x * x
    return -x


def return_from_endless_loop(x):
    while True:  # left only by its return, as GradBench's gradient descent (gd.hpp) is written
        if x > 10.0:
            return x * x
        x = x * 2.0 + np.sin(x)


def _grow_until_large(x):
    while True:
        if np.sum(x) > 10.0:
            return x
        x = x * 2.0 + np.sin(x)


def return_array_from_endless_loop(x):
    """The array a return inside the loop keeps has the array's type from the start (Numba types it once)."""
    return np.sum(np.cos(_grow_until_large(x)))


def return_pair_from_a_loop(x, y):
    for i in range(4):
        if np.sum(x * y) > 5.0:
            return x, y
        x = x * 1.5
        y = y + 0.5
    return x + 1.0, y


def total_of_pair(x, y):
    a, b = return_pair_from_a_loop(x, y)
    return np.sum(a * b)


def break_in_nested_loop(x):
    total = 0.0
    for i in range(3):
        for j in range(3):
            if j > i:
                break
            total = total + x[i] * x[j]
    return total


def return_from_nested_loop(x):
    for i in range(3):
        for j in range(3):
            if x[i] * x[j] > 1.5:
                return x[i] * x[j]
    return np.sum(x)


def tuple_indexed_by_a_variable(a, b, c, i):
    x = a, b, c
    return x[i] * x[i]


def dict_call(a, b):
    d = dict(a=a, b=b)  # noqa: C408 - the call form is what is tested
    e = {"a": d["b"], "c": 2.0}
    return d["a"] * e["a"] + np.sin(d["b"]) * e["c"]


def _layers(weights, sizes=((2, 3), (3, 1))):
    """A generator of views of one weight vector, as autograd's bayesian_neural_net unpacks layers."""
    for m, n in sizes:
        yield weights[: m * n].reshape((m, n)), weights[m * n : m * n + n]
        weights = weights[(m + 1) * n :]


def network_from_a_generator(weights):
    h = np.array([[0.5, -1.0], [2.0, 0.3]])
    for W, b in _layers(weights):
        h = np.tanh(h @ W + b)
    return np.sum(h**2)


def _pairs(x):
    for k in range(3):
        yield x[k], x[k] * k


def generator_with_continue(x):
    total = 0.0
    for a, b in _pairs(x):
        if a > 0.5:
            continue
        total = total + a * b + np.sin(a)
    return total


def _running_pairs(x, n):
    for k in range(n):
        yield x[k]


def generator_over_a_runtime_range(x, n):
    total = 0.0
    for a in _running_pairs(x, n):
        total = total + a
    return total


def _scaled(x, k, bias=0.0):
    return np.sum(np.sin(x) * k) + bias


def partials_and_map(x):
    """functools.partial made inside and map over a list (autograd's hmm_em sums so)."""
    f = functools.partial(_scaled, k=2.0, bias=x[0])
    g = functools.partial(_scaled, x)
    return f(x) + g(3.0) + sum(map(np.square, [x[1], x[2]]))


def log_partition(params, data):
    """A list of sequences handled by calling itself on each: the recursion ends while building."""
    if isinstance(data, list):
        return sum(map(functools.partial(log_partition, params), data))
    log_pi, log_A = params
    log_alpha = log_pi
    for y in data:
        log_alpha = np.log(np.sum(np.exp(log_alpha[:, None] + log_A), axis=0)) + y
    return np.log(np.sum(np.exp(log_alpha)))


def diagonal_product(A):
    """Recursion that ends on a shape: built for each shape, the recursion unrolls while building."""
    if A.shape[0] == 1:
        return A[0, 0]
    return A[0, 0] * diagonal_product(A[1:, 1:])


def leave_one_out(x, depth=0.0):
    """Shapes through np.delete and a loop counter: each call drops one element."""
    if len(x) == 2:
        return x[0] * x[1] + depth
    total = 0.0
    for i in range(len(x)):
        total = total + np.sin(x[i]) * leave_one_out(np.delete(x, i), depth + 1.0)
    return total


def halving(x):
    """Recursion that ends on a value: known only when running."""
    if np.sum(x) < 1.0:
        return np.sum(x)
    return halving(x * 0.5)


def never_shrinks(x):
    """Reads a shape, but the shape it recurses on never changes."""
    if x.shape[0] == 0:
        return 0.0
    return np.sum(x) + never_shrinks(x)


def _parts(x):
    return x[:2], x[1:3] * 2.0, np.cos(x[2:4])


def zip_of_a_starred_tuple(x):
    total = 0.0
    for a, b, c in zip(*_parts(x)):
        total = total + a * b + c
    return total


def list_grown_in_an_unrolled_loop(x):
    out = [x[0]]
    for k in (1, 2):
        out.append(x[k] * k)
    out.extend([np.sin(x[0]), x[1] ** 2])
    return np.sum(np.stack(out) ** 2)


def list_grown_in_a_running_loop(x, n):
    out = [x[0]]
    for k in range(n):
        out.append(x[k] * k)
    return np.sum(np.stack(out))


INPUTS = np.array([[0.5, -1.0], [0.3, 0.2]])


def _predict(W, INPUTS):
    outputs = INPUTS @ W
    INPUTS = np.tanh(outputs)  # a value named as the module array it was computed from
    return INPUTS @ W


def module_array_and_a_value_of_its_name(W):
    """autograd's neural_net_regression: a module `inputs` passed to a helper that rebinds `inputs`."""
    return np.sum(_predict(W, INPUTS) ** 2) + np.sum(INPUTS * W)


def tuple_then_list_in_a_loop(x):
    state = (x, x * 2.0)
    for _ in range(3):
        state = [np.sin(state[0]), state[1] * state[0]]  # a list where the tuple was: joined item by item
    a, b = state
    return np.sum(a + b)


sum_to = np.array([0.2, -0.4])  # named as a helper that generated code calls (found by the fuzzer)
x_bar = 0.5  # and as the cotangent of a parameter x
vexp = np.array([0.3, 0.1])  # and as helpers the numba backend imports
at = np.array([[1.0, -0.5], [0.2, 0.7]])


def module_values_named_like_generated_code(x):
    return np.sum(np.sin(x @ np.ones((2, 2)) + sum_to) * x_bar) + np.sum(x * sum_to) + np.sum(np.exp(x * vexp) * at)


def loop_variable_after_the_loop(x):
    """After `for i in range(3)`, i is 2 (was read as the 5 it held before the loop)."""
    i = 5
    t = x
    for i in range(3):
        t = t * 2.0
    return np.sum(t) * i


def loop_variable_after_a_running_loop(x, n):
    i = 5
    for i in range(n):
        x = x * 2.0
    return np.sum(x) * i


def first_assigned_in_a_constant_loop(x):
    """`t` and `u` are first assigned in loops known to run: after them, the last iteration's values."""
    acc = 0.0
    for i in range(3):
        t = np.sin(x) * (i + 1.0) + acc
        acc = acc + np.sum(t)
    for k in reversed(range(1, 4)):
        u = x * k
    return np.sum(t * x) + acc + np.sum(u * u)


def first_assigned_in_a_running_loop(x, n):
    for i in range(n):  # may run no times: t would be unbound
        t = x * i
    return np.sum(t)


def closure_after_an_early_return(x):
    """The code after `if ...: return` is the if's other arm: a lambda defined there is not a value to join."""
    if np.sum(x) > 5.0:
        return np.sum(x)
    h = lambda v: v * np.sin(x)
    return np.sum(h(x))


def function_chosen_by_an_if(x):
    if np.sum(x) > 0:
        h = lambda v: v * v
    else:
        h = lambda v: v * 3.0
    return np.sum(h(x))


def rows_unpacked_then_differentiated_through_a_quotient(y, z):
    """Found by the fuzzer: the second row's cotangent is written into the first's (`t_bar[0] = ...`),
    and that sum was inlined into the quotient's rule, which then read a name never assigned."""
    t = 1.0 / (1.5 + np.sin(z - y))
    p, q = t
    return np.sum(np.cos(p)) + np.sum(q)


def rnn_outputs(W, xs):
    """autograd's rnn/lstm examples: a list started with the first output and grown by append in a loop
    over an argument's rows, then indexed in a second loop and stacked."""
    h = np.zeros(W.shape[0])
    outputs = [np.tanh(h)]
    for x in xs:
        h = np.tanh(W @ h + x)
        outputs.append(h * 2.0)
    total = 0.0
    for t in range(len(xs)):
        total = total + np.sum(outputs[t] * xs[t])
    return total + np.sum(np.vstack(outputs) ** 2) + np.sum(outputs[-1]) * len(outputs)


def gmm_clusters(mu, data):
    """autograd's gmm example: a list started empty, one item per row of an argument, then np.vstack."""
    lls = []
    for m in mu:
        lls.append(-0.5 * np.sum((data - m) ** 2, axis=1))
    return np.sum(np.log(np.sum(np.exp(np.vstack(lls)), axis=0)))


def list_appended_under_a_condition(x, n):
    out = [x]
    for k in range(n):
        if k % 2 == 0:
            out.append(x * k)  # one item on some iterations only: its length is known only when running
    return np.sum(np.stack(out))


def list_items_of_two_shapes(x, n):
    out = [x]
    for k in range(n):
        out.append(x[:1] * k)  # a row of another shape: an error, never broadcast into the array
    return np.sum(out[-1])


def states_from_the_last_state(W, n):
    """The list read in the loop that grows it: each state from the last one (`hs[-1]`)."""
    hs = [np.tanh(W[0])]
    for k in range(n):
        hs.append(np.tanh(W @ hs[-1] + 0.1 * len(hs)))
    return np.sum(np.stack(hs) ** 2) + np.sum(hs[1])


def list_read_and_rebound_in_the_loop(x, n):
    out = [x]
    for k in range(n):
        out.append(out[-1] * 2.0)
        out = out[1:]  # rebound to one item again: a list of one item, carried as such
    return np.sum(np.stack(out))


def list_appended_twice_per_iteration(x, n):
    out = [x]
    for k in range(n):
        out.append(x * k)
        out.append(x * 2.0)  # two rows per iteration: not held as an array
    return np.sum(np.stack(out))


def transposed_view_carried_and_saved(x, y):
    """Numba: `t` is a transposed view (layout F) and its cotangent meets fresh arrays (layout C) in
    one variable of the backward loop; that variable was layout A, which Numba cannot allocate for."""
    acc = np.sum(x)
    for i in range(2):
        t = np.transpose(y)
        acc = acc + np.sum(np.sin(np.log1p(t * t))) * acc
    return np.mean(t * t) + acc
