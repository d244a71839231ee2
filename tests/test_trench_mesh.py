"""Trench and axisymmetric pillar/hole grids against closed forms; axisymmetric Grid measures.

Film areas and interface lengths are checked twice: exactly (to round-off) against the same
closed forms with each quarter circle replaced by the inscribed polygon the grid uses, and to
O(dtheta^2) against the true arcs, with the error falling about fourfold under refinement.
"""

import numpy as np
import pytest

from meshes.conformal import axisymmetric_grid, graded_offsets
from meshes.planar import planar_grid
from meshes.trench import trench_grid
from solver.errors import InputError
from solver.geometry import face_angles, interface_areas, mesh_report
from solver.grid import Grid

UM = 1e-6
FILMS = [("anode", 1.0 * UM), ("electrolyte", 1.5 * UM)]
FILL = ("cathode", 2.0 * UM)
TOP = [("collector", 0.5 * UM)]
WIDTH, DEPTH, PITCH = 10 * UM, 50 * UM, 20 * UM
COARSE = {"cells_per_layer": 4, "max_cell_size": 1.0 * UM}
FINE = {"cells_per_layer": 8, "max_cell_size": 0.5 * UM}
OFFSETS = {"anode": (0.0, 1.0 * UM), "electrolyte": (1.0 * UM, 2.5 * UM)}
T_FILMS = 2.5 * UM
TRENCH = {"films": FILMS, "fill": FILL, "top": TOP, "width": WIDTH, "depth": DEPTH,
          "pitch": PITCH}


def n_fan(grid):
    """Cells around the convex corner: the innermost fan ring is the only triangles."""
    types = dict(grid.cell_blocks)
    return len(types["triangle"])


def corner_factors(n):
    """(area, length) factors of a quarter circle: pi/4 r^2 and pi/2 r, or its n-chord
    inscribed polygon (n = None: the true arc)."""
    if n is None:
        return np.pi / 4, np.pi / 2
    return 0.5 * n * np.sin(np.pi / (2 * n)), 2 * n * np.sin(np.pi / (4 * n))


# ------------------------------------------------------------------ 2D closed forms
def film_area_2d(r1, r2, n=None, half=PITCH / 2, depth=DEPTH):
    """Area between the offset curves at r1 < r2: straight parts, quarter annulus at the
    convex corner, mitred square at the concave one: (P/2 + D) dr + (pi/4 - 1) d(r^2)."""
    k, _ = corner_factors(n)
    return (half + depth) * (r2 - r1) + (k - 1.0) * (r2 ** 2 - r1 ** 2)


def offset_length_2d(r, n=None, half=PITCH / 2, depth=DEPTH):
    """Length of the offset curve at distance r: mesa + arc + wall + floor."""
    _, k = corner_factors(n)
    return half + depth - 2.0 * r + k * r


def non_convex_cells(grid):
    """Cells (2D) whose boundary does not turn the same way at every vertex."""
    bad = 0
    for cell_type, cells in grid.cell_blocks:
        ring = cells[:, [0, 1, 3, 2]] if cell_type == "quadrilateral" else cells
        p = grid.points[ring]
        edge = np.roll(p, -1, axis=1) - p
        turn = edge[..., 0] * np.roll(edge, -1, axis=1)[..., 1] \
            - edge[..., 1] * np.roll(edge, -1, axis=1)[..., 0]
        bad += np.count_nonzero(~(np.all(turn > 0, axis=1) | np.all(turn < 0, axis=1)))
    return bad


@pytest.fixture(scope="module")
def grids():
    return {name: trench_grid(FILMS, FILL, TOP, WIDTH, DEPTH, PITCH, **settings)
            for name, settings in (("coarse", COARSE), ("fine", FINE))}


@pytest.mark.parametrize("level", ["coarse", "fine"])
def test_trench_volumes_interfaces_and_aef(grids, level):
    grid = grids[level]
    extent = PITCH / 2
    n = n_fan(grid)
    assert n >= 8 and n % 2 == 0
    assert grid.tag_names == ["anode", "electrolyte", "cathode", "collector"]
    assert grid.extent == extent
    assert grid.footprint_area == pytest.approx((PITCH / 2) ** 2, rel=1e-15)
    report = mesh_report(grid)
    assert report["aef"] == pytest.approx((PITCH + 2 * DEPTH) / PITCH, rel=1e-13)

    mesa = (PITCH - WIDTH) / 2
    height = DEPTH + T_FILMS + FILL[1]
    total = (PITCH / 2) * (height + TOP[0][1]) - mesa * DEPTH
    assert grid.cell_volumes.sum() == pytest.approx(total * extent, rel=1e-13)
    volumes = report["volumes"]
    for name, (r1, r2) in OFFSETS.items():
        assert volumes[name] == pytest.approx(film_area_2d(r1, r2, n) * extent, rel=1e-12)
        assert volumes[name] == pytest.approx(film_area_2d(r1, r2) * extent, rel=3e-4)
    fill = (PITCH / 2) * height - mesa * DEPTH - film_area_2d(0.0, T_FILMS)
    assert volumes["cathode"] == pytest.approx(fill * extent, rel=3e-4)
    assert volumes["collector"] == pytest.approx(PITCH / 2 * TOP[0][1] * extent, rel=1e-13)

    areas = interface_areas(grid)
    assert sorted(areas) == ["anode|electrolyte", "cathode|collector", "electrolyte|cathode"]
    for pair, r in (("anode|electrolyte", 1.0 * UM), ("electrolyte|cathode", T_FILMS)):
        assert areas[pair] == pytest.approx(offset_length_2d(r, n) * extent, rel=1e-12)
        assert areas[pair] == pytest.approx(offset_length_2d(r) * extent, rel=1e-4)
    assert areas["cathode|collector"] == pytest.approx(PITCH / 2 * extent, rel=1e-13)


def test_refinement_converges_to_the_true_arcs(grids):
    """Doubling cells_per_layer and halving max_cell_size doubles the fan and cuts the
    polygon's error on the true arcs by about four."""
    errors = []
    for level in ("coarse", "fine"):
        grid = grids[level]
        v = mesh_report(grid)["volumes"]["electrolyte"] / grid.extent
        errors.append(abs(v / film_area_2d(*OFFSETS["electrolyte"]) - 1))
    assert n_fan(grids["fine"]) >= 1.8 * n_fan(grids["coarse"])
    assert 3.0 < errors[0] / errors[1] < 5.0
    assert grids["fine"].n_cells > 3 * grids["coarse"].n_cells


@pytest.mark.parametrize("level", ["coarse", "fine"])
def test_cells_are_convex_and_near_orthogonal(grids, level):
    grid = grids[level]
    assert np.all(grid.cell_volumes > 0)
    assert non_convex_cells(grid) == 0
    angles = face_angles(grid)
    inner = grid.interior_faces
    report = mesh_report(grid)
    assert report["max_non_orthogonality_deg"] == pytest.approx(angles[inner].max())
    assert report["max_non_orthogonality_deg"] < 43.0    # box corner; tends to 45 refined
    assert report["fraction_over_5_deg"] < 0.03          # most faces are orthogonal
    assert report["mean_non_orthogonality_deg"] < 0.5
    assert report["max_interface_non_orthogonality_deg"] < 1.0     # where the kinetics live
    assert report["max_boundary_non_orthogonality_deg"] < 1e-6     # tabs, symmetry planes
    # faces more than 5 degrees off lie in the fill inside the corner box, or (below 10
    # degrees) next to the corner point K, where the innermost fan ring is triangles
    skewed = inner[angles[inner] > 5.0]
    x, y = grid.face_centroids[skewed].T
    corner = (PITCH - WIDTH) / 2
    in_fill = np.all(grid.cell_tags[grid.face_cells[skewed]] == 2, axis=1)
    box = min(WIDTH / 2, T_FILMS + FILL[1])        # the largest box side
    assert np.all((x[in_fill] > corner) & (x[in_fill] < corner + box)
                  & (y[in_fill] > DEPTH) & (y[in_fill] < DEPTH + box))
    near_k = np.hypot(x - corner, y - DEPTH) < OFFSETS["anode"][1]
    assert np.all(in_fill | near_k)
    assert np.all(angles[skewed[near_k]] < 10.0)


def test_boundary_groups(grids):
    grid = grids["coarse"]
    groups = grid.boundary_faces
    assert sorted(groups) == ["bottom", "symmetry", "top"]
    n_bnd = np.count_nonzero(grid.face_cells[:, 1] < 0)
    assert sum(len(ids) for ids in groups.values()) == n_bnd
    mesa = (PITCH - WIDTH) / 2
    x, y = grid.face_centroids.T
    nx, ny = grid.face_normals.T
    tol = 1e-9 * DEPTH
    bottom = groups["bottom"]
    on_mesa = (np.abs(y[bottom] - DEPTH) < tol) & (x[bottom] < mesa) & (ny[bottom] < -0.999)
    on_wall = (np.abs(x[bottom] - mesa) < tol) & (y[bottom] < DEPTH) & (nx[bottom] < -0.999)
    on_floor = (np.abs(y[bottom]) < tol) & (x[bottom] > mesa) & (ny[bottom] < -0.999)
    assert np.all(on_mesa | on_wall | on_floor)
    extent = grid.extent
    assert grid.face_areas[bottom[on_mesa]].sum() == pytest.approx(mesa * extent)
    assert grid.face_areas[bottom[on_wall]].sum() == pytest.approx(DEPTH * extent)
    assert grid.face_areas[bottom[on_floor]].sum() == pytest.approx(WIDTH / 2 * extent)
    top = groups["top"]
    np.testing.assert_allclose(y[top], DEPTH + T_FILMS + FILL[1] + TOP[0][1], rtol=1e-14)
    assert grid.face_areas[top].sum() == pytest.approx(PITCH / 2 * extent, rel=1e-13)
    assert np.all(grid.cell_tags[grid.face_cells[top, 0]] == 3)
    sym = groups["symmetry"]           # the two symmetry planes, nothing else
    assert np.all(((np.abs(x[sym]) < tol) & (nx[sym] < -0.999))
                  | ((np.abs(x[sym] - PITCH / 2) < tol) & (nx[sym] > 0.999)))
    height = DEPTH + T_FILMS + FILL[1] + TOP[0][1]
    assert grid.face_areas[sym].sum() == pytest.approx((2 * height - DEPTH) * extent)


def test_mirrored_layout_is_the_same_cell():
    grid = trench_grid(FILMS, FILL, TOP, WIDTH, DEPTH, PITCH, holes=True, **COARSE)
    reference = trench_grid(FILMS, FILL, TOP, WIDTH, DEPTH, PITCH, **COARSE)
    half = PITCH / 2
    np.testing.assert_allclose(np.sort(grid.points[:, 0]), np.sort(half - reference.points[:, 0]),
                               atol=1e-12 * half)
    assert mesh_report(grid)["volumes"] == pytest.approx(mesh_report(reference)["volumes"],
                                                         rel=1e-13)
    floor = grid.boundary_faces["bottom"]
    x, y = grid.face_centroids[floor].T
    assert np.all(y[x < WIDTH / 2] < 1e-9 * DEPTH)       # the trench floor is at the left


def test_extruded_trench():
    length, n = 4 * UM, 3
    flat = trench_grid(FILMS, FILL, TOP, WIDTH, DEPTH, PITCH, extent=1.0, **COARSE)
    grid = trench_grid(FILMS, FILL, TOP, WIDTH, DEPTH, PITCH, extrude=(length, n), **COARSE)
    assert grid.dim == 3
    assert sorted(t for t, _ in grid.cell_blocks) == ["hexahedron", "prism"]
    assert grid.n_cells == n * flat.n_cells
    assert grid.footprint_area == pytest.approx(PITCH / 2 * length, rel=1e-15)
    flat_report, report = mesh_report(flat), mesh_report(grid)
    for name, area in flat_report["volumes"].items():
        assert report["volumes"][name] == pytest.approx(area * length, rel=1e-12)
    for pair, length_2d in flat_report["interface_areas"].items():
        assert report["interface_areas"][pair] == pytest.approx(length_2d * length, rel=1e-12)
    assert report["aef"] == pytest.approx((PITCH + 2 * DEPTH) / PITCH, rel=1e-13)
    assert grid.face_areas[grid.boundary_faces["top"]].sum() == pytest.approx(PITCH / 2 * length)
    assert report["max_interface_non_orthogonality_deg"] < 1.0


def test_zero_depth_is_the_planar_stack():
    grid = trench_grid(FILMS, FILL, TOP, WIDTH, 0.0, PITCH, **COARSE)
    footprint = (PITCH / 2) ** 2
    planar = planar_grid(FILMS + [FILL] + TOP, 4, footprint, dim=2)
    assert grid.tag_names == planar.tag_names
    assert grid.footprint_area == pytest.approx(footprint, rel=1e-15)
    assert mesh_report(grid)["aef"] == pytest.approx(1.0, rel=1e-13)
    for name in grid.tag_names:
        assert grid.cell_volumes[grid.cells_with_tag(name)].sum() == pytest.approx(
            planar.cell_volumes[planar.cells_with_tag(name)].sum(), rel=1e-12)
    assert mesh_report(grid)["max_non_orthogonality_deg"] < 1e-6
    for name in ("bottom", "top"):
        assert grid.face_areas[grid.boundary_faces[name]].sum() == pytest.approx(footprint)


def test_zero_thickness_film_keeps_its_name():
    films = [("anode", 0.0), ("electrolyte", 1.5 * UM)]
    grid = trench_grid(films, FILL, TOP, WIDTH, DEPTH, PITCH, **COARSE)
    assert grid.tag_names[0] == "anode" and len(grid.cells_with_tag("anode")) == 0
    n = n_fan(grid)
    assert mesh_report(grid)["volumes"]["electrolyte"] == pytest.approx(
        film_area_2d(0.0, 1.5 * UM, n) * grid.extent, rel=1e-12)


@pytest.mark.parametrize("change", [
    {"width": 19 * UM},                                      # thin mesa
    {"width": 5.2 * UM},                                     # films nearly close the trench
    {"fill": ("cathode", 0.3 * UM)},                         # thin planar fill
    {"fill": ("cathode", 20 * UM), "top": []},               # thick fill, no top layer
    {"films": [("anode", 20e-9), ("electrolyte", 50e-9)]},   # thin films
    {"depth": 3 * UM, "cells_per_layer": [2, 6, 3]},         # shallow, per-layer cells
])
def test_other_geometries_stay_valid(change):
    args = {**TRENCH, **COARSE, **change}
    grid = trench_grid(**args)
    report = mesh_report(grid)
    assert non_convex_cells(grid) == 0
    assert report["max_non_orthogonality_deg"] < 45.0
    assert report["max_interface_non_orthogonality_deg"] < 3.0
    p, d = args["pitch"], args["depth"]
    assert report["aef"] == pytest.approx((p + 2 * d) / p, rel=1e-12)
    t = sum(h for _, h in args["films"])
    mesa = (p - args["width"]) / 2
    height = d + t + args["fill"][1] + sum(h for _, h in args["top"])
    assert grid.cell_volumes.sum() == pytest.approx(((p / 2) * height - mesa * d) * grid.extent,
                                                    rel=1e-12)


# ------------------------------------------------------------------ impossible geometry
@pytest.mark.parametrize("change,key,words", [
    ({"width": 20 * UM}, "cell.trench.width", "pitch"),
    ({"width": 25 * UM}, "cell.trench.width", "no mesa"),
    ({"width": 0.0}, "cell.trench.width", "positive"),
    ({"pitch": -1.0}, "cell.trench.pitch", "positive"),
    ({"depth": -1 * UM}, "cell.trench.depth", ">= 0"),
    ({"depth": 2.5 * UM}, "cell.trench.depth", "total film thickness"),
    ({"width": 4 * UM}, "cell.layers.electrolyte.thickness", "closes"),
    ({"width": 5 * UM}, "cell.layers.electrolyte.thickness", "2 T >= width"),   # 2T == width
    ({"width": 1.5 * UM}, "cell.layers.anode.thickness", "closes"),
    ({"fill": ("cathode", 0.0)}, "cell.layers.cathode.thickness", "positive"),
    ({"films": [("anode", -1e-6), ("electrolyte", 1e-6)]}, "cell.layers.anode.thickness",
     ">= 0"),
    ({"films": [("anode", 0.0)]}, "cell.layers", "positive thickness"),
    ({"top": [("collector", -1.0)]}, "cell.layers.collector.thickness", ">= 0"),
    ({"max_cell_size": 0.0}, "mesh.max_cell_size", "positive"),
    ({"cells_per_layer": 0}, "mesh.cells_per_layer", ">= 1"),
])
def test_impossible_geometry_names_the_key(change, key, words):
    args = {**TRENCH, **change}
    with pytest.raises(InputError, match=words) as info:
        trench_grid(**args)
    assert info.value.key == key


# ------------------------------------------------------------------ axisymmetric Grid
def test_revolved_rectangle_and_its_faces():
    r0, r1, z0, z1 = 0.5, 2.0, 1.0, 1.75
    pts = [[r0, z0], [r1, z0], [r0, z1], [r1, z1]]
    grid = Grid(pts, [("quadrilateral", [[0, 1, 2, 3]])], [0], ["ring"], axisymmetric=True)
    assert grid.axisymmetric and "axisymmetric" in repr(grid)
    area, rc = (r1 - r0) * (z1 - z0), (r0 + r1) / 2
    assert grid.cell_volumes[0] == pytest.approx(2 * np.pi * rc * area, rel=1e-14)   # Pappus
    centroid_r = 2 / 3 * (r1 ** 3 - r0 ** 3) / (r1 ** 2 - r0 ** 2)
    np.testing.assert_allclose(grid.cell_centroids[0], [centroid_r, (z0 + z1) / 2], rtol=1e-14)
    faces = {tuple(np.round(c, 6)): f for f, c in enumerate(grid.face_centroids)}
    expect = {  # face centroid (revolved measure) -> area
        (r0, (z0 + z1) / 2): 2 * np.pi * r0 * (z1 - z0),
        (r1, (z0 + z1) / 2): 2 * np.pi * r1 * (z1 - z0),
        (round(centroid_r, 6), z0): np.pi * (r1 ** 2 - r0 ** 2),
        (round(centroid_r, 6), z1): np.pi * (r1 ** 2 - r0 ** 2),
    }
    for key, area_f in expect.items():
        assert grid.face_areas[faces[key]] == pytest.approx(area_f, rel=1e-14)
    # horizontal faces share the cell's radial centroid: TPFA's d is normal to them
    ht = grid.half_transmissibility
    np.testing.assert_allclose(ht[[faces[(round(centroid_r, 6), z0)]], 0],
                               np.pi * (r1 ** 2 - r0 ** 2) / ((z1 - z0) / 2), rtol=1e-13)
    # the revolved vector areas: z components give the annulus, footprint by default
    bottom = Grid(pts, [("quadrilateral", [[0, 1, 2, 3]])], [0], ["ring"],
                  {"bottom": [[0, 1]]}, axisymmetric=True)
    assert bottom.footprint_area == pytest.approx(np.pi * (r1 ** 2 - r0 ** 2), rel=1e-14)


def test_revolved_triangle_against_pappus_and_moments():
    x = np.array([[0.0, 0.0], [3.0, 0.5], [1.0, 2.0]])    # one vertex on the axis
    grid = Grid(x, [("triangle", [[0, 1, 2]])], [0], ["t"], axisymmetric=True)
    r, z = x.T
    area = 0.5 * abs((r[1] - r[0]) * (z[2] - z[0]) - (r[2] - r[0]) * (z[1] - z[0]))
    assert grid.cell_volumes[0] == pytest.approx(2 * np.pi * r.mean() * area, rel=1e-14)
    # centroid of the revolved measure: int r^2 dA / int r dA, int r z dA / int r dA
    int_r = area * r.mean()
    int_rr = area / 6 * (r @ r + r[0] * r[1] + r[0] * r[2] + r[1] * r[2])
    int_rz = area / 12 * (2 * r @ z + r[0] * (z[1] + z[2]) + r[1] * (z[0] + z[2])
                          + r[2] * (z[0] + z[1]))
    np.testing.assert_allclose(grid.cell_centroids[0], [int_rr / int_r, int_rz / int_r],
                               rtol=1e-13)


def test_revolved_segment_is_a_cone_frustum():
    # a quadrilateral with a slanted outer edge from (1, 0) to (2.5, 2)
    pts = [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [2.5, 2.0]]
    grid = Grid(pts, [("quadrilateral", [[0, 1, 2, 3]])], [0], ["q"], axisymmetric=True)
    slant = grid.find_faces([[1, 3]])[0]
    frustum = np.pi * (1.0 + 2.5) * np.hypot(1.5, 2.0)
    assert grid.face_areas[slant] == pytest.approx(frustum, rel=1e-14)
    np.testing.assert_allclose(grid.face_area_vectors[slant],
                               grid.face_areas[slant] * grid.face_normals[slant], rtol=1e-14)
    # volume: a cone frustum of radii 1 and 2.5, height 2
    assert grid.cell_volumes[0] == pytest.approx(np.pi * 2 / 3 * (1 + 2.5 + 2.5 ** 2), rel=1e-14)


def test_axis_faces_have_zero_area_and_finite_transmissibility():
    r = np.array([0.0, 0.5, 1.5])
    z = np.array([0.0, 1.0])
    pts = np.array([[ri, zi] for zi in z for ri in r])
    cells = [[0, 1, 3, 4], [1, 2, 4, 5]]
    grid = Grid(pts, [("quadrilateral", cells)], [0, 0], ["a"],
                {"bottom": [[0, 1], [1, 2]]}, axisymmetric=True)
    axis = grid.find_faces([[0, 3]])[0]
    assert grid.face_areas[axis] == 0.0
    np.testing.assert_allclose(grid.face_normals[axis], [-1.0, 0.0])
    assert np.all(np.isfinite(grid.half_transmissibility))
    assert grid.half_transmissibility[axis, 0] == 0.0
    assert np.all(np.isfinite(grid.face_centroids)) and np.all(np.isfinite(grid.face_normals))
    assert grid.cell_volumes.sum() == pytest.approx(np.pi * 1.5 ** 2, rel=1e-14)
    assert grid.footprint_area == pytest.approx(np.pi * 1.5 ** 2, rel=1e-14)
    np.testing.assert_allclose(grid.face_areas[grid.boundary_faces["bottom"]].sum(),
                               np.pi * 1.5 ** 2, rtol=1e-14)


def test_axisymmetric_grid_is_rejected_where_it_has_no_meaning():
    square = [[0, 0], [1, 0], [0, 1], [1, 1]]
    with pytest.raises(ValueError, match="2D"):
        Grid([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], [("tetrahedron", [[0, 1, 2, 3]])],
             [0], ["a"], axisymmetric=True)
    with pytest.raises(ValueError, match="r = points"):
        Grid(np.array(square) - [0.5, 0], [("quadrilateral", [[0, 1, 2, 3]])], [0], ["a"],
             axisymmetric=True)
    with pytest.raises(ValueError, match="extent"):
        Grid(square, [("quadrilateral", [[0, 1, 2, 3]])], [0], ["a"], extent=2.0,
             axisymmetric=True)


# ------------------------------------------------------------------ pillars and holes
D_PILLAR, H_PILLAR = 10 * UM, 50 * UM
R_CELL = PITCH / np.sqrt(np.pi)           # the square lattice's cell area


def corner_moment(n=None):
    """int x dA over the quarter disc of radius 1 (x = rho cos phi), times 3: 1 for the true
    arc; for the n-chord polygon the sum over its triangles (0, p_k, p_k+1) of
    area * (x_k + x_k+1) / 3."""
    if n is None:
        return 1.0
    phi = np.linspace(0, np.pi / 2, n + 1)
    return np.sum(0.5 * np.sin(np.pi / (2 * n)) * (np.cos(phi[:-1]) + np.cos(phi[1:])))


def film_volume_axi(r1, r2, hole, n=None, d=D_PILLAR, h=H_PILLAR, big_r=R_CELL):
    """Revolved volume between offsets r1 < r2: mesa top + convex-corner (torus) part +
    the part along wall and floor (a cylinder or annulus shell with the mitred corner)."""
    k_area, _ = corner_factors(n)
    c = d / 2                                   # radius of the convex corner (the step)
    sign = -1 if hole else 1                    # the corner bulges toward the axis or away
    corner = (2 * np.pi * c * k_area * (r2 ** 2 - r1 ** 2)
              + sign * 2 * np.pi * corner_moment(n) * (r2 ** 3 - r1 ** 3) / 3)
    if hole:
        mesa = np.pi * (big_r ** 2 - c ** 2) * (r2 - r1)
        below = np.pi * (h - r1) * (c - r1) ** 2 - np.pi * (h - r2) * (c - r2) ** 2
    else:
        mesa = np.pi * c ** 2 * (r2 - r1)
        below = (np.pi * (h - r1) * (big_r ** 2 - (c + r1) ** 2)
                 - np.pi * (h - r2) * (big_r ** 2 - (c + r2) ** 2))
    return mesa + corner + below


def offset_area_axi(rho, hole, n=None, d=D_PILLAR, h=H_PILLAR, big_r=R_CELL):
    """Revolved area of the offset surface at distance rho."""
    c = d / 2
    if n is None:
        arc = 2 * np.pi * (c * rho * np.pi / 2 + (-1 if hole else 1) * rho ** 2)
    else:   # chords of the quarter circle, each revolved (a frustum): 2 pi x_mid length
        phi = np.linspace(0, np.pi / 2, n + 1)
        mid = c + (-1 if hole else 1) * rho * 0.5 * (np.cos(phi[:-1]) + np.cos(phi[1:]))
        arc = np.sum(2 * np.pi * mid * 2 * rho * np.sin(np.pi / (4 * n)))
    if hole:
        return (np.pi * (big_r ** 2 - c ** 2) + arc + 2 * np.pi * (c - rho) * (h - rho)
                + np.pi * (c - rho) ** 2)
    return (np.pi * c ** 2 + arc + 2 * np.pi * (c + rho) * (h - rho)
            + np.pi * (big_r ** 2 - (c + rho) ** 2))


@pytest.mark.parametrize("hole", [False, True])
def test_axisymmetric_pillar_and_hole(hole):
    errors = []
    for settings in (COARSE, FINE):
        grid = axisymmetric_grid(FILMS, FILL, TOP, D_PILLAR, H_PILLAR, R_CELL, holes=hole,
                                 **settings)
        assert grid.axisymmetric and grid.dim == 2
        assert grid.points[:, 0].min() == 0.0
        n = n_fan(grid)
        report = mesh_report(grid)
        assert grid.footprint_area == pytest.approx(np.pi * R_CELL ** 2, rel=1e-14)
        # pillar: (pi R^2 + pi d h) / (pi R^2); a hole has the same (floor + wall + top)
        assert report["aef"] == pytest.approx(1 + D_PILLAR * H_PILLAR / R_CELL ** 2, rel=1e-13)
        assert report["aef"] == pytest.approx(1 + np.pi * D_PILLAR * H_PILLAR / PITCH ** 2,
                                              rel=1e-13)
        height = H_PILLAR + T_FILMS + FILL[1] + TOP[0][1]
        step = (np.pi * (R_CELL ** 2 - (D_PILLAR / 2) ** 2) if hole
                else np.pi * (D_PILLAR / 2) ** 2) * H_PILLAR
        assert grid.cell_volumes.sum() == pytest.approx(np.pi * R_CELL ** 2 * height - step,
                                                        rel=1e-13)
        for name, (r1, r2) in OFFSETS.items():
            v = report["volumes"][name]
            assert v == pytest.approx(film_volume_axi(r1, r2, hole, n), rel=1e-12)
            assert v == pytest.approx(film_volume_axi(r1, r2, hole), rel=3e-4)
        errors.append(abs(report["volumes"]["electrolyte"]
                          / film_volume_axi(*OFFSETS["electrolyte"], hole) - 1))
        areas = report["interface_areas"]
        for pair, rho in (("anode|electrolyte", 1.0 * UM), ("electrolyte|cathode", T_FILMS)):
            assert areas[pair] == pytest.approx(offset_area_axi(rho, hole, n), rel=1e-12)
            assert areas[pair] == pytest.approx(offset_area_axi(rho, hole), rel=1e-4)
        assert areas["cathode|collector"] == pytest.approx(np.pi * R_CELL ** 2, rel=1e-13)
        assert non_convex_cells(grid) == 0
        assert report["max_non_orthogonality_deg"] < 43.0
        assert report["max_interface_non_orthogonality_deg"] < 1.0
        axis = grid.boundary_faces["symmetry"][grid.face_centroids[
            grid.boundary_faces["symmetry"], 0] == 0.0]
        assert len(axis) and np.all(grid.face_areas[axis] == 0.0)
        assert np.all(np.isfinite(grid.half_transmissibility))
    assert 3.0 < errors[0] / errors[1] < 5.0


@pytest.mark.parametrize("change,key,words", [
    ({"radius": 4 * UM}, "cell.micropillar.pitch", "overlap"),
    ({"diameter": 0.0}, "cell.micropillar.diameter", "positive"),
    ({"height": -1.0}, "cell.micropillar.height", ">= 0"),
    ({"height": 2 * UM}, "cell.micropillar.height", "total film thickness"),
    ({"radius": 7 * UM}, "cell.layers.electrolyte.thickness", "gap"),
    ({"holes": True, "diameter": 5 * UM}, "cell.layers.electrolyte.thickness", "hole diameter"),
])
def test_axisymmetric_impossible_geometry(change, key, words):
    args = {"diameter": D_PILLAR, "height": H_PILLAR, "radius": R_CELL}
    args.update(change)
    with pytest.raises(InputError, match=words) as info:
        axisymmetric_grid(FILMS, FILL, TOP, **args)
    assert info.value.key == key


def test_graded_offsets_along_a_long_stretch_overflow_nothing():
    """A 9 mm trench wall at 0.25 um cells: `thinfilm mesh` printed numpy's 'overflow
    encountered in exp' (a branch np.where discards, evaluated all the same)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = graded_offsets(9e-3, 1e-9, 2.5e-7, 1.25)
    h = np.diff(x)
    assert x[0] == 0.0 and x[-1] == 9e-3 and np.all(h > 0)
    assert h.max() <= 2.5e-7 * (1 + 1e-9) and h[0] == pytest.approx(1.1e-9, rel=0.1)
