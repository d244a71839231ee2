"""Large systems: GMRES with a physics-block preconditioner.

The unknowns split into cell potentials phi (Ohm: one Laplacian per conduction network),
cell stoichiometries x (Fick: mass over the time step plus diffusion, per electrode),
interface unknowns (Butler-Volmer current i and surface stoichiometry xs of each interface
face) and the tab potential V. The preconditioner follows that structure:

1. each interface face's unknowns couple only to each other and to the two cells beside
   the face: they are eliminated exactly (a 1x1 or 2x2 inverse per face), leaving the bulk
   Schur complement S = [[S_pp, S_px], [S_xp, S_xx]] on the cells;
2. S is factorised by blocks, x first: y = S_xx^-1 r_x, phi = T^-1 (r_p - S_px y),
   x = y - diag(S_xx)^-1 S_xp phi, with T = S_pp - S_px diag(S_xx)^-1 S_xp, the potential
   block with the coupling through the interface cells' stoichiometry folded in;
3. S_xx^-1 is one V-cycle of classical AMG; T^-1 is one V-cycle too (3D) or a sparse LU
   (`potential="lu"`, 2D, where T factorises with little fill). T is a set of Laplacians
   (an M-matrix up to the skew-cell corrections, which classical AMG handles, where the
   whole S, potentials and stoichiometries mixed, was far from one). Its set-up is kept
   across Newton iterations and time steps (the pattern is fixed and the values drift
   slowly; an AMG hierarchy gets the current finest operator) and rebuilt once the
   iterations it has cost beyond its first solve, timed, exceed a new set-up's time.
   S_xx changes with the time step (its mass term): its hierarchy is rebuilt when its
   diagonal has moved by more than `x_drift`;
4. V, the one unknown of the galvanostatic row, is handled by bordering.

GMRES (`left_gmres`: scipy's left-preconditioned algorithm and stopping rules, without its
two extra applications of the preconditioner per solve) stops at a relative residual of
`rtol` (1e-6), or of up to `loose_rtol` when the
right-hand side is much larger than the last one (the first solve of a Newton solve;
Eisenstat-Walker's second choice, 0.9 (|b_k| / |b_k-1|)^2, between the two). In 3D the
stoichiometry AMG is built on S_xx cut to the face neighbours (`x_adjacency`), and the
potential AMG smooths its intermediate levels on sparsified Galerkin operators
(`coarse_drop`, see precondition.sparsified).
"""

import time

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .equilibration import ROUND_OFF, Equilibration, SingularMatrix
from .precondition import FaceBlocks, SubBlock, VCycle


class KrylovSolver:
    """solve(data, rhs) for the Jacobian pattern of a CellModel, as LinearSolver does.

    layout: CellModel.block_layout() ("bulk", "interface", "n_if", "face_of", "V", and
    "phi", "x" (and "c"), the slices of the cell potentials and stoichiometries (and
    electrolyte concentrations, which join the stoichiometries' block)).

    The values may be complex (the small-signal system J + j omega M of an impedance
    spectrum): the same blocks, complex; the AMG hierarchies are then set up on a real
    proxy of each block and cycled on its complex Galerkin operators (precondition.VCycle)."""

    def __init__(self, indptr, indices, n, layout, rtol=1e-6, rebuild_after=40,
                 x_drift=0.1, potential="amg", loose_rtol=None, x_adjacency=None,
                 coarse_drop=None):
        import pyamg  # noqa: F401  (imported here: only large grids need it)

        self.n = n
        self.indptr, self.indices = np.asarray(indptr), np.asarray(indices)
        self.equilibration = Equilibration(self.indptr, self.indices, n)
        bulk, face = layout["bulk"], layout["interface"]
        self.n_if = layout["n_if"]
        self.v = int(layout["V"])
        phi = layout.get("phi", bulk)
        x = layout.get("x", slice(phi.stop, phi.stop))
        if "c" in layout:          # electrolyte concentrations: with x, the "Fick" block
            x = slice(x.start, layout["c"].stop)
        if not (bulk.start == phi.start == 0 and phi.stop == x.start and x.stop == bulk.stop
                == face.start and face.stop == self.v == n - 1):
            raise ValueError("KrylovSolver expects the layout phi, x, i, xs, V")
        p, q, f = (0, phi.stop), (x.start, x.stop), (face.start, face.stop)
        vv = (self.v, self.v + 1)
        self.n_p, self.n_x = phi.stop, x.stop - x.start
        def cut(r, c):
            return SubBlock(self.indptr, self.indices, r, c)

        self.blocks = {
            "PP": cut(p, p), "PX": cut(p, q), "PF": cut(p, f), "PV": cut(p, vv),
            "XP": cut(q, p), "XX": cut(q, q), "XF": cut(q, f), "XV": cut(q, vv),
            "FP": cut(f, p), "FX": cut(f, q), "FF": cut(f, f),
            "VF": cut(vv, f), "VV": cut(vv, vv),
        }
        self.face_blocks = FaceBlocks(self.blocks["FF"], layout["face_of"])
        self.rtol = rtol
        # forcing term (Eisenstat-Walker, choice 2): a right-hand side much larger than the
        # last one starts a new Newton solve, whose first update needs no more than
        # `loose_rtol`; as the residual falls the tolerance tightens back to `rtol`
        self.loose_rtol = loose_rtol
        self.last_rhs_norm = None
        # the last solve stopped at `loose_rtol`, a residual not set by the fall of Newton's
        # (the first solve of a Newton solve): its update does not measure Newton's error
        self.last_solve_loose = False
        self.rebuild_after = rebuild_after
        self.x_drift = x_drift
        if potential not in ("amg", "lu"):
            raise ValueError(f"potential solver {potential!r}: 'amg' or 'lu'")
        self.potential = potential   # T^-1 by AMG, or by a sparse LU (2D grids)
        # the potential AMG's coarse levels (not the finest, not the coarsest) smoothed on
        # their Galerkin operators with the mutually weak entries below this fraction of
        # the row's largest lumped onto the diagonal (precondition.sparsified)
        self.coarse_drop = coarse_drop
        self.amg_p = None            # V-cycle (or LU solve) for T (potentials)
        self.amg_x = None            # V-cycle for S_xx (stoichiometries)
        # the face-neighbour pattern of the stoichiometries (with the diagonal): the AMG
        # of S_xx is built and smoothed on S_xx cut to it, the wide-stencil corrections of
        # skewed cells lumped onto the diagonal (half the nonzeros in 3D, the same GMRES
        # iterations)
        self.x_adjacency = None
        if x_adjacency is not None and x_adjacency.shape == (self.n_x, self.n_x):
            adjacency = sp.csr_matrix(x_adjacency, dtype=float)
            adjacency.data[:] = 1.0
            self.x_adjacency = sp.csr_matrix(adjacency + sp.eye(self.n_x)).sign()
        self.x_diagonal = None       # diagonal of S_xx when amg_x was built
        self.iterations = []
        self.setups = {"potential": 0, "stoichiometry": 0}
        self.fresh_iterations = None     # GMRES iterations per decade, first solve after a set-up
        self.setup_seconds = None
        self.extra_seconds = 0.0         # GMRES time lost to the set-up's age since
        self.setup_dtype = None          # real or complex: the values of the last set-up

    # ------------------------------------------------------------ blocks
    def _operators(self, scaled):
        """The reduced blocks of the scaled matrix for one solve."""
        B = {k: blk.matrix(scaled) for k, blk in self.blocks.items()}
        F_inv = self.face_blocks.inverse(scaled)
        G_P = (F_inv @ B["FP"]).tocsr()
        G_X = (F_inv @ B["FX"]).tocsr()
        ops = {"F_inv": F_inv, "A_PF": B["PF"], "A_XF": B["XF"], "A_FP": B["FP"],
               "A_FX": B["FX"], "a_VF": B["VF"], "a_VV": B["VV"].toarray()[0, 0]}
        ops["S_pp"] = (B["PP"] - B["PF"] @ G_P).tocsr()
        ops["S_px"] = (B["PX"] - B["PF"] @ G_X).tocsr()
        ops["S_xp"] = (B["XP"] - B["XF"] @ G_P).tocsr()
        ops["S_xx"] = (B["XX"] - B["XF"] @ G_X).tocsr()
        ops["s_pV"] = B["PV"].toarray().ravel()
        ops["s_xV"] = B["XV"].toarray().ravel()
        ops["s_Vp"] = -(B["VF"] @ G_P)
        ops["s_Vx"] = -(B["VF"] @ G_X)
        d_x = ops["S_xx"].diagonal()
        if self.n_x and np.any(d_x == 0.0):
            raise FloatingPointError("a zero diagonal in the stoichiometry block")
        ops["d_x"] = d_x
        if self.n_x:
            ops["T"] = (ops["S_pp"] - ops["S_px"] @ sp.diags(1.0 / d_x) @ ops["S_xp"]).tocsr()
        else:
            ops["T"] = ops["S_pp"]
        ops["current_driven"] = ops["s_Vp"].nnz + ops["s_Vx"].nnz > 0
        return ops

    def _prepare(self, ops, fresh):
        """Set up or refresh the potential solver and the stoichiometry hierarchy."""
        started = time.perf_counter()
        if fresh or self.amg_p is None:
            self.amg_p = (VCycle(ops["T"], coarse_drop=self.coarse_drop)
                          if self.potential == "amg" else _SparseLU(ops["T"]))
            self.setups["potential"] += 1
            self.fresh_iterations = None          # the next solve's count, when known
        elif self.potential == "amg":
            self.amg_p.refresh(ops["T"])
        if self.n_x:
            d_x = ops["d_x"]
            drift = (np.inf if self.x_diagonal is None
                     else np.max(np.abs(d_x / self.x_diagonal - 1.0)))
            S_xx = self._two_point(ops["S_xx"])
            if fresh or self.amg_x is None or drift > self.x_drift:
                self.amg_x = VCycle(S_xx)
                self.x_diagonal = d_x
                self.setups["stoichiometry"] += 1
            else:
                self.amg_x.refresh(S_xx)
        if fresh:
            self.setup_seconds = time.perf_counter() - started
            self.setup_dtype = ops["T"].dtype

    def _two_point(self, S):
        """S cut to the face-neighbour pattern, the rest of each row added to its diagonal
        (row sums kept); S itself without a pattern."""
        if self.x_adjacency is None:
            return S
        kept = sp.csr_matrix(S.multiply(self.x_adjacency))
        dropped = np.asarray(S.sum(axis=1)).ravel() - np.asarray(kept.sum(axis=1)).ravel()
        return sp.csr_matrix(kept + sp.diags(dropped))

    def _stale(self):
        """Rebuild when the GMRES iterations the ageing set-up has cost beyond its first
        solve's count, summed over the solves since and timed per iteration, exceed the
        time of a new set-up; or when GMRES needed more than `rebuild_after` iterations."""
        if not self.iterations or self.amg_p is None:
            return True
        if self.iterations[-1] > self.rebuild_after:
            return True
        return self.setup_seconds is not None and self.extra_seconds > self.setup_seconds

    # ------------------------------------------------------------ preconditioner
    def _bulk_solve(self, ops, r_p, r_x):
        """Approximate S^-1 [r_p; r_x]: block factorisation, x first."""
        if not self.n_x:
            return self.amg_p @ r_p, r_x
        y = self.amg_x @ r_x
        d_p = self.amg_p @ (r_p - ops["S_px"] @ y)
        # the back-substitution with diag(S_xx), as in T: S_xp d_p lives on the interface
        # cells only, and a second V-cycle there bought no GMRES iterations
        d_x = y - (ops["S_xp"] @ d_p) / ops["d_x"]
        return d_p, d_x

    def _preconditioner(self, ops):
        n_p, n_x, v = self.n_p, self.n_x, self.v
        q = n_p + n_x
        F_inv, A_PF, A_XF = ops["F_inv"], ops["A_PF"], ops["A_XF"]
        A_FP, A_FX, a_VF, a_VV = ops["A_FP"], ops["A_FX"], ops["a_VF"], ops["a_VV"]
        current_driven = ops["current_driven"]
        if current_driven:
            # the response of the approximate S to the tab potential's column: with it,
            # the bordered preconditioner inverts [[M, s_QV], [s_VQ, a_VV]] exactly
            y_p, y_x = self._bulk_solve(ops, ops["s_pV"], ops["s_xV"])
            denominator = a_VV - ((ops["s_Vp"] @ y_p)[0] + (ops["s_Vx"] @ y_x)[0])
            if not np.isfinite(denominator) or denominator == 0.0:
                raise FloatingPointError("singular bordered tab row")

        def apply(r):
            r_p, r_x, r_F, r_V = r[:n_p], r[n_p:q], r[q:v], r[v]
            w_F = F_inv @ r_F
            r_p = r_p - A_PF @ w_F
            r_x = r_x - A_XF @ w_F
            if current_driven:
                r_V = r_V - (a_VF @ w_F)[0]
                z_p, z_x = self._bulk_solve(ops, r_p, r_x)
                dV = (r_V - ((ops["s_Vp"] @ z_p)[0] + (ops["s_Vx"] @ z_x)[0])) / denominator
                d_p, d_x = z_p - y_p * dV, z_x - y_x * dV
            else:                              # V held: its row is V = value, first
                dV = r_V / a_VV
                d_p, d_x = self._bulk_solve(ops, r_p - ops["s_pV"] * dV, r_x - ops["s_xV"] * dV)
            d_F = F_inv @ (r_F - A_FP @ d_p - A_FX @ d_x)
            out = np.empty(r.shape, np.result_type(d_p, d_x, d_F, dV))
            out[:n_p], out[n_p:q], out[q:v], out[v] = d_p, d_x, d_F, dV
            return out

        return apply

    def _forcing(self, norm):
        previous, self.last_rhs_norm = self.last_rhs_norm, norm
        if self.loose_rtol is None or not previous or not np.isfinite(norm):
            return self.rtol
        return float(min(self.loose_rtol, max(self.rtol, 0.9 * (norm / previous) ** 2)))

    # ------------------------------------------------------------ solve
    def solve(self, data, rhs, rtol=None, fresh=None):
        """Solve A x = rhs for A with this pattern and CSR values `data` (real or complex).

        rtol: the relative residual to reach (default: `rtol`, loosened for the first solve
        of a Newton solve); fresh: new set-ups (default: when the kept ones have aged)."""
        scaled, b, col = self.equilibration.scaled(data, rhs)
        A = sp.csr_matrix((scaled, self.indices, self.indptr), shape=(self.n, self.n))
        try:
            ops = self._operators(scaled)
        except (FloatingPointError, ZeroDivisionError) as exc:
            raise SingularMatrix(str(exc)) from None
        fresh = self._stale() if fresh is None else fresh
        fresh = fresh or scaled.dtype != self.setup_dtype     # real set-ups for complex values
        rtol = self._forcing(np.linalg.norm(b)) if rtol is None else rtol
        self.last_solve_loose = self.loose_rtol is not None and rtol >= self.loose_rtol
        for attempt in (0, 1):
            try:
                self._prepare(ops, fresh)
                M = self._preconditioner(ops)
            except (FloatingPointError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                if attempt == 0 and not fresh:
                    fresh = True
                    continue
                self.amg_p = self.amg_x = None
                raise SingularMatrix(f"preconditioner set-up failed ({exc})") from None
            count = [0]
            started = time.perf_counter()
            with np.errstate(over="ignore", invalid="ignore"):
                x, info = left_gmres(A, b, M, rtol=rtol, atol=ROUND_OFF, restart=60,
                                      maxiter=4, count=count)
            self.iterations.append(count[0])
            if info == 0 and np.all(np.isfinite(x)):
                per_iteration = (time.perf_counter() - started) / max(count[0], 1)
                # iterations per decade of residual reduction, comparable across tolerances
                decades = max(-np.log10(rtol), 1.0)
                rate = count[0] / decades
                if self.fresh_iterations is None:
                    self.fresh_iterations = rate
                    self.extra_seconds = 0.0
                self.extra_seconds += (max(rate - self.fresh_iterations, 0.0) * decades
                                       * per_iteration)
                return x / col
            if fresh:
                break
            fresh = True                    # a stale hierarchy: rebuild once and retry
        self.amg_p = self.amg_x = None
        raise SingularMatrix(f"GMRES did not converge ({count[0]} iterations, info {info})")


def left_gmres(A, b, M, rtol, atol, restart, maxiter, count):
    """Restarted GMRES preconditioned on the left, with scipy.sparse.linalg.gmres's stopping
    rules (the preconditioned residual to rtol |M b| inside a cycle, then the true residual
    to max(rtol |b|, atol), the inner tolerance adapted when the two disagree), without its
    two extra applications of M per call (|M b| is the first cycle's first vector; scipy
    computes it separately, and LinearOperator probes M once for its dtype) and with
    classical Gram-Schmidt (two matrix-vector products with the basis per iteration instead
    of a Python loop over it), repeated once when the new vector lost more than 30 % of its
    norm to it ("twice is enough"). Preconditioning on the right (the
    true residual minimised) stopped at errors several times larger at the same rtol.
    Complex systems take complex Givens rotations (the conjugates below are no-ops on real
    values). Returns (x, info), info = 0 when converged; count[0] gets the iterations."""
    n = b.size
    dtype = np.result_type(A.dtype, b.dtype)
    if np.iscomplexobj(np.zeros(0, dtype)):      # V^H w, conjugating w rather than V
        def project(basis, w):
            return np.conj(basis @ np.conj(w))
    else:
        def project(basis, w):
            return basis @ w
    x = np.zeros(n, dtype)
    b_norm = float(np.linalg.norm(b))
    if b_norm == 0.0:
        return x, 0
    target = max(rtol * b_norm, atol)
    if b_norm < target:
        return x, 0
    m = min(restart, n)
    r = b.astype(dtype, copy=False)
    ptol = None
    factor = 1.0
    presid = 0.0
    r_norm = b_norm
    for _ in range(maxiter):
        V = np.empty((m + 1, n), dtype)
        H = np.zeros((m + 1, m), dtype)
        cs, sn = np.zeros(m, dtype), np.zeros(m, dtype)
        g = np.zeros(m + 1, dtype)
        z = M(r)
        beta = float(np.linalg.norm(z))
        if not np.isfinite(beta) or beta == 0.0:
            return x, 1
        if ptol is None:                      # |M b|: the first cycle starts from x = 0
            ptol = beta * min(factor, target / b_norm)
        g[0] = beta
        V[0] = z / beta
        k = 0
        breakdown = False
        for k in range(m):
            w = M(A @ V[k])
            h0 = float(np.linalg.norm(w))
            basis = V[:k + 1]
            h = project(basis, w)
            w -= h @ basis
            h_next = float(np.linalg.norm(w))
            if h_next < 0.7 * h0:            # cancellation: orthogonalise once more
                correction = project(basis, w)
                w -= correction @ basis
                h += correction
                h_next = float(np.linalg.norm(w))
            H[:k + 1, k] = h
            H[k + 1, k] = h_next
            if h_next <= np.finfo(float).eps * h0:
                H[k + 1, k] = 0.0
                breakdown = True
            else:
                V[k + 1] = w / h_next
            for j in range(k):               # the earlier rotations on the new column
                p, q = H[j, k], H[j + 1, k]
                H[j, k], H[j + 1, k] = (np.conj(cs[j]) * p + np.conj(sn[j]) * q,
                                        -sn[j] * p + cs[j] * q)
            p, q = H[k, k], H[k + 1, k]
            radius = float(np.hypot(abs(p), abs(q)))
            if radius == 0.0 or not np.isfinite(radius):
                return x, 1
            cs[k], sn[k] = p / radius, q / radius
            H[k, k], H[k + 1, k] = radius, 0.0
            g[k + 1] = -sn[k] * g[k]
            g[k] = np.conj(cs[k]) * g[k]
            presid = abs(g[k + 1])
            count[0] += 1
            if presid <= ptol or breakdown:
                break
        y = sla.solve_triangular(H[:k + 1, :k + 1], g[:k + 1], check_finite=False)
        x += y @ V[:k + 1]
        r = b - A @ x
        r_norm = float(np.linalg.norm(r))
        if not np.isfinite(r_norm):
            return x, 1
        if r_norm <= target:
            return x, 0
        if breakdown:
            break
        if presid <= ptol:                    # inside passed, outside did not: tighten
            factor = max(np.finfo(float).eps, 0.25 * factor)
        else:
            factor = min(1.0, 1.5 * factor)
        ptol = presid * min(factor, target / r_norm)
    return x, 0 if r_norm <= target else 1


class _SparseLU:
    """T^-1 by SuperLU, as `lu @ r`: the minimum-degree ordering of T + T^T and a small
    diagonal pivot threshold keep the fill of these Laplacians low (in 2D a third less
    than COLAMD with partial pivoting, and solves 40 % faster)."""

    def __init__(self, T):
        try:
            self.lu = spla.splu(sp.csc_matrix(T), permc_spec="MMD_AT_PLUS_A",
                                diag_pivot_thresh=0.01)
        except RuntimeError as exc:
            raise FloatingPointError(str(exc)) from None

    def __matmul__(self, r):
        return self.lu.solve(np.ascontiguousarray(r))
