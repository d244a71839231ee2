"""Micropillar and microhole arrays: 3D block-structured grids of one symmetry unit.

Geometry. A conducting substrate (not meshed: its whole surface is the bottom tab) carries
cylindrical pillars of diameter d and height h on a lattice of pitch p (`holes=True`:
cylindrical holes of diameter d and depth h in a flat substrate). From the substrate
outward lie
- `films`: layers of constant thickness deposited conformally. Their interfaces are offset
  surfaces of the substrate: flat on the pillar top and the floor, cylindrical on the wall,
  a torus-like quarter ring (circular arcs about the edge in every (r, z) half-plane) at the
  convex edge (pillar top, hole rim), mitred at the concave edge (pillar foot, hole bottom);
  with step coverage (`coverage`, meshes/coverage.py) thinner down the wall and on the
  floor, the nodes of the wall columns, the floor rows and the fan moved along the normals;
- `fill`: the last electrode, filling what the films leave and standing its planar
  thickness P above the highest point of the films (flat top at z = h + T + P, T the total
  film thickness);
- `top`: planar layers (a top collector); the outer face of the last is the "top" boundary.
Every other outer face (the symmetry planes of the lattice) is "symmetry".

Symmetry units (pillar or hole axis at the origin, z up from the floor):
- square lattice: the quarter [0, p/2]^2; footprint p^2 / 4;
- hexagonal lattice (nearest neighbours at distance p): the 30-degree wedge bounded by
  y = 0, the plane x = p/2 halfway to the neighbour at (p, 0), and the plane at 30 degrees
  through a corner of the hexagonal Voronoi cell: the triangle (0, 0), (p/2, 0),
  (p/2, p / (2 sqrt 3)), one twelfth of the cell, footprint p^2 / (8 sqrt 3). It is the
  smallest unit bounded by mirror planes.
With Phi the unit's angle at the axis (pi/2 or pi/6), the substrate area is
footprint + Phi R h (R = d/2), so AEF = 1 + pi d h / p^2 (square) or
1 + 2 pi d h / (sqrt(3) p^2) (hexagonal), for pillars and holes alike.

Construction. A 2D block-structured profile in the (r, z) half-plane is swept about the axis
over the unit's angle (nodes at equal angles; at least MIN_CELLS_AROUND per 45 (square) or
30 (hexagonal) degrees, more from max_cell_size along the outer boundary and the wall):
- films + fill band: the offsets s_0 = 0 < ... < s_nT = T through the films (graded toward
  every film face by meshes.planar.layer_nodes) continue into the fill as a band of
  thickness F = min(max(T, max_cell_size), P/2, half the fill gap, (h - T)/2) whose cells
  are graded toward the film (the first half of the same layer map), so the fill cells
  next to the films are conformal too; W = T + F;
- flat parts (pillar top, floor, hole bottom, top surface): rows at z = z_surface + s_k;
- wall: columns at r = R +- s_k;
- concave edge (pillar foot, hole bottom edge): the wall columns and floor rows cross in a
  tensor-product block [R, R + W] x [0, W] whose cell (i, k) belongs to the layer of
  offset interval min(i, k): every cell is a rectangle, the layer boundaries are L-shaped
  and the mitre (the diagonal) runs through the corners of the small squares;
- convex edge (pillar top edge, hole rim): a fan about the edge with 2 m equal sectors:
  polar cells (radii s_k) through the films, the innermost ring (touching the edge)
  triangles; through the fill band the rings blend from the circle of radius T to the
  square box of side W (blend weight u^2, u the fraction of the band, so the fill next to
  the films stays polar), then the band is Winslow-smoothed with the box nodes sliding
  along the box (FAN_SLIDE);
- the rest of the fill and the top layers: Cartesian rows and columns, sizes growing by
  about GROWTH per cell from the film-band cells up to max_cell_size.
The core, r <= r_c (pillars: r_c = R + W; holes: the rim plus a polar ring,
r_c = R + min(W, (p/2 - R)/2)), is the profile rotated about the axis: exactly
axisymmetric (polygons inscribed in the circles). Profile quadrilaterals sweep to
hexahedra; those with an edge on the axis, and the fan's triangles, sweep to prisms.
The outer region, r >= r_c out to the symmetry planes (the floor films, the fill between
the pillars, the top layers; for holes the films on the top surface and everything above),
is a 2D quadrilateral mesh in (x, y) extruded along z through the same z nodes as the
core's outer column (vertical columns: horizontal faces, film interfaces included, exactly
orthogonal):
- square lattice: block A between the arc [0, 45 deg] and the plane x = p/2, its mirror B
  about the diagonal, and a Cartesian block C in the unit's corner, so that the corner is
  one right-angled cell (an O-grid would put two 45-degree cells there, with one-sided
  least-squares gradients: the flux-corrected scheme then stays near first order);
  A is the Coons patch of its sides, Winslow-smoothed (see _square_blocks);
- hexagonal lattice: one block over the 30-degree wedge, the ray map Winslow-smoothed with
  grid lines sliding along the mirror planes (see _wedge_mesh).
The core and the outer region share their nodes on the cylinder r = r_c. Nodes are built
per block with numpy (no loops over cells); blocks are merged by coordinates.

Quality. Non-orthogonality (angle between a face normal and the line joining the centroids
of its two cells, solver.geometry.non_orthogonality and mesh_report) is zero up to the
polygonal approximation in the core (polar, Cartesian and tensor-product cells) and small
in the fan's fill band; it is largest (20-30 degrees, a few fill cells per sector) where
the fan's box corner meets the Cartesian fill, and in the outer region near the valence-5
node where blocks A, B and C meet. Film interfaces and the tab faces are orthogonal (the
line from each cell centroid to the face centroid within 3.5 degrees of the normal), as
the harmonic two-point flux across materials in solver.operators needs. For d = 10,
h = 50, p = 20 um with 1.5 um of films, 98-99.9 % of all faces are below 10 degrees.
With the flux-corrected operator (solver.operators.diffusion_matrix) a manufactured
solution converges at order 1.6-1.9 on pillar units (tests/test_mms.py and
tests/test_micropillar_mesh.py), about 1.1-1.4 on hole units at the same (coarse)
resolutions. Known weak spot: a thick film with few cells and a small max_cell_size makes
the fan's triangles long and thin next to short wall cells; the centroid line then tilts
by about atan(s_1 / (3 dz)) (s_1 the first offset, dz the neighbouring wall cell), which
can exceed 45 degrees: keep the film cells no coarser than max_cell_size.

Limits: 0 < h <= T (a wall shorter than the films) is rejected; h = 0 is the planar stack:
meshes.planar.planar_grid of films + [fill] + top in 3D on a square of the unit's footprint
area (one cell laterally).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from .conformal import merge_points, merge_quads
from .coverage import FilmProfile, film_coverages
from .planar import _layer_map, layer_nodes, planar_grid
from .siblings import sibling

InputError = sibling("solver.errors").InputError
Grid = sibling("solver.grid").Grid

LATTICES = {"square": math.pi / 2, "hexagonal": math.pi / 6}   # unit's angle at the axis
GROWTH = 1.2            # cell size ratio between neighbours through the fill and along walls
MIN_CELLS_AROUND = 3    # cells in angle per 45 (square) or 30 (hexagonal) degrees, at least
EDGE_SLIDE = 0.75       # hexagonal wedge, nodes on x = p/2: 0 = ray projection, 1 = foot of
                        # the perpendicular from the inner neighbour (orthogonal grid lines)
FAN_SLIDE = 0.5         # the same for the box nodes of the convex-edge fan


def micropillar_grid(films: Sequence[tuple[str, float]], fill: tuple[str, float],
                     top: Sequence[tuple[str, float]], diameter: float, height: float,
                     pitch: float, lattice: str = "square", holes: bool = False,
                     cells_per_layer=4, max_cell_size: float | None = None,
                     grading: float = 0.5, coverage=None) -> Grid:
    """3D grid of the symmetry unit of a micropillar (or microhole) array with conformal films.

    films : [(name, thickness)] from the substrate outward, conformal (thickness >= 0).
    fill : (name, planar_thickness): the last electrode; its flat top stands
        planar_thickness above the highest point of the films.
    top : [(name, thickness)] planar layers above the fill.
    diameter, height, pitch : pillar (hole) diameter, height (depth), lattice pitch (m).
    lattice : "square" (quarter unit [0, p/2]^2) or "hexagonal" (30-degree wedge).
    cells_per_layer : cells through each film and each top layer (int, or one per layer of
        films + [fill] + top; the fill's entry sets the cells of its conformal band: half of
        it, at least 2).
    max_cell_size : largest cell along surfaces and in the fill (m); default as
        solver.case.default_max_cell_size: min(p/20, d/10, (p - d)/10, h/20).
    grading : layer-map grading toward film faces, as meshes.planar.layer_nodes.
    coverage : step coverage per film (meshes.coverage.StepCoverage: wall_top, wall_foot,
        bottom), None: conformal. A film's thickness is its thickness on the pillar top
        (the surface around the holes); the floor is the floor between the pillars (the
        hole bottom).

    Cell tags index films + [fill] + top; boundary groups "bottom" (the substrate surface),
    "top", "symmetry"; footprint_area = the unit's projected area. Impossible geometry
    raises solver.errors.InputError naming the case-file key.
    """
    films = [(str(n), float(t)) for n, t in films]
    fill = (str(fill[0]), float(fill[1]))
    top = [(str(n), float(t)) for n, t in top]
    d, h, p = _check_geometry(diameter, height, pitch, lattice, holes)
    layers = films + [fill] + top
    names = [n for n, _ in layers]
    cells = _cells_per_layer(cells_per_layer, len(layers))
    _check_layers(films, fill, top, d, p, holes)
    if not 0.0 <= float(grading) < 1.0:
        raise InputError("mesh.grading", grading, "a number in [0, 1)")
    phi_unit = LATTICES[lattice]
    footprint = (p * p / 4 if lattice == "square" else p * p / (8 * math.sqrt(3)))
    if h == 0:
        return planar_grid(layers, cells, footprint, dim=3, lateral_cells=1, grading=grading)

    thickness_t = sum(t for _, t in films)
    if h <= thickness_t:
        raise InputError("cell.micropillar.height", height,
                         f"0 (a planar stack) or more than the total film thickness "
                         f"{thickness_t:.6g} m (a wall shorter than the films is not supported)")
    if max_cell_size is None:
        max_cell_size = min(p / 20, d / 10, (p - d) / 10, h / 20)
    max_cell_size = float(max_cell_size)
    if not (math.isfinite(max_cell_size) and max_cell_size > 0):
        raise InputError("mesh.max_cell_size", max_cell_size, "a length > 0")

    geo = _Geometry(films, fill, top, d, h, p, phi_unit, holes, cells, max_cell_size,
                    float(grading), film_coverages(coverage, len(films)))
    profile = _Profile()
    z_out, tags_out = (_hole_profile if holes else _pillar_profile)(geo, profile)
    profile.merge(tol=1e-9 * (geo.z_top + p))
    outer = _outer_mesh(geo)
    points, blocks, tags, groups = _assemble(profile, outer, z_out, tags_out, geo)
    return Grid(points, blocks, tags, names, groups, footprint_area=footprint)


# ------------------------------------------------------------------------------------------
# input checks

def _check_geometry(diameter, height, pitch, lattice, holes):
    prefix = "cell.micropillar"
    values = {}
    for key, value in (("diameter", diameter), ("height", height), ("pitch", pitch)):
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{prefix}.{key}", value, "a length in m") from None
        allow_zero = key == "height"
        if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
            raise InputError(f"{prefix}.{key}", value,
                             "a length >= 0 (0: planar stack)" if allow_zero else "a length > 0")
        values[key] = x
    if lattice not in LATTICES:
        raise InputError(f"{prefix}.lattice", lattice, f"one of {', '.join(LATTICES)}")
    if values["diameter"] >= values["pitch"]:
        what = "holes" if holes else "pillars"
        raise InputError(f"{prefix}.diameter", diameter,
                         f"a diameter below the pitch {values['pitch']:.6g} m (the {what} of "
                         f"neighbouring units would touch)")
    return values["diameter"], values["height"], values["pitch"]


def _check_layers(films, fill, top, d, p, holes):
    for name, t in films + top:
        if not (math.isfinite(t) and t >= 0):
            raise InputError(f"cell.layers.{name}.thickness", t, "a thickness >= 0")
    if not (math.isfinite(fill[1]) and fill[1] > 0):
        raise InputError(f"cell.layers.{fill[0]}.thickness", fill[1],
                         "a planar thickness > 0 of the fill above the films")
    limit = d / 2 if holes else (p - d) / 2
    where = "half the hole diameter" if holes else "half the gap between pillars (p - d)/2"
    total = 0.0
    for name, t in films:
        total += t
        if total >= limit:
            raise InputError(f"cell.layers.{name}.thickness", t,
                             f"conformal films thinner in total than {where} = {limit:.6g} m "
                             f"(they reach {total:.6g} m here), so the fill can enter")


def _cells_per_layer(cells_per_layer, n_layers) -> list[int]:
    if np.ndim(cells_per_layer) == 0:
        cells = [cells_per_layer] * n_layers
    else:
        cells = list(cells_per_layer)
    if len(cells) != n_layers:
        raise InputError("mesh.cells_per_layer", cells_per_layer,
                         f"one integer, or one per layer ({n_layers})")
    for n in cells:
        if int(n) != n or n < 1:
            raise InputError("mesh.cells_per_layer", cells_per_layer, "integers >= 1")
    return [int(n) for n in cells]


# ------------------------------------------------------------------------------------------
# 1D node distributions

def _half_map(n: int, grading: float) -> np.ndarray:
    """n + 1 nodes on [0, 1]: the first half of the layer map (fine at 0, coarse at 1)."""
    x = _layer_map(np.linspace(0.0, 0.5, n + 1), grading) / _layer_map(np.array(0.5), grading)
    x[-1] = 1.0
    return x


def _grown(a: float, b: float, first: float, last: float, largest: float) -> np.ndarray:
    """Nodes from a to b (both exact) whose size starts near `first` at a, near `last` at b
    and grows by about GROWTH per cell, up to `largest`: the size function
    h(x) = min(first + (GROWTH - 1) x, largest, last + (GROWTH - 1) (L - x)), x = |. - a|,
    with the nodes equidistributed in the integral of 1/h."""
    length = abs(b - a)
    first, last = min(first, largest), min(last, largest)
    x = np.linspace(0.0, length, 4001)
    size = np.minimum.reduce([first + (GROWTH - 1.0) * x, np.full_like(x, largest),
                              last + (GROWTH - 1.0) * (length - x)])
    inv = 1.0 / size
    count = np.concatenate([[0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * np.diff(x))])
    n = max(1, math.ceil(count[-1] - 1e-9))
    t = np.interp(np.linspace(0.0, count[-1], n + 1), count, x) / length
    t[0], t[-1] = 0.0, 1.0
    return a * (1.0 - t) + b * t


# ------------------------------------------------------------------------------------------
# the (r, z) profile

class _Geometry:
    """Sizes and 1D node sets shared by the profile blocks."""

    def __init__(self, films, fill, top, d, h, p, phi_unit, holes, cells, hmax, grading,
                 coverage):
        self.R, self.h, self.a, self.hmax = d / 2, h, p / 2, hmax
        self.phi_unit, self.mirror = phi_unit, phi_unit == LATTICES["square"]
        n_films = len(films)
        film_t = [t for _, t in films]
        self.T = T = float(sum(film_t))
        self.P = fill[1]
        self.fill_tag = n_films
        # offsets through the films, then the fill band
        if T > 0:
            s_films = layer_nodes(film_t, cells[:n_films], grading)
            s_films[-1] = T
            film_rows = np.repeat(np.arange(n_films),
                                  [c if t > 0 else 0 for c, t in zip(cells[:n_films], film_t)])
        else:
            s_films, film_rows = np.zeros(1), np.zeros(0, dtype=int)
        gap = (self.R if holes else self.a - self.R) - T
        F = min(max(T, hmax), 0.5 * self.P, 0.5 * gap, 0.5 * (h - T))
        self.W = W = T + F
        n_band = max(2, -(-cells[n_films] // 2), math.ceil(F / hmax - 1e-9))
        x = _half_map(n_band, grading)
        band = T * (1.0 - x) + W * x
        band[-1] = W
        self.s = np.concatenate([s_films, band[1:]])          # 0 .. T .. W
        # step coverage: the floor films' offsets (the band still ends at W)
        self.profile = FilmProfile(film_t, coverage, h)
        self.s_floor = self.s + self.profile.shift(self.s, self.profile.floor(), outer=W)
        self.n_T = len(s_films) - 1
        self.s_tags = np.concatenate([film_rows, np.full(n_band, self.fill_tag)])
        self.band_end = self.s[-1] - self.s[-2]               # size of the last band cell
        # surface cells next to a convex edge: at least twice the radius of the fan's
        # triangles, whose centroids sit at 2/3 of it (the offset tilts the centroid line)
        self.edge_size = min(hmax, max(self.band_end, 2.0 * self.s[1]))
        # convex-corner fan: 2 m sectors over 90 degrees
        self.m = max(2, math.ceil(W / hmax - 1e-9),
                     math.ceil(math.pi / 4 * T / hmax - 1e-9))
        # planar top
        self.z_fill = h + T + self.P
        top_t = [t for _, t in top]
        if sum(top_t) > 0:
            z_top = self.z_fill + layer_nodes(top_t, cells[n_films + 1:], grading)
            z_top[-1] = self.z_fill + sum(top_t)
            self.top_rows = np.repeat(np.arange(len(top)) + n_films + 1,
                                      [c if t > 0 else 0
                                       for c, t in zip(cells[n_films + 1:], top_t)])
        else:
            z_top, self.top_rows = np.array([self.z_fill]), np.zeros(0, dtype=int)
        self.z_top_nodes = z_top
        self.z_top = z_top[-1]
        # radius where the outer (non-axisymmetric) region starts
        self.r_c = self.R + W if not holes else self.R + min(W, 0.5 * (self.a - self.R))
        # cells in angle per wedge (the square quarter is two mirrored 45-degree wedges)
        wedge = phi_unit / 2 if self.mirror else phi_unit
        r_film = self.R + (T if not holes else 0.0)
        # ... and enough that the outer region's radial span a / cos(phi) - r_c grows by at
        # most ~10 % across the first sector when the gap a - r_c is narrow (otherwise the
        # thin cells there are wedge-shaped and their centroids shift sideways)
        squeeze = wedge / math.sqrt(0.2 * (self.a - self.r_c) / self.a)
        self.n_around = max(MIN_CELLS_AROUND,
                            math.ceil(self.a * math.tan(wedge) / hmax - 1e-9),
                            math.ceil(wedge * r_film / hmax - 1e-9),
                            math.ceil(squeeze - 1e-9))
        self.n_phi = self.n_around * (2 if self.mirror else 1)   # cells around the axis
        self.n_outer = max(1, math.ceil((self.a / math.cos(wedge) - self.r_c) / hmax
                                            - 1e-9))

    def wall_nodes(self, z, side: float) -> np.ndarray:
        """(len(s), len(z), 2) nodes of the wall block: columns at r = R + side x (the
        offsets s, moved by the step-coverage shift of the wall at each row's height z)."""
        offsets = self.s[None, :] + self.profile.shift(self.s, self.profile.wall(z),
                                                       outer=self.W)
        r = self.R + side * offsets.T
        return np.stack([r, np.broadcast_to(z, r.shape)], axis=-1)

    def fan(self, center, dir0, dir1):
        """Corner fan nodes (len(s), 2 m + 1, 2) about `center`, angle from dir0 to dir1.

        Polar through the films. Through the fill band the rings blend from the circle of
        radius T to the box of side W (weight u^2, u the fraction of the band), then the band
        is Winslow-smoothed with the box nodes sliding along the box edges (FAN_SLIDE of the
        way from the ray to the foot of the perpendicular from the inner neighbour). Sets
        self.box_side / self.box_top: the box nodes (0 .. W from the corner's rays) that
        the Cartesian blocks beside and above the box share.
        """
        m, s, T, W = self.m, self.s, self.T, self.W
        theta = np.linspace(0.0, math.pi / 2, 2 * m + 1)
        c, sn = np.cos(theta), np.sin(theta)
        c[-1], sn[0] = 0.0, 0.0
        c[0], sn[-1] = 1.0, 1.0
        c[m] = sn[m] = math.sqrt(0.5)
        box = 1.0 / np.maximum(c, sn)                         # distance to the box / W
        u = np.clip((s - T) / (W - T), 0.0, 1.0)[:, None]
        rho = s[:, None] + u ** 2 * W * (box[None, :] - 1.0)
        rho += self.profile.shift(s, self.profile.fan(theta), outer=W).T
        local = rho[..., None] * np.stack([c, sn], axis=-1)[None]   # along dir0, dir1
        t = np.tan(theta[:m + 1])
        t[0], t[m] = 0.0, 1.0
        ray_side = W * t                                      # the box nodes of the rays
        local[-1, :m + 1] = np.stack([np.full(m + 1, W), ray_side], axis=-1)
        local[-1, m:] = np.stack([ray_side[::-1], np.full(m + 1, W)], axis=-1)
        band = local[self.n_T:]
        if len(band) > 2:
            def slide(q):
                q[-1, 1:m, 1] = FAN_SLIDE * q[-2, 1:m, 1] + (1 - FAN_SLIDE) * ray_side[1:m]
                q[-1, m + 1:-1, 0] = (FAN_SLIDE * q[-2, m + 1:-1, 0]
                                      + (1 - FAN_SLIDE) * ray_side[::-1][1:m])

            smooth = _winslow(band, slide, 1e-10 * W, 20000)
            if _quad_quality(smooth)[0]:
                local[self.n_T:] = smooth
        self.box_side = local[-1, :m + 1, 1].copy()           # 0 .. W along dir1
        self.box_top = local[-1, m:, 0][::-1].copy()          # 0 .. W along dir0
        self.box_side[[0, -1]] = 0.0, W
        self.box_top[[0, -1]] = 0.0, W
        local[-1, :m + 1, 1] = self.box_side
        local[-1, m:, 0] = self.box_top[::-1]
        return center + local[..., :1] * dir0 + local[..., 1:] * dir1


def _tensor(r: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.stack(np.meshgrid(r, z, indexing="ij"), axis=-1)


class _Profile:
    """Structured quadrilateral blocks in (r, z), merged into one conforming 2D mesh.

    Block nodes are (ni + 1, nj + 1, 2) arrays; cells are in tensor order
    (p00, p10, p01, p11). Boundary edges are taken from block sides "i0", "i1", "j0", "j1".
    """

    def __init__(self):
        self.points, self.quads, self.tags = [], [], []
        self.edges = {"bottom": [], "top": []}
        self.n = 0

    def block(self, x, tags, bottom=(), top=()):
        ni, nj = x.shape[0] - 1, x.shape[1] - 1
        if ni < 1 or nj < 1:
            return
        ids = self.n + np.arange((ni + 1) * (nj + 1)).reshape(ni + 1, nj + 1)
        self.n += ids.size
        self.points.append(x.reshape(-1, 2))
        self.quads.append(np.stack([ids[:-1, :-1], ids[1:, :-1], ids[:-1, 1:], ids[1:, 1:]],
                                   axis=-1).reshape(-1, 4))
        self.tags.append(np.broadcast_to(np.asarray(tags), (ni, nj)).reshape(-1))
        sides = {"i0": ids[0, :], "i1": ids[-1, :], "j0": ids[:, 0], "j1": ids[:, -1]}
        for group, names in (("bottom", bottom), ("top", top)):
            for side in names:
                v = sides[side]
                self.edges[group].append(np.stack([v[:-1], v[1:]], axis=1))

    def merge(self, tol):
        self.xy, inverse, self.quad, self.quad_tags, self.tri, self.tri_tags = merge_quads(
            np.concatenate(self.points), np.concatenate(self.quads), np.concatenate(self.tags),
            tol)
        self.edge = {g: inverse[np.concatenate(e)] if e else np.zeros((0, 2), dtype=int)
                     for g, e in self.edges.items()}


def _pillar_profile(g: _Geometry, prof: _Profile):
    """Core blocks (r <= r_c = R + W) of a pillar; returns the z nodes and the layer of each
    z interval of the outer region (floor films, fill, top layers)."""
    R, h, s, W = g.R, g.h, g.s, g.W
    ns = len(s) - 1
    fill = g.fill_tag
    # rows and columns
    z_wall = _grown(W, h, g.band_end, g.edge_size, g.hmax)
    z_low = np.concatenate([g.s_floor, z_wall[1:]])           # 0 .. W .. h
    low_tags = np.concatenate([g.s_tags, np.full(len(z_wall) - 1, fill)])
    r_top = _grown(R, 0.0, g.edge_size, g.hmax, g.hmax)[::-1]  # 0 .. R
    r_top[0] = 0.0
    z_above = _grown(h + W, g.z_fill, g.band_end, g.band_end, g.hmax)
    fan = g.fan(np.array([R, h]), np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    z_mid = h + g.box_side                                    # h .. h + W
    r_box = R + g.box_top                                     # R .. R + W = r_c
    r_core = np.concatenate([r_top, r_box[1:]])
    k_s = np.arange(ns)

    # pillar top: films + band
    prof.block(_tensor(r_top, h + s), g.s_tags[None, :], bottom=["j0"])
    # convex corner fan
    prof.block(fan, g.s_tags[:, None])
    # wall + mitred foot: cell (column k, row i) -> layer of offset interval min(k, i)
    i_low = np.minimum(np.arange(len(z_low) - 1), ns)
    owner = np.minimum(k_s[:, None], i_low[None, :])
    tags = np.append(g.s_tags, fill)[owner]
    prof.block(g.wall_nodes(z_low, +1.0), tags, bottom=["i0", "j0"])
    # fill above the box, then the top layers
    prof.block(_tensor(r_core, z_above), fill, top=["j1"] if len(g.top_rows) == 0 else [])
    prof.block(_tensor(r_core, g.z_top_nodes), g.top_rows[None, :], top=["j1"])
    z_out = np.concatenate([z_low, z_mid[1:], z_above[1:], g.z_top_nodes[1:]])
    tags_out = np.concatenate([low_tags, np.full(len(z_mid) + len(z_above) - 2, fill),
                               g.top_rows])
    return z_out, tags_out


def _hole_profile(g: _Geometry, prof: _Profile):
    """Core blocks (r <= r_c) of a hole; returns the z nodes and layers of the outer region
    (the films on the top surface, fill, top layers)."""
    R, h, s, W = g.R, g.h, g.s, g.W
    ns = len(s) - 1
    fill = g.fill_tag
    z_wall = _grown(W, h, g.band_end, g.edge_size, g.hmax)
    z_low = np.concatenate([g.s_floor, z_wall[1:]])
    low_tags = np.concatenate([g.s_tags, np.full(len(z_wall) - 1, fill)])
    r_in = _grown(R - W, 0.0, g.band_end, g.hmax, g.hmax)[::-1]   # 0 .. R - W
    r_in[0] = 0.0
    z_above = _grown(h + W, g.z_fill, g.band_end, g.band_end, g.hmax)
    r_ring = _grown(R, g.r_c, g.edge_size, g.hmax, g.hmax)        # R .. r_c (polar)
    fan = g.fan(np.array([R, h]), np.array([-1.0, 0.0]), np.array([0.0, 1.0]))
    z_mid = h + g.box_side
    r_box = (R - g.box_top)[::-1]                                 # R - W .. R
    r_core = np.concatenate([r_in, r_box[1:], r_ring[1:]])
    k_s = np.arange(ns)

    # hole bottom and the fill column on the axis
    prof.block(_tensor(r_in, z_low), low_tags[None, :], bottom=["j0"])
    prof.block(_tensor(r_in, z_mid), fill)
    # wall + mitred bottom edge (columns at r = R - s_k)
    i_low = np.minimum(np.arange(len(z_low) - 1), ns)
    owner = np.minimum(k_s[:, None], i_low[None, :])
    tags = np.append(g.s_tags, fill)[owner]
    prof.block(g.wall_nodes(z_low, -1.0), tags, bottom=["i0", "j0"])
    # rim fan
    prof.block(fan, g.s_tags[:, None])
    # top surface next to the rim: films + band (the outer region continues them)
    prof.block(_tensor(r_ring, h + s), g.s_tags[None, :], bottom=["j0"])
    prof.block(_tensor(r_core, z_above), fill, top=["j1"] if len(g.top_rows) == 0 else [])
    prof.block(_tensor(r_core, g.z_top_nodes), g.top_rows[None, :], top=["j1"])
    z_out = np.concatenate([h + s, z_above[1:], g.z_top_nodes[1:]])
    tags_out = np.concatenate([g.s_tags, np.full(len(z_above) - 1, fill), g.top_rows])
    return z_out, tags_out


# ------------------------------------------------------------------------------------------
# the outer region: from the circle r = r_c to the symmetry planes, a 2D mesh in (x, y)

def _wedge_rays(r_c, a, wedge, n_rad, n_ang):
    """(n_rad + 1, n_ang + 1, 2): the ray map of the wedge [0, wedge] between the circle
    r = r_c (equal angles) and the line x = a, nodes equally spaced along each ray."""
    phi = np.linspace(0.0, wedge, n_ang + 1)
    c, s = np.cos(phi), np.sin(phi)
    c[0], s[0] = 1.0, 0.0
    u = np.linspace(0.0, 1.0, n_rad + 1)[:, None]
    ray = r_c * (1.0 - u) + (a / c) * u
    x = np.stack([ray * c, ray * s], axis=-1)
    x[-1, :, 0] = a
    x[0] = np.stack([r_c * c, r_c * s], axis=-1)
    return x


def _wedge_mesh(r_c, a, wedge, n_rad, n_ang):
    """The ray map of the wedge, Winslow-smoothed with the nodes on the rays 0 and `wedge`
    sliding along them so that grid lines meet them at right angles, and the nodes on
    x = a placed EDGE_SLIDE of the way from the ray projection to the foot of the
    perpendicular from their inner neighbour. The ray map is kept if smoothing would fold
    a cell."""
    x0 = _wedge_rays(r_c, a, wedge, n_rad, n_ang)
    if n_rad < 2 or n_ang < 2:
        return x0
    y_ray = x0[-1, 1:-1, 1].copy()
    t = np.array([math.cos(wedge), math.sin(wedge)])

    def slide(q):
        q[-1, 1:-1, 1] = EDGE_SLIDE * q[-2, 1:-1, 1] + (1.0 - EDGE_SLIDE) * y_ray
        q[1:-1, 0, 0] = q[1:-1, 1, 0]
        q[1:-1, 0, 1] = 0.0
        q[1:-1, -1] = (q[1:-1, -2] @ t)[:, None] * t

    x = _winslow(x0, slide, 1e-10 * a, 20000)
    return x if _quad_quality(x)[0] else x0


def _square_blocks(r_c, a, n_ang, hmax):
    """Blocks of the square quarter outside the circle r = r_c: A between the arc
    [0, 45 deg] and the plane x = a, B its mirror image about the diagonal, and C the
    Cartesian corner square [q, a]^2, q halfway along the diagonal from the arc to the
    corner. A's sides: the arc (equal angles), the x axis, the plane x = a up to y = q
    (nodes between the ray projection and q tan(phi), see below), and the path along the
    diagonal to (q, q) then along y = q to the plane. Its interior is the transfinite
    (Coons) interpolation of the sides, then Winslow-smoothed (kept unless that would fold
    a cell). The unit's corner is a corner of the Cartesian block (one right-angled cell),
    not a node where two 45-degree cells of an O-grid meet: the O-grid's corner cells, with
    their one-sided least-squares gradients, kept the flux-corrected scheme near first
    order there (tests/test_mms.py)."""
    q = 0.5 * (r_c / math.sqrt(2.0) + a)
    side, diagonal = a - q, math.sqrt(2.0) * q - r_c
    n_c = max(1, math.ceil(side / hmax - 1e-9))
    n_d = max(1, math.ceil(diagonal / hmax - 1e-9))
    n_rad = n_c + n_d
    phi = np.linspace(0.0, math.pi / 4, n_ang + 1)
    c, s = np.cos(phi), np.sin(phi)
    c[0], s[0], c[-1], s[-1] = 1.0, 0.0, math.sqrt(0.5), math.sqrt(0.5)
    t_edge = np.tan(phi)
    t_edge[0], t_edge[-1] = 0.0, 1.0
    arc = np.stack([r_c * c, r_c * s], axis=-1)                        # k = 0
    # nodes on x = a: y = tan(phi) (a (1 - w) + q w), w = (phi / 45 deg)^power: the ray
    # projection a tan(phi) near the x axis when the gap a - r_c is narrow (grid lines then
    # cross it radially), q tan(phi) (evenly spread) when it is wide
    power = min(2.0, 0.1 * a / (a - r_c))
    blend = (phi / (math.pi / 4)) ** power
    y_edge = t_edge * (a * (1.0 - blend) + q * blend)
    edge = np.stack([np.full(n_ang + 1, a), y_edge], axis=-1)           # k = n_rad
    u = np.linspace(0.0, 1.0, n_rad + 1)
    axis = np.stack([r_c * (1 - u) + a * u, np.zeros(n_rad + 1)], axis=-1)   # j = 0
    v = np.linspace(0.0, 1.0, n_d + 1)[:, None]
    diag = (r_c * math.sqrt(0.5) * (1 - v) + q * v) * np.ones(2)
    w = np.linspace(0.0, 1.0, n_c + 1)[1:]
    flat = np.stack([q * (1 - w) + a * w, np.full(n_c, q)], axis=-1)
    path = np.concatenate([diag, flat])                                 # j = n_ang
    # Coons patch over (k, j) with arc-length-free linear blending
    xi = u[:, None, None]
    eta = np.linspace(0.0, 1.0, n_ang + 1)[None, :, None]
    block = ((1 - xi) * arc[None] + xi * edge[None] + (1 - eta) * axis[:, None]
             + eta * path[:, None]
             - ((1 - xi) * (1 - eta) * arc[0] + xi * (1 - eta) * edge[0]
                + (1 - xi) * eta * arc[-1] + xi * eta * edge[-1]))
    block[0], block[-1], block[:, 0], block[:, -1] = arc, edge, axis, path
    smooth = _winslow(block, None, 1e-10 * a, 20000)
    if _quad_quality(smooth)[0]:
        block = smooth
    mirror = block[..., ::-1]
    x = np.linspace(q, a, n_c + 1)
    corner = _tensor(x, x)
    corner[-1, :, 0] = a
    corner[:, -1, 1] = a
    return [block, mirror, corner]


def _outer_mesh(g: _Geometry):
    """The outer region as a 2D quadrilateral mesh: (points (n, 2), quads (m, 4) in tensor
    order). Hexagonal lattice: _wedge_mesh of the 30-degree wedge (its 60-degree corner at
    the plane x = p/2 is a corner of the block). Square lattice: _square_blocks."""
    if g.mirror:
        blocks = _square_blocks(g.r_c, g.a, g.n_around, g.hmax)
    else:
        blocks = [_wedge_mesh(g.r_c, g.a, g.phi_unit, g.n_outer, g.n_around)]
    points, quads, offset = [], [], 0
    for x in blocks:
        ids = offset + np.arange(x.shape[0] * x.shape[1]).reshape(x.shape[:2])
        points.append(x.reshape(-1, 2))
        quads.append(np.stack([ids[:-1, :-1], ids[1:, :-1], ids[:-1, 1:], ids[1:, 1:]],
                              axis=-1).reshape(-1, 4))
        offset += ids.size
    points = np.concatenate(points)
    first, inverse = merge_points(points, 1e-9 * g.a)
    return points[first], inverse[np.concatenate(quads)]


def _winslow(x, boundary, tol, iterations):
    """Jacobi iterations of the Winslow equations on the interior nodes of the structured
    2D block x (ni, nj, 2); `boundary(x)` updates the boundary nodes in place (or not at all:
    fixed). Stops when no node moves more than tol."""
    x = x.copy()
    for _ in range(iterations):
        xi = 0.5 * (x[1:-1, 2:] - x[1:-1, :-2])
        eta = 0.5 * (x[2:, 1:-1] - x[:-2, 1:-1])
        alpha = np.einsum("ijk,ijk->ij", eta, eta)[..., None]
        gamma = np.einsum("ijk,ijk->ij", xi, xi)[..., None]
        beta = np.einsum("ijk,ijk->ij", xi, eta)[..., None]
        cross = 0.25 * (x[2:, 2:] - x[2:, :-2] - x[:-2, 2:] + x[:-2, :-2])
        q = x.copy()
        q[1:-1, 1:-1] = (alpha * (x[1:-1, 2:] + x[1:-1, :-2]) + gamma * (x[2:, 1:-1]
                         + x[:-2, 1:-1]) - 2.0 * beta * cross) / (2.0 * (alpha + gamma))
        if boundary is not None:
            boundary(q)
        change = np.abs(q - x).max()
        x = q
        if change < tol:
            break
    return x


def _quad_quality(x):
    """(all cells strictly convex, largest non-orthogonality in degrees) of a structured
    quadrilateral block x (ni, nj, 2), with polygon centroids."""
    corners = [x[:-1, :-1], x[1:, :-1], x[1:, 1:], x[:-1, 1:]]     # cyclic order

    def cross(u, v):
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    turns = np.stack([cross(corners[k] - corners[k - 1], corners[(k + 1) % 4] - corners[k])
                      for k in range(4)])
    convex = bool(np.all(turns > 0) or np.all(turns < 0))
    twice_area = sum(cross(corners[k], corners[(k + 1) % 4]) for k in range(4))
    centroid = sum((corners[k] + corners[(k + 1) % 4]) * cross(corners[k], corners[(k + 1) % 4])
                   [..., None] for k in range(4)) / (3.0 * twice_area[..., None])
    angles = [0.0]
    for axis in (0, 1):
        edge = (x[1:-1, 1:] - x[1:-1, :-1]) if axis == 0 else (x[1:, 1:-1] - x[:-1, 1:-1])
        d = np.diff(centroid, axis=axis)
        if d.size:
            normal = np.stack([edge[..., 1], -edge[..., 0]], axis=-1)
            cos = np.abs(np.sum(normal * d, axis=-1)) / (np.linalg.norm(normal, axis=-1)
                                                         * np.linalg.norm(d, axis=-1))
            angles.append(float(np.degrees(np.arccos(np.clip(cos, 0.0, 1.0))).max()))
    return convex, max(angles)


# ------------------------------------------------------------------------------------------
# 3D assembly: the core swept about the axis, the outer region extruded along z

def _sweep(prof: _Profile, g: _Geometry):
    """The profile rotated over the unit's angle in g.n_phi equal steps.

    Returns points, cell blocks {type: (cells, tags)} and boundary faces {group: (m, 4),
    -1 padded}. Quadrilaterals sweep to hexahedra; those with an edge on the axis (their
    p00-p01 side) and the triangles sweep to prisms.
    """
    xy = prof.xy
    n_phi = g.n_phi
    phi = np.linspace(0.0, g.phi_unit, n_phi + 1)
    cos, sin = np.cos(phi), np.sin(phi)
    cos[0], sin[0] = 1.0, 0.0
    if g.mirror:
        cos[-1], sin[-1] = 0.0, 1.0
        cos[n_phi // 2] = sin[n_phi // 2] = math.sqrt(0.5)
    axis = xy[:, 0] <= 1e-12 * g.a
    n_axis = int(axis.sum())
    # 3D node of profile node v at angle j: base[v] + step[v] * j
    base = np.empty(len(xy), dtype=np.int64)
    base[axis] = np.arange(n_axis)
    base[~axis] = n_axis + np.arange(int((~axis).sum())) * (n_phi + 1)
    step = np.where(axis, 0, 1)
    r, z = xy[~axis, 0][:, None], xy[~axis, 1][:, None]
    ring = np.stack([r * cos, r * sin, np.broadcast_to(z, (len(z), n_phi + 1))], axis=-1)
    points = np.concatenate([np.column_stack([np.zeros(n_axis), np.zeros(n_axis),
                                              xy[axis, 1]]), ring.reshape(-1, 3)])
    j = np.arange(n_phi)[None, :]

    def at(v, jj):      # 3D ids of profile vertices v (..., ) at angle indices jj
        return base[v] + step[v] * jj

    q, tq = prof.quad, prof.quad_tags
    on_axis = axis[q]
    plain = ~on_axis.any(axis=1)
    wedge = on_axis[:, 0] & on_axis[:, 2] & ~on_axis[:, 1] & ~on_axis[:, 3]
    if np.any(~plain & ~wedge) or np.any(axis[prof.tri]):
        raise ValueError("a profile cell touches the axis other than along an edge")
    qp = q[plain]
    hexes = np.stack([at(qp[:, [k]], j + dj) for dj in (0, 1) for k in range(4)], axis=2)
    qw = q[wedge]
    wedges = np.stack([at(qw[:, [0]], j), at(qw[:, [1]], j), at(qw[:, [1]], j + 1),
                       at(qw[:, [2]], j), at(qw[:, [3]], j), at(qw[:, [3]], j + 1)], axis=2)
    tri = prof.tri
    prisms = np.stack([at(tri[:, [k]], j + dj) for dj in (0, 1) for k in range(3)], axis=2)
    blocks = {"hexahedron": (hexes.reshape(-1, 8), np.repeat(tq[plain], n_phi)),
              "prism": (np.concatenate([wedges.reshape(-1, 6), prisms.reshape(-1, 6)]),
                        np.concatenate([np.repeat(tq[wedge], n_phi),
                                        np.repeat(prof.tri_tags, n_phi)]))}
    groups = {}
    for name, e in prof.edge.items():
        faces = np.stack([at(e[:, [0]], j), at(e[:, [1]], j), at(e[:, [1]], j + 1),
                          at(e[:, [0]], j + 1)], axis=2).reshape(-1, 4)
        faces[np.repeat(axis[e[:, 0]], n_phi), 3] = -1       # a vertex on the axis: triangle
        faces[np.repeat(axis[e[:, 1]], n_phi), 2] = -1
        groups[name] = faces
    return points, blocks, groups


def _extrude(xy, quads, z, tags):
    """2D quadrilaterals (tensor order) extruded through the z nodes: points, hexahedra
    (layer k between z[k] and z[k + 1] gets tags[k]), and the bottom and top faces."""
    n2, nz = len(xy), len(z)
    points = np.column_stack([np.tile(xy, (nz, 1)), np.repeat(z, n2)])
    k = np.arange(nz - 1)[None, :, None] * n2
    hexes = np.concatenate([quads[:, None, :] + k, quads[:, None, :] + k + n2], axis=2)
    cyclic = quads[:, [0, 1, 3, 2]]
    groups = {"bottom": cyclic, "top": cyclic + (nz - 1) * n2}
    return points, hexes.reshape(-1, 8), np.tile(tags, len(quads)), groups


def _assemble(prof: _Profile, outer, z_out, tags_out, g: _Geometry):
    """Points, cell blocks, tags and boundary groups of the core joined to the outer region
    (their shared nodes on the cylinder r = r_c merged)."""
    core_pts, blocks, groups = _sweep(prof, g)
    out_pts, out_hex, out_tags, out_groups = _extrude(*outer, z_out, tags_out)
    # merge the outer region's nodes on r = r_c into the core's
    tol = 1e-9 * (g.z_top + g.a)

    def near(pts):
        return np.flatnonzero(np.abs(np.hypot(pts[:, 0], pts[:, 1]) - g.r_c) <= 1e3 * tol)

    ci, oi = near(core_pts), near(out_pts)
    dist, match = cKDTree(core_pts[ci]).query(out_pts[oi], distance_upper_bound=tol)
    found = np.isfinite(dist)
    remap = np.full(len(out_pts), -1, dtype=np.int64)
    remap[oi[found]] = ci[match[found]]
    fresh = remap < 0
    remap[fresh] = len(core_pts) + np.arange(int(fresh.sum()))
    points = np.concatenate([core_pts, out_pts[fresh]])
    hexes, hex_tags = blocks["hexahedron"]
    cell_blocks = [("hexahedron", np.concatenate([hexes, remap[out_hex]]))]
    tags = [hex_tags, out_tags]
    if len(blocks["prism"][0]):
        cell_blocks.append(("prism", blocks["prism"][0]))
        tags.append(blocks["prism"][1])
    faces = {name: np.concatenate([groups[name], remap[out_groups[name]]])
             for name in ("bottom", "top")}
    return points, cell_blocks, np.concatenate(tags), faces
