"""Damped Newton's method on the monolithic system, with an analytic sparse Jacobian."""

import math
from dataclasses import dataclass

import numpy as np

from .linear import SingularMatrix


class NewtonFailure(Exception):
    """Newton's method did not converge; `where` names the worst equation and unknown."""

    def __init__(self, reason, where="", last=None):
        self.reason = reason
        self.where = where
        self.last = last            # the last iterate, to tell why (e.g. an emptied surface)
        super().__init__(f"{reason}{': ' + where if where else ''}")


@dataclass
class NewtonResult:
    u: np.ndarray
    iterations: int


@dataclass
class QuadraticRate:
    """What Newton has shown of its quadratic convergence, |du_k+1| <= C |du_k|^2, kept across
    solves of one run: once C is known, an update so small that the next one would be far
    below the tolerance ends the iteration without computing it."""
    constant: float = np.inf

    def observe(self, size, previous):
        if previous > 0.0 and math.isfinite(previous) and size < previous:
            observed = size / previous**2
            self.constant = observed if not math.isfinite(self.constant) else max(
                observed, 0.5 * self.constant)

    def predicts_converged(self, size, tol, safety=0.1):
        return self.constant * size * size < safety * tol


def newton_solve(equations, linear_solver, u0, scales, bounded, tol=1e-8, max_iterations=20,
                 describe=None, roundoff=1e-6, measured_by_row=None, rate=None, total=None):
    """Solve R(u) = 0 from u0; equations(u) returns R and the Jacobian's CSR data for the
    pattern of `linear_solver` (a solver.linear.LinearSolver, or one of solver.krylov, whose
    `last_solve_loose` says that its last solve stopped at a residual its own, not Newton's).

    scales:   typical size of each unknown; convergence is max |du| / scales < tol, or below
              `roundoff` once the updates stop shrinking (the floor set by round-off in an
              ill-conditioned system, e.g. metallic and ionic conductances side by side).
    bounded:  mask of unknowns confined to [0, 1] (stoichiometries); steps are shortened to
              stay inside (fraction to the boundary), as a damping that keeps i0 real.
    describe: callable(index) -> str naming an unknown, for failure messages.
    measured_by_row: (unknowns, positions of their diagonal entries in the CSR data): their
              change is measured through their own equation, |J_kk du_k| (a current density
              through the volts of its Butler-Volmer row), instead of by a fixed scale.
    rate:     a QuadraticRate shared by the solves of a run (optional).
    total:    (weights, limit): also converge |du| . weights below limit (e.g. the cell
              current under a held voltage, to a fraction of what the time-step error test
              asks of it: 1e-8 V through a Butler-Volmer row is about 1e-10 A, three times
              what that test allows a 0.01C current at rtol = 1e-4).
    """
    u = u0.copy()
    previous = np.inf
    for iteration in range(1, max_iterations + 1):
        R, J = equations(u)
        if not np.isfinite(R).all():
            raise NewtonFailure("the residual is not finite", describe(int(np.argmax(~np.isfinite(R))))
                                if describe else "")
        try:
            du = -linear_solver.solve(J, R)
        except SingularMatrix as exc:
            raise NewtonFailure(f"the Jacobian is singular ({exc})") from None
        except (ValueError, ArithmeticError) as exc:   # e.g. an iterative solve that overflowed
            raise NewtonFailure(f"the linear solve broke down ({exc})") from None
        if not np.isfinite(du).all():
            raise NewtonFailure("the Newton update is not finite")
        alpha = _fraction_to_boundary(u, du, bounded)
        if alpha == 0.0:
            # a stoichiometry on its bound that the update pushes further: the iterate
            # cannot move, so every further iteration would repeat this one; stop now
            # (e.g. an emptied surface at the end of a discharge: 60 of 152 linear solves
            # of a pillar run went to such repeats)
            worst = int(np.argmax(np.abs(du) / scales))
            raise NewtonFailure(f"no progress in iteration {iteration}: the update is blocked "
                                f"by a stoichiometry at its bound", describe(worst)
                                if describe else "", last=u)
        u = u + du if alpha == 1.0 else u + alpha * du
        change = np.abs(du) / scales
        if measured_by_row is not None:
            k, diagonal = measured_by_row
            change[k] = np.abs(du[k] * J[diagonal])
        size = change.max()
        if alpha == 1.0:
            if rate is not None:
                rate.observe(size, previous)
            stalled = size < roundoff and size > 0.25 * previous
            # an update from a loosened linear solve (a Krylov solver's first of a Newton
            # solve) leaves the residual that solve left, however small the update: on the
            # shipped trench such updates were taken for converged at 1e-8 and left 3e-5
            small = not linear_solver.last_solve_loose and (
                size < tol or (rate is not None and rate.predicts_converged(size, tol)))
            if stalled or (small and (total is None or np.abs(du) @ total[0] < total[1])):
                return NewtonResult(u, iteration)
        previous = size if alpha == 1.0 else np.inf
    worst = int(np.argmax(change))
    raise NewtonFailure(f"no convergence in {max_iterations} iterations "
                        f"(last scaled update {change[worst]:.2e})",
                        describe(worst) if describe else "", last=u)


def _fraction_to_boundary(u, du, bounded, keep=0.99):
    ub, dub = u[bounded], du[bounded]
    new = ub + dub
    if new.min(initial=0.0) >= 0.0 and new.max(initial=1.0) <= 1.0:
        return 1.0                      # the usual case: the full step stays inside
    alpha = 1.0
    # only updates that move towards a bound limit the step (a state already on it stays)
    low = (new < 0.0) & (dub < 0.0)
    if low.any():
        alpha = min(alpha, (keep * ub[low] / -dub[low]).min())
    high = (new > 1.0) & (dub > 0.0)
    if high.any():
        alpha = min(alpha, (keep * (1.0 - ub[high]) / dub[high]).min())
    return max(alpha, 0.0) if alpha < 1.0 else 1.0
