"""Finite-volume flux operators on a Grid: two-point fluxes with a non-orthogonal correction.

Flux of -k grad u through face f, from cell a = face_cells[f, 0] to b = face_cells[f, 1]:

  across a material interface (k jumps; the grids keep these faces orthogonal):
      F = T (u_a - u_b),  T = 1 / (1 / (k_a t_a) + 1 / (k_b t_b)),
      t = A |n . d| / |d|^2 the half transmissibilities (harmonic average of k);
  inside one region (k uniform):
      F = k [(S . d) / |d|^2 (u_a - u_b) - grad(u)_f . (S - (S . d) d / |d|^2)],
      d = x_b - x_a, S the face's area vector (the integral of n dS): the two-point part
      along d plus the part of the area vector that d misses,
      with grad(u)_f the mean of least-squares cell gradients (built from neighbours in
      the same region). The second term vanishes on orthogonal faces; elsewhere it keeps
      the scheme consistent, so skewed cells (corner fans, O-grids) converge too.
"""

import numpy as np
import scipy.sparse as sp

SKEW_TOLERANCE = 1e-6   # |n - (n.d) d/|d|^2| below this: treated as orthogonal


def transmissibility(grid, coefficient, faces):
    """Harmonic two-point transmissibility on the given interior faces."""
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


def least_squares_gradient(grid, region):
    """Sparse G (n_cells * dim, n_cells): rows c*dim + i give d u / d x_i in cell c from the
    differences to its face neighbours in the same region (weights 1 / |d|^2)."""
    fc = grid.face_cells[grid.interior_faces]
    same = region[fc[:, 0]] == region[fc[:, 1]]
    a, b = fc[same, 0], fc[same, 1]
    centres = grid.cell_centroids
    dim, n = grid.dim, grid.n_cells
    d = centres[b] - centres[a]
    w = 1.0 / np.einsum("fi,fi->f", d, d)
    # normal matrices M_c = sum w d d^T over the cell's neighbours
    outer = w[:, None, None] * d[:, :, None] * d[:, None, :]
    M = np.zeros((n, dim, dim))
    np.add.at(M, a, outer)
    np.add.at(M, b, outer)
    # cells with too few neighbours in their region get no gradient (pseudo-inverse)
    M_inv = np.linalg.pinv(M)
    # grad_c = M_c^-1 sum_j w d_j (u_j - u_c), d_j pointing from c to j
    ca = np.einsum("fij,fj->fi", M_inv[a], w[:, None] * d)     # from a to b
    cb = np.einsum("fij,fj->fi", M_inv[b], -w[:, None] * d)    # from b to a
    rows = np.concatenate([a[:, None] * dim + np.arange(dim), a[:, None] * dim + np.arange(dim),
                           b[:, None] * dim + np.arange(dim), b[:, None] * dim + np.arange(dim)])
    cols = np.concatenate([np.repeat(b[:, None], dim, 1), np.repeat(a[:, None], dim, 1),
                           np.repeat(a[:, None], dim, 1), np.repeat(b[:, None], dim, 1)])
    vals = np.concatenate([ca, -ca, cb, -cb])
    return sp.csr_matrix((vals.ravel(), (rows.ravel(), cols.ravel())), shape=(n * dim, n))


def corrected_flux(grid, faces, region):
    """Geometric parts of the in-region flux: F_f = k (T_f (u_a - u_b) + (C u)_f).

    Returns T (n_f,) and C, a sparse (n_f, n_cells) matrix holding the non-orthogonal
    correction (empty rows on orthogonal faces).
    """
    fc = grid.face_cells[faces]
    d = grid.cell_centroids[fc[:, 1]] - grid.cell_centroids[fc[:, 0]]
    # the integral of n dS, exact on warped faces (= A n on flat ones)
    S = grid.face_area_vectors[faces]
    dd = np.einsum("fi,fi->f", d, d)
    T = np.einsum("fi,fi->f", S, d) / dd
    tangential = S - T[:, None] * d
    relative = np.linalg.norm(tangential, axis=1) / np.maximum(grid.face_areas[faces], 1e-300)
    skewed = np.flatnonzero(relative > SKEW_TOLERANCE)
    dim = grid.dim
    if skewed.size == 0 or dim == 1:
        return T, sp.csr_matrix((faces.size, grid.n_cells))
    G = least_squares_gradient(grid, region)
    # -t . (grad_a + grad_b) / 2 on the skewed faces
    weights = -0.5 * tangential[skewed]                                   # (m, dim)
    pick_rows = np.concatenate([fc[skewed, 0][:, None] * dim + np.arange(dim),
                                fc[skewed, 1][:, None] * dim + np.arange(dim)], axis=1)
    W = sp.csr_matrix((np.concatenate([weights, weights], axis=1).ravel(),
                       (np.repeat(skewed, 2 * dim), pick_rows.ravel())),
                      shape=(faces.size, grid.n_cells * dim))
    return T, (W @ G).tocsr()


def region_flux_matrix(grid, faces, region):
    """Sparse F (n_f, n_cells) with F u = T (u_a - u_b) + C u on in-region faces."""
    T, C = corrected_flux(grid, faces, region)
    m = np.arange(faces.size)
    fc = grid.face_cells[faces]
    two_point = sp.csr_matrix((np.concatenate([T, -T]), (np.concatenate([m, m]),
                                                         np.concatenate([fc[:, 0], fc[:, 1]]))),
                              shape=(faces.size, grid.n_cells))
    return (two_point + C).tocsr()


def divergence(grid, faces):
    """Sparse D (n_cells, n_f): sum of the face fluxes leaving each cell."""
    fc = grid.face_cells[faces]
    m = np.arange(faces.size)
    return sp.csr_matrix((np.concatenate([np.ones(m.size), -np.ones(m.size)]),
                          (np.concatenate([fc[:, 0], fc[:, 1]]), np.concatenate([m, m]))),
                         shape=(grid.n_cells, faces.size))


def diffusion_matrix(grid, coefficient, dirichlet_faces=(), region=None):
    """K with (K u)_c = net flux of -k grad u leaving cell c.

    Faces between cells of one region (same `region` label, default: the cell tags) get the
    corrected flux with that region's coefficient; faces between regions the harmonic two-
    point flux; faces in `dirichlet_faces` add their conductance to the diagonal (the
    Dirichlet values then go to the right-hand side).
    """
    coefficient = np.broadcast_to(np.asarray(coefficient, dtype=float), (grid.n_cells,))
    region = grid.cell_tags if region is None else region
    interior = grid.interior_faces
    fc = grid.face_cells[interior]
    inside = region[fc[:, 0]] == region[fc[:, 1]]
    f_in, f_across = interior[inside], interior[~inside]
    k_face = coefficient[grid.face_cells[f_in, 0]]
    K = divergence(grid, f_in) @ sp.diags(k_face) @ region_flux_matrix(grid, f_in, region)
    rows, cols, vals = flux_triplets(grid, f_across, transmissibility(grid, coefficient, f_across))
    dirichlet_faces = np.asarray(dirichlet_faces, dtype=np.int64)
    cells = grid.face_cells[dirichlet_faces, 0]
    rows = np.concatenate([rows, cells])
    cols = np.concatenate([cols, cells])
    vals = np.concatenate([vals, boundary_transmissibility(grid, coefficient, dirichlet_faces)])
    K = K + sp.csr_matrix((vals, (rows, cols)), shape=(grid.n_cells, grid.n_cells))
    return K.tocsr()


class BalanceOperator:
    """K u for a flux-balance matrix K (every row sums to zero: a uniform u carries no flux),
    evaluated as sum_j K_ij (u_j - u_i).

    `K @ u` adds products K_ij u_j of the size of the conductance times the potential
    itself; in a bipolar stack (tens of volts) next to fine cells of a good conductor
    (hundreds of siemens) that leaves a round-off of eps |K| |u| ~ 1e-12 A in rows that must
    balance currents of that size, and Newton's updates stall at 1e-7..1e-4 V. Each
    difference u_j - u_i of neighbouring potentials is exact to eps |u_j - u_i|, so this form
    is accurate to the size of the currents themselves.
    """

    def __init__(self, matrix):
        K = sp.coo_matrix(matrix)
        row_sum = np.abs(np.asarray(K.sum(axis=1)).ravel())
        row_max = np.zeros(K.shape[0])
        np.maximum.at(row_max, K.row, np.abs(K.data))
        if np.any(row_sum > 1e-9 * row_max):
            raise ValueError("BalanceOperator: a row of the matrix does not sum to zero")
        off = K.row != K.col
        self.rows, self.cols, self.values = K.row[off], K.col[off], K.data[off]
        self.shape = K.shape

    def __matmul__(self, u):
        return np.bincount(self.rows, self.values * (u[self.cols] - u[self.rows]),
                           minlength=self.shape[0])
