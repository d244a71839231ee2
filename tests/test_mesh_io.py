"""meshes.io round trips of what a Grid needs beyond its cells: the axisymmetric flag."""

import meshio
import numpy as np
import pytest

from meshes.conformal import axisymmetric_grid
from meshes.io import read_grid, write_grid
from meshes.planar import planar_grid
from solver.grid import Grid

UM = 1e-6
FILMS = [("anode", 1.0 * UM), ("electrolyte", 1.5 * UM)]
FILL = ("cathode", 2.0 * UM)
TOP = [("collector", 0.5 * UM)]


@pytest.mark.parametrize("holes", [False, True])
@pytest.mark.parametrize("suffix", [".vtu", ".xdmf"])
def test_axisymmetric_grid_round_trip(tmp_path, suffix, holes):
    grid = axisymmetric_grid(FILMS, FILL, TOP, 10 * UM, 20 * UM, 12 * UM, holes=holes,
                             cells_per_layer=2, max_cell_size=2 * UM)
    path = tmp_path / f"axi{suffix}"
    write_grid(grid, path)
    back = read_grid(path, tag_names=grid.tag_names)
    assert back.axisymmetric and back.dim == 2 and back.extent == 1.0
    assert back.footprint_area == grid.footprint_area
    # revolved measures, not per unit depth
    np.testing.assert_allclose(back.cell_volumes, grid.cell_volumes, rtol=1e-14)
    np.testing.assert_allclose(back.cell_centroids, grid.cell_centroids, rtol=1e-14, atol=0)
    for name, faces in grid.boundary_faces.items():
        assert back.face_areas[back.boundary_faces[name]].sum() == \
            pytest.approx(grid.face_areas[faces].sum(), rel=1e-14)
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("suffix", [".vtu", ".xdmf"])
def test_plane_grid_stays_plane(tmp_path, suffix):
    grid = planar_grid([("a", 1.0), ("b", 2.0)], 2, 3.0, dim=2)
    write_grid(grid, tmp_path / f"plane{suffix}")
    back = read_grid(tmp_path / f"plane{suffix}")
    assert not back.axisymmetric
    np.testing.assert_allclose(back.cell_volumes, grid.cell_volumes, rtol=1e-14)


def test_file_without_the_flag_reads_as_plane(tmp_path):
    pts = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    grid = Grid(pts, [("quadrilateral", [[0, 1, 2, 3]])], [0], ["a"], axisymmetric=True)
    meshio.write(tmp_path / "old.vtu", grid.to_meshio())       # written before the flag
    back = read_grid(tmp_path / "old.vtu")
    assert not back.axisymmetric and back.cell_volumes[0] == pytest.approx(1.0)
