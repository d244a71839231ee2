"""Two-point flux operators on a Grid: transmissibilities and the diffusion matrix.

Flux through face f from cell a = face_cells[f, 0] to cell b = face_cells[f, 1]:
    F_f = T_f (u_a - u_b),   T_f = 1 / (1 / (k_a t_a) + 1 / (k_b t_b))
with t the geometric half transmissibilities A_f |n_f . d| / |d|^2 and k the cell
coefficient (conductivity, diffusivity): the harmonic average across the face.
"""

import numpy as np
import scipy.sparse as sp


def transmissibility(grid, coefficient, faces):
    """T_f on the given interior faces for a cell coefficient (array over cells)."""
    fc = grid.face_cells[faces]
    ht = grid.half_transmissibility[faces]
    return 1.0 / (1.0 / (coefficient[fc[:, 0]] * ht[:, 0])
                  + 1.0 / (coefficient[fc[:, 1]] * ht[:, 1]))


def boundary_transmissibility(grid, coefficient, faces):
    """Conductance from the cell centre to boundary faces (a Dirichlet value on the face)."""
    return coefficient[grid.face_cells[faces, 0]] * grid.half_transmissibility[faces, 0]


def flux_triplets(grid, faces, T):
    """(rows, cols, values) of sum_f T_f (u_a - u_b) leaving each cell, for COO assembly."""
    a, b = grid.face_cells[faces, 0], grid.face_cells[faces, 1]
    rows = np.concatenate([a, b, a, b])
    cols = np.concatenate([a, b, b, a])
    vals = np.concatenate([T, T, -T, -T])
    return rows, cols, vals


def diffusion_matrix(grid, coefficient, dirichlet_faces=()):
    """K with (K u)_c = net flux leaving cell c; faces in `dirichlet_faces` add their
    conductance to the diagonal (the Dirichlet values then go to the right-hand side)."""
    coefficient = np.broadcast_to(np.asarray(coefficient, dtype=float), (grid.n_cells,))
    faces = grid.interior_faces
    rows, cols, vals = flux_triplets(grid, faces, transmissibility(grid, coefficient, faces))
    dirichlet_faces = np.asarray(dirichlet_faces, dtype=np.int64)
    g = boundary_transmissibility(grid, coefficient, dirichlet_faces)
    cells = grid.face_cells[dirichlet_faces, 0]
    rows = np.concatenate([rows, cells])
    cols = np.concatenate([cols, cells])
    vals = np.concatenate([vals, g])
    return sp.csr_matrix((vals, (rows, cols)), shape=(grid.n_cells, grid.n_cells))
