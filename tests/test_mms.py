"""Method of manufactured solutions for the flux operator on trench and pillar grids:
-div(grad u) = f with u known, Dirichlet data on the two tabs ("bottom", "top") and zero
flux through the symmetry planes, as in the cell model (the solutions are chosen with zero
normal derivative there)."""

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
    boundary = np.concatenate([grid.boundary_faces["bottom"], grid.boundary_faces["top"]])
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


# u = cos(a x) exp(b y) + y^2 / L^2 in the (x, y) cross-section: u_x = 0 at x = 0, L / 2
L = 20 * UM
A, B = 2 * np.pi / L, 1.0 / L


def cartesian_exact(p):
    return np.cos(A * p[:, 0]) * np.exp(B * p[:, 1]) + (p[:, 1] / L) ** 2


def cartesian_source(p):   # -laplace(u)
    return (A**2 - B**2) * np.cos(A * p[:, 0]) * np.exp(B * p[:, 1]) - 2.0 / L**2


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


# u = cos(k r) sin(b z) + cos(b z) on the (r, z) section, k R a zero of J1-like slope:
# u_r = -k sin(k r) sin(b z) vanishes at r = 0 and at r = R for k = pi / R
RADIUS = 20 * UM / np.sqrt(np.pi)
KR = np.pi / RADIUS


def axisymmetric_exact(p):
    r, z = p[:, 0], p[:, 1]
    return np.cos(KR * r) * np.sin(B * z) + np.cos(B * z)


def axisymmetric_source(p):   # -(u_rr + u_r / r + u_zz)
    r, z = p[:, 0], p[:, 1]
    kr = KR * r
    sinc = np.where(kr > 1e-12, np.sin(kr) / np.where(kr > 1e-12, kr, 1.0), 1.0)
    u_rr = -KR**2 * np.cos(kr) * np.sin(B * z)
    u_r_over_r = -KR**2 * sinc * np.sin(B * z)
    u_zz = -B**2 * axisymmetric_exact(p)
    return -(u_rr + u_r_over_r + u_zz)


@pytest.mark.parametrize("hole", [False, True])
def test_axisymmetric_pillar_and_hole_converge(hole):
    from meshes.conformal import axisymmetric_grid

    errors = []
    for level in range(3):
        grid = axisymmetric_grid(FILMS, FILL, TOP, diameter=10 * UM, height=20 * UM,
                                 radius=RADIUS, holes=hole,
                                 cells_per_layer=2 * 2**level, max_cell_size=2 * UM / 2**level)
        errors.append(mms_error(grid, axisymmetric_exact, axisymmetric_source))
    orders = observed_orders(errors)
    assert errors[-1] < 1e-3
    assert np.all(orders > 1.5), f"errors {errors}, orders {orders}"


def cartesian3_exact(p):   # zero normal derivative on x, y = 0 and x, y = L / 2
    return np.cos(A * p[:, 0]) * np.cos(A * p[:, 1]) * np.exp(B * p[:, 2])


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
