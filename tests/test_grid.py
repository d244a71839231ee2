"""Grid topology and geometry against closed forms, for every cell type."""

import basix
import numpy as np
import pytest

from solver.grid import MESHIO_CELLS, Grid

REFERENCE = {  # cell type -> (volume, centroid) of the basix reference cell
    "interval": (1.0, [0.5]),
    "triangle": (0.5, [1 / 3, 1 / 3]),
    "quadrilateral": (1.0, [0.5, 0.5]),
    "tetrahedron": (1 / 6, [0.25, 0.25, 0.25]),
    "hexahedron": (1.0, [0.5, 0.5, 0.5]),
    "prism": (0.5, [1 / 3, 1 / 3, 0.5]),
}


def one_cell(cell_type, points):
    return Grid(points, [(cell_type, [list(range(len(points)))])], [0], ["cell"])


def reference_points(cell_type):
    return basix.geometry(basix.CellType[cell_type]).astype(float)


def facet_measure(x):
    """Length / area of a flat facet from its vertices (basix order; quads are parallelograms)."""
    if len(x) == 1:
        return 1.0
    if len(x) == 2:
        return np.linalg.norm(x[1] - x[0])
    area = np.linalg.norm(np.cross(x[1] - x[0], x[2] - x[0]))
    return area / 2 if len(x) == 3 else area


@pytest.mark.parametrize("cell_type", list(REFERENCE))
@pytest.mark.parametrize("mapped", [False, True])
def test_single_cell_geometry_against_affine_map(cell_type, mapped):
    ref = reference_points(cell_type)
    dim = ref.shape[1]
    rng = np.random.default_rng(3)
    if mapped:  # a random orientation-preserving affine map x -> A x + b (scale, shear, shift)
        a = np.eye(dim) * np.linspace(0.5, 2.0, dim) + 0.2 * rng.standard_normal((dim, dim))
        a *= np.sign(np.linalg.det(a))
        b = rng.standard_normal(dim)
    else:
        a, b = np.eye(dim), np.zeros(dim)
    x = ref @ a.T + b
    grid = one_cell(cell_type, x)
    volume, centroid = REFERENCE[cell_type]
    assert grid.cell_volumes[0] == pytest.approx(abs(np.linalg.det(a)) * volume, rel=1e-13)
    np.testing.assert_allclose(grid.cell_centroids[0], a @ centroid + b, rtol=0, atol=1e-13)

    # faces in local (basix) facet order: areas, outward normals = A^-T n_ref, centroids
    faces = grid.cell_faces[0]
    ct = basix.CellType[cell_type]
    normals = basix.cell.facet_outward_normals(ct) @ np.linalg.inv(a)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    for local, facet in enumerate(basix.topology(ct)[dim - 1]):
        f = faces[local]
        assert grid.face_cells[f].tolist() == [0, -1]
        assert grid.face_areas[f] == pytest.approx(facet_measure(x[facet]), rel=1e-13)
        np.testing.assert_allclose(grid.face_normals[f], normals[local], atol=1e-13)
        np.testing.assert_allclose(grid.face_centroids[f], x[facet].mean(axis=0), atol=1e-13)
    assert grid.n_faces == len(basix.topology(ct)[dim - 1])
    np.testing.assert_allclose(grid.face_area_vectors.sum(axis=0), 0.0, atol=1e-13)


def test_distorted_quadrilateral_against_shoelace():
    x = np.array([[0.1, -0.2], [2.0, 0.3], [-0.3, 1.1], [1.0, 2.4]])   # basix order
    ring = x[[0, 1, 3, 2]]
    xs, ys = ring[:, 0], ring[:, 1]
    cross = xs * np.roll(ys, -1) - np.roll(xs, -1) * ys
    area = cross.sum() / 2
    centroid = [((xs + np.roll(xs, -1)) * cross).sum() / (6 * area),
                ((ys + np.roll(ys, -1)) * cross).sum() / (6 * area)]
    grid = Grid(x, [("quadrilateral", [[0, 1, 2, 3]])], [0], ["q"], extent=0.25)
    assert area == pytest.approx(3.35)
    assert np.linalg.norm(x[3] - x[1] - x[2] + x[0]) > 0.9      # not a parallelogram
    assert grid.cell_volumes[0] == pytest.approx(0.25 * area, rel=1e-14)
    np.testing.assert_allclose(grid.cell_centroids[0], centroid, atol=1e-14)
    edges = np.linalg.norm(np.roll(ring, -1, axis=0) - ring, axis=1)
    assert np.sort(grid.face_areas) == pytest.approx(np.sort(0.25 * edges), rel=1e-14)


def _gauss_square(n=4):
    t, w = np.polynomial.legendre.leggauss(n)
    u, v = np.meshgrid((t + 1) / 2, (t + 1) / 2, indexing="ij")
    return u.ravel(), v.ravel(), np.outer(w, w).ravel() / 4


def test_distorted_hexahedron_against_divergence_theorem():
    x = reference_points("hexahedron")
    x[7] = [1.3, 1.2, 1.4]            # trilinear brick with one vertex pulled out
    x[2] += [0.0, 0.1, -0.05]
    grid = one_cell("hexahedron", x)

    # V = 1/3 sum_f int x . n dS and int x_i dV = 1/2 int x_i^2 n_i dS, bilinear faces
    # integrated exactly by a tensor Gauss rule, written independently of basix
    u, v, w = _gauss_square()
    inside = x.mean(axis=0)
    volume, moment = 0.0, np.zeros(3)
    for facet in basix.topology(basix.CellType.hexahedron)[2]:
        p = x[facet]                  # tensor-product order: p(u, v) bilinear
        pt = np.outer((1 - u) * (1 - v), p[0]) + np.outer(u * (1 - v), p[1]) \
            + np.outer((1 - u) * v, p[2]) + np.outer(u * v, p[3])
        xu = np.outer(1 - v, p[1] - p[0]) + np.outer(v, p[3] - p[2])
        xv = np.outer(1 - u, p[2] - p[0]) + np.outer(u, p[3] - p[1])
        n = np.cross(xu, xv)
        if np.dot(n.sum(axis=0), p.mean(axis=0) - inside) < 0:
            n = -n
        volume += w @ np.einsum("qi,qi->q", pt, n) / 3
        moment += w @ (pt ** 2 * n) / 2
    assert grid.cell_volumes[0] == pytest.approx(volume, rel=1e-13)
    assert volume == pytest.approx(1.2691666666666666, rel=1e-13)
    np.testing.assert_allclose(grid.cell_centroids[0], moment / volume, atol=1e-13)
    # the warped faces close exactly as vector areas
    np.testing.assert_allclose(grid.face_area_vectors.sum(axis=0), 0.0, atol=1e-13)


def test_one_dimensional_grid():
    z = np.array([0.0, 1.0, 1.5, 3.5])
    grid = Grid(z, [("interval", [[0, 1], [1, 2], [2, 3]])], [0, 0, 1], ["a", "b"],
                {"bottom": [0], "top": [[3]]}, extent=2.0)
    assert grid.dim == 1 and grid.n_cells == 3 and grid.n_faces == 4
    np.testing.assert_allclose(grid.cell_volumes, [2.0, 1.0, 4.0])
    np.testing.assert_allclose(grid.cell_centroids[:, 0], [0.5, 1.25, 2.5])
    np.testing.assert_allclose(grid.face_areas, 2.0)
    np.testing.assert_allclose(grid.face_centroids[:, 0], z)
    np.testing.assert_array_equal(grid.face_cells, [[0, -1], [0, 1], [1, 2], [2, -1]])
    np.testing.assert_allclose(grid.face_normals[:, 0], [-1, 1, 1, 1])
    np.testing.assert_allclose(grid.half_transmissibility,
                               [[4, 0], [4, 8], [8, 2], [2, 0]])
    assert grid.boundary_faces["bottom"].tolist() == [0]
    assert grid.boundary_faces["top"].tolist() == [3]
    assert grid.boundary_faces["symmetry"].tolist() == []
    assert grid.footprint_area == 2.0
    assert grid.cells_with_tag("b").tolist() == [2]
    np.testing.assert_array_equal(grid.div.toarray(),
                                  [[1, 1, 0, 0], [0, -1, 1, 0], [0, 0, -1, 1]])


def structured(cell_type, n, perturb=0.0, seed=0):
    """Unit square/cube of n^dim boxes split into `cell_type`; interior nodes jiggled."""
    dim = 2 if cell_type in ("triangle", "quadrilateral") else 3
    axes = np.meshgrid(*[np.linspace(0, 1, n + 1)] * dim, indexing="ij")
    points = np.stack([a.transpose(*reversed(range(dim))).ravel() for a in axes], axis=1)
    strides = (n + 1) ** np.arange(dim)
    corner = np.indices([n] * dim)[::-1].reshape(dim, -1).T @ strides   # z slowest
    box = corner[:, None] + np.array([sum(((v >> a) & 1) * strides[a] for a in range(dim))
                                      for v in range(2 ** dim)])       # tensor order
    if cell_type in ("quadrilateral", "hexahedron"):
        cells = box
    elif cell_type == "triangle":
        cells = np.concatenate([box[:, [0, 1, 3]], box[:, [0, 3, 2]]])
    elif cell_type == "prism":
        cells = np.concatenate([box[:, [0, 1, 3, 4, 5, 7]], box[:, [0, 3, 2, 4, 7, 6]]])
    else:  # Kuhn: six tetrahedra around the main diagonal 0-7, conforming between boxes
        paths = [[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]]
        cells = np.concatenate([box[:, p] for p in paths])
    rng = np.random.default_rng(seed)
    interior = np.all((points > 1e-12) & (points < 1 - 1e-12), axis=1)
    if cell_type == "prism":   # keep the quad faces planar: move nodes in x, y only
        shift = np.zeros_like(points)
        column = np.arange(len(points)) % (n + 1) ** 2
        shift[:, :2] = rng.uniform(-1, 1, ((n + 1) ** 2, 2))[column]
        interior = np.all((points[:, :2] > 1e-12) & (points[:, :2] < 1 - 1e-12), axis=1)
    else:
        shift = rng.uniform(-1, 1, points.shape)
    points[interior] += perturb / n * shift[interior]
    return Grid(points, [(cell_type, cells)], np.zeros(len(cells), int), ["all"])


CELLS_2D_3D = ["triangle", "quadrilateral", "tetrahedron", "hexahedron", "prism"]


@pytest.mark.parametrize("cell_type", CELLS_2D_3D)
def test_perturbed_mesh_closure_and_orientation(cell_type):
    grid = structured(cell_type, 4, perturb=0.2)
    assert grid.cell_volumes.sum() == pytest.approx(1.0, rel=1e-13)
    # every cell is closed: the outgoing vector areas sum to zero
    np.testing.assert_allclose(grid.div @ grid.face_area_vectors, 0.0, atol=1e-14)
    if cell_type != "hexahedron":   # flat faces: A n is the vector area, div(const) = 0
        np.testing.assert_allclose(grid.face_areas[:, None] * grid.face_normals,
                                   grid.face_area_vectors, atol=1e-14)
        np.testing.assert_allclose(grid.div @ (grid.face_areas * grid.face_normals[:, 0]), 0.0,
                                   atol=1e-14)
    # normals point from face_cells[:, 0] to face_cells[:, 1], outward on the boundary
    inner = grid.interior_faces
    c = grid.cell_centroids
    assert np.all(np.einsum("fi,fi->f", grid.face_normals[inner],
                            c[grid.face_cells[inner, 1]] - c[grid.face_cells[inner, 0]]) > 0)
    bnd = grid.boundary_faces["symmetry"]      # no classifier: every boundary face
    assert len(bnd) + len(inner) == grid.n_faces
    assert np.all(np.einsum("fi,fi->f", grid.face_normals[bnd],
                            grid.face_centroids[bnd] - c[grid.face_cells[bnd, 0]]) > 0)
    assert grid.face_areas[bnd].sum() == pytest.approx(2 * grid.dim, rel=1e-13)
    # each face has two cells inside, one on the boundary; div columns sum to 0 / 1
    np.testing.assert_array_equal(np.asarray(grid.div.sum(axis=0)).ravel(),
                                  (grid.face_cells[:, 1] < 0).astype(float))
    assert np.all(grid.half_transmissibility[inner] > 0)
    assert np.all(grid.half_transmissibility[bnd, 1] == 0)


@pytest.mark.parametrize("cell_type,counts", [
    ("triangle", (2 * 9, 16 + 18 - 1)), ("quadrilateral", (9, 2 * 3 * 4)),
    ("tetrahedron", (6 * 27, None)), ("hexahedron", (27, 3 * 3 * 3 * 4)),
    ("prism", (2 * 27, 2 * 9 * 4 + 33 * 3))])
def test_face_counts_match_euler(cell_type, counts):
    grid = structured(cell_type, 3)
    n_cells, n_faces = counts
    assert grid.n_cells == n_cells
    facets = np.count_nonzero(grid.cell_faces >= 0)
    n_bnd = np.count_nonzero(grid.face_cells[:, 1] < 0)
    assert 2 * grid.n_faces - n_bnd == facets        # every interior face counted twice
    if n_faces is not None:
        assert grid.n_faces == n_faces


def test_mixed_hexahedron_and_prisms():
    # unit hex at x in [0, 1], two prisms filling x in [1, 2], sharing the quad face x = 1
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1],
                    [0, 1, 1], [1, 1, 1], [2, 0, 0], [2, 1, 0], [2, 0, 1], [2, 1, 1]], float)
    blocks = [("hexahedron", [[0, 1, 2, 3, 4, 5, 6, 7]]),
              ("prism", [[1, 8, 3, 5, 10, 7], [8, 9, 3, 10, 11, 7]])]
    grid = Grid(pts, blocks, [0, 1, 1], ["hex", "prism"])
    assert grid.n_cells == 3 and grid.n_faces == 6 + 5 + 5 - 2
    np.testing.assert_allclose(grid.cell_volumes, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(grid.cell_centroids[1], [4 / 3, 1 / 3, 0.5])
    shared = grid.interior_faces
    np.testing.assert_array_equal(grid.face_cells[shared], [[0, 1], [1, 2]])
    np.testing.assert_allclose(grid.face_areas[shared], [1.0, np.sqrt(2)])
    np.testing.assert_allclose(grid.face_normals[shared], [[1, 0, 0], [0.5 ** 0.5, 0.5 ** 0.5, 0]],
                               atol=1e-15)
    assert np.count_nonzero(grid.face_vertices[:, 3] < 0) == 4      # the triangles
    np.testing.assert_allclose(grid.div @ grid.face_area_vectors, 0.0, atol=1e-15)
    assert grid.face_areas[grid.boundary_faces["symmetry"]].sum() == pytest.approx(10.0)


def test_boundary_groups_by_vertices_and_by_callable():
    grid = structured("quadrilateral", 2)       # points 0..8, x fastest, 3 per row
    by_vertices = Grid(grid.points, grid.cell_blocks, grid.cell_tags, grid.tag_names,
                       {"bottom": [[1, 0], [2, 1]], "top": np.array([[7, 6], [8, 7]])})
    by_callable = Grid(grid.points, grid.cell_blocks, grid.cell_tags, grid.tag_names,
                       lambda x, n: {"bottom": n[:, 1] < -0.5, "top": x[:, 1] > 1 - 1e-12})
    for g in (by_vertices, by_callable):
        assert sorted(g.boundary_faces) == ["bottom", "symmetry", "top"]
        np.testing.assert_allclose(g.face_centroids[g.boundary_faces["bottom"], 1], 0.0)
        np.testing.assert_allclose(g.face_centroids[g.boundary_faces["top"], 1], 1.0)
        assert len(g.boundary_faces["symmetry"]) == 4
        assert g.footprint_area == pytest.approx(1.0)
    assert by_vertices.find_faces([[4, 1]]).tolist() == by_callable.find_faces([[1, 4]]).tolist()
    with pytest.raises(ValueError, match="not faces"):
        grid.find_faces([[0, 4]])
    with pytest.raises(ValueError, match="interior"):
        Grid(grid.points, grid.cell_blocks, grid.cell_tags, grid.tag_names,
             {"bottom": [[1, 4]]}).boundary_faces
    with pytest.raises(ValueError, match="more than one"):
        Grid(grid.points, grid.cell_blocks, grid.cell_tags, grid.tag_names,
             {"a": [[0, 1]], "b": [[1, 0]]}).boundary_faces


def test_invalid_input_is_rejected():
    with pytest.raises(ValueError, match="does not fit"):
        Grid(np.zeros((3, 2)), [("interval", [[0, 1]])], [0], ["a"])
    with pytest.raises(ValueError, match="shape"):
        Grid(np.zeros((4, 2)), [("quadrilateral", [[0, 1, 2]])], [0], ["a"])
    with pytest.raises(ValueError, match="zero volume"):
        Grid(np.zeros((3, 2)), [("triangle", [[0, 1, 2]])], [0], ["a"])
    with pytest.raises(ValueError, match="tag"):
        Grid([0.0, 1.0], [("interval", [[0, 1]])], [1], ["a"])
    with pytest.raises(ValueError, match="more than two"):
        Grid([[0, 0], [1, 0], [0, 1], [0, -1], [-1, 0]],
             [("triangle", [[0, 1, 2], [0, 1, 3], [0, 1, 4]])], [0, 0, 0], ["a"])


@pytest.mark.parametrize("cell_type", ["quadrilateral", "hexahedron", "prism", "tetrahedron"])
def test_to_meshio_uses_vtk_vertex_order(cell_type):
    grid = structured(cell_type, 2, perturb=0.1)
    mesh = grid.to_meshio({"volume": grid.cell_volumes})
    block = mesh.cells[0]
    assert block.type == MESHIO_CELLS[cell_type][0]
    assert mesh.points.shape[1] == 3
    np.testing.assert_array_equal(mesh.cell_data["layer"][0], grid.cell_tags)
    np.testing.assert_array_equal(mesh.cell_data["volume"][0], grid.cell_volumes)
    p = mesh.points[block.data]
    if cell_type == "quadrilateral":   # VTK quads are rings: shoelace gives the area
        x, y = p[..., 0], p[..., 1]
        area = 0.5 * (x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1)
        np.testing.assert_allclose(np.abs(area), grid.cell_volumes, rtol=1e-13)
    elif cell_type == "hexahedron":    # bottom ring 0-3, top ring 4-7 above it
        ring = p[:, [1, 2, 3], :2] - p[:, [0, 1, 2], :2]
        turn = ring[:, :-1, 0] * ring[:, 1:, 1] - ring[:, :-1, 1] * ring[:, 1:, 0]
        assert np.all(turn > 0)
        assert np.all(p[:, 4:, 2] > p[:, :4, 2])
    elif cell_type == "prism":         # VTK wedge: normal of (0, 1, 2) points away from 3-5
        n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        assert np.all(np.einsum("ci,ci->c", n, p[:, 3] - p[:, 0]) < 0)
