"""The CUDA backend's fixed kernels: strided reads, copies, gathers and scatters, reductions and scans,
matrix products.

Generated modules carry a verbatim copy of everything below the imports (see
`standalone.library_source`), so this file may use only `math`, NumPy and
`numba.cuda`, and every name it defines ends up in the generated module.

Conventions shared with the generated elementwise kernels:
- every device value is a 1-D contiguous buffer plus, on the host, a shape,
  element strides and an offset (`runtime.View`);
- a kernel that reads strided or broadcast operands gets one int64 `layout`
  array: row 0 is `[0, 0, *shape]` of the index space, row r is
  `[offset, dense, *strides]` of operand r, with stride 0 on broadcast axes
  and `dense` = 1 when the operand is C-contiguous over that index space
  (then element i sits at offset + i and no index arithmetic is needed);
- launches use grid-stride loops, so any grid size covers any array. Under
  Numba's simulator, which runs a few thousand threads per second, the
  launch sizes below are small.

Shared-memory sizes must be compile-time constants, hence `REDUCE_THREADS`
and `TILE` are module constants chosen once at import.
"""

from __future__ import annotations

import math

from numba import config, cuda, float64

SIMULATOR = bool(config.ENABLE_CUDASIM)
THREADS = 32 if SIMULATOR else 256  # threads per block of 1-D kernels
MAX_BLOCKS = 2 if SIMULATOR else 4096  # grid-stride loops cover the rest
REDUCE_THREADS = 4 if SIMULATOR else 256  # a power of two: the tree halves it
REDUCE_CHUNK = REDUCE_THREADS * (2 if SIMULATOR else 16)  # elements per block and row
TILE = 4 if SIMULATOR else 16  # matmul tile edge: TILE x TILE threads per block
SUM, PROD, MAX, MIN = 0, 1, 2, 3  # reduction codes


@cuda.jit(device=True)
def operand_offset(layout, row, i):
    """Where element `i` (C order over the index space) of operand `row` sits in its buffer."""
    offset = layout[row, 0]
    if layout[row, 1]:
        return offset + i
    for axis in range(layout.shape[1] - 1, 1, -1):
        extent = layout[0, axis]
        offset += (i % extent) * layout[row, axis]
        i //= extent
    return offset


@cuda.jit(device=True)
def owns_element(layout, row, i):
    """Whether element `i` of the index space is the first that operand `row` maps to its position.

    An output smaller than the index space (stride 0 on broadcast axes) is
    computed by every thread that maps to it but stored only by this one.
    """
    if layout[row, 1]:
        return True
    for axis in range(layout.shape[1] - 1, 1, -1):
        extent = layout[0, axis]
        if layout[row, axis] == 0 and i % extent != 0:
            return False
        i //= extent
    return True


@cuda.jit
def strided_copy_kernel(n, layout, dest, src):
    """`dest` (operand 1) = `src` (operand 2), element by element over the index space."""
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        dest[operand_offset(layout, 1, i)] = src[operand_offset(layout, 2, i)]


@cuda.jit
def fill_kernel(out, value):
    """Every element of `out` = `value` (initialises atomic reductions)."""
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = value


@cuda.jit
def gather_kernel(n, out, src, offsets):
    """out[i] = src[offsets[i]] (an integer-array index), or 0 where offsets[i] < 0: an element that
    `written_values` reads as 0 because a later write to the same element won."""
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        k = offsets[i]
        if k >= 0:
            out[i] = src[k]
        else:
            out[i] = 0


@cuda.jit
def scatter_kernel(n, dest, offsets, values, start):
    """dest[offsets[i]] = values[start + i] where offsets[i] >= 0 (the host marked each element's losing
    writes -1, so every element is written by one thread at most)."""
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        k = offsets[i]
        if k >= 0:
            dest[k] = values[start + i]


@cuda.jit
def scatter_add_kernel(n, dest, offsets, values, start):
    """dest[offsets[i]] += values[start + i], atomically: a repeated index adds every value (`np.add.at`)."""
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        cuda.atomic.add(dest, offsets[i], values[start + i])


@cuda.jit
def scan_kernel(out, x, layout, rows, count, zero):
    """`np.cumsum` along the last axis of the index space (the input with the summed axis moved last;
    layout operand 1 is the output, 2 the input): one thread per row, summing in order from `zero`, whose
    type is the result's (a float32 sum stays float32, as NumPy's)."""
    for row in range(cuda.grid(1), rows, cuda.gridsize(1)):
        acc = zero
        for k in range(count):
            i = row * count + k
            acc += x[operand_offset(layout, 2, i)]
            out[operand_offset(layout, 1, i)] = acc


@cuda.jit
def arg_reduce_kernel(out, x, layout, rows, count, smallest):
    """out[row] = the position of the first largest (`smallest`: smallest) of the `count` elements of that
    row of x (layout operand 1), or of its first nan, as `np.argmax`/`np.argmin`; one thread per row."""
    for row in range(cuda.grid(1), rows, cuda.gridsize(1)):
        best = x[operand_offset(layout, 1, row * count)]
        found = 0
        for k in range(1, count):
            if math.isnan(best):  # a nan wins, and the first one stays
                break
            value = x[operand_offset(layout, 1, row * count + k)]
            better = value < best if smallest else value > best
            if better or math.isnan(value):
                best = value
                found = k
        out[row] = found


@cuda.jit(device=True)
def reduce_identity(op):
    """The neutral element of reduction `op`."""
    if op == PROD:
        return 1.0
    if op == MAX:
        return -math.inf
    if op == MIN:
        return math.inf
    return 0.0


@cuda.jit(device=True)
def reduce_combine(op, a, b):
    """`a` combined with `b` under reduction `op`."""
    if op == PROD:
        return a * b
    if op == MAX:
        return max(a, b)
    if op == MIN:
        return min(a, b)
    return a + b


@cuda.jit(device=True)
def reduce_block(partial, op):
    """Tree-reduce `partial` (one value per thread) in shared memory; the result lands in partial[0]."""
    tid = cuda.threadIdx.x
    width = REDUCE_THREADS // 2
    while width > 0:
        if tid < width:
            partial[tid] = reduce_combine(op, partial[tid], partial[tid + width])
        cuda.syncthreads()
        width //= 2


@cuda.jit
def reduce_kernel(out, x, layout, rows, count, chunk, op, scale):
    """out[row] = scale * reduction of x's `count` elements in that row.

    The index space (layout row 0) is the input with the reduced axes moved
    last, so row r covers flat indices [r * count, (r + 1) * count). Each
    work item is one chunk of one row: its block reduces the chunk in shared
    memory, then thread 0 stores the result, or combines it atomically when
    a row has several chunks (`out` then starts at the identity).
    """
    partial = cuda.shared.array(REDUCE_THREADS, float64)
    tid = cuda.threadIdx.x
    chunks = (count + chunk - 1) // chunk
    for item in range(cuda.blockIdx.x, rows * chunks, cuda.gridDim.x):
        row = item // chunks
        start = (item % chunks) * chunk
        stop = min(start + chunk, count)
        acc = reduce_identity(op)
        for k in range(start + tid, stop, REDUCE_THREADS):
            acc = reduce_combine(op, acc, x[operand_offset(layout, 1, row * count + k)])
        partial[tid] = acc
        cuda.syncthreads()
        reduce_block(partial, op)
        if tid == 0:
            value = partial[0] * scale
            if chunks == 1:
                out[row] = value
            elif op == SUM:
                cuda.atomic.add(out, row, value)
            elif op == MAX:
                cuda.atomic.max(out, row, value)
            else:
                cuda.atomic.min(out, row, value)
        cuda.syncthreads()


@cuda.jit
def matmul_kernel(c, a, b, rows, cols, inner, a_offset, a_row, a_col, b_offset, b_row, b_col):
    """c (rows x cols, C order) = a (rows x inner) @ b (inner x cols), tile by tile in shared memory.

    `a` and `b` are read through offsets and element strides, so transposed
    and sliced operands need no copy. Blocks loop over output tiles.
    """
    tile_a = cuda.shared.array((TILE, TILE), float64)
    tile_b = cuda.shared.array((TILE, TILE), float64)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    tiles_across = (cols + TILE - 1) // TILE
    tiles = ((rows + TILE - 1) // TILE) * tiles_across
    for tile in range(cuda.blockIdx.x, tiles, cuda.gridDim.x):
        row = (tile // tiles_across) * TILE + ty
        col = (tile % tiles_across) * TILE + tx
        acc = 0.0
        for k0 in range(0, inner, TILE):
            ka = k0 + tx
            kb = k0 + ty
            tile_a[ty, tx] = a[a_offset + row * a_row + ka * a_col] if row < rows and ka < inner else 0.0
            tile_b[ty, tx] = b[b_offset + kb * b_row + col * b_col] if kb < inner and col < cols else 0.0
            cuda.syncthreads()
            for kk in range(TILE):
                acc += tile_a[ty, kk] * tile_b[kk, tx]
            cuda.syncthreads()
        if row < rows and col < cols:
            c[row * cols + col] = acc
