"""Planar layer-stack grids: geometry, grading, TPFA accuracy, file round trips."""

import meshio
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from meshes.io import read_grid, write_grid
from meshes.planar import layer_nodes, planar_grid
from solver.grid import Grid

LAYERS = [("anode", 3e-6), ("electrolyte", 1.5e-6), ("collector", 0.0), ("cathode", 0.32e-6)]
AREA = 1e-4   # 1 cm^2


def test_layer_nodes_hit_interfaces_and_grade_toward_them():
    thick = [3e-6, 1.5e-6, 0.0, 0.32e-6]
    z = layer_nodes(thick, [10, 6, 4, 8], grading=0.5)
    interfaces = np.cumsum([0.0] + thick)
    assert len(z) == 10 + 6 + 8 + 1
    assert z[0] == 0.0
    for k in (10, 16, 24):
        assert z[k] in interfaces        # exactly, not approximately
    assert z[-1] == interfaces[-1]
    h = np.diff(z)
    assert np.all(h > 0)
    for a, b in [(0, 10), (10, 16), (16, 24)]:
        layer = h[a:b]
        np.testing.assert_allclose(layer, layer[::-1], rtol=1e-9)          # symmetric
        assert np.all(np.diff(layer[:len(layer) // 2]) > 0)                # graded
        assert layer[0] < 0.7 * layer[len(layer) // 2 - 1]
    # centre/face size ratio of the map: 1 + g pi / (2 (1 - g)) = 2.57 for g = 0.5
    h = np.diff(layer_nodes([1.0], 1000, grading=0.5))
    assert h[499] / h[0] == pytest.approx(1 + 0.5 * np.pi / (2 * 0.5), rel=5e-3)
    np.testing.assert_allclose(np.diff(layer_nodes([2.0], 4, grading=0.0)), 0.5)


def test_refinement_keeps_the_layer_map():
    coarse = layer_nodes([1.0, 2.0], 5, grading=0.7)
    fine = layer_nodes([1.0, 2.0], 10, grading=0.7)
    np.testing.assert_allclose(fine[::2], coarse, rtol=0, atol=1e-15)


def test_layer_nodes_reject_bad_input():
    with pytest.raises(ValueError, match=">= 0"):
        layer_nodes([1.0, -1.0], 4, 0.5)
    with pytest.raises(ValueError, match="grading"):
        layer_nodes([1.0], 4, 1.0)
    with pytest.raises(ValueError, match="entries"):
        layer_nodes([1.0, 1.0], [4], 0.5)
    with pytest.raises(ValueError, match="at least one cell"):
        layer_nodes([1.0, 1.0], [4, 0], 0.5)
    with pytest.raises(ValueError, match="zero total"):
        layer_nodes([0.0], 4, 0.5)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_planar_grid_volumes_areas_and_groups(dim):
    grid = planar_grid(LAYERS, [12, 8, 3, 6], AREA, dim=dim, lateral_cells=3)
    total = sum(h for _, h in LAYERS)
    lateral = 3 ** (dim - 1)
    assert grid.dim == dim
    assert grid.n_cells == (12 + 8 + 6) * lateral
    assert grid.tag_names == [name for name, _ in LAYERS]
    assert grid.footprint_area == AREA
    assert grid.extent == {1: AREA, 2: 1e-2, 3: 1.0}[dim]
    assert grid.cell_volumes.sum() == pytest.approx(AREA * total, rel=1e-13)
    for name, h in LAYERS:
        cells = grid.cells_with_tag(name)
        assert grid.cell_volumes[cells].sum() == pytest.approx(AREA * h, rel=1e-13, abs=0)
        if h:
            z = grid.cell_centroids[cells, -1]
            assert z.min() > 0 and np.all(np.abs(z - z.mean()) < h / 2)
    assert len(grid.cells_with_tag("collector")) == 0
    groups = grid.boundary_faces
    assert sorted(groups) == ["bottom", "symmetry", "top"]
    assert grid.face_areas[groups["bottom"]].sum() == pytest.approx(AREA, rel=1e-13)
    assert grid.face_areas[groups["top"]].sum() == pytest.approx(AREA, rel=1e-13)
    np.testing.assert_allclose(grid.face_centroids[groups["bottom"], -1], 0.0)
    np.testing.assert_allclose(grid.face_normals[groups["top"], -1], 1.0)
    side = {1: 0.0, 2: 2 * 1e-2 * total, 3: 4 * 1e-2 * total}[dim]
    assert grid.face_areas[groups["symmetry"]].sum() == pytest.approx(side, rel=1e-13)
    n_bnd = np.count_nonzero(grid.face_cells[:, 1] < 0)
    assert sum(len(v) for v in groups.values()) == n_bnd


def tpfa_laplacian(grid: Grid, conductivity):
    """Matrix and Dirichlet coupling of -div(k grad u) with u fixed on bottom and top."""
    ht = grid.half_transmissibility * conductivity[np.maximum(grid.face_cells, 0)]
    inner = grid.interior_faces
    t = 1.0 / (1.0 / ht[inner, 0] + 1.0 / ht[inner, 1])   # harmonic: series resistances
    c0, c1 = grid.face_cells[inner].T
    n = grid.n_cells
    a = sp.coo_matrix((np.concatenate([t, t, -t, -t]),
                       (np.concatenate([c0, c1, c0, c1]), np.concatenate([c0, c1, c1, c0]))),
                      shape=(n, n)).tocsr()
    dirichlet = {}
    for name in ("bottom", "top"):
        faces = grid.boundary_faces[name]
        a = a + sp.csr_matrix((ht[faces, 0], (grid.face_cells[faces, 0],) * 2), shape=(n, n))
        dirichlet[name] = (faces, ht[faces, 0])
    return a, dirichlet


def solve_dirichlet(grid, conductivity, source, u_bottom, u_top):
    a, dirichlet = tpfa_laplacian(grid, conductivity)
    rhs = source * grid.cell_volumes
    for name, value in (("bottom", u_bottom), ("top", u_top)):
        faces, t = dirichlet[name]
        np.add.at(rhs, grid.face_cells[faces, 0], t * value)
    return spla.spsolve(a.tocsc(), rhs)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_tpfa_reproduces_piecewise_linear_profile(dim):
    grid = planar_grid(LAYERS, [7, 5, 2, 4], AREA, dim=dim, lateral_cells=2, grading=0.6)
    z = grid.cell_centroids[:, -1]
    total = sum(h for _, h in LAYERS)
    u = solve_dirichlet(grid, np.ones(grid.n_cells), 0.0, 1.0, 3.0)
    np.testing.assert_allclose(u, 1.0 + 2.0 * z / total, rtol=1e-12)

    # layered conductivity: u is piecewise linear with the same flux through every layer
    k_layer = np.array([2.0, 0.1, 1.0, 5.0])
    k = k_layer[grid.cell_tags]
    u = solve_dirichlet(grid, k, 0.0, 0.0, 1.0)
    resistance = np.array([h for _, h in LAYERS]) / k_layer
    flux = 1.0 / resistance.sum()
    below = np.concatenate([[0.0], np.cumsum(resistance)])[grid.cell_tags]
    base = np.concatenate([[0.0], np.cumsum([h for _, h in LAYERS])])[grid.cell_tags]
    np.testing.assert_allclose(u, flux * (below + (z - base) / k), rtol=1e-10, atol=1e-12)


def test_poisson_converges_at_second_order_on_graded_layers():
    layers = [("a", 1.0), ("b", 0.4), ("c", 1.6)]
    length = 3.0

    def exact(z):
        return np.sin(2.0 * z) + z ** 2 / 3

    def source(z):   # -u''
        return 4.0 * np.sin(2.0 * z) - 2.0 / 3

    errors, sizes = [], []
    for n in (8, 16, 32, 64):
        grid = planar_grid(layers, n, footprint_area=2.0, grading=0.6)
        z = grid.cell_centroids[:, 0]
        u = solve_dirichlet(grid, np.ones(grid.n_cells), source(z), exact(0.0), exact(length))
        errors.append(np.max(np.abs(u - exact(z))))
        sizes.append(np.diff(layer_nodes([h for _, h in layers], n, 0.6)).max())
    orders = np.log(np.array(errors[:-1]) / errors[1:]) / np.log(np.array(sizes[:-1]) / sizes[1:])
    assert errors[-1] < 1e-3
    assert orders[-1] > 1.8, f"observed orders {orders}, errors {errors}"
    assert np.all(orders > 1.8), f"observed orders {orders}, errors {errors}"


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("suffix", [".vtu", ".xdmf"])
def test_file_round_trip(tmp_path, dim, suffix):
    grid = planar_grid(LAYERS, [4, 3, 2, 2], AREA, dim=dim, lateral_cells=2)
    path = tmp_path / f"stack{suffix}"
    write_grid(grid, path, cell_data={"z": grid.cell_centroids[:, -1]})
    back = read_grid(path, tag_names=grid.tag_names)
    assert back.dim == dim and back.n_cells == grid.n_cells
    np.testing.assert_allclose(back.cell_volumes, grid.cell_volumes, rtol=1e-14)
    np.testing.assert_allclose(back.cell_centroids, grid.cell_centroids, rtol=1e-14, atol=0)
    np.testing.assert_array_equal(back.cell_tags, grid.cell_tags)
    assert back.tag_names == grid.tag_names
    assert back.extent == grid.extent and back.footprint_area == AREA
    for name, faces in grid.boundary_faces.items():
        assert back.face_areas[back.boundary_faces[name]].sum() == \
            pytest.approx(grid.face_areas[faces].sum(), rel=1e-14)
    assert list(tmp_path.iterdir()) == [path]       # no temporary left behind
    if suffix == ".vtu":
        mesh = meshio.read(path)
        np.testing.assert_allclose(mesh.cell_data["z"][0], grid.cell_centroids[:, -1])
        np.testing.assert_array_equal(mesh.cell_data["layer"][0], grid.cell_tags)


@pytest.mark.parametrize("suffix", [".vtu", ".xdmf"])
def test_mixed_block_round_trip(tmp_path, suffix):
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1],
                    [0, 1, 1], [1, 1, 1], [2, 0, 0], [2, 1, 0], [2, 0, 1], [2, 1, 1]], float)
    blocks = [("hexahedron", [[0, 1, 2, 3, 4, 5, 6, 7]]),
              ("prism", [[1, 8, 3, 5, 10, 7], [8, 9, 3, 10, 11, 7]])]
    grid = Grid(pts, blocks, [0, 1, 1], ["hex", "prism"],
                lambda x, n: {"bottom": n[:, 2] < -0.5, "top": n[:, 2] > 0.5})
    write_grid(grid, tmp_path / f"mixed{suffix}")
    back = read_grid(tmp_path / f"mixed{suffix}")
    assert back.tag_names == ["layer0", "layer1"]
    assert [t for t, _ in back.cell_blocks] == ["hexahedron", "prism"]
    np.testing.assert_allclose(back.cell_volumes, [1.0, 0.5, 0.5])
    for name in ("bottom", "top", "symmetry"):
        assert back.face_areas[back.boundary_faces[name]].sum() == \
            pytest.approx(grid.face_areas[grid.boundary_faces[name]].sum())
    assert back.face_areas[back.boundary_faces["bottom"]].sum() == pytest.approx(2.0)
