"""Programs that read memory a write has changed since (views, second names, `+=`).

`# read` marks the line a refusal must point at and `# write` the write it
must name. The accepted programs read only elements no write reached, or
copies, so their NumPy meaning and symdiff's agree.
"""

import numpy as np

# -- refused: NumPy would show the write through the view ---------------------


def row_read_after_its_write(x):
    hs = np.zeros((3, 2))
    row = hs[0]
    hs[0] = x  # write
    return np.sum(row * x)  # read


def second_name_read_after_write(x):
    hs = np.zeros((3, 2))
    same = hs
    hs[1] = x  # write
    return np.sum(same * x)  # read


def transpose_read_after_write(x):
    hs = np.zeros((3, 2))
    ht = hs.T
    hs[1] = x  # write
    return np.sum(ht) * x[0]  # read


def reshape_read_after_write(x):
    hs = np.zeros((3, 2))
    flat = hs.reshape(6)
    hs[2] = x  # write
    return np.sum(flat) * x[0]  # read


def array_read_after_write_through_view(x):
    hs = np.zeros((3, 2))
    row = hs[0]
    row[1] = x[0]  # write
    return np.sum(hs * x[1])  # read


def array_read_after_augmented_view(x):
    hs = np.zeros((3, 2))
    row = hs[0]
    row += x  # write
    return np.sum(hs * x)  # read


def second_name_read_after_augmented_update(x):
    a = np.zeros(2)
    b = a
    a += x  # write
    return np.sum(b * x)  # read


def view_read_after_a_branch_wrote(x):
    hs = np.zeros((3, 2))
    row = hs[0]
    if np.sum(x) > 0:
        hs[0] = x  # write
    return np.sum(row * x) + np.sum(hs)  # read


def view_taken_before_a_loop_that_writes(x, n):
    hs = np.zeros((n, 2))
    row = hs[0]
    total = 0.0
    for t in range(n):
        hs[t] = x * t  # write
        total = total + np.sum(row * x)  # read
    return total


def view_read_after_the_loop(x, n):
    hs = np.zeros((n, 2))
    first = hs[0]
    for t in range(n):
        hs[t] = x * (t + 1.0)  # write
    return np.sum(first * x)  # read


def rows_that_meet_when_the_counter_wraps(x, n):
    hs = np.zeros((n, 2))
    total = 0.0
    for t in range(n):
        prev = hs[t - 1]  # -1 at first: for n = 1 that is row 0, which the next line writes
        hs[t] = x * (t + 1.0)  # write
        total = total + np.sum(prev * x)  # read
    return total


def view_returned_after_write(x):
    hs = np.zeros((3, 2))
    row = hs[0] * 1.0 + hs[1]
    view = hs[1:]
    hs[2] = x * row  # write
    return view  # read


def writes_into_argument_through_view(x):
    row = x[0]
    row[1] = 2.0  # write
    return np.sum(x)


# -- accepted: the read elements were not written, or are copies --------------


def other_row_read_after_write(x):
    hs = np.zeros((3, 2))
    row = hs[0]
    hs[1] = x
    return np.sum(row * x) + np.sum(hs * hs)


def element_of_a_vector_is_a_copy(x):
    v = np.zeros(3)
    first = v[0]
    v[0] = x[0]
    return first * x[1] + np.sum(v * v)


def previous_row_in_a_recurrence(x, n):
    hs = np.zeros((n + 1, 2))
    hs[0] = x
    for t in range(1, n + 1):
        prev = hs[t - 1]
        hs[t] = np.tanh(prev * 0.5 + x)
        hs[t] = hs[t] + 0.1 * prev
    return np.sum(hs**2)


def next_row_from_zero(x, n):
    hs = np.zeros((n + 1, 2))
    hs[0] = x
    for t in range(n):
        here = hs[t]
        hs[t + 1] = np.sin(here) * x
        hs[t + 1] = hs[t + 1] * np.cos(here)
    return np.sum(hs * hs)


def view_carried_to_the_next_step(x, n):
    hs = np.zeros((n, 2))
    hs[0] = x
    prev = hs[0]
    for t in range(1, n):
        hs[t] = np.sin(prev) * x
        prev = hs[t]
    return np.sum(hs) + np.sum(prev * x)


def slices_that_do_not_meet(x):
    hs = np.zeros((2, 4))
    left = hs[:, :2]
    hs[:, 2:] = x * x
    return np.sum(left + 1.0) * np.sum(hs[:, 2:] * x)


def both_arms_write(x):
    hs = np.zeros((3, 2))
    if np.sum(x) > 0:
        hs[0] = x
    else:
        hs[1] = x * 2.0
    return np.sum(hs * x)


def copy_before_write(x):
    hs = np.zeros((3, 2))
    hs[0] = x
    row = hs[0].copy()
    hs[0] = x * x
    return np.sum(row * hs[0])


def shape_of_a_stale_name(x):
    hs = np.zeros((3, 2))
    same = hs
    hs[0] = x
    return np.sum(hs * x) * same.shape[0]


def augmented_scalar_with_a_second_name(x):
    s = 0.0
    old = s
    s += np.sum(x)
    return s * old + s * s


def augmented_view_then_other_rows(x):
    hs = np.zeros((3, 2))
    row = hs[0]
    row += x
    other = hs[1] + 1.0
    return np.sum(other * x) + np.sum(row * x)


def asarray_is_a_second_name(x):
    hs = np.zeros((3, 2))
    same = np.asarray(hs)
    hs[0] = x  # write
    return np.sum(same * x)  # read


def array_is_a_copy(x):
    hs = np.zeros((3, 2))
    old = np.array(hs)
    hs[0] = x
    return np.sum(old + 1.0) * np.sum(hs * x)


def previous_row_read_after_the_loop(x, n):
    hs = np.zeros((n, 2))
    hs[0] = x
    prev = hs[0]
    for t in range(1, n):
        prev = hs[t - 1]
        hs[t] = np.sin(prev) + x
    return np.sum(hs * x) + np.sum(prev * prev)


def rows_in_a_while_loop(x, n):
    hs = np.zeros((n + 1, 2))
    hs[0] = x
    t = 0
    while t < n:
        here = hs[t]
        hs[t + 1] = np.sin(here) + x
        t = t + 1
    return np.sum(hs * hs)


def rows_rewritten_in_nested_loops(x, n):
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = np.sum(x) * (i + 1.0) - j
        row = out[i]
        out[i] = row * 2.0
    return np.sum(out * out)


def view_read_after_nested_loops_wrote(x, n):
    out = np.zeros((n, 2))
    first = out[0]
    for i in range(n):
        for j in range(2):
            out[i, j] = x[j] * (i + 1.0)  # write
    return np.sum(first * x)  # read


def running_sum_from_an_element(x, n):
    s = x[0]  # a number for a vector x: `s += ...` makes a new number
    for i in range(1, n):
        s += x[1] * s  # for a matrix x, a write into row 0, which is never read again
    return s


def running_sum_that_rereads_its_element(x, n):
    s = x[0]  # for a matrix x, a view of row 0 that `s += ...` writes into
    for i in range(1, n):
        t = x[i % 2]  # read
        s += t * s  # write
    return s


def augmented_reshape_then_array_read(x):
    hs = np.zeros((4, 3)) + x
    flat = hs.reshape(12)
    flat += np.cos(x[2])  # write
    return np.sum(hs * hs)  # read


def augmented_local_of_unknown_rank_then_view_read(x):
    t = np.arctan(x) - x  # x's rank is unknown here, so t may be an array: t *= writes its memory
    view = t.transpose()
    t *= 2.0  # write
    return np.sum(view * view)  # read


def fresh_array_every_step(x):
    state = np.stack([x, 2.0 * x])
    for t in range(3):
        new = np.zeros_like(state)  # a new array in every step: the last step's `state` is another one
        for i in range(2):
            new[i] = np.tanh(state[i] + state[1 - i])
        state = new
    return np.sum(state)


def one_array_for_every_step(x):
    state = np.stack([x, 2.0 * x])
    new = np.zeros_like(state)
    for t in range(3):
        for i in range(2):
            new[i] = np.tanh(state[i] + state[1 - i])  # read
        state = new  # from the second step on, `state` is `new` itself
    return np.sum(state)


def one_array_appended_every_step(x):
    acc = np.zeros(2)
    rows = []
    for t in range(3):
        acc += x * t  # write
        rows.append(acc)  # read
    return np.sum(np.stack(rows) ** 2)


def listed_row_then_written_in_a_loop(x):
    q = np.stack([np.sin(x), x])
    items = [q[0]]
    for i in range(2):
        q /= 2.0  # write
        items.append(x * i)  # read
    return np.sum(np.stack(items))


def a_fresh_array_appended_every_step(x):
    acc = np.zeros(2)
    rows = []
    for t in range(3):
        acc = acc + x * t
        rows.append(acc)
    return np.sum(np.stack(rows) ** 2)
