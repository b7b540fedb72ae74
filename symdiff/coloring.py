"""Colourings of a sparsity pattern, and how a compressed pass's products give back its entries.

A column of colour c is summed into product c (the matrix times the sum of the unit vectors
of c's columns); `Compression` picks a colouring, the directions, and where each stored entry
comes from:

- **distance-1** (`color_columns`, Curtis, Powell and Reid): columns that share a row differ;
  every entry is read directly from its column's product.
- **star** (`star_colors`, Hessians): adjacent columns differ and every path on four columns
  has three colours; each entry is read directly, from its own product or its mirror's
  (`star_sources`). An arrowhead takes a few colours instead of one per column.
- **acyclic** (`acyclic_colors`, Hessians): adjacent columns differ and every cycle has three
  colours, so two colours span a forest; fewer colours than star (a tridiagonal Hessian takes
  2 instead of 3), and the entries on those trees are solved from the leaves in
  (`Substitution`: Gebremedhin, Tarafdar, Manne and Pothen 2007).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from symdiff.errors import NoSparsityPattern

if TYPE_CHECKING:  # SciPy is imported where a sparse matrix is made: `import symdiff` stays cheap
    import scipy.sparse


def color_columns(pattern: scipy.sparse.spmatrix) -> np.ndarray:
    """A colour per column such that no two columns of one colour have a nonzero in the same row
    (greedy, in column order: optimal for banded matrices)."""
    import scipy.sparse

    pattern = scipy.sparse.csc_matrix(pattern, dtype=bool)
    n = pattern.shape[1]
    cyclic = _cyclic_colors(pattern.tocsr())
    if cyclic is not None:
        return cyclic
    conflicts = (pattern.T @ pattern).tocsr()  # columns sharing a row
    colors = [-1] * n  # Python lists: one NumPy call per column would cost more than the column's work
    indptr, indices = conflicts.indptr.tolist(), conflicts.indices.tolist()
    for j in range(n):
        used = {colors[k] for k in indices[indptr[j] : indptr[j + 1]]}
        color = 0
        while color in used:
            color += 1
        colors[j] = color
    return np.array(colors, dtype=np.int64)


def _cyclic_colors(pattern: scipy.sparse.csr_matrix) -> np.ndarray | None:
    """Column j coloured j mod k, k the most entries of one row, where that gives the columns of each
    row distinct colours (a band's columns do): no colouring takes fewer than k, since a row's columns
    all differ, and checking it costs one pass over the entries, where the greedy loop is Python."""
    per_row = np.diff(pattern.indptr)
    k = int(per_row.max(initial=0))
    if k == 0:
        return None
    colors = np.arange(pattern.shape[1], dtype=np.int64) % k
    rows = np.repeat(np.arange(pattern.shape[0], dtype=np.int64), per_row)
    if np.bincount(rows * k + colors[pattern.indices]).max() > 1:
        return None
    return colors


def _neighbours(pattern: scipy.sparse.spmatrix) -> list[list[int]]:
    """The adjacency lists of a pattern's graph: columns i and j meet where (i, j) or (j, i) is stored."""
    import scipy.sparse

    adjacency = scipy.sparse.csr_matrix(pattern, dtype=bool)
    adjacency = (adjacency + adjacency.T).tocsr()
    adjacency.setdiag(False)
    adjacency.eliminate_zeros()
    indptr, indices = adjacency.indptr.tolist(), adjacency.indices.tolist()
    return [indices[indptr[v] : indptr[v + 1]] for v in range(adjacency.shape[0])]


COLORINGS = ("star", "acyclic")  # a Hessian's: entries read directly, or solved along two-coloured trees
MAX_COLOURING_WORK = 10**7  # pairs of columns met in one row, summed over rows: about a second of colouring


def star_colors(pattern: scipy.sparse.spmatrix) -> np.ndarray:
    """A star colouring of a symmetric pattern's adjacency graph: adjacent columns differ, and every
    path on four columns has three colours (greedy, largest degree first; Gebremedhin, Manne and
    Pothen 2005, Algorithm 4.1). A symmetric matrix is then recovered from one product per colour,
    each entry read directly or from its mirror (`star_sources`), where the distance-1 colouring of
    `color_columns` needs a colour per column for an arrowhead (one row reading every element).

    The greedy test "does x have another neighbour of w's colour" is kept up to date per column
    (`through`: for a coloured w, the colours of its coloured neighbours x that have another
    neighbour of w's colour), so a hub's row is read once per colour, not once per neighbour."""
    neighbours = _neighbours(pattern)
    n = len(neighbours)
    color = [-1] * n
    counts: list[dict[int, int]] = [{} for _ in range(n)]  # colour -> coloured neighbours of that colour
    through: list[set[int]] = [set() for _ in range(n)]
    for v in sorted(range(n), key=lambda v: -len(neighbours[v])):
        forbidden: set[int] = set()
        for w in neighbours[v]:
            if color[w] < 0:  # v and a coloured x two steps away would make w's choice a bicoloured path
                forbidden.update(counts[w])
            else:
                forbidden.add(color[w])
                forbidden |= through[w]
        c = 0
        while c in forbidden:
            c += 1
        color[v] = c
        for x in neighbours[v]:
            seen = counts[x].get(c, 0) + 1
            counts[x][c] = seen
            if color[x] >= 0 and seen >= 2:
                through[v].add(color[x])
                if seen == 2:
                    for w in neighbours[x]:
                        if w != v and color[w] == c:
                            through[w].add(color[x])
        for w in neighbours[v]:
            if color[w] >= 0 and counts[v].get(color[w], 0) >= 2:
                through[w].add(c)
    return np.array(color, dtype=np.int64)


def star_sources(pattern: scipy.sparse.csr_matrix, colors: np.ndarray) -> np.ndarray | None:
    """For each stored entry (i, j) of a symmetric pattern, where it lies among the products (one row
    per colour, flattened): row i of j's colour where no other column of that colour meets row i,
    else row j of i's colour (the mirror entry, alone in it), checked entry by entry; None where
    neither holds (not a star colouring of this pattern: never a guess)."""
    n = pattern.shape[0]
    count = int(colors.max()) + 1 if colors.size else 0
    rows = np.repeat(np.arange(n), np.diff(pattern.indptr))
    columns = pattern.indices.astype(np.int64)  # (int32: a product with n would overflow)
    seen = np.bincount(rows * count + colors[columns], minlength=n * count)  # per row and colour
    direct = seen[rows * count + colors[columns]] == 1
    mirrored = seen[columns * count + colors[rows]] == 1
    if not np.all(direct | mirrored):
        return None
    return np.where(direct, colors[columns] * n + rows, colors[rows] * n + columns)


def acyclic_colors(pattern: scipy.sparse.spmatrix) -> np.ndarray:
    """An acyclic colouring of a symmetric pattern's adjacency graph: adjacent columns differ, and
    every cycle has at least three colours, so the columns of any two colours span a forest
    (greedy, largest degree first; Gebremedhin, Tarafdar, Manne and Pothen 2007, Algorithm 3.1).

    Each two-coloured tree is a set in a union-find over edges. Colouring v with c closes a cycle
    exactly where two neighbours of v of one colour a lie in the same tree of colours {a, c}; `trees[w]`
    holds, per colour b, one edge from w to a column of colour b (all of them share w's tree of
    colours {colour of w, b}), so the test reads a neighbour's colours, not its neighbours."""
    neighbours = _neighbours(pattern)
    n = len(neighbours)
    color = [-1] * n
    trees: list[dict[int, int]] = [{} for _ in range(n)]
    parent: list[int] = []  # the union-find forest over edges, by the edge's number

    def find(edge: int) -> int:
        while parent[edge] != edge:
            parent[edge] = parent[parent[edge]]
            edge = parent[edge]
        return edge

    for v in sorted(range(n), key=lambda v: -len(neighbours[v])):
        coloured = [w for w in neighbours[v] if color[w] >= 0]
        forbidden = {color[w] for w in coloured}
        met: dict[int, int] = {}  # a tree -> the neighbour of v it was first met through
        for w in coloured:
            for b, edge in trees[w].items():
                if b not in forbidden and met.setdefault(find(edge), w) != w:
                    forbidden.add(b)  # two neighbours of one colour in one tree of b: colour b closes a cycle
        c = 0
        while c in forbidden:
            c += 1
        color[v] = c
        for w in coloured:  # the edge (v, w) joins v's other edges to w's colour and w's to c
            edge = len(parent)
            parent.append(edge)
            for end, other in ((v, color[w]), (w, c)):
                known = trees[end].setdefault(other, edge)
                if known != edge:
                    parent[find(known)] = find(edge)
    return np.array(color, dtype=np.int64)


class Substitution:
    """Where each stored entry of a symmetric pattern comes from under an acyclic colouring.

    The diagonal entry (u, u) is row u of u's own colour's product (no neighbour shares it). An
    edge lies in the tree spanned by its ends' two colours; rooted, a non-root u with parent p has
    S(u) = row u of p's colour's product = H[u, p] + the sum of H[u, k] over u's children k (every
    neighbour of u of p's colour lies in that tree). Solved from the leaves up, H[u, p] is
    sigma(u) times the sum of sigma(v) S(v) over u's subtree, sigma = +-1 by depth parity (the two
    colours alternate, so it is the colour). In depth-first order a subtree is one run, so one
    cumulative sum gives every edge at once; a leaf's edge is read directly. Each tree's sum of
    sigma S, its root's included, is zero, so the cumulative sum stays the size of the entries."""

    def __init__(self, pattern: scipy.sparse.csr_matrix, colors: np.ndarray, nodes: tuple, tree: tuple) -> None:
        n = pattern.shape[0]
        order, predecessors, slot_of_edge, (first, second) = tree  # slot -> its edge; each edge's two nodes
        vertex, other, signs = nodes  # per node: its column, its tree's other colour, its depth's parity
        position = np.empty(order.size, dtype=np.int64)
        position[order] = np.arange(order.size)
        sizes = _subtree_sizes(order, predecessors)
        rows = np.repeat(np.arange(n), np.diff(pattern.indptr))
        diagonal = rows == pattern.indices
        child = np.where(predecessors[first] == second, first, second)
        leaf = sizes[child] == 1
        # the values, each computed once: the diagonal's and the leaves' edges' (read), the others' (solved)
        on_diagonal = rows[diagonal]
        self.direct = np.concatenate(
            [colors[on_diagonal] * n + on_diagonal, other[child[leaf]] * n + vertex[child[leaf]]]
        )
        inner = child[~leaf]
        start, end, positive = position[inner], position[inner] + sizes[inner], signs[inner] > 0
        self.plus, self.minus = np.where(positive, end, start), np.where(positive, start, end)  # sigma folded in
        self.sequence = (other[order] * n + vertex[order], signs[order])
        value_of_edge = np.empty(first.size, dtype=np.int64)
        value_of_edge[leaf] = on_diagonal.size + np.arange(int(leaf.sum()))
        value_of_edge[~leaf] = self.direct.size + np.arange(inner.size)
        self.take = np.empty(rows.size, dtype=np.int64)  # each slot's value (an edge's two slots share one)
        self.take[diagonal] = np.arange(on_diagonal.size)
        self.take[~diagonal] = value_of_edge[slot_of_edge[~diagonal]]

    def entries(self, flat: np.ndarray) -> np.ndarray:
        """The stored entries, in the pattern's order, from the products flattened (colour by row)."""
        values = flat[self.direct]
        if self.plus.size:
            where, signed = self.sequence
            running = np.empty(where.size + 1, dtype=np.result_type(flat, signed))
            running[0] = 0.0
            np.cumsum(flat[where] * signed, out=running[1:])
            values = np.concatenate([values, running[self.plus] - running[self.minus]])
        return values[self.take]


def _subtree_sizes(order: np.ndarray, predecessors: np.ndarray) -> np.ndarray:
    """Each node's subtree size, from a depth-first order (parents before children)."""
    sizes = [1] * order.size
    parents = predecessors.tolist()
    for node in reversed(order.tolist()):
        if parents[node] >= 0:
            sizes[parents[node]] += sizes[node]
    return np.array(sizes, dtype=np.int64)


def substitution(pattern: scipy.sparse.csr_matrix, colors: np.ndarray) -> Substitution | None:
    """The recovery of a symmetric pattern (sorted indices) from one product per colour under
    `colors`, or None where `colors` is not an acyclic colouring of it (two adjacent columns share
    a colour, or two colours span a cycle): checked, never assumed."""
    import scipy.sparse
    from scipy.sparse.csgraph import connected_components, depth_first_order

    n = pattern.shape[0]
    rows = np.repeat(np.arange(n), np.diff(pattern.indptr))
    columns = pattern.indices.astype(np.int64)  # (int32: a product with n would overflow)
    off = rows != columns
    if np.any(colors[rows[off]] == colors[columns[off]]):
        return None
    upper = np.flatnonzero(off & (rows < columns))
    i, j = rows[upper], columns[upper]
    # each stored entry's edge: its own slot above the diagonal, its mirror's below (checked present)
    keys = i * n + j  # ascending: the pattern's rows are in order, each row's columns sorted
    lower = np.flatnonzero(off & (rows > columns))
    mirror = np.searchsorted(keys, columns[lower] * n + rows[lower])
    if np.any(mirror >= keys.size) or np.any(
        keys[np.minimum(mirror, keys.size - 1)] != columns[lower] * n + rows[lower]
    ):
        return None  # not symmetric
    slot_of_edge = np.empty(rows.size, dtype=np.int64)
    slot_of_edge[upper] = np.arange(upper.size)
    slot_of_edge[lower] = mirror
    # the nodes: a column within the tree of one pair of colours
    low, high = np.minimum(colors[i], colors[j]), np.maximum(colors[i], colors[j])
    _, pair = np.unique(low * (int(colors.max(initial=0)) + 1) + high, return_inverse=True)
    ends = np.concatenate([i, j])
    node_keys, node_of = np.unique(np.tile(pair, 2) * n + ends, return_inverse=True)
    first, second = node_of[: upper.size], node_of[upper.size :]
    count = node_keys.size
    vertex = node_keys % n
    other = np.empty(count, dtype=np.int64)  # the colour of a node's neighbours in its tree
    other[first], other[second] = colors[j], colors[i]
    graph = scipy.sparse.csr_matrix((np.ones(upper.size), (first, second)), shape=(count, count))
    components, labels = connected_components(graph, directed=False)
    if upper.size != count - components:
        return None  # a two-coloured cycle
    degree = np.bincount(np.concatenate([first, second]), minlength=count)
    by_label = np.lexsort((-degree, labels))  # each tree rooted at its largest degree: a star's centre
    roots = by_label[np.r_[True, labels[by_label][1:] != labels[by_label][:-1]]] if count else by_label
    hub = count  # one more node joined to every root, so one search orders the whole forest
    joined = scipy.sparse.csr_matrix(
        (
            np.ones(upper.size + roots.size),
            (np.concatenate([first, roots]), np.concatenate([second, np.full(roots.size, hub)])),
        ),
        shape=(count + 1, count + 1),
    )
    order, predecessors = depth_first_order(joined, hub, directed=False, return_predecessors=True)
    order, predecessors = order[1:], predecessors[:count]
    predecessors = np.where(predecessors == hub, -1, predecessors)
    signs = np.where(colors[vertex] == colors[vertex[roots[labels]]], 1.0, -1.0)  # the root's colour: even depth
    return Substitution(pattern, colors, (vertex, other, signs), (order, predecessors, slot_of_edge, (first, second)))


class Compression:
    """A pattern, its colouring, and what one compressed pass needs: a direction per colour (the
    sum of its columns' unit vectors) and where each stored entry lies among the products.

    `symmetric` (a Hessian): the pattern is made symmetric and coloured both ways, distance-1 on
    columns and star (entries read from their mirror where needed), and the fewer colours win;
    `coloring="acyclic"` adds an acyclic colouring (entries solved along two-coloured trees), which
    wins where it takes fewer colours still (ties go to a colouring read directly): never more
    colours than the default.
    `out_shape` (a Jacobian): its rows are coloured too, and where that takes under half the
    colours the pass runs in reverse (`by_rows`): one cotangent per colour of rows, each product
    a sum of rows (a dense row, such as a sum every output reads, costs a colour per column the
    other way)."""

    def __init__(self, pattern: scipy.sparse.csr_matrix, x_shape: tuple, symmetric: bool = False,
                 out_shape: tuple | None = None, coloring: str = "star") -> None:  # fmt: skip
        import scipy.sparse

        if coloring not in COLORINGS:
            raise ValueError(f"coloring={coloring!r}: expected one of {', '.join(map(repr, COLORINGS))}")
        acyclic = symmetric and coloring == "acyclic"
        pattern = scipy.sparse.csr_matrix(pattern, dtype=bool)
        if symmetric:
            pattern = (pattern + pattern.T).tocsr()
        pattern.sort_indices()
        self.pattern = pattern
        rows_count, x_size = pattern.shape
        self._rows = np.repeat(np.arange(rows_count), np.diff(pattern.indptr))
        per_row = np.diff(pattern.indptr)
        per_column = np.bincount(pattern.indices, minlength=x_size)
        options = []  # (colours, where each entry lies among the products, by rows, the colouring's name)
        if int(per_row @ per_row) <= MAX_COLOURING_WORK:
            colors = color_columns(pattern)
            options.append((colors, colors[pattern.indices] * rows_count + self._rows, False, "distance-1"))
        typical = float(np.percentile(per_row, 90)) if per_row.size else 0.0
        if symmetric and (not options or _colour_count(options[0][0]) > 1.5 * typical + 1):
            # a few dense rows (an element every term reads) cost the distance-1 colouring a colour per
            # column they meet; a star colouring reads their entries from the mirror side instead
            colors = star_colors(pattern)
            sources = star_sources(pattern, colors)
            if sources is not None:
                options.append((colors, sources, False, "star"))
        if acyclic and int(per_row @ per_row) <= MAX_COLOURING_WORK:
            colors = acyclic_colors(pattern)
            recovery = substitution(pattern, colors)
            if recovery is not None:  # (it always is: checked all the same)
                options.append((colors, recovery, False, "acyclic"))
        if out_shape is not None and int(per_column @ per_column) <= MAX_COLOURING_WORK:
            colors = color_columns(pattern.T)  # rows that share no column share a cotangent
            rows_way = (colors, colors[self._rows] * x_size + pattern.indices, True, "distance-1 on rows")
            if not options or 2 * _colour_count(colors) < _colour_count(options[0][0]):  # a vjp costs ~2 jvps
                options.insert(0, rows_way)
        if not options:
            raise NoSparsityPattern(f"the pattern is too dense to colour ({int(per_row @ per_row)} pairs in rows)")
        self.colors, self._gather, self.by_rows, self.coloring = min(
            options, key=lambda option: _colour_count(option[0])
        )
        self.count = _colour_count(self.colors)
        size, shape = (rows_count, out_shape) if self.by_rows else (x_size, x_shape)
        seeds = np.zeros((self.count, size))
        seeds[self.colors, np.arange(size)] = 1.0
        self.seeds = seeds.reshape((self.count,) + tuple(shape))

    def entries(self, products: np.ndarray) -> np.ndarray:
        """The stored entries, in the pattern's order, from the products (one row per colour)."""
        flat = np.asarray(products).reshape(self.count, -1).ravel()
        return self._gather.entries(flat) if isinstance(self._gather, Substitution) else flat[self._gather]

    def sparse(self, products: np.ndarray) -> scipy.sparse.csr_matrix:
        import scipy.sparse

        pattern = self.pattern
        return scipy.sparse.csr_matrix((self.entries(products), pattern.indices, pattern.indptr), shape=pattern.shape)

    def dense(self, products: np.ndarray, shape: tuple) -> np.ndarray:
        """The matrix as a dense array of `shape` (rows' shape + columns' shape), zeros off the pattern."""
        rows, columns = self.pattern.shape
        matrix = np.zeros(rows * columns)
        matrix[self._rows * columns + self.pattern.indices] = self.entries(products)
        return matrix.reshape(shape)


def _colour_count(colors: np.ndarray) -> int:
    return int(colors.max()) + 1 if colors.size else 0
