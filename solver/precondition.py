"""Building blocks of the block preconditioner in solver.krylov: fixed-pattern sub-blocks of
a CSR matrix, the exact inverse of the per-face interface blocks (FaceBlocks), and a lean
algebraic multigrid V-cycle (pyamg's classical hierarchy, cycled here without pyamg's
per-call residual bookkeeping) whose finest operator can be refreshed without a new set-up.
Real or complex values.
"""

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp


class SubBlock:
    """The entries of a CSR pattern in rows [r0, r1) and columns [c0, c1), found once; then
    `matrix(data)` cuts the block out of any values on that pattern (a gather, no search)."""

    def __init__(self, indptr, indices, rows, cols):
        r0, r1 = rows
        c0, c1 = cols
        start, stop = int(indptr[r0]), int(indptr[r1])
        local = np.asarray(indices[start:stop])
        row_of = np.repeat(np.arange(r1 - r0), np.diff(np.asarray(indptr[r0:r1 + 1])))
        keep = (local >= c0) & (local < c1)
        self.positions = start + np.flatnonzero(keep)
        self.indices = (local[keep] - c0).astype(np.int32)
        counts = np.bincount(row_of[keep], minlength=r1 - r0)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        self.shape = (r1 - r0, c1 - c0)

    def matrix(self, data):
        return sp.csr_matrix((data[self.positions], self.indices, self.indptr), shape=self.shape)


class FaceBlocks:
    """Exact inverse of the interface block A_FF: the unknowns of each interface face
    (current; surface stoichiometry on intercalation faces; double-layer current and half-cell
    voltage with capacitances) couple only among themselves, so A_FF is block diagonal with
    one small block per face. `face_of` gives each interface unknown's face. The positions of
    the blocks' entries in the sub-block's data, and the pattern of the inverse, are found
    once; `inverse(data)` gathers the blocks, inverts them batched by size (real or complex)
    and returns the inverse as CSR. Raises FloatingPointError on a singular block."""

    def __init__(self, block: SubBlock, face_of):
        face_of = np.asarray(face_of, dtype=np.int64)
        n = face_of.size
        self.shape = (n, n)
        order = np.argsort(face_of, kind="stable")          # unknowns grouped by face
        counts = np.bincount(face_of)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        row_of = np.repeat(np.arange(n), np.diff(block.indptr))
        keys = row_of * n + block.indices                     # sorted: CSR, sorted columns
        self.groups = []                                      # (size, positions, slots)
        entries = []
        for size in np.unique(counts[counts > 0]):
            faces = np.flatnonzero(counts == size)
            members = order[starts[faces][:, None] + np.arange(size)]     # (faces, size)
            r = np.repeat(members, size, axis=1)                         # (faces, size^2)
            c = np.tile(members, (1, size))
            wanted = (r * n + c).ravel()
            found = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
            positions = np.where(keys[found] == wanted, found, -1)
            self.groups.append((int(size), faces.size, positions))
            entries.append(np.stack([r.ravel(), c.ravel()]))
        rc = np.concatenate(entries, axis=1) if entries else np.zeros((2, 0), dtype=np.int64)
        inverse_order = np.lexsort((rc[1], rc[0]))
        self.slots = np.empty_like(inverse_order)
        self.slots[inverse_order] = np.arange(inverse_order.size)
        self.indices = rc[1][inverse_order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(rc[0], minlength=n))])
        self.block = block

    def inverse(self, data):
        values = data[self.block.positions]
        out = np.empty(self.indices.size, dtype=values.dtype)
        offset = 0
        for size, count, positions in self.groups:
            blocks = np.where(positions >= 0, values[np.maximum(positions, 0)], 0.0)
            blocks = blocks.reshape(count, size, size)
            if size == 1:
                if np.any(blocks == 0.0):
                    raise FloatingPointError("a singular interface block")
                inverted = 1.0 / blocks
            else:
                try:
                    inverted = np.linalg.inv(blocks)
                except np.linalg.LinAlgError:
                    raise FloatingPointError("a singular interface block") from None
            if not np.all(np.isfinite(inverted)):
                raise FloatingPointError("a singular interface block")
            stop = offset + inverted.size
            out[self.slots[offset:stop]] = inverted.ravel()
            offset = stop
        return sp.csr_matrix((out, self.indices, self.indptr), shape=self.shape)


class VCycle:
    """One V-cycle of a classical (Ruge-Stuben) AMG hierarchy as a linear operator.

    Gauss-Seidel forward before and backward after the coarse correction, a dense LU on
    the coarsest level. `refresh(A)` swaps in new values of the finest operator (same size):
    the interpolation and coarse operators stay, so the smoother and the residual work on
    the current matrix while the set-up is reused across Newton iterations and time steps.
    With `coarse_drop` the levels between the finest and the coarsest are smoothed (and their
    residuals taken) on their Galerkin operators sparsified by `sparsified`; the coarser
    Galerkin products are still formed from the full ones.

    A complex A (a block of J + j omega M): classical strength and interpolation need real
    values, so the hierarchy is set up on the real proxy Re(A) + |Im(diag A)| (the
    Laplacian with the magnitude of its mass shift), and A's own Galerkin operators are
    cycled (Gauss-Seidel and the coarse LU in complex arithmetic).
    """

    def __init__(self, A, max_coarse=500, theta=0.25, coarse_drop=None):
        import pyamg

        A = sp.csr_matrix(A)
        proxy = A
        if np.iscomplexobj(A.data):
            proxy = sp.csr_matrix(A.real + sp.diags(np.abs(A.diagonal().imag)))
        self.hierarchy = pyamg.ruge_stuben_solver(
            proxy, strength=("classical", {"theta": theta}), max_coarse=max_coarse)
        levels = self.hierarchy.levels
        self.A = [lvl.A.tocsr() for lvl in levels]
        if coarse_drop:
            for k in range(1, len(self.A) - 1):
                self.A[k] = sparsified(self.A[k], coarse_drop)
        self.P = [lvl.P.tocsr() for lvl in levels[:-1]]
        self.R = [lvl.R.tocsr() for lvl in levels[:-1]]
        from pyamg.amg_core import gauss_seidel
        self._gs = gauss_seidel
        self.shape = A.shape
        if proxy is not A:
            self.A[0] = A
            self._galerkin()
        self._factor_coarse()

    @property
    def levels(self):
        return len(self.A)

    def operator_complexity(self):
        return sum(a.nnz for a in self.A) / self.A[0].nnz

    def refresh(self, A, galerkin=False):
        """New values of the finest operator; with `galerkin` the coarse operators are
        recomputed through the kept interpolation too (R A P, level by level). Not by
        default: on pillar cells that cost a sixth of the solve and saved no iterations.
        Always for values of another type (complex after real, or back)."""
        A = sp.csr_matrix(A)
        galerkin = galerkin or A.dtype != self.A[0].dtype
        self.A[0] = A
        if galerkin:
            self._galerkin()
            self._factor_coarse()

    def _galerkin(self):
        for k in range(len(self.P)):
            self.A[k + 1] = (self.R[k] @ self.A[k] @ self.P[k]).tocsr()

    def _factor_coarse(self):
        coarse = self.A[-1].toarray()
        if not np.all(np.isfinite(coarse)):
            raise FloatingPointError("AMG coarse operator is not finite")
        self.coarse = sla.lu_factor(coarse, check_finite=False)
        if not np.all(np.isfinite(self.coarse[0])) or np.any(np.diag(self.coarse[0]) == 0.0):
            raise FloatingPointError("AMG coarse operator is singular")

    def _smooth(self, A, x, b, forward):
        """One Gauss-Seidel sweep, forward before the coarse correction and backward after
        it (a symmetric cycle; two sweeps each way cost a third more for the same GMRES
        iterations here)."""
        n = A.shape[0]
        if forward:
            self._gs(A.indptr, A.indices, A.data, x, b, 0, n, 1)
        else:
            self._gs(A.indptr, A.indices, A.data, x, b, n - 1, -1, -1)

    def __matmul__(self, b):
        return self.apply(b)

    def apply(self, b):
        b = np.ascontiguousarray(b, dtype=np.result_type(b, self.A[0].dtype, float))
        last = len(self.A) - 1
        rhs = [b]
        xs = []
        for k in range(last):
            A = self.A[k]
            x = np.zeros_like(rhs[k])
            self._smooth(A, x, rhs[k], True)
            xs.append(x)
            rhs.append(self.R[k] @ (rhs[k] - A @ x))
        x = sla.lu_solve(self.coarse, rhs[last], check_finite=False)
        for k in range(last - 1, -1, -1):
            xk = xs[k]
            xk += self.P[k] @ x
            self._smooth(self.A[k], xk, rhs[k], False)
            x = xk
        return x


def sparsified(A, drop):
    """A with its mutually weak off-diagonal entries (|a_ij| below `drop` times the largest
    off-diagonal magnitude of row i, and |a_ji| likewise in row j) moved onto the diagonal,
    row sums kept. For the smoothing and residuals on coarse AMG levels, whose Galerkin
    products fill in with many small entries; a coupling strong on either side (the weak
    interface coupling of a metal row that is strong in its electrolyte row) is kept."""
    A = sp.csr_matrix(A)
    A.sum_duplicates()
    n = A.shape[0]
    rows = np.repeat(np.arange(n), np.diff(A.indptr))
    off = rows != A.indices
    magnitude = np.where(off, np.abs(A.data), 0.0)
    counts = np.diff(A.indptr)
    row_max = np.zeros(n)
    filled = counts > 0
    if np.any(filled):
        row_max[filled] = np.maximum.reduceat(magnitude, A.indptr[:-1][filled])
    weak = off & (magnitude < drop * row_max[rows])
    W = sp.csr_matrix((weak.astype(float), A.indices, A.indptr), shape=A.shape)
    both = W.multiply(W.T).tocsr()
    both.eliminate_zeros()
    if both.nnz == 0:
        return A
    D = sp.csr_matrix(A.multiply(both))
    lumped = np.asarray(D.sum(axis=1)).ravel()
    out = sp.csr_matrix(A - D + sp.diags(lumped))
    out.eliminate_zeros()
    out.sort_indices()
    return out
