"""Method of manufactured solutions for the two-point flux operator on trench and pillar
grids: -div(grad u) = f with u known, Dirichlet data on every boundary face."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from solver.operators import boundary_transmissibility, diffusion_matrix

UM = 1e-6
FILMS = [("anode", 0.5 * UM), ("electrolyte", 1.0 * UM)]
FILL = ("cathode", 2.0 * UM)
TOP = [("collector", 0.5 * UM)]


def mms_error(grid, exact, source):
    """Relative L2 error of the TPFA solution against `exact` at the cell centres."""
    boundary = np.setdiff1d(np.arange(grid.n_faces), grid.interior_faces)
    K = diffusion_matrix(grid, 1.0, boundary)
    g = boundary_transmissibility(grid, np.ones(grid.n_cells), boundary)
    rhs = source(grid.cell_centroids) * grid.cell_volumes
    rhs += np.bincount(grid.face_cells[boundary, 0], g * exact(grid.face_centroids[boundary]),
                       minlength=grid.n_cells)
    u = spla.spsolve(K.tocsc(), rhs)
    e = u - exact(grid.cell_centroids)
    w = grid.cell_volumes
    return np.sqrt(np.sum(w * e**2) / np.sum(w * exact(grid.cell_centroids) ** 2))


def observed_orders(errors):
    errors = np.asarray(errors)
    return np.log2(errors[:-1] / errors[1:])


# u = sin(a x) exp(b y) + y^2 / L^2 in the (x, y) cross-section
L = 20 * UM
A, B = np.pi / L, 1.0 / L


def cartesian_exact(p):
    return np.sin(A * p[:, 0]) * np.exp(B * p[:, 1]) + (p[:, 1] / L) ** 2


def cartesian_source(p):   # -laplace(u)
    return (A**2 - B**2) * np.sin(A * p[:, 0]) * np.exp(B * p[:, 1]) - 2.0 / L**2


def test_trench_cross_section_converges():
    from meshes.trench import trench_grid

    errors = []
    for level in range(3):
        grid = trench_grid(FILMS, FILL, TOP, width=10 * UM, depth=20 * UM, pitch=20 * UM,
                           cells_per_layer=2 * 2**level, max_cell_size=2 * UM / 2**level)
        errors.append(mms_error(grid, cartesian_exact, cartesian_source))
    orders = observed_orders(errors)
    assert errors[-1] < 1e-3
    assert np.all(orders > 1.5), f"errors {errors}, orders {orders}"


# u = r^2 sin(b z) + cos(b z) on the axisymmetric (r, z) section
def axisymmetric_exact(p):
    r, z = p[:, 0] / L, p[:, 1]
    return r**2 * np.sin(B * z) + np.cos(B * z)


def axisymmetric_source(p):   # -(u_rr + u_r / r + u_zz)
    r, z = p[:, 0] / L, p[:, 1]
    return -(4.0 / L**2 * np.sin(B * z) - B**2 * (r**2 * np.sin(B * z) + np.cos(B * z)))


@pytest.mark.parametrize("hole", [False, True])
def test_axisymmetric_pillar_and_hole_converge(hole):
    from meshes.conformal import axisymmetric_grid

    errors = []
    for level in range(3):
        grid = axisymmetric_grid(FILMS, FILL, TOP, diameter=10 * UM, height=20 * UM,
                                 radius=20 * UM / np.sqrt(np.pi), holes=hole,
                                 cells_per_layer=2 * 2**level, max_cell_size=2 * UM / 2**level)
        errors.append(mms_error(grid, axisymmetric_exact, axisymmetric_source))
    orders = observed_orders(errors)
    assert errors[-1] < 1e-3
    assert np.all(orders > 1.5), f"errors {errors}, orders {orders}"


def cartesian3_exact(p):
    return np.sin(A * p[:, 0]) * np.cos(A * p[:, 1]) * np.exp(B * p[:, 2])


def cartesian3_source(p):
    return (2 * A**2 - B**2) * cartesian3_exact(p)


def test_micropillar_unit_converges():
    from meshes.micropillar import micropillar_grid

    errors = []
    for level in range(2):
        grid = micropillar_grid(FILMS, FILL, TOP, diameter=10 * UM, height=10 * UM,
                                pitch=20 * UM, cells_per_layer=2 * 2**level,
                                max_cell_size=3 * UM / 2**level)
        errors.append(mms_error(grid, cartesian3_exact, cartesian3_source))
    orders = observed_orders(errors)
    assert np.all(orders > 1.5), f"errors {errors}, orders {orders}"
