"""Large systems: GMRES preconditioned by algebraic multigrid on the bulk Schur complement.

The unknowns split into bulk (potentials and stoichiometries of the cells), interface
(Butler-Volmer current and surface stoichiometry of each interface face) and the tab
potential V. Each interface face's unknowns couple only to each other and to the two
cells beside the face, so they are eliminated exactly (a 1x1 or 2x2 inverse per face);
what remains on the bulk cells is a set of coupled diffusion operators (Ohm in each
conduction network, Fick in each electrode), preconditioned by classical (Ruge-Stuben)
AMG, which handled them better than smoothed aggregation on trench and pillar cells, and
the single V unknown of the galvanostatic constraint is handled by bordering.
"""

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .linear import ROUND_OFF, SingularMatrix


class KrylovSolver:
    """solve(data, rhs) for the Jacobian pattern of a CellModel, as LinearSolver does."""

    def __init__(self, indptr, indices, n, layout, rtol=1e-6, rebuild_after=50):
        import pyamg  # noqa: F401  (imported here: only large grids need it)

        self.n = n
        self.indptr, self.indices = indptr, indices
        self.rows = np.repeat(np.arange(n), np.diff(indptr))
        self.to_csc = np.lexsort((self.rows, indices))
        self.col_starts = np.searchsorted(indices[self.to_csc], np.arange(n))
        self.bulk = layout["bulk"]
        self.face = layout["interface"]
        self.n_if = layout["n_if"]
        self.xs_face = layout["xs_face"]
        self.v = layout["V"]
        self.rtol = rtol
        self.rebuild_after = rebuild_after
        self.hierarchy = None
        self.iterations = []

    # ------------------------------------------------------------ blocks
    def _scaled_matrix(self, data, rhs):
        row = np.maximum.reduceat(np.abs(data), self.indptr[:-1])
        row[row == 0.0] = 1.0
        scaled = data / row[self.rows]
        col = np.maximum.reduceat(np.abs(scaled[self.to_csc]), self.col_starts)
        col[col == 0.0] = 1.0
        scaled /= col[self.indices]
        A = sp.csr_matrix((scaled, self.indices, self.indptr), shape=(self.n, self.n))
        return A, rhs / row, col

    def _face_inverse(self, A_FF):
        """Exact inverse of the interface block: 1x1 per lithium-metal face, 2x2 (current,
        surface stoichiometry) per intercalation face."""
        n_if = self.n_if
        diag = A_FF.diagonal()
        k_i = self.xs_face                      # current unknown of each xs unknown
        k_s = n_if + np.arange(k_i.size)
        a, d = diag[k_i], diag[k_s]
        b = np.asarray(A_FF[k_i, k_s]).ravel()
        c = np.asarray(A_FF[k_s, k_i]).ravel()
        det = a * d - b * c
        inv_diag = 1.0 / diag
        inv_diag[k_i] = d / det
        inv_diag[k_s] = a / det
        size = A_FF.shape[0]
        rows = np.concatenate([np.arange(size), k_i, k_s])
        cols = np.concatenate([np.arange(size), k_s, k_i])
        vals = np.concatenate([inv_diag, -b / det, -c / det])
        return sp.csr_matrix((vals, (rows, cols)), shape=(size, size))

    # ------------------------------------------------------------ solve
    def solve(self, data, rhs):
        import pyamg

        A, b, col = self._scaled_matrix(data, rhs)
        Q, F, v = self.bulk, self.face, self.v
        A_Q = A[Q]
        A_F = A[F]
        A_QQ, A_QF, a_QV = A_Q[:, Q], A_Q[:, F], A_Q[:, [v]]
        A_FQ, A_FF = A_F[:, Q], A_F[:, F]
        a_V = A[[v]]
        a_VF, a_VV = a_V[:, F], a_V[0, v]
        F_inv = self._face_inverse(A_FF)
        G = (F_inv @ A_FQ).tocsr()
        S = (A_QQ - A_QF @ G).tocsr()
        s_VQ = -(a_VF @ G)
        s_QV = a_QV.toarray().ravel()

        if self.hierarchy is None or self.iterations and self.iterations[-1] > self.rebuild_after:
            # set up once and reused while GMRES converges quickly: the Jacobian changes
            # little from one Newton iteration or time step to the next
            self.hierarchy = pyamg.ruge_stuben_solver(S, max_coarse=400)
            self.y_V = None
        amg = self.hierarchy.aspreconditioner(cycle="V")
        current_driven = s_VQ.nnz > 0
        if current_driven:
            if self.y_V is None:               # S^-1 s_QV, the response to the tab potential
                self.y_V = self.hierarchy.solve(s_QV, tol=1e-6, accel="gmres", maxiter=100)
            y_V = self.y_V
            denominator = a_VV - float((s_VQ @ y_V)[0])

        def precondition(r):
            r_Q, r_F, r_V = r[Q], r[F], r[v]
            w_F = F_inv @ r_F
            r_Q = r_Q - A_QF @ w_F
            if current_driven:                 # bordering for the galvanostatic row
                r_V = r_V - float((a_VF @ w_F)[0])
                y = amg @ r_Q
                dV = (r_V - float((s_VQ @ y)[0])) / denominator
                dQ = y - y_V * dV
            else:                              # V held: its row is V = value, first
                dV = r_V / a_VV
                dQ = amg @ (r_Q - s_QV * dV)
            dF = F_inv @ (r_F - A_FQ @ dQ)
            out = np.empty_like(r)
            out[Q], out[F], out[v] = dQ, dF, dV
            return out

        M = spla.LinearOperator(A.shape, matvec=precondition)
        count = [0]

        def counter(_):
            count[0] += 1

        x, info = spla.gmres(A, b, M=M, rtol=self.rtol, atol=ROUND_OFF, restart=60, maxiter=10,
                             callback=counter, callback_type="pr_norm")
        self.iterations.append(count[0])
        if info != 0 or not np.all(np.isfinite(x)):
            # a stale hierarchy: rebuild once and try again
            self.hierarchy = None
            self.iterations.append(self.rebuild_after + 1)
            raise SingularMatrix(f"GMRES did not converge ({count[0]} iterations, info {info})")
        return x / col
