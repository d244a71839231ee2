"""Conformal film stacks on a stepped substrate: block-structured quadrilateral grids.

The profile is one symmetric half period of a substrate with a step: in the standard layout
(``trench_first=False``) the mesa top (height `depth`) spans 0 <= x <= `mesa`, and the trench
floor (height 0) spans `mesa` <= x <= `mesa` + `trench`; x = 0 and the right end are
symmetry lines. The substrate is a conductor and is not meshed; its surface (mesa top, wall,
floor) is the "bottom" boundary. The mirrored layout (``trench_first=True``) puts the trench
(a hole, for an axisymmetric cell) on the left and the mesa on the right.

On the substrate lie, from the substrate outward:
- `films`: layers of constant thickness deposited conformally (as ALD deposits them). The
  film interfaces are offset curves of the substrate: rounded (circular arcs about the mesa
  edge) at the convex corner, mitred at the concave corner where wall meets floor. With step
  coverage (`coverage`, meshes/coverage.py: sputtered films) each film is thinner down the
  wall and on the floor, and the nodes move along the substrate normals accordingly;
- `fill`: the last electrode, filling what the films leave of the trench and standing its
  planar thickness above the highest point of the films (a flat top);
- `top`: planar layers above (a top collector, say); the outer face of the last one is the
  "top" boundary. Every other boundary face is "symmetry".

Block layout (standard layout; K = (mesa, depth) is the convex corner, T the total film
thickness, s_0 = 0 < s_1 < ... < s_F = T the offsets through the films, graded toward every
film face as meshes.planar.layer_nodes grades them):

      y ^   top layers: Cartesian rows over the whole width
        |   fill rows above the box: Cartesian, over the whole width
        |   +--------+-----------+--------------+
        |   | mesa   | corner    | beside the   |
        |   | column | fan (K)   | box          |   the fan fills the box
        |   +--------+--+--------+--------------+   [mesa, mesa + c] x [depth, depth + c]
        |   substrate   | wall   | channel fill |
        |   (mesa)      | column |              |
        |               +--------+--------------+
        |               | corner | floor row    |
        +---------------+--------+--------------+--> x

- mesa column: Cartesian, the films (rows at depth + s_k) then the fill up to depth + c;
- corner fan: polar cells about K through the films (radii s_k; the innermost ring, which
  touches K, is triangles), then on through the fill from the arc of radius T out to the
  square box of side c, T < c <= min(trench, T + fill); the first fill rings are circles,
  the last is the box (see `_fan_nodes`);
- wall column: the films extruded horizontally (columns at x = mesa + s_k);
- floor row: the films extruded vertically (rows at y = s_k);
- concave corner: the square [mesa, mesa + T] x [0, T] cut by the lines x = mesa + s_m and
  y = s_n. Cell (m, n) lies in film min(m, n), so the film interfaces are exactly the
  mitred offset lines (corners (mesa + s_k, s_k) on the diagonal) and every cell is a
  rectangle;
- channel fill, the block beside the box and the rows above: Cartesian.
Nodes match across block interfaces (the grid is conforming). Cells through the fill and
along the surfaces follow the size function h(x) = min(h0 + (q - 1) x, max_cell_size):
they start at the size of the neighbouring film cell on each film | fill interface and grow
by about the ratio q = `growth` per cell away from it.

The two-point flux approximation needs the line between neighbouring cell centroids to be
nearly normal to their face. Cartesian cells are exactly orthogonal, polar ones nearly (the
innermost triangles, whose centroids sit at 2/3 of their radius, are 8-9 degrees off at the
mesa and wall faces next to K). Inside the box, where the fill rings turn from circles into
a square, cells are not orthogonal: along straight rays the angle between a ray and the
ring normal grows toward the box, worst next to the box corner (typically 34-42 degrees;
it approaches, without reaching, 45 degrees under strong refinement), and about 2 % of all
faces exceed 5 degrees. This region has a fixed size, so there TPFA keeps an O(1)
consistency error under refinement; the default box keeps it inside the fill, away from every
interface (faces between two layers stay within about a degree of orthogonal, within ~2
degrees when the fill is a thin sliver). solver.geometry.mesh_report and face_angles
measure all this.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .coverage import FilmProfile, film_coverages
from .planar import layer_nodes
from .siblings import sibling

InputError = sibling("solver.errors").InputError
Grid = sibling("solver.grid").Grid


# ------------------------------------------------------------------------- 1D spacing
def graded_offsets(length: float, first: float, largest: float, growth: float,
                   last: float | None = None, min_cells: int = 1) -> np.ndarray:
    """Node offsets from 0 to `length` with cell sizes following a capped linear size function.

    h(x) = min(first + (growth - 1) x, largest, last + (growth - 1) (length - x)) (the last
    term only when `last` is given): cells start near `first` at 0 (and `last` at `length`)
    and grow by about the ratio `growth` per cell up to `largest`. Nodes are equidistributed
    in N(x) = int_0^x dx / h, found in closed form; the ends are hit exactly.
    """
    if not length > 0:
        raise ValueError(f"length must be > 0, got {length}")
    if not growth > 1.0:
        raise ValueError(f"growth must be > 1, got {growth}")
    if not (first > 0 and largest > 0 and (last is None or last > 0)):
        raise ValueError("cell sizes must be > 0")
    alpha = growth - 1.0
    first = min(first, largest)
    last = largest if last is None else min(last, largest)
    breaks = np.unique(np.clip([0.0, length, (largest - first) / alpha,
                                length - (largest - last) / alpha,
                                (last - first + alpha * length) / (2.0 * alpha)], 0.0, length))
    u, v = breaks[:-1], breaks[1:]
    mid = 0.5 * (u + v)
    # active piece on each interval: 0 growing from the start, 1 from the end, 2 capped
    piece = np.argmin(np.stack([first + alpha * mid, last + alpha * (length - mid),
                                np.full_like(mid, largest)]), axis=0)

    def size(x):
        return np.where(piece == 0, first + alpha * x,
                        np.where(piece == 1, last + alpha * (length - x), largest))

    hu, hv = size(u), size(v)
    counts = np.where(piece == 2, (v - u) / largest,
                      np.abs(np.log(np.maximum(hv, 1e-300) / hu)) / alpha)
    start = np.concatenate([[0.0], np.cumsum(counts)])
    n = max(int(min_cells), int(np.ceil(start[-1] - 1e-9)))
    target = np.linspace(0.0, start[-1], n + 1)[1:-1]
    k = np.clip(np.searchsorted(start, target, side="right") - 1, 0, len(counts) - 1)
    dn, x0, h0, p = target - start[k], u[k], hu[k], piece[k]
    # np.where evaluates every branch everywhere: a capped piece's dn (up to the count of a
    # long stretch, 4e4 cells along a 9 mm trench wall) overflowed the graded pieces' exp
    graded = np.where(p == 2, 0.0, dn)
    x = np.where(p == 2, x0 + largest * dn,
                 np.where(p == 0, (h0 * np.exp(alpha * graded) - first) / alpha,
                          length - (h0 * np.exp(-alpha * graded) - last) / alpha))
    return np.concatenate([[0.0], np.sort(x), [length]])


# ------------------------------------------------------------------------- block assembly
class _Blocks:
    """Structured blocks of nodes (ni, nj, 2) with their cell tags, merged into one mesh."""

    def __init__(self):
        self.points, self.quads, self.tags, self.bottom = [], [], [], []
        self.n = 0

    def add(self, nodes: np.ndarray, tags, bottom=()) -> None:
        """Add a block; `bottom` names its sides on the substrate ("i0", "iN", "j0", "jN")."""
        ni, nj = nodes.shape[:2]
        if ni < 2 or nj < 2:
            return
        ids = self.n + np.arange(ni * nj).reshape(ni, nj)
        self.points.append(nodes.reshape(-1, 2))
        # basix tensor-product order: (i, j), (i+1, j), (i, j+1), (i+1, j+1)
        self.quads.append(np.stack([ids[:-1, :-1], ids[1:, :-1], ids[:-1, 1:], ids[1:, 1:]],
                                   axis=-1).reshape(-1, 4))
        self.tags.append(np.broadcast_to(tags, (ni - 1, nj - 1)).reshape(-1))
        for side in ([bottom] if isinstance(bottom, str) else bottom):
            line = {"i0": ids[0], "iN": ids[-1], "j0": ids[:, 0], "jN": ids[:, -1]}[side]
            self.bottom.append(np.stack([line[:-1], line[1:]], axis=1))
        self.n += ni * nj

    def merge(self):
        """Points merged where blocks meet; quads with a repeated vertex become triangles.

        Returns points, [(cell type, cells)], tags (in block order), substrate edges.
        """
        points = np.concatenate(self.points)
        quads = np.concatenate(self.quads)
        ring = quads[:, [0, 1, 3, 2]]
        edges = np.linalg.norm(points[ring] - points[np.roll(ring, -1, axis=1)], axis=-1)
        tol = 1e-3 * edges[edges > 0].min()     # shared nodes coincide to round-off
        points, remap, quads, quad_tags, triangles, tri_tags = merge_quads(
            points, quads, np.concatenate(self.tags), tol)
        blocks = [("quadrilateral", quads)]
        if len(triangles):
            blocks.append(("triangle", triangles))
        return (points, blocks, np.concatenate([quad_tags, tri_tags]),
                remap[np.concatenate(self.bottom)])


def merge_points(points: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge points closer than tol: (index of each merged point's first copy, map from the
    given points to the merged ones); merged points keep the order of their first copies."""
    pairs = cKDTree(points).query_pairs(tol, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                       shape=(len(points), len(points)))
    _, label = connected_components(graph, directed=False)
    _, first, inverse = np.unique(label, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def merge_quads(points: np.ndarray, quads: np.ndarray, tags: np.ndarray, tol: float):
    """Structured blocks' quadrilaterals (tensor order (p00, p10, p01, p11)) merged into one
    conforming 2D mesh: points closer than tol become one (`merge_points`), and a quad with
    one repeated vertex (a block side collapsed onto a point) becomes a triangle.

    Returns points, the map from the given points to them, quads (tensor order) and their
    tags, triangles and their tags.
    """
    first, remap = merge_points(points, tol)
    ring = remap[quads[:, [0, 1, 3, 2]]]                  # cyclic vertex order
    repeated = ring == np.roll(ring, -1, axis=1)          # a vertex equals the next one
    n_repeated = repeated.sum(axis=1)
    if np.any(n_repeated > 1):
        raise ValueError(f"{np.count_nonzero(n_repeated > 1)} cells collapsed to a segment")
    is_tri = n_repeated == 1
    triangles = ring[is_tri][~repeated[is_tri]].reshape(-1, 3)
    return (points[first], remap, ring[~is_tri][:, [0, 1, 3, 2]], tags[~is_tri], triangles,
            tags[is_tri])


# ------------------------------------------------------------------------- the profile
def _layer_cells(cells_per_layer, n_films: int, n_top: int) -> tuple[list[int], list[int]]:
    """Cells through each film and each top layer: one int, or one per film (top layers then
    get the largest), or one per film followed by one per top layer."""
    if np.ndim(cells_per_layer) == 0:
        cells = [int(cells_per_layer)] * (n_films + n_top)
    else:
        cells = [int(n) for n in cells_per_layer]
        if len(cells) == n_films:
            cells += [max(cells)] * n_top
    if len(cells) != n_films + n_top:
        raise ValueError(f"cells_per_layer has {len(cells)} entries for {n_films} films "
                         f"(and {n_top} top layers)")
    if min(cells, default=1) < 1:
        raise ValueError(f"cells_per_layer must be >= 1, got {cells_per_layer}")
    return cells[:n_films], cells[n_films:]


def _row_tags(thicknesses, cells, first_tag: int = 0) -> np.ndarray:
    """Layer index of each cell row through a stack (zero-thickness layers have no rows)."""
    thicknesses = np.asarray(thicknesses, dtype=float)
    return first_tag + np.repeat(np.arange(len(cells)), np.where(thicknesses > 0, cells, 0))


def _unit_directions(theta: np.ndarray) -> np.ndarray:
    """(n, 2) unit vectors at angles theta in [0, pi/2], exact on the axes and the diagonal."""
    e = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    quarter = np.isclose(theta, np.pi / 2, rtol=0, atol=1e-14)
    e[theta == 0.0] = [1.0, 0.0]
    e[quarter] = [0.0, 1.0]
    e[np.isclose(theta, np.pi / 4, rtol=0, atol=1e-14)] = np.sqrt(0.5)
    return e


def conformal_grid(films: Sequence[tuple[str, float]], fill: tuple[str, float],
                   top: Sequence[tuple[str, float]], mesa: float, trench: float, depth: float,
                   *, trench_first: bool = False, cells_per_layer=4,
                   max_cell_size: float | None = None, grading: float = 0.5,
                   growth: float | None = None, min_fan_cells: int = 8,
                   box: float | None = None, extent: float = 1.0, axisymmetric: bool = False,
                   footprint_area: float | None = None, extrude=None, coverage=None) -> Grid:
    """Grid of conformal films, a fill and planar top layers on one stepped half period.

    mesa, trench : widths of the mesa top and of the trench floor in the half period (the
        trench's half-width); depth : step height (0 gives the planar stack).
    films : [(name, thickness)] from the substrate outward, total thickness T > 0 with
        T < trench and T < depth; fill : (name, planar thickness above the films' top);
        top : [(name, thickness)] planar layers above the fill.
    trench_first : mirrored layout, trench on the left (x < trench), mesa on the right.
    cells_per_layer : cells through each film (and top layer), see `_layer_cells`;
        graded toward the layer faces with `grading` (meshes.planar.layer_nodes).
    max_cell_size : the largest cell length along the surfaces and in the fill (default:
        a twentieth of the half period); growth : size ratio between neighbouring cells in
        the fill and along the surfaces (default 1 + 1 / max film cells, which keeps the
        spacing map under refinement of cells_per_layer and max_cell_size together).
    min_fan_cells : fewest cells around the convex corner (the fan uses at least
        (pi/2) x the number of cells through the films, so fan cells stay well shaped).
    box : side c of the corner box, T < c <= min(trench, T + fill); by default chosen by
        `_box_side`, which keeps the box corner inside the fill, off its top interface.
    extent, axisymmetric, footprint_area : passed to Grid (2D); footprint defaults to
        (mesa + trench) * extent, or pi (mesa + trench)^2 when axisymmetric.
    extrude : (length, n_cells): hexahedra and prisms along a new second axis (the
        stacking direction stays last), footprint (mesa + trench) * length.
    coverage : one meshes.coverage.StepCoverage (wall_top, wall_foot, bottom) per film, or
        None: conformal films. A film's thickness is its thickness on the mesa top; the
        ratios thin it down the wall and on the trench floor (see meshes.coverage).

    Cell tags index films + [fill] + top. Boundary groups: "bottom" (the substrate surface),
    "top" (the outer face of the last layer), "symmetry" (all others).
    """
    names = [str(n) for n, _ in films] + [str(fill[0])] + [str(n) for n, _ in top]
    film_t = np.array([float(h) for _, h in films])
    top_t = np.array([float(h) for _, h in top])
    fill_t = float(fill[1])
    a, b, depth = float(mesa), float(trench), float(depth)
    total = float(film_t.sum()) if len(film_t) else 0.0
    if not (a > 0 and b > 0 and depth >= 0):
        raise ValueError(f"need mesa > 0, trench > 0, depth >= 0; got {a}, {b}, {depth}")
    if np.any(film_t < 0) or np.any(top_t < 0) or not total > 0 or not fill_t > 0:
        raise ValueError("film and top thicknesses must be >= 0 with a positive total, and the "
                         "fill thickness > 0")
    if depth > 0 and not (total < b and total < depth):
        raise ValueError(f"films of total thickness {total} do not fit a trench of half-width "
                         f"{b} and depth {depth}")
    film_cells, top_cells = _layer_cells(cells_per_layer, len(film_t), len(top_t))
    half = a + b
    hmax = float(max_cell_size) if max_cell_size is not None else half / 20.0
    if not hmax > 0:
        raise ValueError(f"max_cell_size must be > 0, got {max_cell_size}")
    q = float(growth) if growth is not None else 1.0 + 1.0 / max(film_cells)
    fill_tag, top0 = len(film_t), len(film_t) + 1
    profile = FilmProfile(film_t, film_coverages(coverage, len(film_t)), depth)

    s = layer_nodes(film_t, film_cells, grading)        # offsets through the films, 0 .. T
    film_rows = _row_tags(film_t, film_cells)
    h_if = s[-1] - s[-2]                                 # film cell at the fill interface
    height = depth + total + fill_t                      # top of the fill
    if top_t.sum() > 0:
        y_top = layer_nodes(top_t, top_cells, grading)
        top_rows = _row_tags(top_t, top_cells, top0)
        h_top = y_top[1]
    else:
        y_top, top_rows, h_top = np.zeros(1), np.zeros(0, int), None

    blocks = _Blocks()
    if depth == 0:     # planar stack: one Cartesian block
        x = graded_offsets(half, hmax, hmax, q)
        y = np.concatenate([s, total + graded_offsets(fill_t, h_if, hmax, q, last=h_top)[1:],
                            height + y_top[1:]])
        n_fill = len(y) - 1 - len(film_rows) - len(top_rows)
        rows = np.concatenate([film_rows, np.full(n_fill, fill_tag), top_rows])
        blocks.add(np.stack(np.meshgrid(x, y, indexing="ij"), axis=-1), rows, bottom="j0")
    else:
        _stepped_blocks(blocks, a, b, depth, s, film_rows, fill_tag, fill_t, y_top, top_rows,
                        h_top, hmax, q, min_fan_cells, box, profile)

    points, cell_blocks, tags, bottom = blocks.merge()
    # the outer edges exactly (sums of offsets end there only to round-off), so that the
    # mirrored axis is r = 0 exactly
    top_y = height + y_top[-1]
    tol = 1e-9 * max(half, top_y)
    on_top = np.abs(points[:, 1] - top_y) <= tol
    points[on_top, 1] = top_y
    points[np.abs(points[:, 0] - half) <= tol, 0] = half
    points[np.abs(points[:, 0]) <= tol, 0] = 0.0
    top_edges = _edges_on(cell_blocks, on_top)
    if trench_first:
        points[:, 0] = half - points[:, 0]
    if extrude is not None:
        if axisymmetric:
            raise ValueError("an axisymmetric grid cannot be extruded")
        length, n_layers = float(extrude[0]), int(extrude[1])
        if not (length > 0 and n_layers >= 1):
            raise ValueError(f"extrude needs (length > 0, n_cells >= 1), got {extrude}")
        return _extruded(points, cell_blocks, tags, names, bottom, top_edges, length,
                         n_layers, footprint_area if footprint_area is not None
                         else half * length)
    if footprint_area is None:
        footprint_area = np.pi * half ** 2 if axisymmetric else half * extent
    return Grid(points, cell_blocks, tags, names, {"bottom": bottom, "top": top_edges},
                extent=1.0 if axisymmetric else extent, footprint_area=footprint_area,
                axisymmetric=axisymmetric)


def _edges_on(cell_blocks, marked: np.ndarray) -> np.ndarray:
    """Cell edges (2D) with both vertices marked, each once."""
    edges = []
    for cell_type, cells in cell_blocks:
        ring = cells[:, [0, 1, 3, 2]] if cell_type == "quadrilateral" else cells
        pairs = np.stack([ring, np.roll(ring, -1, axis=1)], axis=-1).reshape(-1, 2)
        edges.append(pairs[marked[pairs].all(axis=1)])
    edges = np.sort(np.concatenate(edges), axis=1)
    return np.unique(edges, axis=0)


def _stepped_blocks(blocks: _Blocks, a, b, depth, s, film_rows, fill_tag, fill_t, y_top,
                    top_rows, h_top, hmax, q, min_fan_cells, box, profile: FilmProfile):
    """The blocks of the standard layout (mesa left), see the module docstring. Films
    thinned by step coverage (`profile`) move the nodes of the fan, the wall column, the
    concave corner, the floor row and the channel fill along the substrate normals by
    profile.shift; the fill nodes' shifts fade to zero at the box (distance c from the
    wall), so the mesa column, the box and everything beyond it keep their places."""
    total = s[-1]
    n_film = len(s) - 1
    h_if = s[-1] - s[-2]
    height = depth + total + fill_t
    c_max = min(b, total + fill_t)
    c = _box_side(total, b - total, fill_t) if box is None else float(box)
    if not total < c <= c_max * (1 + 1e-12):
        raise ValueError(f"box must lie in ({total}, {c_max}], got {box}")
    c = min(c, c_max)

    # through the fill inside the box, then beyond it (channel to the symmetry line, rows up
    # to the fill's top), each grading away from the film | fill interface
    d_box = _box_rings(total, c, h_if, hmax, q)
    h_c = d_box[-1] - d_box[-2]
    radii = np.concatenate([s, d_box[1:]])
    rows = np.concatenate([film_rows, np.full(len(d_box) - 1, fill_tag)])
    x_beyond = (a + c + graded_offsets(b - c, h_c, hmax, q)) if c < b else np.array([a + c])
    y_above = (depth + c + graded_offsets(height - depth - c, h_c, hmax, q, last=h_top)
               if c < total + fill_t else np.array([height]))

    # corner fan: polar through the films, blending to the box through the fill
    # rays every (pi / 2) / n_theta: at least min_fan_cells; about as many as cells through
    # the films (keeps film cells near K well shaped); box sides cut in pieces c d(tan) <=
    # max_cell_size (the longest are next to the box corner: 2 c dtheta)
    n_theta = max(int(min_fan_cells), int(np.ceil(0.5 * np.pi * n_film)),
                  int(np.ceil(np.pi * c / hmax)))
    n_theta += n_theta % 2                               # a ray on the box diagonal
    theta = np.linspace(0.0, 0.5 * np.pi, n_theta + 1)
    fan = _fan_nodes(np.array([a, depth]), theta, s, d_box, c)
    fan += profile.shift(radii, profile.fan(theta), outer=c)[..., None] \
        * _unit_directions(theta)[:, None, :]
    blocks.add(fan, rows[None, :])

    # mesa column: films then fill up to the box top, left of K
    h_corner = 0.5 * np.pi * c / n_theta
    x_mesa = a - graded_offsets(a, h_corner, hmax, q)[::-1]
    blocks.add(np.stack(np.meshgrid(x_mesa, depth + radii, indexing="ij"), axis=-1),
               rows[None, :], bottom="j0")

    # concave corner: the square [a, a + T] x [0, T] cut by the lines x = a + s_m and
    # y = s_n; cell (m, n) lies in film min(m, n), so the film interfaces are the mitred
    # offset lines and every cell is a rectangle. Wall column above it, floor row beside it,
    # the channel fill between them.
    # With step coverage the floor films end at T_floor: the wall rows are mapped onto
    # [T_floor, depth]; each row's nodes sit at the wall's offsets for its height.
    y_floor = s + profile.shift(s, profile.floor())
    y_wall = total + graded_offsets(depth - total, h_if, hmax, q, last=h_corner)
    y_wall += (y_floor[-1] - total) * (depth - y_wall) / (depth - total)
    x_floor = np.concatenate([a + d_box, x_beyond[1:]])
    corner_tags = film_rows[np.minimum.outer(np.arange(n_film), np.arange(n_film))]
    blocks.add(_wall_rows(a + s, s, y_floor, profile, None), corner_tags,
               bottom=("i0", "j0"))
    blocks.add(_wall_rows(a + s, s, y_wall, profile, None), film_rows[:, None], bottom="i0")
    blocks.add(_wall_rows(x_floor, x_floor - a, y_floor, profile, c), film_rows[None, :],
               bottom="j0")
    blocks.add(_wall_rows(x_floor, x_floor - a, y_wall, profile, c), fill_tag)

    # beside the box (right of it), then rows over the whole width above the box
    half_fan = n_theta // 2
    y_side = fan[:half_fan + 1, -1, 1]
    blocks.add(np.stack(np.meshgrid(x_beyond, y_side, indexing="ij"), axis=-1), fill_tag)
    x_all = np.concatenate([x_mesa, fan[half_fan:, -1, 0][::-1][1:], x_beyond[1:]])
    y_rows = np.concatenate([y_above, height + y_top[1:]])
    row_tags = np.concatenate([np.full(len(y_above) - 1, fill_tag), top_rows])
    blocks.add(np.stack(np.meshgrid(x_all, y_rows, indexing="ij"), axis=-1), row_tags[None, :])


def _wall_rows(x, offsets, y, profile: FilmProfile, outer):
    """(len(x), len(y), 2) nodes of a block beside the wall: column i at x[i] (a distance
    offsets[i] from the wall), row j at height y[j], each column moved off the wall by the
    step-coverage shift of its offset at that row's height (none when conformal)."""
    shift = profile.shift(offsets, profile.wall(y), outer=outer)      # (len(y), len(x))
    xx = x[:, None] + shift.T
    return np.stack([xx, np.broadcast_to(y, xx.shape)], axis=-1)


# Corner-fan shape, chosen by measuring the non-orthogonality over a range of geometries
_FAN_BLEND = 3.0      # ring radius (1 - u^3) d + u^3 (ray length to the box), u: arc 0 .. box 1
_FAN_RINGS = 3        # fewest fill rings inside the box (keeps the first ones circles)


def _box_side(total, side, above):
    """Default box side c, from the fill's margins beside the films in the trench (`side` =
    trench half-width - T) and above them (`above` = the fill's planar thickness).

    The box corner, where the cells are least orthogonal, should sit inside the fill, at
    least half the box's own fill margin c - T away from the fill's top (an interface, or
    the top tab) and from the block beside it: c = T + 2/3 min(side, above). A narrow channel
    (side <= 2/3 above) instead gets the whole channel, c = half-width: the box then ends on
    the symmetry plane rather than leaving a sliver of a block beside it.
    """
    if side <= 2.0 / 3.0 * above:
        return total + side
    return total + 2.0 / 3.0 * min(side, above)


def _ring_radius(u, d, to_box, total, c):
    """Distance from K of fill ring u (0 at the arc of radius T, 1 on the box) on a ray whose
    length to the box is `to_box`, for the ring at distance d along the axes."""
    w = u ** _FAN_BLEND
    return (1.0 - w) * d + w * (total + u * (to_box - total))


def _box_rings(total, c, first, largest, growth):
    """Fill rings of the fan, as distances T .. c along the axes: graded along the box
    diagonal (the longest ray through the fill, from radius T to the box corner) from
    `first` up to `largest`, so no cell in the box is longer than `largest`."""
    u = np.linspace(0.0, 1.0, 1025)
    diagonal = _ring_radius(u, total + u * (c - total), np.sqrt(2.0) * c, total, c)
    rho = graded_offsets(diagonal[-1] - total, first, largest, growth, min_cells=_FAN_RINGS)
    return total + np.interp(total + rho, diagonal, u) * (c - total)


def _fan_nodes(corner, theta, s, d_box, c):
    """(n_theta + 1, n_radii, 2) nodes of the corner fan about `corner`, on straight rays.

    Through the films (radii s) the cells are polar. Through the fill (d_box from T to c
    along the axes) the rings blend from circles near the films, where the first fill cells
    stay polar and orthogonal to the film | fill interface, into the box max(x, y) = c.
    """
    total = s[-1]
    e = _unit_directions(theta)
    to_box = c / np.maximum(e[:, 0], e[:, 1])
    u = (d_box - total) / (c - total)
    rho = np.concatenate([np.broadcast_to(s, (len(theta), len(s))),
                          _ring_radius(u[None, 1:], d_box[None, 1:], to_box[:, None], total, c)],
                         axis=1)
    return corner + rho[..., None] * e[:, None, :]


def _extruded(points, cell_blocks, tags, names, bottom, top_edges, length, n_layers,
              footprint_area) -> Grid:
    """The 2D profile swept along a new middle axis: (x, y) -> (x, z, y), z in [0, length]."""
    n = len(points)
    z = np.linspace(0.0, length, n_layers + 1)
    pts = np.concatenate([np.column_stack([points[:, 0], np.full(n, zk), points[:, 1]])
                          for zk in z])
    layer = n * np.arange(n_layers)[:, None, None]
    out_blocks, out_tags = [], []
    for cell_type, cells in cell_blocks:
        solid = np.concatenate([cells[None] + layer, cells[None] + layer + n], axis=2)
        out_blocks.append(("hexahedron" if cell_type == "quadrilateral" else "prism",
                           solid.reshape(-1, 2 * cells.shape[1])))
    block_sizes = [len(c) for _, c in cell_blocks]
    offsets = np.cumsum([0] + block_sizes)
    for k, size in enumerate(block_sizes):
        out_tags.append(np.tile(tags[offsets[k]:offsets[k] + size], n_layers))

    def sweep(edges):      # each boundary edge becomes n_layers quadrilaterals
        below = edges[None] + layer
        return np.concatenate([below, below + n], axis=2).reshape(-1, 4)

    return Grid(pts, out_blocks, np.concatenate(out_tags), names,
                {"bottom": sweep(bottom), "top": sweep(top_edges)},
                footprint_area=footprint_area)


# ------------------------------------------------------------------------- axisymmetric cells
def axisymmetric_grid(films: Sequence[tuple[str, float]], fill: tuple[str, float],
                      top: Sequence[tuple[str, float]], diameter: float, height: float,
                      radius: float, *, holes: bool = False, cells_per_layer=4,
                      max_cell_size: float | None = None, grading: float = 0.5,
                      growth: float | None = None, min_fan_cells: int = 8,
                      key: str = "cell.micropillar", coverage=None) -> Grid:
    """Axisymmetric (r, z) grid of one pillar (or hole) at the axis of a cell of radius R.

    Pillar: the pillar top (height `height`) for r < d/2, the floor for d/2 < r < R.
    Hole (``holes=True``): the hole floor for r < d/2, the top surface for d/2 < r < R.
    Films, fill and top layers as in `conformal_grid` (coverage: step coverage per film;
    the floor is the floor between pillars, or the hole bottom). R = pitch / sqrt(pi) gives
    the cell the area of a square-lattice unit cell (pitch^2); R = pitch sqrt(sqrt(3) /
    (2 pi)) that of a hexagonal one. Footprint pi R^2, AEF = 1 + d h / R^2 for pillars and holes alike.
    Impossible sizes raise InputError naming `key`.diameter / .height / .pitch (the cell
    radius comes from the pitch) or cell.layers.<name>.thickness.
    """
    d, h, R = float(diameter), float(height), float(radius)
    if not d > 0:
        raise InputError(f"{key}.diameter", diameter, "a positive length")
    if not h >= 0:
        raise InputError(f"{key}.height", height, "a length >= 0 (0 gives the planar stack)")
    what = "hole" if holes else "pillar"
    if not R > 0.5 * d:
        raise InputError(f"{key}.pitch", radius, f"a cell radius R = {format_length(R)} "
                         f"larger than the {what} radius d/2 = {format_length(d / 2)}: the "
                         f"{what}s overlap")
    total = check_stack(films, fill, top)
    gap = 0.5 * d if holes else R - 0.5 * d
    if h > 0:
        check_films_fit(films, total, 2.0 * gap, "hole diameter" if holes
                        else "gap 2 (R - d/2) between neighbouring pillars")
        if not total < h:
            raise InputError(f"{key}.height", height, "a height larger than the total film "
                             f"thickness T = {format_length(total)}: conformal films of "
                             f"T >= height bury the {what} step")
    mesa, trench = (R - 0.5 * d, 0.5 * d) if holes else (0.5 * d, R - 0.5 * d)
    check_mesh_settings(cells_per_layer, max_cell_size)
    return conformal_grid(films, fill, top, mesa, trench, h, trench_first=holes,
                          cells_per_layer=cells_per_layer, max_cell_size=max_cell_size,
                          grading=grading, growth=growth, min_fan_cells=min_fan_cells,
                          axisymmetric=True, footprint_area=np.pi * R ** 2, coverage=coverage)


# ------------------------------------------------------------------------- input checks
def format_length(x: float) -> str:
    return f"{x * 1e6:.4g} um"


def check_stack(films, fill, top, layers_key: str = "cell.layers") -> float:
    """Validate film, fill and top thicknesses; returns the total film thickness T > 0."""
    for name, t in list(films) + list(top):
        if not (np.isfinite(float(t)) and float(t) >= 0):
            raise InputError(f"{layers_key}.{name}.thickness", t, "a thickness >= 0")
    if not (np.isfinite(float(fill[1])) and float(fill[1]) > 0):
        raise InputError(f"{layers_key}.{fill[0]}.thickness", fill[1],
                         "a positive planar thickness of the fill above the films")
    total = float(sum(float(t) for _, t in films))
    if not total > 0:
        raise InputError(layers_key, [name for name, _ in films],
                         "at least one conformal film of positive thickness below the fill")
    return total


def check_films_fit(films, total: float, opening: float, what: str,
                     layers_key: str = "cell.layers") -> None:
    """Films on both walls of an opening of width `opening` must leave room for the fill."""
    if 2.0 * total < opening:
        return
    # name the film whose deposition closes the opening
    cumulative = np.cumsum([float(t) for _, t in films])
    index = int(np.searchsorted(2.0 * cumulative, opening))
    name, thickness = films[min(index, len(films) - 1)]
    raise InputError(f"{layers_key}.{name}.thickness", thickness,
                     "films that leave the opening open: on both walls they take 2 T = "
                     f"{format_length(2 * total)} of the {what} ({format_length(opening)}), "
                     "which closes it (2 T >= width leaves no room for the fill)")


def check_mesh_settings(cells_per_layer, max_cell_size) -> None:
    cells = np.atleast_1d(cells_per_layer)
    if cells.size == 0 or np.any(cells < 1) or np.any(cells != np.round(cells)):
        raise InputError("mesh.cells_per_layer", cells_per_layer, "integers >= 1")
    if max_cell_size is not None and not float(max_cell_size) > 0:
        raise InputError("mesh.max_cell_size", max_cell_size, "a positive length")
