"""Linear solves for Newton: equilibration, then a banded or a sparse direct factorisation.

The pattern is fixed for a run, so everything that depends only on it (ordering, band
positions, CSC permutation) is computed once here and each solve only refills numbers.
Stacked films in 1D give a narrow band after reverse Cuthill-McKee ordering, solved by
LAPACK's banded LU; small 2D and 3D grids go to SuperLU, larger ones to GMRES with the
block preconditioner of solver.krylov. `ReusedLUSolver` (GMRES preconditioned by a kept
SuperLU factorisation of the whole Jacobian) is no longer chosen automatically: the block
preconditioner is 2x faster on 2D trench cells, and it fills in too fast in 3D.
"""

import copy
import weakref

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.linalg.lapack import get_lapack_funcs
from scipy.sparse.csgraph import reverse_cuthill_mckee

from .equilibration import ROUND_OFF, Equilibration, SingularMatrix
from .krylov import KrylovSolver

MAX_BANDWIDTH = 24


# Above this many unknowns a grid that is not a narrow band goes to GMRES with the block
# preconditioner of solver.krylov (interface unknowns eliminated per face, stoichiometries
# by AMG, potentials by a sparse LU or AMG): sparse LU of the whole Jacobian fills in too
# fast, in 3D above all.
DIRECT_LIMIT = 5_000
# Up to these many cells the potential block of that preconditioner is factorised by a
# sparse LU (kept across Newton iterations and time steps), beyond them it gets AMG. In 2D
# the LU of the potentials alone (a third of the fill of the whole Jacobian's) is cheap
# and exact: 21 100 trench cells, 0.9e6 nonzeros, 1.5 ms a solve, 5-15 GMRES iterations.
# In 3D the fill of even the potential block grows too fast (11 000 pillar cells: 2.7e6).
LU_LIMITS = {2: 200_000, 3: 0}
# The first GMRES solve of each Newton solve stops at this relative residual (tightening
# to KrylovSolver's rtol, 1e-6, as Newton's residual falls: Eisenstat-Walker): 10-15 %
# fewer GMRES iterations on trench and pillar runs, the same results; 1e-2 cost Newton
# iterations. Newton takes no update of such a solve for converged (its error is the
# solve's, not Newton's: solver.newton).
LOOSE_RTOL = 1e-3
# The potential AMG (3D) smooths its coarse levels on the Galerkin operators with the
# entries weak from both sides (below this fraction of their rows' largest off-diagonal)
# lumped onto the diagonal: on the 1e5-cell pillar the first coarse level of T had more
# nonzeros than T itself (operator complexity 2.7, 1.7 after), the V-cycle on T costs
# 40 % less for a few % more GMRES iterations.
COARSE_DROP = 0.05


def make_linear_solver(model, direct_limit=DIRECT_LIMIT, lu_limits=LU_LIMITS):
    """The linear solver for a model's Jacobian pattern, chosen by structure and size:
    banded LU for 1D stacks, sparse LU for small grids, GMRES with the block
    preconditioner beyond (solver.krylov), its potential block by a sparse LU up to
    `lu_limits[dim]` cells and by AMG above."""
    pattern = model.pattern
    n = model.n_unknowns
    direct = _direct_solver(pattern, n)
    if direct.banded or n <= direct_limit:
        return direct
    layout = model.block_layout()
    cells = layout["phi"].stop - layout["phi"].start
    potential = "lu" if cells <= lu_limits.get(model.grid.dim, 0) else "amg"
    return KrylovSolver(pattern.indptr, pattern.indices, n, layout, potential=potential,
                        loose_rtol=LOOSE_RTOL, coarse_drop=COARSE_DROP,
                        x_adjacency=stoichiometry_adjacency(model) if model.grid.dim == 3 else None)


# A pattern's ordering and band analysis, done once: a fit runs many simulations on one model
_ANALYSED = weakref.WeakKeyDictionary()


def _direct_solver(pattern, n):
    """A LinearSolver for the pattern's matrices, of its own (it keeps its last factors), on
    the analysis of the first one made for this pattern."""
    analysed = _ANALYSED.get(pattern)
    if analysed is None or analysed.n != n:
        analysed = _ANALYSED[pattern] = LinearSolver(pattern.indptr, pattern.indices, n)
    solver = copy.copy(analysed)
    solver._lapack = {}
    return solver


def stoichiometry_adjacency(model):
    """Which stoichiometry unknowns are face neighbours: a (n_x, n_x) sparse pattern. Given
    to KrylovSolver in 3D only: cutting the stoichiometry AMG to it saved a sixth of the
    pillar runs' linear solves' time at the same GMRES iterations, but on the 2D trench
    (corner fans) it cost 40 % more iterations."""
    grid = model.grid
    cells = grid.face_cells[grid.interior_faces]
    index = model.x_index[cells]
    both = np.all(index >= 0, axis=1)
    a, b = index[both, 0], index[both, 1]
    return sp.csr_matrix((np.ones(2 * a.size), (np.concatenate([a, b]), np.concatenate([b, a]))),
                         shape=(model.n_x, model.n_x))


class LinearSolver:
    last_solve_loose = False        # (see newton_solve)

    def __init__(self, indptr, indices, n):
        self.n = n
        self.indptr = indptr
        self.indices = indices
        self.equilibration = Equilibration(indptr, indices, n)
        self.rows = self.equilibration.rows
        pattern = sp.csr_matrix((np.ones(indices.size), indices, indptr), shape=(n, n))
        perm = reverse_cuthill_mckee((pattern + pattern.T).tocsr(), symmetric_mode=True)
        inverse = np.empty(n, dtype=np.int64)
        inverse[perm] = np.arange(n)
        offset = inverse[self.rows] - inverse[indices]
        self.lower, self.upper = int(max(offset.max(), 0)), int(max(-offset.min(), 0))
        self.banded = max(self.lower, self.upper) <= MAX_BANDWIDTH
        if self.banded:
            self.perm, self.inverse = perm, inverse
            # row kl + ku + i - j of LAPACK's band storage holds a[i, j]; the storage is
            # made in Fortran order (column j's rows together), as LAPACK takes it uncopied
            self.band_rows = 2 * self.lower + self.upper + 1
            self.band_position = inverse[indices] * self.band_rows + (self.lower + self.upper
                                                                      + offset)
            self._lapack = {}        # (routine, dtype) -> LAPACK function: looked up once

    def _routine(self, name, array):
        key = (name, array.dtype.char)
        routine = self._lapack.get(key)
        if routine is None:
            routine = self._lapack[key] = get_lapack_funcs(name, (array,))
        return routine

    def solve(self, data, rhs):
        """Solve A x = rhs for A with this pattern and CSR values `data` (real or complex);
        the factorisation is kept for `solve_again` (forward sensitivities reuse each step's
        last one)."""
        scaled, row, col = self.equilibration.equilibrate(data)
        self._scales = (row, col)
        if self.banded:
            self._factors = self._banded_factorise(scaled)
        else:
            # CSR of A is CSC of A^T: factorise that and solve the transposed system
            at = sp.csc_matrix((scaled, self.indices, self.indptr), shape=(self.n, self.n))
            try:
                lu = spla.splu(at, permc_spec="COLAMD")
            except RuntimeError as exc:
                self._factors = None
                raise SingularMatrix(str(exc)) from None
            self._factors = (lu, sp.csr_matrix((scaled, self.indices, self.indptr),
                                               shape=(self.n, self.n)))
        return self.solve_again(rhs)

    def solve_again(self, rhs):
        """Solve with the matrix of the last `solve`, for one right-hand side (n,) or
        several (n, k), without factorising again."""
        row, col = self._scales
        b = rhs / row if rhs.ndim == 1 else rhs / row[:, None]
        if self.banded:
            x = self._banded_solve(b)
        else:
            lu, matrix = self._factors
            x = lu.solve(b, trans="T")
            x = x + lu.solve(b - matrix @ x, trans="T")     # one step of refinement
        return x / col if x.ndim == 1 else x / col[:, None]

    def _banded_factorise(self, data):
        """LAPACK gbtrf (banded LU with partial pivoting); its storage has kl extra rows."""
        kl, ku, n = self.lower, self.upper, self.n
        ab = np.zeros(self.band_rows * n, data.dtype)
        ab[self.band_position] = data
        ab = ab.reshape(n, self.band_rows).T
        lu, piv, info = self._routine("gbtrf", ab)(ab, kl, ku, overwrite_ab=1)
        if info != 0:
            self._factors = None
            raise SingularMatrix(f"zero pivot in the banded LU (info = {info})")
        return lu, piv

    def _banded_solve(self, b):
        lu, piv = self._factors
        if b.dtype.kind == "c" and lu.dtype.kind != "c":
            return self._banded_solve(b.real) + 1j * self._banded_solve(b.imag)
        # b[perm] is a fresh copy: LAPACK may solve in it
        y, info = self._routine("gbtrs", lu)(lu, self.lower, self.upper,
                                             b[self.perm].astype(lu.dtype, copy=False), piv,
                                             overwrite_b=1)
        return y[self.inverse]


class ReusedLUSolver:
    """GMRES preconditioned by a sparse LU factorisation kept across Newton iterations and
    time steps: the Jacobian drifts slowly, so an old factorisation stays a good
    preconditioner; it is refreshed when GMRES needs more than `refactor_after` iterations.

    The row and column scalings are frozen with the factorisation, so the preconditioner
    and the system it preconditions are scaled alike.
    """
    last_solve_loose = False        # every solve to `rtol` (see newton_solve)

    def __init__(self, indptr, indices, n, rtol=1e-10, refactor_after=10):
        self.n = n
        self.indptr, self.indices = indptr, indices
        self.equilibration = Equilibration(indptr, indices, n)
        self.rows = self.equilibration.rows
        self.rtol = rtol
        self.refactor_after = refactor_after
        self.lu = None
        self.factorisations = 0
        self.iterations = []

    def _factorise(self, data):
        row, col = self.equilibration.scales(data)
        self.row_scale, self.col_scale = row, col
        at = sp.csc_matrix((data / row[self.rows] / col[self.indices], self.indices, self.indptr),
                           shape=(self.n, self.n))
        try:
            self.lu = spla.splu(at, permc_spec="COLAMD")
        except RuntimeError as exc:
            raise SingularMatrix(str(exc)) from None
        self.factorisations += 1

    def solve(self, data, rhs):
        if self.lu is not None and np.iscomplexobj(data) != self.lu_complex:
            self.lu = None                  # real set-ups for complex values, or back
        for attempt in (0, 1):
            if self.lu is None:
                self._factorise(data)
                self.lu_complex = np.iscomplexobj(data)
            row, col = self.row_scale, self.col_scale
            A = sp.csr_matrix((data / row[self.rows] / col[self.indices], self.indices,
                               self.indptr), shape=(self.n, self.n))
            b = rhs / row
            lu = self.lu
            M = spla.LinearOperator(A.shape, matvec=lambda r, lu=lu: lu.solve(r, trans="T"))
            count = [0]
            x, info = spla.gmres(A, b, M=M, rtol=self.rtol, atol=ROUND_OFF, restart=40, maxiter=2,
                                 callback=lambda _, count=count: count.__setitem__(0, count[0] + 1),
                                 callback_type="pr_norm")
            self.iterations.append(count[0])
            if info == 0:
                if count[0] > self.refactor_after:
                    self.lu = None          # still converged; refresh for the next solve
                return x / col
            self.lu = None                  # stale: refactorise and try once more
        raise SingularMatrix("GMRES with a fresh LU preconditioner did not converge")
